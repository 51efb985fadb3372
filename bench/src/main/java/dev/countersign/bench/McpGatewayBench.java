package dev.countersign.bench;

import dev.countersign.client.Action;
import dev.countersign.client.Context;
import dev.countersign.client.Countersign;
import dev.countersign.client.Status;
import dev.countersign.server.testing.ServerProcess;
import io.modelcontextprotocol.client.McpClient;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.client.transport.ServerParameters;
import io.modelcontextprotocol.client.transport.StdioClientTransport;
import io.modelcontextprotocol.json.McpJsonDefaults;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import org.HdrHistogram.Histogram;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The overhead the MCP gateway adds to a low-risk tool call: the same {@code read_text_file} call on the reference
 * {@code @modelcontextprotocol/server-filesystem}, by the MCP SDK's client over stdio, (a) straight to the
 * downstream server and (b) through {@code java -jar countersign.jar mcp-gateway}, which asks a real Countersign
 * ({@code countersign.jar serve}, H2 file database, a low-risk rule: approved by policy in the ask's answer) before
 * forwarding. One client, calls one after another (closed loop, concurrency 1): latency, not throughput. Also the
 * low-risk ask alone (the Java client), which is most of the difference.
 *
 * <p>Run with {@code bench/run-mcp.sh}; see docs/BENCHMARKS.md.
 */
public final class McpGatewayBench {
    static final String CONFIG = """
            # MCP gateway benchmark: reads through the gateway are low risk.
            people:
              - id: alice
                name: Alice Ng
            rules:
              - name: bench-mcp-reads
                when: action.type == "mcp.bench.read_text_file" || action.type == "bench.read"
                risk: low
            admins: [alice]
            """;

    public static void main(String[] args) throws Exception {
        Path jar = Path.of(arg(args, "--jar", "bot-server/target/countersign.jar"));
        Path script = Path.of(arg(args, "--server-filesystem", "bench/target/npm/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"));
        Path work = Path.of(arg(args, "--work-dir", Files.createTempDirectory("mcp-bench").toString()));
        int warmup = Integer.parseInt(arg(args, "--warmup", "3000"));
        int calls = Integer.parseInt(arg(args, "--calls", "5000"));
        int rounds = Integer.parseInt(arg(args, "--rounds", "3"));

        Path root = Files.createDirectories(work.resolve("files"));
        Path file = root.resolve("small.txt");
        Files.writeString(file, "a small file, 64 bytes of text, read again and again by the bench\n", StandardCharsets.UTF_8);
        Path config = work.resolve("countersign.yaml");
        Files.writeString(config, CONFIG);
        String agentKey = "ak-" + UUID.randomUUID();
        List<String> downstream = List.of("node", script.toAbsolutePath().toString(), root.toString());

        try (ServerProcess server = ServerProcess.builder(jar, config, "jdbc:h2:file:" + work.resolve("db") + ";WRITE_DELAY=0", work)
                .agentKey("bench-agent", agentKey).jvmArgs("-Xms1g", "-Xmx1g").build()) {
            server.start().awaitReady(Duration.ofSeconds(120));
            System.out.println("server: " + server.baseUrl() + " (pid " + server.pid() + ")");

            List<String> gateway = new ArrayList<>(List.of(ServerProcess.javaBinary(), "-Xms256m", "-Xmx512m", "-jar",
                    jar.toAbsolutePath().toString(), "mcp-gateway", "--name", "bench", "--"));
            gateway.addAll(downstream);
            Map<String, String> env = Map.of("COUNTERSIGN_URL", server.baseUrl(), "COUNTERSIGN_AGENT_KEY", agentKey);
            Countersign countersign = Countersign.builder().url(server.baseUrl()).agentKey(agentKey).build();
            Action read = Action.of("bench.read", "bench: a low-risk ask", Map.of("path", file.toString()));

            try (McpSyncClient direct = client(downstream, Map.of()); McpSyncClient viaGateway = client(gateway, env)) {
                McpSchema.CallToolRequest call = McpSchema.CallToolRequest.builder("read_text_file").arguments(Map.of("path", file.toString())).build();
                Supplier<Object> directCall = () -> check(direct.callTool(call));
                Supplier<Object> gatewayCall = () -> check(viaGateway.callTool(call));
                Supplier<Object> askCall = () -> {
                    if (countersign.requestApproval(read, Context.none()).await(Duration.ofSeconds(10)).status() != Status.APPROVED) {
                        throw new IllegalStateException("a low-risk ask was not approved at once");
                    }
                    return null;
                };
                System.out.printf("warm-up: %d calls each (JIT of gateway, server and client)%n", warmup);
                for (int i = 0; i < warmup; i++) {
                    directCall.get();
                    gatewayCall.get();
                    askCall.get();
                }
                Histogram d = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
                Histogram g = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
                Histogram a = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
                for (int r = 0; r < rounds; r++) { // interleaved rounds, so drift on the machine hits all three alike
                    measure(directCall, calls, d);
                    measure(gatewayCall, calls, g);
                    measure(askCall, calls, a);
                }
                System.out.println();
                System.out.println("| path (one client, sequential calls) | n | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |");
                System.out.println("|---|---:|---:|---:|---:|---:|---:|");
                row("read_text_file straight to server-filesystem (stdio)", d);
                row("read_text_file through the gateway (stdio → ask → stdio)", g);
                row("low-risk ask alone (Java client → server, `201 approved`)", a);
                System.out.println();
                System.out.printf("gateway overhead: p50 %+.2f ms, p99 %+.2f ms (gateway minus direct, each percentile on its own)%n",
                        (g.getValueAtPercentile(50) - d.getValueAtPercentile(50)) / 1000.0,
                        (g.getValueAtPercentile(99) - d.getValueAtPercentile(99)) / 1000.0);
            }
        }
    }

    private static Object check(CallToolResult r) {
        if (Boolean.TRUE.equals(r.isError())) throw new IllegalStateException("tool error: " + r.content());
        return r;
    }

    private static void measure(Supplier<Object> call, int n, Histogram h) {
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            call.get();
            h.recordValue(Math.max(1, (System.nanoTime() - t0) / 1000));
        }
    }

    private static void row(String label, Histogram h) {
        System.out.printf("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f |%n", label, h.getTotalCount(),
                h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(90) / 1000.0, h.getValueAtPercentile(99) / 1000.0,
                h.getValueAtPercentile(99.9) / 1000.0, h.getMaxValue() / 1000.0);
    }

    private static McpSyncClient client(List<String> command, Map<String, String> env) {
        ServerParameters p = ServerParameters.builder(command.get(0)).args(command.subList(1, command.size())).env(env).build();
        StdioClientTransport t = new StdioClientTransport(p, McpJsonDefaults.getMapper());
        t.setStdErrorHandler(line -> { });
        McpSyncClient c = McpClient.sync(t).requestTimeout(Duration.ofSeconds(60)).initializationTimeout(Duration.ofSeconds(60))
                .clientInfo(McpSchema.Implementation.builder("mcp-bench", "1").build()).build();
        c.initialize();
        return c;
    }

    private static String arg(String[] args, String name, String dflt) {
        for (int i = 0; i + 1 < args.length; i++) if (args[i].equals(name)) return args[i + 1];
        return dflt;
    }
}
