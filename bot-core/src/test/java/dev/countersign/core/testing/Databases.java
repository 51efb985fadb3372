package dev.countersign.core.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Real databases for tests.
 *
 * <ul>
 *   <li>{@link #h2(Path)}: an embedded H2 file database in a directory the test owns.</li>
 *   <li>{@link #postgres()}: a fresh, empty PostgreSQL database per call, all on one server
 *       shared by the whole JVM. The server is {@code COUNTERSIGN_TEST_PG_URL} (plus
 *       {@code COUNTERSIGN_TEST_PG_USER} / {@code COUNTERSIGN_TEST_PG_PASSWORD}) when set;
 *       otherwise a throwaway cluster started once from Debian's binaries in
 *       {@code /usr/lib/postgresql/<version>/bin} and torn down by a shutdown hook.
 *       Missing PostgreSQL is an error, never a silent skip.</li>
 * </ul>
 *
 * <p>Thread-safe: tests may call these concurrently.
 */
public final class Databases {

    /** Connection details for one test database; {@code label} is "H2" or "PostgreSQL". */
    public record DataSourceSpec(String url, String user, String password, String label) {
        /** Opens a plain JDBC connection (the caller closes it). */
        public Connection connect() throws SQLException {
            return DriverManager.getConnection(url, user, password);
        }

        @Override
        public String toString() {
            return label; // keeps parameterized test names short and free of temp paths
        }
    }

    static final String ENV_URL = "COUNTERSIGN_TEST_PG_URL";
    static final String ENV_USER = "COUNTERSIGN_TEST_PG_USER";
    static final String ENV_PASSWORD = "COUNTERSIGN_TEST_PG_PASSWORD";
    static final String MISSING_POSTGRES =
            "install PostgreSQL (`apt-get install postgresql`) or set COUNTERSIGN_TEST_PG_URL";

    private static final Path PG_LIB = Path.of("/usr/lib/postgresql");
    private static final String JDBC_PG = "jdbc:postgresql:";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);

    private static final Object LOCK = new Object();
    private static Server server;            // guarded by LOCK
    private static RuntimeException failure; // guarded by LOCK; first start failure, rethrown later

    private Databases() {
    }

    /** An embedded H2 file database {@code <dir>/countersign}. */
    public static DataSourceSpec h2(Path dir) {
        String path = dir.toAbsolutePath().normalize().toString().replace('\\', '/');
        return new DataSourceSpec(
                "jdbc:h2:file:" + path + "/countersign;WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE",
                "sa", "", "H2");
    }

    /** A new, empty PostgreSQL database (unique name {@code cs_test_<random>}) on the shared server. */
    public static DataSourceSpec postgres() {
        Server s = server();
        String name = "cs_test_" + UUID.randomUUID().toString().replace("-", "");
        s.createDatabase(name);
        return new DataSourceSpec(withDatabase(s.adminUrl, name), s.user, s.password, "PostgreSQL");
    }

    private static Server server() {
        synchronized (LOCK) {
            if (server != null) {
                return server;
            }
            if (failure != null) {
                throw new IllegalStateException("PostgreSQL test server failed to start earlier", failure);
            }
            try {
                String url = System.getenv(ENV_URL);
                server = url != null && !url.isBlank()
                        ? Server.external(url.trim(),
                                Optional.ofNullable(System.getenv(ENV_USER)).orElse("postgres"),
                                Optional.ofNullable(System.getenv(ENV_PASSWORD)).orElse(""))
                        : LocalCluster.start();
                return server;
            } catch (RuntimeException e) {
                failure = e;
                throw e;
            }
        }
    }

    /** Replaces the database of a {@code jdbc:postgresql:} URL, keeping hosts and parameters. */
    static String withDatabase(String url, String database) {
        if (!url.startsWith(JDBC_PG)) {
            throw new IllegalArgumentException("not a PostgreSQL JDBC URL: " + url);
        }
        String rest = url.substring(JDBC_PG.length());
        int q = rest.indexOf('?');
        String query = q >= 0 ? rest.substring(q) : "";
        String target = q >= 0 ? rest.substring(0, q) : rest;
        if (!target.startsWith("//")) {
            return JDBC_PG + database + query; // jdbc:postgresql:db
        }
        int slash = target.indexOf('/', 2);
        String hosts = slash >= 0 ? target.substring(0, slash) : target;
        return JDBC_PG + hosts + "/" + database + query;
    }

    // ---------------------------------------------------------------- server

    private static class Server {
        final String adminUrl;
        final String user;
        final String password;
        private final List<String> created = new CopyOnWriteArrayList<>();

        Server(String adminUrl, String user, String password) {
            this.adminUrl = adminUrl;
            this.user = user;
            this.password = password;
        }

        /** A server someone else runs: drop what we created when the JVM exits (best effort). */
        static Server external(String url, String user, String password) {
            Server s = new Server(url, user, password);
            try (Connection c = s.admin()) {
                c.isValid(5);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot connect to " + ENV_URL + "=" + url + " as " + user, e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(s::dropCreated, "countersign-pg-cleanup"));
            return s;
        }

        Connection admin() throws SQLException {
            Properties p = new Properties();
            p.setProperty("user", user);
            p.setProperty("password", password);
            p.setProperty("connectTimeout", "10");
            return DriverManager.getConnection(adminUrl, p);
        }

        void createDatabase(String name) {
            // template0 is guaranteed empty and never has connections (template1 might have either).
            String sql = "CREATE DATABASE \"" + name + "\" TEMPLATE template0";
            for (int attempt = 1; ; attempt++) {
                try (Connection c = admin(); Statement st = c.createStatement()) {
                    st.execute(sql);
                    created.add(name);
                    return;
                } catch (SQLException e) {
                    // 55006 object_in_use: template busy; transient, retry a few times
                    if (!"55006".equals(e.getSQLState()) || attempt >= 5) {
                        throw new IllegalStateException("cannot create test database " + name + " on " + adminUrl, e);
                    }
                    sleep(200L * attempt);
                }
            }
        }

        void dropCreated() {
            if (created.isEmpty()) {
                return;
            }
            try (Connection c = admin(); Statement st = c.createStatement()) {
                for (String name : created) {
                    try {
                        st.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)"); // PG 13+
                    } catch (SQLException e) {
                        try {
                            st.execute("DROP DATABASE IF EXISTS \"" + name + "\"");
                        } catch (SQLException ignored) {
                            // best effort
                        }
                    }
                }
            } catch (SQLException ignored) {
                // best effort: the server may already be gone
            }
        }
    }

    /** A throwaway cluster in a temp dir, started once per JVM from Debian's PostgreSQL binaries. */
    private static final class LocalCluster {

        static Server start() {
            Path bin = findBinDir();
            Path dir = clusterDir();
            boolean root = isRoot(dir);
            Path data = dir.resolve("data");
            Path serverLog = dir.resolve("postgres.log");
            List<String> prefix = root ? List.of("runuser", "-u", "postgres", "--") : List.of();
            String pgCtl = bin.resolve("pg_ctl").toString();
            boolean[] started = {false};
            Runnable teardown = () -> {
                if (started[0]) {
                    run(dir, prefix, Duration.ofSeconds(60), false,
                            pgCtl, "stop", "-D", data.toString(), "-m", "immediate", "-w");
                }
                deleteRecursively(dir);
            };
            try {
                if (root) {
                    // initdb/postgres refuse to run as root: run them as the "postgres" user in a dir it owns
                    UserPrincipal pg = dir.getFileSystem().getUserPrincipalLookupService()
                            .lookupPrincipalByName("postgres");
                    Files.setOwner(dir, pg);
                }
                run(dir, prefix, START_TIMEOUT, true,
                        bin.resolve("initdb").toString(), "-D", data.toString(),
                        "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C");

                IllegalStateException lastFailure = null;
                for (int attempt = 1; attempt <= 3; attempt++) { // a free port can be grabbed in between
                    int port = freePort();
                    String options = String.join(" ",
                            "-c listen_addresses=127.0.0.1",
                            "-c port=" + port,
                            "-c unix_socket_directories='" + dir + "'",
                            "-c fsync=on",
                            "-c synchronous_commit=on",
                            "-c max_connections=300",
                            "-c shared_buffers=256MB");
                    try {
                        run(dir, prefix, START_TIMEOUT.plusSeconds(10), true,
                                pgCtl, "start", "-w", "-t", String.valueOf(START_TIMEOUT.toSeconds()),
                                "-D", data.toString(), "-l", serverLog.toString(), "-o", options);
                    } catch (IllegalStateException e) {
                        lastFailure = e;
                        // make sure nothing half-started is left before trying another port
                        run(dir, prefix, Duration.ofSeconds(60), false,
                                pgCtl, "stop", "-D", data.toString(), "-m", "immediate", "-w");
                        continue;
                    }
                    started[0] = true;
                    Server s = new Server("jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", "");
                    awaitConnectable(s, serverLog);
                    Runtime.getRuntime().addShutdownHook(new Thread(teardown, "countersign-pg-stop"));
                    return s;
                }
                throw new IllegalStateException(lastFailure.getMessage() + "\n" + tail(serverLog), lastFailure);
            } catch (IOException e) {
                teardown.run();
                throw new UncheckedIOException("cannot start a PostgreSQL test cluster in " + dir, e);
            } catch (RuntimeException e) {
                teardown.run();
                throw e;
            }
        }

        /** A new temp dir; as root, one the postgres user can reach (java.io.tmpdir may be under /root). */
        static Path clusterDir() {
            try {
                Path dir = Files.createTempDirectory("countersign-pg-");
                if (isRoot(dir) && !traversableByOthers(dir.getParent())) {
                    Files.delete(dir);
                    dir = Files.createTempDirectory(Path.of("/tmp"), "countersign-pg-");
                }
                return dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** Highest {@code /usr/lib/postgresql/<version>/bin} that has initdb and pg_ctl. */
        static Path findBinDir() {
            List<Path> candidates = new ArrayList<>();
            if (Files.isDirectory(PG_LIB)) {
                try (Stream<Path> versions = Files.list(PG_LIB)) {
                    versions.filter(v -> v.getFileName().toString().matches("\\d+(\\.\\d+)*"))
                            .filter(v -> Files.isExecutable(v.resolve("bin/initdb"))
                                    && Files.isExecutable(v.resolve("bin/pg_ctl")))
                            .forEach(candidates::add);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            return candidates.stream()
                    .max(Comparator.comparing(v -> v.getFileName().toString(), LocalCluster::compareVersions))
                    .map(v -> v.resolve("bin"))
                    .orElseThrow(() -> new IllegalStateException(
                            "No PostgreSQL server binaries in " + PG_LIB + "/<version>/bin: " + MISSING_POSTGRES));
        }

        static int compareVersions(String a, String b) {
            String[] x = a.split("\\.");
            String[] y = b.split("\\.");
            for (int i = 0; i < Math.max(x.length, y.length); i++) {
                int c = Integer.compare(i < x.length ? Integer.parseInt(x[i]) : 0,
                        i < y.length ? Integer.parseInt(y[i]) : 0);
                if (c != 0) {
                    return c;
                }
            }
            return 0;
        }

        /** Effective uid 0? Judged from the owner of a dir we just created, else from user.name. */
        static boolean isRoot(Path justCreated) {
            try {
                return ((Integer) Files.getAttribute(justCreated, "unix:uid")) == 0;
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                return "root".equals(System.getProperty("user.name"));
            }
        }

        static boolean traversableByOthers(Path dir) {
            for (Path p = dir.toAbsolutePath(); p != null; p = p.getParent()) {
                try {
                    if (!Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                        return false;
                    }
                } catch (IOException | UnsupportedOperationException e) {
                    return false;
                }
            }
            return true;
        }

        static int freePort() {
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
                s.setReuseAddress(true);
                return s.getLocalPort();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        static void awaitConnectable(Server s, Path serverLog) {
            long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
            SQLException last = null;
            while (System.nanoTime() < deadline) {
                try (Connection c = s.admin(); Statement st = c.createStatement()) {
                    st.execute("select 1");
                    return;
                } catch (SQLException e) {
                    last = e;
                    sleep(100);
                }
            }
            throw new IllegalStateException("PostgreSQL test cluster never accepted connections at "
                    + s.adminUrl + "\n" + tail(serverLog), last);
        }

        /**
         * Runs a command (behind {@code prefix}, e.g. runuser) in {@code cwd}, output to a file.
         * Output goes to a file rather than a pipe so a daemonised postmaster can never hold us up.
         */
        static void run(Path cwd, List<String> prefix, Duration timeout, boolean check, String... command) {
            List<String> cmd = new ArrayList<>(prefix);
            cmd.addAll(List.of(command));
            Path out = null;
            try {
                out = Files.createTempFile("countersign-pg-cmd-", ".log");
                ProcessBuilder pb = new ProcessBuilder(cmd)
                        .directory(cwd.toFile()) // the postgres user can't always enter the JVM's cwd
                        .redirectErrorStream(true)
                        .redirectOutput(out.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
                Map<String, String> env = pb.environment();
                env.keySet().removeIf(k -> k.startsWith("PG")); // PGDATA, PGPORT, ... must not leak in
                env.put("LC_ALL", "C");
                Process p = pb.start();
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    if (check) {
                        throw new IllegalStateException("timed out after " + timeout + ": " + cmd
                                + "\n" + Files.readString(out, StandardCharsets.UTF_8));
                    }
                    return;
                }
                if (check && p.exitValue() != 0) {
                    throw new IllegalStateException("exit " + p.exitValue() + ": " + cmd
                            + "\n" + Files.readString(out, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                if (check) {
                    throw new IllegalStateException("cannot run " + cmd + ": " + e, e);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted running " + cmd, e);
            } finally {
                if (out != null) {
                    try {
                        Files.deleteIfExists(out);
                    } catch (IOException ignored) {
                        // temp file; harmless
                    }
                }
            }
        }

        static String tail(Path log) {
            try {
                List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
                return "--- " + log + " ---\n"
                        + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
            } catch (IOException e) {
                return "(no server log at " + log + ")";
            }
        }

        static void deleteRecursively(Path dir) {
            if (!Files.exists(dir)) {
                return;
            }
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException ignored) {
                        // best effort
                    }
                });
            } catch (IOException | UncheckedIOException ignored) {
                // best effort
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
