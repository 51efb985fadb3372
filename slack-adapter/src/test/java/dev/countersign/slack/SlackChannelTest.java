package dev.countersign.slack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Status;
import dev.countersign.core.store.Json;
import dev.countersign.core.testing.Asks;
import dev.countersign.slack.testing.FakeSlack;
import dev.countersign.slack.testing.SignedRequests;
import dev.countersign.slack.testing.SlackHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static dev.countersign.core.testing.Polling.eventually;
import static dev.countersign.slack.testing.SignedRequests.blockAction;
import static dev.countersign.slack.testing.SignedRequests.slashCommand;
import static dev.countersign.slack.testing.SignedRequests.viewSubmission;
import static org.assertj.core.api.Assertions.assertThat;

/** The Slack channel end to end against a fake Slack Web API, with real signed requests and a real engine. */
class SlackChannelTest {
    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    Path dir;
    SlackHarness h;

    @BeforeEach
    void start() {
        h = new SlackHarness(dir).start();
    }

    @AfterEach
    void stop() {
        h.close();
    }

    private Approval askPayment() {
        return h.ask(Asks.action("payments.transfer", "Pay invoice INV-2291 to Acme Corp: 12,500.00 EUR")
                .param("amount", 12500).param("to", "Acme Corp").param("api_key", "sk_live_very_secret"));
    }

    private FakeSlack.Call posted(String approvalId) {
        eventually(WAIT, () -> assertThat(postsFor(approvalId)).isNotEmpty());
        return postsFor(approvalId).get(0);
    }

    private List<FakeSlack.Call> postsFor(String approvalId) {
        return h.slack.calls("chat.postMessage").stream().filter(c -> c.param("blocks").contains(approvalId)).toList();
    }

    @Test
    void approval_is_posted_with_buttons_and_a_click_approves_it_and_updates_the_message() {
        Approval a = askPayment();
        FakeSlack.Call post = posted(a.id());
        assertThat(post.param("channel")).isEqualTo(SlackHarness.PAYMENTS_CHANNEL);
        assertThat(post.authorization()).isEqualTo("Bearer " + FakeSlack.BOT_TOKEN);
        assertThat(post.param("blocks")).contains("cs.approve", "cs.reject", "cs.comment", "https://countersign.example.com/web/approvals/" + a.id())
                .doesNotContain("sk_live_very_secret");

        long start = System.nanoTime();
        SlackHttpTransport.Answer answer = h.send(blockAction("cs.approve", a.id(), "U0ALICE", SlackHarness.PAYMENTS_CHANNEL,
                "1700000000.000001", h.slack.responseUrl("click-1"), false));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(answer.status()).isEqualTo(200);
        assertThat(took).isLessThan(Duration.ofSeconds(3));

        Approval decided = h.engine().await(a.id(), Duration.ofSeconds(10)).join().orElseThrow();
        assertThat(decided.status()).isEqualTo(Status.APPROVED);
        assertThat(decided.decision().by().id()).isEqualTo("alice");
        assertThat(decided.decision().by().channel()).isEqualTo(DecidedVia.SLACK);

        eventually(WAIT, () -> assertThat(h.slack.calls("chat.update")).anySatisfy(u -> {
            assertThat(u.param("channel")).isEqualTo(SlackHarness.PAYMENTS_CHANNEL);
            assertThat(u.param("ts")).isEqualTo(postedTs(a.id()));
            assertThat(u.param("blocks")).contains("Approved").contains("Alice Ng").doesNotContain("cs.approve");
        }));
    }

    /** The ts the fake answered for the first post of this approval. */
    private String postedTs(String approvalId) {
        return FakeSlack.tsOf(h.slack.calls("chat.postMessage").indexOf(posted(approvalId)) + 1);
    }

    @Test
    void second_click_is_told_who_won_in_an_ephemeral_note() {
        Approval a = askPayment();
        posted(a.id());
        assertThat(h.send(blockAction("cs.approve", a.id(), "U0ALICE", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("alice"), false)).status()).isEqualTo(200);
        assertThat(h.send(blockAction("cs.reject", a.id(), "U0BOB", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("bob"), false)).status()).isEqualTo(200);

        eventually(WAIT, () -> assertThat(h.slack.responses()).anySatisfy(r -> {
            assertThat(r.param("path")).isEqualTo("/actions/bob");
            assertThat(r.bodyJson().path("response_type").asText()).isEqualTo("ephemeral");
            assertThat(r.bodyJson().path("replace_original").asBoolean()).isFalse();
            assertThat(r.bodyJson().path("text").asText()).contains("Already approved by Alice Ng");
        }));
        assertThat(h.engine().get(a.id()).orElseThrow().status()).isEqualTo(Status.APPROVED);
    }

    @Test
    void unknown_slack_user_ineligible_person_and_requester_are_refused_with_a_note_saying_why() {
        Approval a = h.ask(Asks.action("payments.transfer", "Refund 20,000 EUR to Alice").param("amount", 20000).requestedFor("alice"));
        posted(a.id());
        h.send(blockAction("cs.approve", a.id(), "U0STRANGER", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("stranger"), false));
        h.send(blockAction("cs.approve", a.id(), "U0DAVE", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("dave"), false));
        h.send(blockAction("cs.approve", a.id(), "U0ALICE", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("alice"), false));

        eventually(WAIT, () -> {
            assertThat(note("stranger")).contains("not linked to a person").contains("slack: U0STRANGER");
            assertThat(note("dave")).contains("You cannot decide").contains("not among the approvers");
            assertThat(note("alice")).contains("You cannot decide").contains("on their own behalf");
        });
        assertThat(h.engine().get(a.id()).orElseThrow().status()).isEqualTo(Status.PENDING);
    }

    private String note(String responseUrlName) {
        return h.slack.responses().stream().filter(r -> r.param("path").equals("/actions/" + responseUrlName))
                .map(r -> r.bodyJson().path("text").asText()).findFirst().orElse("");
    }

    @Test
    void comment_modal_opens_validates_and_records_the_decision_with_the_comment() throws Exception {
        Approval a = askPayment();
        posted(a.id());
        String click = blockAction("cs.comment", a.id(), "U0BOB", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("bob"), false);
        String trigger = SignedRequests.payloadOf(click).path("trigger_id").asText();
        assertThat(h.send(click).status()).isEqualTo(200);

        FakeSlack.Call open = h.slack.calls("views.open").get(0);
        assertThat(open.param("trigger_id")).isEqualTo(trigger);
        JsonNode view = open.json("view");
        assertThat(view.path("callback_id").asText()).isEqualTo("cs.decision");
        assertThat(view.path("title").path("text").asText().length()).isLessThanOrEqualTo(24);
        String metadata = view.path("private_metadata").asText();
        assertThat(Json.MAPPER.readTree(metadata).path("id").asText()).isEqualTo(a.id());

        // Reject without a reason: the modal shows the error and nothing is decided.
        SlackHttpTransport.Answer invalid = h.send(viewSubmission(metadata, "U0BOB", "reject", null));
        assertThat(invalid.status()).isEqualTo(200);
        JsonNode errors = Json.MAPPER.readTree(invalid.body());
        assertThat(errors.path("response_action").asText()).isEqualTo("errors");
        assertThat(errors.path("errors").path("cs_comment").asText()).contains("Say why");
        SlackHttpTransport.Answer noChoice = h.send(viewSubmission(metadata, "U0BOB", null, "hm"));
        assertThat(Json.MAPPER.readTree(noChoice.body()).path("errors").path("cs_verdict").asText()).contains("Choose");
        assertThat(h.engine().get(a.id()).orElseThrow().status()).isEqualTo(Status.PENDING);

        SlackHttpTransport.Answer ok = h.send(viewSubmission(metadata, "U0BOB", "reject", "Acme's bank details changed last week: call them first"));
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.body()).isEmpty();
        Approval decided = h.engine().await(a.id(), Duration.ofSeconds(10)).join().orElseThrow();
        assertThat(decided.status()).isEqualTo(Status.REJECTED);
        assertThat(decided.decision().by().id()).isEqualTo("bob");
        assertThat(decided.decision().comment()).isEqualTo("Acme's bank details changed last week: call them first");
        eventually(WAIT, () -> assertThat(h.slack.calls("chat.update")).anySatisfy(u ->
                assertThat(u.param("blocks")).contains("Rejected").contains("Acme's bank details changed")));

        // A late submission is told who won, in the modal.
        SlackHttpTransport.Answer late = h.send(viewSubmission(metadata, "U0ALICE", "approve", null));
        assertThat(Json.MAPPER.readTree(late.body()).path("errors").path("cs_verdict").asText()).contains("Already rejected by Bob Li");
    }

    @Test
    void pending_lists_what_waits_for_the_caller_most_urgent_first_and_all_lists_what_they_may_see() throws Exception {
        Approval later = askPayment();
        Approval sooner = h.ask(Asks.action("test.escalate", "Rotate the production database password").timeout("PT30M"));
        Approval forErin = h.ask(Asks.action("infra.delete", "Delete the staging cluster"));

        JsonNode mine = Json.MAPPER.readTree(h.send(slashCommand("/pending", "", "U0ALICE", h.slack.responseUrl("cmd"))).body());
        assertThat(mine.path("response_type").asText()).isEqualTo("ephemeral");
        String blocks = mine.path("blocks").toString();
        assertThat(blocks).contains(sooner.id(), later.id()).doesNotContain(forErin.id());
        assertThat(blocks.indexOf(sooner.id())).isLessThan(blocks.indexOf(later.id()));
        assertThat(blocks).contains("cs.approve");

        JsonNode all = Json.MAPPER.readTree(h.send(slashCommand("/pending", "all", "U0ERIN", h.slack.responseUrl("cmd"))).body());
        assertThat(all.path("blocks").toString()).contains(sooner.id(), later.id(), forErin.id());

        JsonNode empty = Json.MAPPER.readTree(h.send(slashCommand("/pending", "", "U0DAVE", h.slack.responseUrl("cmd"))).body());
        assertThat(empty.path("text").asText()).contains("Nothing waits for your decision");

        JsonNode stranger = Json.MAPPER.readTree(h.send(slashCommand("/pending", "", "U0STRANGER", h.slack.responseUrl("cmd"))).body());
        assertThat(stranger.path("blocks").toString()).contains("not linked to a person");
    }

    @Test
    void escalation_dms_the_next_approver_found_by_email_with_why_and_their_click_updates_every_message() {
        Approval a = h.ask(Asks.action("test.escalate", "Rotate the production database password"));
        posted(a.id());
        eventually(WAIT, () -> assertThat(h.slack.calls("conversations.open")).isNotEmpty());
        assertThat(h.slack.calls("users.lookupByEmail")).anySatisfy(c -> assertThat(c.param("email")).isEqualTo("carol@example.com"));
        assertThat(h.slack.calls("conversations.open").get(0).param("users")).isEqualTo("U0CAROL");
        eventually(WAIT, () -> assertThat(postsFor(a.id())).hasSize(2));
        FakeSlack.Call dm = postsFor(a.id()).get(1);
        assertThat(dm.param("channel")).isEqualTo("DU0CAROL");
        assertThat(dm.param("blocks")).contains("Escalated to you: no answer from <#C0APPROVALS> in 1 s").contains("cs.approve");

        h.send(blockAction("cs.approve", a.id(), "U0CAROL", "DU0CAROL", "1.2", h.slack.responseUrl("carol"), false));
        Approval decided = h.engine().await(a.id(), Duration.ofSeconds(10)).join().orElseThrow();
        assertThat(decided.status()).isEqualTo(Status.APPROVED);
        assertThat(decided.decision().by().id()).isEqualTo("carol");
        eventually(WAIT, () -> assertThat(h.slack.calls("chat.update").stream()
                .filter(u -> u.param("blocks").contains("Carol Diaz") && !u.param("blocks").contains("cs.approve"))
                .map(u -> u.param("channel")).distinct()).containsExactlyInAnyOrder(SlackHarness.CHANNEL, "DU0CAROL"));
    }

    @Test
    void forged_stale_and_future_requests_are_refused_with_401_and_change_nothing() {
        Approval a = askPayment();
        posted(a.id());
        String click = blockAction("cs.approve", a.id(), "U0ALICE", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("x"), false);
        long now = Instant.now().getEpochSecond();

        assertThat(h.send(SignedRequests.sign(click, now, "not-the-signing-secret")).status()).isEqualTo(401);
        assertThat(h.send(SignedRequests.sign(click, now - 310, FakeSlack.SIGNING_SECRET)).status()).isEqualTo(401);
        assertThat(h.send(SignedRequests.sign(click, now + 310, FakeSlack.SIGNING_SECRET)).status()).isEqualTo(401);
        SignedRequests.Signed good = SignedRequests.sign(click, now, FakeSlack.SIGNING_SECRET);
        SignedRequests.Signed tampered = new SignedRequests.Signed(click.replace("U0ALICE", "U0BOB").getBytes(), good.headers());
        assertThat(h.send(tampered).status()).isEqualTo(401);
        SignedRequests.Signed unsigned = new SignedRequests.Signed(click.getBytes(), java.util.Map.of());
        assertThat(h.send(unsigned).status()).isEqualTo(401);

        assertThat(h.engine().get(a.id()).orElseThrow().status()).isEqualTo(Status.PENDING);
        assertThat(h.slack.responses()).isEmpty();
        // Slack's published signing example is accepted at its own time only, which is long past: refused.
        JsonNode vector = dev.countersign.slack.testing.Fixtures.json("signature_test_vector_slash_command.json");
        assertThat(h.send(SignedRequests.sign(vector.path("body").asText(), vector.path("x_slack_request_timestamp").asLong(),
                vector.path("signing_secret").asText())).status()).isEqualTo(401);
    }

    @Test
    void garbage_bodies_get_a_clear_4xx_not_a_500() {
        assertThat(h.send("hello=world").status()).isEqualTo(400);
        assertThat(h.send("payload=%7Bnot-json").status()).isBetween(400, 499);
        assertThat(h.send("").status()).isEqualTo(400);
    }

    @Test
    void a_429_with_retry_after_is_honoured_and_the_message_still_delivered_once() {
        h.slack.rateLimit("chat.postMessage", 1, 2);
        Approval a = askPayment();
        eventually(WAIT, () -> assertThat(postsFor(a.id())).hasSize(2));
        List<FakeSlack.Call> attempts = postsFor(a.id());
        assertThat(Duration.between(attempts.get(0).at(), attempts.get(1).at())).isGreaterThanOrEqualTo(Duration.ofMillis(1900));
        // Delivered exactly once: no third post, and a click updates that one message.
        h.send(blockAction("cs.approve", a.id(), "U0ALICE", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("a"), false));
        eventually(WAIT, () -> assertThat(h.slack.calls("chat.update")).hasSize(1));
        assertThat(postsFor(a.id())).hasSize(2);
    }

    @Test
    void a_slack_outage_and_a_restart_lose_no_message() {
        h.slack.down(true);
        Approval a = askPayment();
        eventually(WAIT, () -> assertThat(postsFor(a.id())).hasSizeGreaterThanOrEqualTo(3));   // tried, and failed
        h.restart();   // what is owed is in channel_task, not in memory
        Approval b = h.ask(Asks.action("test.quorum", "Grant prod access to the on-call engineer"));
        h.slack.down(false);
        eventually(Duration.ofSeconds(30), () -> {
            assertThat(h.slack.calls("chat.postMessage").stream().filter(c -> c.param("blocks").contains(a.id())).count()).isGreaterThan(3);
            assertThat(postsFor(b.id())).isNotEmpty();
        });
        // Each delivered once: after Slack came back, a click updates exactly the one message of each.
        h.send(blockAction("cs.approve", a.id(), "U0ALICE", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("a"), false));
        eventually(WAIT, () -> assertThat(h.slack.calls("chat.update")).hasSize(1));
    }

    @Test
    void a_quorum_vote_is_acknowledged_and_the_message_shows_the_progress() {
        Approval a = h.ask(Asks.action("test.quorum", "Grant prod access to the on-call engineer"));
        posted(a.id());
        h.send(blockAction("cs.approve", a.id(), "U0ALICE", SlackHarness.CHANNEL, "1.1", h.slack.responseUrl("alice"), false));
        eventually(WAIT, () -> assertThat(note("alice")).contains("Your approval is counted: 1 more approval is needed"));
        eventually(WAIT, () -> assertThat(h.slack.calls("chat.update")).anySatisfy(u ->
                assertThat(u.param("blocks")).contains("Approvals: 1 of 2 (Alice Ng)").contains("cs.approve")));
        assertThat(h.engine().get(a.id()).orElseThrow().status()).isEqualTo(Status.PENDING);
    }

    @Test
    void medium_risk_under_logged_review_is_posted_for_information_without_buttons_and_low_risk_not_at_all() {
        Approval fyi = h.ask(Asks.action("email.send", "Send the weekly report to the team"));
        Approval low = h.ask(Asks.action("db.read.customers", "Read the 20 newest customers"));
        FakeSlack.Call post = posted(fyi.id());
        assertThat(post.param("blocks")).contains("for your information").doesNotContain("cs.approve");
        h.ask(Asks.action("payments.transfer", "a marker after the low-risk one").param("amount", 1));
        eventually(WAIT, () -> assertThat(h.slack.calls("chat.postMessage").stream().filter(c -> c.param("blocks").contains("a marker"))).isNotEmpty());
        assertThat(postsFor(low.id())).isEmpty();
    }
}
