package dev.countersign.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.server.TestServer;
import dev.countersign.server.config.ServerConfig;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The real server for the client tests: {@link TestServer}'s config (agents alice-bot with a webhook secret and
 * other-bot, an operator key, people alice/bob/carol/dave/erin) with three more rules in front:
 * {@code veto-email} (email.send: medium with a 2 s veto window, alice), {@code plan-review} (plan.review: high,
 * alice) and {@code gate-deploy} (deploy.*: high, alice, expires after 1 h).
 */
final class ClientTestServer {
    static final String RULES = """
            rules:
              - name: veto-email
                when: action.type == "email.send"
                risk: medium
                veto_window: PT2S
                approvers: [alice]
              - name: plan-review
                when: action.type == "plan.review"
                risk: high
                approvers: [alice]
              - name: gate-deploy
                when: action.type.startsWith("deploy.")
                risk: high
                approvers: [alice]
                expires_after: PT1H
            """;

    private ClientTestServer() {}

    /** The config on an H2 file in {@code dir}, on {@code port} (0: a free one). */
    static ServerConfig config(Path dir, int port) {
        String yaml = TestServer.CONFIG.replace("%DB%", TestServer.h2Url(dir))
                .replace("rules:\n", RULES)
                .replace("  port: 0\n", "  port: " + port + "\n");
        return TestServer.config(yaml, TestServer.env());
    }

    static TestServer start(Path dir) {
        return TestServer.start(config(dir, 0));
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static Countersign client(TestServer server) {
        return Countersign.builder().url(server.url("")).agentKey(TestServer.ALICE_BOT_KEY).build();
    }

    /** The newest approval (seen with the operator key) whose summary is {@code summary}, waiting up to 10 s for it. */
    static JsonNode find(TestServer server, String summary) {
        long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < until) {
            TestServer.Response r = server.get("/api/v1/approvals?limit=1000", TestServer.OPERATOR_KEY);
            for (JsonNode a : r.json().path("approvals")) {
                if (a.path("action").path("summary").asText().equals(summary)) return a;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("no approval with summary '" + summary + "'");
    }

    /** How many approvals (any agent, any status) have this summary. */
    static long count(TestServer server, String summary) {
        TestServer.Response r = server.get("/api/v1/approvals?limit=1000", TestServer.OPERATOR_KEY);
        long n = 0;
        for (JsonNode a : r.json().path("approvals")) {
            if (a.path("action").path("summary").asText().equals(summary)) n++;
        }
        return n;
    }

    static Map<String, Object> params(Object... kv) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i + 1 < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
