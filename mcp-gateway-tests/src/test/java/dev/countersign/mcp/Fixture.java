package dev.countersign.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.client.Countersign;
import dev.countersign.server.TestServer;
import io.modelcontextprotocol.client.McpClient;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.client.transport.HttpClientStreamableHttpTransport;
import io.modelcontextprotocol.client.transport.ServerParameters;
import io.modelcontextprotocol.client.transport.StdioClientTransport;
import io.modelcontextprotocol.json.McpJsonDefaults;
import io.modelcontextprotocol.spec.McpClientTransport;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.TextContent;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What the gateway tests share: a real Countersign ({@link TestServer}: agents alice-bot and other-bot, people alice,
 * bob, carol, dave, erin, an operator key) with the MCP rules below in front of its own; the reference
 * {@code @modelcontextprotocol/server-filesystem} installed by the build from the npm registry; and MCP clients
 * from the SDK.
 *
 * <p>Rules: {@code mcp-reads} (any {@code mcp.*} tool whose name starts with read_ or list_: low, approved at
 * once by policy); {@code mcp-quick-expiry} ({@code mcp.slowfs.*} writes: high, alice, expires after 2 s);
 * {@code mcp-writes} (any other {@code mcp.*.write_file}: high, alice). Anything else is high for the admin (erin).
 */
final class Fixture {
    static final String RULES = """
            rules:
              - name: mcp-reads
                when: action.type.startsWith("mcp.") && (action.type.contains(".read_") || action.type.contains(".list_"))
                risk: low
              - name: mcp-quick-expiry
                when: action.type == "mcp.slowfs.write_file"
                risk: high
                approvers: [alice]
                expires_after: PT2S
              - name: mcp-writes
                when: action.type.startsWith("mcp.") && action.type.endsWith(".write_file")
                risk: high
                approvers: [alice]
            """;

    private Fixture() {
    }

    static TestServer startServer(Path dir) {
        String yaml = TestServer.CONFIG.replace("%DB%", TestServer.h2Url(dir)).replace("rules:\n", RULES);
        return TestServer.start(TestServer.config(yaml, TestServer.env()));
    }

    /** The agent client of alice-bot against {@code server}. */
    static Countersign countersign(TestServer server) {
        return Countersign.builder().url(server.url("")).agentKey(TestServer.ALICE_BOT_KEY).build();
    }

    /** {@code node …/server-filesystem/dist/index.js <root>}: the downstream command line. */
    static List<String> filesystemServer(Path root) {
        return List.of(node(), serverFilesystemScript().toString(), root.toAbsolutePath().toString());
    }

    static String node() {
        return "node";
    }

    static Path serverFilesystemScript() {
        Path dir = Path.of(System.getProperty("countersign.npm.dir", "target/npm"));
        Path script = dir.resolve("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
        if (!Files.isRegularFile(script)) {
            throw new IllegalStateException("no " + script + ": the build installs it (npm install in " + dir
                    + ", from mcp-gateway-tests/src/test/npm); is npm on the PATH?");
        }
        return script;
    }

    /** An SDK client over Streamable HTTP, initialized. */
    static McpSyncClient httpClient(String url) {
        int cut = url.indexOf("/mcp");
        HttpClientStreamableHttpTransport transport = HttpClientStreamableHttpTransport.builder(url.substring(0, cut))
                .endpoint("/mcp").jsonMapper(McpJsonDefaults.getMapper()).build();
        return initialized(transport);
    }

    /** An SDK client over stdio to {@code command}, initialized. */
    static McpSyncClient stdioClient(List<String> command, Map<String, String> env) {
        ServerParameters params = ServerParameters.builder(command.get(0)).args(command.subList(1, command.size())).env(env).build();
        StdioClientTransport transport = new StdioClientTransport(params, McpJsonDefaults.getMapper());
        transport.setStdErrorHandler(line -> System.err.println("[gateway stderr] " + line));
        return initialized(transport);
    }

    static McpSyncClient initialized(McpClientTransport transport) {
        McpSyncClient client = McpClient.sync(transport)
                .clientInfo(McpSchema.Implementation.builder("gateway-test", "1").build())
                .requestTimeout(Duration.ofSeconds(90))
                .initializationTimeout(Duration.ofSeconds(60))
                .build();
        client.initialize();
        return client;
    }

    static CallToolResult call(McpSyncClient client, String tool, Map<String, Object> args) {
        return client.callTool(McpSchema.CallToolRequest.builder(tool).arguments(args).build());
    }

    static String text(CallToolResult r) {
        return r.content().stream().filter(TextContent.class::isInstance).map(c -> ((TextContent) c).text())
                .collect(Collectors.joining("\n"));
    }

    /** Waits until a pending approval of {@code type} whose summary contains {@code marker} shows up (operator's view). */
    static JsonNode awaitPending(TestServer server, String type, String marker) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            for (JsonNode a : approvals(server, "pending")) {
                if (a.path("action").path("type").asText().equals(type) && a.path("action").path("summary").asText().contains(marker)) return a;
            }
            sleep(50);
        }
        throw new AssertionError("no pending " + type + " approval mentioning " + marker + " within 30 s");
    }

    static List<JsonNode> approvals(TestServer server, String status) {
        TestServer.Response r = server.get("/api/v1/approvals?status=" + status + "&limit=1000", TestServer.OPERATOR_KEY);
        if (r.status() != 200) throw new AssertionError("list failed: " + r);
        List<JsonNode> out = new ArrayList<>();
        r.json().path("approvals").forEach(out::add);
        return out;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
