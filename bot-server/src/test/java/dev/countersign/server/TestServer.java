package dev.countersign.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.store.Json;
import dev.countersign.server.config.ConfigLoader;
import dev.countersign.server.config.ServerConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Countersign server for tests: an H2 file database in the test's directory, real Quartz, Javalin on a
 * free port, configured from YAML text through {@link ConfigLoader#parse} as an operator would write it.
 *
 * <p>Agents {@code alice-bot} (with a webhook secret) and {@code other-bot}; an operator key; people alice and
 * bob (group finance), carol (group cfo), dave (in no group) and erin (the admin). Rules, first match wins:
 * {@code reads} (db.read*: low), {@code quick-expiry} (test.expire: high, alice, expires after 2 s),
 * {@code large-payment} (payments.* over 10000: high, finance, escalates to cfo after 15 min, expires after 1 h);
 * anything else is high risk for the admin.
 */
public final class TestServer implements AutoCloseable, BeforeAllCallback, AfterAllCallback {
    public static final String ALICE_BOT = "alice-bot";
    public static final String OTHER_BOT = "other-bot";
    public static final String ALICE_BOT_KEY = "ak_alice_bot_0123456789abcdef";
    public static final String OTHER_BOT_KEY = "ak_other_bot_0123456789abcdef";
    public static final String OPERATOR_KEY = "op_0123456789abcdef";
    public static final byte[] WEBHOOK_KEY = "a webhook secret of 32 bytes....".getBytes(StandardCharsets.UTF_8);
    public static final String WEBHOOK_SECRET = "whsec_" + Base64.getEncoder().encodeToString(WEBHOOK_KEY);

    /** The config, with {@code %DB%} where the database URL goes. */
    public static final String CONFIG = """
            server:
              port: 0
            database:
              url: "%DB%"
            agents:
              - id: alice-bot
                key: ${ALICE_BOT_KEY}
                webhook_secret: ${ALICE_BOT_WEBHOOK_SECRET:-}
              - id: other-bot
                key: ${OTHER_BOT_KEY}
            people:
              - { id: alice, name: Alice Ng, email: alice@example.com }
              - { id: bob, name: Bob Osei, email: bob@example.com }
              - { id: carol, name: Carol Diaz, email: carol@example.com }
              - { id: dave, name: Dave Okafor, email: dave@example.com }
              - { id: erin, name: Erin Admin, email: erin@example.com }
            groups:
              finance: [alice, bob]
              cfo: [carol]
            rules:
              - name: reads
                when: action.type.startsWith("db.read")
                risk: low
              - name: quick-expiry
                when: action.type == "test.expire"
                risk: high
                approvers: [alice]
                expires_after: PT2S
              - name: large-payment
                when: action.type.startsWith("payments.") && params.amount > 10000
                risk: high
                approvers: [group:finance]
                escalation:
                  - after: PT15M
                    notify: [group:cfo]
                expires_after: PT1H
            admins: [erin]
            """;

    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private CountersignServer server;
    private String base;
    private Path ownDir;   // set for a per-class server, which makes and deletes its own directory

    private TestServer() {
    }

    /**
     * One server for all the tests of a class, on a database in a directory of its own, started before them and
     * stopped (its directory deleted) after them:
     * {@code @RegisterExtension static final TestServer server = TestServer.perClass();}
     */
    public static TestServer perClass() {
        return new TestServer();
    }

    /** The per-class server's directory; tests may write files of their own there. */
    public Path dir() {
        return ownDir;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        ownDir = Files.createTempDirectory("countersign-test-");
        server = CountersignServer.start(config(ownDir), "server-test-" + UUID.randomUUID());
        base = "http://127.0.0.1:" + server.port();
    }

    @Override
    public void afterAll(ExtensionContext context) throws IOException {
        try {
            if (server != null) server.close();
        } finally {
            try (var paths = Files.walk(ownDir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private TestServer(CountersignServer server) {
        this.server = server;
        this.base = "http://127.0.0.1:" + server.port();
    }

    /** The H2 URL of a database in {@code dir}. */
    public static String h2Url(Path dir) {
        return "jdbc:h2:file:" + dir.toAbsolutePath().normalize().toString().replace('\\', '/') + "/cs;WRITE_DELAY=0";
    }

    /** The environment the test config reads its keys from. */
    public static Map<String, String> env() {
        Map<String, String> env = new HashMap<>();
        env.put("ALICE_BOT_KEY", ALICE_BOT_KEY);
        env.put("OTHER_BOT_KEY", OTHER_BOT_KEY);
        env.put("ALICE_BOT_WEBHOOK_SECRET", WEBHOOK_SECRET);
        env.put("COUNTERSIGN_OPERATOR_KEYS", OPERATOR_KEY);
        return env;
    }

    /** The test config on an H2 database in {@code dir}. */
    public static ServerConfig config(Path dir) {
        return config(CONFIG.replace("%DB%", h2Url(dir)), env());
    }

    public static ServerConfig config(String yaml, Map<String, String> env) {
        return ConfigLoader.parse(Path.of("test.yaml"), yaml, env);
    }

    /** Starts the test config on an H2 database in {@code dir}. */
    public static TestServer start(Path dir) {
        return start(config(dir));
    }

    public static TestServer start(ServerConfig config) {
        return new TestServer(CountersignServer.start(config, "server-test-" + UUID.randomUUID()));
    }

    public CountersignServer server() {
        return server;
    }

    public int port() {
        return server.port();
    }

    public String url(String path) {
        return base + path;
    }

    @Override
    public void close() {
        server.close();
    }

    // ------------------------------------------------------------------ bodies

    /** An ask body: {@code action} {type, summary, params}. */
    public static ObjectNode ask(String type, String summary) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        ObjectNode action = body.putObject("action");
        action.put("type", type);
        action.put("summary", summary);
        action.putObject("params");
        return body;
    }

    /** Low risk: rule {@code reads}. */
    public static ObjectNode lowAsk() {
        ObjectNode body = ask("db.read.customers", "Read the 20 newest customers");
        params(body).put("table", "customers").put("limit", 20);
        return body;
    }

    /** High risk: rule {@code large-payment}, approvers alice and bob. */
    public static ObjectNode highAsk() {
        ObjectNode body = ask("payments.transfer", "Pay invoice INV-2291 to Acme Corp: 12,500.00 EUR");
        params(body).put("amount", 12500).put("currency", "EUR").put("to", "Acme Corp");
        body.putObject("context").put("reason", "invoice due on Friday").put("impact", "money leaves the account");
        return body;
    }

    public static ObjectNode params(ObjectNode body) {
        return (ObjectNode) body.get("action").get("params");
    }

    // ------------------------------------------------------------------ HTTP

    /** One answer: status, headers and body (parsed on demand). */
    public record Response(int status, HttpHeaders headers, String body, Duration elapsed) {
        public JsonNode json() {
            try {
                return Json.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON (HTTP " + status + "): " + body, e);
            }
        }

        public String header(String name) {
            return headers.firstValue(name).orElse(null);
        }

        /** The {@code error} object of an error answer. */
        public JsonNode error() {
            return json().path("error");
        }

        @Override
        public String toString() {
            return "HTTP " + status + " " + body;
        }
    }

    public Response get(String path, String key) {
        return send(request(path, key).GET());
    }

    public Response post(String path, String key, String body, String... headers) {
        return send(request(path, key, headers).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    public Response post(String path, String key, byte[] body, String... headers) {
        return send(request(path, key, headers).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    /** POST /api/v1/approvals as the agent of {@code key}. */
    public Response ask(String key, JsonNode body, String... headers) {
        return post("/api/v1/approvals", key, body.toString(), headers);
    }

    /** Asks and returns the approval's JSON, failing unless the answer is 201. */
    public JsonNode asked(String key, JsonNode body) {
        Response r = ask(key, body);
        if (r.status() != 201) throw new AssertionError("ask failed: " + r);
        return r.json();
    }

    /** POST …/decision with the operator key. */
    public Response decide(String id, String outcome, String as, String comment) {
        ObjectNode body = Json.MAPPER.createObjectNode().put("outcome", outcome).put("as", as);
        if (comment != null) body.put("comment", comment);
        return post("/api/v1/approvals/" + id + "/decision", OPERATOR_KEY, body.toString());
    }

    public HttpRequest.Builder request(String path, String key, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(path))).timeout(Duration.ofSeconds(90));
        if (key != null) b.header("Authorization", "Bearer " + key);
        for (int i = 0; i + 1 < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        return b;
    }

    public static Response send(HttpRequest.Builder request) {
        return send(request.build());
    }

    public static Response send(HttpRequest request) {
        long start = System.nanoTime();
        try {
            HttpResponse<String> r = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.headers(), r.body(), Duration.ofNanos(System.nanoTime() - start));
        } catch (IOException e) {
            throw new UncheckedIOException(request.method() + " " + request.uri() + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
