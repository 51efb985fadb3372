package dev.countersign.server.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@code java -jar countersign.jar serve} as a child process: start it, wait for {@code /readyz}, stop it
 * (SIGTERM), kill it ({@code kill -9}) and start it again on the same database; and run the jar's other
 * commands ({@code audit verify}, {@code audit export}) with the same environment.
 *
 * <p>JDK only, so the load driver in {@code bench/} can use it too (through bot-server's test-jar).
 * Output goes to a log file, never a pipe, so a chatty server can never block on a full pipe.
 * Every wait is bounded. Not thread-safe: one controlling thread.
 */
public final class ServerProcess implements AutoCloseable {
    /** Exit status of a process ended by SIGKILL, as {@link Process#exitValue()} reports it on Linux (128 + 9). */
    public static final int SIGKILL_EXIT = 137;

    private final Path jar;
    private final Map<String, String> env;
    private final List<String> jvmArgs;
    private final Path log;
    private final int port;
    private Process process;
    private int starts;

    private ServerProcess(Path jar, Map<String, String> env, List<String> jvmArgs, Path log, int port) {
        this.jar = jar;
        this.env = env;
        this.jvmArgs = jvmArgs;
        this.log = log;
        this.port = port;
    }

    /**
     * @param jar    the runnable jar
     * @param config the YAML config (COUNTERSIGN_CONFIG)
     * @param dbUrl  COUNTERSIGN_DATABASE_URL
     * @param logDir where {@code server.log} (appended across restarts) goes
     */
    public static Builder builder(Path jar, Path config, String dbUrl, Path logDir) {
        return new Builder(jar, config, dbUrl, logDir);
    }

    /** Settings of the child process. The inherited environment is kept, minus every COUNTERSIGN_, SLACK_ and TEAMS_ variable. */
    public static final class Builder {
        private final Path jar;
        private final Path logDir;
        private final Map<String, String> env = new LinkedHashMap<>();
        private final List<String> jvmArgs = new ArrayList<>();
        private int port;

        private Builder(Path jar, Path config, String dbUrl, Path logDir) {
            this.jar = jar.toAbsolutePath();
            this.logDir = logDir;
            env.put("COUNTERSIGN_CONFIG", config.toAbsolutePath().toString());
            env.put("COUNTERSIGN_DATABASE_URL", dbUrl);
        }

        public Builder databaseUser(String user, String password) {
            if (user != null) env.put("COUNTERSIGN_DATABASE_USER", user);
            if (password != null && !password.isEmpty()) env.put("COUNTERSIGN_DATABASE_PASSWORD", password);
            return this;
        }

        /** Adds {@code agentId:key} to COUNTERSIGN_AGENT_KEYS. */
        public Builder agentKey(String agentId, String key) {
            env.merge("COUNTERSIGN_AGENT_KEYS", agentId + ":" + key, (a, b) -> a + "," + b);
            return this;
        }

        /** Adds a key to COUNTERSIGN_OPERATOR_KEYS. */
        public Builder operatorKey(String key) {
            env.merge("COUNTERSIGN_OPERATOR_KEYS", key, (a, b) -> a + "," + b);
            return this;
        }

        public Builder env(String name, String value) {
            env.put(name, value);
            return this;
        }

        /** JVM options of the server, e.g. {@code -Xmx1g}. */
        public Builder jvmArgs(String... args) {
            jvmArgs.addAll(List.of(args));
            return this;
        }

        /** Default: a free port picked now (the same one on every restart). */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public ServerProcess build() {
            if (!Files.isRegularFile(jar)) {
                throw new IllegalStateException("no jar at " + jar + ": build it first (./mvnw -q -o install -DskipTests)");
            }
            int p = port > 0 ? port : freePort();
            env.put("COUNTERSIGN_PORT", Integer.toString(p));
            env.putIfAbsent("COUNTERSIGN_PUBLIC_URL", "http://127.0.0.1:" + p);
            try {
                Files.createDirectories(logDir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new ServerProcess(jar, Map.copyOf(env), List.copyOf(jvmArgs), logDir.resolve("server.log"), p);
        }
    }

    /** Starts {@code serve} (the previous run must have ended). Does not wait: see {@link #awaitReady}. */
    public ServerProcess start() {
        if (process != null && process.isAlive()) throw new IllegalStateException("already running as pid " + process.pid());
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary());
        cmd.addAll(jvmArgs);
        cmd.add("-jar");
        cmd.add(jar.toString());
        cmd.add("serve");
        try {
            Files.writeString(log, "==== start " + (++starts) + ": " + String.join(" ", cmd) + "\n", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            ProcessBuilder pb = processBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            process = pb.start();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + cmd, e);
        }
    }

    /** Waits until {@code GET /readyz} answers 200; fails at once if the process dies, with the log's tail. */
    public ServerProcess awaitReady(Duration max) {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(1)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create(baseUrl() + "/readyz")).timeout(Duration.ofSeconds(2)).GET().build();
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the server exited with " + process.exitValue() + " before it was ready\n" + logTail(60));
            }
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return this;
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            sleep(100);
        }
        throw new IllegalStateException("the server was not ready within " + max + "\n" + logTail(60));
    }

    /**
     * {@code kill -9}: SIGKILL (what {@link Process#destroyForcibly()} sends on Linux), then checks that the
     * process is gone and that it died of SIGKILL (exit status 137), not of a shutdown hook.
     */
    public void killHard() {
        Process p = requireRunning();
        long pid = p.pid();
        p.destroyForcibly();
        int exit = waitForExit(p, Duration.ofSeconds(30));
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isPresent() && handle.get().isAlive()) {
            throw new IllegalStateException("pid " + pid + " is still alive after SIGKILL");
        }
        if (exit != SIGKILL_EXIT) {
            throw new IllegalStateException("pid " + pid + " ended with " + exit + ", not " + SIGKILL_EXIT + " (SIGKILL)");
        }
    }

    /** Graceful stop: SIGTERM (the shutdown hook closes the server), SIGKILL after {@code max}. Returns the exit status. */
    public int stop(Duration max) {
        Process p = process;
        if (p == null) return -1;
        if (!p.isAlive()) return p.exitValue();
        p.destroy();
        try {
            if (p.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) return p.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        p.destroyForcibly();
        return waitForExit(p, Duration.ofSeconds(30));
    }

    /** The result of one CLI run. */
    public record CliResult(int exit, String stdout, String stderr) {}

    /**
     * Runs {@code java -jar countersign.jar <args>} with the server's environment (database, keys, config) and
     * waits at most {@code max}. For H2, stop the server first: an H2 file opens in one process only.
     */
    public CliResult runCli(Duration max, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary());
        cmd.add("-jar");
        cmd.add(jar.toString());
        cmd.addAll(List.of(args));
        Path out = null;
        Path err = null;
        try {
            out = Files.createTempFile(log.getParent(), "cli-", ".out");
            err = Files.createTempFile(log.getParent(), "cli-", ".err");
            Process p = processBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                waitForExit(p, Duration.ofSeconds(30));
                throw new IllegalStateException("timed out after " + max + ": " + String.join(" ", args) + "\n" + Files.readString(err));
            }
            return new CliResult(p.exitValue(), Files.readString(out), Files.readString(err));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    public long pid() {
        return requireRunning().pid();
    }

    public int port() {
        return port;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    public Path log() {
        return log;
    }

    /** The child's environment as set by the builder (for reports; holds keys, so do not log it whole). */
    public Map<String, String> env() {
        return env;
    }

    /** The last {@code lines} lines of the server log. */
    public String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return "--- " + log + " (last " + lines + " lines) ---\n" + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no server log at " + log + ")";
        }
    }

    /** Kills a server still running (a failed test must not leave one behind). */
    @Override
    public void close() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            waitForExit(process, Duration.ofSeconds(30));
        }
    }

    /** A TCP port free on 127.0.0.1 right now. */
    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The {@code java} of the running JVM. */
    public static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private ProcessBuilder processBuilder(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .directory(log.getParent().toFile());
        Map<String, String> e = pb.environment();
        e.keySet().removeIf(k -> k.startsWith("COUNTERSIGN_") || k.startsWith("SLACK_") || k.startsWith("TEAMS_"));
        e.putAll(env);
        pb.redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        return pb;
    }

    private Process requireRunning() {
        if (process == null || !process.isAlive()) throw new IllegalStateException("the server is not running");
        return process;
    }

    private static int waitForExit(Process p, Duration max) {
        try {
            if (!p.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("pid " + p.pid() + " did not exit within " + max);
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p == null) return;
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // temp file
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
