package dev.countersign.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.testing.Polling;
import dev.countersign.core.testing.WebhookReceiver;
import dev.countersign.server.TestServer;
import dev.countersign.server.TestServer.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.countersign.server.TestServer.ALICE_BOT;
import static dev.countersign.server.TestServer.ALICE_BOT_KEY;
import static dev.countersign.server.TestServer.OPERATOR_KEY;
import static dev.countersign.server.TestServer.OTHER_BOT_KEY;
import static org.assertj.core.api.Assertions.assertThat;

/** The agent API, the operator decision endpoint and the health endpoints, over real HTTP (DESIGN.md, "Agent API"). */
class AgentApiTest {
    @RegisterExtension
    static final TestServer server = TestServer.perClass();

    private static String approval(String id) {
        return "/api/v1/approvals/" + id;
    }

    // ------------------------------------------------------------------ ask

    @Test
    void a_low_risk_ask_is_created_approved_by_policy_with_the_full_representation() {
        Response r = server.ask(ALICE_BOT_KEY, TestServer.lowAsk());

        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        JsonNode a = r.json();
        String id = a.path("id").asText();
        assertThat(id).isNotBlank();
        assertThat(r.header("Location")).isEqualTo("/api/v1/approvals/" + id);
        assertThat(r.header("Content-Type")).startsWith("application/json");
        assertThat(a.path("status").asText()).isEqualTo("approved");
        assertThat(a.path("action").path("type").asText()).isEqualTo("db.read.customers");
        assertThat(a.path("action").path("summary").asText()).isEqualTo("Read the 20 newest customers");
        assertThat(a.path("action").path("params").path("limit").asInt()).isEqualTo(20);
        assertThat(a.path("agent").path("id").asText()).isEqualTo(ALICE_BOT);
        assertThat(a.has("requested_for")).isTrue();
        assertThat(a.path("context").isObject()).isTrue();
        assertThat(a.path("risk").path("level").asText()).isEqualTo("low");
        assertThat(a.path("risk").path("rule").asText()).isEqualTo("reads");
        assertThat(a.path("risk").path("explanation").asText()).isNotBlank();
        assertThat(a.path("approvers").isArray()).isTrue();
        assertThat(a.path("quorum").asInt()).isEqualTo(1);
        assertThat(a.path("escalation").has("level")).isTrue();
        assertThat(a.path("escalation").has("next_at")).isTrue();
        assertThat(a.path("escalation").path("level").asInt()).isZero();
        Instant created = Instant.parse(a.path("created_at").asText());
        Instant expires = Instant.parse(a.path("expires_at").asText());
        assertThat(created).isBetween(Instant.now().minusSeconds(60), Instant.now().plusSeconds(5));
        assertThat(expires).isAfter(created);
        JsonNode d = a.path("decision");
        assertThat(d.path("outcome").asText()).isEqualTo("approved");
        assertThat(d.path("by").path("channel").asText()).isEqualTo("policy");
        assertThat(d.path("at").asText()).isNotBlank();
    }

    @Test
    void a_high_risk_ask_is_created_pending_with_its_approvers_and_escalation() {
        Response r = server.ask(ALICE_BOT_KEY, TestServer.highAsk());

        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        JsonNode a = r.json();
        assertThat(r.header("Location")).isEqualTo("/api/v1/approvals/" + a.path("id").asText());
        assertThat(a.path("status").asText()).isEqualTo("pending");
        assertThat(a.path("decision").isNull()).isTrue();
        assertThat(a.path("risk").path("level").asText()).isEqualTo("high");
        assertThat(a.path("risk").path("rule").asText()).isEqualTo("large-payment");
        assertThat(a.path("approvers").findValuesAsText("id")).containsExactlyInAnyOrder("alice", "bob");
        assertThat(a.path("approvers").findValuesAsText("name")).contains("Alice Ng", "Bob Osei");
        assertThat(a.path("quorum").asInt()).isEqualTo(1);
        assertThat(a.path("escalation").path("level").asInt()).isZero();
        Instant created = Instant.parse(a.path("created_at").asText());
        assertThat(Instant.parse(a.path("escalation").path("next_at").asText())).isEqualTo(created.plus(Duration.ofMinutes(15)));
        assertThat(Instant.parse(a.path("expires_at").asText())).isEqualTo(created.plus(Duration.ofHours(1)));
        assertThat(a.path("context").path("reason").asText()).isEqualTo("invoice due on Friday");
    }

    @Test
    void the_asking_agent_gets_its_approval_by_id() {
        JsonNode asked = server.asked(ALICE_BOT_KEY, TestServer.highAsk());

        Response r = server.get(approval(asked.path("id").asText()), ALICE_BOT_KEY);

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        assertThat(r.json()).isEqualTo(asked);
    }

    @Test
    void another_agent_gets_404_for_an_approval_it_did_not_ask() {
        JsonNode asked = server.asked(ALICE_BOT_KEY, TestServer.highAsk());

        Response r = server.get(approval(asked.path("id").asText()), OTHER_BOT_KEY);

        assertThat(r.status()).as(r.toString()).isEqualTo(404);
        assertThat(r.error().path("code").asText()).isEqualTo("not_found");
        assertThat(r.body()).doesNotContain("Acme");
    }

    @Test
    void an_unknown_id_is_404() {
        Response r = server.get(approval("apr_doesnotexist"), ALICE_BOT_KEY);

        assertThat(r.status()).isEqualTo(404);
        assertThat(r.error().path("code").asText()).isEqualTo("not_found");
    }

    @Test
    void listing_pending_shows_only_the_callers_own_pending_approvals() {
        String mine = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
        String theirs = server.asked(OTHER_BOT_KEY, TestServer.highAsk()).path("id").asText();
        String decided = server.asked(ALICE_BOT_KEY, TestServer.lowAsk()).path("id").asText();

        Response r = server.get("/api/v1/approvals?status=pending", ALICE_BOT_KEY);

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        JsonNode items = r.json().path("approvals");
        assertThat(items.isArray()).isTrue();
        List<String> ids = items.findValuesAsText("id");
        assertThat(ids).contains(mine).doesNotContain(theirs, decided);
        for (JsonNode item : items) {
            assertThat(item.path("agent").path("id").asText()).isEqualTo(ALICE_BOT);
            assertThat(item.path("status").asText()).isEqualTo("pending");
        }
        assertThat(server.get("/api/v1/approvals?status=pending", OTHER_BOT_KEY).json().path("approvals").findValuesAsText("id"))
                .contains(theirs).doesNotContain(mine);
    }

    @Test
    void listing_with_an_unknown_status_is_400_naming_the_field() {
        Response r = server.get("/api/v1/approvals?status=maybe", ALICE_BOT_KEY);

        assertThat(r.status()).as(r.toString()).isEqualTo(400);
        assertThat(r.error().path("field").asText()).isEqualTo("status");
        assertThat(r.error().path("message").asText()).contains("maybe");
    }

    // ------------------------------------------------------------------ idempotency

    @Test
    void repeating_an_ask_with_the_same_idempotency_key_returns_200_and_the_same_approval() {
        ObjectNode body = TestServer.highAsk();
        Response first = server.ask(ALICE_BOT_KEY, body, "Idempotency-Key", "pay-inv-2291");
        Response again = server.ask(ALICE_BOT_KEY, body, "Idempotency-Key", "pay-inv-2291");

        assertThat(first.status()).as(first.toString()).isEqualTo(201);
        assertThat(again.status()).as(again.toString()).isEqualTo(200);
        assertThat(again.json().path("id").asText()).isEqualTo(first.json().path("id").asText());
        assertThat(again.header("Location")).isEqualTo(first.header("Location"));
    }

    @Test
    void the_same_idempotency_key_with_another_body_is_409_idempotency_key_reused() {
        Response first = server.ask(ALICE_BOT_KEY, TestServer.highAsk(), "Idempotency-Key", "key-reused");
        ObjectNode other = TestServer.highAsk();
        TestServer.params(other).put("amount", 99000);

        Response r = server.ask(ALICE_BOT_KEY, other, "Idempotency-Key", "key-reused");

        assertThat(first.status()).isEqualTo(201);
        assertThat(r.status()).as(r.toString()).isEqualTo(409);
        assertThat(r.error().path("code").asText()).isEqualTo("idempotency_key_reused");
        assertThat(r.error().path("message").asText()).contains("key-reused");
    }

    @Test
    void the_same_idempotency_key_from_another_agent_is_a_new_approval() {
        Response mine = server.ask(ALICE_BOT_KEY, TestServer.highAsk(), "Idempotency-Key", "shared-key");
        Response theirs = server.ask(OTHER_BOT_KEY, TestServer.highAsk(), "Idempotency-Key", "shared-key");

        assertThat(mine.status()).isEqualTo(201);
        assertThat(theirs.status()).as(theirs.toString()).isEqualTo(201);
        assertThat(theirs.json().path("id").asText()).isNotEqualTo(mine.json().path("id").asText());
    }

    // ------------------------------------------------------------------ cancel

    @Test
    void the_agent_cancels_a_pending_approval_and_a_second_cancel_is_409_with_the_winning_decision() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response cancelled = server.post(approval(id) + "/cancel", ALICE_BOT_KEY, "{\"reason\":\"no longer needed\"}");

        assertThat(cancelled.status()).as(cancelled.toString()).isEqualTo(200);
        assertThat(cancelled.json().path("status").asText()).isEqualTo("cancelled");
        assertThat(cancelled.json().path("decision").path("by").path("channel").asText()).isEqualTo("agent");
        assertThat(cancelled.json().path("decision").path("comment").asText()).isEqualTo("no longer needed");

        Response again = server.post(approval(id) + "/cancel", ALICE_BOT_KEY, "");

        assertThat(again.status()).as(again.toString()).isEqualTo(409);
        assertThat(again.error().path("code").asText()).isEqualTo("already_decided");
        JsonNode winner = again.error().path("approval");
        assertThat(winner.path("id").asText()).isEqualTo(id);
        assertThat(winner.path("status").asText()).isEqualTo("cancelled");
        assertThat(winner.path("decision").path("by").path("channel").asText()).isEqualTo("agent");
    }

    @Test
    void another_agent_cannot_cancel_and_gets_404() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.post(approval(id) + "/cancel", OTHER_BOT_KEY, "");

        assertThat(r.status()).as(r.toString()).isEqualTo(404);
        assertThat(server.get(approval(id), ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
    }

    // ------------------------------------------------------------------ long-poll

    @Test
    void a_long_poll_returns_within_a_second_of_an_operator_decision_made_on_another_thread() throws Exception {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
        CompletableFuture<Response> decided = CompletableFuture.supplyAsync(() -> {
            Polling.until(Instant.now().plusMillis(500));
            return server.decide(id, "approve", "bob", "paid on time");
        });

        Response r = server.get(approval(id) + "?wait=5", ALICE_BOT_KEY);

        assertThat(decided.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        assertThat(r.elapsed()).isLessThan(Duration.ofSeconds(2));
        assertThat(r.json().path("status").asText()).isEqualTo("approved");
        assertThat(r.json().path("decision").path("comment").asText()).isEqualTo("paid on time");
        assertThat(r.json().path("decision").path("by").path("id").asText()).isEqualTo("bob");
        assertThat(r.json().path("decision").path("by").path("channel").asText()).isEqualTo("cli");
    }

    @Test
    void a_long_poll_on_a_still_pending_approval_answers_pending_when_the_wait_is_over() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.get(approval(id) + "?wait=1", ALICE_BOT_KEY);

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        assertThat(r.json().path("status").asText()).isEqualTo("pending");
        assertThat(r.elapsed()).isGreaterThanOrEqualTo(Duration.ofMillis(900)).isLessThan(Duration.ofSeconds(3));
    }

    @Test
    void a_long_poll_on_a_decided_approval_answers_at_once() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.lowAsk()).path("id").asText();

        Response r = server.get(approval(id) + "?wait=30", ALICE_BOT_KEY);

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.json().path("status").asText()).isEqualTo("approved");
        assertThat(r.elapsed()).isLessThan(Duration.ofSeconds(2));
    }

    @ParameterizedTest(name = "wait={0}")
    @ValueSource(strings = {"0", "61", "abc", "-1", "1.5", ""})
    void a_wait_outside_1_to_60_seconds_is_400_naming_the_field(String wait) {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.get(approval(id) + "?wait=" + wait, ALICE_BOT_KEY);

        assertThat(r.status()).as(r.toString()).isEqualTo(400);
        assertThat(r.error().path("field").asText()).isEqualTo("wait");
        assertThat(r.error().path("code").asText()).isNotBlank();
    }

    @Test
    void a_long_poll_by_another_agent_is_404_at_once() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.get(approval(id) + "?wait=5", OTHER_BOT_KEY);

        assertThat(r.status()).isEqualTo(404);
        assertThat(r.elapsed()).isLessThan(Duration.ofSeconds(2));
    }

    // ------------------------------------------------------------------ operator decisions

    @Test
    void an_operator_records_an_approvers_decision_with_as() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.decide(id, "approve", "alice", "looks right");

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        JsonNode a = r.json();
        assertThat(a.path("status").asText()).isEqualTo("approved");
        assertThat(a.path("decision").path("outcome").asText()).isEqualTo("approved");
        assertThat(a.path("decision").path("by").path("id").asText()).isEqualTo("alice");
        assertThat(a.path("decision").path("by").path("name").asText()).isEqualTo("Alice Ng");
        assertThat(a.path("decision").path("by").path("channel").asText()).isEqualTo("cli");
        assertThat(a.path("decision").path("comment").asText()).isEqualTo("looks right");
        assertThat(server.get(approval(id), ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("approved");
    }

    @Test
    void an_operator_records_a_rejection() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.decide(id, "reject", "bob", "wrong account");

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        assertThat(r.json().path("status").asText()).isEqualTo("rejected");
        assertThat(r.json().path("decision").path("comment").asText()).isEqualTo("wrong account");
    }

    @Test
    void a_person_who_is_not_an_approver_is_refused_with_403_not_an_approver() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.decide(id, "approve", "dave", null);

        assertThat(r.status()).as(r.toString()).isEqualTo(403);
        assertThat(r.error().path("code").asText()).isEqualTo("not_an_approver");
        assertThat(r.error().path("field").asText()).isEqualTo("as");
        assertThat(server.get(approval(id), ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
    }

    @Test
    void a_person_the_request_escalates_to_later_is_not_an_approver_yet() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.decide(id, "approve", "carol", null);

        assertThat(r.status()).as(r.toString()).isEqualTo(403);
        assertThat(r.error().path("code").asText()).isEqualTo("not_an_approver");
    }

    @Test
    void an_admin_may_decide_what_they_are_not_an_approver_of() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.decide(id, "approve", "erin", null);

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        assertThat(r.json().path("decision").path("by").path("id").asText()).isEqualTo("erin");
    }

    @Test
    void the_person_the_agent_acts_for_cannot_approve_it_403_self_approval() {
        ObjectNode body = TestServer.highAsk().put("requested_for", "bob");
        String id = server.asked(ALICE_BOT_KEY, body).path("id").asText();

        Response r = server.decide(id, "approve", "bob", null);

        assertThat(r.status()).as(r.toString()).isEqualTo(403);
        assertThat(r.error().path("code").asText()).isEqualTo("self_approval");
        assertThat(r.error().path("field").asText()).isEqualTo("as");
        assertThat(server.decide(id, "approve", "alice", null).status()).isEqualTo(200);
    }

    @Test
    void an_unknown_person_is_400_naming_the_field_as() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.decide(id, "approve", "mallory", null);

        assertThat(r.status()).as(r.toString()).isEqualTo(400);
        assertThat(r.error().path("field").asText()).isEqualTo("as");
        assertThat(r.error().path("message").asText()).contains("mallory");
    }

    @Test
    void a_second_decision_is_409_already_decided_naming_who_won() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
        assertThat(server.decide(id, "approve", "alice", "first").status()).isEqualTo(200);

        Response r = server.decide(id, "reject", "bob", "second");

        assertThat(r.status()).as(r.toString()).isEqualTo(409);
        assertThat(r.error().path("code").asText()).isEqualTo("already_decided");
        assertThat(r.error().path("message").asText()).contains("approved").contains("Alice Ng");
        assertThat(r.error().path("approval").path("decision").path("by").path("id").asText()).isEqualTo("alice");
        assertThat(server.get(approval(id), ALICE_BOT_KEY).json().path("decision").path("comment").asText()).isEqualTo("first");
    }

    @Test
    void concurrent_decisions_over_http_are_decided_exactly_once_and_the_losers_learn_who_won() throws Exception {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
        List<CompletableFuture<Response>> racing = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            String as = i % 2 == 0 ? "alice" : "bob";
            String outcome = i % 3 == 0 ? "reject" : "approve";
            racing.add(CompletableFuture.supplyAsync(() -> server.decide(id, outcome, as, "racer")));
        }
        List<Response> answers = new ArrayList<>();
        for (CompletableFuture<Response> f : racing) answers.add(f.get(30, TimeUnit.SECONDS));

        assertThat(answers).filteredOn(r -> r.status() == 200).hasSize(1);
        assertThat(answers).filteredOn(r -> r.status() != 200).hasSize(7).allSatisfy(r -> {
            assertThat(r.status()).isEqualTo(409);
            assertThat(r.error().path("code").asText()).isEqualTo("already_decided");
        });
        JsonNode winner = answers.stream().filter(r -> r.status() == 200).findFirst().orElseThrow().json();
        JsonNode stored = server.get(approval(id), ALICE_BOT_KEY).json();
        assertThat(stored.path("decision")).isEqualTo(winner.path("decision"));
        answers.stream().filter(r -> r.status() == 409).forEach(r ->
                assertThat(r.error().path("message").asText()).contains(winner.path("decision").path("by").path("name").asText()));
    }

    @Test
    void an_operator_lists_every_agents_approvals() {
        String mine = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
        String theirs = server.asked(OTHER_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.get("/api/v1/approvals?status=pending&limit=1000", OPERATOR_KEY);

        assertThat(r.status()).as(r.toString()).isEqualTo(200);
        assertThat(r.json().path("approvals").findValuesAsText("id")).contains(mine, theirs);
        assertThat(server.get("/api/v1/approvals?limit=0", OPERATOR_KEY).error().path("field").asText()).isEqualTo("limit");
    }

    @Test
    void a_decision_on_an_unknown_approval_is_404() {
        Response r = server.decide("apr_doesnotexist", "approve", "alice", null);

        assertThat(r.status()).as(r.toString()).isEqualTo(404);
        assertThat(r.error().path("code").asText()).isEqualTo("not_found");
    }

    @Test
    void an_unknown_outcome_is_400_naming_the_field() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.post(approval(id) + "/decision", OPERATOR_KEY, "{\"outcome\":\"maybe\",\"as\":\"alice\"}");

        assertThat(r.status()).as(r.toString()).isEqualTo(400);
        assertThat(r.error().path("field").asText()).isEqualTo("outcome");
    }

    @Test
    void a_decision_with_an_agent_key_is_403() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response r = server.post(approval(id) + "/decision", ALICE_BOT_KEY, "{\"outcome\":\"approve\",\"as\":\"alice\"}");

        assertThat(r.status()).as(r.toString()).isEqualTo(403);
        assertThat(r.error().path("code").asText()).isNotBlank();
        assertThat(server.get(approval(id), ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
    }

    @Test
    void an_operator_key_cannot_ask() {
        Response r = server.ask(OPERATOR_KEY, TestServer.highAsk());

        assertThat(r.status()).as(r.toString()).isEqualTo(403);
    }

    // ------------------------------------------------------------------ authentication

    @Test
    void no_authorization_header_is_401_everywhere() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
        List<Response> answers = new ArrayList<>();
        answers.add(server.ask(null, TestServer.highAsk()));
        answers.add(server.get(approval(id), null));
        answers.add(server.get("/api/v1/approvals", null));
        answers.add(server.post(approval(id) + "/cancel", null, ""));
        answers.add(server.post(approval(id) + "/decision", null, "{\"outcome\":\"approve\",\"as\":\"alice\"}"));

        for (Response r : answers) {
            assertThat(r.status()).as(r.toString()).isEqualTo(401);
            assertThat(r.error().path("code").asText()).isEqualTo("unauthenticated");
            assertThat(r.header("WWW-Authenticate")).startsWith("Bearer");
        }
        assertThat(server.get(approval(id), ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
    }

    @Test
    void a_wrong_key_is_401() {
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response ask = server.ask("not-a-key", TestServer.highAsk());
        Response decide = server.post(approval(id) + "/decision", "not-a-key", "{\"outcome\":\"approve\",\"as\":\"alice\"}");
        Response basic = TestServer.send(server.request(approval(id), null, "Authorization", "Basic " + ALICE_BOT_KEY).GET());

        for (Response r : List.of(ask, decide, basic)) {
            assertThat(r.status()).as(r.toString()).isEqualTo(401);
            assertThat(r.error().path("code").asText()).isEqualTo("invalid_key");
            assertThat(r.body()).doesNotContain("not-a-key").doesNotContain(ALICE_BOT_KEY);
        }
    }

    // ------------------------------------------------------------------ health and metrics

    @Test
    void healthz_and_readyz_answer_200() {
        Response health = server.get("/healthz", null);
        Response ready = server.get("/readyz", null);

        assertThat(health.status()).isEqualTo(200);
        assertThat(health.json().path("status").asText()).isEqualTo("ok");
        assertThat(ready.status()).as(ready.toString()).isEqualTo(200);
        assertThat(ready.json().path("status").asText()).isEqualTo("ready");
    }

    @Test
    void metrics_are_prometheus_text_with_the_approval_figures() {
        server.asked(ALICE_BOT_KEY, TestServer.lowAsk()); // decided at once: records a decision latency
        String pending = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
        server.decide(pending, "approve", "alice", null);

        Response r = server.get("/metrics", null);

        assertThat(r.status()).isEqualTo(200);
        assertThat(r.header("Content-Type")).startsWith("text/plain");
        assertThat(r.body())
                .contains("countersign_approvals_asked_total")
                .contains("countersign_approvals_pending")
                .contains("countersign_decision_latency_seconds")
                .contains("countersign_timer_lateness_seconds")
                .contains("risk=\"low\"")
                .contains("risk=\"high\"");
    }

    // ------------------------------------------------------------------ timers and webhooks

    @Test
    void an_unanswered_approval_expires_through_the_timer_and_the_api_shows_it() {
        JsonNode asked = server.asked(ALICE_BOT_KEY, TestServer.ask("test.expire", "Something nobody answers"));
        String id = asked.path("id").asText();
        assertThat(asked.path("status").asText()).isEqualTo("pending");
        assertThat(Duration.between(Instant.parse(asked.path("created_at").asText()), Instant.parse(asked.path("expires_at").asText())))
                .isEqualTo(Duration.ofSeconds(2));

        Polling.eventually(Duration.ofSeconds(15), () -> {
            JsonNode a = server.get(approval(id), ALICE_BOT_KEY).json();
            assertThat(a.path("status").asText()).isEqualTo("expired");
            assertThat(a.path("decision").path("outcome").asText()).isEqualTo("expired");
            assertThat(a.path("decision").path("by").path("channel").asText()).isEqualTo("timer");
        });
        Response late = server.decide(id, "approve", "alice", null);
        assertThat(late.status()).isEqualTo(409);
        assertThat(late.error().path("code").asText()).isEqualTo("already_decided");
    }

    @Test
    void an_agent_with_a_callback_url_gets_a_standard_webhooks_signed_post_after_the_decision() throws Exception {
        try (WebhookReceiver receiver = WebhookReceiver.start()) {
            ObjectNode body = TestServer.highAsk().put("callback_url", receiver.url("/hooks/countersign"));
            String id = server.asked(ALICE_BOT_KEY, body).path("id").asText();
            assertThat(receiver.received()).isEmpty();

            assertThat(server.decide(id, "reject", "alice", "not this week").status()).isEqualTo(200);

            Polling.eventually(Duration.ofSeconds(15), () -> assertThat(receiver.received()).isNotEmpty());
            WebhookReceiver.Received hook = receiver.received().get(0);
            assertThat(hook.method()).isEqualTo("POST");
            assertThat(hook.path()).isEqualTo("/hooks/countersign");
            String webhookId = hook.header("webhook-id");
            String timestamp = hook.header("webhook-timestamp");
            String signature = hook.header("webhook-signature");
            assertThat(webhookId).isNotBlank();
            assertThat(Long.parseLong(timestamp)).isCloseTo(Instant.now().getEpochSecond(), org.assertj.core.data.Offset.offset(60L));
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(TestServer.WEBHOOK_KEY, "HmacSHA256"));
            String expected = "v1," + Base64.getEncoder().encodeToString(
                    mac.doFinal((webhookId + "." + timestamp + "." + hook.body()).getBytes(StandardCharsets.UTF_8)));
            assertThat(List.of(signature.split(" "))).contains(expected);
            JsonNode a = dev.countersign.core.store.Json.MAPPER.readTree(hook.body());
            assertThat(a.path("id").asText()).isEqualTo(id);
            assertThat(a.path("status").asText()).isEqualTo("rejected");
            assertThat(a.path("decision").path("comment").asText()).isEqualTo("not this week");
        }
    }

    @Test
    void a_callback_url_from_an_agent_without_a_webhook_secret_is_400() {
        ObjectNode body = TestServer.highAsk().put("callback_url", "http://127.0.0.1:9/hook");

        Response r = server.ask(OTHER_BOT_KEY, body);

        assertThat(r.status()).as(r.toString()).isEqualTo(400);
        assertThat(r.error().path("field").asText()).isEqualTo("callback_url");
    }
}
