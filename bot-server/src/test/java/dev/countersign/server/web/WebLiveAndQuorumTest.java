package dev.countersign.server.web;

import dev.countersign.server.TestServer;
import dev.countersign.server.TestServer.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.countersign.server.TestServer.ALICE_BOT_KEY;
import static dev.countersign.server.web.WebClient.form;
import static org.assertj.core.api.Assertions.assertThat;

/** The live-update stream as a page sees it, and a quorum decided on the pages. */
class WebLiveAndQuorumTest {
    @TempDir
    static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() {
        String yaml = TestServer.CONFIG.replace("%DB%", TestServer.h2Url(dir)).replace("admins: [erin]", """
                  - name: two-keys
                    when: action.type == "vault.open"
                    risk: high
                    approvers: [group:finance]
                    quorum: 2
                admins: [erin]""");
        server = TestServer.start(TestServer.config(yaml, TestServer.env()));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void a_decision_from_another_channel_reaches_an_open_page_as_an_event() throws Exception {
        WebClient alice = new WebClient(server.url("")).signInDev("alice");
        String id = server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest events = HttpRequest.newBuilder(URI.create(server.url("/web/events"))).header("Cookie", alice.cookie())
                .header("Accept", "text/event-stream").build();
        HttpResponse<Stream<String>> stream = http.sendAsync(events, HttpResponse.BodyHandlers.ofLines()).get(10, TimeUnit.SECONDS);
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        CompletableFuture.runAsync(() -> stream.body().forEach(lines::add));
        try {
            assertThat(lines.poll(10, TimeUnit.SECONDS)).as("the stream opens with a comment").startsWith(":");

            Response r = server.decide(id, "reject", "bob", "wrong account");
            assertThat(r.status()).isEqualTo(200);

            String data = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (data == null && System.nanoTime() < deadline) {
                String line = lines.poll(1, TimeUnit.SECONDS);
                if (line != null && line.startsWith("data:") && line.contains(id)) data = line;
            }
            assertThat(data).as("an event for the decided approval").isNotNull().contains("\"status\":\"rejected\"").doesNotContain("wrong account");
            assertThat(alice.get("/web/live/approvals/" + id).body()).contains("Rejected by Bob Osei (cli) at").contains("wrong account");
        } finally {
            stream.body().close();
        }
    }

    @Test
    void a_quorum_counts_each_person_once_on_the_pages() throws IOException {
        String id = server.asked(ALICE_BOT_KEY, TestServer.ask("vault.open", "Open the vault")).path("id").asText();
        WebClient alice = new WebClient(server.url("")).signInDev("alice");
        WebClient bob = new WebClient(server.url("")).signInDev("bob");

        alice.get("/web/approvals/" + id);
        assertThat(alice.post("/web/approvals/" + id + "/decide", form("verdict", "approve", "csrf", alice.csrf())).status()).isEqualTo(303);
        Response afterOne = alice.get("/web/approvals/" + id);
        assertThat(afterOne.body()).contains("needs <strong>2</strong> approvals (1 so far)").contains("You approved. Waiting for the other approvals.")
                .doesNotContain("value=\"approve\"");
        assertThat(server.get("/api/v1/approvals/" + id, ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");

        bob.get("/web/approvals/" + id);
        assertThat(bob.post("/web/approvals/" + id + "/decide", form("verdict", "approve", "comment", "second key", "csrf", bob.csrf())).status()).isEqualTo(303);
        assertThat(server.get("/api/v1/approvals/" + id, ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("approved");
        assertThat(bob.get("/web/approvals/" + id).body()).contains("Approved by Bob Osei (web) at");
    }
}
