package dev.countersign.core.approval;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.store.Json;

import java.time.Instant;

/** The public representation of an approval (DESIGN.md, "The approval representation"): the API's answers and webhook bodies. */
public final class ApprovalJson {
    private ApprovalJson() {}

    public static ObjectNode of(Approval a) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("id", a.id());
        n.put("status", a.status().wire());
        ObjectNode action = n.putObject("action");
        action.put("type", a.action().type());
        action.put("summary", a.action().summary());
        action.set("params", Json.MAPPER.valueToTree(a.action().params()));
        ObjectNode agent = n.putObject("agent");
        agent.put("id", a.agent().id());
        agent.put("run_id", a.agent().runId());
        n.put("requested_for", a.requestedFor());
        ObjectNode context = n.putObject("context");
        context.put("reason", a.context().reason());
        context.put("impact", a.context().impact());
        ArrayNode links = context.putArray("links");
        a.context().links().forEach(l -> links.addObject().put("title", l.title()).put("url", l.url()));
        ObjectNode risk = n.putObject("risk");
        risk.put("level", a.risk().level().wire());
        risk.put("explanation", a.risk().explanation());
        risk.put("rule", a.risk().rule());
        ArrayNode approvers = n.putArray("approvers");
        a.approvers().forEach(p -> approvers.addObject().put("id", p.id()).put("name", p.name()));
        n.put("quorum", a.plan().quorum());
        ArrayNode votes = n.putArray("approvals");
        a.votes().forEach(v -> votes.addObject().put("id", v.personId()).put("name", v.personName())
                .put("channel", v.channel().wire()).put("comment", v.comment()).put("at", iso(v.at())));
        ObjectNode escalation = n.putObject("escalation");
        Escalation e = a.escalation();
        escalation.put("level", e.level());
        escalation.put("next_at", iso(e.nextAt()));
        if (a.plan().vetoWindow() != null) {
            n.put("veto_window_ends_at", iso(a.createdAt().plus(a.plan().vetoWindow())));
        }
        n.put("created_at", iso(a.createdAt()));
        n.put("expires_at", iso(a.expiresAt()));
        if (a.decision() == null) {
            n.putNull("decision");
        } else {
            Decision d = a.decision();
            ObjectNode dn = n.putObject("decision");
            dn.put("outcome", d.outcome().wire());
            dn.putObject("by").put("id", d.by().id()).put("name", d.by().name()).put("channel", d.by().channel().wire());
            dn.put("comment", d.comment());
            dn.put("at", iso(d.at()));
        }
        return n;
    }

    private static String iso(Instant i) {
        return i == null ? null : i.toString();
    }
}
