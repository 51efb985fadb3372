package dev.countersign.teams;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Secrets;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The Adaptive Cards (version 1.5) this channel shows: one approval — the same content as the Slack message — with
 * a comment box and {@code Action.Execute} Approve / Reject (each with an {@code Action.Submit} fallback for
 * clients without Universal Actions), the "pending" list, and a one-line message.
 *
 * <p>Everything the agent wrote (summary, params, reason, impact, link titles) and people's comments go into
 * {@code TextRun}s, which Adaptive Cards never read as markdown, so it is shown literally. Long values are cut and,
 * if still needed, params dropped so that a card stays under {@link #MAX_BYTES} (Teams refuses cards over 28 KB).
 */
public final class ApprovalCard {
    public static final String VERSION = "1.5";
    public static final String VERB_APPROVE = "approve";
    public static final String VERB_REJECT = "reject";
    public static final String VERB_REFRESH = "refresh";
    /** Teams' limit is 28 KB for the whole message; the card keeps a margin for the activity around it. */
    public static final int MAX_BYTES = 26 * 1024;
    /** Teams refreshes a card automatically for at most 60 users. */
    public static final int MAX_REFRESH_USERS = 60;
    public static final int COMMENT_MAX = 1000;
    /** The id of the comment box on the card of one approval. */
    public static final String COMMENT_INPUT = "comment";
    private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC);

    private ApprovalCard() {}

    /** A line above the card: to the person who clicked, or why a DM reached them. */
    public record Notice(String text, Style style) {
        public enum Style { GOOD, WARNING, ATTENTION, ACCENT }
    }

    /**
     * The card of one approval as it now stands.
     *
     * @param notice      null for none
     * @param withActions the comment box and the buttons (only while pending)
     * @param refreshUserIds the Teams user ids ({@code 29:…}) whose clients fetch the current card when they show it
     */
    public static ObjectNode approval(Approval a, Directory directory, Notice notice, boolean withActions, List<String> refreshUserIds) {
        ObjectNode card = null;
        for (Limits limits : Limits.SHRINKING) {
            card = render(a, directory, notice, withActions, refreshUserIds, limits);
            if (size(card) <= MAX_BYTES) return card;
        }
        return card;
    }

    /**
     * The id of an approval's comment box on the "pending" list: input ids must be unique on a card, and a click
     * sends every box of the card, so each approval's box is named after it.
     */
    public static String commentInputId(String approvalId) {
        return COMMENT_INPUT + "." + approvalId;
    }

    /** The approvals a person may decide, each with its own comment box ({@link #commentInputId}) and buttons. */
    public static ObjectNode pendingList(List<Approval> approvals, Directory directory, String personName) {
        for (Limits limits : Limits.SHRINKING) {
            ObjectNode card = card();
            ArrayNode body = card.putArray("body");
            body.add(textBlock(approvals.isEmpty() ? "Nothing waits for you, " + personName + "."
                    : approvals.size() == 1 ? "1 approval waits for you, " + personName + ":"
                    : approvals.size() + " approvals wait for you, " + personName + " (most urgent first):", "Large", true, null));
            for (Approval a : approvals) {
                ObjectNode container = body.addObject().put("type", "Container").put("separator", true).put("spacing", "Large");
                ArrayNode items = container.putArray("items");
                summaryItems(items, a, directory, limits);
                items.add(commentInput(commentInputId(a.id())));
                ObjectNode set = items.addObject().put("type", "ActionSet");
                buttons(set.putArray("actions"), a.id());
            }
            if (size(card) <= MAX_BYTES || limits == Limits.SHRINKING.get(Limits.SHRINKING.size() - 1)) return card;
        }
        throw new IllegalStateException("unreachable");
    }

    /** A card with one line of our own text. */
    public static ObjectNode message(String text, Notice.Style style) {
        ObjectNode card = card();
        card.putArray("body").add(textBlock(text, "Default", false, style == null ? null : color(style)));
        return card;
    }

    // ---------------------------------------------------------------------------------------------------------

    /** How much of the agent's text a card shows; smaller steps are tried until the card fits. */
    private record Limits(int text, int longText, int params, int paramValue) {
        static final List<Limits> SHRINKING = List.of(new Limits(500, 2000, 30, 500), new Limits(300, 1000, 15, 200),
                new Limits(200, 500, 8, 100), new Limits(120, 200, 3, 60));
    }

    private static ObjectNode render(Approval a, Directory directory, Notice notice, boolean withActions, List<String> refreshUserIds, Limits limits) {
        ObjectNode card = card();
        boolean actions = withActions && a.isPending();
        if (a.isPending() && refreshUserIds != null && !refreshUserIds.isEmpty()) {
            ObjectNode refresh = card.putObject("refresh");
            refresh.set("action", execute("Refresh", VERB_REFRESH, a.id(), null));
            ArrayNode ids = refresh.putArray("userIds");
            refreshUserIds.stream().distinct().limit(MAX_REFRESH_USERS).forEach(ids::add);
        }
        ArrayNode body = card.putArray("body");
        if (notice != null) {
            ObjectNode box = body.addObject().put("type", "Container").put("style", switch (notice.style()) {
                case GOOD -> "good";
                case WARNING -> "warning";
                case ATTENTION -> "attention";
                case ACCENT -> "accent";
            });
            box.putArray("items").add(richText(List.of(run(notice.text(), limits.longText()).put("weight", "Bolder"))));
        }
        summaryItems(body, a, directory, limits);
        AskContext ctx = a.context();
        if (ctx.reason() != null) body.add(labelled("Why: ", ctx.reason(), limits.longText()));
        if (ctx.impact() != null) body.add(labelled("Impact: ", ctx.impact(), limits.longText()));
        body.add(status(a, directory, limits));
        List<AskContext.Link> links = ctx.links().stream().filter(l -> isWebUrl(l.url())).limit(5).toList();
        if (!links.isEmpty()) {
            ObjectNode set = body.addObject().put("type", "ActionSet");
            ArrayNode la = set.putArray("actions");
            for (AskContext.Link l : links) {
                la.addObject().put("type", "Action.OpenUrl").put("title", cut(l.title() == null || l.title().isBlank() ? l.url() : l.title(), 80))
                        .put("url", l.url());
            }
        }
        if (actions) {
            body.add(commentInput(COMMENT_INPUT));
            buttons(card.putArray("actions"), a.id());
        }
        card.put("fallbackText", cut(headline(a) + ": " + a.action().summary(), 300));
        return card;
    }

    /** The headline, the summary, who asks for whom, the risk, the params. */
    private static void summaryItems(ArrayNode items, Approval a, Directory directory, Limits limits) {
        items.add(textBlock(headline(a), "Small", true, riskColor(a)));
        items.add(richText(List.of(run(a.action().summary(), limits.text()).put("size", "Large").put("weight", "Bolder"))));
        StringBuilder who = new StringBuilder("Asked by agent ").append(a.agent().id());
        if (a.agent().runId() != null) who.append(" (run ").append(a.agent().runId()).append(')');
        if (a.requestedFor() != null) {
            who.append(" for ").append(directory.member(a.requestedFor()).map(m -> m.person().name()).orElse(a.requestedFor()));
        }
        who.append(" · ").append(a.action().type()).append(" · ").append(a.id());
        items.add(richText(List.of(run(who.toString(), limits.longText()).put("isSubtle", true))));
        if (a.risk() != null && (a.risk().explanation() != null || a.risk().rule() != null)) {
            String why = a.risk().explanation() != null ? a.risk().explanation() : "rule " + a.risk().rule();
            items.add(labelled("Risk: ", why, limits.longText()));
        }
        Map<String, Object> params = Secrets.masked(a.action().params());
        int shown = 0;
        for (Map.Entry<String, Object> p : params.entrySet()) {
            if (shown++ == limits.params()) {
                items.add(richText(List.of(run("… and " + (params.size() - limits.params()) + " more parameters", 100).put("isSubtle", true))));
                break;
            }
            items.add(labelled(cut(p.getKey(), 100) + ": ", valueText(p.getValue()), limits.paramValue()));
        }
    }

    private static String headline(Approval a) {
        String risk = a.risk() == null || a.risk().level() == null ? "" : a.risk().level().name() + " RISK · ";
        return risk + switch (a.status()) {
            case PENDING -> "waiting for approval";
            case APPROVED -> "approved";
            case REJECTED -> "rejected";
            case EXPIRED -> "expired";
            case CANCELLED -> "cancelled";
        };
    }

    /** Where it stands: who may decide, the quorum, the escalation and the deadline; or who decided, how and when. */
    private static ObjectNode status(Approval a, Directory directory, Limits limits) {
        if (!a.isPending()) {
            Decision d = a.decision();
            if (d == null) return richText(List.of(run(headline(a), 100)));
            String verb = switch (d.outcome()) {
                case APPROVED -> "Approved";
                case REJECTED -> "Rejected";
                case EXPIRED -> "Expired";
                case CANCELLED -> "Cancelled";
                case PENDING -> "Pending";
            };
            String by = d.by().channel().isPerson() ? " by " + d.by().name() + " (" + d.by().channel().wire() + ")"
                    : " by the " + d.by().channel().wire();
            ArrayNode inlines = Activity.MAPPER.createArrayNode();
            inlines.add(run((d.outcome() == Status.APPROVED ? "✅ " : "⛔ ") + verb + by + " at " + WHEN.format(d.at()), 300)
                    .put("weight", "Bolder").put("color", d.outcome() == Status.APPROVED ? "Good" : "Attention"));
            if (d.comment() != null) inlines.add(run(" — “" + cut(d.comment(), limits.longText()) + "”", limits.longText() + 10));
            ObjectNode rt = Activity.MAPPER.createObjectNode().put("type", "RichTextBlock");
            rt.set("inlines", inlines);
            return rt;
        }
        StringBuilder s = new StringBuilder("May decide: ");
        s.append(a.approvers().isEmpty() ? "the admins" : a.approvers().stream().map(Person::name).collect(Collectors.joining(", ")));
        int quorum = a.plan().quorum();
        if (quorum > 1) {
            s.append(" · ").append(a.votes().size()).append(" of ").append(quorum).append(" approvals");
            if (!a.votes().isEmpty()) s.append(" (").append(a.votes().stream().map(Vote::personName).collect(Collectors.joining(", "))).append(')');
        }
        if (a.escalationLevel() > 0) s.append(" · escalated (step ").append(a.escalationLevel()).append(')');
        var next = a.nextDeadline();
        if (next != null) {
            s.append(" · ").append(switch (next.kind()) {
                case ESCALATE -> "escalates at ";
                case VETO_END -> "approved unless rejected by ";
                case EXPIRE -> "expires (rejected) at ";
            }).append(WHEN.format(next.at()));
        }
        return richText(List.of(run(s.toString(), 2000)));
    }

    private static ObjectNode commentInput(String id) {
        return Activity.MAPPER.createObjectNode().put("type", "Input.Text").put("id", id).put("isMultiline", true)
                .put("maxLength", COMMENT_MAX).put("label", "Comment (optional)").put("placeholder", "Why you approve or reject");
    }

    private static void buttons(ArrayNode actions, String approvalId) {
        actions.add(execute("Approve", VERB_APPROVE, approvalId, "positive"));
        actions.add(execute("Reject", VERB_REJECT, approvalId, "destructive"));
    }

    /** Action.Execute with an Action.Submit fallback carrying the same verb in its data (older clients send a message). */
    private static ObjectNode execute(String title, String verb, String approvalId, String style) {
        ObjectNode e = Activity.MAPPER.createObjectNode().put("type", "Action.Execute").put("title", title).put("verb", verb);
        e.putObject("data").put("approval", approvalId);
        if (style != null) e.put("style", style);
        ObjectNode submit = Activity.MAPPER.createObjectNode().put("type", "Action.Submit").put("title", title);
        submit.putObject("data").put("approval", approvalId).put("verb", verb);
        if (style != null) submit.put("style", style);
        e.set("fallback", submit);
        return e;
    }

    private static ObjectNode card() {
        ObjectNode card = Activity.MAPPER.createObjectNode();
        card.put("type", "AdaptiveCard").put("$schema", "http://adaptivecards.io/schemas/adaptive-card.json").put("version", VERSION);
        return card;
    }

    /** Our own text only: TextBlocks read markdown. */
    private static ObjectNode textBlock(String text, String size, boolean bold, String color) {
        ObjectNode t = Activity.MAPPER.createObjectNode().put("type", "TextBlock").put("text", text).put("wrap", true);
        if (!"Default".equals(size)) t.put("size", size);
        if (bold) t.put("weight", "Bolder");
        if (color != null) t.put("color", color);
        return t;
    }

    private static ObjectNode labelled(String label, String value, int max) {
        return richText(List.of(run(label, 120).put("weight", "Bolder"), run(value, max)));
    }

    private static ObjectNode richText(List<ObjectNode> runs) {
        ObjectNode rt = Activity.MAPPER.createObjectNode().put("type", "RichTextBlock");
        ArrayNode inlines = rt.putArray("inlines");
        runs.forEach(inlines::add);
        return rt;
    }

    /** Text shown as it is: a TextRun is never read as markdown. */
    private static ObjectNode run(String text, int max) {
        return Activity.MAPPER.createObjectNode().put("type", "TextRun").put("text", cut(text == null ? "" : text, max));
    }

    private static String valueText(Object v) {
        if (v == null) return "null";
        if (v instanceof String s) return s;
        try {
            return Activity.MAPPER.writeValueAsString(v);
        } catch (JsonProcessingException e) {
            return String.valueOf(v);
        }
    }

    private static String riskColor(Approval a) {
        if (a.risk() == null || a.risk().level() == null) return null;
        return a.risk().level() == RiskLevel.HIGH ? "Attention" : a.risk().level() == RiskLevel.MEDIUM ? "Warning" : "Good";
    }

    private static String color(Notice.Style style) {
        return switch (style) {
            case GOOD -> "Good";
            case WARNING -> "Warning";
            case ATTENTION -> "Attention";
            case ACCENT -> "Accent";
        };
    }

    static String cut(String s, int max) {
        if (s.length() <= max) return s;
        int end = max - 1;
        if (Character.isHighSurrogate(s.charAt(end - 1))) end--;
        return s.substring(0, end) + "…";
    }

    private static boolean isWebUrl(String url) {
        return url != null && (url.startsWith("https://") || url.startsWith("http://")) && url.length() <= 2000 && url.indexOf(' ') < 0;
    }

    /** The card's size as sent (UTF-8 JSON). */
    public static int size(ObjectNode card) {
        return card.toString().getBytes(StandardCharsets.UTF_8).length;
    }

    static String when(Instant at) {
        return WHEN.format(at);
    }
}
