package dev.countersign.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.ConflictException;
import dev.countersign.core.Countersign;
import dev.countersign.core.CountersignException;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.ApprovalJson;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Status;
import dev.countersign.core.ask.AskRequest;
import dev.countersign.core.ask.AskService;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionResult;
import dev.countersign.core.store.Json;
import dev.countersign.core.store.StoreException;
import dev.countersign.server.config.ConfigLoader;
import dev.countersign.server.config.ServerConfig;
import dev.countersign.server.web.WebUi;
import dev.countersign.slack.SlackHttpTransport;
import dev.countersign.teams.TeamsBot;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The agent API (DESIGN.md, "Agent API"), the operator decision endpoint and the health and metrics
 * endpoints, on Javalin. A thin translator: JSON in → a core call → JSON out. Long-polls are asynchronous
 * (no thread is held while an agent waits).
 */
public final class ApiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ApiServer.class);
    /** Bodies above this are refused with 413. */
    public static final int MAX_BODY = 64 * 1024;
    private static final int MAX_WAIT_SECONDS = 60;
    /** A decision's comment or a cancel's reason: what the decision_comment column holds. */
    private static final int MAX_COMMENT = 10_000;
    /** Bodies are read strictly: anything after the one JSON value (a second object, stray text) is refused. */
    private static final ObjectReader STRICT_JSON = Json.MAPPER.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Countersign engine;
    private final Keys keys;
    private final PrometheusMeterRegistry metrics;
    private final Javalin app;

    public ApiServer(Countersign engine, ServerConfig config, PrometheusMeterRegistry metrics) {
        this(engine, config, metrics, null);
    }

    /** @param web the approval pages, served by the same app; null for the API alone */
    public ApiServer(Countersign engine, ServerConfig config, PrometheusMeterRegistry metrics, WebUi web) {
        this(engine, config, metrics, web, null, null);
    }

    /**
     * @param slack Slack's HTTP-mode endpoint ({@code POST /slack/events}); null when Slack is off (or in Socket Mode)
     * @param teams the Teams bot's endpoint ({@code POST /api/messages}); null when Teams is off
     */
    public ApiServer(Countersign engine, ServerConfig config, PrometheusMeterRegistry metrics, WebUi web, SlackHttpTransport slack, TeamsBot teams) {
        this.engine = engine;
        this.keys = new Keys(config.agentKeys(), config.operatorKeys());
        this.metrics = metrics;
        this.app = Javalin.create(cfg -> {
            cfg.http.maxRequestSize = MAX_BODY;
            cfg.http.asyncTimeout = (MAX_WAIT_SECONDS + 15) * 1000L;
            cfg.startup.showJavalinBanner = false;
            cfg.jetty.port = config.port();
            cfg.routes.before(this::refuseLargeBodies);
            cfg.routes.get("/healthz", ctx -> json(ctx, 200, "{\"status\":\"ok\"}"));
            cfg.routes.get("/readyz", this::ready);
            cfg.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
            cfg.routes.post("/api/v1/approvals", this::ask);
            cfg.routes.get("/api/v1/approvals", this::list);
            cfg.routes.get("/api/v1/approvals/{id}", this::get);
            cfg.routes.post("/api/v1/approvals/{id}/cancel", this::cancel);
            cfg.routes.post("/api/v1/approvals/{id}/decision", this::decision);
            if (web != null) web.routes(cfg.routes);
            if (slack != null) cfg.routes.post(SLACK_EVENTS, ctx -> slackEvents(ctx, slack));
            if (teams != null) cfg.routes.post("/api/messages", ctx -> teams(ctx, teams));
            cfg.routes.exception(ApiError.class, (e, ctx) -> json(ctx, e.status, e.body()));
            cfg.routes.exception(InvalidInputException.class, (e, ctx) -> json(ctx, 400, ApiError.body(e.code(), e.getMessage(), e.field(), null)));
            cfg.routes.exception(ConflictException.class, (e, ctx) -> json(ctx, 409, ApiError.body(e.code(), e.getMessage(), null, null)));
            cfg.routes.exception(StoreException.class, (e, ctx) -> {
                if (e.isDataError()) {
                    // A value the database cannot hold: the request is at fault, and a retry would fail the same way.
                    log.warn("database refused a value on {} {}: {}", ctx.method(), ctx.path(), e.getMessage());
                    json(ctx, 400, ApiError.body("invalid_input", "a value in the request cannot be stored (too long or not representable)", null, null));
                    return;
                }
                log.error("database failure on {} {}", ctx.method(), ctx.path(), e);
                ctx.header("Retry-After", "1");
                json(ctx, 503, ApiError.body("unavailable", "the database is unavailable; retry shortly", null, null));
            });
            cfg.routes.exception(HttpResponseException.class, (e, ctx) -> {
                String code = switch (e.getStatus()) {
                    case 404 -> "not_found";
                    case 405 -> "method_not_allowed";
                    case 413 -> "body_too_large";
                    default -> "http_" + e.getStatus();
                };
                String message = switch (e.getStatus()) {
                    case 404 -> "no such endpoint: " + ctx.method() + " " + ctx.path();
                    case 413 -> "the request body is larger than " + MAX_BODY + " bytes";
                    default -> e.getMessage();
                };
                // A chunked body cut off at the limit leaves unread bytes on the connection: don't let the client reuse it.
                if (e.getStatus() == 413) ctx.header("Connection", "close");
                json(ctx, e.getStatus(), ApiError.body(code, message, null, null));
            });
            cfg.routes.exception(CountersignException.class, (e, ctx) -> {
                log.error("{} on {} {}", e.code(), ctx.method(), ctx.path(), e);
                json(ctx, 500, ApiError.body(e.code(), e.getMessage(), null, null));
            });
            cfg.routes.exception(Exception.class, (e, ctx) -> {
                log.error("unexpected failure on {} {}", ctx.method(), ctx.path(), e);
                json(ctx, 500, ApiError.body("internal_error", "an unexpected error occurred; it has been logged", null, null));
            });
            cfg.routes.error(404, ctx -> {
                // The web pages answer their own 404s in HTML.
                if (ctx.res().getContentType() != null && ctx.res().getContentType().startsWith("text/html")) return;
                if (ctx.result() == null || !ctx.result().startsWith("{")) json(ctx, 404, ApiError.body("not_found", "no such endpoint: " + ctx.method() + " " + ctx.path(), null, null));
            });
            cfg.routes.error(405, ctx -> json(ctx, 405, ApiError.body("method_not_allowed", ctx.method() + " is not allowed on " + ctx.path(), null, null)));
        });
    }

    public ApiServer start() {
        app.start();
        return this;
    }

    public int port() {
        return app.port();
    }

    @Override
    public void close() {
        // Agents in a long-poll get their approval as it stands (200, still pending) rather than a cut connection.
        engine.releaseWaiters();
        app.stop();
    }

    private void refuseLargeBodies(Context ctx) {
        if (SLACK_EVENTS.equals(ctx.path())) return;   // its own, larger cap: a click carries the message it came from
        long length = ctx.req().getContentLengthLong();
        if (length > MAX_BODY) {
            // Read a moderately large body to its end first: a client still sending when the connection closes
            // sees a reset instead of the 413. Beyond 1 MiB, close without reading.
            if (length <= DRAIN_LIMIT) {
                try (var in = ctx.req().getInputStream()) {
                    in.transferTo(java.io.OutputStream.nullOutputStream());
                } catch (java.io.IOException ignored) {
                    // the answer below is all the client gets either way
                }
            }
            throw new ApiError(413, "body_too_large", "the request body is larger than " + MAX_BODY + " bytes", null);
        }
    }

    private static final long DRAIN_LIMIT = 1024 * 1024;
    static final String SLACK_EVENTS = "/slack/events";

    /**
     * Slack's events, clicks and slash commands. Bolt verifies the signature over the body exactly as sent, so the
     * body is read here once, as bytes, and handed over untouched (no form or JSON parsing before it).
     */
    private static void slackEvents(Context ctx, SlackHttpTransport slack) throws java.io.IOException {
        long length = ctx.req().getContentLengthLong();
        byte[] body;
        try (var in = ctx.req().getInputStream()) {
            body = length > SlackHttpTransport.MAX_BODY ? null : in.readNBytes(SlackHttpTransport.MAX_BODY + 1);
        }
        if (body == null || body.length > SlackHttpTransport.MAX_BODY) {
            ctx.header("Connection", "close");
            json(ctx, 413, ApiError.body("body_too_large", "the request body is larger than " + SlackHttpTransport.MAX_BODY + " bytes", null, null));
            return;
        }
        java.util.Map<String, List<String>> headers = new java.util.HashMap<>();
        for (String name : java.util.Collections.list(ctx.req().getHeaderNames())) {
            headers.put(name, java.util.Collections.list(ctx.req().getHeaders(name)));
        }
        SlackHttpTransport.Answer answer = slack.handle(body, headers, ctx.req().getRemoteAddr());
        answer.headers().forEach((name, values) -> values.forEach(v -> ctx.res().addHeader(name, v)));
        ctx.status(answer.status()).contentType(answer.contentType()).result(answer.body());
    }

    /** Teams: the adapter authenticates and answers; this only carries bytes and headers across. */
    private static void teams(Context ctx, TeamsBot bot) {
        java.util.Map<String, String> headers = new java.util.HashMap<>();
        String auth = ctx.header("Authorization");
        if (auth != null) headers.put("Authorization", auth);
        TeamsBot.Response r = bot.handle(ctx.bodyAsBytes(), headers);
        ctx.status(r.status());
        if (r.body() != null) ctx.contentType(TeamsBot.Response.CONTENT_TYPE).result(r.body());
    }

    private void ready(Context ctx) {
        boolean ready = engine.isReady();
        json(ctx, ready ? 200 : 503, ready ? "{\"status\":\"ready\"}" : "{\"status\":\"not ready\",\"detail\":\"database unreachable or scheduler stopped\"}");
    }

    // ① – ⑤
    private void ask(Context ctx) {
        String agentId = agent(ctx);
        byte[] body = ctx.bodyAsBytes();
        JsonNode json = parse(body);
        AskRequest request = AskRequest.parse(json, agentId);
        AskService.Asked asked = engine.ask(agentId, request, ctx.header("Idempotency-Key"), ConfigLoader.sha256(new String(body, java.nio.charset.StandardCharsets.UTF_8)));
        Approval a = asked.approval();
        ctx.header("Location", "/api/v1/approvals/" + a.id());
        json(ctx, asked.created() ? 201 : 200, ApprovalJson.of(a).toString());
    }

    private void get(Context ctx) {
        Keys.Caller caller = caller(ctx);
        String id = ctx.pathParam("id");
        String waitText = ctx.queryParam("wait");
        if (waitText == null) {
            json(ctx, 200, ApprovalJson.of(visible(caller, engine.get(id), id)).toString());
            return;
        }
        int wait;
        try {
            wait = Integer.parseInt(waitText);
        } catch (NumberFormatException e) {
            throw new ApiError(400, "invalid_input", "wait must be a whole number of seconds from 1 to " + MAX_WAIT_SECONDS, "wait");
        }
        if (wait < 1 || wait > MAX_WAIT_SECONDS) {
            throw new ApiError(400, "invalid_input", "wait must be from 1 to " + MAX_WAIT_SECONDS + " seconds (got " + wait + ")", "wait");
        }
        visible(caller, engine.get(id), id);
        ctx.future(() -> engine.await(id, Duration.ofSeconds(wait)).thenAccept(found ->
                json(ctx, 200, ApprovalJson.of(visible(caller, found, id)).toString())));
    }

    private void list(Context ctx) {
        Keys.Caller caller = caller(ctx);
        Status status = null;
        String s = ctx.queryParam("status");
        if (s != null) {
            try {
                status = Status.fromWire(s);
            } catch (IllegalArgumentException e) {
                throw new ApiError(400, "invalid_input", "status must be one of pending, approved, rejected, expired, cancelled (got '" + s + "')", "status");
            }
        }
        int limit = 100;
        String l = ctx.queryParam("limit");
        if (l != null) {
            try {
                limit = Integer.parseInt(l);
                if (limit < 1 || limit > 1000) throw new NumberFormatException();
            } catch (NumberFormatException e) {
                throw new ApiError(400, "invalid_input", "limit must be from 1 to 1000", "limit");
            }
        }
        String agentId = caller instanceof Keys.Caller.Agent a ? a.id() : null;
        List<Approval> found = engine.list(agentId, status, limit);
        ObjectNode root = Json.MAPPER.createObjectNode();
        var items = root.putArray("approvals");
        found.forEach(a -> items.add(ApprovalJson.of(a)));
        json(ctx, 200, root.toString());
    }

    private void cancel(Context ctx) {
        String agentId = agent(ctx);
        String id = ctx.pathParam("id");
        String comment = null;
        byte[] body = ctx.bodyAsBytes();
        if (body.length > 0) {
            JsonNode json = parse(body);
            comment = optionalString(json, json.get("reason") != null ? "reason" : "comment", MAX_COMMENT);
        }
        DecisionResult r = engine.decide(new DecisionCommand(id, DecisionCommand.Verdict.CANCEL, new DecisionCommand.Actor.AgentActor(agentId), comment));
        answer(ctx, r);
    }

    private void decision(Context ctx) {
        Keys.Caller caller = caller(ctx);
        if (!(caller instanceof Keys.Caller.Operator)) {
            throw new ApiError(403, "forbidden", "recording a person's decision needs an operator key (COUNTERSIGN_OPERATOR_KEYS), not an agent key", null);
        }
        JsonNode json = parse(ctx.bodyAsBytes());
        String outcome = requiredString(json, "outcome");
        DecisionCommand.Verdict verdict = switch (outcome) {
            case "approve", "approved" -> DecisionCommand.Verdict.APPROVE;
            case "reject", "rejected" -> DecisionCommand.Verdict.REJECT;
            default -> throw new ApiError(400, "invalid_input", "outcome must be approve or reject (got '" + outcome + "')", "outcome");
        };
        String as = requiredString(json, "as");
        String comment = optionalString(json, "comment", MAX_COMMENT);
        answer(ctx, engine.decide(DecisionCommand.byPerson(ctx.pathParam("id"), verdict, as, DecidedVia.CLI, comment)));
    }

    private void answer(Context ctx, DecisionResult r) {
        if (r instanceof DecisionResult.Decided d) {
            json(ctx, 200, ApprovalJson.of(d.approval()).toString());
        } else if (r instanceof DecisionResult.VoteCounted v) {
            json(ctx, 200, ApprovalJson.of(v.approval()).toString());
        } else if (r instanceof DecisionResult.AlreadyDecided ad) {
            Approval a = ad.approval();
            Decision d = a.decision();
            ObjectNode extra = Json.MAPPER.createObjectNode();
            extra.set("approval", ApprovalJson.of(a));
            throw new ApiError(409, "already_decided", "already " + a.status().wire() + " by " + d.by().name() + " (" + d.by().channel().wire() + ") at " + d.at(), null, extra);
        } else {
            DecisionResult.Refused refused = (DecisionResult.Refused) r;
            throw switch (refused.reason()) {
                case NOT_FOUND, NOT_YOURS -> new ApiError(404, "not_found", "no approval with id " + ctx.pathParam("id"), null);
                case UNKNOWN_PERSON -> new ApiError(400, "unknown_person", refused.message(), "as");
                case NOT_ELIGIBLE -> new ApiError(403, "not_an_approver", refused.message(), "as");
                case SELF_APPROVAL -> new ApiError(403, "self_approval", refused.message(), "as");
                case NOT_ALLOWED -> new ApiError(400, "not_allowed", refused.message(), "outcome");
            };
        }
    }

    private Approval visible(Keys.Caller caller, Optional<Approval> found, String id) {
        if (found.isEmpty() || (caller instanceof Keys.Caller.Agent a && !found.get().agent().id().equals(a.id()))) {
            throw new ApiError(404, "not_found", "no approval with id " + id, null);
        }
        return found.get();
    }

    private Keys.Caller caller(Context ctx) {
        String auth = ctx.header("Authorization");
        if (auth == null || auth.isBlank()) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new ApiError(401, "unauthenticated", "send the agent key as 'Authorization: Bearer <key>'", null);
        }
        return keys.identify(auth).orElseThrow(() -> {
            ctx.header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return new ApiError(401, "invalid_key", "the key is not valid", null);
        });
    }

    private String agent(Context ctx) {
        Keys.Caller c = caller(ctx);
        if (c instanceof Keys.Caller.Agent a) return a.id();
        throw new ApiError(403, "forbidden", "this endpoint needs an agent key", null);
    }

    private static JsonNode parse(byte[] body) {
        if (body.length == 0) throw new ApiError(400, "invalid_json", "the body is empty; send a JSON object", "");
        try {
            JsonNode node = STRICT_JSON.readTree(body);
            if (node == null || node.isMissingNode()) throw new ApiError(400, "invalid_json", "the body is empty; send a JSON object", "");
            if (!node.isObject()) throw new ApiError(400, "invalid_json", "the body must be a JSON object", "");
            return node;
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw new ApiError(400, "invalid_json", "the body is not valid JSON" + where + ": " + e.getOriginalMessage(), "");
        } catch (java.io.IOException e) {
            throw new ApiError(400, "invalid_json", "the body could not be read", "");
        }
    }

    private static String requiredString(JsonNode json, String field) {
        String v = optionalString(json, field, 200);
        if (v == null || v.isBlank()) throw new ApiError(400, "invalid_input", field + " is required", field);
        return v;
    }

    private static String optionalString(JsonNode json, String field, int max) {
        JsonNode n = json.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isTextual()) throw new ApiError(400, "invalid_input", field + " must be a string", field);
        if (n.textValue().length() > max) throw new ApiError(400, "invalid_input", field + " is longer than " + max + " characters", field);
        // PostgreSQL text cannot hold U+0000: refuse it here rather than fail in the database.
        if (n.textValue().indexOf('\u0000') >= 0) throw new ApiError(400, "invalid_input", field + " must not contain NUL (\\u0000) characters", field);
        return n.textValue();
    }

    private static void json(Context ctx, int status, String body) {
        ctx.status(status).contentType("application/json").result(body);
    }
}
