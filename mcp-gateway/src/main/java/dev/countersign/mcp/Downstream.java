package dev.countersign.mcp;

import io.modelcontextprotocol.client.McpAsyncClient;
import io.modelcontextprotocol.client.McpClient;
import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.CallToolRequest;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.Tool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The downstream MCP server: a child process started from the configured command line, reached with the SDK's
 * client over stdio. It is started once up front (its tools are the gateway's tools), and again on the first call
 * after it stopped.
 *
 * <p>Crash semantics: if the process exits while a call is in flight there, that call fails with a tool error
 * (whether it took effect is unknown). If it exits between calls, the next call is told so with a tool error and
 * is neither asked nor forwarded; the call after that starts it again. A call whose approval was granted while the
 * process was down starts it again and is forwarded (the person approved the action, not the process).
 */
final class Downstream implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Downstream.class);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final GatewayConfig config;
    private final McpJsonMapper json;
    private final Consumer<List<Tool>> toolsChanged;
    private volatile Connection current; // written under this
    private boolean closed; // guarded by this
    private int starts; // guarded by this

    /** One run of the child process. */
    private static final class Connection {
        final ChildProcessTransport transport;
        final McpAsyncClient client;
        volatile List<Tool> tools = List.of();
        volatile boolean exitReported;

        Connection(ChildProcessTransport transport, McpAsyncClient client) {
            this.transport = transport;
            this.client = client;
        }

        boolean exited() {
            return transport.exited().isDone();
        }

        String exitText() {
            Integer code = transport.exited().getNow(null);
            if (transport.startFailure() != null) return "could not be started (" + transport.startFailure() + ")";
            return code == null ? "stopped" : "exited (exit code " + code + ")";
        }
    }

    Downstream(GatewayConfig config, McpJsonMapper json, Consumer<List<Tool>> toolsChanged) {
        this.config = config;
        this.json = json;
        this.toolsChanged = toolsChanged;
    }

    /** Starts the child (if it is not running) and returns its tools. Throws if it cannot be started. */
    synchronized List<Tool> start() {
        return running().tools;
    }

    /** The pid of the running child, or -1. */
    synchronized long pid() {
        return current == null || current.exited() ? -1 : current.transport.pid();
    }

    /**
     * If the child stopped since the last call and nobody was told yet: the text of the tool error that tells it
     * (once). The next call starts the child again.
     */
    synchronized String unreportedExit() {
        if (current == null || !current.exited() || current.exitReported) return null;
        current.exitReported = true;
        return "The downstream MCP server '" + config.name() + "' " + current.exitText()
                + " since the last call, so this call was not forwarded. It is started again on the next call: call the tool again.";
    }

    /** Forwards a call (starting the child first if needed); every failure becomes a tool error result, never an exception. */
    Mono<CallToolResult> call(CallToolRequest request) {
        Connection running = current; // the usual case, without a lock or a thread hop
        if (running != null && !running.exited()) return forward(running, request);
        return Mono.fromCallable(this::running)
                .subscribeOn(Schedulers.boundedElastic())
                .onErrorResume(e -> Mono.error(new StartFailed(e)))
                .flatMap(c -> forward(c, request))
                .onErrorResume(StartFailed.class, e -> Mono.just(Results.error(
                        "The downstream MCP server '" + config.name() + "' could not be started: " + e.getCause().getMessage()
                                + ". The call was not forwarded.")));
    }

    private Mono<CallToolResult> forward(Connection c, CallToolRequest request) {
        return c.client.callTool(request)
                .timeout(config.callTimeout())
                .onErrorResume(e -> Mono.just(failure(c, request, e)));
    }

    private CallToolResult failure(Connection c, CallToolRequest request, Throwable e) {
        if (c.exited() || c.transport.exited().isDone()) {
            c.exitReported = true;
            return Results.error("The downstream MCP server '" + config.name() + "' " + c.exitText() + " during the call to '"
                    + request.name() + "'; whether the call took effect is unknown. It is started again on the next call.");
        }
        if (e instanceof TimeoutException) {
            return Results.error("The downstream MCP server '" + config.name() + "' did not answer the call to '" + request.name()
                    + "' within " + config.callTimeout().toSeconds() + " s; whether it took effect is unknown.");
        }
        return Results.error("The call to '" + request.name() + "' on the downstream MCP server '" + config.name() + "' failed: "
                + e.getMessage());
    }

    private static final class StartFailed extends RuntimeException {
        StartFailed(Throwable cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }

    /** The running connection, started (again) if there is none. */
    private synchronized Connection running() {
        if (closed) throw new IllegalStateException("the gateway is shutting down");
        if (current != null && !current.exited()) return current;
        if (current != null) {
            log.info("restarting the downstream MCP server '{}' (it {})", config.name(), current.exitText());
            current.client.close();
        }
        current = null;
        Connection c = connect();
        List<Tool> before = null;
        if (starts++ > 0) before = lastTools;
        current = c;
        lastTools = c.tools;
        if (before != null && !before.equals(c.tools)) toolsChanged.accept(c.tools);
        return c;
    }

    private List<Tool> lastTools = List.of(); // guarded by this

    private Connection connect() {
        ChildProcessTransport transport = new ChildProcessTransport(config.command(), config.childEnv(),
                List.of("COUNTERSIGN_AGENT_KEY"), json);
        McpAsyncClient client = McpClient.async(transport)
                .clientInfo(McpSchema.Implementation.builder("countersign-mcp-gateway", GatewayConfig.VERSION).build())
                .requestTimeout(config.callTimeout())
                .initializationTimeout(START_TIMEOUT)
                .toolsChangeConsumer(tools -> Mono.fromRunnable(() -> onToolsNotified(transport, tools)))
                .build();
        Connection c = new Connection(transport, client);
        try {
            client.initialize().block(START_TIMEOUT.plusSeconds(5));
            c.tools = listAll(client);
        } catch (RuntimeException e) {
            client.close();
            transport.close();
            String why = transport.startFailure() != null ? transport.startFailure()
                    : transport.exited().isDone() ? "it exited with code " + transport.exited().getNow(null) + " while starting"
                    : e.getMessage();
            throw new IllegalStateException(String.join(" ", config.command()) + ": " + why, e);
        }
        transport.exited().thenAccept(code -> {
            if (!isClosed()) {
                log.warn("the downstream MCP server '{}' (pid {}) exited with code {}; it is started again on the next call",
                        config.name(), transport.pid(), code);
            }
            client.close(); // fails the calls in flight at once
        });
        log.info("downstream MCP server '{}' running as pid {} with {} tools", config.name(), transport.pid(), c.tools.size());
        return c;
    }

    private void onToolsNotified(ChildProcessTransport transport, List<Tool> tools) {
        synchronized (this) {
            if (current == null || current.transport != transport) return;
            current.tools = List.copyOf(tools);
            lastTools = current.tools;
        }
        toolsChanged.accept(List.copyOf(tools));
    }

    private static List<Tool> listAll(McpAsyncClient client) {
        List<Tool> tools = new ArrayList<>();
        String cursor = null;
        do {
            McpSchema.ListToolsResult page = cursor == null ? client.listTools().block(START_TIMEOUT)
                    : client.listTools(cursor).block(START_TIMEOUT);
            tools.addAll(page.tools());
            cursor = page.nextCursor();
        } while (cursor != null && !cursor.isEmpty());
        return List.copyOf(tools);
    }

    private synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        Connection c;
        synchronized (this) {
            closed = true;
            c = current;
            current = null;
        }
        if (c != null) {
            try {
                c.client.closeGracefully().block(Duration.ofSeconds(3));
            } catch (RuntimeException e) {
                log.debug("closing the downstream client: {}", e.toString());
            }
            c.transport.close();
        }
    }
}
