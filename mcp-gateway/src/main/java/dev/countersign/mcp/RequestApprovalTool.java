package dev.countersign.mcp;

import dev.countersign.client.Action;
import dev.countersign.client.ApprovalHandle;
import dev.countersign.client.Context;
import dev.countersign.client.Outcome;
import dev.countersign.client.RiskLevel;
import io.modelcontextprotocol.json.McpJsonMapper;
import io.modelcontextprotocol.spec.McpSchema.CallToolResult;
import io.modelcontextprotocol.spec.McpSchema.Tool;

import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** The gateway's own tool, for agents that ask explicitly before they act: ask, wait, answer with the decision. */
final class RequestApprovalTool {
    private static final String SCHEMA = """
            {"type": "object",
             "properties": {
               "type": {"type": "string", "description": "What kind of action, a dotted name the policy matches, e.g. payments.transfer"},
               "summary": {"type": "string", "description": "One line a person reads: what exactly will be done"},
               "params": {"type": "object", "description": "The action's details (amounts, targets, ...), shown to people and matched by rules"},
               "reason": {"type": "string", "description": "Why the action is needed"},
               "impact": {"type": "string", "description": "What happens if it goes wrong"},
               "risk": {"type": "string", "enum": ["low", "medium", "high"], "description": "Your own view of the risk (the policy may raise it, never lower it)"},
               "wait_seconds": {"type": "integer", "minimum": 1, "description": "How long to wait for a decision (default: the gateway's approval timeout)"}
             },
             "required": ["type", "summary"]}
            """;

    private RequestApprovalTool() {
    }

    static Tool tool(String name, McpJsonMapper json) {
        return Tool.builder(name, json, SCHEMA)
                .title("Ask a person for approval")
                .description("Ask a person (through Countersign: Slack, Teams or the web) to approve an action before you take it,"
                        + " and wait for the decision. Answers APPROVED, REJECTED (with who and why), EXPIRED or CANCELLED."
                        + " Proceed only on APPROVED; otherwise adapt your plan to the comment.")
                .build();
    }

    record Ask(Action action, Context context, Duration maxWait) {
    }

    static Ask parse(Map<String, Object> args, GatewayConfig config, String client, String session) {
        if (args == null) throw new IllegalArgumentException("type and summary are required");
        String type = text(args, "type", true);
        String summary = text(args, "summary", true);
        Object p = args.get("params");
        if (p != null && !(p instanceof Map)) throw new IllegalArgumentException("params must be an object");
        @SuppressWarnings("unchecked")
        Map<String, Object> params = ToolCalls.masked(p == null ? Map.of() : (Map<String, Object>) p, config.secretNames());
        Duration wait = config.approvalTimeout();
        Object w = args.get("wait_seconds");
        if (w != null) {
            if (!(w instanceof Number n) || n.longValue() < 1) throw new IllegalArgumentException("wait_seconds must be a positive integer");
            wait = Duration.ofSeconds(n.longValue());
        }
        Context.Builder ctx = Context.builder()
                .reason(text(args, "reason", false) != null ? text(args, "reason", false) : "asked explicitly by " + client + " through the MCP gateway")
                .runId(session)
                .timeout(wait);
        String impact = text(args, "impact", false);
        if (impact != null) ctx.impact(impact);
        String risk = text(args, "risk", false);
        if (risk != null) {
            try {
                ctx.riskHint(RiskLevel.valueOf(risk.toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("risk must be low, medium or high");
            }
        }
        return new Ask(Action.of(type, summary, params), ctx.build(), wait);
    }

    private static String text(Map<String, Object> args, String name, boolean required) {
        Object v = args.get(name);
        if (v == null || (v instanceof String s && s.isBlank())) {
            if (required) throw new IllegalArgumentException(name + " is required");
            return null;
        }
        if (!(v instanceof String s)) throw new IllegalArgumentException(name + " must be a string");
        return s;
    }

    /** The decision as text: a first line the model acts on, then the approval's essentials as JSON. */
    static CallToolResult result(Outcome o, ApprovalHandle handle, McpJsonMapper json) {
        String by = o.decidedBy();
        String comment = o.comment();
        String line = switch (o.status()) {
            case APPROVED -> "APPROVED" + (by != null ? " by " + by : "") + (comment != null ? ": " + comment : "") + ". You may proceed.";
            case REJECTED -> "REJECTED" + (by != null ? " by " + by : "") + (comment != null ? ": " + comment : "") + ". Do not proceed; adapt your plan.";
            case EXPIRED -> "EXPIRED: nobody decided in time. Do not proceed.";
            case CANCELLED -> "CANCELLED" + (comment != null ? ": " + comment : "") + ". Do not proceed.";
            case PENDING -> "PENDING: no decision yet. Do not proceed.";
        };
        Map<String, Object> essentials = new LinkedHashMap<>();
        essentials.put("id", handle.id());
        essentials.put("status", o.status().name().toLowerCase(Locale.ROOT));
        essentials.put("decided_by", by);
        essentials.put("comment", comment);
        essentials.put("url", handle.url());
        String detail;
        try {
            detail = json.writeValueAsString(essentials);
        } catch (IOException e) {
            detail = essentials.toString();
        }
        return CallToolResult.builder().addTextContent(line).addTextContent(detail).isError(false).build();
    }
}
