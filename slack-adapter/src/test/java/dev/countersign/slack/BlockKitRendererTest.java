package dev.countersign.slack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.countersign.core.approval.Action;
import dev.countersign.core.approval.AgentRef;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.Risk;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Status;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The renderer against extreme agent input: every Block Kit limit kept, agent text shown literally. */
class BlockKitRendererTest {
    private final BlockKitRenderer render = new BlockKitRenderer("https://countersign.example.com");
    private static final Instant NOW = Instant.parse("2026-03-01T10:00:00Z");

    private static Approval approval(String summary, Map<String, Object> params, AskContext context, Status status, Decision decision) {
        Plan plan = new Plan(List.of(new Person("alice", "Alice *Ng*"), new Person("bob", "Bob <!here>")),
                List.of(new Plan.Step(Duration.ofMinutes(15), List.of(new Person("carol", "Carol Diaz")))), 2, null, Map.of("slack", "C0FIN"));
        return new Approval("01HXAPPROVALID000000000000", new AgentRef("billing-bot <!channel>", "run *42*"), "dave_the_requester",
                new Action("payments.transfer`", summary, params), context, new Risk(RiskLevel.HIGH, "amount > 10000 & *urgent*", "large-payment"),
                plan, null, NOW, NOW.plus(Duration.ofHours(1)), status, 0, decision, List.of());
    }

    private static Approval extreme() {
        String summary = "Pay <!channel> *bold* _it_ ~strike~ `code` & <https://evil.example|click me> 💸 ".repeat(40).substring(0, 3000);
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("amount", 12500);
        params.put("password", "hunter2");
        params.put("nested", Map.of("api_key", "sk_live_abc", "note", "```break out``` <!everyone>"));
        params.put("blob", "x".repeat(50_000));
        for (int i = 0; i < 200; i++) params.put("p" + i, "value " + i + " ünïcødé 🚀 " + "y".repeat(100));
        List<AskContext.Link> links = new ArrayList<>();
        links.add(new AskContext.Link("the invoice", "https://example.com/inv/2291"));
        links.add(new AskContext.Link("spoof", "https://example.com/x|<!channel>"));
        links.add(new AskContext.Link("js", "javascript:alert(1)"));
        for (int i = 0; i < 20; i++) links.add(new AskContext.Link("l" + i, "https://example.com/" + i));
        AskContext context = new AskContext("Because *the CFO* said so <@U123> " + "r".repeat(5000), "<!subteam^S123> impact " + "i".repeat(5000), links);
        return approval(summary, params, context, Status.PENDING, null);
    }

    @Test
    void extreme_input_stays_within_every_block_kit_limit() {
        for (BlockKitRenderer.Message m : List.of(render.approval(extreme(), "⏫ Escalated to you: no answer from <#C0FIN> in 15 min."),
                render.approval(decided(extreme()), null), render.pendingList(List.of(extreme(), extreme(), extreme(), extreme(),
                        extreme(), extreme(), extreme(), extreme(), extreme(), extreme(), extreme(), extreme()), true, "erin"))) {
            BlockKitLimits.check(m.blocks());
            assertThat(m.text().length()).isLessThanOrEqualTo(3000);
            assertThat(BlockKitLimits.totalText(m.blocks())).isLessThanOrEqualTo(BlockKitRenderer.MESSAGE_BUDGET);
        }
        BlockKitLimits.checkModal(render.commentModal(extreme(), "{\"id\":\"01HXAPPROVALID000000000000\"}"));
    }

    private static Approval decided(Approval a) {
        return a.with(Status.REJECTED, new Decision(Status.REJECTED, new Decision.Decider("bob", "Bob <!here>", DecidedVia.SLACK),
                "No *way* <!channel> " + "c".repeat(9000), NOW));
    }

    @Test
    void agent_text_is_shown_literally_never_as_mentions_links_or_formatting() {
        String all = render.approval(extreme(), null).blocksJson() + render.approval(decided(extreme()), null).blocksJson();
        assertThat(all).doesNotContain("<!channel>", "<!everyone>", "<!here>", "<!subteam", "<@U123>", "<https://evil.example|", "*bold*", "_it_", "~strike~", "`code`");
        assertThat(all).contains("&lt;!channel&gt;", "&amp;", "<!date^0^{_}|*>bold<!date^0^{_}|*>");
        // Only http(s) links without Slack syntax in them become links.
        assertThat(all).contains("<https://example.com/inv/2291|the invoice>").doesNotContain("<javascript:", "<https://example.com/x|");
        // Code blocks cannot be closed from inside.
        assertThat(all).doesNotContain("```break out```");
    }

    @Test
    void secrets_are_masked_and_long_values_are_cut_with_a_note() {
        String blocks = render.approval(extreme(), null).blocksJson();
        assertThat(blocks).doesNotContain("hunter2", "sk_live_abc").contains("••••••••");
        assertThat(blocks).contains("(cut: 50000 characters)");
        assertThat(blocks).contains("more parameters on the web page");
    }

    @Test
    void a_3000_character_summary_is_cut_with_a_note_and_unicode_survives_whole() {
        String summary = "🚀é".repeat(1500);
        JsonNode section = render.approval(approval(summary, Map.of(), null, Status.PENDING, null), null).blocks().get(1);
        String text = section.path("text").path("text").asText();
        assertThat(text.length()).isLessThanOrEqualTo(3000);
        assertThat(text).contains("(cut: 4500 characters in all");
        // No half of a surrogate pair left behind.
        assertThat(text.chars().filter(c -> Character.isHighSurrogate((char) c)).count()).isEqualTo(text.chars().filter(c -> Character.isLowSurrogate((char) c)).count());
    }

    @Test
    void pending_message_has_approve_reject_with_confirm_comment_and_a_link_and_decided_has_none() {
        Approval pending = approval("Pay Acme", Map.of("amount", 1), null, Status.PENDING, null);
        ArrayNode blocks = render.approval(pending, null).blocks();
        JsonNode actions = blocks.get(blocks.size() - 1).path("elements");
        assertThat(actions.get(0).path("action_id").asText()).isEqualTo("cs.approve");
        assertThat(actions.get(0).path("style").asText()).isEqualTo("primary");
        assertThat(actions.get(1).path("action_id").asText()).isEqualTo("cs.reject");
        assertThat(actions.get(1).path("style").asText()).isEqualTo("danger");
        assertThat(actions.get(1).path("confirm").path("title").path("text").asText()).isNotEmpty();
        assertThat(actions.get(2).path("action_id").asText()).isEqualTo("cs.comment");
        assertThat(actions.get(3).path("url").asText()).isEqualTo("https://countersign.example.com/web/approvals/01HXAPPROVALID000000000000");
        assertThat(blocks.toString()).contains("Escalates").contains("Carol Diaz").contains("Approvals: 0 of 2");

        String done = render.approval(decided(pending), null).blocksJson();
        assertThat(done).doesNotContain("cs.approve", "cs.reject", "cs.comment").contains("Rejected").contains("Bob &lt;!here&gt;");
    }

    @Test
    void link_labels_keep_formatting_characters_and_escape_only_entities_and_the_separator() {
        String link = BlockKitRenderer.link(new dev.countersign.core.approval.AskContext.Link("Run *prod* _db_ ~x~ `y` & <z> | w",
                "https://example.com/runbook"));
        // Inside <url|label> Slack applies no formatting: the date-token escapes of Mrkdwn.literal would nest links and break it.
        assertThat(link).isEqualTo("<https://example.com/runbook|Run *prod* _db_ ~x~ `y` &amp; &lt;z&gt; ¦ w>");
    }
}
