package dev.countersign.teams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.countersign.core.approval.Action;
import dev.countersign.core.approval.AgentRef;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.Risk;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Secrets;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every card the channel can produce — each status, each notice, escalated, with a quorum, with the largest
 * input an agent can send, the pending list — is a valid Adaptive Card 1.5 by Microsoft's published JSON schema,
 * stays under Teams' size limit, and shows the agent's text literally.
 */
class TeamsCardSchemaTest {
    private static JsonSchema schema;
    private static final Instant T0 = Instant.parse("2026-03-02T09:00:00Z");
    private static final Person ALICE = new Person("alice", "Alice Ng");
    private static final Person BOB = new Person("bob", "Bob Li");
    private static final Person CAROL = new Person("carol", "Carol Diaz");
    private static final Directory DIRECTORY = new Directory(List.of(
            new Directory.Member("alice", "Alice Ng", null, null, "aaaaaaaa-0000-4000-8000-00000000a11c"),
            new Directory.Member("bob", "Bob Li", null, null, null),
            new Directory.Member("carol", "Carol Diaz", null, null, null)), Map.of(), List.of("carol"));

    @BeforeAll
    static void loadSchema() throws Exception {
        try (InputStream in = TeamsCardSchemaTest.class.getResourceAsStream("/adaptive-card-1.5.schema.json")) {
            ObjectNode tree = (ObjectNode) Activity.MAPPER.readTree(in);
            // The file declares draft-06 but names itself with draft-04's "id" (draft-06 spells it "$id"); the validator
            // refuses the old spelling, and the name plays no part in validation.
            tree.remove("id");
            schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V6).getSchema(tree);
        }
    }

    private static void assertValid(ObjectNode card) {
        Set<ValidationMessage> problems = schema.validate(card);
        assertThat(problems).as("schema problems of %s", card).isEmpty();
        assertThat(card.path("version").asText()).isEqualTo("1.5");
        assertThat(ApprovalCard.size(card)).isLessThan(28 * 1024);
    }

    static Approval approval(Status status, Map<String, Object> params, AskContext context, int level, List<Vote> votes, Decision decision, int quorum) {
        Plan plan = new Plan(List.of(ALICE, BOB), List.of(new Plan.Step(Duration.ofMinutes(15), List.of(CAROL))), quorum, null, Map.of());
        return new Approval("apr_0123456789abcdef", new AgentRef("billing-bot", "run-42"), "bob",
                new Action("payments.transfer", "Pay invoice INV-2291 to Acme Corp: 12,500.00 EUR", params), context,
                new Risk(RiskLevel.HIGH, "amount over 10000", "large-payment"), plan, null, T0, T0.plus(Duration.ofHours(1)),
                status, level, decision, votes);
    }

    static Approval pending() {
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("amount", 12500);
        params.put("currency", "EUR");
        params.put("api_key", "sk_live_secret");
        params.put("beneficiary", Map.of("iban", "DE89370400440532013000", "password", "hunter2"));
        params.put("tags", List.of("urgent", "q1"));
        return approval(Status.PENDING, params, new AskContext("invoice due Friday", "money leaves the account",
                List.of(new AskContext.Link("Invoice", "https://erp.example.com/inv/2291"), new AskContext.Link("bad", "javascript:alert(1)"))),
                0, List.of(), null, 1);
    }

    static List<ObjectNode> everyCard() {
        List<ObjectNode> cards = new ArrayList<>();
        Approval pending = pending();
        List<String> refresh = List.of("29:user-a", "29:user-b");
        cards.add(ApprovalCard.approval(pending, DIRECTORY, null, true, refresh));
        cards.add(ApprovalCard.approval(pending, DIRECTORY, null, false, List.of()));
        for (ApprovalCard.Notice.Style style : ApprovalCard.Notice.Style.values()) {
            cards.add(ApprovalCard.approval(pending, DIRECTORY, new ApprovalCard.Notice("a notice", style), true, refresh));
        }
        cards.add(ApprovalCard.approval(approval(Status.PENDING, Map.of(), AskContext.EMPTY, 1,
                List.of(new Vote("alice", "Alice Ng", DecidedVia.TEAMS, "ok", T0)), null, 2), DIRECTORY, TeamsChannel.why(pending), true, refresh));
        for (Status outcome : List.of(Status.APPROVED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED)) {
            DecidedVia via = switch (outcome) {
                case EXPIRED -> DecidedVia.TIMER;
                case CANCELLED -> DecidedVia.AGENT;
                default -> DecidedVia.TEAMS;
            };
            Decision d = new Decision(outcome, new Decision.Decider("alice", "Alice Ng", via), outcome == Status.APPROVED ? "looks right" : null, T0.plusSeconds(60));
            cards.add(ApprovalCard.approval(approval(outcome, Map.of("amount", 1), AskContext.EMPTY, 0, List.of(), d, 1), DIRECTORY,
                    new ApprovalCard.Notice("Too late", ApprovalCard.Notice.Style.WARNING), true, refresh));
        }
        cards.add(ApprovalCard.approval(huge(), DIRECTORY, null, true, refresh));
        cards.add(ApprovalCard.pendingList(List.of(), DIRECTORY, "Alice Ng"));
        cards.add(ApprovalCard.pendingList(List.of(pending), DIRECTORY, "Alice Ng"));
        cards.add(ApprovalCard.pendingList(List.of(pending, huge(), huge(), pending, huge()), DIRECTORY, "Alice Ng"));
        cards.add(ApprovalCard.message("Write pending to see what waits for you.", null));
        cards.add(ApprovalCard.message("Not linked", ApprovalCard.Notice.Style.ATTENTION));
        return cards;
    }

    /** The most an agent can send: long texts, many long params, many links. */
    static Approval huge() {
        Map<String, Object> params = new LinkedHashMap<>();
        for (int i = 0; i < 200; i++) params.put("param_" + i + "_" + "k".repeat(150), "v".repeat(3000));
        List<AskContext.Link> links = new ArrayList<>();
        for (int i = 0; i < 50; i++) links.add(new AskContext.Link("t".repeat(500), "https://example.com/" + "p".repeat(1000)));
        Approval base = approval(Status.PENDING, params, new AskContext("r".repeat(10_000), "i".repeat(10_000), links), 0, List.of(), null, 1);
        return new Approval(base.id(), base.agent(), base.requestedFor(), new Action("x".repeat(200), "s".repeat(5000), params), base.context(),
                base.risk(), base.plan(), null, base.createdAt(), base.expiresAt(), base.status(), 0, null, List.of());
    }

    @Test
    void every_card_the_channel_produces_is_a_valid_adaptive_card_1_5_under_28_kb() {
        List<ObjectNode> cards = everyCard();
        assertThat(cards).hasSizeGreaterThan(15);
        cards.forEach(TeamsCardSchemaTest::assertValid);
    }

    @Test
    void the_schema_check_catches_a_broken_card() {
        ObjectNode broken = ApprovalCard.approval(pending(), DIRECTORY, null, true, List.of());
        ((ObjectNode) broken.get("actions").get(0)).put("style", "shouting");
        assertThat(schema.validate(broken)).isNotEmpty();
        ObjectNode unknown = ApprovalCard.message("x", null);
        unknown.put("bodyy", "typo");
        assertThat(schema.validate(unknown)).isNotEmpty();
    }

    @Test
    void the_approve_and_reject_buttons_are_universal_actions_with_a_submit_fallback_and_a_comment_box() {
        ObjectNode card = ApprovalCard.approval(pending(), DIRECTORY, null, true, List.of("29:user-a"));
        JsonNode approve = card.path("actions").path(0);
        assertThat(approve.path("type").asText()).isEqualTo("Action.Execute");
        assertThat(approve.path("verb").asText()).isEqualTo("approve");
        assertThat(approve.path("data").path("approval").asText()).isEqualTo("apr_0123456789abcdef");
        assertThat(approve.path("fallback").path("type").asText()).isEqualTo("Action.Submit");
        assertThat(approve.path("fallback").path("data").path("verb").asText()).isEqualTo("approve");
        assertThat(card.path("actions").path(1).path("verb").asText()).isEqualTo("reject");
        JsonNode comment = card.path("body").findParents("id").stream().filter(n -> n.path("id").asText().equals("comment")).findFirst().orElseThrow();
        assertThat(comment.path("type").asText()).isEqualTo("Input.Text");
        assertThat(comment.path("isMultiline").asBoolean()).isTrue();
        assertThat(card.path("refresh").path("action").path("verb").asText()).isEqualTo("refresh");
        assertThat(card.path("refresh").path("userIds").toString()).isEqualTo("[\"29:user-a\"]");
    }

    @Test
    void the_card_shows_everything_people_need_and_masks_secrets() {
        String card = ApprovalCard.approval(pending(), DIRECTORY, null, true, List.of()).toString();
        assertThat(card).contains("HIGH RISK", "Pay invoice INV-2291", "billing-bot", "run-42", "for Bob Li", "amount over 10000",
                "12500", "EUR", "invoice due Friday", "money leaves the account", "https://erp.example.com/inv/2291",
                "May decide: Alice Ng, Bob Li", "escalates at 2026-03-02 09:15 UTC", Secrets.MASK);
        assertThat(card).doesNotContain("sk_live_secret", "hunter2", "javascript:");
    }

    @Test
    void agent_text_is_shown_literally_never_as_markdown() {
        Approval a = approval(Status.PENDING, Map.of("note", "**bold** [click](https://evil.example)"),
                new AskContext("# heading\n- item {{DATE(2017-02-14T06:08:39Z, SHORT)}}", null, List.of()), 0, List.of(), null, 1);
        ObjectNode card = ApprovalCard.approval(a, DIRECTORY, null, true, List.of());
        assertValid(card);
        // every piece of agent text sits in a TextRun (never parsed as markdown), none in a TextBlock
        for (JsonNode textBlock : card.findParents("type")) {
            if (textBlock.path("type").asText().equals("TextBlock")) {
                assertThat(textBlock.path("text").asText()).doesNotContain("**bold**", "# heading", "{{DATE");
            }
        }
        List<String> runs = card.findParents("type").stream().filter(n -> n.path("type").asText().equals("TextRun")).map(n -> n.path("text").asText()).toList();
        assertThat(runs).contains("**bold** [click](https://evil.example)", "# heading\n- item {{DATE(2017-02-14T06:08:39Z, SHORT)}}");
    }

    @Test
    void a_decided_card_has_no_buttons_and_says_who_decided_with_the_comment() {
        Decision d = new Decision(Status.APPROVED, new Decision.Decider("alice", "Alice Ng", DecidedVia.TEAMS), "checked", T0.plusSeconds(90));
        ObjectNode card = ApprovalCard.approval(approval(Status.APPROVED, Map.of(), AskContext.EMPTY, 0, List.of(), d, 1), DIRECTORY, null, true, List.of("29:x"));
        assertThat(card.has("actions")).isFalse();
        assertThat(card.has("refresh")).isFalse();
        assertThat(card.toString()).contains("Approved by Alice Ng (teams) at 2026-03-02 09:01 UTC", "checked").doesNotContain("\"comment\"");
    }

    @Test
    void the_largest_approval_still_fits_with_its_buttons() {
        ObjectNode card = ApprovalCard.approval(huge(), DIRECTORY, null, true, List.of());
        assertThat(ApprovalCard.size(card)).isLessThanOrEqualTo(ApprovalCard.MAX_BYTES);
        assertThat(card.path("actions").findValuesAsText("verb")).contains("approve", "reject");
        assertThat(card.toString()).contains("more parameters");
    }
}
