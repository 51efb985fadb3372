package dev.countersign.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.testing.Databases;
import dev.countersign.server.testing.ServerProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kill -9} under load, then restart on the same database (H2 file, PostgreSQL): nothing acknowledged
 * is lost, every pending approval keeps its timer, the timers that came due while the process was down or
 * starting fire after the restart, each approval is decided exactly once, and the audit chain verifies.
 *
 * <p>The server is the packaged jar in a child process ({@link ServerProcess}). Timers are checked twice:
 * <ol>
 *   <li>Right after the kill, before anything restarts, straight in the QRTZ tables over JDBC. That is the
 *       sound check of "a 201 means the timer is durable": after a restart the reconciler gives every
 *       pending approval a timer, which would hide a timer that was never stored before the 201.</li>
 *   <li>After the restart has run (and stopped gracefully), again over JDBC, for every pending approval,
 *       acknowledged or not: the invariant "every pending approval has a live trigger" after recovery.</li>
 * </ol>
 * H2 opens a file in one process only, so every JDBC look and every CLI run happens while the server is down.
 */
class CrashRecoveryIT {
    private static final Path JAR = Path.of(System.getProperty("countersign.jar", "target/countersign.jar"));
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SCHED = "countersign"; // CountersignServer's Quartz scheduler name
    private static final Duration SHORT_EXPIRY = Duration.ofSeconds(20);
    private static final Duration ESCALATE_AFTER = Duration.ofSeconds(4);
    /** Acknowledged high-risk approvals (with timers) to reach before the kill. */
    private static final int MIN_HIGH_ACKED = 200;
    private static final int MIN_DECISIONS_ACKED = 20;
    private static final Duration MIN_LOAD = Duration.ofSeconds(6);
    private static final int ASKERS = 6;
    private static final int DECIDERS = 2;

    private final String agentKey = "ak-" + UUID.randomUUID();
    private final String operatorKey = "op-" + UUID.randomUUID();

    enum Kind {
        READ("crash.read"), SHORT("crash.short"), LONG("crash.long"), ESCALATE("crash.escalate");
        final String type;

        Kind(String type) {
            this.type = type;
        }

        boolean high() {
            return this != READ;
        }
    }

    record Acked(String id, Kind kind, long ackedAtMillis) {}

    record Row(String id, String status, int escalationLevel) {}

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void h2FileSurvivesKill9(@TempDir Path dir) throws Exception {
        String url = "jdbc:h2:file:" + dir.toAbsolutePath() + "/db;WRITE_DELAY=0";
        crashAndRecover(dir, url, "sa", "");
    }

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void postgresSurvivesKill9(@TempDir Path dir) throws Exception {
        Databases.DataSourceSpec pg = Databases.postgres();
        crashAndRecover(dir, pg.url(), pg.user(), pg.password());
    }

    private void crashAndRecover(Path dir, String dbUrl, String dbUser, String dbPassword) throws Exception {
        Path config = dir.resolve("countersign.yaml");
        Files.writeString(config, config());
        try (ServerProcess server = ServerProcess.builder(JAR, config, dbUrl, dir)
                .databaseUser(dbUser, dbPassword)
                .agentKey("crash-agent", agentKey)
                .operatorKey(operatorKey)
                .jvmArgs("-Xms256m", "-Xmx512m")
                .build()) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
            server.start().awaitReady(Duration.ofSeconds(90));

            // ---- load, then kill -9 while requests are in flight
            Load load = new Load(http, server.baseUrl());
            load.start();
            long loadStart = System.nanoTime();
            long giveUp = loadStart + Duration.ofSeconds(60).toNanos();
            while (load.highAcked() < MIN_HIGH_ACKED || load.decided.size() < MIN_DECISIONS_ACKED
                    || System.nanoTime() - loadStart < MIN_LOAD.toNanos()) {
                assertThat(System.nanoTime()).as("load reached %d high-risk acks and %d decisions (errors: %s)\n%s",
                        load.highAcked(), load.decided.size(), load.errors, server.logTail(30)).isLessThan(giveUp);
                assertThat(load.errors).as("unexpected answers before the kill").isEmpty();
                Thread.sleep(50);
            }
            long spin = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            while (load.inFlight.get() < 2 && System.nanoTime() < spin) Thread.onSpinWait();
            int inFlightAtKill = load.inFlight.get();
            load.killing();
            server.killHard();
            long killedAt = System.currentTimeMillis();
            load.stopAndJoin();
            assertThat(inFlightAtKill).as("requests in flight at the kill").isGreaterThan(0);
            assertThat(load.errors).as("answers other than 201/200 before the kill").isEmpty();
            Map<String, Acked> acked = Map.copyOf(load.acked);
            Map<String, String> decided = Map.copyOf(load.decided);
            Map<String, String> attempted = Map.copyOf(load.attempted);
            long firstShortAck = acked.values().stream().filter(a -> a.kind == Kind.SHORT).mapToLong(Acked::ackedAtMillis).min().orElseThrow();
            long lastShortAck = acked.values().stream().filter(a -> a.kind == Kind.SHORT).mapToLong(Acked::ackedAtMillis).max().orElseThrow();
            System.out.printf("[crash %s] acked %d approvals (%d high), %d decisions; %d requests in flight at the kill, %d failed by it%n",
                    label(dbUrl), acked.size(), load.highAcked(), decided.size(), inFlightAtKill, load.cutOff.get());

            // ---- right after the crash, nothing restarted yet: the database as the dead process left it
            try (Connection c = DriverManager.getConnection(dbUrl, dbUser, dbPassword)) {
                Map<String, Row> rows = approvals(c);
                Set<String> timed = approvalsWithLiveTimer(c, true);
                List<String> lost = acked.keySet().stream().filter(id -> !rows.containsKey(id)).toList();
                assertThat(lost).as("acknowledged (201) approvals missing after kill -9").isEmpty();
                decided.forEach((id, outcome) -> assertThat(rows.get(id).status()).as("acknowledged decision of %s", id).isEqualTo(outcome));
                List<String> untimed = acked.values().stream().filter(a -> a.kind.high())
                        .filter(a -> rows.get(a.id).status().equals("pending") && !timed.contains(a.id)).map(Acked::id).toList();
                assertThat(untimed).as("acknowledged pending approvals without a stored Quartz trigger at the crash").isEmpty();
                long unackedPendingUntimed = rows.values().stream()
                        .filter(r -> r.status().equals("pending") && !acked.containsKey(r.id()) && !timed.contains(r.id())).count();
                System.out.printf("[crash %s] at the crash: %d approvals in the database, %d unacknowledged ones pending without a timer (the reconciler's job)%n",
                        label(dbUrl), rows.size(), unackedPendingUntimed);
            }

            // Restart so that the first short-expiry timers come due while the process is down or starting (a start
            // takes 5-10 s here) and the later ones, asked up to MIN_LOAD later, after it is ready. The escalations
            // asked in the last 4 s before the kill come due while it is down.
            long restartAt = firstShortAck + SHORT_EXPIRY.toMillis() - 2_000;
            long wait = restartAt - System.currentTimeMillis();
            if (wait > 0) Thread.sleep(Math.min(wait, 20_000));
            long restartedAt = System.currentTimeMillis();
            server.start().awaitReady(Duration.ofSeconds(90));
            long readyAt = System.currentTimeMillis();
            System.out.printf("[crash %s] down %.1f s; restart took %.1f s%n", label(dbUrl), (restartedAt - killedAt) / 1000.0, (readyAt - restartedAt) / 1000.0);

            // ---- after the restart, through the API (an operator key may read any approval)
            Api api = new Api(http, server.baseUrl(), operatorKey);
            for (Acked a : acked.values()) {
                JsonNode got = api.get(a.id);
                assertThat(got).as("acknowledged approval %s after the restart", a.id).isNotNull();
                String want = decided.get(a.id);
                if (want != null) assertThat(got.path("status").asText()).as("acknowledged decision of %s", a.id).isEqualTo(want);
            }

            // Short-expiry approvals end expired (or with the decision that was in flight at the crash); escalations fire once.
            long deadline = Math.max(lastShortAck + SHORT_EXPIRY.toMillis(), readyAt) + 30_000;
            Set<String> open = new HashSet<>();
            acked.values().stream().filter(a -> (a.kind == Kind.SHORT && !decided.containsKey(a.id)) || a.kind == Kind.ESCALATE).forEach(a -> open.add(a.id));
            Map<String, JsonNode> finalState = new HashMap<>();
            while (!open.isEmpty() && System.currentTimeMillis() < deadline) {
                for (String id : List.copyOf(open)) {
                    JsonNode got = api.get(id);
                    boolean settled = acked.get(id).kind == Kind.SHORT
                            ? !got.path("status").asText().equals("pending")
                            : got.path("escalation").path("level").asInt() >= 1 || !got.path("status").asText().equals("pending");
                    if (settled) {
                        open.remove(id);
                        finalState.put(id, got);
                    }
                }
                if (!open.isEmpty()) Thread.sleep(250);
            }
            assertThat(open).as("short-expiry approvals still pending / escalations not fired 30 s after they came due\n%s", server.logTail(40)).isEmpty();
            int dueWhileDown = 0;
            for (Acked a : acked.values()) {
                if (a.kind != Kind.SHORT || decided.containsKey(a.id)) continue;
                JsonNode got = finalState.get(a.id);
                String status = got.path("status").asText();
                if (attempted.containsKey(a.id)) {
                    // a decision was sent but its answer was cut off by the kill: it either committed or it did not
                    assertThat(status).as("short approval %s with an unacknowledged decision", a.id).isIn("expired", attempted.get(a.id));
                } else {
                    assertThat(status).as("short-expiry approval %s", a.id).isEqualTo("expired");
                }
                if (status.equals("expired")) {
                    assertThat(got.path("decision").path("by").path("channel").asText()).isEqualTo("timer");
                    if (a.ackedAtMillis + SHORT_EXPIRY.toMillis() < readyAt) dueWhileDown++;
                }
            }
            for (Acked a : acked.values()) {
                if (a.kind == Kind.ESCALATE) {
                    JsonNode got = finalState.get(a.id);
                    assertThat(got.path("status").asText()).as("escalating approval %s (nobody decides it)", a.id).isEqualTo("pending");
                    assertThat(got.path("escalation").path("level").asInt()).isEqualTo(1);
                }
            }
            long expired = finalState.values().stream().filter(a -> a.path("status").asText().equals("expired")).count();
            System.out.printf("[crash %s] %d short-expiry approvals expired after the restart: %d came due while it was down or starting, %d after it was ready%n",
                    label(dbUrl), expired, dueWhileDown, expired - dueWhileDown);

            // ---- stop gracefully; then the database and the audit log with the server down
            server.stop(Duration.ofSeconds(30));
            Map<String, Row> rows;
            try (Connection c = DriverManager.getConnection(dbUrl, dbUser, dbPassword)) {
                rows = approvals(c);
                Set<String> timed = approvalsWithLiveTimer(c, false);
                List<String> untimed = rows.values().stream().filter(r -> r.status().equals("pending") && !timed.contains(r.id())).map(Row::id).toList();
                assertThat(untimed).as("pending approvals without a waiting Quartz trigger after recovery").isEmpty();
            }

            Path export = dir.resolve("audit.jsonl");
            ServerProcess.CliResult exported = server.runCli(Duration.ofSeconds(60), "audit", "export", "--out", export.toString());
            assertThat(exported.exit()).as("audit export: %s", exported.stderr()).isZero();
            Map<String, Integer> decisions = new HashMap<>();
            Map<String, Integer> escalations = new HashMap<>();
            for (String line : Files.readAllLines(export)) {
                JsonNode e = JSON.readTree(line);
                String id = e.path("approval_id").asText();
                switch (e.path("kind").asText()) {
                    case "decided", "cancelled" -> decisions.merge(id, 1, Integer::sum);
                    case "escalated" -> escalations.merge(id, 1, Integer::sum);
                    default -> { }
                }
            }
            for (Row r : rows.values()) {
                int n = decisions.getOrDefault(r.id(), 0);
                assertThat(n).as("'decided' audit entries of %s (%s)", r.id(), r.status()).isEqualTo(r.status().equals("pending") ? 0 : 1);
                assertThat(escalations.getOrDefault(r.id(), 0)).as("'escalated' audit entries of %s", r.id()).isEqualTo(r.escalationLevel());
            }
            ServerProcess.CliResult verified = server.runCli(Duration.ofSeconds(60), "audit", "verify");
            assertThat(verified.exit()).as("audit verify: %s %s", verified.stdout(), verified.stderr()).isZero();
            System.out.printf("[crash %s] %d approvals, %d decided exactly once; %s", label(dbUrl), rows.size(), decisions.size(), verified.stdout());
        }
    }

    /** Agents asking (low and high risk) and operators deciding, each thread a closed loop; records what was acknowledged. */
    private final class Load {
        final Map<String, Acked> acked = new ConcurrentHashMap<>();
        final Map<String, String> decided = new ConcurrentHashMap<>();    // acknowledged (200): id → status
        final Map<String, String> attempted = new ConcurrentHashMap<>();  // sent: id → outcome asked for
        final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicLong cutOff = new AtomicLong();
        final AtomicInteger high = new AtomicInteger();
        final LinkedBlockingQueue<String> toDecide = new LinkedBlockingQueue<>();
        final List<Thread> threads = new ArrayList<>();
        final HttpClient http;
        final String base;
        volatile boolean stopped;
        volatile boolean killed;

        Load(HttpClient http, String base) {
            this.http = http;
            this.base = base;
        }

        int highAcked() {
            return high.get();
        }

        void start() {
            for (int t = 0; t < ASKERS; t++) {
                int seed = t;
                threads.add(started(new Thread(() -> ask(seed), "asker-" + t)));
            }
            for (int t = 0; t < DECIDERS; t++) {
                int seed = t;
                threads.add(started(new Thread(() -> decide(seed), "decider-" + t)));
            }
        }

        private Thread started(Thread t) {
            t.setDaemon(true);
            t.start();
            return t;
        }

        /** Called just before the kill: from now on a failed request is one the kill cut off. */
        void killing() {
            killed = true;
        }

        void stopAndJoin() throws InterruptedException {
            killed = true;
            stopped = true;
            for (Thread t : threads) {
                t.join(30_000);
                assertThat(t.isAlive()).as("%s ended", t.getName()).isFalse();
            }
        }

        private void ask(int seed) {
            for (int i = seed; !stopped; i++) {
                Kind kind = switch (i % 10) {
                    case 0 -> Kind.READ;
                    case 1, 2, 3, 4 -> Kind.SHORT;
                    case 5, 6, 7 -> Kind.LONG;
                    default -> Kind.ESCALATE;
                };
                ObjectNode body = JSON.createObjectNode();
                body.putObject("action").put("type", kind.type).put("summary", "crash test " + kind + " #" + i).putObject("params").put("n", i);
                body.putObject("agent").put("run_id", "crash-" + seed);
                HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/api/v1/approvals")).timeout(Duration.ofSeconds(20))
                        .header("Authorization", "Bearer " + agentKey).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
                HttpResponse<String> resp = send(req);
                if (resp == null) continue;
                if (resp.statusCode() != 201) {
                    errors.add("ask " + kind + ": HTTP " + resp.statusCode() + " " + resp.body());
                    continue;
                }
                String id = readId(resp.body());
                acked.put(id, new Acked(id, kind, System.currentTimeMillis()));
                if (kind.high()) high.incrementAndGet();
                if ((kind == Kind.SHORT || kind == Kind.LONG) && i % 3 == 0) toDecide.add(id);
                pause(15);
            }
        }

        private void decide(int seed) {
            for (int i = seed; !stopped; i++) {
                String id;
                try {
                    id = toDecide.poll(50, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    return;
                }
                if (id == null) continue;
                Acked a = acked.get(id);
                // never race a short expiry (a slow machine could take 20 s to reach the kill): a 409 would be no error
                if (a.kind == Kind.SHORT && System.currentTimeMillis() - a.ackedAtMillis > SHORT_EXPIRY.toMillis() / 2) continue;
                boolean approve = i % 2 == 0;
                String outcome = approve ? "approved" : "rejected";
                attempted.put(id, outcome);
                ObjectNode body = JSON.createObjectNode().put("outcome", approve ? "approve" : "reject").put("as", approve ? "alice" : "bob")
                        .put("comment", "crash test");
                HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/api/v1/approvals/" + id + "/decision")).timeout(Duration.ofSeconds(20))
                        .header("Authorization", "Bearer " + operatorKey).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
                HttpResponse<String> resp = send(req);
                if (resp == null) continue;
                if (resp.statusCode() != 200) {
                    errors.add("decide " + id + ": HTTP " + resp.statusCode() + " " + resp.body());
                    continue;
                }
                String status = readTree(resp.body()).path("status").asText();
                if (!status.equals(outcome)) errors.add("decide " + id + ": answered " + status + ", asked " + outcome);
                decided.put(id, status);
            }
        }

        /** Null when the kill cut the request off (or it failed after the kill). */
        private HttpResponse<String> send(HttpRequest req) {
            inFlight.incrementAndGet();
            try {
                return http.send(req, HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                if (killed) {
                    cutOff.incrementAndGet();
                } else {
                    // the kill may land between our check and here; the main thread sees errors only before it
                    if (!stopped) errors.add(req.method() + " " + req.uri().getPath() + ": " + e);
                }
                stopped = true;
                return null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopped = true;
                return null;
            } finally {
                inFlight.decrementAndGet();
            }
        }
    }

    /** Operator reads through the API. */
    private record Api(HttpClient http, String base, String key) {
        JsonNode get(String id) throws IOException, InterruptedException {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/approvals/" + id)).timeout(Duration.ofSeconds(10))
                    .header("Authorization", "Bearer " + key).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 404) return null;
            assertThat(r.statusCode()).as("GET %s: %s", id, r.body()).isEqualTo(200);
            return JSON.readTree(r.body());
        }
    }

    private static Map<String, Row> approvals(Connection c) throws SQLException {
        Map<String, Row> rows = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT id, status, escalation_level FROM approval"); ResultSet rs = ps.executeQuery()) {
            while (rs.next()) rows.put(rs.getString(1), new Row(rs.getString(1), rs.getString(2), rs.getInt(3)));
        }
        return rows;
    }

    /**
     * Approval ids (= Quartz job names) with a trigger that will still fire: one not yet COMPLETE; and, when
     * {@code orFiring}, one fired when the process died, which Quartz re-runs at start (requestRecovery).
     */
    private static Set<String> approvalsWithLiveTimer(Connection c, boolean orFiring) throws SQLException {
        Set<String> ids = new HashSet<>();
        String triggers = "SELECT JOB_NAME FROM QRTZ_TRIGGERS WHERE SCHED_NAME = ? AND JOB_GROUP = 'approval' AND TRIGGER_STATE <> 'COMPLETE'";
        try (PreparedStatement ps = c.prepareStatement(triggers)) {
            ps.setString(1, SCHED);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) ids.add(rs.getString(1));
            }
        }
        if (orFiring) {
            String fired = "SELECT JOB_NAME FROM QRTZ_FIRED_TRIGGERS WHERE SCHED_NAME = ? AND JOB_GROUP = 'approval' AND REQUESTS_RECOVERY = TRUE";
            try (PreparedStatement ps = c.prepareStatement(fired)) {
                ps.setString(1, SCHED);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) ids.add(rs.getString(1));
                }
            }
        }
        return ids;
    }

    private static String config() {
        return """
                people:
                  - id: alice
                    name: Alice Ng
                  - id: bob
                    name: Bob Osei
                  - id: carol
                    name: Carol Diaz
                groups:
                  finance: [alice, bob]
                rules:
                  - name: reads
                    when: action.type == "crash.read"
                    risk: low
                  - name: short-expiry
                    when: action.type == "crash.short"
                    risk: high
                    approvers: [group:finance]
                    expires_after: %s
                  - name: long-expiry
                    when: action.type == "crash.long"
                    risk: high
                    approvers: [group:finance]
                    expires_after: PT1H
                  - name: escalating
                    when: action.type == "crash.escalate"
                    risk: high
                    approvers: [alice]
                    escalation:
                      - after: %s
                        notify: [carol]
                    expires_after: PT1H
                admins: [alice]
                """.formatted(SHORT_EXPIRY, ESCALATE_AFTER);
    }

    private static String label(String url) {
        return url.startsWith("jdbc:h2:") ? "H2" : "PostgreSQL";
    }

    private static String readId(String body) {
        return readTree(body).path("id").asText();
    }

    private static JsonNode readTree(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new IllegalStateException("not JSON: " + body, e);
        }
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
