package dev.countersign.mcp;

import dev.countersign.client.Action;
import dev.countersign.client.ApprovalHandle;
import dev.countersign.client.Context;
import dev.countersign.client.Countersign;
import dev.countersign.client.Outcome;
import dev.countersign.client.Status;
import io.modelcontextprotocol.json.McpJsonDefaults;
import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.json.schema.JsonSchemaValidator;
import io.modelcontextprotocol.server.McpAsyncServer;
import io.modelcontextprotocol.server.McpAsyncServerExchange;
import io.modelcontextprotocol.server.McpServer;
import io.modelcontextprotocol.server.McpServerFeatures.AsyncToolSpecification;
import io.modelcontextprotocol.server.transport.StdioServerTransportProvider;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.CallToolRequest;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.Tool;
import io.modelcontextprotocol.spec.McpServerTransportProvider;
import io.modelcontextprotocol.spec.McpStreamableServerTransportProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;

/**
 * The MCP approval gateway: an MCP server whose tools are those of a downstream MCP server (listed unchanged),
 * plus its own {@code request_approval}. Every {@code tools/call} is first asked through Countersign as action
 * {@code mcp.<name>.<tool>} (the arguments as params, secrets masked) and forwarded only once approved. A
 * rejection, an expiry, a cancellation or any failure to confirm the approval becomes a tool error result
 * ({@code isError: true}) that says who decided and why; the call is then never forwarded (fail closed).
 *
 * <p>Serves stdio ({@link #serveStdio}) or Streamable HTTP ({@link #serveHttp}). Thread-safe.
 */
public final class McpGateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(McpGateway.class);
    static final String REQUEST_APPROVAL = "request_approval";

    private final GatewayConfig config;
    private final Countersign countersign;
    private final McpJsonMapper json = McpJsonDefaults.getMapper();
    private final Downstream downstream;
    private final List<McpAsyncServer> servers = new CopyOnWriteArrayList<>();
    private final Set<ApprovalHandle> waiting = ConcurrentHashMap.newKeySet();
    private final List<AutoCloseable> endpoints = new CopyOnWriteArrayList<>();
    private volatile List<Tool> tools;
    private volatile String ownToolName = REQUEST_APPROVAL;
    private volatile boolean closed;

    private McpGateway(GatewayConfig config, Countersign countersign) {
        this.config = config;
        this.countersign = countersign;
        this.downstream = new Downstream(config, json, this::onToolsChanged);
    }

    /** Starts the downstream server and lists its tools; throws {@link IllegalStateException} if it cannot be started. */
    public static McpGateway start(GatewayConfig config, Countersign countersign) {
        McpGateway g = new McpGateway(config, countersign);
        try {
            g.tools = g.downstream.start();
        } catch (RuntimeException e) {
            g.downstream.close();
            throw new IllegalStateException("the downstream MCP server '" + config.name() + "' could not be started: " + e.getMessage(), e);
        }
        g.ownToolName = g.ownName(g.tools);
        return g;
    }

    public GatewayConfig config() {
        return config;
    }

    /** The downstream server's tools, as it lists them. */
    public List<Tool> downstreamTools() {
        return tools;
    }

    /** The pid of the downstream process, or -1 when it is not running. */
    public long downstreamPid() {
        return downstream.pid();
    }

    // ------------------------------------------------------------------ transports

    /**
     * Serves MCP over {@code in}/{@code out} (newline-delimited JSON-RPC) and blocks until {@code in} ends (the
     * client went away) or {@link #close()}. Nothing but MCP messages is written to {@code out}.
     */
    public void serveStdio(InputStream in, OutputStream out) throws InterruptedException {
        CountDownLatch ended = new CountDownLatch(1);
        InputStream watched = new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                return ended(super.read());
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return ended(super.read(b, off, len));
                } catch (IOException e) {
                    ended.countDown();
                    throw e;
                }
            }

            private int ended(int n) {
                if (n < 0) ended.countDown();
                return n;
            }
        };
        McpAsyncServer server = build(new StdioServerTransportProvider(json, watched, out));
        endpoints.add(ended::countDown);
        try {
            ended.await();
        } finally {
            server.closeGracefully().onErrorResume(e -> Mono.empty()).block(Duration.ofSeconds(5));
            servers.remove(server);
        }
    }

    /** Serves MCP over Streamable HTTP at {@code http://host:port/mcp} (port 0: a free one) until closed. */
    public HttpEndpoint serveHttp(String host, int port) {
        HttpEndpoint endpoint = HttpEndpoint.start(host, port, json, provider -> build(provider), servers::remove);
        endpoints.add(endpoint);
        return endpoint;
    }

    McpAsyncServer build(McpServerTransportProvider provider) {
        return register(McpServer.async(provider));
    }

    McpAsyncServer build(McpStreamableServerTransportProvider provider) {
        return register(McpServer.async(provider));
    }

    private McpAsyncServer register(McpServer.AsyncSpecification<?> spec) {
        McpAsyncServer server = spec
                .serverInfo(McpSchema.Implementation.builder("countersign-mcp-gateway-" + config.name(), GatewayConfig.VERSION).build())
                .instructions("Every tool call is approved through Countersign before it runs. A call that is refused comes back"
                        + " as a tool error saying who refused it and why: adapt instead of retrying the same call.")
                .capabilities(McpSchema.ServerCapabilities.builder().tools(true).build())
                .strictToolNameValidation(false) // the downstream's names, whatever they are
                .validateToolInputs(false)       // the downstream validates its own inputs
                .jsonSchemaValidator(new PassThroughValidator(json)) // and its own outputs: results pass unchanged
                .requestTimeout(Duration.ofMinutes(1))
                .tools(specifications(tools))
                .build();
        servers.add(server);
        return server;
    }

    private List<AsyncToolSpecification> specifications(List<Tool> downstreamTools) {
        List<AsyncToolSpecification> specs = new ArrayList<>();
        for (Tool t : downstreamTools) {
            specs.add(AsyncToolSpecification.builder().tool(t).callHandler(this::gatedCall).build());
        }
        specs.add(AsyncToolSpecification.builder().tool(RequestApprovalTool.tool(ownToolName, json))
                .callHandler(this::requestApprovalCall).build());
        return specs;
    }

    private String ownName(List<Tool> downstreamTools) {
        boolean taken = downstreamTools.stream().anyMatch(t -> t.name().equals(REQUEST_APPROVAL));
        if (taken) log.warn("the downstream server has its own '{}' tool; the gateway's is 'countersign_{}'", REQUEST_APPROVAL, REQUEST_APPROVAL);
        return taken ? "countersign_" + REQUEST_APPROVAL : REQUEST_APPROVAL;
    }

    private void onToolsChanged(List<Tool> changed) {
        List<Tool> before = tools;
        tools = changed;
        log.info("the downstream server's tools changed: {} tools now", changed.size());
        for (McpAsyncServer server : servers) {
            for (Tool old : before) {
                if (changed.stream().noneMatch(t -> t.name().equals(old.name()))) {
                    server.removeTool(old.name()).onErrorResume(e -> Mono.empty()).subscribe();
                }
            }
            for (Tool t : changed) {
                if (!before.contains(t)) {
                    server.addTool(AsyncToolSpecification.builder().tool(t).callHandler(this::gatedCall).build())
                            .onErrorResume(e -> Mono.empty()).subscribe();
                }
            }
        }
    }

    // ------------------------------------------------------------------ a gated call

    private Mono<CallToolResult> gatedCall(McpAsyncServerExchange exchange, CallToolRequest request) {
        String crash = downstream.unreportedExit();
        if (crash != null) return Mono.just(Results.error(crash));
        Map<String, Object> params = ToolCalls.masked(request.arguments(), config.secretNames());
        Action action = Action.of(ToolCalls.actionType(config.name(), request.name()),
                ToolCalls.summary(config.name(), request.name(), params), params);
        Context context = Context.builder()
                .reason("MCP tool call by " + clientName(exchange) + " through the Countersign gateway for '" + config.name() + "'")
                .runId(exchange.sessionId())
                .timeout(config.approvalTimeout())
                .build();
        return decide(action, context).flatMap(verdict -> {
            if (verdict.error() != null) return Mono.just(verdict.error());
            if (closed) return Mono.just(Results.error("The gateway is shutting down; the call to '" + request.name() + "' was not forwarded."));
            return downstream.call(request);
        });
    }

    /** Asks, waits, and answers: proceed (error null) or the tool error to return. Never throws. */
    private Mono<Verdict> decide(Action action, Context context) {
        // The ask is sent without blocking a thread (no hop to a worker and back): the rest of the call, forwarding
        // included, runs on the HTTP client's thread that read the ask's answer.
        return ask(action, context)
                .flatMap(handle -> {
                    waiting.add(handle);
                    if (closed) withdraw(handle, "the MCP gateway stopped"); // asked while it was stopping
                    Outcome first = handle.lastSeen();
                    if (!first.pending()) { // decided in the ask's answer (low risk: approved by policy): no wait at all
                        waiting.remove(handle);
                        return Mono.just(verdict(action, handle, first));
                    }
                    return Mono.fromFuture(() -> handle.awaitAsync(config.approvalTimeout()), true)
                            .map(outcome -> verdict(action, handle, outcome))
                            .onErrorResume(e -> Mono.fromCallable(() -> unconfirmed(action, handle, e))
                                    .subscribeOn(Schedulers.boundedElastic()))
                            .doOnCancel(() -> withdraw(handle, "the MCP request was abandoned"))
                            .doFinally(s -> waiting.remove(handle));
                })
                .onErrorResume(e -> Mono.just(Verdict.refuse(Results.error("Countersign could not be asked to approve '" + action.type()
                        + "' (" + message(e) + "), so the call was not forwarded."))));
    }

    /** The ask, sent asynchronously; bad input or a refused/unreachable server is an error signal, never a throw. */
    private Mono<ApprovalHandle> ask(Action action, Context context) {
        return Mono.defer(() -> Mono.fromFuture(countersign.requestApprovalAsync(action, context), true));
    }

    private Verdict verdict(Action action, ApprovalHandle handle, Outcome outcome) {
        Status status = outcome.status();
        if (status == Status.APPROVED && !closed) return Verdict.PROCEED;
        if (status == Status.PENDING) {
            Outcome after = withdraw(handle, "no decision within " + config.approvalTimeout());
            if (after != null && after.status() == Status.APPROVED && !closed) return Verdict.PROCEED; // decided in the last moment
            return Verdict.refuse(Results.error("No decision on '" + action.summary() + "' within " + human(config.approvalTimeout())
                    + " (approval " + handle.id() + "); the request was withdrawn and the call was not forwarded."));
        }
        return Verdict.refuse(Results.error(refusalText(outcome, handle)));
    }

    /** "Rejected by Alice Ng (alice): use the sandbox account" and the like. */
    static String refusalText(Outcome outcome, ApprovalHandle handle) {
        String comment = outcome.comment();
        if (comment != null && !comment.isBlank() && !comment.strip().matches("(?s).*[.!?]$")) comment = comment.strip() + ".";
        String by = decider(outcome);
        String tail = " The call was not forwarded (approval " + handle.id() + ").";
        return switch (outcome.status()) {
            case REJECTED -> "Rejected by " + by + (comment == null || comment.isBlank() ? "." : ": " + comment) + tail;
            case EXPIRED -> "Expired: nobody decided in time" + (comment == null || comment.isBlank() ? "." : " (" + comment + ").") + tail;
            case CANCELLED -> "Cancelled by " + by + (comment == null || comment.isBlank() ? "." : ": " + comment) + tail;
            default -> "Not approved (" + outcome.status() + ")." + tail;
        };
    }

    private static String decider(Outcome outcome) {
        String id = outcome.decidedBy();
        String name = outcome.json().path("decision").path("by").path("name").asText(null);
        if (name != null && id != null && !name.equals(id)) return name + " (" + id + ")";
        return id != null ? id : name != null ? name : "someone";
    }

    private Verdict unconfirmed(Action action, ApprovalHandle handle, Throwable e) {
        withdraw(handle, "the gateway could not confirm a decision");
        return Verdict.refuse(Results.error("The approval of '" + action.type() + "' (" + handle.id() + ") could not be confirmed ("
                + message(e) + "), so the call was not forwarded."));
    }

    /** Withdraws a pending ask (best effort) and returns the approval as it then is, or null. */
    private Outcome withdraw(ApprovalHandle handle, String reason) {
        try {
            return handle.cancel(reason);
        } catch (RuntimeException e) {
            log.warn("could not withdraw approval {}: {}", handle.id(), e.toString());
            return null;
        }
    }

    private record Verdict(CallToolResult error) {
        static final Verdict PROCEED = new Verdict(null);

        static Verdict refuse(CallToolResult error) {
            return new Verdict(error);
        }
    }

    // ------------------------------------------------------------------ request_approval

    private Mono<CallToolResult> requestApprovalCall(McpAsyncServerExchange exchange, CallToolRequest request) {
        RequestApprovalTool.Ask ask;
        try {
            ask = RequestApprovalTool.parse(request.arguments(), config, clientName(exchange), exchange.sessionId());
        } catch (IllegalArgumentException e) {
            return Mono.just(Results.error("Bad arguments for " + ownToolName + ": " + e.getMessage()));
        }
        return ask(ask.action(), ask.context())
                .flatMap(handle -> {
                    waiting.add(handle);
                    return Mono.fromFuture(() -> handle.awaitAsync(ask.maxWait()), true)
                            .map(outcome -> {
                                if (outcome.status() == Status.PENDING) {
                                    Outcome after = withdraw(handle, "no decision within " + ask.maxWait());
                                    if (after != null) outcome = after;
                                }
                                return RequestApprovalTool.result(outcome, handle, json);
                            })
                            .doOnCancel(() -> withdraw(handle, "the MCP request was abandoned"))
                            .doFinally(s -> waiting.remove(handle));
                })
                .onErrorResume(e -> Mono.just(Results.error("Countersign could not be asked (" + message(e) + ").")));
    }

    // ------------------------------------------------------------------ helpers

    private static String clientName(McpAsyncServerExchange exchange) {
        McpSchema.Implementation info = exchange.getClientInfo();
        return info == null ? "an MCP client" : info.name();
    }

    static String message(Throwable e) {
        Throwable t = e;
        while ((t.getMessage() == null || t instanceof java.util.concurrent.CompletionException) && t.getCause() != null) t = t.getCause();
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }

    static String human(Duration d) {
        if (d.toSeconds() < 120) return d.toSeconds() + " s";
        if (d.toMinutes() < 120) return d.toMinutes() + " min";
        return d.toHours() + " h";
    }

    /**
     * Stops serving: every ask still waiting is withdrawn (so it is never forwarded, even if someone approves it
     * later), the endpoints close, and the downstream server is stopped.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (ApprovalHandle h : new ArrayList<>(waiting)) withdraw(h, "the MCP gateway stopped");
        for (AutoCloseable e : endpoints) {
            try {
                e.close();
            } catch (Exception ex) {
                log.debug("closing an endpoint: {}", ex.toString());
            }
        }
        for (McpAsyncServer s : servers) {
            try {
                s.closeGracefully().block(Duration.ofSeconds(3));
            } catch (RuntimeException ex) {
                log.debug("closing a server: {}", ex.toString());
            }
        }
        downstream.close();
    }

    /** Output schemas are the downstream's business: its results are relayed as they are. */
    private static final class PassThroughValidator implements JsonSchemaValidator {
        private final McpJsonMapper json;

        PassThroughValidator(McpJsonMapper json) {
            this.json = json;
        }

        @Override
        public ValidationResponse validate(Map<String, Object> schema, Object structuredContent) {
            try {
                return ValidationResponse.asValid(json.writeValueAsString(structuredContent));
            } catch (IOException e) {
                return ValidationResponse.asValid(String.valueOf(structuredContent));
            }
        }

        @Override
        public void assertConforms(String what, Map<String, Object> schema) {
            // the downstream's schemas are listed as they are
        }

        @Override
        public ValidationResponse validateSchema(Map<String, Object> schema) {
            return ValidationResponse.asValid(null);
        }
    }
}
