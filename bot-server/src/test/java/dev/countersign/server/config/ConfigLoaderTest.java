package dev.countersign.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.core.approval.AgentRef;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.ask.AskRequest;
import dev.countersign.core.policy.Assessment;
import dev.countersign.core.policy.RiskPolicy;
import dev.countersign.core.store.Json;
import dev.countersign.core.policy.RuleSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The YAML config and the environment read into a ServerConfig; every mistake named with file, line and key. */
class ConfigLoaderTest {
    private static final Path FILE = Path.of("test.yaml");

    /** People, a group and one rule, so that a second rule (rules[1]) can be the one under test. */
    private static final String BASE = """
            people:
              - { id: alice, name: Alice Ng }
              - { id: bob, name: Bob Osei }
            groups:
              finance: [alice, bob]
            rules:
              - name: reads
                when: action.type.startsWith("db.read")
                risk: low
            """;

    private static ServerConfig parse(String yaml, Map<String, String> env) {
        return ConfigLoader.parse(FILE, yaml, env);
    }

    private static ServerConfig parse(String yaml) {
        return parse(yaml, Map.of());
    }

    private static ConfigException failure(String yaml, Map<String, String> env) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> parse(yaml, env));
        assertThat(e).as("a ConfigException for:\n" + yaml).isNotNull();
        return e;
    }

    private static ConfigException failure(String yaml) {
        return failure(yaml, Map.of());
    }

    /** The 1-based number of the first line of {@code yaml} that contains {@code marker}. */
    private static int lineOf(String yaml, String marker) {
        String[] lines = yaml.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains(marker)) return i + 1;
        }
        throw new AssertionError("no line contains " + marker);
    }

    // ------------------------------------------------------------------ the repository's config

    @Test
    void the_repository_config_loads_with_its_defaults() {
        ServerConfig c = ConfigLoader.load(Path.of("../config/countersign.yaml"), Map.of());

        assertThat(c.port()).isEqualTo(8080);
        assertThat(c.publicUrl()).isEqualTo("http://localhost:8080");
        assertThat(c.rules()).extracting(RuleSpec::name).containsExactly("reads", "tool-reads", "internal-email", "large-payment", "production-deploy");
        RuleSpec payment = c.rules().get(3);
        assertThat(payment.risk()).isEqualTo(RiskLevel.HIGH);
        assertThat(payment.approvers()).containsExactly("group:finance");
        assertThat(payment.expiresAfter()).isEqualTo(Duration.ofHours(1));
        assertThat(payment.escalation()).singleElement().satisfies(step -> {
            assertThat(step.after()).isEqualTo(Duration.ofMinutes(15));
            assertThat(step.people()).containsExactly("group:cfo");
        });
        assertThat(c.directory().members()).extracting(m -> m.id()).containsExactlyInAnyOrder("alice", "bob", "carol");
        assertThat(c.directory().admins()).extracting(p -> p.id()).containsExactly("alice");
        assertThat(c.channels().slackApprovalChannel()).isEqualTo("C0APPROVALS");
        assertThat(c.database().url()).startsWith("jdbc:h2:file:").contains("WRITE_DELAY=0");
        assertThat(c.agentKeys()).isEmpty(); // BILLING_BOT_KEY unset: ${BILLING_BOT_KEY:-} is empty
        assertThat(c.operatorKeys()).isEmpty();
    }

    @ParameterizedTest
    @MethodSource("agentTools")
    void the_repository_config_lets_agents_tools_that_only_read_through_and_holds_the_rest(String type, RiskLevel expected, String rule) {
        ServerConfig c = ConfigLoader.load(Path.of("../config/countersign.yaml"), Map.of());
        JsonNode body = Json.MAPPER.createObjectNode().set("action", Json.MAPPER.createObjectNode().put("type", type).put("summary", "a tool call"));

        Assessment a = new RiskPolicy(c.rules(), c.directory()).assess(AskRequest.parse(body, "assistant"), new AgentRef("assistant", null));

        assertThat(a.risk().level()).isEqualTo(expected);
        assertThat(a.risk().rule()).isEqualTo(rule);
    }

    static Stream<Arguments> agentTools() {
        return Stream.of(
                Arguments.of("mcp.fs.read_text_file", RiskLevel.LOW, "tool-reads"),
                Arguments.of("mcp.fs.list_directory", RiskLevel.LOW, "tool-reads"),
                Arguments.of("tool.getBalance", RiskLevel.LOW, "tool-reads"),
                Arguments.of("mcp.fs.write_file", RiskLevel.HIGH, null),
                Arguments.of("mcp.fs.read_text_file.then.delete", RiskLevel.HIGH, null),
                Arguments.of("mcp.fs.move_file", RiskLevel.HIGH, null));
    }

    @Test
    void the_repository_config_takes_its_agent_key_and_channel_from_the_environment() {
        ServerConfig c = ConfigLoader.load(Path.of("../config/countersign.yaml"),
                Map.of("BILLING_BOT_KEY", "bb-key-1", "SLACK_APPROVAL_CHANNEL", "C0OTHER", "BILLING_BOT_WEBHOOK_SECRET", "whsec_c2VjcmV0"));

        assertThat(c.agentKeys()).containsEntry(ConfigLoader.sha256("bb-key-1"), "billing-bot");
        assertThat(c.webhookSecrets()).containsEntry("billing-bot", "whsec_c2VjcmV0");
        assertThat(c.channels().slackApprovalChannel()).isEqualTo("C0OTHER");
    }

    @Test
    void a_missing_config_file_says_how_to_point_at_one() {
        assertThatThrownBy(() -> ConfigLoader.load(Path.of("no/such/countersign.yaml"), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("no/such/countersign.yaml")
                .hasMessageContaining("COUNTERSIGN_CONFIG");
    }

    // ------------------------------------------------------------------ ${VAR}

    @Test
    void a_variable_with_a_default_takes_the_default_when_unset_or_empty_and_the_value_when_set() {
        String yaml = BASE + """
                channels:
                  slack:
                    approval_channel: ${CHANNEL:-C0DEFAULT}
                  teams:
                    approval_conversation: "conv-${TEAM:-none}-end"
                """;

        assertThat(parse(yaml).channels().slackApprovalChannel()).isEqualTo("C0DEFAULT");
        assertThat(parse(yaml, Map.of("CHANNEL", "")).channels().slackApprovalChannel()).isEqualTo("C0DEFAULT");
        ServerConfig set = parse(yaml, Map.of("CHANNEL", "C0SET", "TEAM", "t1"));
        assertThat(set.channels().slackApprovalChannel()).isEqualTo("C0SET");
        assertThat(set.channels().teamsApprovalConversation()).isEqualTo("conv-t1-end");
    }

    @Test
    void an_unset_variable_is_an_error_naming_the_file_the_line_and_the_variable() {
        String yaml = BASE + """
                agents:
                  - id: billing-bot
                    key: ${BILLING_BOT_KEY}
                """;

        ConfigException e = failure(yaml);

        assertThat(e.problems()).singleElement().asString()
                .contains("test.yaml")
                .contains("line " + lineOf(yaml, "${BILLING_BOT_KEY}"))
                .contains("${BILLING_BOT_KEY}")
                .contains("not set");
    }

    @Test
    void a_variable_inside_a_yaml_comment_is_ignored() {
        String yaml = BASE + """
                # the key comes from ${SOMETHING_NEVER_SET}
                agents:
                  - id: billing-bot   # or ${ANOTHER_UNSET_VAR}
                    key: ${BILLING_BOT_KEY}
                """;

        ServerConfig c = parse(yaml, Map.of("BILLING_BOT_KEY", "k1"));

        assertThat(c.agentKeys()).containsEntry(ConfigLoader.sha256("k1"), "billing-bot");
    }

    @Test
    void a_variable_value_is_not_parsed_as_yaml() {
        String yaml = BASE + """
                channels:
                  slack:
                    approval_channel: ${CHANNEL}
                """;

        ServerConfig c = parse(yaml, Map.of("CHANNEL", "a: [b, c] # d"));

        assertThat(c.channels().slackApprovalChannel()).isEqualTo("a: [b, c] # d");
    }

    // ------------------------------------------------------------------ mistakes, each with file, line and key

    /** Name, the second rule's YAML (rules[1]), the marker on the line the error must name, the key path, a word of the message. */
    static Stream<Arguments> rule_mistakes() {
        return Stream.of(
                Arguments.of("a CEL syntax error", """
                          - name: broken
                            when: action.type == && params.amount > 5
                            risk: high
                        """, "when: action.type ==", "rules[1].when", "does not compile"),
                Arguments.of("a condition that is not a boolean", """
                          - name: not-boolean
                            when: action.type.size() + 1
                            risk: high
                        """, "when: action.type.size()", "rules[1].when", "boolean"),
                Arguments.of("risk extreme", """
                          - name: too-much
                            when: action.type == "x"
                            risk: extreme
                        """, "risk: extreme", "rules[1].risk", "extreme"),
                Arguments.of("an unknown approver", """
                          - name: who
                            when: action.type == "x"
                            risk: high
                            approvers:
                              - alice
                              - zed
                        """, "- zed", "rules[1].approvers[1]", "zed"),
                Arguments.of("an unknown group", """
                          - name: which
                            when: action.type == "x"
                            risk: high
                            approvers: [alice, group:nobody]
                        """, "group:nobody", "rules[1].approvers[1]", "nobody"),
                Arguments.of("a bad duration", """
                          - name: when-then
                            when: action.type == "x"
                            risk: high
                            approvers: [alice]
                            expires_after: 1 hour
                        """, "expires_after: 1 hour", "rules[1].expires_after", "1 hour"),
                Arguments.of("a negative escalation step", """
                          - name: backwards
                            when: action.type == "x"
                            risk: high
                            approvers: [alice]
                            escalation:
                              - after: -PT5M
                                notify: [bob]
                        """, "after: -PT5M", "rules[1].escalation[0].after", "positive"),
                Arguments.of("veto_window on a high rule", """
                          - name: vetoed
                            when: action.type == "x"
                            risk: high
                            approvers: [alice]
                            veto_window: PT2M
                        """, "veto_window: PT2M", "rules[1].veto_window", "medium"),
                Arguments.of("an unknown rule key", """
                          - name: typo
                            when: action.type == "x"
                            risk: high
                            aprovers: [alice]
                        """, "aprovers:", "rules[1].aprovers", "aprovers"),
                Arguments.of("a quorum of zero", """
                          - name: nobody-needed
                            when: action.type == "x"
                            risk: high
                            approvers: [alice]
                            quorum: 0
                        """, "quorum: 0", "rules[1].quorum", "quorum"),
                Arguments.of("a rule name used twice", """
                          - name: reads
                            when: action.type == "x"
                            risk: high
                        """, "- name: reads", "rules[1].name", "twice"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rule_mistakes")
    void a_rule_mistake_is_reported_with_the_file_the_line_and_the_key_path(String what, String rule, String marker, String path, String word) {
        String yaml = BASE + rule;
        int line = (int) BASE.chars().filter(ch -> ch == '\n').count() + lineOf(rule, marker);

        ConfigException e = failure(yaml);

        assertThat(e.problems()).as(e.getMessage()).singleElement().asString()
                .contains("test.yaml line " + line + " (" + path + ")")
                .contains(word);
        assertThat(e.getMessage()).contains("test.yaml line " + line + " (" + path + ")");
    }

    @Test
    void an_unknown_top_level_key_is_reported_with_its_line() {
        String yaml = BASE + """
                colour: blue
                admins: [alice]
                """;

        ConfigException e = failure(yaml);

        assertThat(e.problems()).singleElement().asString()
                .contains("test.yaml line " + lineOf(yaml, "colour: blue") + " (colour)")
                .contains("unknown key 'colour'");
    }

    @Test
    void an_unknown_person_in_a_group_or_the_admins_is_reported_with_its_line() {
        String yaml = """
                people:
                  - { id: alice, name: Alice Ng }
                groups:
                  finance: [alice, mallory]
                admins:
                  - trent
                """;

        ConfigException e = failure(yaml);

        assertThat(e.problems()).hasSize(2);
        assertThat(e.getMessage())
                .contains("test.yaml line " + lineOf(yaml, "mallory") + " (groups.finance[1])")
                .contains("test.yaml line " + lineOf(yaml, "trent") + " (admins[0])");
    }

    @Test
    void every_problem_is_reported_together() {
        String yaml = """
                people:
                  - { id: alice, name: Alice Ng }
                colour: blue
                rules:
                  - name: one
                    when: action.type ==
                    risk: high
                  - name: two
                    when: action.type == "x"
                    risk: extreme
                    approvers: [zed]
                    expires_after: soon
                agents:
                  - id: a
                    key: ${UNSET_KEY}
                """;

        ConfigException e = failure(yaml);

        // ${UNSET_KEY} is found while reading, before the rest is checked: report it on its own first
        assertThat(e.problems()).singleElement().asString().contains("line " + lineOf(yaml, "${UNSET_KEY}"));

        ConfigException all = failure(yaml, Map.of("UNSET_KEY", "k"));
        assertThat(all.problems()).hasSize(5);
        assertThat(all.getMessage())
                .contains("5 problems")
                .contains("line " + lineOf(yaml, "colour") + " (colour)")
                .contains("line " + lineOf(yaml, "when: action.type ==") + " (rules[0].when)")
                .contains("line " + lineOf(yaml, "risk: extreme") + " (rules[1].risk)")
                .contains("line " + lineOf(yaml, "[zed]") + " (rules[1].approvers[0])")
                .contains("line " + lineOf(yaml, "expires_after: soon") + " (rules[1].expires_after)");
    }

    @Test
    void invalid_yaml_is_reported_with_its_line() {
        String yaml = """
                people:
                  - id: alice
                    name: "Alice
                rules: []
                """;

        ConfigException e = failure(yaml);

        assertThat(e.getMessage()).contains("test.yaml").contains("not valid YAML").containsPattern("line \\d+");
    }

    @Test
    void an_empty_file_is_an_empty_config() {
        ServerConfig c = parse("");

        assertThat(c.rules()).isEmpty();
        assertThat(c.agentKeys()).isEmpty();
    }

    @Test
    void a_top_level_list_is_refused() {
        assertThatThrownBy(() -> parse("- a\n- b\n")).isInstanceOf(ConfigException.class).hasMessageContaining("test.yaml");
    }

    // ------------------------------------------------------------------ agents and keys

    @Test
    void countersign_agent_keys_adds_agents_to_those_of_the_file() {
        String yaml = BASE + """
                agents:
                  - id: billing-bot
                    key: file-key
                """;

        ServerConfig c = parse(yaml, Map.of("COUNTERSIGN_AGENT_KEYS", "ops-bot:ops-key, deploy-bot:deploy:key:with:colons"));

        assertThat(c.agentKeys()).containsOnly(
                Map.entry(ConfigLoader.sha256("file-key"), "billing-bot"),
                Map.entry(ConfigLoader.sha256("ops-key"), "ops-bot"),
                Map.entry(ConfigLoader.sha256("deploy:key:with:colons"), "deploy-bot"));
    }

    @Test
    void a_malformed_countersign_agent_keys_entry_is_an_error_that_does_not_show_the_key() {
        ConfigException e = failure(BASE, Map.of("COUNTERSIGN_AGENT_KEYS", "ops-bot:ops-key,just-a-secret-key,ops2:"));

        assertThat(e.problems()).hasSize(2);
        assertThat(e.getMessage()).contains("COUNTERSIGN_AGENT_KEYS").doesNotContain("ops-key");
    }

    @Test
    void keys_are_kept_only_as_sha256_hashes() {
        String yaml = BASE + """
                agents:
                  - id: billing-bot
                    key: the-raw-agent-key
                  - id: hashed-bot
                    key_sha256: %s
                """.formatted(ConfigLoader.sha256("the-hashed-key").toUpperCase());

        ServerConfig c = parse(yaml, Map.of("COUNTERSIGN_AGENT_KEYS", "env-bot:the-env-key", "COUNTERSIGN_OPERATOR_KEYS", "the-operator-key, second-op"));

        assertThat(c.toString()).doesNotContain("the-raw-agent-key", "the-env-key", "the-operator-key", "second-op");
        assertThat(c.agentKeys().keySet()).allMatch(k -> k.matches("[0-9a-f]{64}"));
        assertThat(c.agentKeys()).containsEntry(ConfigLoader.sha256("the-raw-agent-key"), "billing-bot")
                .containsEntry(ConfigLoader.sha256("the-hashed-key"), "hashed-bot")
                .containsEntry(ConfigLoader.sha256("the-env-key"), "env-bot");
        assertThat(c.operatorKeys()).containsExactlyInAnyOrder(ConfigLoader.sha256("the-operator-key"), ConfigLoader.sha256("second-op"));
        assertThat(ConfigLoader.sha256("abc")).isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    @Test
    void a_key_sha256_that_is_not_64_hex_digits_is_an_error() {
        String yaml = BASE + """
                agents:
                  - id: hashed-bot
                    key_sha256: not-hex
                """;

        assertThat(failure(yaml).getMessage()).contains("line " + lineOf(yaml, "not-hex") + " (agents[0].key_sha256)");
    }

    @Test
    void a_webhook_secret_with_whsec_prefix_must_be_base64() {
        String yaml = BASE + """
                agents:
                  - id: billing-bot
                    key: k
                    webhook_secret: whsec_***not base64***
                """;

        assertThat(failure(yaml).getMessage()).contains("line " + lineOf(yaml, "whsec_") + " (agents[0].webhook_secret)");
    }

    // ------------------------------------------------------------------ server and database

    @Test
    void countersign_database_url_overrides_the_file() {
        String yaml = BASE + """
                database:
                  url: jdbc:h2:file:/tmp/from-the-file;WRITE_DELAY=0
                  user: file-user
                """;

        ServerConfig fromFile = parse(yaml);
        ServerConfig fromEnv = parse(yaml, Map.of("COUNTERSIGN_DATABASE_URL", "jdbc:postgresql://db.internal:5432/countersign",
                "COUNTERSIGN_DATABASE_USER", "cs", "COUNTERSIGN_DATABASE_PASSWORD", "pw"));

        assertThat(fromFile.database().url()).isEqualTo("jdbc:h2:file:/tmp/from-the-file;WRITE_DELAY=0");
        assertThat(fromFile.database().user()).isEqualTo("file-user");
        assertThat(fromEnv.database().url()).isEqualTo("jdbc:postgresql://db.internal:5432/countersign");
        assertThat(fromEnv.database().user()).isEqualTo("cs");
        assertThat(fromEnv.database().password()).isEqualTo("pw");
    }

    @Test
    void a_database_url_that_is_not_h2_or_postgresql_is_refused() {
        String yaml = BASE + """
                database:
                  url: jdbc:mysql://localhost/countersign
                """;

        assertThat(failure(yaml).getMessage()).contains("test.yaml line " + lineOf(yaml, "jdbc:mysql") + " (database.url)").contains("PostgreSQL");
        assertThat(failure(BASE, Map.of("COUNTERSIGN_DATABASE_URL", "jdbc:sqlite:cs.db")).getMessage())
                .contains("COUNTERSIGN_DATABASE_URL");
        assertThat(failure(BASE, Map.of("COUNTERSIGN_DATABASE_URL", "postgresql://localhost/cs")).getMessage())
                .contains("COUNTERSIGN_DATABASE_URL");
    }

    @Test
    void the_port_and_public_url_come_from_the_file_or_the_environment() {
        String yaml = BASE + """
                server:
                  port: 9090
                  public_url: https://approvals.example.com/
                """;

        assertThat(parse(yaml).port()).isEqualTo(9090);
        assertThat(parse(yaml).publicUrl()).isEqualTo("https://approvals.example.com");
        Map<String, String> env = new HashMap<>();
        env.put("COUNTERSIGN_PORT", "0");
        env.put("COUNTERSIGN_PUBLIC_URL", "https://cs.example.org");
        assertThat(parse(yaml, env).port()).isZero();
        assertThat(parse(yaml, env).publicUrl()).isEqualTo("https://cs.example.org");
    }

    @Test
    void a_bad_port_is_an_error() {
        String yaml = BASE + """
                server:
                  port: eighty
                """;

        assertThat(failure(yaml).getMessage()).contains("line " + lineOf(yaml, "eighty") + " (server.port)");
        assertThat(failure(BASE, Map.of("COUNTERSIGN_PORT", "70000")).getMessage()).contains("COUNTERSIGN_PORT");
    }

    @Test
    void rules_keep_the_line_they_were_written_on() {
        String yaml = BASE + """
                  - name: pay
                    when: action.type == "payments.transfer"
                    risk: high
                    approvers: [group:finance]
                    quorum: 2
                """;

        List<RuleSpec> rules = parse(yaml).rules();

        assertThat(rules).hasSize(2);
        assertThat(rules.get(1).quorum()).isEqualTo(2);
        assertThat(rules.get(1).where()).contains("test.yaml").contains("line " + lineOf(yaml, "payments.transfer"));
    }
}
