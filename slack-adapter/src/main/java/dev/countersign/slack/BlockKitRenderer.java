package dev.countersign.slack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Secrets;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;
import dev.countersign.core.store.Json;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Approvals as Block Kit JSON: the approval message (pending, decided, FYI), the {@code /pending} list and the
 * comment modal. Pure: the same approval gives the same blocks. Every Block Kit limit is kept here (50 blocks,
 * 3000 chars per section, 150 per header, 75 per button label, 2000 per button value, 255 per id, 24 per modal
 * title …) and the whole message stays under {@link #MESSAGE_BUDGET} characters, because Slack also refuses
 * messages whose blocks are long in total ({@code msg_blocks_too_long}). Agent text is always shown literally
 * ({@link Mrkdwn#literal}); secret params are masked ({@link Secrets#masked}).
 */
public final class BlockKitRenderer {
    public static final String APPROVE = "cs.approve";
    public static final String REJECT = "cs.reject";
    public static final String COMMENT = "cs.comment";
    public static final String OPEN = "cs.open";
    public static final String MODAL = "cs.decision";
    public static final String MODAL_VERDICT_BLOCK = "cs_verdict";
    public static final String MODAL_COMMENT_BLOCK = "cs_comment";
    public static final String MODAL_VERDICT = "verdict";
    public static final String MODAL_COMMENT = "comment";
    /** Longest comment the modal takes (Slack enforces it in the client; the listener checks again). */
    public static final int MAX_COMMENT = 3000;

    static final int MAX_BLOCKS = 50;
    static final int SECTION_TEXT = 3000;
    static final int HEADER_TEXT = 150;
    static final int BUTTON_TEXT = 75;
    static final int BUTTON_VALUE = 2000;
    static final int ID = 255;
    static final int CONTEXT_ELEMENTS = 10;
    /** Total text of one message's blocks: well under what chat.postMessage accepts (~12k observed). */
    public static final int MESSAGE_BUDGET = 10_000;
    /** Fallback text (notifications, screen readers). */
    static final int FALLBACK_TEXT = 300;
    private static final int SUMMARY = 2_000;
    private static final int PARAMS = 2_800;
    private static final int PARAM_VALUE = 300;
    private static final int MAX_PARAMS = 25;
    private static final int CONTEXT_TEXT = 1_000;
    private static final int MAX_LINKS = 5;
    static final int LIST_SIZE = 10;
    private static final DateTimeFormatter FALLBACK_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'", Locale.ROOT).withZone(ZoneOffset.UTC);

    private final String publicUrl;

    /** @param publicUrl where browsers reach Countersign (no trailing slash) */
    public BlockKitRenderer(String publicUrl) {
        this.publicUrl = publicUrl;
    }

    /** A message: the fallback {@code text} and the {@code blocks}. */
    public record Message(String text, ArrayNode blocks) {
        public String blocksJson() {
            return blocks.toString();
        }

        /** The body of a {@code response_url} POST or a slash-command answer. */
        public ObjectNode asResponse(String responseType, boolean replaceOriginal) {
            ObjectNode o = Json.MAPPER.createObjectNode();
            if (responseType != null) o.put("response_type", responseType);
            o.put("replace_original", replaceOriginal);
            o.put("text", text);
            o.set("blocks", blocks);
            return o;
        }
    }

    /** The web page of an approval. */
    public String webUrl(String approvalId) {
        return publicUrl + "/web/approvals/" + approvalId;
    }

    // ------------------------------------------------------------------ the approval message

    /**
     * The message for an approval as it now stands: buttons while pending, the outcome once decided.
     *
     * @param note our own mrkdwn shown above the buttons (why a DM reached this person), or null
     */
    public Message approval(Approval a, String note) {
        Blocks b = new Blocks();
        b.header(headline(a));
        b.section(Mrkdwn.fit(a.action().summary(), SUMMARY, s -> "*" + Mrkdwn.literal(s) + "*",
                " … _(cut: " + a.action().summary().length() + " characters in all, see the web page)_"));
        b.context(List.of(origin(a)));
        String params = params(a.action().params());
        if (params != null) b.section(params);
        String why = context(a.context());
        if (why != null) b.section(why);
        List<String> state = state(a);
        if (!state.isEmpty()) b.context(state);
        if (a.isPending()) {
            if (note != null) b.section(Mrkdwn.plainCut(note, SECTION_TEXT));
            b.actions("cs.act." + version(a), buttons(a, true));
        } else {
            b.section(outcome(a));
            b.actions("cs.web." + version(a), List.of(openButton(a)));
        }
        return new Message(fallback(a), b.fit());
    }

    /**
     * The smallest message for an approval: one text section (what, and the outcome: who, when), no buttons. Used
     * when Slack refuses the full message on update ({@code invalid_blocks}, {@code msg_too_long}, …), so that a
     * decided approval never keeps live buttons.
     */
    public Message minimal(Approval a) {
        Blocks b = new Blocks();
        String what = "*" + Mrkdwn.fit(a.action().summary(), 300, Mrkdwn::literal, "…") + "*";
        String state = a.isPending() ? "⏳ *Pending*: decide on the web page" : outcome(a, false);
        b.section(what + "\n" + state + "\n<" + webUrl(a.id()) + "|Open in browser>");
        return new Message(fallback(a), b.fit());
    }

    private String headline(Approval a) {
        String risk = riskWord(a.risk().level());
        String state = switch (a.status()) {
            case PENDING -> "approval needed";
            case APPROVED -> a.decision() != null && a.decision().by().channel() == dev.countersign.core.approval.DecidedVia.POLICY
                    ? "approved by policy (for your information)" : "approved";
            case REJECTED -> "rejected";
            case EXPIRED -> "expired (rejected)";
            case CANCELLED -> "cancelled by the agent";
        };
        return Mrkdwn.plainCut(icon(a) + " " + risk + " risk: " + state, HEADER_TEXT);
    }

    private static String icon(Approval a) {
        return switch (a.status()) {
            case PENDING -> a.risk().level() == RiskLevel.HIGH ? "🔴" : a.risk().level() == RiskLevel.MEDIUM ? "🟠" : "🟢";
            case APPROVED -> "✅";
            case REJECTED -> "❌";
            case EXPIRED -> "⌛";
            case CANCELLED -> "🚫";
        };
    }

    private static String riskWord(RiskLevel level) {
        if (level == null) return "Unknown";
        String w = level.name().toLowerCase(Locale.ROOT);
        return Character.toUpperCase(w.charAt(0)) + w.substring(1);
    }

    private static String origin(Approval a) {
        StringBuilder s = new StringBuilder();
        s.append("`").append(Mrkdwn.code(Mrkdwn.plainCut(a.action().type(), 200))).append("`");
        s.append(" · asked by *").append(Mrkdwn.literal(Mrkdwn.plainCut(a.agent() == null ? "?" : a.agent().id(), 200))).append("*");
        if (a.agent() != null && a.agent().runId() != null) s.append(" (run ").append(Mrkdwn.literal(Mrkdwn.plainCut(a.agent().runId(), 100))).append(")");
        if (a.requestedFor() != null) s.append(" · for ").append(Mrkdwn.literal(Mrkdwn.plainCut(a.requestedFor(), 200)));
        return s.toString();
    }

    /** The params as a code block, secrets masked, long values and long lists cut with a note. */
    private static String params(Map<String, Object> raw) {
        if (raw == null || raw.isEmpty()) return null;
        Map<String, Object> masked = Secrets.masked(raw);
        List<String> lines = new ArrayList<>();
        int shown = 0;
        for (Map.Entry<String, Object> e : masked.entrySet()) {
            if (shown == MAX_PARAMS) break;
            String value = valueText(e.getValue());
            String cut = value.length() > PARAM_VALUE ? Mrkdwn.safePrefix(value, PARAM_VALUE) + " … (cut: " + value.length() + " characters)" : value;
            lines.add(Mrkdwn.plainCut(e.getKey(), 80) + ": " + cut);
            shown++;
        }
        String head = "*Parameters*\n```";
        String more = masked.size() > shown ? "\n_… and " + (masked.size() - shown) + " more parameters on the web page_" : "";
        StringBuilder body = new StringBuilder();
        int room = PARAMS - head.length() - 3 - more.length() - 80;
        int used = 0;
        for (String line : lines) {
            String rendered = Mrkdwn.code(line) + "\n";
            if (body.length() + rendered.length() > room) {
                body.append("… (").append(lines.size() - used).append(" more lines cut)\n");
                break;
            }
            body.append(rendered);
            used++;
        }
        return head + body + "```" + more;
    }

    private static String valueText(Object v) {
        if (v == null) return "null";
        if (v instanceof String s) return s.replace("\r", "").replace("\n", "⏎");
        try {
            return Json.MAPPER.writeValueAsString(v);
        } catch (Exception e) {
            return String.valueOf(v);
        }
    }

    private static String context(AskContext c) {
        if (c == null) return null;
        List<String> parts = new ArrayList<>();
        if (c.reason() != null && !c.reason().isBlank()) {
            parts.add("*Reason:* " + Mrkdwn.fit(c.reason(), CONTEXT_TEXT, Mrkdwn::literal, " … _(cut)_"));
        }
        if (c.impact() != null && !c.impact().isBlank()) {
            parts.add("*Impact:* " + Mrkdwn.fit(c.impact(), CONTEXT_TEXT, Mrkdwn::literal, " … _(cut)_"));
        }
        if (!c.links().isEmpty()) {
            String links = c.links().stream().limit(MAX_LINKS).map(BlockKitRenderer::link).collect(Collectors.joining(" · "));
            if (c.links().size() > MAX_LINKS) links += " · _" + (c.links().size() - MAX_LINKS) + " more on the web page_";
            parts.add("*Links:* " + links);
        }
        if (parts.isEmpty()) return null;
        String joined = String.join("\n", parts);
        return joined.length() <= SECTION_TEXT ? joined : Mrkdwn.safePrefix(joined, SECTION_TEXT - 1) + "…";
    }

    /** A link the agent gave: clickable only when it is a plain http(s) URL that cannot break out of Slack's link syntax. */
    static String link(AskContext.Link l) {
        String title = Mrkdwn.plainCut(l.title() == null || l.title().isBlank() ? l.url() : l.title(), 100);
        String url = l.url();
        if (url != null && url.length() <= 500 && safeUrl(url)) {
            // Inside <url|label> Slack does not apply * _ ~ ` formatting, so only the entities (and the separator) are escaped.
            return "<" + url + "|" + linkLabel(title) + ">";
        }
        return Mrkdwn.literal(title) + " (" + Mrkdwn.literal(Mrkdwn.plainCut(url, 200)) + ")";
    }

    /** A link label: {@code & < >} as entities, {@code |} (which would end the URL part) as a look-alike. */
    static String linkLabel(String title) {
        return title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "¦");
    }

    private static boolean safeUrl(String url) {
        if (url.chars().anyMatch(ch -> ch == '|' || ch == '<' || ch == '>' || ch <= ' ' || ch == '&')) return false;
        try {
            URI u = URI.create(url);
            return ("https".equalsIgnoreCase(u.getScheme()) || "http".equalsIgnoreCase(u.getScheme())) && u.getHost() != null;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Deadline, escalation state, quorum progress and the policy's explanation. */
    private List<String> state(Approval a) {
        List<String> out = new ArrayList<>();
        if (a.isPending()) {
            Plan.Deadline next = a.nextDeadline();
            if (next != null) {
                String when = date(next.at());
                out.add(switch (next.kind()) {
                    case ESCALATE -> "⏫ Escalates " + when + " to " + names(a.plan().steps().get(a.escalationLevel()).people())
                            + " · expires " + date(a.expiresAt());
                    case VETO_END -> "⏳ Approved automatically " + when + " unless someone rejects it";
                    case EXPIRE -> "⌛ Expires " + when + " (then rejected)";
                });
            }
            if (a.escalationLevel() > 0) out.add("Escalated " + a.escalationLevel() + (a.escalationLevel() == 1 ? " step" : " steps"));
            out.add("May decide: " + names(a.approvers()));
            if (a.plan().quorum() > 1) {
                out.add("Approvals: " + a.votes().size() + " of " + a.plan().quorum()
                        + (a.votes().isEmpty() ? "" : " (" + a.votes().stream().map(Vote::personName).map(n -> Mrkdwn.literal(Mrkdwn.plainCut(n, 60))).collect(Collectors.joining(", ")) + ")"));
            }
        }
        if (a.risk() != null && a.risk().explanation() != null) {
            out.add(Mrkdwn.fit((a.risk().rule() == null ? "" : "Rule " + a.risk().rule() + ": ") + a.risk().explanation(), 500, Mrkdwn::literal, "…"));
        }
        return out.stream().limit(CONTEXT_ELEMENTS).map(s -> Mrkdwn.plainCut(s, 2000)).toList();
    }

    private static String names(List<Person> people) {
        if (people.isEmpty()) return "the admins";
        String all = people.stream().limit(8).map(p -> Mrkdwn.literal(Mrkdwn.plainCut(p.name(), 60))).collect(Collectors.joining(", "));
        return people.size() > 8 ? all + " and " + (people.size() - 8) + " more" : all;
    }

    private String outcome(Approval a) {
        return outcome(a, true);
    }

    private String outcome(Approval a, boolean withComment) {
        Decision d = a.decision();
        if (d == null) return "*" + a.status().wire() + "*";
        String verb = switch (a.status()) {
            case APPROVED -> "✅ *Approved*";
            case REJECTED -> "❌ *Rejected*";
            case EXPIRED -> "⌛ *Expired* (rejected: nobody decided in time)";
            case CANCELLED -> "🚫 *Cancelled* by the agent";
            case PENDING -> "*Pending*";
        };
        StringBuilder s = new StringBuilder(verb);
        if (a.status() != Status.EXPIRED && a.status() != Status.CANCELLED) {
            s.append(" by ").append(Mrkdwn.literal(Mrkdwn.plainCut(d.by().name(), 100))).append(" (").append(d.by().channel().wire()).append(")");
        }
        s.append(" ").append(date(d.at()));
        if (withComment && d.comment() != null && !d.comment().isBlank()) {
            s.append("\n> ").append(Mrkdwn.fit(d.comment(), 2_000, c -> Mrkdwn.literal(c).replace("\n", "\n> "), " … _(cut)_"));
        }
        return s.length() <= SECTION_TEXT ? s.toString() : Mrkdwn.safePrefix(s.toString(), SECTION_TEXT - 1) + "…";
    }

    private static String date(Instant at) {
        if (at == null) return "";
        return "<!date^" + at.getEpochSecond() + "^{date_short_pretty} at {time}|" + FALLBACK_TIME.format(at) + ">";
    }

    private String fallback(Approval a) {
        String prefix = a.isPending() ? "Approval needed: " : a.status().wire().substring(0, 1).toUpperCase(Locale.ROOT) + a.status().wire().substring(1) + ": ";
        return prefix + Mrkdwn.fit(a.action().summary(), FALLBACK_TEXT, Mrkdwn::literal, "…");
    }

    /** A version for block ids: changes whenever what the message shows changes (Slack wants fresh ids on update). */
    private static String version(Approval a) {
        return a.status().wire() + "." + a.escalationLevel() + "." + a.votes().size();
    }

    private List<ObjectNode> buttons(Approval a, boolean withOpen) {
        List<ObjectNode> out = new ArrayList<>();
        ObjectNode approve = button(APPROVE, "Approve", a.id());
        approve.put("style", "primary");
        out.add(approve);
        ObjectNode reject = button(REJECT, "Reject", a.id());
        reject.put("style", "danger");
        ObjectNode confirm = reject.putObject("confirm");
        confirm.set("title", plain("Reject this request?"));
        confirm.set("text", plain("The agent will be told it may not go ahead. To say why, use “Add comment…” instead."));
        confirm.set("confirm", plain("Reject"));
        confirm.set("deny", plain("Back"));
        confirm.put("style", "danger");
        out.add(reject);
        out.add(button(COMMENT, "Add comment…", a.id()));
        if (withOpen) out.add(openButton(a));
        return out;
    }

    private ObjectNode openButton(Approval a) {
        ObjectNode open = button(OPEN, "Open in browser", a.id());
        open.put("url", webUrl(a.id()));
        return open;
    }

    private static ObjectNode button(String actionId, String label, String value) {
        ObjectNode b = Json.MAPPER.createObjectNode();
        b.put("type", "button");
        b.put("action_id", actionId);
        b.set("text", plain(Mrkdwn.plainCut(label, BUTTON_TEXT)));
        b.put("value", value.length() <= BUTTON_VALUE ? value : value.substring(0, BUTTON_VALUE));
        return b;
    }

    static ObjectNode plain(String text) {
        ObjectNode t = Json.MAPPER.createObjectNode();
        t.put("type", "plain_text");
        t.put("text", text);
        t.put("emoji", true);
        return t;
    }

    private static ObjectNode mrkdwn(String text) {
        ObjectNode t = Json.MAPPER.createObjectNode();
        t.put("type", "mrkdwn");
        t.put("text", text);
        return t;
    }

    // ------------------------------------------------------------------ /pending

    /** The answer to {@code /pending} (or {@code /pending all}): most urgent first, each with its buttons. */
    public Message pendingList(List<Approval> approvals, boolean all, String who) {
        Blocks b = new Blocks();
        if (approvals.isEmpty()) {
            String text = all ? "Nothing is pending that you may see." : "Nothing waits for your decision. 🎉";
            b.section(text + (all ? "" : " (`/pending all` lists every pending approval you may see.)"));
            return new Message(text, b.fit());
        }
        int shown = Math.min(approvals.size(), LIST_SIZE);
        String title = all ? "Pending approvals you may see" : "Waiting for your decision";
        b.header(Mrkdwn.plainCut(title + " (" + approvals.size() + (approvals.size() > LIST_SIZE ? "+" : "") + ")", HEADER_TEXT));
        for (int i = 0; i < shown; i++) {
            Approval a = approvals.get(i);
            Plan.Deadline next = a.nextDeadline();
            String line = icon(a) + " *" + Mrkdwn.fit(a.action().summary(), 600, Mrkdwn::literal, "…") + "*\n"
                    + "`" + Mrkdwn.code(Mrkdwn.plainCut(a.action().type(), 100)) + "` · " + riskWord(a.risk().level()) + " risk"
                    + (next == null ? "" : " · " + (next.kind() == Plan.Deadline.Kind.ESCALATE ? "escalates " : next.kind() == Plan.Deadline.Kind.VETO_END ? "auto-approves " : "expires ") + date(next.at()));
            b.section(line);
            b.actions("cs.list." + i + "." + version(a), buttons(a, true));
        }
        if (approvals.size() > shown) {
            b.context(List.of("… and more: <" + publicUrl + "/web|see them all on the web>"));
        }
        return new Message(title + ": " + approvals.size(), b.fit());
    }

    /** A short note for one person (ephemeral replies). */
    public Message note(String mrkdwnText) {
        Blocks b = new Blocks();
        b.section(mrkdwnText);
        return new Message(Mrkdwn.plainCut(mrkdwnText, FALLBACK_TEXT), b.fit());
    }

    // ------------------------------------------------------------------ the comment modal

    /** The "Add comment…" modal: the request in brief, Approve / Reject, a multi-line comment. */
    public ObjectNode commentModal(Approval a, String privateMetadata) {
        ObjectNode v = Json.MAPPER.createObjectNode();
        v.put("type", "modal");
        v.put("callback_id", MODAL);
        v.set("title", plain("Decide with a comment"));
        v.set("submit", plain("Submit"));
        v.set("close", plain("Cancel"));
        v.put("private_metadata", privateMetadata);
        ArrayNode blocks = v.putArray("blocks");
        ObjectNode summary = blocks.addObject();
        summary.put("type", "section");
        summary.set("text", mrkdwn(icon(a) + " " + riskWord(a.risk().level()) + " risk\n*"
                + Mrkdwn.fit(a.action().summary(), 2_500, Mrkdwn::literal, "…") + "*"));
        ObjectNode verdict = blocks.addObject();
        verdict.put("type", "input");
        verdict.put("block_id", MODAL_VERDICT_BLOCK);
        verdict.set("label", plain("Decision"));
        ObjectNode radios = verdict.putObject("element");
        radios.put("type", "radio_buttons");
        radios.put("action_id", MODAL_VERDICT);
        ArrayNode options = radios.putArray("options");
        options.add(option("Approve", "approve"));
        options.add(option("Reject", "reject"));
        ObjectNode comment = blocks.addObject();
        comment.put("type", "input");
        comment.put("block_id", MODAL_COMMENT_BLOCK);
        comment.put("optional", true);
        comment.set("label", plain("Comment (the agent sees it; required to reject)"));
        ObjectNode input = comment.putObject("element");
        input.put("type", "plain_text_input");
        input.put("action_id", MODAL_COMMENT);
        input.put("multiline", true);
        input.put("max_length", MAX_COMMENT);
        return v;
    }

    private static ObjectNode option(String label, String value) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.set("text", plain(label));
        o.put("value", value);
        return o;
    }

    // ------------------------------------------------------------------ assembly within the limits

    /** Collects blocks and keeps the message within the block count and the total budget. */
    private static final class Blocks {
        private final List<ObjectNode> list = new ArrayList<>();
        private int n;

        void header(String text) {
            ObjectNode h = block("header");
            h.set("text", plain(Mrkdwn.plainCut(text, HEADER_TEXT)));
        }

        void section(String mrkdwnText) {
            if (mrkdwnText == null || mrkdwnText.isEmpty()) return;
            ObjectNode s = block("section");
            s.set("text", mrkdwn(mrkdwnText.length() <= SECTION_TEXT ? mrkdwnText : Mrkdwn.safePrefix(mrkdwnText, SECTION_TEXT - 1) + "…"));
        }

        void context(List<String> items) {
            ObjectNode c = block("context");
            ArrayNode els = c.putArray("elements");
            items.stream().limit(CONTEXT_ELEMENTS).forEach(t -> els.add(mrkdwn(t)));
        }

        void actions(String blockId, List<ObjectNode> elements) {
            ObjectNode a = block("actions");
            a.put("block_id", Mrkdwn.plainCut(blockId, ID));
            ArrayNode els = a.putArray("elements");
            elements.forEach(els::add);
        }

        private ObjectNode block(String type) {
            ObjectNode b = Json.MAPPER.createObjectNode();
            b.put("type", type);
            if (!"actions".equals(type)) b.put("block_id", "cs." + type + "." + (n++));
            list.add(b);
            return b;
        }

        /**
         * The blocks, at most {@link #MAX_BLOCKS} and {@link #MESSAGE_BUDGET} characters of text: when over, the
         * longest non-action block is cut (then dropped) until it fits. Action blocks are kept last to go.
         */
        ArrayNode fit() {
            List<ObjectNode> blocks = new ArrayList<>(list);
            while (blocks.size() > MAX_BLOCKS) blocks.remove(MAX_BLOCKS - 2);   // keep the last block (the buttons / footer)
            while (textLength(blocks) > MESSAGE_BUDGET) {
                ObjectNode longest = null;
                int longestLen = -1;
                for (ObjectNode b : blocks) {
                    if ("actions".equals(b.path("type").asText()) || "header".equals(b.path("type").asText())) continue;
                    int len = textLength(List.of(b));
                    if (len > longestLen) {
                        longest = b;
                        longestLen = len;
                    }
                }
                if (longest == null) break;
                int over = textLength(blocks) - MESSAGE_BUDGET;
                if ("section".equals(longest.path("type").asText()) && longestLen - over > 200) {
                    String t = longest.path("text").path("text").asText();
                    ((ObjectNode) longest.get("text")).put("text", Mrkdwn.safePrefix(t, Math.max(0, t.length() - over - 40)) + " … _(cut)_");
                } else {
                    blocks.remove(longest);
                }
            }
            ArrayNode out = Json.MAPPER.createArrayNode();
            blocks.forEach(out::add);
            return out;
        }

        static int textLength(List<ObjectNode> blocks) {
            int total = 0;
            for (ObjectNode b : blocks) total += texts(b);
            return total;
        }

        private static int texts(JsonNode n) {
            int sum = 0;
            if (n.isObject()) {
                JsonNode t = n.get("text");
                if (t != null && t.isTextual()) sum += t.asText().length();
                for (JsonNode child : n) if (child.isContainerNode()) sum += texts(child);
            } else if (n.isArray()) {
                for (JsonNode child : n) sum += texts(child);
            }
            return sum;
        }
    }

    /** How long ago, for escalation DMs: "15 min", "2 h", "1 d 3 h". */
    public static String humanDuration(Duration d) {
        long minutes = Math.max(0, d.toMinutes());
        if (minutes < 1) return Math.max(1, d.toSeconds()) + " s";
        if (minutes < 60) return minutes + " min";
        long hours = minutes / 60, rest = minutes % 60;
        if (hours < 24) return hours + " h" + (rest == 0 ? "" : " " + rest + " min");
        return hours / 24 + " d" + (hours % 24 == 0 ? "" : " " + hours % 24 + " h");
    }
}
