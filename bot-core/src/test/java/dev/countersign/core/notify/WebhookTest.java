package dev.countersign.core.notify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.core.Countersign;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.audit.AuditRecord;
import dev.countersign.core.store.Json;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import dev.countersign.core.testing.WebhookReceiver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Commands.reject;
import static dev.countersign.core.testing.Engines.AGENT;
import static dev.countersign.core.testing.Engines.OTHER_AGENT;
import static dev.countersign.core.testing.Polling.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Step ⑨, webhooks: signed per Standard Webhooks, delivered from the durable outbox, retried under the same id.
 * One engine and one receiver for the class; each test posts to its own path.
 */
class WebhookTest {

    @TempDir
    static Path dir;

    static final String secret = "whsec_" + Base64.getEncoder().encodeToString(randomBytes(32));
    static Engines engines;
    static Countersign cs;
    static WebhookReceiver receiver;

    @BeforeAll
    static void start() {
        receiver = WebhookReceiver.start();
        engines = Engines.in(dir)
                .rules(Rules.rule("reads").when("action.type.startsWith(\"db.read\")").low(),
                        Rules.rule("transfer").when("action.type == \"payments.transfer\"").high().approvers("alice", "bob"))
                .webhookSecret(AGENT, secret);
        cs = engines.start();
    }

    @AfterAll
    static void stop() {
        engines.close();
        receiver.close();
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }

    /** Verifies a signature the way an agent would, per the Standard Webhooks spec, independently of our signer. */
    private static void assertSignedPerStandardWebhooks(WebhookReceiver.Received r) throws Exception {
        String id = r.header("webhook-id");
        String timestamp = r.header("webhook-timestamp");
        assertThat(id).isNotBlank();
        assertThat(timestamp).matches("\\d+");
        assertThat(Math.abs(Instant.now().getEpochSecond() - Long.parseLong(timestamp))).as("timestamp within 5 minutes").isLessThan(300);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring("whsec_".length())), "HmacSHA256"));
        String expected = Base64.getEncoder().encodeToString(mac.doFinal((id + "." + timestamp + "." + r.body()).getBytes(StandardCharsets.UTF_8)));
        // The header may carry several space-separated signatures; one must match.
        assertThat(List.of(r.header("webhook-signature").split(" "))).contains("v1," + expected);
    }

    private static List<AuditRecord> delivered(String approvalId) {
        return cs.audit().forApproval(approvalId).stream().filter(e -> e.kind().equals("webhook_delivered")).toList();
    }

    @Test
    void a_decided_approval_is_posted_once_to_the_callback_url_signed_per_standard_webhooks() throws Exception {
        Approval a = Asks.action("payments.transfer").param("amount", 700).callbackUrl(receiver.url("/hooks/countersign")).by(cs, AGENT);
        assertThat(a.callbackUrl()).isEqualTo(receiver.url("/hooks/countersign"));

        cs.decide(reject(a.id(), "bob", "duplicate invoice"));

        eventually(Duration.ofSeconds(10), () -> assertThat(delivered(a.id())).hasSize(1));
        assertThat(receiver.received("/hooks/countersign")).singleElement().satisfies(r -> {
            assertThat(r.method()).isEqualTo("POST");
            assertThat(r.path()).isEqualTo("/hooks/countersign");
            assertThat(r.header("content-type")).startsWith("application/json");
        });
        WebhookReceiver.Received r = receiver.received("/hooks/countersign").get(0);
        assertSignedPerStandardWebhooks(r);
        JsonNode body = Json.MAPPER.readTree(r.body());
        assertThat(body.path("id").asText()).isEqualTo(a.id());
        assertThat(body.path("status").asText()).isEqualTo("rejected");
        assertThat(body.path("decision").path("outcome").asText()).isEqualTo("rejected");
        assertThat(body.path("decision").path("by").path("id").asText()).isEqualTo("bob");
        assertThat(body.path("decision").path("by").path("channel").asText()).isEqualTo("cli");
        assertThat(body.path("decision").path("comment").asText()).isEqualTo("duplicate invoice");
        assertThat(body.path("action").path("type").asText()).isEqualTo("payments.transfer");
        assertThat(delivered(a.id()).get(0).detail()).contains(r.header("webhook-id")).contains("\"attempt\":1");
        assertThat(cs.audit().verify().intact()).isTrue();
    }

    @Test
    void a_low_risk_approval_decided_at_once_is_posted_too() throws Exception {
        Approval a = Asks.action("db.read.orders").callbackUrl(receiver.url("/low")).by(cs, AGENT);

        eventually(Duration.ofSeconds(10), () -> assertThat(delivered(a.id())).hasSize(1));
        assertThat(receiver.received("/low")).hasSize(1);
        WebhookReceiver.Received r = receiver.received("/low").get(0);
        assertSignedPerStandardWebhooks(r);
        JsonNode body = Json.MAPPER.readTree(r.body());
        assertThat(body.path("status").asText()).isEqualTo("approved");
        assertThat(body.path("decision").path("by").path("channel").asText()).isEqualTo("policy");
    }

    @Test
    void a_receiver_that_fails_gets_the_same_webhook_again_with_the_same_id() throws Exception {
        receiver.answering(500);
        Approval a = Asks.action("payments.transfer").param("amount", 700).callbackUrl(receiver.url("/retry")).by(cs, AGENT);

        cs.decide(approve(a.id(), "alice"));

        eventually(Duration.ofSeconds(5), () -> assertThat(receiver.received("/retry")).hasSize(1));
        assertThat(delivered(a.id())).isEmpty();
        // WebhookOutbox.BACKOFF: the first retry comes 5 s later; the poller looks every second.
        eventually(Duration.ofSeconds(12), () -> assertThat(delivered(a.id())).hasSize(1));
        List<WebhookReceiver.Received> got = receiver.received("/retry");
        assertThat(got).hasSize(2);
        assertThat(got.get(1).header("webhook-id")).isEqualTo(got.get(0).header("webhook-id"));
        assertThat(got.get(1).body()).isEqualTo(got.get(0).body());
        assertSignedPerStandardWebhooks(got.get(1));
        assertThat(delivered(a.id()).get(0).detail()).contains("\"attempt\":2").contains(got.get(0).header("webhook-id"));
    }

    @Test
    void a_callback_url_for_an_agent_without_a_webhook_secret_is_refused_naming_the_field() {
        Asks ask = Asks.action("payments.transfer").param("amount", 700).callbackUrl(receiver.url("/refused"));

        assertThatThrownBy(() -> ask.by(cs, OTHER_AGENT))
                .isInstanceOfSatisfying(InvalidInputException.class, e -> {
                    assertThat(e.field()).isEqualTo("callback_url");
                    assertThat(e.getMessage()).contains(OTHER_AGENT).contains("webhook_secret");
                });
        assertThat(cs.list(OTHER_AGENT, null, 10)).isEmpty();
        assertThat(receiver.received("/refused")).isEmpty();
    }

    @Test
    void a_callback_url_that_is_not_http_is_refused_naming_the_field() {
        assertThatThrownBy(() -> Asks.action("payments.transfer").callbackUrl("file:///etc/passwd").by(cs, AGENT))
                .isInstanceOfSatisfying(InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("callback_url"));
    }
}
