package dev.countersign.client;

import dev.countersign.server.TestServer;
import dev.countersign.server.config.ServerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.countersign.client.ClientTestServer.params;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Faults between the client and a real server: lost answers, 5xx, refusals, a server restart during a wait. */
class RetryAndRestartTest {
    @TempDir
    Path dir;

    private static Action payment(String summary) {
        return Action.of("payments.transfer", summary, params("amount", 12500, "currency", "EUR"));
    }

    private static Countersign via(FlakyProxy proxy) {
        return Countersign.builder().url(proxy.url()).agentKey(TestServer.ALICE_BOT_KEY).initialBackoff(Duration.ofMillis(20)).build();
    }

    @Test
    void an_ask_whose_answer_is_lost_is_retried_with_the_same_idempotency_key_and_makes_one_approval() throws Exception {
        try (TestServer server = ClientTestServer.start(dir); FlakyProxy proxy = new FlakyProxy(server.url(""), FlakyProxy.Fault.DROP, 2)) {
            String summary = "Pay once " + UUID.randomUUID();
            ApprovalHandle h = via(proxy).requestApproval(payment(summary), Context.none());

            assertThat(proxy.asks()).hasSize(3);
            assertThat(proxy.asks()).allSatisfy(s -> assertThat(s.upstreamStatus()).isIn(200, 201));
            assertThat(proxy.asks().stream().map(FlakyProxy.Seen::idempotencyKey).distinct()).hasSize(1).doesNotContainNull();
            assertThat(proxy.asks().stream().map(FlakyProxy.Seen::body).distinct()).hasSize(1);
            assertThat(ClientTestServer.count(server, summary)).isEqualTo(1);
            assertThat(h.id()).isEqualTo(ClientTestServer.find(server, summary).path("id").asText());
        }
    }

    @Test
    void an_async_ask_whose_answer_is_lost_is_retried_with_the_same_idempotency_key_and_makes_one_approval() throws Exception {
        try (TestServer server = ClientTestServer.start(dir); FlakyProxy proxy = new FlakyProxy(server.url(""), FlakyProxy.Fault.DROP, 2)) {
            String summary = "Pay once async " + UUID.randomUUID();
            ApprovalHandle h = via(proxy).requestApprovalAsync(payment(summary), Context.none()).get(30, TimeUnit.SECONDS);

            assertThat(proxy.asks()).hasSize(3);
            assertThat(proxy.asks().stream().map(FlakyProxy.Seen::idempotencyKey).distinct()).hasSize(1).doesNotContainNull();
            assertThat(proxy.asks().stream().map(FlakyProxy.Seen::body).distinct()).hasSize(1);
            assertThat(ClientTestServer.count(server, summary)).isEqualTo(1);
            assertThat(h.id()).isEqualTo(ClientTestServer.find(server, summary).path("id").asText());
        }
    }

    @Test
    void an_async_ask_fails_like_the_blocking_one_on_a_4xx_at_once_and_on_a_persisting_5xx_after_max_retries() throws Exception {
        try (TestServer server = ClientTestServer.start(dir); FlakyProxy proxy = new FlakyProxy(server.url(""), FlakyProxy.Fault.DROP, 0)) {
            CompletableFuture<ApprovalHandle> f = via(proxy).requestApprovalAsync(Action.of("db.read.x", "x".repeat(3001)), Context.none());
            assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(CountersignException.class)
                    .satisfies(e -> assertThat(((CountersignException) e.getCause()).httpStatus()).isEqualTo(400));
            assertThat(proxy.asks()).hasSize(1);
        }
        try (TestServer server = ClientTestServer.start(dir); FlakyProxy proxy = new FlakyProxy(server.url(""), FlakyProxy.Fault.UNAVAILABLE, 100)) {
            Countersign cs = Countersign.builder().url(proxy.url()).agentKey(TestServer.ALICE_BOT_KEY).maxRetries(2).initialBackoff(Duration.ofMillis(10)).build();
            CompletableFuture<ApprovalHandle> f = cs.requestApprovalAsync(Action.of("db.read.x", "read " + UUID.randomUUID()), Context.none());
            assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(CountersignException.class)
                    .satisfies(e -> {
                        CountersignException ce = (CountersignException) e.getCause();
                        assertThat(ce.httpStatus()).isEqualTo(503);
                        assertThat(ce.code()).isEqualTo("unavailable");
                    });
            assertThat(proxy.asks()).hasSize(3);
        }
    }

    @Test
    void a_5xx_answer_is_retried_with_the_same_key_and_two_asks_get_two_keys() throws Exception {
        try (TestServer server = ClientTestServer.start(dir); FlakyProxy proxy = new FlakyProxy(server.url(""), FlakyProxy.Fault.UNAVAILABLE, 1)) {
            Countersign cs = via(proxy);
            String summary = "Pay after a 503 " + UUID.randomUUID();
            cs.requestApproval(payment(summary), Context.none());
            cs.requestApproval(payment(summary), Context.none()); // a second ask is a second approval
            assertThat(proxy.asks()).hasSize(3);
            assertThat(proxy.asks().get(0).idempotencyKey()).isEqualTo(proxy.asks().get(1).idempotencyKey());
            assertThat(proxy.asks().get(2).idempotencyKey()).isNotEqualTo(proxy.asks().get(0).idempotencyKey());
            assertThat(ClientTestServer.count(server, summary)).isEqualTo(2);
        }
    }

    @Test
    void a_4xx_refusal_is_not_retried() throws Exception {
        try (TestServer server = ClientTestServer.start(dir); FlakyProxy proxy = new FlakyProxy(server.url(""), FlakyProxy.Fault.DROP, 0)) {
            assertThatThrownBy(() -> via(proxy).requestApproval(Action.of("db.read.x", "x".repeat(3001)), Context.none()))
                    .isInstanceOfSatisfying(CountersignException.class, e -> assertThat(e.httpStatus()).isEqualTo(400));
            assertThat(proxy.asks()).hasSize(1);
        }
    }

    @Test
    void a_5xx_that_persists_ends_in_an_error_after_max_retries_and_nothing_runs() throws Exception {
        try (TestServer server = ClientTestServer.start(dir); FlakyProxy proxy = new FlakyProxy(server.url(""), FlakyProxy.Fault.UNAVAILABLE, 100)) {
            Countersign cs = Countersign.builder().url(proxy.url()).agentKey(TestServer.ALICE_BOT_KEY).maxRetries(2).initialBackoff(Duration.ofMillis(10)).build();
            AtomicInteger ran = new AtomicInteger();
            assertThatThrownBy(() -> cs.executeWithApproval(Action.of("db.read.x", "read " + UUID.randomUUID()), Context.none(), () -> ran.incrementAndGet()))
                    .isInstanceOfSatisfying(CountersignException.class, e -> {
                        assertThat(e.httpStatus()).isEqualTo(503);
                        assertThat(e.code()).isEqualTo("unavailable");
                    });
            assertThat(proxy.asks()).hasSize(3);
            assertThat(ran).hasValue(0);
        }
    }

    @Test
    void a_wait_survives_a_server_restart_and_gets_the_decision_made_after_it() throws Exception {
        int port = ClientTestServer.freePort();
        ServerConfig config = ClientTestServer.config(dir, port);
        TestServer first = TestServer.start(config);
        TestServer second = null;
        try {
            Countersign cs = ClientTestServer.client(first);
            String summary = "Pay across a restart " + UUID.randomUUID();
            AtomicInteger ran = new AtomicInteger();
            CompletableFuture<Object> run = CompletableFuture.supplyAsync(() -> {
                try {
                    return cs.executeWithApproval(payment(summary), Context.none(), Duration.ofMinutes(2), () -> "paid " + ran.incrementAndGet());
                } catch (Exception e) {
                    return e;
                }
            });
            String id = ClientTestServer.find(first, summary).path("id").asText();
            Thread.sleep(300); // the long-poll is held
            first.close();
            first = null;
            Thread.sleep(1500); // the client meets refused connections while the server is down
            assertThat(run).isNotDone();

            second = TestServer.start(config);
            assertThat(second.port()).isEqualTo(port);
            assertThat(second.decide(id, "approve", "alice", "after the restart").status()).isEqualTo(200);

            assertThat(run.get(30, TimeUnit.SECONDS)).isEqualTo("paid 1");
            assertThat(ClientTestServer.count(second, summary)).isEqualTo(1);
        } finally {
            if (first != null) first.close();
            if (second != null) second.close();
        }
    }
}
