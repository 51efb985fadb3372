package dev.countersign.slack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Status;
import dev.countersign.core.store.Json;
import dev.countersign.core.testing.Asks;
import dev.countersign.slack.testing.Fixtures;
import dev.countersign.slack.testing.SignedRequests;
import dev.countersign.slack.testing.SlackHarness;
import org.java_websocket.WebSocket;
import org.java_websocket.handshake.ClientHandshake;
import org.java_websocket.server.WebSocketServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static dev.countersign.core.testing.Polling.eventually;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Socket Mode: Countersign connects to a local WebSocket server (what {@code apps.connections.open} on the fake
 * Slack points to) that speaks the frames of the fixtures: hello, then envelopes; the acks come back on it.
 */
class SlackSocketModeTest {
    @TempDir
    Path dir;
    SlackHarness h;
    FakeSocketMode ws;

    /** Slack's end of the WebSocket. */
    static final class FakeSocketMode extends WebSocketServer {
        final List<JsonNode> received = new CopyOnWriteArrayList<>();
        final CountDownLatch connected = new CountDownLatch(1);
        volatile WebSocket client;

        FakeSocketMode() {
            super(new InetSocketAddress("127.0.0.1", 0));
            setReuseAddr(true);
        }

        @Override
        public void onOpen(WebSocket conn, ClientHandshake handshake) {
            client = conn;
            conn.send(Fixtures.text("socket_mode_hello.json"));
            connected.countDown();
        }

        @Override
        public void onMessage(WebSocket conn, String message) {
            try {
                received.add(Json.MAPPER.readTree(message));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void onClose(WebSocket conn, int code, String reason, boolean remote) {
        }

        @Override
        public void onError(WebSocket conn, Exception ex) {
        }

        @Override
        public void onStart() {
        }

        JsonNode ackOf(String envelopeId) {
            return received.stream().filter(m -> envelopeId.equals(m.path("envelope_id").asText())).findFirst().orElse(null);
        }
    }

    @AfterEach
    void stop() throws Exception {
        if (h != null) h.close();
        if (ws != null) ws.stop(1000);
    }

    @Test
    void socket_mode_takes_a_click_and_answers_pending_over_the_websocket() throws Exception {
        ws = new FakeSocketMode();
        ws.start();
        eventually(Duration.ofSeconds(5), () -> assertThat(ws.getPort()).isPositive());
        h = new SlackHarness(dir).appToken("xapp-1-test");
        h.slack.socketModeUrl("ws://127.0.0.1:" + ws.getPort() + "/");
        h.start();
        assertThat(ws.connected.await(20, TimeUnit.SECONDS)).as("the app connected to the WebSocket").isTrue();
        assertThat(h.slack.calls("apps.connections.open")).allSatisfy(c -> assertThat(c.authorization()).isEqualTo("Bearer xapp-1-test"));

        Approval a = h.ask(Asks.action("payments.transfer", "Pay invoice INV-2291 to Acme Corp").param("amount", 12500));
        eventually(Duration.ofSeconds(10), () -> assertThat(h.slack.calls("chat.postMessage")).isNotEmpty());

        // /pending as a slash_commands envelope: the list comes back in the ack's payload.
        ObjectNode command = (ObjectNode) Fixtures.json("socket_mode_slash_commands_envelope.json");
        command.put("envelope_id", "env-command");
        ((ObjectNode) command.get("payload")).put("command", "/pending").put("user_id", "U0ALICE").put("text", "");
        ws.client.send(command.toString());
        eventually(Duration.ofSeconds(10), () -> assertThat(ws.ackOf("env-command")).isNotNull());
        JsonNode ack = ws.ackOf("env-command");
        assertThat(ack.path("payload").path("response_type").asText()).isEqualTo("ephemeral");
        assertThat(ack.path("payload").path("blocks").toString()).contains(a.id()).contains("cs.approve");

        // A click as an interactive envelope: acked, and decided.
        ObjectNode click = (ObjectNode) Fixtures.json("socket_mode_interactive_envelope_block_actions.json");
        click.put("envelope_id", "env-click");
        click.set("payload", SignedRequests.payloadOf(SignedRequests.blockAction("cs.approve", a.id(), "U0BOB",
                SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("bob"), false)));
        ws.client.send(click.toString());
        eventually(Duration.ofSeconds(10), () -> assertThat(ws.ackOf("env-click")).isNotNull());
        Approval decided = h.engine().await(a.id(), Duration.ofSeconds(10)).join().orElseThrow();
        assertThat(decided.status()).isEqualTo(Status.APPROVED);
        assertThat(decided.decision().by().id()).isEqualTo("bob");
        assertThat(decided.decision().by().channel()).isEqualTo(DecidedVia.SLACK);
        eventually(Duration.ofSeconds(10), () -> assertThat(h.slack.calls("chat.update")).isNotEmpty());
    }
}
