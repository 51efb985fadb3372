package dev.countersign.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.server.Main;
import dev.countersign.server.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.countersign.server.TestServer.ALICE_BOT_KEY;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code countersign gate} in process against a real server: each exit code, its output, its errors. */
class GateCommandTest {
    private static final Pattern ID = Pattern.compile("approval (apr_[A-Za-z0-9_\\-]+)");

    @RegisterExtension
    static final TestServer server = TestServer.perClass();

    /** A gate run in the background: its output so far, and its exit code once done. */
    static final class Gate {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final CompletableFuture<Integer> exit;

        Gate(String... args) {
            CommandLine cl = Main.commandLine().setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
            List<String> all = new ArrayList<>(List.of("gate"));
            all.addAll(List.of(args));
            exit = CompletableFuture.supplyAsync(() -> cl.execute(all.toArray(String[]::new)));
        }

        /** The approval id from the first line, waiting up to 10 s for it. */
        String id() throws InterruptedException {
            for (int i = 0; i < 200; i++) {
                Matcher m = ID.matcher(out.toString());
                if (m.find()) return m.group(1);
                if (exit.isDone()) break;
                Thread.sleep(50);
            }
            throw new AssertionError("no approval id printed; out: " + out + " err: " + err);
        }

        int exitCode() throws Exception {
            return exit.get(30, TimeUnit.SECONDS);
        }
    }

    private static Gate gate(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--url", server.url(""), "--key", ALICE_BOT_KEY));
        return new Gate(all.toArray(String[]::new));
    }

    private static String deploy() {
        return "Deploy v1.4.2 #" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Test
    void approved_exits_0_after_printing_the_link_and_who_approved() throws Exception {
        Gate g = gate("--type", "payments.transfer", "--summary", deploy(), "--param", "amount=20000", "--param", "version=1.4.2",
                "--reason", "release train", "--run-id", "gh-123", "--link", "pipeline=https://ci.example.com/run/123");
        String id = g.id();
        assertThat(g.out.toString()).contains(server.url("/web/approvals/" + id)).contains("high risk, rule large-payment");
        Thread.sleep(300);
        assertThat(g.exit).isNotDone();
        JsonNode a = server.get("/api/v1/approvals/" + id, ALICE_BOT_KEY).json();
        assertThat(a.path("action").path("params").path("amount").isNumber()).isTrue();
        assertThat(a.path("action").path("params").path("version").asText()).isEqualTo("1.4.2");
        assertThat(a.path("agent").path("run_id").asText()).isEqualTo("gh-123");
        assertThat(a.path("context").path("links").get(0).path("title").asText()).isEqualTo("pipeline");

        server.decide(id, "approve", "alice", "ship it");
        assertThat(g.exitCode()).isEqualTo(GateCommand.APPROVED);
        assertThat(g.out.toString()).contains("approved by alice: ship it");
        assertThat(g.err.toString()).isEmpty();
    }

    @Test
    void low_risk_is_approved_at_once_and_exits_0() throws Exception {
        Gate g = gate("--type", "db.read.release-notes", "--summary", deploy());
        assertThat(g.exitCode()).isEqualTo(0);
        assertThat(g.out.toString()).contains("low risk").contains("approved by policy");
    }

    @Test
    void rejected_exits_1_with_the_comment() throws Exception {
        Gate g = gate("--type", "deploy.production", "--summary", deploy());
        server.decide(g.id(), "reject", "erin", "freeze until Monday");
        assertThat(g.exitCode()).isEqualTo(GateCommand.REJECTED);
        assertThat(g.out.toString()).contains("rejected by erin: freeze until Monday");
    }

    @Test
    void expired_exits_2() throws Exception {
        Gate g = gate("--type", "test.expire", "--summary", deploy());
        assertThat(g.exitCode()).isEqualTo(GateCommand.EXPIRED_OR_CANCELLED);
        assertThat(g.out.toString()).contains("expired");
    }

    @Test
    void a_request_withdrawn_elsewhere_exits_2() throws Exception {
        Gate g = gate("--type", "deploy.production", "--summary", deploy());
        assertThat(server.post("/api/v1/approvals/" + g.id() + "/cancel", ALICE_BOT_KEY, "{}").status()).isEqualTo(200);
        assertThat(g.exitCode()).isEqualTo(GateCommand.EXPIRED_OR_CANCELLED);
        assertThat(g.out.toString()).contains("cancelled");
    }

    @Test
    void the_timeout_reaches_the_server_as_the_requests_expiry() throws Exception {
        Gate g = gate("--type", "deploy.production", "--summary", deploy(), "--timeout", "PT7M");
        JsonNode a = server.get("/api/v1/approvals/" + g.id(), ALICE_BOT_KEY).json();
        assertThat(Duration.between(java.time.Instant.parse(a.path("created_at").asText()), java.time.Instant.parse(a.path("expires_at").asText())))
                .isEqualTo(Duration.ofMinutes(7));
        server.decide(g.id(), "approve", "erin", null);
        assertThat(g.exitCode()).isEqualTo(0);
    }

    private static void error(Gate g, String message) throws Exception {
        assertThat(g.exitCode()).isEqualTo(GateCommand.ERROR);
        String err = g.err.toString();
        assertThat(err).startsWith("gate: ").contains(message);
        assertThat(err.strip().lines()).hasSize(1);
        assertThat(err).doesNotContain("\tat ").doesNotContain("Exception");
    }

    @Test
    void a_bad_key_exits_3_with_one_line() throws Exception {
        Gate g = new Gate("--type", "deploy.production", "--summary", "x", "--url", server.url(""), "--key", "wrong");
        error(g, "COUNTERSIGN_AGENT_KEY");
    }

    @Test
    void an_unreachable_service_exits_3_with_one_line() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Gate g = new Gate("--type", "deploy.production", "--summary", "x", "--url", "http://127.0.0.1:" + port, "--key", "k");
        error(g, "cannot reach Countersign at http://127.0.0.1:" + port);
    }

    @Test
    void bad_arguments_exit_3_naming_what_is_wrong() throws Exception {
        error(gate("--summary", "no type"), "--type");
        error(gate("--type", "deploy.production", "--summary", "x", "--timeout", "30 minutes"), "--timeout");
        error(gate("--type", "deploy.production", "--summary", "x", "--param", "version"), "--param");
        error(gate("--type", "deploy.production", "--summary", "x", "--risk-hint", "extreme"), "--risk-hint");
        error(gate("--type", "deploy production", "--summary", "x"), "action.type");
        error(gate("--type", "deploy.production", "--summary", "x".repeat(3001)), "action.summary");
    }
}
