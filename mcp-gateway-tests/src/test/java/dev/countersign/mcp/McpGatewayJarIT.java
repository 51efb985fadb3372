package dev.countersign.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.countersign.server.TestServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.Tool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The packaged jar as an MCP client starts it: {@code java -jar countersign.jar mcp-gateway --name fs -- node
 * …/server-filesystem root}, COUNTERSIGN_URL and COUNTERSIGN_AGENT_KEY in its environment, MCP over its stdin and
 * stdout. Checks the protocol end to end with the SDK's stdio client transport, and that stdout carries nothing but
 * JSON-RPC (logs go to stderr).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class McpGatewayJarIT {
    private static final Path JAR = Path.of(System.getProperty("countersign.jar", "../bot-server/target/countersign.jar"));
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    static TestServer server;
    static Path root;

    @BeforeAll
    static void start() throws Exception {
        assertThat(JAR).as("the packaged jar (built by bot-server's package phase)").isRegularFile();
        server = Fixture.startServer(Files.createDirectories(tmp.resolve("db")));
        root = Files.createDirectories(tmp.resolve("files"));
        Files.writeString(root.resolve("notes.txt"), "hello through the jar\n");
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    static List<String> gatewayCommand() {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", JAR.toAbsolutePath().toString(), "mcp-gateway", "--name", "fs", "--"));
        cmd.addAll(Fixture.filesystemServer(root));
        return cmd;
    }

    static Map<String, String> env() {
        return Map.of("COUNTERSIGN_URL", server.url(""), "COUNTERSIGN_AGENT_KEY", TestServer.ALICE_BOT_KEY);
    }

    @Test
    void theJarServesTheGatedToolsOverStdioToTheSdkClient() throws Exception {
        try (McpSyncClient client = Fixture.stdioClient(gatewayCommand(), env())) {
            assertThat(client.listTools().tools()).extracting(Tool::name).contains("read_text_file", "write_file", "request_approval");

            CallToolResult read = Fixture.call(client, "read_text_file", Map.of("path", root.resolve("notes.txt").toString()));
            assertThat(read.isError()).isNotEqualTo(Boolean.TRUE);
            assertThat(Fixture.text(read)).contains("hello through the jar");

            Path rejected = root.resolve("jar-rejected.txt");
            CompletableFuture<CallToolResult> refused = CompletableFuture.supplyAsync(() ->
                    Fixture.call(client, "write_file", Map.of("path", rejected.toString(), "content", "no")));
            JsonNode p1 = Fixture.awaitPending(server, "mcp.fs.write_file", "jar-rejected.txt");
            server.decide(p1.path("id").asText(), "reject", "alice", "use the sandbox account");
            CallToolResult r1 = refused.get(30, TimeUnit.SECONDS);
            assertThat(r1.isError()).isTrue();
            assertThat(Fixture.text(r1)).contains("Rejected by Alice Ng (alice): use the sandbox account");
            assertThat(rejected).doesNotExist();

            Path approved = root.resolve("jar-approved.txt");
            CompletableFuture<CallToolResult> allowed = CompletableFuture.supplyAsync(() ->
                    Fixture.call(client, "write_file", Map.of("path", approved.toString(), "content", "yes")));
            JsonNode p2 = Fixture.awaitPending(server, "mcp.fs.write_file", "jar-approved.txt");
            server.decide(p2.path("id").asText(), "approve", "alice", null);
            assertThat(allowed.get(30, TimeUnit.SECONDS).isError()).isNotEqualTo(Boolean.TRUE);
            assertThat(approved).hasContent("yes");
        }
    }

    @Test
    void stdoutCarriesNothingButJsonRpcAndTheProcessEndsWhenStdinCloses() throws Exception {
        Path out = tmp.resolve("stdout.txt");
        Path err = tmp.resolve("stderr.txt");
        ProcessBuilder pb = new ProcessBuilder(gatewayCommand()).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().putAll(env());
        Process p = pb.start();
        List<ProcessHandle> kids = new ArrayList<>();
        try (OutputStream in = p.getOutputStream()) {
            for (String line : List.of(
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"raw\",\"version\":\"1\"}}}",
                    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}",
                    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"read_text_file\",\"arguments\":{\"path\":"
                            + JSON.writeValueAsString(root.resolve("notes.txt").toString()) + "}}}",
                    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"no_such_tool\",\"arguments\":{}}}")) {
                in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                in.flush();
            }
            awaitLines(out, 4, p);
            kids.addAll(p.descendants().toList());
        } // stdin closed: the client went away
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the gateway exits once stdin closes").isTrue();
        assertThat(p.exitValue()).isZero();

        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertThat(lines).hasSizeGreaterThanOrEqualTo(4);
        for (String line : lines) {
            JsonNode m = JSON.readTree(line);
            assertThat(m.path("jsonrpc").asText()).as("stdout line: %s", line).isEqualTo("2.0");
        }
        JsonNode read = lines.stream().map(McpGatewayJarIT::parse).filter(m -> m.path("id").asInt() == 3).findFirst().orElseThrow();
        assertThat(read.path("result").path("content").get(0).path("text").asText()).contains("hello through the jar");
        String stderr = Files.readString(err);
        assertThat(stderr).contains("mcp-gateway: serving 'fs'").contains("INFO"); // the logs are there, on stderr
        assertThat(kids).as("the downstream server ran as a child").isNotEmpty();
        for (ProcessHandle k : kids) k.onExit().get(10, TimeUnit.SECONDS); // and stopped with the gateway
    }

    private static JsonNode parse(String line) {
        try {
            return JSON.readTree(line);
        } catch (Exception e) {
            throw new AssertionError("not JSON on stdout: " + line, e);
        }
    }

    private static void awaitLines(Path file, int n, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (Files.exists(file) && Files.readAllLines(file, StandardCharsets.UTF_8).size() >= n) return;
            if (!p.isAlive()) throw new AssertionError("the gateway exited early with " + p.exitValue());
            Thread.sleep(100);
        }
        throw new AssertionError("fewer than " + n + " answers on stdout within 60 s: " + Files.readString(file));
    }
}
