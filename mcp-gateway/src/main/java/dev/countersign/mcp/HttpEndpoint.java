package dev.countersign.mcp;

import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.server.McpAsyncServer;
import io.modelcontextprotocol.server.transport.HttpServletStreamableServerTransportProvider;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The gateway over Streamable HTTP: the SDK's servlet transport in an embedded Jetty, at {@code /mcp}. Meant for
 * loopback (the default host is 127.0.0.1): it has no authentication of its own.
 */
public final class HttpEndpoint implements AutoCloseable {
    public static final String PATH = "/mcp";

    private final Server jetty;
    private final McpAsyncServer server;
    private final Consumer<McpAsyncServer> onClose;
    private final String host;

    private HttpEndpoint(Server jetty, McpAsyncServer server, Consumer<McpAsyncServer> onClose, String host) {
        this.jetty = jetty;
        this.server = server;
        this.onClose = onClose;
        this.host = host;
    }

    static HttpEndpoint start(String host, int port, McpJsonMapper json,
                              Function<HttpServletStreamableServerTransportProvider, McpAsyncServer> build,
                              Consumer<McpAsyncServer> onClose) {
        HttpServletStreamableServerTransportProvider transport = HttpServletStreamableServerTransportProvider.builder()
                .jsonMapper(json)
                .mcpEndpoint(PATH)
                .keepAliveInterval(Duration.ofSeconds(30))
                .build();
        McpAsyncServer server = build.apply(transport);
        QueuedThreadPool threads = new QueuedThreadPool(64, 4);
        threads.setName("mcp-http");
        Server jetty = new Server(threads);
        ServerConnector connector = new ServerConnector(jetty);
        connector.setHost(host);
        connector.setPort(port);
        jetty.addConnector(connector);
        ServletContextHandler context = new ServletContextHandler();
        context.setContextPath("/");
        ServletHolder holder = new ServletHolder("mcp", transport);
        holder.setAsyncSupported(true);
        context.addServlet(holder, PATH);
        jetty.setHandler(context);
        try {
            jetty.start();
        } catch (Exception e) {
            server.close();
            throw new IllegalStateException("cannot serve MCP over HTTP on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        return new HttpEndpoint(jetty, server, onClose, host);
    }

    public int port() {
        return ((ServerConnector) jetty.getConnectors()[0]).getLocalPort();
    }

    /** {@code http://host:port/mcp}. */
    public String url() {
        String h = host.contains(":") ? "[" + host + "]" : host;
        return "http://" + h + ":" + port() + PATH;
    }

    /** Blocks until the endpoint is closed. */
    public void join() throws InterruptedException {
        jetty.join();
    }

    @Override
    public void close() {
        try {
            server.closeGracefully().block(Duration.ofSeconds(3));
        } catch (RuntimeException ignored) {
            // closing anyway
        }
        onClose.accept(server);
        try {
            jetty.stop();
        } catch (Exception ignored) {
            // best effort
        }
    }
}
