package dev.countersign.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.CountersignException;
import dev.countersign.core.store.Json;
import dev.countersign.server.CountersignServer;
import dev.countersign.server.config.ConfigLoader;
import dev.countersign.server.config.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * {@code demo}: the service on its embedded default plus a demo agent that asks four realistic actions
 * through the public API, waits for each answer by long-poll, and says what it does with it. The agent and
 * operator keys are made up for this run and printed, so the decide commands it prints work as they are.
 */
@Command(name = "demo", description = "Run the service with a demo agent that asks a few actions and waits for your decisions.")
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--port", description = "HTTP port (default: COUNTERSIGN_PORT or 8080)")
    Integer port;

    @Override
    public Integer call() throws Exception {
        String agentKey = random();
        String operatorKey = random();
        Map<String, String> env = new HashMap<>(System.getenv());
        env.merge("COUNTERSIGN_AGENT_KEYS", "demo-agent:" + agentKey, (a, b) -> a + "," + b);
        env.merge("COUNTERSIGN_OPERATOR_KEYS", operatorKey, (a, b) -> a + "," + b);
        if (port != null) env.put("COUNTERSIGN_PORT", port.toString());
        ServerConfig config;
        CountersignServer server;
        try {
            config = ConfigLoader.load(env);
            server = CountersignServer.start(config);
        } catch (CountersignException e) {
            System.err.println("countersign: " + e.getMessage());
            return 2;
        }
        java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping.set(true);
            server.close();
        }, "shutdown"));
        String base = "http://localhost:" + server.port();
        String jar = "java -jar bot-server/target/countersign.jar";
        System.out.println();
        System.out.println("Countersign is running at " + base + " (database: " + config.database().safeUrl() + ")");
        System.out.println();
        System.out.println("  Open " + base + "/web to see and decide the requests"
                + (config.channels().webOidc().configured() ? " (single sign-on)." : " (dev sign-in: pick alice)."));
        System.out.println();
        System.out.println("A demo agent is asking for four actions. Or decide from another terminal:");
        System.out.println("  export COUNTERSIGN_OPERATOR_KEY=" + operatorKey);
        System.out.println("Your own agents, CI gates and the Java/Python clients can ask with the demo agent's key:");
        System.out.println("  export COUNTERSIGN_AGENT_KEY=" + agentKey);
        System.out.println();

        HttpClient http = HttpClient.newHttpClient();
        List<ObjectNode> asks = List.of(
                ask("db.read.customers", "Read the 20 newest customer records to draft the weekly report", Map.of("table", "customers", "limit", 20), null,
                        "weekly report", "read only"),
                ask("email.send", "E-mail the weekly report to the sales team", Map.of("to", "sales@example.com", "subject", "Weekly report"), null,
                        "the report is ready", "internal e-mail to 12 people"),
                ask("payments.transfer", "Pay invoice INV-2291 to Acme Corp: 12,500.00 EUR", Map.of("amount", 12500, "currency", "EUR", "to", "Acme Corp", "invoice", "INV-2291"),
                        "bob", "invoice due on Friday", "money leaves the company account"),
                ask("deploy.production", "Deploy billing-service v2.14.0 to production", Map.of("service", "billing-service", "version", "2.14.0", "environment", "production"),
                        null, "fixes the VAT rounding bug (#812)", "all customers' invoices"));
        Map<String, CompletableFuture<Void>> running = new LinkedHashMap<>();
        for (ObjectNode body : asks) {
            JsonNode a = post(http, base + "/api/v1/approvals", agentKey, body);
            String id = a.path("id").asText();
            String type = body.path("action").path("type").asText();
            System.out.printf("  asked  %-20s %-6s risk (%s)%n", type, a.path("risk").path("level").asText(), a.path("risk").path("rule").asText("no rule"));
            if (a.path("status").asText().equals("pending")) {
                String who = a.path("approvers").findValuesAsText("id").stream().filter(p -> !p.equals(body.path("requested_for").asText())).findFirst().orElse("alice");
                System.out.printf("         approve: %s decide %s approve --as %s -m \"looks right\"%n", jar, id, who);
                System.out.printf("         reject:  %s decide %s reject --as %s -m \"not now\"%n", jar, id, who);
            }
            running.put(id, CompletableFuture.runAsync(() -> waitAndAct(http, base, agentKey, id, type)));
        }
        System.out.println();
        System.out.println("Waiting for decisions (Ctrl-C to stop). Unanswered requests expire: the agent then does nothing.");
        CompletableFuture.allOf(running.values().toArray(CompletableFuture[]::new)).join();
        if (!stopping.get()) System.out.println("The demo agent is done; the service keeps running at " + base + " (Ctrl-C to stop).");
        return 0;
    }

    private static void waitAndAct(HttpClient http, String base, String key, String id, String type) {
        while (true) {
            JsonNode a;
            try {
                a = get(http, base + "/api/v1/approvals/" + id + "?wait=60", key);
            } catch (RuntimeException e) {
                // The service is stopping (Ctrl-C) or unreachable: an agent that cannot confirm its approval does nothing.
                System.out.printf("  agent: %-20s could not confirm the approval (%s): not executing%n", type, e.getMessage());
                return;
            }
            String status = a.path("status").asText();
            JsonNode d = a.path("decision");
            String by = d.path("by").path("id").asText();
            String comment = d.path("comment").isTextual() ? d.path("comment").asText() : null;
            switch (status) {
                case "pending" -> {
                    continue;
                }
                case "approved" -> System.out.printf("  agent: %-20s approved by %s: executing%s%n", type, by, comment == null ? "" : " (\"" + comment + "\")");
                case "rejected" -> System.out.printf("  agent: %-20s rejected: %s (by %s): not executing%n", type, comment == null ? "no reason given" : comment, by);
                case "expired" -> System.out.printf("  agent: %-20s expired: not executing%n", type);
                default -> System.out.printf("  agent: %-20s %s: not executing%n", type, status);
            }
            return;
        }
    }

    private static ObjectNode ask(String type, String summary, Map<String, Object> params, String requestedFor, String reason, String impact) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        ObjectNode action = body.putObject("action");
        action.put("type", type);
        action.put("summary", summary);
        action.set("params", Json.MAPPER.valueToTree(params));
        body.putObject("agent").put("id", "demo-agent").put("run_id", "demo-" + System.currentTimeMillis() / 1000);
        if (requestedFor != null) body.put("requested_for", requestedFor);
        body.putObject("context").put("reason", reason).put("impact", impact);
        return body;
    }

    private static JsonNode post(HttpClient http, String url, String key, ObjectNode body) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() / 100 != 2) throw new IllegalStateException("ask failed: HTTP " + resp.statusCode() + " " + resp.body());
        return Json.MAPPER.readTree(resp.body());
    }

    private static JsonNode get(HttpClient http, String url, String key) {
        try {
            HttpRequest req = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(90)).header("Authorization", "Bearer " + key).GET().build();
            HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 200) throw new IllegalStateException("HTTP " + resp.statusCode());
            return Json.MAPPER.readTree(resp.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
    }

    private static String random() {
        byte[] b = new byte[18];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
