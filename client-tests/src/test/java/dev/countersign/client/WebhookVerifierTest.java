package dev.countersign.client;

import dev.countersign.core.testing.Polling;
import dev.countersign.core.testing.WebhookReceiver;
import dev.countersign.server.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.UUID;

import static dev.countersign.client.ClientTestServer.params;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The verifier on a real webhook sent by the server after a decision, and on forged, old and replayed copies of it. */
class WebhookVerifierTest {
    @TempDir
    Path dir;

    private static void refused(Runnable verify, WebhookVerificationException.Reason reason) {
        assertThatThrownBy(verify::run).isInstanceOfSatisfying(WebhookVerificationException.class, e -> assertThat(e.reason()).isEqualTo(reason));
    }

    @Test
    void a_real_webhook_is_accepted_once_and_forged_old_future_and_replayed_ones_are_refused() throws Exception {
        try (TestServer server = ClientTestServer.start(dir); WebhookReceiver receiver = WebhookReceiver.start()) {
            Countersign cs = ClientTestServer.client(server);
            ApprovalHandle h = cs.requestApproval(Action.of("payments.transfer", "Pay with a callback " + UUID.randomUUID(), params("amount", 20000)),
                    Context.builder().callbackUrl(receiver.url("/hook")).build());
            server.decide(h.id(), "reject", "alice", "wrong account");
            Polling.eventually(Duration.ofSeconds(20), () -> assertThat(receiver.received("/hook")).isNotEmpty());
            WebhookReceiver.Received hook = receiver.received("/hook").get(0);
            String id = hook.header("webhook-id");
            String ts = hook.header("webhook-timestamp");
            String sig = hook.header("webhook-signature");

            // forged: another secret, an altered body, garbage
            WebhookVerifier wrongSecret = WebhookVerifier.of("whsec_" + Base64.getEncoder().encodeToString("another secret of 32 bytes......".getBytes()));
            refused(() -> wrongSecret.verify(id, ts, sig, hook.body()), WebhookVerificationException.Reason.BAD_SIGNATURE);
            WebhookVerifier verifier = WebhookVerifier.of(TestServer.WEBHOOK_SECRET);
            refused(() -> verifier.verify(id, ts, sig, hook.body().replace("rejected", "approved")), WebhookVerificationException.Reason.BAD_SIGNATURE);
            refused(() -> verifier.verify(id, ts, "v1,bm90IGEgc2lnbmF0dXJl", hook.body()), WebhookVerificationException.Reason.BAD_SIGNATURE);
            refused(() -> verifier.verify(null, ts, sig, hook.body()), WebhookVerificationException.Reason.MISSING_HEADER);
            // another id with the same signature: the id is signed
            refused(() -> verifier.verify("msg_other", ts, sig, hook.body()), WebhookVerificationException.Reason.BAD_SIGNATURE);

            // old, and from the future: the same real webhook seen from a clock 10 minutes off
            Instant sent = Instant.ofEpochSecond(Long.parseLong(ts));
            WebhookVerifier later = WebhookVerifier.builder(TestServer.WEBHOOK_SECRET).clock(Clock.fixed(sent.plusSeconds(600), ZoneOffset.UTC)).build();
            refused(() -> later.verify(id, ts, sig, hook.body()), WebhookVerificationException.Reason.TIMESTAMP_OUT_OF_RANGE);
            WebhookVerifier earlier = WebhookVerifier.builder(TestServer.WEBHOOK_SECRET).clock(Clock.fixed(sent.minusSeconds(600), ZoneOffset.UTC)).build();
            refused(() -> earlier.verify(id, ts, sig, hook.body()), WebhookVerificationException.Reason.TIMESTAMP_OUT_OF_RANGE);

            // the real one: accepted, the approval inside, then refused as a replay
            var approval = verifier.verify(hook.headers().entrySet().stream().collect(java.util.stream.Collectors.toMap(
                    java.util.Map.Entry::getKey, e -> java.util.List.of(e.getValue()))), hook.body());
            assertThat(approval.path("id").asText()).isEqualTo(h.id());
            assertThat(Outcome.of(approval).status()).isEqualTo(Status.REJECTED);
            assertThat(Outcome.of(approval).comment()).isEqualTo("wrong account");
            refused(() -> verifier.verify(id, ts, sig, hook.body()), WebhookVerificationException.Reason.REPLAYED);
        }
    }

    @Test
    void the_replay_memory_is_bounded_and_forgets_ids_whose_timestamp_left_the_window() {
        String secret = TestServer.WEBHOOK_SECRET;
        dev.countersign.core.notify.WebhookSigner signer = new dev.countersign.core.notify.WebhookSigner(secret);
        Instant now = Instant.parse("2026-11-25T12:00:00Z");
        WebhookVerifier v = WebhookVerifier.builder(secret).clock(Clock.fixed(now, ZoneOffset.UTC)).maxRemembered(2).build();
        long t = now.getEpochSecond();
        for (String id : new String[] {"msg_1", "msg_2", "msg_3"}) v.verify(id, Long.toString(t), signer.sign(id, t, "{}"), "{}");
        refused(() -> v.verify("msg_3", Long.toString(t), signer.sign("msg_3", t, "{}"), "{}"), WebhookVerificationException.Reason.REPLAYED);
        // msg_1 was pushed out of the bounded memory: accepted again (the documented trade-off of a bounded memory)
        v.verify("msg_1", Long.toString(t), signer.sign("msg_1", t, "{}"), "{}");
    }
}
