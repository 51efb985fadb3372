package dev.countersign.server.slack;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.server.TestServer;
import dev.countersign.slack.testing.FakeSlack;
import dev.countersign.slack.testing.SignedRequests;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.countersign.core.testing.Polling.eventually;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server with Slack switched on by its variables, against a fake Slack Web API: an agent asks, Slack POSTs a
 * signed click to {@code /slack/events}, the agent's long-poll returns the decision, and the message is updated.
 * People have no Slack id in this config: the clicker is found by e-mail ({@code users.info}).
 */
class SlackEndpointTest {
    @TempDir
    Path dir;
    FakeSlack slack;
    TestServer server;

    @BeforeEach
    void start() {
        slack = new FakeSlack().user("U0ALICE", "alice@example.com").user("U0BOB", "bob@example.com");
        Map<String, String> env = TestServer.env();
        env.put("SLACK_BOT_TOKEN", FakeSlack.BOT_TOKEN);
        env.put("SLACK_SIGNING_SECRET", FakeSlack.SIGNING_SECRET);
        env.put("SLACK_API_URL", slack.apiUrl());
        env.put("SLACK_APPROVAL_CHANNEL", "C0APPROVALS");
        server = TestServer.start(TestServer.config(TestServer.CONFIG.replace("%DB%", TestServer.h2Url(dir)), env));
    }

    @AfterEach
    void stop() {
        if (server != null) server.close();
        slack.close();
    }

    private TestServer.Response post(SignedRequests.Signed signed) {
        HttpRequest.Builder b = server.request("/slack/events", null);
        signed.headers().forEach((k, vs) -> vs.forEach(v -> b.header(k, v)));
        return TestServer.send(b.POST(HttpRequest.BodyPublishers.ofByteArray(signed.body())));
    }

    private String click(String actionId, String id, String user) {
        return SignedRequests.blockAction(actionId, id, user, "C0APPROVALS", "1700000000.000001", slack.responseUrl(user), false);
    }

    @Test
    void click_in_slack_answers_the_agents_long_poll_with_decision_by_slack_and_updates_every_posted_message() throws Exception {
        JsonNode asked = server.asked(TestServer.ALICE_BOT_KEY, TestServer.highAsk());
        String id = asked.path("id").asText();
        CompletableFuture<TestServer.Response> poll = CompletableFuture.supplyAsync(() -> server.get("/api/v1/approvals/" + id + "?wait=30", TestServer.ALICE_BOT_KEY));
        eventually(Duration.ofSeconds(15), () -> assertThat(slack.calls("chat.postMessage")).isNotEmpty());
        FakeSlack.Call post = slack.calls("chat.postMessage").get(0);
        assertThat(post.param("channel")).isEqualTo("C0APPROVALS");
        assertThat(post.param("blocks")).contains("/web/approvals/" + id).contains("Pay invoice INV-2291");

        TestServer.Response answer = post(new SignedRequests(FakeSlack.SIGNING_SECRET).sign(click("cs.approve", id, "U0ALICE"), Instant.now()));
        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.elapsed()).isLessThan(Duration.ofSeconds(3));

        TestServer.Response result = poll.get(30, TimeUnit.SECONDS);
        assertThat(result.status()).isEqualTo(200);
        assertThat(result.json().path("status").asText()).isEqualTo("approved");
        assertThat(result.json().path("decision").path("by").path("channel").asText()).isEqualTo("slack");
        assertThat(result.json().path("decision").path("by").path("id").asText()).isEqualTo("alice");

        eventually(Duration.ofSeconds(15), () -> assertThat(slack.calls("chat.update")).anySatisfy(u -> {
            assertThat(u.param("channel")).isEqualTo("C0APPROVALS");
            assertThat(u.param("ts")).isEqualTo(FakeSlack.tsOf(1));
            assertThat(u.param("blocks")).contains("Approved").doesNotContain("cs.approve");
        }));
    }

    @Test
    void forged_stale_and_future_requests_get_401_over_http_and_nothing_changes() {
        JsonNode asked = server.asked(TestServer.ALICE_BOT_KEY, TestServer.highAsk());
        String id = asked.path("id").asText();
        String body = click("cs.approve", id, "U0ALICE");
        long now = Instant.now().getEpochSecond();
        for (SignedRequests.Signed bad : List.of(SignedRequests.sign(body, now, "forged-secret"),
                SignedRequests.sign(body, now - 600, FakeSlack.SIGNING_SECRET),
                SignedRequests.sign(body, now + 600, FakeSlack.SIGNING_SECRET))) {
            TestServer.Response r = post(bad);
            assertThat(r.status()).isEqualTo(401);
            assertThat(r.body()).doesNotContain("Exception");
        }
        assertThat(server.get("/api/v1/approvals/" + id, TestServer.ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
    }

    @Test
    void an_oversized_or_unreadable_slack_body_gets_a_clear_4xx() {
        TestServer.Response huge = post(SignedRequests.sign("payload=" + "x".repeat(600_000), Instant.now().getEpochSecond(), FakeSlack.SIGNING_SECRET));
        assertThat(huge.status()).isEqualTo(413);
        TestServer.Response junk = post(SignedRequests.sign("what=ever", Instant.now().getEpochSecond(), FakeSlack.SIGNING_SECRET));
        assertThat(junk.status()).isEqualTo(400);
        // ssl_check arrives unsigned and is answered.
        HttpRequest.Builder b = server.request("/slack/events", null).header("Content-Type", "application/x-www-form-urlencoded");
        assertThat(TestServer.send(b.POST(HttpRequest.BodyPublishers.ofString("token=random&ssl_check=1"))).status()).isEqualTo(200);
    }

    @Test
    void in_socket_mode_without_a_signing_secret_slack_events_is_not_mounted() {
        server.close();
        Map<String, String> env = TestServer.env();
        env.put("SLACK_BOT_TOKEN", FakeSlack.BOT_TOKEN);
        env.put("SLACK_APP_TOKEN", "xapp-1-test");
        env.put("SLACK_API_URL", slack.apiUrl());
        server = TestServer.start(TestServer.config(TestServer.CONFIG.replace("%DB%", TestServer.h2Url(dir)), env));
        JsonNode asked = server.asked(TestServer.ALICE_BOT_KEY, TestServer.highAsk());
        String id = asked.path("id").asText();
        // Bolt falls back to a fixed placeholder secret when none is set: a click signed with it must not get in.
        TestServer.Response r = post(SignedRequests.sign(click("cs.approve", id, "U0ALICE"), Instant.now().getEpochSecond(), "---"));
        assertThat(r.status()).isIn(401, 404, 405);
        assertThat(server.get("/api/v1/approvals/" + id, TestServer.ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
    }
}
