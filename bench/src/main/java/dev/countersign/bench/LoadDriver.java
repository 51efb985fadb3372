package dev.countersign.bench;

import dev.countersign.client.Action;
import dev.countersign.client.Context;
import dev.countersign.client.Countersign;
import dev.countersign.server.testing.ServerProcess;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntFunction;

/**
 * Load driver for Countersign's agent API (a harness, not a test). Against a running server
 * ({@code --url --agent-key --operator-key}, whose config has the rules of {@link #CONFIG}) or one it starts
 * from the jar ({@code --jar --database-url}), it measures:
 * <ol>
 *   <li>{@code low}: low-risk asks (answered {@code approved} by policy), closed loop at each concurrency;</li>
 *   <li>{@code high}: high-risk asks (stored pending, with their Quartz timer), closed loop;</li>
 *   <li>{@code longpoll}: decision → long-poll return: agents hold {@code GET …?wait=30} on pending approvals,
 *       one operator decides them one by one; the time from sending a decision to its long-poll returning;</li>
 *   <li>{@code waiters}: many long-polls held at once (async), the server's thread count while they wait, then
 *       all released by decisions.</li>
 * </ol>
 * Latencies are recorded in microseconds in HdrHistograms. The client is the JDK HttpClient on HTTP/1.1 with
 * keep-alive. Run it through {@code bench/run.sh}.
 */
public final class LoadDriver {
    /** The rules the driver's requests expect (written as the config when it starts the jar itself). */
    static final String CONFIG = """
            # Load-driver config: one low-risk and one high-risk rule (see bench/run.sh, docs/BENCHMARKS.md).
            people:
              - id: alice
                name: Alice Ng
              - id: bob
                name: Bob Osei
            groups:
              ops: [alice, bob]
            rules:
              - name: bench-reads
                when: action.type == "bench.read"
                risk: low
              - name: bench-high
                when: action.type == "bench.high"
                risk: high
                approvers: [group:ops]
                expires_after: PT1H
            admins: [alice]
            """;
    private static final long MAX_MICROS = TimeUnit.SECONDS.toMicros(120);

    private final Options o;
    private final String base;
    private final Long serverPid;
    private final List<String> report = new ArrayList<>();
    private final AtomicLong seq = new AtomicLong();

    private LoadDriver(Options o, String base, Long serverPid) {
        this.o = o;
        this.base = base;
        this.serverPid = serverPid;
    }

    // ------------------------------------------------------------------------------------------------ options

    static final class Options {
        String url;
        String agentKey;
        String operatorKey;
        Long serverPid;
        Path jar;
        String dbUrl;
        String dbUser;
        String dbPassword;
        String serverJvmArgs = "-Xms1g -Xmx1g";
        Path workDir;
        List<String> phases = List.of("low", "high", "longpoll", "waiters", "client");
        List<Integer> clientConcurrency = List.of(1, 8);
        List<Integer> concurrency = List.of(8, 32, 64);
        List<Integer> highConcurrency = List.of(8, 32, 64);
        int jitWarmup = 60;
        int warmup = 5;
        int duration = 15;
        int decisions = 1000;
        int batch = 50;
        int waiters = 1000;
        Path out;
        String label = "";

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                String v = a.contains("=") ? a.substring(a.indexOf('=') + 1) : (i + 1 < args.length ? args[++i] : null);
                String k = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
                if (v == null) throw new IllegalArgumentException(k + " needs a value");
                switch (k) {
                    case "--url" -> o.url = v.replaceAll("/$", "");
                    case "--agent-key" -> o.agentKey = v;
                    case "--operator-key" -> o.operatorKey = v;
                    case "--server-pid" -> o.serverPid = Long.parseLong(v);
                    case "--jar" -> o.jar = Path.of(v);
                    case "--database-url" -> o.dbUrl = v;
                    case "--database-user" -> o.dbUser = v;
                    case "--database-password" -> o.dbPassword = v;
                    case "--server-jvm-args" -> o.serverJvmArgs = v;
                    case "--work-dir" -> o.workDir = Path.of(v);
                    case "--phases" -> o.phases = List.of(v.split(","));
                    case "--concurrency" -> o.concurrency = ints(v);
                    case "--high-concurrency" -> o.highConcurrency = ints(v);
                    case "--client-concurrency" -> o.clientConcurrency = ints(v);
                    case "--jit-warmup" -> o.jitWarmup = Integer.parseInt(v);
                    case "--warmup" -> o.warmup = Integer.parseInt(v);
                    case "--duration" -> o.duration = Integer.parseInt(v);
                    case "--decisions" -> o.decisions = Integer.parseInt(v);
                    case "--batch" -> o.batch = Integer.parseInt(v);
                    case "--waiters" -> o.waiters = Integer.parseInt(v);
                    case "--out" -> o.out = Path.of(v);
                    case "--label" -> o.label = v;
                    default -> throw new IllegalArgumentException("unknown option " + k + "\n" + USAGE);
                }
            }
            if (o.jar == null && (o.url == null || o.agentKey == null || o.operatorKey == null)) {
                throw new IllegalArgumentException("give --jar and --database-url (the driver starts the server), or --url, --agent-key and --operator-key\n" + USAGE);
            }
            if (o.jar != null && o.dbUrl == null) throw new IllegalArgumentException("--jar needs --database-url\n" + USAGE);
            return o;
        }

        private static List<Integer> ints(String v) {
            return java.util.Arrays.stream(v.split(",")).map(String::trim).map(Integer::parseInt).toList();
        }
    }

    static final String USAGE = """
            usage: LoadDriver (--jar countersign.jar --database-url URL [--database-user U --database-password P] [--server-jvm-args "-Xms1g -Xmx1g"] [--work-dir DIR]
                              | --url http://host:port --agent-key K --operator-key K [--server-pid PID])
                              [--phases low,high,longpoll,waiters,client] [--concurrency 8,32,64] [--high-concurrency 8,32,64] [--client-concurrency 1,8]
                              [--jit-warmup 60] [--warmup 5] [--duration 15] [--decisions 1000] [--batch 50] [--waiters 1000] [--out results.md] [--label NAME]
            """;

    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.exit(2);
            return;
        }
        if (o.jar != null) {
            o.agentKey = random();
            o.operatorKey = random();
            Path dir = o.workDir != null ? o.workDir : Files.createTempDirectory("countersign-bench-");
            Path config = dir.resolve("countersign-bench.yaml");
            Files.writeString(config, CONFIG);
            try (ServerProcess server = ServerProcess.builder(o.jar, config, o.dbUrl, dir)
                    .databaseUser(o.dbUser, o.dbPassword)
                    .agentKey("bench-agent", o.agentKey)
                    .operatorKey(o.operatorKey)
                    .jvmArgs(o.serverJvmArgs.isBlank() ? new String[0] : o.serverJvmArgs.trim().split("\\s+"))
                    .build()) {
                Runtime.getRuntime().addShutdownHook(new Thread(server::close, "stop-server")); // Ctrl-C must not leave it running
                long t0 = System.nanoTime();
                server.start().awaitReady(Duration.ofSeconds(120));
                System.out.printf("server pid %d ready at %s in %.1f s (log: %s)%n", server.pid(), server.baseUrl(), (System.nanoTime() - t0) / 1e9, server.log());
                new LoadDriver(o, server.baseUrl(), server.pid()).run();
                int exit = server.stop(Duration.ofSeconds(30));
                System.out.println("server stopped (exit " + exit + ")");
            }
        } else {
            new LoadDriver(o, o.url, o.serverPid).run();
        }
        System.exit(0);
    }

    // ------------------------------------------------------------------------------------------------ run

    private void run() throws Exception {
        String when = java.time.Instant.now().toString();
        report.add("### " + (o.label.isBlank() ? "Results" : o.label) + " (" + when + ")");
        report.add("");
        report.add("server: " + base + (o.dbUrl != null ? ", database " + o.dbUrl.replaceAll("(?i)(password=)[^&;]*", "$1***") : "")
                + (o.jar != null ? ", JVM " + o.serverJvmArgs : "") + "; driver: " + o.jitWarmup + " s JIT warm-up, then " + o.warmup + " s warm-up + "
                + o.duration + " s per level, closed loop; "
                + "load average before: " + loadAverage());
        report.add("");
        report.add("| phase | client threads | completed | per second | p50 ms | p99 ms | p99.9 ms | max ms | errors | server CPU | driver CPU | machine CPU |");
        report.add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        HttpClient probe = client();
        checkSetup(probe);
        if (o.jitWarmup > 0) {
            // A cold JVM on 2 cores needs a minute or two of traffic before C2 has compiled the hot paths:
            // measured levels after 5 s of warm-up only ran at a third of the steady-state rate.
            System.out.println("JIT warm-up: " + o.jitWarmup + " s of low- and high-risk asks, 16 client threads (not measured)");
            closedLoop(null, 16, o.jitWarmup, 0, i -> ask(i % 2 == 0 ? "bench.read" : "bench.high", i), 201);
        }
        if (o.phases.contains("low")) {
            for (int c : o.concurrency) closedLoop("low-risk ask", c, o.warmup, o.duration, i -> ask("bench.read", i), 201);
        }
        if (o.phases.contains("high")) {
            for (int c : o.highConcurrency) closedLoop("high-risk ask (+ timer)", c, o.warmup, o.duration, i -> ask("bench.high", i), 201);
        }
        if (o.phases.contains("client")) {
            for (int c : o.clientConcurrency) clientRoundTrip(c);
        }
        List<String> extra = new ArrayList<>();
        if (o.phases.contains("longpoll")) extra.addAll(decisionToLongPoll());
        if (o.phases.contains("waiters")) extra.addAll(manyWaiters());
        report.add("");
        report.addAll(extra);
        String text = String.join("\n", report) + "\n";
        System.out.println();
        System.out.println(text);
        if (o.out != null) {
            Files.writeString(o.out, text, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        }
    }

    private void checkSetup(HttpClient http) throws Exception {
        HttpResponse<String> low = http.send(ask("bench.read", 0), HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> high = http.send(ask("bench.high", 0), HttpResponse.BodyHandlers.ofString());
        if (low.statusCode() != 201 || !"approved".equals(field(low.body(), "status")) || high.statusCode() != 201 || !"pending".equals(field(high.body(), "status"))) {
            throw new IllegalStateException("the server's rules are not the bench rules (bench.read low, bench.high high; see LoadDriver.CONFIG): "
                    + low.statusCode() + " " + low.body() + " / " + high.statusCode() + " " + high.body());
        }
    }

    // ------------------------------------------------------------------------------------------------ 1, 2: closed loop

    /** {@code threads} clients in a closed loop: {@code warmup} s unrecorded, then {@code duration} s recorded (a null name: warm-up only). */
    private void closedLoop(String name, int threads, int warmup, int duration, IntFunction<HttpRequest> request, int expected) throws Exception {
        int clients = Math.max(1, (threads + 15) / 16);
        List<HttpClient> pool = new ArrayList<>();
        for (int i = 0; i < clients; i++) pool.add(client());
        closedLoop(name, threads, warmup, duration, (t, i) -> {
            HttpResponse<String> r = pool.get(t % clients).send(request.apply(i), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == expected ? null : "HTTP " + r.statusCode() + " " + r.body();
        });
    }

    /** One call of a closed loop: null when it succeeded, else what went wrong. */
    interface Call {
        String call(int thread, int i) throws IOException, InterruptedException;
    }

    /** {@code threads} callers in a closed loop: {@code warmup} s unrecorded, then {@code duration} s recorded (a null name: warm-up only). */
    private void closedLoop(String name, int threads, int warmup, int duration, Call call) throws Exception {
        long start = System.nanoTime();
        long measureFrom = start + TimeUnit.SECONDS.toNanos(warmup);
        long measureTo = measureFrom + TimeUnit.SECONDS.toNanos(duration);
        Histogram[] hist = new Histogram[threads];
        long[] ok = new long[threads];
        long[] errors = new long[threads];
        List<String> firstErrors = java.util.Collections.synchronizedList(new ArrayList<>());
        Thread[] ts = new Thread[threads];
        CpuMark[] mark = new CpuMark[1];
        for (int t = 0; t < threads; t++) {
            int me = t;
            hist[t] = new Histogram(MAX_MICROS, 3);
            ts[t] = new Thread(() -> {
                int i = me * 10_000_000;
                while (true) {
                    long t0 = System.nanoTime();
                    if (t0 >= measureTo) return;
                    boolean good;
                    try {
                        String error = call.call(me, i++);
                        good = error == null;
                        if (!good && firstErrors.size() < 5) firstErrors.add(error);
                    } catch (IOException | RuntimeException e) {
                        good = false;
                        if (firstErrors.size() < 5) firstErrors.add(e.toString());
                    } catch (InterruptedException e) {
                        return;
                    }
                    long t1 = System.nanoTime();
                    if (t0 >= measureFrom && t1 <= measureTo) {
                        if (good) {
                            ok[me]++;
                            hist[me].recordValue(Math.min(MAX_MICROS, (t1 - t0) / 1000));
                        } else {
                            errors[me]++;
                        }
                    }
                }
            }, "client-" + t);
            ts[t].start();
        }
        sleepUntil(measureFrom);
        mark[0] = CpuMark.now(serverPid);
        sleepUntil(measureTo);
        CpuMark end = CpuMark.now(serverPid);
        for (Thread t : ts) t.join(TimeUnit.SECONDS.toMillis(130));
        Histogram all = new Histogram(MAX_MICROS, 3);
        long n = 0;
        long e = 0;
        for (int t = 0; t < threads; t++) {
            all.add(hist[t]);
            n += ok[t];
            e += errors[t];
        }
        if (name == null) return; // warm-up only
        double secs = duration;
        row(name, Integer.toString(threads), n, n / secs, all, e, mark[0].until(end));
        if (!firstErrors.isEmpty()) System.out.println("  first errors: " + firstErrors);
    }

    // ------------------------------------------------------------------------------------------------ 5: the Java client

    /**
     * The Java client's ask → approved round trip for low risk, as an agent sees it: {@code executeWithApproval}
     * (a fresh Idempotency-Key per ask, JSON both ways, the approval parsed) whose task runs once approved by
     * policy; one client (its own HttpClient, keep-alive) per 16 threads.
     */
    private void clientRoundTrip(int threads) throws Exception {
        int n = Math.max(1, (threads + 15) / 16);
        List<Countersign> clients = new ArrayList<>();
        for (int i = 0; i < n; i++) clients.add(Countersign.builder().url(base).agentKey(o.agentKey).build());
        Context context = Context.builder().runId("bench").reason("benchmark").build();
        closedLoop("Java client: ask → approved (low risk)", threads, o.warmup, o.duration, (t, i) -> {
            try {
                String ran = clients.get(t % n).executeWithApproval(
                        Action.of("bench.read", "client round trip " + seq.incrementAndGet(), java.util.Map.of("n", i, "table", "customers")),
                        context, () -> "ran");
                return "ran".equals(ran) ? null : "the task did not run";
            } catch (IOException | InterruptedException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                return e.toString();
            }
        });
    }

    // ------------------------------------------------------------------------------------------------ 3: decision → long-poll

    private List<String> decisionToLongPoll() throws Exception {
        HttpClient agents = client();
        HttpClient operator = client();
        Histogram wake = new Histogram(MAX_MICROS, 3);
        Histogram decide = new Histogram(MAX_MICROS, 3);
        int rounds = (o.decisions + o.batch - 1) / o.batch;
        int early = 0;
        int wrong = 0;
        CpuMark m0 = CpuMark.now(serverPid);
        long started = System.nanoTime();
        for (int r = 0; r < rounds; r++) {
            List<String> ids = createPending(agents, o.batch, 16);
            List<CompletableFuture<Long>> returned = new ArrayList<>();
            List<CompletableFuture<HttpResponse<String>>> polls = new ArrayList<>();
            for (String id : ids) {
                CompletableFuture<HttpResponse<String>> poll = agents.sendAsync(get(id, 30, o.agentKey), HttpResponse.BodyHandlers.ofString());
                polls.add(poll);
                returned.add(poll.thenApply(x -> System.nanoTime()));
            }
            Thread.sleep(300); // let every long-poll reach the server and park
            for (int i = 0; i < ids.size(); i++) {
                if (polls.get(i).isDone()) early++;
                String outcome = i % 2 == 0 ? "approve" : "reject";
                long t0 = System.nanoTime();
                HttpResponse<String> d = operator.send(decision(ids.get(i), outcome, i % 2 == 0 ? "alice" : "bob"), HttpResponse.BodyHandlers.ofString());
                long t1 = System.nanoTime();
                if (d.statusCode() != 200) throw new IllegalStateException("decision: HTTP " + d.statusCode() + " " + d.body());
                decide.recordValue((t1 - t0) / 1000);
                long back = returned.get(i).get(35, TimeUnit.SECONDS);
                HttpResponse<String> p = polls.get(i).get();
                String status = field(p.body(), "status");
                if (p.statusCode() != 200 || !(outcome.equals("approve") ? "approved" : "rejected").equals(status)) wrong++;
                wake.recordValue(Math.max(0, back - t0) / 1000);
            }
        }
        double secs = (System.nanoTime() - started) / 1e9;
        CpuMark m1 = CpuMark.now(serverPid);
        List<String> out = new ArrayList<>();
        out.add("**Decision → waiting agent** (" + wake.getTotalCount() + " decisions, " + rounds + " rounds of " + o.batch
                + " agents each holding `GET /api/v1/approvals/{id}?wait=30`; one operator decides them one by one; time from sending"
                + " `POST …/decision` to the long-poll's response, same JVM clock; " + String.format(Locale.ROOT, "%.1f s", secs) + ")");
        out.add("");
        out.add("| measure | n | p50 ms | p99 ms | p99.9 ms | max ms |");
        out.add("|---|---:|---:|---:|---:|---:|");
        out.add(String.format(Locale.ROOT, "| decision sent → long-poll returned | %d | %s | %s | %s | %s |", wake.getTotalCount(), ms(wake, 50), ms(wake, 99), ms(wake, 99.9), ms(wake.getMaxValue())));
        out.add(String.format(Locale.ROOT, "| decision request (POST …/decision) | %d | %s | %s | %s | %s |", decide.getTotalCount(), ms(decide, 50), ms(decide, 99), ms(decide, 99.9), ms(decide.getMaxValue())));
        out.add("");
        out.add("long-polls that returned before their decision: " + early + "; with a wrong or missing outcome: " + wrong + "; " + m0.until(m1).describe());
        out.add("");
        return out;
    }

    // ------------------------------------------------------------------------------------------------ 4: many waiters at once

    private List<String> manyWaiters() throws Exception {
        int n = o.waiters;
        HttpClient agents = client();
        HttpClient operator = client();
        List<String> ids = createPending(agents, n, 16);
        String before = threads();
        long[] back = new long[n];
        AtomicLongArray sent = new AtomicLongArray(n);
        AtomicInteger wrong = new AtomicInteger();
        HttpClient waiting = client(); // its own connections: one per held request
        List<CompletableFuture<Void>> polls = new ArrayList<>();
        long opened = System.nanoTime();
        for (int i = 0; i < n; i++) {
            int me = i;
            polls.add(waiting.sendAsync(get(ids.get(i), 60, o.agentKey), HttpResponse.BodyHandlers.ofString()).thenAccept(r -> {
                back[me] = System.nanoTime();
                String s = field(r.body(), "status");
                if (r.statusCode() != 200 || !("approved".equals(s) || "rejected".equals(s))) wrong.incrementAndGet();
            }));
        }
        Thread.sleep(3000); // all requests on the wire and parked
        long doneEarly = polls.stream().filter(CompletableFuture::isDone).count();
        String during = threads();
        Thread.sleep(1000);
        String during2 = threads();
        long held = n - polls.stream().filter(CompletableFuture::isDone).count();

        ExecutorService deciders = Executors.newFixedThreadPool(8);
        Semaphore gate = new Semaphore(8);
        CpuMark m0 = CpuMark.now(serverPid);
        long releaseStart = System.nanoTime();
        List<CompletableFuture<Void>> ds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int me = i;
            gate.acquire();
            ds.add(CompletableFuture.runAsync(() -> {
                try {
                    String outcome = me % 2 == 0 ? "approve" : "reject";
                    sent.set(me, System.nanoTime());
                    HttpResponse<Void> d = operator.send(decision(ids.get(me), outcome, me % 2 == 0 ? "alice" : "bob"), HttpResponse.BodyHandlers.discarding());
                    if (d.statusCode() != 200) wrong.incrementAndGet();
                } catch (Exception e) {
                    wrong.incrementAndGet();
                } finally {
                    gate.release();
                }
            }, deciders));
        }
        CompletableFuture.allOf(ds.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        CompletableFuture.allOf(polls.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        long releaseEnd = 0;
        Histogram wake = new Histogram(MAX_MICROS, 3);
        for (int i = 0; i < n; i++) {
            releaseEnd = Math.max(releaseEnd, back[i]);
            wake.recordValue(Math.max(0, back[i] - sent.get(i)) / 1000);
        }
        CpuMark m1 = CpuMark.now(serverPid);
        deciders.shutdownNow();
        String after = threads();
        List<String> out = new ArrayList<>();
        out.add("**" + n + " long-polls held at once** (" + n + " pending approvals, one `GET …?wait=60` each, sent with `sendAsync` on "
                + n + " connections; then 8 operator threads decide them all)");
        out.add("");
        out.add("| measure | value |");
        out.add("|---|---|");
        out.add("| long-polls held 3–4 s after sending | " + held + " of " + n + " (" + doneEarly + " returned early) |");
        out.add("| server threads before / while held / after | " + before + " / " + during + ", " + during2 + " / " + after + " |");
        out.add(String.format(Locale.ROOT, "| released by %d decisions in | %.2f s (%.0f decisions/s) |", n, (releaseEnd - releaseStart) / 1e9, n / ((releaseEnd - releaseStart) / 1e9)));
        out.add(String.format(Locale.ROOT, "| decision sent → its long-poll returned, p50 / p99 / max | %s / %s / %s ms |", ms(wake, 50), ms(wake, 99), ms(wake.getMaxValue())));
        out.add("| wrong outcome or failed request | " + wrong.get() + " |");
        out.add("| CPU while releasing | " + m0.until(m1).describe() + " |");
        out.add("");
        return out;
    }

    /** Creates {@code n} pending (high-risk) approvals, {@code parallel} at a time; returns their ids in order. */
    private List<String> createPending(HttpClient http, int n, int parallel) throws Exception {
        String[] ids = new String[n];
        Semaphore gate = new Semaphore(parallel);
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int me = i;
            gate.acquire();
            all.add(http.sendAsync(ask("bench.high", i), HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> gate.release()).thenAccept(r -> {
                if (r.statusCode() != 201) throw new IllegalStateException("ask: HTTP " + r.statusCode() + " " + r.body());
                ids[me] = field(r.body(), "id");
            }));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        return List.of(ids);
    }

    // ------------------------------------------------------------------------------------------------ HTTP

    private static HttpClient client() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    private HttpRequest ask(String type, int i) {
        String body = "{\"action\":{\"type\":\"" + type + "\",\"summary\":\"load driver ask " + seq.incrementAndGet()
                + "\",\"params\":{\"n\":" + i + ",\"table\":\"customers\"}},\"agent\":{\"run_id\":\"bench\"},"
                + "\"context\":{\"reason\":\"benchmark\",\"impact\":\"none\"}}";
        return HttpRequest.newBuilder(URI.create(base + "/api/v1/approvals")).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + o.agentKey).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private HttpRequest get(String id, int waitSeconds, String key) {
        return HttpRequest.newBuilder(URI.create(base + "/api/v1/approvals/" + id + "?wait=" + waitSeconds)).timeout(Duration.ofSeconds(waitSeconds + 30))
                .header("Authorization", "Bearer " + key).GET().build();
    }

    private HttpRequest decision(String id, String outcome, String as) {
        String body = "{\"outcome\":\"" + outcome + "\",\"as\":\"" + as + "\",\"comment\":\"load driver\"}";
        return HttpRequest.newBuilder(URI.create(base + "/api/v1/approvals/" + id + "/decision")).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + o.operatorKey).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    /** The server's threads: {@code jvm_threads_live_threads} from /metrics, and the OS count from /proc when the pid is known. */
    private String threads() {
        String live = "?";
        try {
            HttpResponse<String> r = client().send(HttpRequest.newBuilder(URI.create(base + "/metrics")).timeout(Duration.ofSeconds(10)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            for (String line : r.body().split("\n")) {
                if (line.startsWith("jvm_threads_live_threads ")) live = line.substring(line.indexOf(' ') + 1).replaceAll("\\.0$", "");
            }
        } catch (Exception e) {
            live = "? (" + e.getClass().getSimpleName() + ")";
        }
        if (serverPid != null) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/" + serverPid + "/status"))) {
                    if (line.startsWith("Threads:")) return live + " (OS: " + line.substring(8).trim() + ")";
                }
            } catch (IOException ignored) {
                // not Linux, or gone
            }
        }
        return live;
    }

    private static String loadAverage() {
        try {
            return String.join(" ", java.util.Arrays.copyOf(Files.readString(Path.of("/proc/loadavg")).trim().split(" "), 3));
        } catch (IOException e) {
            return "?";
        }
    }

    /** The first {@code "name":"value"} (string) or {@code "name":value} in a JSON text. The API's approval starts with id and status. */
    static String field(String json, String name) {
        String key = "\"" + name + "\":";
        int at = json.indexOf(key);
        if (at < 0) return null;
        int v = at + key.length();
        if (json.charAt(v) == '"') return json.substring(v + 1, json.indexOf('"', v + 1));
        int end = v;
        while (end < json.length() && ",}]".indexOf(json.charAt(end)) < 0) end++;
        return json.substring(v, end);
    }

    // ------------------------------------------------------------------------------------------------ output

    private void row(String name, String threads, long n, double perSecond, Histogram h, long errors, CpuUse cpu) {
        String line = String.format(Locale.ROOT, "| %s | %s | %d | %,.0f | %s | %s | %s | %s | %d | %s | %s | %s |", name, threads, n, perSecond,
                ms(h, 50), ms(h, 99), ms(h, 99.9), ms(h.getMaxValue()), errors, cpu.server(), cpu.driver(), cpu.machine());
        report.add(line);
        System.out.println(line);
    }

    private static String ms(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? "-" : ms(h.getValueAtPercentile(percentile));
    }

    private static String ms(long micros) {
        double m = micros / 1000.0;
        return m < 10 ? String.format(Locale.ROOT, "%.2f", m) : m < 100 ? String.format(Locale.ROOT, "%.1f", m) : String.format(Locale.ROOT, "%.0f", m);
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) Thread.sleep(Math.max(1, left / 1_000_000));
    }

    private static String random() {
        byte[] b = new byte[18];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    // ------------------------------------------------------------------------------------------------ CPU accounting

    /** CPU used between two marks, as % of one core: the server process, this driver, and the whole machine (incl. PostgreSQL). */
    record CpuUse(double wallSeconds, double serverCores, double driverCores, double machineBusy, int cores) {
        String server() {
            return Double.isNaN(serverCores) ? "?" : String.format(Locale.ROOT, "%.0f%%", serverCores * 100);
        }

        String driver() {
            return String.format(Locale.ROOT, "%.0f%%", driverCores * 100);
        }

        String machine() {
            return Double.isNaN(machineBusy) ? "?" : String.format(Locale.ROOT, "%.0f%% of %d cores", machineBusy * 100, cores);
        }

        String describe() {
            return "server " + server() + ", driver " + driver() + " of one core; machine " + machine() + " busy";
        }
    }

    record CpuMark(long nanos, long serverTicks, long driverNanos, long[] machine) {
        static CpuMark now(Long pid) {
            long server = -1;
            if (pid != null) {
                try {
                    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    server = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime (fields 14, 15)
                } catch (IOException | RuntimeException ignored) {
                    // not Linux
                }
            }
            long driver = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
            long[] machine = null;
            try {
                String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
                long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
                long total = 0;
                for (int i = 1; i < Math.min(f.length, 9); i++) total += Long.parseLong(f[i]);
                machine = new long[] {total, idle};
            } catch (IOException | RuntimeException ignored) {
                // not Linux
            }
            return new CpuMark(System.nanoTime(), server, driver, machine);
        }

        CpuUse until(CpuMark end) {
            double wall = (end.nanos - nanos) / 1e9;
            double ticksPerSecond = 100.0; // USER_HZ on Linux
            double server = serverTicks < 0 || end.serverTicks < 0 ? Double.NaN : (end.serverTicks - serverTicks) / ticksPerSecond / wall;
            double driver = (end.driverNanos - driverNanos) / 1e9 / wall;
            double busy = Double.NaN;
            if (machine != null && end.machine != null) {
                double total = end.machine[0] - machine[0];
                busy = total <= 0 ? Double.NaN : 1 - (end.machine[1] - machine[1]) / total;
            }
            return new CpuUse(wall, server, driver, busy, Runtime.getRuntime().availableProcessors());
        }
    }
}
