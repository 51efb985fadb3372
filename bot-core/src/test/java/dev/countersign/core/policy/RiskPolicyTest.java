package dev.countersign.core.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.countersign.core.approval.Action;
import dev.countersign.core.approval.AgentRef;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Directory.Member;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.ask.AskRequest;
import dev.countersign.core.policy.RuleSpec.StepSpec;
import java.math.BigInteger;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RiskPolicyTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AgentRef AGENT = new AgentRef("billing-bot", "run-7");

    private static final Person ALICE = new Person("alice", "Alice Ng");
    private static final Person BOB = new Person("bob", "Bob Stone");
    private static final Person CAROL = new Person("carol", "Carol Chen");
    private static final Person DAVE = new Person("dave", "Dave Admin");

    /** finance = alice, bob; cfo = carol; ops = dave, alice; the one admin is dave (in no rule's approvers). */
    private static final Directory DIRECTORY = new Directory(
            List.of(new Member("alice", "Alice Ng", "alice@example.com", "U0ALICE", null),
                    new Member("bob", "Bob Stone", "bob@example.com", "U0BOB", null),
                    new Member("carol", "Carol Chen", "carol@example.com", null, null),
                    new Member("dave", "Dave Admin", "dave@example.com", null, null)),
            Map.of("finance", List.of("alice", "bob"), "cfo", List.of("carol"), "ops", List.of("dave", "alice")),
            List.of("dave"));

    private static final RuleSpec LARGE_PAYMENT = new RuleSpec("large-payment",
            "action.type.startsWith(\"payments.\") && params.amount > 10000", RiskLevel.HIGH,
            List.of("group:finance"), 2, List.of(new StepSpec(Duration.ofMinutes(15), List.of("group:cfo"))),
            Duration.ofHours(1), null, null, null, "countersign.yaml line 12 (rules[0].when)");
    private static final RuleSpec INTERNAL_EMAIL = new RuleSpec("internal-email",
            "action.type == \"email.send\" && has(params.to) && params.to.endsWith(\"@example.com\")", RiskLevel.MEDIUM,
            List.of("alice"), 1, List.of(), Duration.ofMinutes(30), Duration.ofMinutes(2), null, null,
            "countersign.yaml line 20 (rules[1].when)");
    private static final RuleSpec READS = new RuleSpec("reads",
            "action.type.startsWith(\"db.read\") || action.type == \"web.search\"", RiskLevel.LOW,
            List.of(), 1, List.of(), null, null, null, null, "countersign.yaml line 25 (rules[2].when)");
    private static final RuleSpec EVERYTHING_ELSE_LOW = new RuleSpec("everything-else", "true", RiskLevel.LOW,
            List.of(), 1, List.of(), null, null, null, null, "countersign.yaml line 30 (rules[3].when)");

    private static final RiskPolicy POLICY = new RiskPolicy(List.of(LARGE_PAYMENT, INTERNAL_EMAIL, READS), DIRECTORY);

    // ------------------------------------------------------------------ matching

    @Test
    void the_first_matching_rule_wins_even_when_a_later_one_matches_too() {
        RuleSpec anyPayment = new RuleSpec("any-payment", "action.type.startsWith(\"payments.\")", RiskLevel.MEDIUM,
                List.of("carol"), 1, List.of(), null, null, null, null, "line 1");
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"amount": 50000}}}""");

        Assessment first = new RiskPolicy(List.of(anyPayment, LARGE_PAYMENT), DIRECTORY).assess(ask, AGENT);
        Assessment reversed = new RiskPolicy(List.of(LARGE_PAYMENT, anyPayment), DIRECTORY).assess(ask, AGENT);

        assertThat(first.risk().rule()).isEqualTo("any-payment");
        assertThat(first.risk().level()).isEqualTo(RiskLevel.MEDIUM);
        assertThat(first.plan().approvers()).containsExactly(CAROL);
        assertThat(reversed.risk().rule()).isEqualTo("large-payment");
        assertThat(reversed.risk().level()).isEqualTo(RiskLevel.HIGH);
    }

    @ParameterizedTest(name = "amount {0}")
    @ValueSource(strings = {"50000", "10001", "3000000000", "50000.0", "10000.5", "1e5"})
    void an_amount_above_the_limit_matches_whether_the_json_number_is_an_int_or_a_double(String amount) {
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"amount": %s}}}""".formatted(amount));

        Assessment a = policyWithLowFallback().assess(ask, AGENT);

        assertThat(a.risk().rule()).isEqualTo("large-payment");
        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().explanation()).contains("large-payment").doesNotContain("fail closed");
    }

    @ParameterizedTest(name = "amount {0}")
    @ValueSource(strings = {"10000", "9999", "0", "-50000", "10000.0", "9999.99"})
    void an_amount_at_or_below_the_limit_does_not_match_and_the_next_rule_decides(String amount) {
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"amount": %s}}}""".formatted(amount));

        Assessment a = policyWithLowFallback().assess(ask, AGENT);

        assertThat(a.risk().rule()).isEqualTo("everything-else");
        assertThat(a.risk().level()).isEqualTo(RiskLevel.LOW);
    }

    @Test
    void the_has_macro_checks_whether_a_param_is_present() {
        AskRequest internal = ask("""
                {"action": {"type": "email.send", "summary": "Mail", "params": {"to": "team@example.com"}}}""");
        AskRequest noRecipient = ask("""
                {"action": {"type": "email.send", "summary": "Mail", "params": {"subject": "hi"}}}""");
        AskRequest external = ask("""
                {"action": {"type": "email.send", "summary": "Mail", "params": {"to": "someone@elsewhere.org"}}}""");

        assertThat(POLICY.assess(internal, AGENT).risk().rule()).isEqualTo("internal-email");
        assertThat(POLICY.assess(noRecipient, AGENT).risk().rule()).as("has() is false, no error").isNull();
        assertThat(POLICY.assess(noRecipient, AGENT).risk().explanation()).contains("no rule matched").doesNotContain("fail closed");
        assertThat(POLICY.assess(external, AGENT).risk().rule()).isNull();
    }

    // ------------------------------------------------------------------ fail closed

    @ParameterizedTest(name = "params {0}")
    @ValueSource(strings = {"{}", "{\"amount\": \"50000\"}", "{\"amount\": null}", "{\"amount\": {\"value\": 50000}}", "{\"amount\": [50000]}"})
    void a_condition_that_errors_on_the_request_makes_it_high_for_the_admins_and_never_falls_through(String params) {
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": %s}}""".formatted(params));

        Assessment a = policyWithLowFallback().assess(ask, AGENT);

        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("large-payment");
        assertThat(a.risk().explanation()).contains("large-payment").contains("fail closed");
        assertThat(a.plan().approvers()).containsExactly(DAVE);
        assertThat(a.plan().quorum()).isEqualTo(1);
        assertThat(a.plan().vetoWindow()).isNull();
    }

    @Test
    void a_condition_that_errors_fails_closed_even_when_the_agent_hints_low() {
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"amount": "50000"}},
                 "risk": {"level": "low", "explanation": "it is only a test"}}""");

        Assessment a = policyWithLowFallback().assess(ask, AGENT);

        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("large-payment");
        assertThat(a.plan().approvers()).containsExactly(DAVE);
    }

    @Test
    void a_condition_that_returns_something_other_than_a_bool_at_run_time_fails_closed() {
        RuleSpec flagged = new RuleSpec("flagged", "params.flagged", RiskLevel.LOW, List.of(), 1, List.of(),
                null, null, null, null, "line 3");
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"flagged": "yes"}}}""");

        Assessment a = new RiskPolicy(List.of(flagged, EVERYTHING_ELSE_LOW), DIRECTORY).assess(ask, AGENT);

        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("flagged");
        assertThat(a.risk().explanation()).contains("flagged").contains("fail closed");
        assertThat(a.plan().approvers()).containsExactly(DAVE);
    }

    @ParameterizedTest(name = "amount {0}")
    @ValueSource(strings = {"99999999999999999999", "-99999999999999999999"})
    void an_integer_too_large_for_a_long_never_lands_on_a_lower_rule(String amount) {
        // Built directly: whatever the parser makes of such a number, the policy must not let it through.
        AskRequest ask = new AskRequest(new Action("payments.transfer", "Pay", Map.of("amount", new BigInteger(amount))),
                null, null, AskContext.EMPTY, null, null, null, null);

        Assessment a = policyWithLowFallback().assess(ask, AGENT);

        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("large-payment");
    }

    @Test
    void an_infinite_amount_is_above_the_limit() {
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"amount": 1e400}}}""");

        Assessment a = policyWithLowFallback().assess(ask, AGENT);

        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("large-payment");
    }

    @Test
    void the_admins_decide_in_the_order_the_configuration_lists_them() {
        // Several nodes render the same approval: the approvers must not come out in a different order on each.
        List<String> admins = List.of("frank", "erin", "dave", "carol", "bob", "alice");
        Directory directory = new Directory(
                admins.stream().map(id -> new Member(id, id.toUpperCase(), null, null, null)).toList(), Map.of(), admins);
        AskRequest ask = ask("""
                {"action": {"type": "infra.reboot", "summary": "Reboot"}}""");

        Assessment a = new RiskPolicy(List.of(), directory).assess(ask, AGENT);

        assertThat(a.plan().approvers()).extracting(Person::id).containsExactlyElementsOf(admins);
    }

    @Test
    void when_no_rule_matches_it_is_high_for_the_admins_with_no_rule() {
        AskRequest ask = ask("""
                {"action": {"type": "infra.delete_cluster", "summary": "Delete prod"}}""");

        Assessment matchedNothing = POLICY.assess(ask, AGENT);
        Assessment noRules = new RiskPolicy(List.of(), DIRECTORY).assess(ask, AGENT);

        for (Assessment a : List.of(matchedNothing, noRules)) {
            assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
            assertThat(a.risk().rule()).isNull();
            assertThat(a.risk().explanation()).contains("no rule matched").contains("infra.delete_cluster");
            assertThat(a.plan().approvers()).containsExactly(DAVE);
            assertThat(a.plan().steps()).isEmpty();
            assertThat(a.expiresAfter()).isEqualTo(RiskPolicy.DEFAULT_EXPIRY);
        }
    }

    // ------------------------------------------------------------------ the agent's hint

    @Test
    void the_agents_hint_raises_a_low_rule_to_high() {
        AskRequest ask = ask("""
                {"action": {"type": "db.read_rows", "summary": "Read the salaries table"},
                 "risk": {"level": "high", "explanation": "salaries are sensitive"}}""");

        Assessment a = POLICY.assess(ask, AGENT);

        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("reads");
        assertThat(a.risk().explanation()).contains("raised to high").contains("salaries are sensitive");
        assertThat(a.plan().approvers()).as("the low rule names nobody, so the admins decide").containsExactly(DAVE);
    }

    @ParameterizedTest(name = "hint {0}")
    @ValueSource(strings = {"low", "medium"})
    void the_agents_hint_never_lowers_a_high_rule(String hint) {
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"amount": 50000}},
                 "risk": {"level": "%s", "explanation": "trust me"}}""".formatted(hint));

        Assessment a = POLICY.assess(ask, AGENT);

        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("large-payment");
        assertThat(a.risk().explanation()).contains("cannot lower");
        assertThat(a.plan().approvers()).containsExactly(ALICE, BOB);
        assertThat(a.plan().quorum()).isEqualTo(2);
    }

    @Test
    void a_medium_rule_with_a_veto_window_keeps_the_window() {
        AskRequest ask = ask("""
                {"action": {"type": "email.send", "summary": "Mail", "params": {"to": "team@example.com"}}}""");
        AskRequest hintedLow = ask("""
                {"action": {"type": "email.send", "summary": "Mail", "params": {"to": "team@example.com"}},
                 "risk": {"level": "low"}}""");

        for (Assessment a : List.of(POLICY.assess(ask, AGENT), POLICY.assess(hintedLow, AGENT))) {
            assertThat(a.risk().level()).isEqualTo(RiskLevel.MEDIUM);
            assertThat(a.plan().vetoWindow()).isEqualTo(Duration.ofMinutes(2));
            assertThat(a.plan().approvers()).containsExactly(ALICE);
        }
    }

    @Test
    void a_medium_rule_raised_to_high_by_the_hint_drops_the_veto_window() {
        AskRequest ask = ask("""
                {"action": {"type": "email.send", "summary": "Mail", "params": {"to": "all@example.com"}},
                 "risk": {"level": "high"}}""");

        Assessment a = POLICY.assess(ask, AGENT);

        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("internal-email");
        assertThat(a.plan().vetoWindow()).isNull();
        assertThat(a.plan().approvers()).containsExactly(ALICE);
    }

    // ------------------------------------------------------------------ expiry

    @Test
    void the_agents_timeout_caps_the_rules_expiry_but_never_extends_it() {
        String pay = """
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"amount": 50000}}%s}""";

        assertThat(POLICY.assess(ask(pay.formatted(", \"timeout\": \"PT10M\"")), AGENT).expiresAfter()).isEqualTo(Duration.ofMinutes(10));
        assertThat(POLICY.assess(ask(pay.formatted(", \"timeout\": \"PT3H\"")), AGENT).expiresAfter()).isEqualTo(Duration.ofHours(1));
        assertThat(POLICY.assess(ask(pay.formatted("")), AGENT).expiresAfter()).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void without_a_rule_expiry_the_default_applies_and_the_timeout_still_only_caps_it() {
        String read = """
                {"action": {"type": "db.read_rows", "summary": "Read"}%s}""";

        assertThat(POLICY.assess(ask(read.formatted("")), AGENT).expiresAfter()).isEqualTo(RiskPolicy.DEFAULT_EXPIRY);
        assertThat(POLICY.assess(ask(read.formatted(", \"timeout\": \"PT48H\"")), AGENT).expiresAfter()).isEqualTo(RiskPolicy.DEFAULT_EXPIRY);
        assertThat(POLICY.assess(ask(read.formatted(", \"timeout\": \"PT30M\"")), AGENT).expiresAfter()).isEqualTo(Duration.ofMinutes(30));
        String unmatched = """
                {"action": {"type": "infra.reboot", "summary": "Reboot"}, "timeout": "PT5M"}""";
        assertThat(POLICY.assess(ask(unmatched), AGENT).expiresAfter()).isEqualTo(Duration.ofMinutes(5));
    }

    // ------------------------------------------------------------------ approvers and plan

    @Test
    void group_approvers_resolve_in_order_without_repeats() {
        RuleSpec rule = new RuleSpec("mixed", "true", RiskLevel.HIGH,
                List.of("bob", "group:finance", "carol", "group:ops", "alice"), 2,
                List.of(new StepSpec(Duration.ofMinutes(10), List.of("group:cfo", "carol", "group:finance")),
                        new StepSpec(Duration.ofMinutes(20), List.of("group:ops"))),
                Duration.ofHours(2), null, "C0FINANCE", "19:finance@thread.tacv2", "line 40");
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay"}}""");

        Assessment a = new RiskPolicy(List.of(rule), DIRECTORY).assess(ask, AGENT);

        assertThat(a.plan().approvers()).containsExactly(BOB, ALICE, CAROL, DAVE);
        assertThat(a.plan().steps()).extracting(Plan.Step::after).containsExactly(Duration.ofMinutes(10), Duration.ofMinutes(20));
        assertThat(a.plan().steps().get(0).people()).containsExactly(CAROL, ALICE, BOB);
        assertThat(a.plan().steps().get(1).people()).containsExactly(DAVE, ALICE);
        assertThat(a.plan().quorum()).isEqualTo(2);
        assertThat(a.plan().channelTargets()).isEqualTo(Map.of("slack", "C0FINANCE", "teams", "19:finance@thread.tacv2"));
        assertThat(a.expiresAfter()).isEqualTo(Duration.ofHours(2));
    }

    @Test
    void the_large_payment_rule_gives_its_approvers_quorum_and_escalation() {
        AskRequest ask = ask("""
                {"action": {"type": "payments.transfer", "summary": "Pay", "params": {"amount": 50000}}}""");

        Assessment a = POLICY.assess(ask, AGENT);

        assertThat(a.risk().explanation()).contains("large-payment").contains("params.amount > 10000");
        assertThat(a.plan().approvers()).containsExactly(ALICE, BOB);
        assertThat(a.plan().quorum()).isEqualTo(2);
        assertThat(a.plan().steps()).containsExactly(new Plan.Step(Duration.ofMinutes(15), List.of(CAROL)));
        assertThat(a.plan().vetoWindow()).isNull();
    }

    // ------------------------------------------------------------------ bad rules

    @ParameterizedTest(name = "when: {0}")
    @ValueSource(strings = {"params.amount >", "unknown_var == 1", "action.type.startsWith(", "params.amount > 10000 &&& true"})
    void a_rule_whose_condition_does_not_compile_is_refused_naming_the_rule_and_where(String when) {
        RuleSpec broken = new RuleSpec("broken-rule", when, RiskLevel.HIGH, List.of("alice"), 1, List.of(),
                null, null, null, null, "config/countersign.yaml line 31 (rules[4].when)");

        assertThatThrownBy(() -> new RiskPolicy(List.of(READS, broken), DIRECTORY))
                .isInstanceOf(PolicyException.class)
                .hasMessageContaining("broken-rule")
                .hasMessageContaining("config/countersign.yaml line 31 (rules[4].when)")
                .satisfies(e -> assertThat(((PolicyException) e).code()).isEqualTo("invalid_policy"));
    }

    @ParameterizedTest(name = "when: {0}")
    @ValueSource(strings = {"params.amount + 1", "\"yes\"", "42", "action.type + \"x\"", "[true]"})
    void a_rule_whose_condition_is_not_a_boolean_is_refused(String when) {
        RuleSpec notBool = new RuleSpec("not-a-bool", when, RiskLevel.LOW, List.of(), 1, List.of(),
                null, null, null, null, "config/countersign.yaml line 44 (rules[5].when)");

        assertThatThrownBy(() -> new RiskPolicy(List.of(notBool), DIRECTORY))
                .isInstanceOf(PolicyException.class)
                .hasMessageContaining("not-a-bool")
                .hasMessageContaining("config/countersign.yaml line 44 (rules[5].when)");
    }

    // ------------------------------------------------------------------ helpers

    private static RiskPolicy policyWithLowFallback() {
        return new RiskPolicy(List.of(LARGE_PAYMENT, INTERNAL_EMAIL, READS, EVERYTHING_ELSE_LOW), DIRECTORY);
    }

    private static AskRequest ask(String json) {
        try {
            return AskRequest.parse(JSON.readTree(json), AGENT.id());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new AssertionError("bad test JSON: " + json, e);
        }
    }
}
