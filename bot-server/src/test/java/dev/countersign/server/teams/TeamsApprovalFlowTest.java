package dev.countersign.server.teams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.store.Json;
import dev.countersign.server.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static dev.countersign.core.testing.Polling.eventually;
import static dev.countersign.core.testing.Polling.until;
import static dev.countersign.server.teams.TeamsHarness.ALICE_AAD;
import static dev.countersign.server.teams.TeamsHarness.BOB_AAD;
import static dev.countersign.server.teams.TeamsHarness.CAROL_AAD;
import static dev.countersign.server.teams.TeamsHarness.DAVE_AAD;
import static dev.countersign.server.teams.TeamsHarness.STRANGER_AAD;
import static dev.countersign.server.teams.TeamsHarness.TEAM;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Teams channel end to end: a real server, the fixtures' activities signed by the fake Bot Framework's key, the
 * fake Connector as their service URL, and the agent on the real agent API.
 */
class TeamsApprovalFlowTest {
    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    Path dir;
    TeamsHarness teams;

    @BeforeEach
    void start() {
        teams = new TeamsHarness(dir);
    }

    @AfterEach
    void stop() {
        teams.close();
    }

    /** Installs the bot in the team and in alice's 1:1 chat, asks for a large payment and returns the card posted to the team. */
    private FakeBotFramework.Call installAndAsk(ObjectNode ask) {
        assertThat(teams.send(teams.teamInstall()).status()).isEqualTo(200);
        assertThat(teams.send(teams.personalInstall(ALICE_AAD)).status()).isEqualTo(200);
        JsonNode approval = teams.server.asked(TestServer.ALICE_BOT_KEY, ask);
        eventually(WAIT, () -> assertThat(teams.bf.posts(TEAM)).hasSize(1));
        FakeBotFramework.Call post = teams.bf.posts(TEAM).get(0);
        assertThat(post.card().path("body").toString()).contains(approval.path("id").asText());
        return post;
    }

    private static String id(FakeBotFramework.Call post) {
        return post.card().path("actions").path(0).path("data").path("approval").asText();
    }

    /** The id of the card posted to the team. */
    private String teamCard() {
        return teams.bf.posts(TEAM).get(0).answeredId();
    }

    @Test
    void an_approval_clicked_in_teams_with_a_comment_reaches_the_waiting_agent_and_every_card_shows_the_outcome() throws Exception {
        FakeBotFramework.Call post = installAndAsk(TestServer.highAsk());
        JsonNode card = post.card();
        String id = id(post);
        assertThat(post.authorization()).startsWith("Bearer bot-token-");
        assertThat(card.path("version").asText()).isEqualTo("1.5");
        assertThat(card.path("actions").findValuesAsText("verb")).containsExactly("approve", "approve", "reject", "reject");
        assertThat(card.path("actions").path(0).path("fallback").path("type").asText()).isEqualTo("Action.Submit");
        assertThat(card.path("body").findValuesAsText("id")).contains("comment");
        assertThat(card.toString()).contains("Pay invoice INV-2291 to Acme Corp: 12,500.00 EUR", "invoice due on Friday", "Acme Corp", "Alice Ng, Bob Osei");
        // alice installed the app, so her client refreshes the card; bob has not met the bot yet
        assertThat(card.path("refresh").path("userIds").toString()).contains(TeamsHarness.userId(ALICE_AAD)).doesNotContain(BOB_AAD);

        CompletableFuture<TestServer.Response> longPoll = CompletableFuture.supplyAsync(() -> teams.server.get("/api/v1/approvals/" + id + "?wait=30", TestServer.ALICE_BOT_KEY));

        TestServer.Response clicked = teams.send(teams.click(ALICE_AAD, "approve", id, "checked the invoice"));
        assertThat(clicked.status()).isEqualTo(200);
        JsonNode invoke = clicked.json();
        assertThat(invoke.path("statusCode").asInt()).isEqualTo(200);
        assertThat(invoke.path("type").asText()).isEqualTo("application/vnd.microsoft.card.adaptive");
        assertThat(invoke.path("value").toString()).contains("You approved this", "Approved by Alice Ng (teams)", "checked the invoice");
        assertThat(invoke.path("value").path("actions").isMissingNode()).isTrue();

        JsonNode decided = longPoll.get().json();
        assertThat(decided.path("status").asText()).isEqualTo("approved");
        assertThat(decided.path("decision").path("by").path("channel").asText()).isEqualTo("teams");
        assertThat(decided.path("decision").path("by").path("id").asText()).isEqualTo("alice");
        assertThat(decided.path("decision").path("comment").asText()).isEqualTo("checked the invoice");

        eventually(WAIT, () -> {
            List<FakeBotFramework.Call> updates = teams.bf.updates(TEAM, teamCard());
            assertThat(updates).isNotEmpty();
            JsonNode updated = updates.get(updates.size() - 1).card();
            assertThat(updated.toString()).contains("Approved by Alice Ng (teams)", "checked the invoice");
            assertThat(updated.path("actions").isMissingNode()).isTrue();
            assertThat(updated.path("refresh").isMissingNode()).isTrue();
        });
    }

    @Test
    void people_who_may_not_decide_are_told_why_and_a_late_click_is_told_who_decided() {
        ObjectNode ask = TestServer.highAsk();
        ask.put("requested_for", "bob");
        String id = id(installAndAsk(ask));

        assertThat(teams.send(teams.click(DAVE_AAD, "approve", id, null)).json().path("value").toString())
                .contains("Not recorded", "Dave Okafor is not among the approvers").doesNotContain("You approved");
        assertThat(teams.send(teams.click(BOB_AAD, "approve", id, null)).json().path("value").toString())
                .contains("Not recorded").containsIgnoringCase("own");
        assertThat(teams.send(teams.click(STRANGER_AAD, "approve", id, null)).json().path("value").toString())
                .contains("not linked to a person", STRANGER_AAD);
        assertThat(teams.server.get("/api/v1/approvals/" + id, TestServer.ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");

        assertThat(teams.send(teams.click(ALICE_AAD, "reject", id, "not this week")).json().path("value").toString()).contains("You rejected this");
        JsonNode late = teams.send(teams.click(ALICE_AAD, "approve", id, null)).json();
        assertThat(late.path("statusCode").asInt()).isEqualTo(200);
        assertThat(late.path("value").toString()).contains("Too late: already rejected by Alice Ng (teams)");
        assertThat(teams.server.get("/api/v1/approvals/" + id, TestServer.ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("rejected");
    }

    @Test
    void a_card_refresh_shows_each_viewer_the_buttons_only_when_they_may_decide() {
        String id = id(installAndAsk(TestServer.highAsk()));
        JsonNode forAlice = teams.send(teams.click(ALICE_AAD, "refresh", id, null)).json().path("value");
        JsonNode forDave = teams.send(teams.click(DAVE_AAD, "refresh", id, null)).json().path("value");
        assertThat(forAlice.path("actions").findValuesAsText("verb")).contains("approve", "reject");
        assertThat(forDave.path("actions").isMissingNode()).isTrue();
        assertThat(forDave.toString()).contains("Pay invoice INV-2291");
    }

    @Test
    void writing_pending_lists_the_approvals_waiting_for_the_writer_with_their_buttons() {
        String id = id(installAndAsk(TestServer.highAsk()));
        teams.server.asked(TestServer.ALICE_BOT_KEY, TestServer.ask("ops.restart", "Restart the billing service"));

        assertThat(teams.send(teams.personalMessage(ALICE_AAD, "pending")).status()).isEqualTo(200);
        String chat = TeamsHarness.personalConversation(ALICE_AAD);
        eventually(WAIT, () -> assertThat(teams.bf.posts(chat)).hasSize(1));
        JsonNode list = teams.bf.posts(chat).get(0).card();
        assertThat(list.toString()).contains("2 approvals wait for you, Alice Ng", "Pay invoice INV-2291", "Restart the billing service", id);
        assertThat(list.findValuesAsText("verb")).contains("approve", "reject");

        // a mention in a channel works too; dave may decide neither
        assertThat(teams.send(teams.channelMessage(DAVE_AAD, "<at>Countersign</at> pending")).status()).isEqualTo(200);
        eventually(WAIT, () -> assertThat(teams.bf.posts(TEAM + ";messageid=1501")).hasSize(1));
        assertThat(teams.bf.posts(TEAM + ";messageid=1501").get(0).card().toString()).contains("Nothing waits for you, Dave Okafor");
    }

    @Test
    void an_escalation_reaches_the_new_approver_in_a_new_one_to_one_chat_with_why() {
        assertThat(teams.send(teams.teamInstall()).status()).isEqualTo(200);
        // carol has written in the team's channel, so the bot knows her id but has no 1:1 chat with her yet
        assertThat(teams.send(teams.channelMessage(CAROL_AAD, "hello")).status()).isEqualTo(200);
        String id = teams.server.asked(TestServer.ALICE_BOT_KEY, TestServer.ask("ops.restart", "Restart the billing service")).path("id").asText();

        eventually(WAIT, () -> assertThat(teams.bf.posts(TEAM)).hasSize(1));
        String dm = "a:dm-" + TeamsHarness.userId(CAROL_AAD);
        eventually(WAIT, () -> assertThat(teams.bf.posts(dm)).hasSize(1));
        FakeBotFramework.Call created = teams.bf.calls(c -> c.method().equals("POST") && c.path().equals("/amer/v3/conversations")).get(0);
        assertThat(created.body().path("members").path(0).path("id").asText()).isEqualTo(TeamsHarness.userId(CAROL_AAD));
        assertThat(created.body().path("bot").path("id").asText()).isEqualTo("28:" + FakeBotFramework.APP_ID);
        assertThat(created.body().path("channelData").path("tenant").path("id").asText()).isEqualTo(TeamsHarness.TENANT);
        JsonNode card = teams.bf.posts(dm).get(0).card();
        assertThat(card.toString()).contains("This reached you because nobody decided it in time", "Restart the billing service", "Alice Ng, Carol Diaz");
        assertThat(card.findValuesAsText("verb")).contains("approve");

        // carol decides from the DM; the team's card and her DM both show it
        assertThat(teams.send(teams.click(CAROL_AAD, "approve", id, null)).json().path("value").toString()).contains("You approved this");
        eventually(WAIT, () -> {
            assertThat(teams.bf.updates(TEAM, teamCard())).isNotEmpty();
            List<FakeBotFramework.Call> dmUpdates = teams.bf.calls(c -> c.method().equals("PUT") && c.path().startsWith("/amer/v3/conversations/" + dm + "/activities/"));
            assertThat(dmUpdates).isNotEmpty();
            assertThat(dmUpdates.get(dmUpdates.size() - 1).card().toString()).contains("Approved by Carol Diaz (teams)").doesNotContain("This reached you");
        });
    }

    @Test
    void a_decision_made_elsewhere_updates_the_teams_card_even_when_teams_throttles_the_first_update() {
        String id = id(installAndAsk(TestServer.highAsk()));
        teams.bf.throttle("PUT", 1, 1);

        TestServer.Response decided = teams.server.decide(id, "reject", "bob", "duplicate invoice");
        assertThat(decided.status()).isEqualTo(200);

        eventually(WAIT, () -> {
            List<FakeBotFramework.Call> updates = teams.bf.updates(TEAM, teamCard());
            assertThat(updates).hasSizeGreaterThanOrEqualTo(2);
            assertThat(updates.get(0).status()).isEqualTo(429);
            FakeBotFramework.Call delivered = updates.get(updates.size() - 1);
            assertThat(delivered.status()).isEqualTo(200);
            assertThat(delivered.card().toString()).contains("Rejected by Bob Osei (cli)", "duplicate invoice");
            // Retry-After: 1 was waited out
            assertThat(Duration.between(updates.get(0).at(), delivered.at())).isGreaterThanOrEqualTo(Duration.ofMillis(900));
        });
    }

    @Test
    void removing_the_bot_from_the_team_forgets_the_conversation() {
        assertThat(teams.send(teams.teamInstall()).status()).isEqualTo(200);
        assertThat(teams.count("SELECT COUNT(*) FROM teams_conversation")).isEqualTo(1);
        ObjectNode removed = TeamsHarness.fixture("conversationUpdate_member_removed_from_team");
        removed.put("serviceUrl", teams.bf.serviceUrl());
        assertThat(teams.send(removed).status()).isEqualTo(200);
        assertThat(teams.count("SELECT COUNT(*) FROM teams_conversation")).as("a user removed: the bot stays").isEqualTo(1);
        ((ObjectNode) removed.get("membersRemoved").get(0)).put("id", "28:" + FakeBotFramework.APP_ID);
        assertThat(teams.send(removed).status()).isEqualTo(200);
        assertThat(teams.count("SELECT COUNT(*) FROM teams_conversation")).isZero();
    }

    /** A second harness, on another config (the first one's database is in use): the first is closed. */
    private void restartWith(java.util.function.UnaryOperator<String> config) {
        teams.close();
        teams = new TeamsHarness(dir.resolve("other"), config);
    }

    /** Long enough for the core's queue (1 s, then 2 s, …) to have retried a failed call twice. */
    private static void waitForRetries() {
        until(Instant.now().plusSeconds(4));
    }

    private long escalationLevel(String id) {
        return teams.server.get("/api/v1/approvals/" + id, TestServer.ALICE_BOT_KEY).json().path("escalation").path("level").asLong();
    }

    @Test
    void a_card_teams_refuses_for_good_is_not_posted_again_and_again() {
        assertThat(teams.send(teams.teamInstall()).status()).isEqualTo(200);
        // the bot was removed from the team without Countersign hearing of it
        teams.bf.fail(c -> c.method().equals("POST") && c.path().endsWith("/activities"), 403, 1000);
        teams.server.asked(TestServer.ALICE_BOT_KEY, TestServer.highAsk());
        eventually(WAIT, () -> assertThat(teams.bf.calls()).hasSize(1));
        waitForRetries();
        assertThat(teams.bf.calls()).as("a 403 is not retried").hasSize(1);
    }

    @Test
    void an_escalation_dm_teams_refuses_for_one_person_does_not_hold_back_the_others_and_is_not_retried() {
        restartWith(yaml -> yaml.replace("notify: [carol]", "notify: [carol, dave]"));
        assertThat(teams.send(teams.teamInstall()).status()).isEqualTo(200);
        assertThat(teams.send(teams.channelMessage(CAROL_AAD, "hello")).status()).isEqualTo(200);
        assertThat(teams.send(teams.channelMessage(DAVE_AAD, "hello")).status()).isEqualTo(200);
        // carol has blocked the bot: opening her 1:1 chat is refused
        teams.bf.fail(c -> c.method().equals("POST") && c.path().endsWith("/v3/conversations")
                && c.body().path("members").path(0).path("id").asText().equals(TeamsHarness.userId(CAROL_AAD)), 403, 1000);
        teams.server.asked(TestServer.ALICE_BOT_KEY, TestServer.ask("ops.restart", "Restart the billing service"));

        String daveDm = "a:dm-" + TeamsHarness.userId(DAVE_AAD);
        eventually(WAIT, () -> assertThat(teams.bf.posts(daveDm)).hasSize(1));
        waitForRetries();
        List<FakeBotFramework.Call> carolAttempts = teams.bf.calls(c -> c.path().endsWith("/v3/conversations")
                && c.body().path("members").path(0).path("id").asText().equals(TeamsHarness.userId(CAROL_AAD)));
        assertThat(carolAttempts).as("a 403 is not retried").hasSize(1);
        assertThat(teams.bf.posts(daveDm)).hasSize(1);
    }

    @Test
    void a_deleted_card_is_skipped_while_the_others_are_updated_and_is_not_updated_again_and_again() {
        assertThat(teams.send(teams.teamInstall()).status()).isEqualTo(200);
        assertThat(teams.send(teams.channelMessage(CAROL_AAD, "hello")).status()).isEqualTo(200);
        String id = teams.server.asked(TestServer.ALICE_BOT_KEY, TestServer.ask("ops.restart", "Restart the billing service")).path("id").asText();
        eventually(WAIT, () -> assertThat(teams.bf.posts(TEAM)).hasSize(1));
        String dm = "a:dm-" + TeamsHarness.userId(CAROL_AAD);
        eventually(WAIT, () -> assertThat(teams.bf.posts(dm)).hasSize(1));
        // someone deleted the team's card
        String teamCardPath = "/amer/v3/conversations/" + TEAM + "/activities/" + teamCard();
        teams.bf.fail(c -> c.method().equals("PUT") && c.path().equals(teamCardPath), 404, 1000);

        assertThat(teams.server.decide(id, "approve", "carol", null).status()).isEqualTo(200);
        String dmCard = teams.bf.posts(dm).get(0).answeredId();
        eventually(WAIT, () -> assertThat(teams.bf.updates(dm, dmCard)).isNotEmpty());
        waitForRetries();
        // (the escalation updated the team's card before it was deleted)
        assertThat(teams.bf.updates(TEAM, teamCard()).stream().filter(c -> c.status() == 404)).as("a 404 is not retried").hasSize(1);
        assertThat(teams.bf.updates(dm, dmCard)).hasSize(1);
        assertThat(teams.bf.updates(dm, dmCard).get(0).card().toString()).contains("Approved by Carol Diaz");
    }

    @Test
    void a_card_whose_reference_could_not_be_kept_is_never_sent() {
        assertThat(teams.send(teams.teamInstall()).status()).isEqualTo(200);
        // carol's 1:1 chat: a long service URL and a long conversation id, together beyond the post log's 500 characters
        ObjectNode install = teams.personalInstall(CAROL_AAD);
        String serviceUrl = teams.bf.base() + "/amer/" + "region/".repeat(30);
        String conversation = "a:" + "x".repeat(290);
        install.put("serviceUrl", serviceUrl);
        ((ObjectNode) install.get("conversation")).put("id", conversation);
        assertThat(teams.send(install).status()).isEqualTo(200);
        String id = teams.server.asked(TestServer.ALICE_BOT_KEY, TestServer.ask("ops.restart", "Restart the billing service")).path("id").asText();
        eventually(WAIT, () -> assertThat(teams.bf.posts(TEAM)).hasSize(1));
        eventually(WAIT, () -> assertThat(escalationLevel(id)).isEqualTo(1));
        waitForRetries();
        assertThat(teams.bf.calls(c -> c.path().contains(conversation))).as("nothing sent that could not be remembered").isEmpty();
    }

    @Test
    void on_the_pending_list_each_approval_has_its_own_comment_box_and_a_click_records_that_approvals_comment() {
        installAndAsk(TestServer.highAsk());
        teams.server.asked(TestServer.ALICE_BOT_KEY, TestServer.ask("ops.restart", "Restart the billing service"));
        assertThat(teams.send(teams.personalMessage(ALICE_AAD, "pending")).status()).isEqualTo(200);
        String chat = TeamsHarness.personalConversation(ALICE_AAD);
        eventually(WAIT, () -> assertThat(teams.bf.posts(chat)).hasSize(1));
        JsonNode list = teams.bf.posts(chat).get(0).card();

        List<String> inputs = new ArrayList<>();
        list.findParents("type").forEach(n -> {
            if (n.path("type").asText().equals("Input.Text")) inputs.add(n.path("id").asText());
        });
        List<String> ids = list.findValues("data").stream().map(d -> d.path("approval").asText()).distinct().toList();
        assertThat(ids).hasSize(2);
        assertThat(inputs).containsExactly("comment." + ids.get(0), "comment." + ids.get(1));

        // Action.Execute sends every input of the card: the second item's box holds the comment
        ObjectNode click = teams.click(ALICE_AAD, "approve", ids.get(1), null);
        ((ObjectNode) click.get("value").get("action").get("data")).put("comment." + ids.get(0), "").put("comment." + ids.get(1), "restart is safe now");
        assertThat(teams.send(click).json().path("value").toString()).contains("You approved this", "restart is safe now");
        JsonNode second = teams.server.get("/api/v1/approvals/" + ids.get(1), TestServer.ALICE_BOT_KEY).json();
        assertThat(second.path("status").asText()).isEqualTo("approved");
        assertThat(second.path("decision").path("comment").asText()).isEqualTo("restart is safe now");
        assertThat(teams.server.get("/api/v1/approvals/" + ids.get(0), TestServer.ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");

        // the Action.Submit fallback (a message with the data) reads the same box
        ObjectNode submit = teams.personalMessage(ALICE_AAD, null);
        submit.remove("text");
        submit.putObject("value").put("approval", ids.get(0)).put("verb", "reject").put("comment." + ids.get(0), "not this one")
                .put("comment." + ids.get(1), "");
        assertThat(teams.send(submit).status()).isEqualTo(200);
        JsonNode first = teams.server.get("/api/v1/approvals/" + ids.get(0), TestServer.ALICE_BOT_KEY).json();
        assertThat(first.path("status").asText()).isEqualTo("rejected");
        assertThat(first.path("decision").path("comment").asText()).isEqualTo("not this one");
    }

    @Test
    void a_message_is_answered_at_once_and_the_reply_sent_afterwards() {
        assertThat(teams.send(teams.personalInstall(ALICE_AAD)).status()).isEqualTo(200);
        String chat = TeamsHarness.personalConversation(ALICE_AAD);
        // the Connector takes its time: longer than Bot Framework waits for the bot's answer (about 15 s) would be
        teams.bf.delay(c -> c.method().equals("POST") && c.path().endsWith(chat + "/activities"), Duration.ofSeconds(5));
        TestServer.Response r = teams.send(teams.personalMessage(ALICE_AAD, "pending"));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.elapsed()).isLessThan(Duration.ofSeconds(3));
        assertThat(teams.bf.posts(chat)).isEmpty();
        eventually(WAIT, () -> assertThat(teams.bf.posts(chat)).hasSize(1));
        assertThat(teams.bf.posts(chat).get(0).card().toString()).contains("Nothing waits for you, Alice Ng");
    }

    @Test
    void an_unreadable_body_with_a_token_is_a_clear_400() {
        TestServer.Response r = teams.send(Json.MAPPER.createObjectNode(), teams.bf.token(teams.bf.serviceUrl()));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("error").path("code").asText()).isEqualTo("invalid_activity");
    }
}
