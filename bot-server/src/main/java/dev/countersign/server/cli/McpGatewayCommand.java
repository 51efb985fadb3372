package dev.countersign.server.cli;

import dev.countersign.client.Countersign;
import dev.countersign.client.CountersignException;
import dev.countersign.mcp.GatewayConfig;
import dev.countersign.mcp.HttpEndpoint;
import dev.countersign.mcp.McpGateway;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code mcp-gateway --name fs -- <command> [args…]}: an MCP server over stdio (or Streamable HTTP with
 * {@code --http}) in front of the MCP server that {@code <command>} starts. Every tool call is approved through
 * Countersign first ({@code COUNTERSIGN_URL}, {@code COUNTERSIGN_AGENT_KEY}).
 *
 * <p>Over stdio, stdout carries MCP and nothing else: {@link #keepStdoutForMcp()} runs before any logging starts,
 * points logback at {@code logback-mcp-gateway.xml} (stderr) and sends {@code System.out} to stderr, so a stray
 * print can never corrupt the protocol.
 */
@Command(name = "mcp-gateway", sortOptions = false, mixinStandardHelpOptions = true,
        description = "An MCP server in front of another MCP server (started from the command after --): lists its tools"
                + " unchanged and asks Countersign before every tool call. Reads COUNTERSIGN_URL and COUNTERSIGN_AGENT_KEY.",
        footer = {"", "Example: countersign mcp-gateway --name fs --secret token -- npx -y @modelcontextprotocol/server-filesystem /srv/data"})
public final class McpGatewayCommand implements Callable<Integer> {
    /** The real stdout, kept for MCP once {@link #keepStdoutForMcp()} ran. */
    private static volatile OutputStream mcpOut;

    @Option(names = "--name", required = true, paramLabel = "NAME",
            description = "the downstream server's name: tool calls are asked as action type mcp.<NAME>.<tool>")
    String name;

    @Option(names = "--secret", split = ",", paramLabel = "ARG",
            description = "an argument name whose value is masked in what Countersign stores and shows (repeatable, or comma-separated)")
    List<String> secrets = List.of();

    @Option(names = "--timeout", paramLabel = "DURATION", description = "how long a call waits for a decision, ISO-8601 (default: PT15M); the policy may cap it")
    Duration timeout = GatewayConfig.DEFAULT_APPROVAL_TIMEOUT;

    @Option(names = "--call-timeout", paramLabel = "DURATION", description = "how long a forwarded call may take downstream (default: PT5M)")
    Duration callTimeout = GatewayConfig.DEFAULT_CALL_TIMEOUT;

    @Option(names = "--http", paramLabel = "PORT", description = "serve Streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    Integer httpPort;

    @Option(names = "--http-host", paramLabel = "HOST", description = "the address to listen on with --http (default: 127.0.0.1; the endpoint has no authentication of its own)")
    String httpHost = "127.0.0.1";

    @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "the downstream MCP server's command line, after --")
    List<String> command;

    /** Logging to stderr, {@code System.out} to stderr; the real stdout is kept for MCP. Call before anything logs. */
    public static void keepStdoutForMcp() {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "logback-mcp-gateway.xml");
        }
        mcpOut = new FileOutputStream(FileDescriptor.out);
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
    }

    @Override
    public Integer call() throws Exception {
        Set<String> secretNames = new LinkedHashSet<>();
        secrets.forEach(s -> secretNames.addAll(Arrays.asList(s.trim().split("\\s*,\\s*"))));
        secretNames.remove("");
        Countersign countersign;
        try {
            countersign = Countersign.fromEnvironment();
        } catch (CountersignException e) {
            System.err.println("mcp-gateway: " + e.getMessage());
            return 2;
        }
        GatewayConfig config = GatewayConfig.of(name, command).withSecretNames(secretNames)
                .withApprovalTimeout(timeout).withCallTimeout(callTimeout);
        McpGateway gateway;
        try {
            gateway = McpGateway.start(config, countersign);
        } catch (IllegalStateException e) {
            System.err.println("mcp-gateway: " + e.getMessage());
            return 3;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(gateway::close, "mcp-gateway-shutdown"));
        if (httpPort != null) {
            HttpEndpoint endpoint = gateway.serveHttp(httpHost, httpPort);
            System.err.println("mcp-gateway: serving '" + name + "' (" + gateway.downstreamTools().size()
                    + " tools) over Streamable HTTP at " + endpoint.url() + ", asking " + countersign.url());
            endpoint.join();
        } else {
            System.err.println("mcp-gateway: serving '" + name + "' (" + gateway.downstreamTools().size()
                    + " tools) over stdio, asking " + countersign.url());
            OutputStream out = mcpOut != null ? mcpOut : new FileOutputStream(FileDescriptor.out);
            gateway.serveStdio(new FileInputStream(FileDescriptor.in), new BufferedOutputStream(out));
        }
        gateway.close();
        return 0;
    }
}
