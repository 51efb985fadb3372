package dev.countersign.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.store.Json;
import dev.countersign.core.testing.Databases;
import dev.countersign.server.TestServer;
import dev.countersign.server.TestServer.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.Stream;

import static dev.countersign.server.TestServer.ALICE_BOT_KEY;
import static dev.countersign.server.TestServer.OPERATOR_KEY;
import static dev.countersign.server.TestServer.OTHER_BOT_KEY;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input gets a clear JSON error naming what is wrong, never a 5xx, and stores nothing. The agent
 * alice-bot only ever sends bad input here, so its list must stay empty; the fuzz test runs as other-bot
 * (a mutated body may happen to be valid, and that is fine).
 */
class BadInputTest {
    private static final String APPROVALS = "/api/v1/approvals";
    private static final int BIG = 70 * 1024;

    @TempDir
    static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() {
        server = TestServer.start(dir);
    }

    static TestServer postgres;

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (postgres != null) postgres.close();
    }

    /** The H2 server of every test, or (started on first use) one on a throwaway PostgreSQL database. */
    static TestServer on(String database) {
        if (database.equals("H2")) return server;
        if (postgres == null) {
            Databases.DataSourceSpec pg = Databases.postgres();
            String yaml = TestServer.CONFIG.replace("url: \"%DB%\"",
                    "url: \"" + pg.url() + "\"\n  user: \"" + pg.user() + "\"\n  password: \"" + pg.password() + "\"");
            postgres = TestServer.start(TestServer.config(yaml, TestServer.env()));
        }
        return postgres;
    }

    @AfterEach
    void nothing_was_stored_for_alice_bot() {
        Response list = server.get(APPROVALS, ALICE_BOT_KEY);
        assertThat(list.status()).isEqualTo(200);
        assertThat(list.json().path("approvals")).as("alice-bot's approvals").isEmpty();
    }

    /** A body, and the status, code and field its answer must have (field null: not checked). */
    static Stream<Arguments> bad_asks() {
        return Stream.of(
                Arguments.of("malformed JSON", "{\"action\": {\"type\": \"db.read\", ", 400, "invalid_json", ""),
                Arguments.of("not JSON at all", "action=db.read&summary=x", 400, "invalid_json", ""),
                Arguments.of("a JSON array", "[{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}}]", 400, "invalid_json", ""),
                Arguments.of("a JSON string", "\"hello\"", 400, "invalid_json", ""),
                Arguments.of("JSON null", "null", 400, "invalid_json", ""),
                Arguments.of("an empty body", "", 400, "invalid_json", ""),
                Arguments.of("only whitespace", "  \n ", 400, "invalid_json", ""),
                Arguments.of("trailing garbage", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}} {", 400, "invalid_json", ""),
                Arguments.of("no action", "{}", 400, "invalid_input", "action"),
                Arguments.of("action a string", "{\"action\": \"db.read\"}", 400, "invalid_input", "action"),
                Arguments.of("action.type a number", "{\"action\": {\"type\": 42, \"summary\": \"x\"}}", 400, "invalid_input", "action.type"),
                Arguments.of("action.type not dotted", "{\"action\": {\"type\": \"rm -rf /\", \"summary\": \"x\"}}", 400, "invalid_input", "action.type"),
                Arguments.of("action.params a string", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\", \"params\": \"table=customers\"}}", 400, "invalid_input", "action.params"),
                Arguments.of("action.params an array", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\", \"params\": [1]}}", 400, "invalid_input", "action.params"),
                Arguments.of("missing action.summary", "{\"action\": {\"type\": \"db.read\"}}", 400, "invalid_input", "action.summary"),
                Arguments.of("blank action.summary", "{\"action\": {\"type\": \"db.read\", \"summary\": \"  \"}}", 400, "invalid_input", "action.summary"),
                Arguments.of("unknown risk.level", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"risk\": {\"level\": \"extreme\"}}", 400, "invalid_input", "risk.level"),
                Arguments.of("risk.level a number", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"risk\": {\"level\": 3}}", 400, "invalid_input", "risk.level"),
                Arguments.of("timeout not a duration", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"timeout\": \"tomorrow\"}", 400, "invalid_input", "timeout"),
                Arguments.of("timeout negative", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"timeout\": \"-PT5M\"}", 400, "invalid_input", "timeout"),
                Arguments.of("timeout a number", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"timeout\": 300}", 400, "invalid_input", "timeout"),
                Arguments.of("agent.id of another agent", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"agent\": {\"id\": \"other-bot\"}}", 400, "invalid_input", "agent.id"),
                Arguments.of("context.links not a list", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"context\": {\"links\": \"x\"}}", 400, "invalid_input", "context.links"),
                Arguments.of("a link to a javascript: URL", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"context\": {\"links\": [{\"title\": \"t\", \"url\": \"javascript:alert(1)\"}]}}", 400, "invalid_input", "context.links[0].url"),
                Arguments.of("callback_url not http", "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"callback_url\": \"file:///etc/passwd\"}", 400, "invalid_input", "callback_url"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bad_asks")
    void a_bad_ask_gets_a_json_error_naming_the_problem(String what, String body, int status, String code, String field) {
        Response r = server.post(APPROVALS, ALICE_BOT_KEY, body);

        assertThat(r.status()).as(r.toString()).isEqualTo(status);
        assertThat(r.header("Content-Type")).startsWith("application/json");
        JsonNode error = r.error();
        assertThat(error.path("code").asText()).as(r.toString()).isEqualTo(code);
        assertThat(error.path("message").asText()).as(r.toString()).isNotBlank();
        assertThat(error.path("field").isTextual()).as(r.toString()).isTrue();
        assertThat(error.path("field").asText()).as(r.toString()).isEqualTo(field);
        assertThat(r.body()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void an_overlong_idempotency_key_is_400_naming_the_header() {
        Response r = server.post(APPROVALS, ALICE_BOT_KEY, TestServer.lowAsk().toString(), "Idempotency-Key", "x".repeat(201));

        assertThat(r.status()).as(r.toString()).isEqualTo(400);
        assertThat(r.error().path("field").asText()).isEqualTo("Idempotency-Key");
    }

    @Test
    void a_body_over_64_kib_with_content_length_is_413_body_too_large() {
        byte[] body = bigBody();
        Response r = TestServer.send(server.request(APPROVALS, ALICE_BOT_KEY).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)));

        assertThat(r.status()).as(r.toString()).isEqualTo(413);
        assertThat(r.error().path("code").asText()).isEqualTo("body_too_large");
        assertThat(r.error().path("message").asText()).isNotBlank();
    }

    @Test
    void a_body_over_64_kib_sent_chunked_without_content_length_is_413_body_too_large() {
        byte[] body = bigBody();
        Response r = TestServer.send(server.request(APPROVALS, ALICE_BOT_KEY).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))));

        assertThat(r.status()).as(r.toString()).isEqualTo(413);
        assertThat(r.error().path("code").asText()).isEqualTo("body_too_large");
    }

    @Test
    void a_large_cancel_or_decision_body_is_413_too() {
        byte[] body = bigBody();
        Response cancel = TestServer.send(server.request(APPROVALS + "/apr_x/cancel", ALICE_BOT_KEY)
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))));
        Response decision = TestServer.send(server.request(APPROVALS + "/apr_x/decision", OPERATOR_KEY)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)));

        assertThat(cancel.status()).as(cancel.toString()).isEqualTo(413);
        assertThat(decision.status()).as(decision.toString()).isEqualTo(413);
    }

    @Test
    void an_unknown_path_is_a_404_json_error() {
        Response get = server.get("/api/v1/nothing-here", ALICE_BOT_KEY);
        Response post = server.post("/api/v2/approvals", ALICE_BOT_KEY, TestServer.lowAsk().toString());

        for (Response r : List.of(get, post)) {
            assertThat(r.status()).as(r.toString()).isEqualTo(404);
            assertThat(r.header("Content-Type")).startsWith("application/json");
            assertThat(r.error().path("code").asText()).isEqualTo("not_found");
            assertThat(r.error().path("message").asText()).isNotBlank();
        }
    }

    @Test
    void a_wrong_method_is_a_json_error_not_a_5xx() {
        Response r = TestServer.send(server.request(APPROVALS, ALICE_BOT_KEY).DELETE());

        assertThat(r.status()).as(r.toString()).isBetween(400, 499);
        assertThat(r.error().path("code").asText()).isNotBlank();
    }

    @Test
    void bad_operator_decision_bodies_get_json_errors_naming_the_field() {
        String[][] cases = {
                {"", ""},
                {"[]", ""},
                {"{\"as\": \"alice\"}", "outcome"},
                {"{\"outcome\": 1, \"as\": \"alice\"}", "outcome"},
                {"{\"outcome\": \"approve\"}", "as"},
                {"{\"outcome\": \"approve\", \"as\": [\"alice\"]}", "as"},
                {"{\"outcome\": \"approve\", \"as\": \"alice\", \"comment\": {}}", "comment"},
        };
        for (String[] c : cases) {
            Response r = server.post(APPROVALS + "/apr_unknown/decision", OPERATOR_KEY, c[0]);
            assertThat(r.status()).as(c[0] + " → " + r).isEqualTo(400);
            assertThat(r.error().path("field").asText()).as(c[0] + " → " + r).isEqualTo(c[1]);
        }
    }

    @Test
    void a_bad_cancel_body_is_400() {
        Response malformed = server.post(APPROVALS + "/apr_unknown/cancel", ALICE_BOT_KEY, "{\"reason\": ");
        Response wrongType = server.post(APPROVALS + "/apr_unknown/cancel", ALICE_BOT_KEY, "{\"reason\": 7}");

        assertThat(malformed.status()).as(malformed.toString()).isEqualTo(400);
        assertThat(wrongType.status()).as(wrongType.toString()).isEqualTo(400);
        assertThat(wrongType.error().path("field").asText()).isEqualTo("reason");
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"H2", "PostgreSQL"})
    void a_cancel_reason_over_10000_characters_is_400_naming_the_field(String database) {
        TestServer server = on(database);
        String id = server.asked(OTHER_BOT_KEY, TestServer.highAsk()).path("id").asText();
        String body = Json.MAPPER.createObjectNode().put("reason", "x".repeat(10_001)).toString();

        Response r = server.post(APPROVALS + "/" + id + "/cancel", OTHER_BOT_KEY, body);

        assertThat(r.status()).as(r.toString()).isEqualTo(400);
        assertThat(r.error().path("field").asText()).isEqualTo("reason");
        assertThat(server.get(APPROVALS + "/" + id, OTHER_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"H2", "PostgreSQL"})
    void a_nul_character_in_a_comment_or_reason_is_400_not_a_database_error(String database) {
        TestServer server = on(database);
        String decided = server.asked(OTHER_BOT_KEY, TestServer.highAsk()).path("id").asText();
        String cancelled = server.asked(OTHER_BOT_KEY, TestServer.highAsk()).path("id").asText();

        Response decision = server.post(APPROVALS + "/" + decided + "/decision", OPERATOR_KEY,
                Json.MAPPER.createObjectNode().put("outcome", "approve").put("as", "alice").put("comment", "ok\u0000").toString());
        Response cancel = server.post(APPROVALS + "/" + cancelled + "/cancel", OTHER_BOT_KEY,
                Json.MAPPER.createObjectNode().put("reason", "\u0000").toString());

        assertThat(decision.status()).as(decision.toString()).isEqualTo(400);
        assertThat(decision.error().path("field").asText()).isEqualTo("comment");
        assertThat(cancel.status()).as(cancel.toString()).isEqualTo(400);
        assertThat(cancel.error().path("field").asText()).isEqualTo("reason");
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"H2", "PostgreSQL"})
    void nul_characters_and_lone_surrogates_in_an_ask_are_stored_and_returned_or_refused_never_a_5xx(String database) {
        TestServer server = on(database);
        String body = "{\"action\": {\"type\": \"payments.transfer\", \"summary\": \"pay\\u0000 \\ud800 now\","
                + " \"params\": {\"amount\": 20000, \"k\\u0000\": \"v\\u0000\"}},"
                + " \"context\": {\"reason\": \"\\u0000\"}, \"agent\": {\"run_id\": \"r\\u0000\"}}";

        Response r = server.post(APPROVALS, OTHER_BOT_KEY, body);

        assertThat(r.status()).as(r.toString()).isIn(201, 400);
        if (r.status() == 201) {
            Response got = server.get(APPROVALS + "/" + r.json().path("id").asText(), OTHER_BOT_KEY);
            assertThat(got.status()).as(got.toString()).isEqualTo(200);
            assertThat(got.json().path("action").path("summary").asText()).startsWith("pay");
        } else {
            assertThat(r.error().path("field").asText()).isNotBlank();
        }
    }

    // ------------------------------------------------------------------ fuzz

    private static final String VALID = """
            {"action": {"type": "payments.transfer", "summary": "Pay invoice INV-2291 to Acme Corp",
                        "params": {"amount": 12500, "currency": "EUR", "to": "Acme Corp", "tags": ["a", "b"], "nested": {"x": 1.5}}},
             "agent": {"id": "other-bot", "run_id": "run-7"},
             "requested_for": "bob",
             "context": {"reason": "invoice due", "impact": "money leaves", "links": [{"title": "invoice", "url": "https://example.com/inv/2291"}]},
             "risk": {"level": "medium", "explanation": "money"},
             "timeout": "PT30M"}
            """;

    private static final String[] PATHS = {"", "action", "action.type", "action.summary", "action.params", "action.params.amount",
            "action.params.tags", "action.params.nested", "agent", "agent.id", "agent.run_id", "requested_for", "context", "context.reason",
            "context.impact", "context.links", "context.links[0]", "context.links[0].url", "context.links[0].title", "risk", "risk.level",
            "risk.explanation", "callback_url", "timeout", "unknown"};

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"H2", "PostgreSQL"})
    void a_thousand_malformed_bodies_never_get_a_5xx_and_every_error_is_json_with_a_code(String database) throws Exception {
        TestServer server = on(database);
        Random random = new Random(20_260_811L);
        record Case(int n, int kind, String target, String key, byte[] body, String idempotencyKey) {}
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            int kind = i % 12;
            byte[] body = malformed(kind, random);
            String target = "ask";
            String key = OTHER_BOT_KEY;
            if (i % 25 == 24 || i % 25 == 23) { // against a real pending approval, so that the body reaches the store
                target = i % 25 == 24 ? "decision" : "cancel";
                key = i % 25 == 24 ? OPERATOR_KEY : OTHER_BOT_KEY;
                if (i % 50 < 25) body = decisionBody(random);
            }
            cases.add(new Case(i, kind, target, key, body, random.nextInt(4) == 0 ? "fuzz-" + random.nextInt(5) : "fuzz-unique-" + i));
        }
        List<String> failures = new CopyOnWriteArrayList<>();
        AtomicIntegerArray byStatus = new AtomicIntegerArray(6);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> sent = new ArrayList<>();
            for (Case c : cases) {
                sent.add(pool.submit(() -> {
                    String path = APPROVALS;
                    if (!c.target().equals("ask")) {
                        path = APPROVALS + "/" + server.asked(OTHER_BOT_KEY, TestServer.highAsk()).path("id").asText() + "/" + c.target();
                    }
                    Response r = server.post(path, c.key(), c.body(), "Idempotency-Key", c.idempotencyKey());
                    byStatus.incrementAndGet(r.status() / 100);
                    String what = "#" + c.n() + " kind " + c.kind() + " " + path + " body " + preview(c.body()) + " → ";
                    if (r.status() >= 500) {
                        failures.add(what + r.status() + " " + r.body());
                    } else if (r.status() / 100 != 2) {
                        try {
                            JsonNode error = Json.MAPPER.readTree(r.body()).path("error");
                            if (!error.path("code").isTextual() || error.path("code").asText().isBlank() || !error.path("message").isTextual()) {
                                failures.add(what + "error without code/message: " + r.body());
                            }
                        } catch (Exception e) {
                            failures.add(what + r.status() + " not JSON: " + r.body());
                        }
                    }
                }));
            }
            for (Future<?> f : sent) f.get(2, TimeUnit.MINUTES);
        } finally {
            pool.shutdownNow();
        }
        int total = 0;
        for (int i = 0; i < byStatus.length(); i++) total += byStatus.get(i);
        System.out.println("fuzz on " + database + ": " + total + " requests, answers by status class (0xx..5xx) " + byStatus);
        assertThat(total).isGreaterThanOrEqualTo(1_000);
        assertThat(failures).as("answers by status class " + byStatus).isEmpty();
        assertThat(server.get("/healthz", null).status()).isEqualTo(200);
        assertThat(server.get("/readyz", null).status()).isEqualTo(200);
    }

    private static byte[] malformed(int kind, Random random) {
        byte[] valid = VALID.getBytes(StandardCharsets.UTF_8);
        return switch (kind) {
            case 0 -> Arrays.copyOf(valid, random.nextInt(valid.length)); // truncated
            case 1 -> { // byte flips
                byte[] b = valid.clone();
                int flips = 1 + random.nextInt(6);
                for (int f = 0; f < flips; f++) b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                yield b;
            }
            case 2, 3 -> { // a random JSON value at a random path
                JsonNode tree = read(VALID);
                int changes = 1 + random.nextInt(3);
                for (int c = 0; c < changes; c++) tree = setAt(tree, PATHS[random.nextInt(PATHS.length)], randomValue(random, 0));
                yield tree.toString().getBytes(StandardCharsets.UTF_8);
            }
            case 4 -> { // random unicode in strings, including escaped lone surrogates and non-characters
                JsonNode tree = read(VALID);
                String[] targets = {"action.type", "action.summary", "requested_for", "context.reason", "agent.run_id", "risk.level", "timeout", "action.params.to"};
                String json = setAt(tree, targets[random.nextInt(targets.length)], JsonNodeFactory.instance.textNode("\u0001MARK\u0001")).toString();
                yield json.replace("\\u0001MARK\\u0001", randomUnicodeEscaped(random)).getBytes(StandardCharsets.UTF_8);
            }
            case 5 -> { // raw random bytes, sometimes behind a valid prefix
                byte[] garbage = new byte[random.nextInt(300)];
                random.nextBytes(garbage);
                yield random.nextBoolean() ? garbage : concat("{\"action\": {\"type\": \"".getBytes(StandardCharsets.UTF_8), garbage);
            }
            case 6 -> { // deeply nested arrays (10,000 levels), as the body or inside params
                int depth = 10_000;
                String nested = "[".repeat(depth) + (random.nextBoolean() ? "1" : "") + "]".repeat(random.nextInt(4) == 0 ? depth / 2 : depth);
                yield (switch (random.nextInt(3)) {
                    case 0 -> nested;
                    case 1 -> "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\", \"params\": {\"deep\": " + nested + "}}}";
                    default -> "{\"action\": " + "{\"a\":".repeat(depth / 2) + "1" + "}".repeat(depth / 2) + "}";
                }).getBytes(StandardCharsets.UTF_8);
            }
            case 7 -> { // huge numbers, NaN and infinities where numbers and strings belong
                String[] numbers = {"1e999999", "-1e999999", "1e-999999", "NaN", "Infinity", "-Infinity", "+1", "0x1F", "01",
                        new BigInteger(1_200 + random.nextInt(200), random).toString(), "9".repeat(999), "1." + "0".repeat(1_500), "1e2147483648",
                        "-0", "18446744073709551616", "123456789012345678901234567890"};
                String n = numbers[random.nextInt(numbers.length)];
                String[] templates = {
                        "{\"action\": {\"type\": \"payments.transfer\", \"summary\": \"x\", \"params\": {\"amount\": %s}}}",
                        "{\"action\": {\"type\": %s, \"summary\": \"x\"}}",
                        "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"timeout\": %s}",
                        "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\", \"params\": {\"%s\": %s}}}",
                        "%s",
                        "{\"action\": {\"type\": \"deploy.x\", \"summary\": \"x\", \"params\": {\"environment\": %s, \"amount\": [%s]}}}"};
                yield String.format(templates[random.nextInt(templates.length)], n, n).getBytes(StandardCharsets.UTF_8);
            }
            case 8 -> { // duplicate keys
                String[] dup = {
                        "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"action\": {\"type\": \"payments.transfer\", \"summary\": \"y\", \"params\": {\"amount\": 1e6}}}",
                        "{\"action\": {\"type\": \"db.read\", \"type\": \"payments.transfer\", \"summary\": \"x\", \"summary\": 7}}",
                        "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\", \"params\": {\"a\": 1, \"a\": {\"a\": [1, 2]}}}, \"risk\": {\"level\": \"high\", \"level\": \"low\"}}",
                        "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"timeout\": \"PT1M\", \"timeout\": \"nope\"}",
                        "{\"action\": null, \"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"agent\": {\"id\": \"other-bot\", \"id\": \"alice-bot\"}}"};
                yield dup[random.nextInt(dup.length)].getBytes(StandardCharsets.UTF_8);
            }
            case 9 -> { // control characters, raw and escaped
                char c = (char) random.nextInt(0x20);
                String raw = String.valueOf(c);
                String escaped = String.format("\\u%04x", (int) c);
                String[] templates = {
                        "{\"action\": {\"type\": \"db.read\", \"summary\": \"a%sb\"}}",
                        "{\"action\": {\"type\": \"db.read%s\", \"summary\": \"x\"}}",
                        "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\", \"params\": {\"k%s\": \"v%s\"}}}",
                        "{\"action\": {\"type\": \"payments.transfer\", \"summary\": \"x\", \"params\": {\"amount\": 20000}}, \"requested_for\": \"bo%sb\"}",
                        "{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}, \"context\": {\"reason\": \"%s\", \"links\": [{\"url\": \"https://ex%s.com\"}]}}",
                        "%s{\"action\": {\"type\": \"db.read\", \"summary\": \"x\"}}%s"};
                String t = templates[random.nextInt(templates.length)];
                String s = random.nextBoolean() ? raw : escaped;
                yield String.format(t, s, s).getBytes(StandardCharsets.UTF_8);
            }
            case 10 -> { // a valid body with a random JSON value replacing the whole body or a whole object
                JsonNode v = randomValue(random, 0);
                yield v.toString().getBytes(StandardCharsets.UTF_8);
            }
            default -> { // invalid UTF-8 inside otherwise valid JSON strings
                byte[][] bad = {{(byte) 0xC0, (byte) 0x80}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xFF}, {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xE2, (byte) 0x82}};
                byte[] b = bad[random.nextInt(bad.length)];
                yield concat("{\"action\": {\"type\": \"db.read\", \"summary\": \"".getBytes(StandardCharsets.UTF_8),
                        concat(b, "\"}}".getBytes(StandardCharsets.UTF_8)));
            }
        };
    }

    /** A decision or cancel body whose fields are right in shape but odd in content. */
    private static byte[] decisionBody(Random random) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("outcome", random.nextBoolean() ? "approve" : "reject");
        body.put("as", random.nextBoolean() ? "alice" : "bob");
        String text = switch (random.nextInt(4)) {
            case 0 -> "a\u0000b";
            case 1 -> randomUnicode(random);
            case 2 -> "x".repeat(9_000 + random.nextInt(3_000));
            default -> "\u0000".repeat(random.nextInt(5) + 1);
        };
        body.put(random.nextBoolean() ? "comment" : "reason", text);
        return body.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static JsonNode randomValue(Random random, int depth) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        int pick = random.nextInt(depth > 3 ? 9 : 12);
        return switch (pick) {
            case 0 -> f.nullNode();
            case 1 -> f.booleanNode(random.nextBoolean());
            case 2 -> f.numberNode(random.nextLong());
            case 3 -> f.numberNode(random.nextDouble() * Math.pow(10, random.nextInt(600) - 300));
            case 4 -> f.numberNode(new BigInteger(random.nextInt(2_000) + 1, random));
            case 5 -> f.textNode("");
            case 6 -> f.textNode(randomUnicode(random));
            case 7 -> f.textNode(new String[]{"low", "medium", "high", "PT1S", "P1000000000D", "http://127.0.0.1:1/x", "alice", "db.read", "https://x"}[random.nextInt(9)]);
            case 8 -> f.textNode("x".repeat(random.nextInt(12_000)));
            case 9 -> {
                ArrayNode a = f.arrayNode();
                int n = random.nextInt(5);
                for (int i = 0; i < n; i++) a.add(randomValue(random, depth + 1));
                yield a;
            }
            default -> {
                ObjectNode o = f.objectNode();
                int n = random.nextInt(5);
                for (int i = 0; i < n; i++) o.set(random.nextBoolean() ? randomUnicode(random) : PATHS[random.nextInt(PATHS.length)], randomValue(random, depth + 1));
                yield o;
            }
        };
    }

    /** A string of random code points from all planes (as Java text: supplementary ones become pairs). */
    private static String randomUnicode(Random random) {
        StringBuilder s = new StringBuilder();
        int n = random.nextInt(40);
        for (int i = 0; i < n; i++) {
            int cp = switch (random.nextInt(4)) {
                case 0 -> random.nextInt(0x80);
                case 1 -> random.nextInt(0x800);
                case 2 -> random.nextInt(0x10000);
                default -> 0x10000 + random.nextInt(0x100000);
            };
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
            s.appendCodePoint(cp);
        }
        return s.toString();
    }

    /** JSON string content with escapes, including lone surrogates ("\uD800") that no UTF-8 text can hold. */
    private static String randomUnicodeEscaped(Random random) {
        StringBuilder s = new StringBuilder();
        int n = 1 + random.nextInt(30);
        for (int i = 0; i < n; i++) {
            switch (random.nextInt(5)) {
                case 0 -> s.append(String.format("\\u%04x", 0xD800 + random.nextInt(0x800))); // lone surrogate
                case 1 -> s.append(String.format("\\u%04x", random.nextInt(0x20))); // escaped control, incl. \u0000
                case 2 -> s.append("\\uFFFF\\uFFFE");
                default -> s.appendCodePoint(0xA0 + random.nextInt(0xD000)); // printable, below the surrogates
            }
        }
        return s.toString();
    }

    private static JsonNode read(String json) {
        try {
            return Json.MAPPER.readTree(json);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Replaces the value at a dotted path ({@code a.b[0].c}); "" replaces the whole body. */
    private static JsonNode setAt(JsonNode root, String path, JsonNode value) {
        if (path.isEmpty()) return value;
        if (!(root instanceof ObjectNode)) return root;
        String[] parts = path.split("\\.");
        JsonNode node = root;
        for (int i = 0; i < parts.length; i++) {
            String part = parts[i];
            int index = -1;
            if (part.endsWith("]")) {
                index = Integer.parseInt(part.substring(part.indexOf('[') + 1, part.length() - 1));
                part = part.substring(0, part.indexOf('['));
            }
            boolean last = i == parts.length - 1;
            if (!(node instanceof ObjectNode o)) return root;
            if (index < 0) {
                if (last) {
                    o.set(part, value);
                    return root;
                }
                node = o.get(part);
            } else {
                JsonNode arr = o.get(part);
                if (!(arr instanceof ArrayNode a) || a.size() <= index) return root;
                if (last) {
                    a.set(index, value);
                    return root;
                }
                node = a.get(index);
            }
            if (node == null) return root;
        }
        return root;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(a);
        out.writeBytes(b);
        return out.toByteArray();
    }

    private static String preview(byte[] body) {
        String s = new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8).replaceAll("\\p{Cntrl}", "·");
        return body.length > 200 ? s + "…(" + body.length + " bytes)" : s;
    }

    private static byte[] bigBody() {
        ObjectNode body = TestServer.lowAsk();
        TestServer.params(body).put("padding", "x".repeat(BIG));
        byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
        assertThat(bytes.length).isGreaterThan(BIG);
        return bytes;
    }
}
