package dev.countersign.langchain4j;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.client.Countersign;
import dev.countersign.server.TestServer;
import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.service.AiServices;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A LangChain4j AI service whose tools are guarded by Countersign, driven by a scripted chat model (no network)
 * that calls a low-risk tool, then a high-risk one, then answers with what the last tool returned. A real
 * Countersign server decides by its rules: {@code tool.lookupBalance} low (runs at once), {@code tool.transferFunds}
 * high (alice decides, through the operator API, as a person would on the web page).
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class CountersignToolGuardTest {
    static final String RULES = """
            rules:
              - name: tool-reads
                when: action.type == "tool.lookupBalance"
                risk: low
              - name: tool-transfers
                when: action.type == "tool.transferFunds"
                risk: high
                approvers: [alice]
                expires_after: PT1H
            """;

    @TempDir
    static Path dir;
    static TestServer server;
    static Countersign countersign;

    @BeforeAll
    static void start() {
        String yaml = TestServer.CONFIG.replace("%DB%", TestServer.h2Url(dir)).replace("rules:\n", RULES);
        server = TestServer.start(TestServer.config(yaml, TestServer.env()));
        countersign = Countersign.builder().url(server.url("")).agentKey(TestServer.ALICE_BOT_KEY).build();
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    interface Treasurer {
        String chat(String request);
    }

    /** The tools: what they did is counted, so a test sees whether a tool really ran. */
    static final class BankTools {
        final AtomicInteger lookups = new AtomicInteger();
        final List<String> transfers = new CopyOnWriteArrayList<>();

        @Tool("Current balance of an account")
        String lookupBalance(@P("account id") String account) {
            lookups.incrementAndGet();
            return "balance of " + account + ": 48,200.00 EUR";
        }

        @Tool("Transfer money between accounts")
        String transferFunds(@P("from account") String from, @P("to account") String to, @P("amount in EUR") int amount,
                             @P("the bank's API token") String apiToken) {
            transfers.add(from + "->" + to + ":" + amount);
            return "transferred " + amount + " EUR from " + from + " to " + to;
        }
    }

    /**
     * A chat model that follows a script: first it asks for lookupBalance, then for transferFunds, then it answers
     * "done: " and the text of the last tool result it was given. It records every tool result it saw.
     */
    static final class ScriptedModel implements ChatModel {
        final List<ToolExecutionResultMessage> seen = new CopyOnWriteArrayList<>();

        @Override
        public ChatResponse doChat(ChatRequest request) {
            List<ChatMessage> messages = request.messages();
            List<ToolExecutionResultMessage> results = messages.stream().filter(ToolExecutionResultMessage.class::isInstance)
                    .map(ToolExecutionResultMessage.class::cast).toList();
            AiMessage answer;
            if (results.isEmpty()) {
                assertThat(request.toolSpecifications()).extracting(s -> s.name()).contains("lookupBalance", "transferFunds");
                answer = AiMessage.from(ToolExecutionRequest.builder().id("call-1").name("lookupBalance")
                        .arguments("{\"account\": \"ops\"}").build());
            } else if (results.size() == 1) {
                seen.add(results.get(0));
                answer = AiMessage.from(ToolExecutionRequest.builder().id("call-2").name("transferFunds")
                        .arguments("{\"from\": \"ops\", \"to\": \"acme\", \"amount\": 12500, \"apiToken\": \"tok-secret-991\"}").build());
            } else {
                ToolExecutionResultMessage last = results.get(results.size() - 1);
                seen.add(last);
                answer = AiMessage.from("done: " + last.text());
            }
            return ChatResponse.builder().aiMessage(answer).build();
        }
    }

    private record Run(BankTools tools, ScriptedModel model, CompletableFuture<String> answer) {
    }

    private static Run start(String request) {
        BankTools tools = new BankTools();
        ScriptedModel model = new ScriptedModel();
        CountersignToolGuard guard = CountersignToolGuard.builder(countersign).secretParams("apiToken").maxWait(Duration.ofMinutes(1)).build();
        Treasurer treasurer = AiServices.builder(Treasurer.class).chatModel(model).tools(guard.guard(tools)).build();
        return new Run(tools, model, CompletableFuture.supplyAsync(() -> treasurer.chat(request)));
    }

    @Test
    void aRejectedToolCallComesBackToTheModelAsTheToolResultWithWhoAndWhy() throws Exception {
        Run run = start("pay acme 12,500 EUR from ops (run reject)");

        JsonNode pending = awaitPending();
        assertThat(run.tools().lookups).hasValue(1); // the low-risk tool ran at once
        assertThat(pending.path("action").path("params").path("amount").asInt()).isEqualTo(12500);
        assertThat(pending.path("action").path("params").path("apiToken").asText()).isNotEqualTo("tok-secret-991");
        assertThat(pending.toString()).doesNotContain("tok-secret-991");
        server.decide(pending.path("id").asText(), "reject", "alice", "use the sandbox account");

        assertThat(run.answer().get(30, TimeUnit.SECONDS)).isEqualTo("done: rejected by alice: use the sandbox account");
        assertThat(run.model().seen).hasSize(2);
        assertThat(run.model().seen.get(0).text()).isEqualTo("balance of ops: 48,200.00 EUR");
        assertThat(run.model().seen.get(1).text()).isEqualTo("rejected by alice: use the sandbox account");
        assertThat(run.tools().transfers).isEmpty();
    }

    @Test
    void anApprovedToolCallRunsTheToolAndTheModelSeesItsResult() throws Exception {
        Run run = start("pay acme 12,500 EUR from ops (run approve)");

        JsonNode pending = awaitPending();
        assertThat(run.tools().transfers).isEmpty(); // waits for the person
        server.decide(pending.path("id").asText(), "approve", "alice", "invoice checked");

        assertThat(run.answer().get(30, TimeUnit.SECONDS)).isEqualTo("done: transferred 12500 EUR from ops to acme");
        assertThat(run.tools().transfers).containsExactly("ops->acme:12500");
        JsonNode lookup = approvals("approved").stream().filter(a -> a.path("action").path("type").asText().equals("tool.lookupBalance"))
                .findFirst().orElseThrow();
        assertThat(lookup.path("decision").path("by").path("channel").asText()).isEqualTo("policy");
        assertThat(lookup.path("action").path("params").path("account").asText()).isEqualTo("ops");
    }

    private static JsonNode awaitPending() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            for (JsonNode a : approvals("pending")) {
                if (a.path("action").path("type").asText().equals("tool.transferFunds")) return a;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no pending tool.transferFunds within 30 s");
    }

    private static List<JsonNode> approvals(String status) {
        TestServer.Response r = server.get("/api/v1/approvals?status=" + status + "&limit=1000", TestServer.OPERATOR_KEY);
        assertThat(r.status()).isEqualTo(200);
        List<JsonNode> out = new java.util.ArrayList<>();
        r.json().path("approvals").forEach(out::add);
        return out;
    }
}
