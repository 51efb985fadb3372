package dev.countersign.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.server.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.countersign.client.ClientTestServer.find;
import static dev.countersign.client.ClientTestServer.params;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The Java client against a real Countersign server (H2, Quartz, HTTP on a free port); decisions through the operator API. */
class JavaClientTest {
    @TempDir
    static Path dir;
    static TestServer server;
    static Countersign cs;

    @BeforeAll
    static void start() {
        server = ClientTestServer.start(dir);
        cs = ClientTestServer.client(server);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static String unique(String text) {
        return text + " #" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static Action payment(String summary) {
        return Action.of("payments.transfer", summary, params("amount", 12500, "currency", "EUR", "to", "Acme Corp"));
    }

    @Test
    void a_low_risk_action_runs_at_once_approved_by_policy() throws Exception {
        AtomicInteger ran = new AtomicInteger();
        long t0 = System.nanoTime();
        String result = cs.executeWithApproval(Action.of("db.read.customers", unique("Read customers"), params("limit", 20)), Context.none(),
                () -> "rows:" + ran.incrementAndGet());
        assertThat(result).isEqualTo("rows:1");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));

        ApprovalHandle h = cs.requestApproval(Action.of("db.read.orders", unique("Read orders")), Context.none());
        assertThat(h.lastSeen().granted()).isTrue();
        assertThat(h.lastSeen().decidedVia()).isEqualTo("policy");
        assertThat(h.lastSeen().riskLevel()).isEqualTo(RiskLevel.LOW);
    }

    @Test
    void a_high_risk_action_waits_for_a_person_and_runs_only_after_the_approval() throws Exception {
        String summary = unique("Pay invoice INV-2291");
        AtomicInteger ran = new AtomicInteger();
        CompletableFuture<String> run = CompletableFuture.supplyAsync(() -> {
            try {
                return cs.executeWithApproval(payment(summary), Context.builder().reason("invoice due Friday").runId("run-42").build(), () -> {
                    ran.incrementAndGet();
                    return "paid";
                });
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        JsonNode a = find(server, summary);
        assertThat(a.path("status").asText()).isEqualTo("pending");
        assertThat(a.path("context").path("reason").asText()).isEqualTo("invoice due Friday");
        assertThat(a.path("agent").path("run_id").asText()).isEqualTo("run-42");
        Thread.sleep(500);
        assertThat(ran).hasValue(0);
        assertThat(run).isNotDone();

        assertThat(server.decide(a.path("id").asText(), "approve", "alice", "checked the invoice").status()).isEqualTo(200);

        assertThat(run.get(15, TimeUnit.SECONDS)).isEqualTo("paid");
        assertThat(ran).hasValue(1);
    }

    @Test
    void a_rejection_throws_with_who_and_the_comment_and_the_action_never_runs() throws Exception {
        String summary = unique("Pay invoice INV-7");
        AtomicInteger ran = new AtomicInteger();
        CompletableFuture<Object> run = CompletableFuture.supplyAsync(() -> {
            try {
                return cs.executeWithApproval(payment(summary), Context.none(), () -> ran.incrementAndGet());
            } catch (Exception e) {
                return e;
            }
        });
        String id = find(server, summary).path("id").asText();
        server.decide(id, "reject", "bob", "use the sandbox account");

        Object thrown = run.get(15, TimeUnit.SECONDS);
        assertThat(thrown).isInstanceOf(ApprovalRejectedException.class);
        ApprovalRejectedException rejected = (ApprovalRejectedException) thrown;
        assertThat(rejected.decidedBy()).isEqualTo("bob");
        assertThat(rejected.comment()).isEqualTo("use the sandbox account");
        assertThat(rejected.outcome().status()).isEqualTo(Status.REJECTED);
        assertThat(rejected.outcome().id()).isEqualTo(id);
        assertThat(rejected).isInstanceOf(ApprovalDeniedException.class).hasMessageContaining("bob").hasMessageContaining("use the sandbox account");
        assertThat(ran).hasValue(0);
    }

    @Test
    void an_expired_request_throws_expired_and_the_action_never_runs() {
        AtomicInteger ran = new AtomicInteger();
        assertThatThrownBy(() -> cs.executeWithApproval(Action.of("test.expire", unique("Expires in 2 s")), Context.none(), () -> ran.incrementAndGet()))
                .isInstanceOfSatisfying(ApprovalExpiredException.class, e -> {
                    assertThat(e.outcome().status()).isEqualTo(Status.EXPIRED);
                    assertThat(e.outcome().decidedVia()).isEqualTo("timer");
                });
        assertThat(ran).hasValue(0);
    }

    @Test
    void a_medium_risk_action_with_a_veto_window_runs_only_after_the_window() throws Exception {
        long t0 = System.nanoTime();
        AtomicInteger ran = new AtomicInteger();
        cs.executeWithApproval(Action.of("email.send", unique("E-mail the report"), params("to", "sales@example.com")), Context.none(), () -> ran.incrementAndGet());
        assertThat(ran).hasValue(1);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(1900));
    }

    @Test
    void a_veto_during_the_window_stops_a_medium_risk_action() throws Exception {
        String summary = unique("E-mail the draft");
        AtomicInteger ran = new AtomicInteger();
        CompletableFuture<Object> run = CompletableFuture.supplyAsync(() -> {
            try {
                return cs.executeWithApproval(Action.of("email.send", summary), Context.none(), () -> ran.incrementAndGet());
            } catch (Exception e) {
                return e;
            }
        });
        server.decide(find(server, summary).path("id").asText(), "reject", "alice", "not to customers");
        assertThat(run.get(15, TimeUnit.SECONDS)).isInstanceOf(ApprovalRejectedException.class);
        assertThat(ran).hasValue(0);
    }

    @Test
    void a_request_withdrawn_while_waiting_throws_cancelled_and_never_runs() throws Exception {
        String summary = unique("Pay invoice INV-8");
        AtomicInteger ran = new AtomicInteger();
        CompletableFuture<Object> run = CompletableFuture.supplyAsync(() -> {
            try {
                return cs.executeWithApproval(payment(summary), Context.none(), () -> ran.incrementAndGet());
            } catch (Exception e) {
                return e;
            }
        });
        String id = find(server, summary).path("id").asText();
        Outcome cancelled = cs.approval(id).cancel("changed my mind");
        assertThat(cancelled.status()).isEqualTo(Status.CANCELLED);

        assertThat(run.get(15, TimeUnit.SECONDS)).isInstanceOf(ApprovalCancelledException.class);
        assertThat(ran).hasValue(0);
        // a later decision cannot approve it
        assertThat(server.decide(id, "approve", "alice", null).status()).isEqualTo(409);
    }

    @Test
    void cancel_after_a_decision_reports_the_decision_instead() {
        ApprovalHandle h = cs.requestApproval(payment(unique("Pay invoice INV-9")), Context.none());
        server.decide(h.id(), "approve", "alice", "fine");
        Outcome o = h.cancel();
        assertThat(o.status()).isEqualTo(Status.APPROVED);
        assertThat(o.decidedBy()).isEqualTo("alice");
    }

    @Test
    void a_wait_that_ends_while_pending_withdraws_the_request_and_never_runs() {
        String summary = unique("Pay invoice INV-10");
        AtomicInteger ran = new AtomicInteger();
        assertThatThrownBy(() -> cs.executeWithApproval(payment(summary), Context.none(), Duration.ofSeconds(1), () -> ran.incrementAndGet()))
                .isInstanceOfSatisfying(ApprovalTimeoutException.class, e -> assertThat(e.outcome().status()).isEqualTo(Status.CANCELLED));
        assertThat(ran).hasValue(0);
        assertThat(find(server, summary).path("status").asText()).isEqualTo("cancelled");
    }

    @Test
    void await_returns_pending_when_its_time_is_up_and_the_decision_once_made() {
        ApprovalHandle h = cs.requestApproval(payment(unique("Pay invoice INV-11")), Context.none());
        assertThat(h.id()).startsWith("apr_");
        assertThat(h.url()).isEqualTo(server.url("/web/approvals/" + h.id()));
        long t0 = System.nanoTime();
        assertThat(h.await(Duration.ofMillis(1500)).status()).isEqualTo(Status.PENDING);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isBetween(Duration.ofMillis(900), Duration.ofSeconds(10));
        assertThat(h.status()).isEqualTo(Status.PENDING);

        CompletableFuture<Outcome> f = h.awaitAsync(Duration.ofMinutes(5));
        server.decide(h.id(), "approve", "bob", "ok");
        Outcome o = f.join();
        assertThat(o.granted()).isTrue();
        assertThat(o.decidedBy()).isEqualTo("bob");
        assertThat(o.comment()).isEqualTo("ok");
        assertThat(o.riskLevel()).isEqualTo(RiskLevel.HIGH);
        assertThat(o.json().path("risk").path("rule").asText()).isEqualTo("large-payment");
    }

    @Test
    void the_context_reaches_the_server_as_the_api_names_it() {
        ApprovalHandle h = cs.requestApproval(Action.of("ops.restart", unique("Restart the cache")),
                Context.builder().reason("stale entries").impact("30 s of cold cache").onBehalfOf("dave").runId("r-1")
                        .link("runbook", "https://example.com/runbook").riskHint(RiskLevel.HIGH, "touches production")
                        .timeout(Duration.ofMinutes(10)).build());
        JsonNode a = h.lastSeen().json();
        assertThat(a.path("requested_for").asText()).isEqualTo("dave");
        assertThat(a.path("context").path("impact").asText()).isEqualTo("30 s of cold cache");
        assertThat(a.path("context").path("links").get(0).path("url").asText()).isEqualTo("https://example.com/runbook");
        assertThat(a.path("risk").path("level").asText()).isEqualTo("high");
        Duration expiry = Duration.between(java.time.Instant.parse(a.path("created_at").asText()), h.lastSeen().expiresAt());
        assertThat(expiry).isEqualTo(Duration.ofMinutes(10));
        h.cancel();
    }

    @Test
    void a_plan_review_asks_once_for_all_steps_and_a_rejection_stops_the_plan() throws Exception {
        String summary = unique("Migrate the billing DB");
        CompletableFuture<Outcome> review = CompletableFuture.supplyAsync(() ->
                cs.reviewPlan(summary, List.of("snapshot the DB", "run migration 42", "switch traffic"), Context.builder().reason("ticket OPS-12").build()));
        JsonNode a = find(server, summary);
        assertThat(a.path("action").path("type").asText()).isEqualTo("plan.review");
        assertThat(a.path("action").path("params").path("steps")).hasSize(3);
        assertThat(a.path("risk").path("rule").asText()).isEqualTo("plan-review");
        server.decide(a.path("id").asText(), "approve", "alice", "go");
        assertThat(review.get(15, TimeUnit.SECONDS).granted()).isTrue();

        String second = unique("Drop old tables");
        CompletableFuture<Object> rejected = CompletableFuture.supplyAsync(() -> {
            try {
                return cs.reviewPlan(second, List.of("drop t1"), Context.none());
            } catch (RuntimeException e) {
                return e;
            }
        });
        server.decide(find(server, second).path("id").asText(), "reject", "alice", "keep them");
        assertThat(rejected.get(15, TimeUnit.SECONDS)).isInstanceOfSatisfying(ApprovalRejectedException.class,
                e -> assertThat(e.comment()).isEqualTo("keep them"));
    }

    @Test
    void a_bad_key_is_a_401_error_naming_the_key_variable() {
        Countersign bad = Countersign.builder().url(server.url("")).agentKey("not-a-key").build();
        assertThatThrownBy(() -> bad.requestApproval(Action.of("db.read.x", "read"), Context.none()))
                .isInstanceOfSatisfying(CountersignException.class, e -> {
                    assertThat(e.httpStatus()).isEqualTo(401);
                    assertThat(e.code()).isEqualTo("invalid_key");
                    assertThat(e.getMessage()).contains("COUNTERSIGN_AGENT_KEY");
                });
    }

    @Test
    void a_refused_request_names_the_field_and_the_action_never_runs() {
        AtomicInteger ran = new AtomicInteger();
        Countersign other = Countersign.builder().url(server.url("")).agentKey(TestServer.OTHER_BOT_KEY).build();
        assertThatThrownBy(() -> other.executeWithApproval(Action.of("db.read.x", "read"),
                Context.builder().callbackUrl("http://127.0.0.1:9/hook").build(), () -> ran.incrementAndGet()))
                .isInstanceOfSatisfying(CountersignException.class, e -> {
                    assertThat(e.httpStatus()).isEqualTo(400);
                    assertThat(e.field()).isEqualTo("callback_url");
                    assertThat(e.getMessage()).contains("callback_url");
                });
        assertThatThrownBy(() -> cs.requestApproval(Action.of("db.read.x", "x".repeat(3001)), Context.none()))
                .isInstanceOfSatisfying(CountersignException.class, e -> assertThat(e.field()).isEqualTo("action.summary"));
        assertThat(ran).hasValue(0);
    }

    @Test
    void bad_input_is_refused_before_sending_naming_the_field() {
        assertThatThrownBy(() -> Action.of("payments transfer", "x", null)).hasMessageContaining("action.type");
        assertThatThrownBy(() -> Action.of("payments.transfer", " ", null)).hasMessageContaining("action.summary");
        assertThatThrownBy(() -> Context.builder().link("runbook", "javascript:alert(1)")).hasMessageContaining("context.links[].url");
        assertThatThrownBy(() -> Countersign.builder().url("localhost:8080").agentKey("k").build()).hasMessageContaining("url");
        assertThatThrownBy(() -> Countersign.fromEnvironment(java.util.Map.of("COUNTERSIGN_URL", server.url(""))))
                .isInstanceOfSatisfying(CountersignException.class, e -> assertThat(e.field()).isEqualTo("COUNTERSIGN_AGENT_KEY"));
    }

    @Test
    void an_unreachable_server_is_a_clear_error_after_the_retries_and_nothing_runs() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Countersign nowhere = Countersign.builder().url("http://127.0.0.1:" + port).agentKey("k").maxRetries(2).initialBackoff(Duration.ofMillis(10)).build();
        AtomicInteger ran = new AtomicInteger();
        assertThatThrownBy(() -> nowhere.executeWithApproval(Action.of("db.read.x", "read"), Context.none(), () -> ran.incrementAndGet()))
                .isInstanceOfSatisfying(CountersignException.class, e -> {
                    assertThat(e.code()).isEqualTo("unreachable");
                    assertThat(e.httpStatus()).isZero();
                    assertThat(e.getMessage()).contains("cannot reach Countersign at http://127.0.0.1:" + port).contains("3 attempts");
                });
        assertThat(ran).hasValue(0);
    }

    @Test
    void from_environment_reads_the_url_and_the_agent_key() {
        Countersign env = Countersign.fromEnvironment(java.util.Map.of("COUNTERSIGN_URL", server.url("/"), "COUNTERSIGN_AGENT_KEY", TestServer.ALICE_BOT_KEY));
        assertThat(env.url()).isEqualTo(server.url(""));
        assertThat(env.requestApproval(Action.of("db.read.x", unique("read")), Context.none()).lastSeen().granted()).isTrue();
        assertThat(Countersign.fromEnvironment(java.util.Map.of("COUNTERSIGN_AGENT_KEY", "k")).url()).isEqualTo("http://localhost:8080");
    }
}
