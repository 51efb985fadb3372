package dev.countersign.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.server.TestServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.Tool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gateway in this JVM in front of the real {@code @modelcontextprotocol/server-filesystem} (a node child
 * process), asking a real Countersign server; driven by the MCP SDK's client over Streamable HTTP. An operator
 * decides through the server's API. The stdio side (the packaged jar) is {@link McpGatewayJarIT}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class McpGatewayTest {
    @TempDir
    static Path tmp;
    static TestServer server;
    static Path root;
    static McpGateway gateway;
    static HttpEndpoint endpoint;
    static McpSyncClient client;

    @BeforeAll
    static void start() throws Exception {
        server = Fixture.startServer(Files.createDirectories(tmp.resolve("db")));
        root = Files.createDirectories(tmp.resolve("files"));
        Files.writeString(root.resolve("notes.txt"), "hello from the filesystem server\n");
        gateway = McpGateway.start(GatewayConfig.of("fs", Fixture.filesystemServer(root)).withSecretNames(Set.of("api_token")),
                Fixture.countersign(server));
        endpoint = gateway.serveHttp("127.0.0.1", 0);
        client = Fixture.httpClient(endpoint.url());
    }

    @AfterAll
    static void stop() {
        if (client != null) client.closeGracefully();
        if (gateway != null) gateway.close();
        if (server != null) server.close();
    }

    @Test
    void listsTheDownstreamToolsUnchangedPlusItsOwnRequestApproval() {
        List<Tool> direct;
        try (McpSyncClient d = Fixture.stdioClient(Fixture.filesystemServer(root), Map.of())) {
            direct = d.listTools().tools();
        }
        List<Tool> viaGateway = client.listTools().tools();

        assertThat(direct).extracting(Tool::name).contains("read_file", "write_file", "list_directory");
        assertThat(viaGateway.subList(0, direct.size())).isEqualTo(direct); // names, descriptions, schemas, annotations
        assertThat(viaGateway).hasSize(direct.size() + 1);
        assertThat(viaGateway.get(direct.size()).name()).isEqualTo("request_approval");
    }

    @Test
    void aLowRiskReadPassesStraightThroughApprovedByPolicy() {
        CallToolResult r = Fixture.call(client, "read_text_file", Map.of("path", root.resolve("notes.txt").toString()));

        assertThat(r.isError()).isNotEqualTo(Boolean.TRUE);
        assertThat(Fixture.text(r)).contains("hello from the filesystem server");
        JsonNode asked = Fixture.approvals(server, "approved").stream()
                .filter(a -> a.path("action").path("type").asText().equals("mcp.fs.read_text_file")).findFirst().orElseThrow();
        assertThat(asked.path("decision").path("by").path("channel").asText()).isEqualTo("policy");
        assertThat(asked.path("action").path("params").path("path").asText()).isEqualTo(root.resolve("notes.txt").toString());
        assertThat(asked.path("action").path("summary").asText()).startsWith("fs: read_text_file(path=");
    }

    @Test
    void aHighRiskWriteWaitsForThePersonAndRunsOnceApproved() throws Exception {
        Path file = root.resolve("approved.txt");
        CompletableFuture<CallToolResult> call = CompletableFuture.supplyAsync(() ->
                Fixture.call(client, "write_file", Map.of("path", file.toString(), "content", "written after approval")));

        JsonNode pending = Fixture.awaitPending(server, "mcp.fs.write_file", "approved.txt");
        Fixture.sleep(300);
        assertThat(call).isNotDone();
        assertThat(file).doesNotExist();
        assertThat(server.decide(pending.path("id").asText(), "approve", "alice", "fine").status()).isEqualTo(200);

        CallToolResult r = call.get(30, TimeUnit.SECONDS);
        assertThat(r.isError()).as(Fixture.text(r)).isNotEqualTo(Boolean.TRUE);
        assertThat(file).hasContent("written after approval");
    }

    @Test
    void aRejectionComesBackAsAToolErrorWithWhoAndTheCommentAndNothingIsWritten() throws Exception {
        Path file = root.resolve("rejected.txt");
        CompletableFuture<CallToolResult> call = CompletableFuture.supplyAsync(() ->
                Fixture.call(client, "write_file", Map.of("path", file.toString(), "content", "should never land")));

        JsonNode pending = Fixture.awaitPending(server, "mcp.fs.write_file", "rejected.txt");
        server.decide(pending.path("id").asText(), "reject", "alice", "use the sandbox account");

        CallToolResult r = call.get(30, TimeUnit.SECONDS);
        assertThat(r.isError()).isTrue();
        assertThat(Fixture.text(r)).startsWith("Rejected by Alice Ng (alice): use the sandbox account. The call was not forwarded (approval apr_");
        assertThat(file).doesNotExist();
    }

    @Test
    void anApprovalCancelledWhileWaitingIsNeverForwarded() throws Exception {
        Path file = root.resolve("cancelled.txt");
        CompletableFuture<CallToolResult> call = CompletableFuture.supplyAsync(() ->
                Fixture.call(client, "write_file", Map.of("path", file.toString(), "content", "should never land")));

        JsonNode pending = Fixture.awaitPending(server, "mcp.fs.write_file", "cancelled.txt");
        TestServer.Response cancel = server.post("/api/v1/approvals/" + pending.path("id").asText() + "/cancel", TestServer.ALICE_BOT_KEY,
                "{\"reason\": \"the run was stopped\"}");
        assertThat(cancel.status()).isEqualTo(200);

        CallToolResult r = call.get(30, TimeUnit.SECONDS);
        assertThat(r.isError()).isTrue();
        assertThat(Fixture.text(r)).startsWith("Cancelled").contains("not forwarded");
        Fixture.sleep(300);
        assertThat(file).doesNotExist();
    }

    @Test
    void secretArgumentsAreMaskedInTheApprovalButReachTheDownstreamServer() throws Exception {
        Path file = root.resolve("secret.txt");
        // write_file ignores unknown arguments; api_token is named secret in the gateway's config
        CompletableFuture<CallToolResult> call = CompletableFuture.supplyAsync(() ->
                Fixture.call(client, "write_file", Map.of("path", file.toString(), "content", "x", "api_token", "tok-7Hq2-very-secret")));

        JsonNode pending = Fixture.awaitPending(server, "mcp.fs.write_file", "secret.txt");
        assertThat(pending.path("action").path("params").path("api_token").asText()).isEqualTo("***");
        assertThat(pending.toString()).doesNotContain("tok-7Hq2-very-secret");
        server.decide(pending.path("id").asText(), "approve", "alice", null);

        assertThat(call.get(30, TimeUnit.SECONDS).isError()).isNotEqualTo(Boolean.TRUE);
        assertThat(file).hasContent("x");
    }

    @Test
    void requestApprovalAsksExplicitlyAndTellsTheDecision() throws Exception {
        CompletableFuture<CallToolResult> call = CompletableFuture.supplyAsync(() ->
                Fixture.call(client, "request_approval", Map.of("type", "payments.transfer", "summary", "Pay invoice MCP-77: 12,500 EUR",
                        "params", Map.of("amount", 12500, "currency", "EUR"), "reason", "invoice due")));

        JsonNode pending = Fixture.awaitPending(server, "payments.transfer", "MCP-77");
        assertThat(pending.path("risk").path("rule").asText()).isEqualTo("large-payment");
        server.decide(pending.path("id").asText(), "reject", "bob", "wait for the credit note");

        CallToolResult r = call.get(30, TimeUnit.SECONDS);
        assertThat(r.isError()).isNotEqualTo(Boolean.TRUE); // the tool worked: its answer is the decision
        assertThat(Fixture.text(r)).startsWith("REJECTED by bob: wait for the credit note").contains("\"status\":\"rejected\"");
    }

    @Test
    void requestApprovalWithBadArgumentsIsAToolErrorNotAProtocolError() {
        CallToolResult r = Fixture.call(client, "request_approval", Map.of("summary", "no type"));
        assertThat(r.isError()).isTrue();
        assertThat(Fixture.text(r)).contains("type is required");
    }

    @Test
    void anUnansweredWriteExpiresAsAToolError() throws Exception {
        // a second gateway named slowfs: its writes expire after 2 s (rule mcp-quick-expiry)
        try (McpGateway slow = McpGateway.start(GatewayConfig.of("slowfs", Fixture.filesystemServer(root)), Fixture.countersign(server))) {
            HttpEndpoint e = slow.serveHttp("127.0.0.1", 0);
            try (McpSyncClient c = Fixture.httpClient(e.url())) {
                Path file = root.resolve("expired.txt");
                CallToolResult r = Fixture.call(c, "write_file", Map.of("path", file.toString(), "content", "too late"));

                assertThat(r.isError()).isTrue();
                assertThat(Fixture.text(r)).startsWith("Expired").contains("not forwarded");
                assertThat(file).doesNotExist();
            }
        }
    }

    @Test
    void whenTheDownstreamServerCrashesTheNextCallIsAClearToolErrorAndTheOneAfterRestartsIt() throws Exception {
        Path file = root.resolve("crash.txt");
        Files.writeString(file, "still here");
        long pid = gateway.downstreamPid();
        assertThat(pid).isPositive();
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
        Fixture.sleep(200);

        CallToolResult failed = Fixture.call(client, "read_text_file", Map.of("path", file.toString()));
        assertThat(failed.isError()).isTrue();
        assertThat(Fixture.text(failed)).contains("downstream MCP server 'fs'").contains("exited").contains("call the tool again");

        CallToolResult again = Fixture.call(client, "read_text_file", Map.of("path", file.toString()));
        assertThat(again.isError()).as(Fixture.text(again)).isNotEqualTo(Boolean.TRUE);
        assertThat(Fixture.text(again)).contains("still here");
        assertThat(gateway.downstreamPid()).isPositive().isNotEqualTo(pid);
    }

    @Test
    void aCallApprovedWhileTheDownstreamServerWasDownStartsItAgainAndRuns() throws Exception {
        Path file = root.resolve("after-crash.txt");
        CompletableFuture<CallToolResult> call = CompletableFuture.supplyAsync(() ->
                Fixture.call(client, "write_file", Map.of("path", file.toString(), "content", "after the crash")));
        JsonNode pending = Fixture.awaitPending(server, "mcp.fs.write_file", "after-crash.txt");
        long pid = gateway.downstreamPid();
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());

        server.decide(pending.path("id").asText(), "approve", "alice", null);

        CallToolResult r = call.get(60, TimeUnit.SECONDS);
        assertThat(r.isError()).as(Fixture.text(r)).isNotEqualTo(Boolean.TRUE);
        assertThat(file).hasContent("after the crash");
    }

    @Test
    void stoppingTheGatewayWithdrawsTheAsksStillWaitingSoALateApprovalRunsNothing() throws Exception {
        Path file = root.resolve("stopped.txt");
        McpGateway g = McpGateway.start(GatewayConfig.of("fs2", Fixture.filesystemServer(root)), Fixture.countersign(server));
        McpSyncClient c = Fixture.httpClient(g.serveHttp("127.0.0.1", 0).url());
        CompletableFuture<CallToolResult> call = CompletableFuture.supplyAsync(() ->
                Fixture.call(c, "write_file", Map.of("path", file.toString(), "content", "never")));
        String id = Fixture.awaitPending(server, "mcp.fs2.write_file", "stopped.txt").path("id").asText();

        g.close();

        JsonNode after = server.get("/api/v1/approvals/" + id, TestServer.OPERATOR_KEY).json();
        assertThat(after.path("status").asText()).isEqualTo("cancelled");
        assertThat(server.decide(id, "approve", "alice", "too late").status()).isEqualTo(409);
        Fixture.sleep(500);
        assertThat(file).doesNotExist();
        call.handle((r, e) -> null).get(30, TimeUnit.SECONDS);
        try {
            c.close();
        } catch (RuntimeException ignored) {
            // the endpoint is gone
        }
    }

    @Test
    void anUnreachableCountersignFailsClosedWithAToolError() throws Exception {
        var nowhere = dev.countersign.client.Countersign.builder().url("http://127.0.0.1:1").agentKey(TestServer.ALICE_BOT_KEY)
                .requestTimeout(Duration.ofSeconds(2)).maxRetries(0).build();
        try (McpGateway g = McpGateway.start(GatewayConfig.of("fs", Fixture.filesystemServer(root)), nowhere)) {
            HttpEndpoint e = g.serveHttp("127.0.0.1", 0);
            try (McpSyncClient c = Fixture.httpClient(e.url())) {
                Path file = root.resolve("unreachable.txt");
                CallToolResult r = Fixture.call(c, "write_file", Map.of("path", file.toString(), "content", "no"));
                assertThat(r.isError()).isTrue();
                assertThat(Fixture.text(r)).contains("could not be asked").contains("not forwarded");
                assertThat(file).doesNotExist();
            }
        }
    }
}
