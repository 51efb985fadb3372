package dev.countersign.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The Countersign client an agent embeds: ask before acting, wait for the decision, act only when approved.
 *
 * <pre>{@code
 * Countersign cs = Countersign.fromEnvironment();          // COUNTERSIGN_URL, COUNTERSIGN_AGENT_KEY
 * String receipt = cs.executeWithApproval(
 *         Action.of("payments.transfer", "Pay invoice INV-2291: 12,500 EUR", Map.of("amount", 12500)),
 *         Context.builder().reason("invoice due Friday").build(),
 *         () -> bank.pay("INV-2291"));                     // runs only once approved
 * }</pre>
 *
 * <p>It talks to the server only through the public agent API (docs/API.md). Every ask carries an
 * {@code Idempotency-Key} made once and sent again, with the same body, on every retry, so a network blip never
 * makes a second approval. Retries (with exponential backoff and jitter) happen only on a 5xx answer or a
 * connection error; any other refusal is a {@link CountersignException} naming the server's error code and field.
 * Waiting is a loop of long-polls ({@code ?wait=N}, at most 60 s each), so a wait of hours holds no thread
 * and survives dropped connections and server restarts. Thread-safe; share one instance.
 */
public final class Countersign {
    /** The JSON mapper the client reads and writes with. */
    static final ObjectMapper MAPPER = new ObjectMapper();
    /** Longest long-poll round the API allows. */
    static final int MAX_WAIT_SECONDS = 60;
    /** Added to the server's expiry when the agent waits "until the server decides": the timer may fire a little late. */
    static final Duration EXPIRY_GRACE = Duration.ofSeconds(30);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

    private final String base;
    private final String publicUrl;
    private final String agentKey;
    private final Duration requestTimeout;
    private final int maxRetries;
    private final Duration initialBackoff;
    private final HttpClient http;

    private Countersign(Builder b) {
        this.base = b.url;
        this.publicUrl = b.publicUrl != null ? b.publicUrl : b.url;
        this.agentKey = b.agentKey;
        this.requestTimeout = b.requestTimeout;
        this.maxRetries = b.maxRetries;
        this.initialBackoff = b.initialBackoff;
        this.http = b.httpClient != null ? b.httpClient
                : HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(b.requestTimeout.compareTo(Duration.ofSeconds(10)) < 0 ? b.requestTimeout : Duration.ofSeconds(10)).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A client from {@code COUNTERSIGN_URL} (default {@code http://localhost:8080}) and {@code COUNTERSIGN_AGENT_KEY}. */
    public static Countersign fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /** A client from these environment variables (see {@link #fromEnvironment()}). */
    public static Countersign fromEnvironment(Map<String, String> env) {
        String url = env.get("COUNTERSIGN_URL");
        String key = env.get("COUNTERSIGN_AGENT_KEY");
        if (key == null || key.isBlank()) {
            throw new CountersignException(0, "no_agent_key", "COUNTERSIGN_AGENT_KEY is not set: export the agent key the server accepts "
                    + "(one of its COUNTERSIGN_AGENT_KEYS, or an agents[].key in its config)", "COUNTERSIGN_AGENT_KEY");
        }
        try {
            return builder().url(url == null || url.isBlank() ? "http://localhost:8080" : url).agentKey(key).build();
        } catch (IllegalArgumentException e) {
            throw new CountersignException(0, "invalid_config", "COUNTERSIGN_URL: " + e.getMessage(), "COUNTERSIGN_URL");
        }
    }

    /** The service's base URL, without a trailing slash. */
    public String url() {
        return base;
    }

    // ------------------------------------------------------------------------------------------------ asking

    /**
     * Asks for approval ({@code POST /api/v1/approvals}) and returns at once with a handle: low risk (and medium
     * without a veto window) comes back already approved, anything else pending. Retries 5xx answers and
     * connection errors up to {@code maxRetries} times with one Idempotency-Key.
     *
     * @throws CountersignException when the server refuses the ask (bad key, bad input naming the field) or
     *                              stays unreachable
     */
    public ApprovalHandle requestApproval(Action action, Context context) {
        Objects.requireNonNull(action, "action");
        byte[] body = askBody(action, context == null ? Context.none() : context);
        String idempotencyKey = "cs-java-" + UUID.randomUUID();
        JsonNode json = send(post("/api/v1/approvals", body).header("Idempotency-Key", idempotencyKey).timeout(requestTimeout), maxRetries);
        return new ApprovalHandle(this, Outcome.of(json));
    }

    /**
     * {@link #requestApproval} without holding a thread: the ask is sent with {@link HttpClient#sendAsync} and the
     * future completes with the handle (on one of the HTTP client's threads) or with the {@link CountersignException}
     * {@code requestApproval} would throw. Same body, same single Idempotency-Key, same retries (5xx answers and
     * connection errors, with backoff) as {@code requestApproval}. Bad input throws at once, as there.
     */
    public CompletableFuture<ApprovalHandle> requestApprovalAsync(Action action, Context context) {
        Objects.requireNonNull(action, "action");
        byte[] body = askBody(action, context == null ? Context.none() : context);
        String idempotencyKey = "cs-java-" + UUID.randomUUID();
        HttpRequest r = post("/api/v1/approvals", body).header("Idempotency-Key", idempotencyKey).timeout(requestTimeout).build();
        CompletableFuture<JsonNode> answer = new CompletableFuture<>();
        sendAsync(r, maxRetries, 0, answer);
        return answer.thenApply(json -> new ApprovalHandle(this, Outcome.of(json)));
    }

    /** One attempt of {@link #send} without blocking; the next attempt (after a 5xx or a connection error) runs after the backoff. */
    private void sendAsync(HttpRequest r, int retries, int attempt, CompletableFuture<JsonNode> result) {
        CompletableFuture<HttpResponse<String>> call;
        try {
            call = http.sendAsync(r, HttpResponse.BodyHandlers.ofString());
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
            return;
        }
        call.whenComplete((resp, error) -> {
            Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            Exception last;
            int lastStatus;
            try {
                if (e == null) {
                    if (resp.statusCode() < 500) {
                        result.complete(answer(r, resp));
                        return;
                    }
                    lastStatus = resp.statusCode();
                    last = error(r, resp);
                } else if (e instanceof IOException io) {
                    last = io;
                    lastStatus = 0;
                } else {
                    result.completeExceptionally(e instanceof RuntimeException ? e : new CountersignException(0, "unexpected", e.toString(), null, e));
                    return;
                }
            } catch (RuntimeException refused) {
                result.completeExceptionally(refused);
                return;
            }
            if (attempt >= retries) {
                result.completeExceptionally(last instanceof CountersignException ce ? ce : unreachable(r, last, retries + 1, lastStatus));
                return;
            }
            CompletableFuture.delayedExecutor(backoff(attempt).toNanos(), TimeUnit.NANOSECONDS)
                    .execute(() -> sendAsync(r, retries, attempt + 1, result));
        });
    }

    /** A handle on an approval asked earlier (by id), e.g. after the agent restarted; reads its state once. */
    public ApprovalHandle approval(String id) {
        return new ApprovalHandle(this, Outcome.of(send(get(path(id), 0).timeout(requestTimeout), maxRetries)));
    }

    /**
     * Asks, waits until the server decides (its expiry, plus a short grace for the timer), and runs
     * {@code action} only if approved: at once for low risk, after the veto window for medium risk with one,
     * when a person approves for high risk. Returns what {@code action} returns; its exceptions pass through.
     *
     * @throws ApprovalRejectedException  a person rejected it (who, comment)
     * @throws ApprovalExpiredException   nobody decided in time
     * @throws ApprovalCancelledException it was withdrawn
     * @throws ApprovalTimeoutException   the wait ended while still pending (then the request is withdrawn)
     * @throws CountersignException       the ask was refused or the server could not be reached; nothing ran
     */
    public <T> T executeWithApproval(Action action, Context context, Callable<T> task) throws Exception {
        return executeWithApproval(action, context, null, task);
    }

    /**
     * As {@link #executeWithApproval(Action, Context, Callable)}, waiting at most {@code maxWait} (null: until the
     * server decides). When the wait ends while the approval is still pending, the request is withdrawn (so a
     * late click cannot approve an action nobody runs) and {@link ApprovalTimeoutException} is thrown; if a
     * decision landed just before the withdrawal, that decision counts.
     */
    public <T> T executeWithApproval(Action action, Context context, Duration maxWait, Callable<T> task) throws Exception {
        Objects.requireNonNull(task, "task");
        approved(requestApproval(action, context), maxWait);
        return task.call();
    }

    /**
     * A breakpoint: asks once for a whole plan (action type {@code plan.review}, params {@code steps}), waits
     * until the server decides, and returns the approved outcome; a rejection, expiry or withdrawal throws as
     * {@link #executeWithApproval} does, so the agent stops before its first step.
     */
    public Outcome reviewPlan(String summary, List<String> steps, Context context) {
        return reviewPlan(PlanReview.of(summary, steps), context, null);
    }

    /** {@link #reviewPlan(String, List, Context)} with a {@link PlanReview} and a maximum wait (null: until the server decides). */
    public Outcome reviewPlan(PlanReview plan, Context context, Duration maxWait) {
        return approved(requestApproval(plan.toAction(), context), maxWait);
    }

    /** Waits for the handle's decision and returns it if approved; otherwise throws the matching denial. */
    Outcome approved(ApprovalHandle handle, Duration maxWait) {
        Outcome o = handle.lastSeen();
        if (o.pending()) {
            Duration wait = maxWait != null ? maxWait : untilServerDecides(o);
            o = handle.await(wait);
            if (o.pending()) {
                Outcome after;
                try {
                    after = handle.cancel("the agent stopped waiting after " + wait);
                } catch (CountersignException e) {
                    ApprovalTimeoutException t = new ApprovalTimeoutException(o, wait);
                    t.addSuppressed(e);
                    throw t;
                }
                if (after.status() == Status.CANCELLED) throw new ApprovalTimeoutException(after, wait);
                o = after; // decided just before the withdrawal
            }
        }
        return switch (o.status()) {
            case APPROVED -> o;
            case REJECTED -> throw new ApprovalRejectedException(o);
            case EXPIRED -> throw new ApprovalExpiredException(o);
            case CANCELLED -> throw new ApprovalCancelledException(o);
            case PENDING -> throw new ApprovalTimeoutException(o, maxWait);
        };
    }

    /** From now until the approval's {@code expires_at} plus a grace for the timer (24 h if the server gave none). */
    static Duration untilServerDecides(Outcome o) {
        Instant expires = o.expiresAt();
        Duration d = expires == null ? Duration.ofHours(24) : Duration.between(Instant.now(), expires);
        return (d.isNegative() ? Duration.ZERO : d).plus(EXPIRY_GRACE);
    }

    // ------------------------------------------------------------------------------------------------ bodies

    static byte[] askBody(Action action, Context c) {
        ObjectNode body = MAPPER.createObjectNode();
        ObjectNode a = body.putObject("action");
        a.put("type", action.type());
        a.put("summary", action.summary());
        a.set("params", MAPPER.valueToTree(action.params()));
        if (c.runId() != null) body.putObject("agent").put("run_id", c.runId());
        if (c.onBehalfOf() != null) body.put("requested_for", c.onBehalfOf());
        if (c.reason() != null || c.impact() != null || !c.links().isEmpty()) {
            ObjectNode ctx = body.putObject("context");
            if (c.reason() != null) ctx.put("reason", c.reason());
            if (c.impact() != null) ctx.put("impact", c.impact());
            if (!c.links().isEmpty()) {
                ArrayNode links = ctx.putArray("links");
                c.links().forEach(l -> links.addObject().put("title", l.title()).put("url", l.url()));
            }
        }
        if (c.riskHint() != null) {
            ObjectNode risk = body.putObject("risk").put("level", c.riskHint().wire());
            if (c.riskExplanation() != null) risk.put("explanation", c.riskExplanation());
        }
        if (c.callbackUrl() != null) body.put("callback_url", c.callbackUrl());
        if (c.timeout() != null) body.put("timeout", c.timeout().toString());
        try {
            return MAPPER.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("action.params cannot be written as JSON: " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------------------------ HTTP

    String webUrl(Outcome o) {
        JsonNode url = o.json().path("url");
        return url.isTextual() ? url.asText() : publicUrl + "/web/approvals/" + o.id();
    }

    static String path(String id) {
        if (id == null || !id.matches("[A-Za-z0-9_\\-]+")) throw new IllegalArgumentException("not an approval id: " + id);
        return "/api/v1/approvals/" + id;
    }

    HttpRequest.Builder get(String path, int waitSeconds) {
        return request(waitSeconds > 0 ? path + "?wait=" + waitSeconds : path).GET();
    }

    HttpRequest.Builder post(String path, byte[] body) {
        return request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body));
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + agentKey)
                .header("Accept", "application/json").header("User-Agent", "countersign-java-client/0.1");
    }

    HttpClient http() {
        return http;
    }

    Duration requestTimeout() {
        return requestTimeout;
    }

    int maxRetries() {
        return maxRetries;
    }

    /** Sends, retrying 5xx answers and connection errors {@code retries} times; returns the 2xx body's JSON. */
    JsonNode send(HttpRequest.Builder request, int retries) {
        HttpRequest r = request.build();
        Exception last = null;
        int lastStatus = 0;
        for (int attempt = 0; ; attempt++) {
            try {
                HttpResponse<String> resp = http.send(r, HttpResponse.BodyHandlers.ofString());
                if (resp.statusCode() < 500) return answer(r, resp);
                lastStatus = resp.statusCode();
                last = error(r, resp);
            } catch (IOException e) {
                last = e;
                lastStatus = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CountersignException(0, "interrupted", "interrupted while calling Countersign at " + base, null, e);
            }
            if (attempt >= retries) break;
            sleep(backoff(attempt));
        }
        if (last instanceof CountersignException ce) throw ce;
        throw unreachable(r, last, retries + 1, lastStatus);
    }

    CountersignException unreachable(HttpRequest r, Throwable cause, int attempts, int status) {
        String why = describe(cause);
        return new CountersignException(status, "unreachable", "cannot reach Countersign at " + base + " (" + r.method() + " " + r.uri().getPath()
                + ", " + attempts + " attempt" + (attempts == 1 ? "" : "s") + ": " + why + "); is it running? check COUNTERSIGN_URL", null, cause);
    }

    /** A connection failure in words (the JDK's exceptions often carry no message). */
    static String describe(Throwable cause) {
        if (cause == null) return "no answer";
        if (cause instanceof CountersignException) return cause.getMessage();
        if (cause instanceof java.net.ConnectException) return "connection refused";
        if (cause instanceof java.net.http.HttpConnectTimeoutException) return "connecting timed out";
        if (cause instanceof java.net.http.HttpTimeoutException) return "no answer in time";
        if (cause instanceof java.nio.channels.UnresolvedAddressException || cause instanceof java.net.UnknownHostException) return "unknown host";
        String m = cause.getMessage();
        return m == null || m.isBlank() ? "connection failed (" + cause.getClass().getSimpleName().replace("Exception", "") + ")" : m;
    }

    /** A 2xx answer's JSON; any other a {@link CountersignException} with the server's code and field. */
    JsonNode answer(HttpRequest r, HttpResponse<String> resp) {
        if (resp.statusCode() / 100 != 2) throw error(r, resp);
        try {
            return MAPPER.readTree(resp.body());
        } catch (IOException e) {
            throw new CountersignException(resp.statusCode(), "bad_response", "Countersign answered " + r.method() + " " + r.uri().getPath()
                    + " with something that is not JSON: " + abbreviate(resp.body()), null, e);
        }
    }

    static CountersignException error(HttpRequest r, HttpResponse<String> resp) {
        int status = resp.statusCode();
        JsonNode err = null;
        try {
            err = MAPPER.readTree(resp.body()).path("error");
        } catch (IOException | RuntimeException ignored) {
            // not JSON: described below
        }
        String code = err != null && err.path("code").isTextual() ? err.path("code").asText() : "http_" + status;
        String message = err != null && err.path("message").isTextual() ? err.path("message").asText() : abbreviate(resp.body());
        String field = err != null && err.path("field").isTextual() ? err.path("field").asText() : null;
        String hint = status == 401 ? "; check COUNTERSIGN_AGENT_KEY (the server accepts the keys in its COUNTERSIGN_AGENT_KEYS or agents[].key)" : "";
        CountersignException e = new CountersignException(status, code, message + " (HTTP " + status + " " + code
                + (field == null ? "" : ", field " + field) + hint + ")", field);
        return e;
    }

    private static String abbreviate(String s) {
        if (s == null) return "";
        return s.length() > 200 ? s.substring(0, 200) + "…" : s;
    }

    Duration backoff(int attempt) {
        long base = initialBackoff.toMillis() << Math.min(attempt, 10);
        long capped = Math.min(base, MAX_BACKOFF.toMillis());
        return Duration.ofMillis(capped / 2 + ThreadLocalRandom.current().nextLong(capped / 2 + 1));
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CountersignException(0, "interrupted", "interrupted while retrying", null, e);
        }
    }

    // ------------------------------------------------------------------------------------------------ builder

    public static final class Builder {
        private String url;
        private String publicUrl;
        private String agentKey;
        private Duration requestTimeout = Duration.ofSeconds(30);
        private int maxRetries = 4;
        private Duration initialBackoff = Duration.ofMillis(200);
        private HttpClient httpClient;

        private Builder() {}

        /** The service's base URL, e.g. {@code http://localhost:8080}. */
        public Builder url(String url) {
            this.url = url;
            return this;
        }

        /** The agent key (one of the server's {@code COUNTERSIGN_AGENT_KEYS} or {@code agents[].key}). */
        public Builder agentKey(String agentKey) {
            this.agentKey = agentKey;
            return this;
        }

        /** Timeout of one request (not of a wait): default 30 s. */
        public Builder requestTimeout(Duration timeout) {
            if (timeout == null || timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("requestTimeout must be positive, got " + timeout);
            this.requestTimeout = timeout;
            return this;
        }

        /** Retries of an ask or a cancel after a 5xx answer or a connection error: default 4 (5 attempts). */
        public Builder maxRetries(int maxRetries) {
            if (maxRetries < 0) throw new IllegalArgumentException("maxRetries must be 0 or more, got " + maxRetries);
            this.maxRetries = maxRetries;
            return this;
        }

        /** The first retry's delay (doubling up to 5 s, with jitter): default 200 ms. */
        public Builder initialBackoff(Duration backoff) {
            if (backoff == null || backoff.isNegative()) throw new IllegalArgumentException("initialBackoff must be 0 or more, got " + backoff);
            this.initialBackoff = backoff;
            return this;
        }

        /** The URL people's browsers reach, for {@link ApprovalHandle#url()}, when it is not {@link #url}. */
        public Builder publicUrl(String publicUrl) {
            this.publicUrl = publicUrl == null ? null : checkUrl(publicUrl, "publicUrl");
            return this;
        }

        /** The JDK HTTP client to use (default: HTTP/1.1 with keep-alive). */
        public Builder httpClient(HttpClient httpClient) {
            this.httpClient = httpClient;
            return this;
        }

        public Countersign build() {
            if (url == null || url.isBlank()) throw new IllegalArgumentException("url is required (e.g. http://localhost:8080)");
            url = checkUrl(url, "url");
            if (agentKey == null || agentKey.isBlank()) throw new IllegalArgumentException("agentKey is required");
            return new Countersign(this);
        }

        private static String checkUrl(String url, String name) {
            URI u;
            try {
                u = URI.create(url.trim());
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(name + " is not a URL: " + url);
            }
            if (!u.isAbsolute() || !("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
                throw new IllegalArgumentException(name + " must be an absolute http(s) URL such as http://localhost:8080, got '" + url + "'");
            }
            return url.trim().replaceAll("/+$", "");
        }
    }
}
