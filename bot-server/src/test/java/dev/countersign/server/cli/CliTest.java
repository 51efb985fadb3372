package dev.countersign.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.store.Json;
import dev.countersign.server.Main;
import dev.countersign.server.TestServer;
import dev.countersign.server.config.ServerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import static dev.countersign.server.TestServer.ALICE_BOT_KEY;
import static dev.countersign.server.TestServer.OPERATOR_KEY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The command line as an operator runs it (without {@code Main.main}, which calls System.exit). */
class CliTest {
    @RegisterExtension
    static final TestServer server = TestServer.perClass();

    /** What a command printed and its exit code. */
    record Run(int exit, String out, String err) {}

    /** Runs {@code countersign <args>} through picocli, capturing standard output and error. */
    static Run countersign(String... args) {
        return capture(() -> new CommandLine(new Main()).execute(args));
    }

    static Run capture(Callable<Integer> command) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = command.call();
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } catch (Exception ex) {
            throw new AssertionError(ex);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private static String pending() {
        return server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
    }

    private static String[] decide(String id, String outcome, String as, String... more) {
        List<String> args = new ArrayList<>(List.of("decide", id, outcome, "--as", as, "--url", server.url("")));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    // ------------------------------------------------------------------ decide

    @Test
    void decide_approve_records_the_decision_and_exits_0() {
        String id = pending();

        Run run = countersign(decide(id, "approve", "alice", "--key", OPERATOR_KEY, "-m", "looks right"));

        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.out()).contains(id).contains("approved by Alice Ng");
        JsonNode a = server.get("/api/v1/approvals/" + id, ALICE_BOT_KEY).json();
        assertThat(a.path("status").asText()).isEqualTo("approved");
        assertThat(a.path("decision").path("by").path("channel").asText()).isEqualTo("cli");
        assertThat(a.path("decision").path("comment").asText()).isEqualTo("looks right");
    }

    @Test
    void decide_reject_exits_0_and_the_agent_sees_the_rejection() {
        String id = pending();

        Run run = countersign(decide(id, "reject", "bob", "--key", OPERATOR_KEY, "--comment", "wrong account"));

        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.out()).contains("rejected by Bob Osei");
        assertThat(server.get("/api/v1/approvals/" + id, ALICE_BOT_KEY).json().path("decision").path("comment").asText()).isEqualTo("wrong account");
    }

    @Test
    void a_second_decision_exits_1_and_says_who_won() {
        String id = pending();
        assertThat(countersign(decide(id, "approve", "alice", "--key", OPERATOR_KEY)).exit()).isZero();

        Run run = countersign(decide(id, "reject", "bob", "--key", OPERATOR_KEY));

        assertThat(run.exit()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).contains("already approved by Alice Ng").contains("HTTP 409");
        assertThat(server.get("/api/v1/approvals/" + id, ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("approved");
    }

    @Test
    void a_person_who_may_not_decide_exits_1_with_the_reason() {
        String id = pending();

        Run run = countersign(decide(id, "approve", "dave", "--key", OPERATOR_KEY));

        assertThat(run.exit()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).contains("not among the approvers").contains("HTTP 403");
    }

    @Test
    void a_missing_operator_key_exits_2_before_calling_the_service() {
        assumeTrue(System.getenv("COUNTERSIGN_OPERATOR_KEY") == null, "COUNTERSIGN_OPERATOR_KEY is set in this environment");
        String id = pending();

        Run run = countersign(decide(id, "approve", "alice"));

        assertThat(run.exit()).as(run.toString()).isEqualTo(2);
        assertThat(run.err()).contains("no operator key").contains("--key").contains("COUNTERSIGN_OPERATOR_KEY");
        assertThat(server.get("/api/v1/approvals/" + id, ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
    }

    @Test
    void a_wrong_operator_key_exits_1() {
        String id = pending();

        Run run = countersign(decide(id, "approve", "alice", "--key", "not-the-operator-key"));

        assertThat(run.exit()).as(run.toString()).isEqualTo(1);
        assertThat(run.err()).contains("HTTP 401").doesNotContain("not-the-operator-key");
    }

    @Test
    void an_unreachable_service_exits_2_naming_the_url() {
        Run run = countersign("decide", "apr_x", "approve", "--as", "alice", "--key", OPERATOR_KEY, "--url", "http://127.0.0.1:1");

        assertThat(run.exit()).as(run.toString()).isEqualTo(2);
        assertThat(run.err()).contains("cannot reach").contains("http://127.0.0.1:1");
    }

    @Test
    void a_usage_mistake_exits_2_with_the_usage() {
        Run missingAs = countersign("decide", "apr_x", "approve", "--key", OPERATOR_KEY);
        Run badOutcome = countersign("decide", "apr_x", "perhaps", "--as", "alice", "--key", OPERATOR_KEY);

        assertThat(missingAs.exit()).isEqualTo(2);
        assertThat(missingAs.err()).contains("--as");
        assertThat(badOutcome.exit()).isEqualTo(2);
        assertThat(badOutcome.err()).contains("perhaps");
    }

    @Test
    void no_command_prints_the_usage_with_every_subcommand() {
        Run run = countersign();

        assertThat(run.exit()).isZero();
        assertThat(run.out()).contains("serve", "demo", "decide", "audit");
    }

    // ------------------------------------------------------------------ audit

    /** {@code audit <sub> [args]} with an explicit configuration, as COUNTERSIGN_CONFIG would give it. */
    private static Run audit(ServerConfig config, String sub, String... args) {
        AuditCommand.Verify verify = new AuditCommand.Verify();
        AuditCommand.Export export = new AuditCommand.Export();
        verify.config = () -> config;
        export.config = () -> config;
        CommandLine cli = new CommandLine(new AuditCommand(), factoryOf(verify, export));
        List<String> all = new ArrayList<>(List.of(sub));
        all.addAll(List.of(args));
        return capture(() -> cli.execute(all.toArray(String[]::new)));
    }

    private static CommandLine.IFactory factoryOf(Object... instances) {
        CommandLine.IFactory defaults = CommandLine.defaultFactory();
        return new CommandLine.IFactory() {
            @Override
            @SuppressWarnings("unchecked")
            public <K> K create(Class<K> type) throws Exception {
                for (Object o : instances) if (type.isInstance(o)) return (K) o;
                return defaults.create(type);
            }
        };
    }

    @Test
    void audit_verify_exits_0_when_the_chain_is_intact() {
        server.asked(ALICE_BOT_KEY, TestServer.lowAsk());
        server.decide(pending(), "approve", "alice", "ok");

        Run run = audit(server.server().config(), "verify");

        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.out()).contains("audit log intact").containsPattern("\\d+ entries");
    }

    @Test
    void audit_export_writes_one_json_line_per_entry_with_seq_and_a_hash_chain() {
        String id = pending();
        server.decide(id, "reject", "bob", "no");

        Run run = audit(server.server().config(), "export");

        assertThat(run.exit()).as(run.toString()).isZero();
        List<JsonNode> lines = run.out().lines().map(CliTest::json).toList();
        assertThat(lines).isNotEmpty();
        String previous = AuditLog.GENESIS;
        long seq = 0;
        for (JsonNode line : lines) {
            assertThat(line.path("seq").asLong()).isGreaterThan(seq);
            seq = line.path("seq").asLong();
            assertThat(line.path("hash").asText()).matches("[0-9a-f]{64}");
            assertThat(line.path("prev_hash").asText()).isEqualTo(previous);
            assertThat(line.path("kind").asText()).isNotBlank();
            assertThat(line.path("at").asText()).isNotBlank();
            previous = line.path("hash").asText();
        }
        assertThat(lines).filteredOn(l -> l.path("approval_id").asText().equals(id)).extracting(l -> l.path("kind").asText())
                .contains("asked", "risk_assessed", "decided");
    }

    @Test
    void audit_export_to_a_file_writes_the_same_lines() throws Exception {
        Path out = server.dir().resolve("audit.jsonl");

        Run run = audit(server.server().config(), "export", "--out", out.toString());

        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.err()).contains("exported").contains(out.toString());
        List<String> lines = Files.readAllLines(out);
        assertThat(lines).isNotEmpty().allSatisfy(l -> assertThat(json(l).has("seq")).isTrue());
    }

    @Test
    void audit_verify_exits_1_naming_the_entry_when_an_entry_was_altered(@TempDir Path other) throws Exception {
        ServerConfig config = TestServer.config(other);
        try (TestServer s = TestServer.start(config)) {
            s.asked(ALICE_BOT_KEY, TestServer.lowAsk());
            s.asked(ALICE_BOT_KEY, TestServer.highAsk());
        }
        try (Connection c = DriverManager.getConnection(config.database().url(), config.database().user(), config.database().password());
             Statement st = c.createStatement()) {
            assertThat(st.executeUpdate("UPDATE audit_log SET actor = 'agent:someone-else' WHERE seq = 2")).isEqualTo(1);
        }

        Run run = audit(config, "verify");

        assertThat(run.exit()).as(run.toString()).isEqualTo(1);
        assertThat(run.out()).contains("BROKEN at entry 2");
    }

    @Test
    void audit_with_an_unusable_database_exits_2() {
        ServerConfig config = TestServer.config(TestServer.CONFIG.replace("%DB%", "jdbc:postgresql://127.0.0.1:1/nothing"), TestServer.env());

        Run run = audit(config, "verify");

        assertThat(run.exit()).as(run.toString()).isEqualTo(2);
        assertThat(run.err()).contains("audit:").contains("cannot connect");
    }

    private static JsonNode json(String line) {
        try {
            return Json.MAPPER.readTree(line);
        } catch (Exception e) {
            throw new AssertionError("not a JSON line: " + line, e);
        }
    }
}
