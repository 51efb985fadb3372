package dev.countersign.mcp;

import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.json.TypeRef;
import io.modelcontextprotocol.spec.McpClientTransport;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.JSONRPCMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The stdio transport to the downstream MCP server: starts its command as a child process and speaks
 * newline-delimited JSON-RPC over its stdin/stdout, as the SDK's {@code StdioClientTransport} does, but owns the
 * {@link Process}, so the gateway learns at once when the child exits ({@link #exited()}) and can end its whole
 * process tree. The child's stderr goes straight to the gateway's stderr (never to stdout).
 */
final class ChildProcessTransport implements McpClientTransport {
    private static final Logger log = LoggerFactory.getLogger(ChildProcessTransport.class);

    private final List<String> command;
    private final Map<String, String> envOverrides;
    private final List<String> envRemoved;
    private final McpJsonMapper json;
    private final CompletableFuture<Integer> exited = new CompletableFuture<>();
    private volatile Process process;
    private volatile String startFailure;
    private volatile boolean closing;

    ChildProcessTransport(List<String> command, Map<String, String> envOverrides, List<String> envRemoved, McpJsonMapper json) {
        this.command = List.copyOf(command);
        this.envOverrides = Map.copyOf(envOverrides);
        this.envRemoved = List.copyOf(envRemoved);
        this.json = json;
    }

    /** Completes with the exit code when the child process ends (for whatever reason). */
    CompletableFuture<Integer> exited() {
        return exited;
    }

    /** Why the command could not be started at all, or null. */
    String startFailure() {
        return startFailure;
    }

    long pid() {
        Process p = process;
        return p == null ? -1 : p.pid();
    }

    @Override
    public Mono<Void> connect(Function<Mono<JSONRPCMessage>, Mono<JSONRPCMessage>> handler) {
        return Mono.fromRunnable(() -> {
            ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
            envRemoved.forEach(pb.environment()::remove);
            pb.environment().putAll(envOverrides);
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                startFailure = e.getMessage();
                exited.complete(-1);
                throw new IllegalStateException("cannot start the downstream MCP server " + command + ": " + e.getMessage(), e);
            }
            process = p;
            p.onExit().thenAccept(done -> exited.complete(done.exitValue()));
            Thread reader = new Thread(() -> readLoop(p, handler), "mcp-downstream-" + p.pid());
            reader.setDaemon(true);
            reader.start();
            log.debug("downstream MCP server started as pid {}: {}", p.pid(), command);
        });
    }

    private void readLoop(Process p, Function<Mono<JSONRPCMessage>, Mono<JSONRPCMessage>> handler) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) continue;
                JSONRPCMessage message;
                try {
                    message = McpSchema.deserializeJsonRpcMessage(json, line);
                } catch (IOException | RuntimeException e) {
                    log.warn("downstream MCP server wrote a line that is not JSON-RPC (ignored): {}", abbreviate(line));
                    continue;
                }
                handler.apply(Mono.just(message)).subscribe(null,
                        e -> log.warn("handling a downstream message failed: {}", e.toString()));
            }
        } catch (IOException e) {
            if (!closing) log.debug("reading from the downstream MCP server ended: {}", e.toString());
        }
    }

    @Override
    public Mono<Void> sendMessage(JSONRPCMessage message) {
        return Mono.fromRunnable(() -> {
            Process p = process;
            if (p == null || !p.isAlive()) {
                throw new IllegalStateException("the downstream MCP server is not running");
            }
            byte[] line;
            try {
                line = (json.writeValueAsString(message).replace("\r", "\\r").replace("\n", "\\n") + "\n")
                        .getBytes(StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot serialize " + message, e);
            }
            OutputStream out = p.getOutputStream();
            synchronized (out) {
                try {
                    out.write(line);
                    out.flush();
                } catch (IOException e) {
                    throw new IllegalStateException("cannot write to the downstream MCP server: " + e.getMessage(), e);
                }
            }
        });
    }

    @Override
    public Mono<Void> closeGracefully() {
        return Mono.fromRunnable(this::stop);
    }

    @Override
    public void close() {
        stop();
    }

    /** Closes the child's stdin (the MCP way to ask a stdio server to stop), then terminates the tree if it lingers. */
    private void stop() {
        closing = true;
        Process p = process;
        if (p == null) return;
        List<ProcessHandle> tree = p.descendants().toList();
        try {
            p.getOutputStream().close();
        } catch (IOException ignored) {
            // already gone
        }
        try {
            if (!p.waitFor(2, TimeUnit.SECONDS)) {
                p.destroy();
                if (!p.waitFor(2, TimeUnit.SECONDS)) p.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
        tree.forEach(h -> {
            if (h.isAlive()) h.destroyForcibly();
        });
    }

    @Override
    public <T> T unmarshalFrom(Object data, TypeRef<T> typeRef) {
        return json.convertValue(data, typeRef);
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "…";
    }
}
