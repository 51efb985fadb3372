package dev.countersign.server.teams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.store.Json;
import dev.countersign.server.TestServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * A real Countersign server with the Teams channel on, in front of a {@link FakeBotFramework}; activities are the
 * fixtures of {@code shared/fixtures/teams} (copied to the test resources) pointed at the fake's service URL.
 *
 * <p>People: alice and bob (finance), carol (cfo), dave (no group) and erin (the admin), each with a Teams (Entra
 * object) id; frank has none. Rules: {@code large-payment} (payments.* over 10000, finance, escalates to cfo after
 * 15 min) and {@code quick-escalation} (ops.restart: alice, escalates to carol after 2 s). Approvals are posted to
 * the team of the fixtures.
 */
final class TeamsHarness implements AutoCloseable {
    static final String TEAM = "19:efa9296d959346209fea44151c742e73@thread.skype";
    static final String TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    static final String ALICE_AAD = "aaaaaaaa-0000-4000-8000-00000000a11c";
    static final String BOB_AAD = "bbbbbbbb-0000-4000-8000-000000000b0b";
    static final String CAROL_AAD = "cccccccc-0000-4000-8000-0000000ca201";
    static final String DAVE_AAD = "dddddddd-0000-4000-8000-0000000da7e0";
    static final String STRANGER_AAD = "eeeeeeee-0000-4000-8000-000000000000";

    static final String CONFIG = """
            server:
              port: 0
            database:
              url: "%DB%"
            agents:
              - id: alice-bot
                key: ${ALICE_BOT_KEY}
            people:
              - { id: alice, name: Alice Ng, email: alice@example.com, teams: %ALICE% }
              - { id: bob, name: Bob Osei, email: bob@example.com, teams: %BOB% }
              - { id: carol, name: Carol Diaz, email: carol@example.com, teams: %CAROL% }
              - { id: dave, name: Dave Okafor, email: dave@example.com, teams: %DAVE% }
              - { id: erin, name: Erin Admin, email: erin@example.com }
              - { id: frank, name: Frank Nobody, email: frank@example.com }
            groups:
              finance: [alice, bob]
              cfo: [carol]
            rules:
              - name: large-payment
                when: action.type.startsWith("payments.") && params.amount > 10000
                risk: high
                approvers: [group:finance]
                escalation:
                  - after: PT15M
                    notify: [group:cfo]
                expires_after: PT1H
              - name: quick-escalation
                when: action.type == "ops.restart"
                risk: high
                approvers: [alice]
                escalation:
                  - after: PT2S
                    notify: [carol]
                expires_after: PT1H
            admins: [erin]
            channels:
              teams:
                approval_conversation: "%TEAM%"
            """;

    final FakeBotFramework bf = new FakeBotFramework();
    final Path dir;
    final TestServer server;

    TeamsHarness(Path dir) {
        this(dir, yaml -> yaml);
    }

    /** @param config changes to {@link #CONFIG} (after its placeholders are filled in) */
    TeamsHarness(Path dir, java.util.function.UnaryOperator<String> config) {
        this.dir = dir;
        Map<String, String> env = new HashMap<>(TestServer.env());
        env.putAll(bf.env());
        String yaml = CONFIG.replace("%DB%", TestServer.h2Url(dir)).replace("%ALICE%", ALICE_AAD).replace("%BOB%", BOB_AAD)
                .replace("%CAROL%", CAROL_AAD).replace("%DAVE%", DAVE_AAD).replace("%TEAM%", TEAM);
        yaml = config.apply(yaml);
        TestServer s;
        try {
            s = TestServer.start(TestServer.config(yaml, env));
        } catch (RuntimeException e) {
            bf.close();
            throw e;
        }
        this.server = s;
    }

    // ---- activities -------------------------------------------------------------------------------------

    static ObjectNode fixture(String name) {
        try (InputStream in = TeamsHarness.class.getResourceAsStream("/teams/" + name + ".json")) {
            if (in == null) throw new IllegalArgumentException("no fixture " + name);
            return (ObjectNode) Json.MAPPER.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The bot added to the team of the fixtures. */
    ObjectNode teamInstall() {
        ObjectNode a = fixture("conversationUpdate_bot_added_to_team");
        a.put("serviceUrl", bf.serviceUrl());
        return a;
    }

    /** The bot added to a person's 1:1 chat (the fixture's placeholders filled in). */
    ObjectNode personalInstall(String aad) {
        ObjectNode a = fixture("conversationUpdate_bot_added_to_personal_chat");
        a.put("serviceUrl", bf.serviceUrl());
        ((ObjectNode) a.get("membersAdded").get(1)).put("id", userId(aad)).put("aadObjectId", aad);
        ((ObjectNode) a.get("from")).put("id", userId(aad)).put("aadObjectId", aad);
        ((ObjectNode) a.get("conversation")).put("id", personalConversation(aad)).put("tenantId", TENANT);
        ((ObjectNode) a.get("recipient")).put("id", "28:" + FakeBotFramework.APP_ID);
        ((ObjectNode) a.get("channelData").get("tenant")).put("id", TENANT);
        return a;
    }

    /** A click on Approve or Reject (Action.Execute) in the 1:1 chat of {@code aad}: the real invoke, re-aimed. */
    ObjectNode click(String aad, String verb, String approvalId, String comment) {
        ObjectNode a = fixture("invoke_adaptiveCard_action_personal");
        a.put("serviceUrl", bf.serviceUrl());
        ((ObjectNode) a.get("from")).put("id", userId(aad)).put("aadObjectId", aad);
        ((ObjectNode) a.get("recipient")).put("id", "28:" + FakeBotFramework.APP_ID);
        ((ObjectNode) a.get("conversation")).put("id", personalConversation(aad)).put("tenantId", TENANT);
        ((ObjectNode) a.get("channelData").get("tenant")).put("id", TENANT);
        ObjectNode action = (ObjectNode) a.get("value").get("action");
        action.put("title", verb).put("verb", verb);
        ObjectNode data = action.putObject("data").put("approval", approvalId);
        if (comment != null) data.put("comment", comment);
        return a;
    }

    /** A message from {@code aad} in their 1:1 chat. */
    ObjectNode personalMessage(String aad, String text) {
        ObjectNode a = Json.MAPPER.createObjectNode().put("type", "message").put("id", "1:msg-" + System.nanoTime()).put("channelId", "msteams")
                .put("serviceUrl", bf.serviceUrl()).put("text", text);
        a.putObject("from").put("id", userId(aad)).put("aadObjectId", aad).put("name", "someone");
        a.putObject("conversation").put("id", personalConversation(aad)).put("conversationType", "personal").put("tenantId", TENANT);
        a.putObject("recipient").put("id", "28:" + FakeBotFramework.APP_ID);
        a.putObject("channelData").putObject("tenant").put("id", TENANT);
        return a;
    }

    /** A message from {@code aad} in a thread of the team's channel (the bot learns the user's id, but has no 1:1 chat). */
    ObjectNode channelMessage(String aad, String text) {
        ObjectNode a = personalMessage(aad, text);
        ((ObjectNode) a.get("conversation")).put("id", TEAM + ";messageid=1501").put("conversationType", "channel");
        ((ObjectNode) a.get("channelData")).putObject("team").put("id", TEAM);
        return a;
    }

    static String userId(String aad) {
        return "29:user-" + aad;
    }

    static String personalConversation(String aad) {
        return "a:personal-" + aad;
    }

    /** POSTs an activity with a valid token for its service URL. */
    TestServer.Response send(JsonNode activity) {
        return send(activity, bf.token(activity.path("serviceUrl").asText()));
    }

    TestServer.Response send(JsonNode activity, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url("/api/messages"))).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(activity.toString()));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return TestServer.send(b);
    }

    // ---- the database, looked at directly ---------------------------------------------------------------------

    long count(String sql) {
        try (Connection c = DriverManager.getConnection(TestServer.h2Url(dir), "sa", ""); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } finally {
            bf.close();
        }
    }
}
