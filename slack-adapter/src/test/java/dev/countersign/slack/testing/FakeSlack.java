package dev.countersign.slack.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.countersign.core.store.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Slack's Web API at the network edge, on a JDK HttpServer: {@code POST /api/<method>} answered with the shapes
 * of the fixtures ({@code fixtures/slack/api_*.json}), and {@code POST /actions/…} standing in for interaction
 * {@code response_url}s. It records every call, and can be told to rate-limit (429 + Retry-After, the fixture
 * body) or to be down (503) for a while.
 */
public final class FakeSlack implements AutoCloseable {
    public static final String BOT_TOKEN = "xoxb-test-0000";
    public static final String SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";

    /** One request the fake received. */
    public record Call(String method, Map<String, String> form, String body, String authorization, Instant at) {
        public String param(String name) {
            return form.get(name);
        }

        public JsonNode json(String name) {
            try {
                return Json.MAPPER.readTree(form.get(name));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The body of a response_url POST. */
        public JsonNode bodyJson() {
            try {
                return Json.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private final HttpServer server;
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> rateLimited = new ConcurrentHashMap<>();
    private final Map<String, String> usersByEmail = new ConcurrentHashMap<>();
    private final Map<String, String> emailsByUser = new ConcurrentHashMap<>();
    private final AtomicLong ts = new AtomicLong(1_700_000_000_000000L);
    private volatile int retryAfterSeconds = 1;
    private volatile boolean down;
    private volatile String socketUrl;
    private final List<ErrorRule> errors = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> statuses = new ConcurrentHashMap<>();
    private final Map<String, Integer> statusCodes = new ConcurrentHashMap<>();
    private final Map<String, Long> delays = new ConcurrentHashMap<>();

    private record ErrorRule(String method, java.util.function.Predicate<Call> when, String error) {}

    public FakeSlack() {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.createContext("/", this::handle);
        server.start();
    }

    /** The Web API base URL (SLACK_API_URL). */
    public String apiUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/api/";
    }

    /** A response_url on this fake. */
    public String responseUrl(String name) {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/actions/" + name;
    }

    /** The next {@code times} calls of {@code method} answer 429 with {@code Retry-After: seconds}. */
    public FakeSlack rateLimit(String method, int times, int seconds) {
        retryAfterSeconds = seconds;
        rateLimited.put(method, new AtomicInteger(times));
        return this;
    }

    /** While down, every Web API call answers 503 (auth.test too). */
    public FakeSlack down(boolean down) {
        this.down = down;
        return this;
    }

    /** Every call of {@code method} that {@code when} matches answers {@code ok:false} with {@code error}. */
    public FakeSlack error(String method, java.util.function.Predicate<Call> when, String error) {
        errors.add(new ErrorRule(method, when, error));
        return this;
    }

    /** The next {@code times} calls of {@code method} answer HTTP {@code status} (after being recorded). */
    public FakeSlack httpStatus(String method, int status, int times) {
        statusCodes.put(method, status);
        statuses.put(method, new AtomicInteger(times));
        return this;
    }

    /** Every call of {@code method} is answered only after {@code millis}. */
    public FakeSlack delay(String method, long millis) {
        delays.put(method, millis);
        return this;
    }

    public FakeSlack user(String slackId, String email) {
        usersByEmail.put(email.toLowerCase(), slackId);
        emailsByUser.put(slackId, email);
        return this;
    }

    /** What apps.connections.open answers (Socket Mode). */
    public FakeSlack socketModeUrl(String wsUrl) {
        this.socketUrl = wsUrl;
        return this;
    }

    public List<Call> calls() {
        return List.copyOf(calls);
    }

    public List<Call> calls(String method) {
        return calls.stream().filter(c -> c.method().equals(method)).toList();
    }

    /** Bodies POSTed to response_urls. */
    public List<Call> responses() {
        return calls("response_url");
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex; InputStream in = ex.getRequestBody()) {
            String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            String path = ex.getRequestURI().getPath();
            if (path.startsWith("/actions/")) {
                calls.add(new Call("response_url", Map.of("path", path), body, ex.getRequestHeaders().getFirst("Authorization"), Instant.now()));
                send(ex, 200, "text/plain", "ok");
                return;
            }
            if (!path.startsWith("/api/")) {
                send(ex, 404, "text/plain", "not found");
                return;
            }
            String method = path.substring("/api/".length());
            Map<String, String> form = form(body);
            Call call = new Call(method, form, body, ex.getRequestHeaders().getFirst("Authorization"), Instant.now());
            calls.add(call);
            Long delay = delays.get(method);
            if (delay != null) {
                try {
                    Thread.sleep(delay);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            AtomicInteger failing = statuses.get(method);
            if (failing != null && failing.getAndDecrement() > 0) {
                send(ex, statusCodes.get(method), "text/html", "<html>error</html>");
                return;
            }
            for (ErrorRule r : errors) {
                if (r.method().equals(method) && r.when().test(call)) {
                    send(ex, 200, "application/json;charset=utf-8", Json.MAPPER.createObjectNode().put("ok", false).put("error", r.error()).toString());
                    return;
                }
            }
            if (down) {
                send(ex, 503, "text/html", "<html>service unavailable</html>");
                return;
            }
            AtomicInteger limited = rateLimited.get(method);
            if (limited != null && limited.getAndDecrement() > 0) {
                ex.getResponseHeaders().add("Retry-After", String.valueOf(retryAfterSeconds));
                send(ex, 429, "application/json;charset=utf-8", Fixtures.text("api_ratelimited_429_body.json"));
                return;
            }
            send(ex, 200, "application/json;charset=utf-8", answer(method, form).toString());
        }
    }

    private JsonNode answer(String method, Map<String, String> form) {
        switch (method) {
            case "auth.test":
                return Fixtures.json("api_auth.test_ok.json");
            case "chat.postMessage": {
                ObjectNode r = (ObjectNode) Fixtures.json("api_chat.postMessage_ok.json");
                String t = nextTs();
                r.put("channel", form.get("channel"));
                r.put("ts", t);
                ((ObjectNode) r.get("message")).put("ts", t).put("text", form.getOrDefault("text", ""));
                return r;
            }
            case "chat.update": {
                ObjectNode r = (ObjectNode) Fixtures.json("api_chat.update_ok.json");
                r.put("channel", form.get("channel")).put("ts", form.get("ts"));
                return r;
            }
            case "chat.postEphemeral":
                return Fixtures.json("api_chat.postEphemeral_ok.json");
            case "conversations.open": {
                ObjectNode r = (ObjectNode) Fixtures.json("api_conversations.open_ok.json");
                ((ObjectNode) r.get("channel")).put("id", "D" + form.get("users"));
                return r;
            }
            case "views.open":
                return Fixtures.json("api_views.open_ok.json");
            case "users.lookupByEmail": {
                String id = usersByEmail.get(String.valueOf(form.get("email")).toLowerCase());
                if (id == null) return Fixtures.json("api_users.lookupByEmail_error_users_not_found.json");
                ObjectNode r = (ObjectNode) Fixtures.json("api_users.lookupByEmail_ok.json");
                ((ObjectNode) r.get("user")).put("id", id);
                ((ObjectNode) r.get("user").get("profile")).put("email", form.get("email"));
                return r;
            }
            case "users.info": {
                String email = emailsByUser.get(form.get("user"));
                if (email == null) return Fixtures.json("api_users.info_error_user_not_found.json");
                ObjectNode r = (ObjectNode) Fixtures.json("api_users.info_ok.json");
                ((ObjectNode) r.get("user")).put("id", form.get("user"));
                ((ObjectNode) r.get("user").get("profile")).put("email", email);
                return r;
            }
            case "apps.connections.open":
                return Json.MAPPER.createObjectNode().put("ok", socketUrl != null).put("url", socketUrl);
            default:
                return Json.MAPPER.createObjectNode().put("ok", false).put("error", "unknown_method");
        }
    }

    private String nextTs() {
        return format(ts.incrementAndGet());
    }

    /** The {@code ts} the fake gives the n-th message posted (from 1). */
    public static String tsOf(int n) {
        return format(1_700_000_000_000000L + n);
    }

    private static String format(long v) {
        return (v / 1_000_000) + "." + String.format("%06d", v % 1_000_000);
    }

    private static Map<String, String> form(String body) {
        Map<String, String> out = new LinkedHashMap<>();
        if (body.isEmpty() || body.startsWith("{")) return out;
        for (String pair : body.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            out.put(k, v);
        }
        return out;
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }

    /** Every method name called, in order (for failure messages). */
    public List<String> methods() {
        List<String> out = new ArrayList<>();
        calls.forEach(c -> out.add(c.method()));
        return out;
    }
}
