package dev.countersign.core.ask;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.Action;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.RiskLevel;

import java.net.URI;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * An agent's ask, validated. {@link #parse} checks every field of the public contract and names the
 * first one that is wrong, so an agent author can fix the call from the error alone.
 *
 * @param riskHint    the agent's own level, which the policy may raise but never lower; null if absent
 * @param timeout     how long the agent is willing to wait; capped by the rule's expiry; null if absent
 */
public record AskRequest(
        Action action,
        String runId,
        String requestedFor,
        AskContext context,
        RiskLevel riskHint,
        String riskHintExplanation,
        String callbackUrl,
        Duration timeout) {

    static final int MAX_TYPE = 200;
    static final int MAX_SUMMARY = 3000;
    static final int MAX_TEXT = 10_000;
    static final int MAX_ID = 200;
    static final int MAX_LINKS = 20;
    private static final Pattern DOTTED = Pattern.compile("[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*");

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_LONG_FOR_INTS);

    /** @param authenticatedAgentId the agent the key belongs to; a differing {@code agent.id} is refused */
    public static AskRequest parse(JsonNode body, String authenticatedAgentId) {
        if (body == null || !body.isObject()) throw new InvalidInputException("", "the body must be a JSON object");

        JsonNode action = body.get("action");
        if (action == null || action.isNull()) throw new InvalidInputException("action", "action is required");
        if (!action.isObject()) throw new InvalidInputException("action", "action must be an object");
        String type = requiredText(action, "type", "action.type", MAX_TYPE);
        if (!DOTTED.matcher(type).matches()) {
            throw new InvalidInputException("action.type", "action.type must be a dotted name such as payments.transfer");
        }
        String summary = requiredText(action, "summary", "action.summary", MAX_SUMMARY);
        Map<String, Object> params = Map.of();
        JsonNode p = action.get("params");
        if (p != null && !p.isNull()) {
            if (!p.isObject()) throw new InvalidInputException("action.params", "action.params must be an object");
            params = toMap(p);
        }

        String runId = null;
        JsonNode agent = body.get("agent");
        if (agent != null && !agent.isNull()) {
            if (!agent.isObject()) throw new InvalidInputException("agent", "agent must be an object");
            String claimed = optionalText(agent, "id", "agent.id", MAX_ID);
            if (claimed != null && !claimed.equals(authenticatedAgentId)) {
                throw new InvalidInputException("agent.id", "agent.id '" + claimed + "' does not match the agent of the key ('" + authenticatedAgentId + "')");
            }
            runId = optionalText(agent, "run_id", "agent.run_id", MAX_ID);
        }

        String requestedFor = optionalText(body, "requested_for", "requested_for", MAX_ID);

        AskContext context = AskContext.EMPTY;
        JsonNode c = body.get("context");
        if (c != null && !c.isNull()) {
            if (!c.isObject()) throw new InvalidInputException("context", "context must be an object");
            String reason = optionalText(c, "reason", "context.reason", MAX_TEXT);
            String impact = optionalText(c, "impact", "context.impact", MAX_TEXT);
            List<AskContext.Link> links = new ArrayList<>();
            JsonNode l = c.get("links");
            if (l != null && !l.isNull()) {
                if (!l.isArray()) throw new InvalidInputException("context.links", "context.links must be an array");
                if (l.size() > MAX_LINKS) throw new InvalidInputException("context.links", "context.links may hold at most " + MAX_LINKS + " links");
                for (int i = 0; i < l.size(); i++) {
                    JsonNode link = l.get(i);
                    String at = "context.links[" + i + "]";
                    if (!link.isObject()) throw new InvalidInputException(at, at + " must be an object with title and url");
                    String title = optionalText(link, "title", at + ".title", 500);
                    String url = requiredText(link, "url", at + ".url", 2000);
                    requireHttpUrl(url, at + ".url");
                    links.add(new AskContext.Link(title == null ? url : title, url));
                }
            }
            context = new AskContext(reason, impact, links);
        }

        RiskLevel hint = null;
        String hintExplanation = null;
        JsonNode r = body.get("risk");
        if (r != null && !r.isNull()) {
            if (!r.isObject()) throw new InvalidInputException("risk", "risk must be an object");
            String level = requiredText(r, "level", "risk.level", 20);
            hint = RiskLevel.parse(level).orElseThrow(() ->
                    new InvalidInputException("risk.level", "risk.level must be one of low, medium, high (got '" + level + "')"));
            hintExplanation = optionalText(r, "explanation", "risk.explanation", MAX_TEXT);
        }

        String callbackUrl = optionalText(body, "callback_url", "callback_url", 2000);
        if (callbackUrl != null) requireHttpUrl(callbackUrl, "callback_url");

        Duration timeout = null;
        String t = optionalText(body, "timeout", "timeout", 64);
        if (t != null) {
            try {
                timeout = Duration.parse(t);
            } catch (DateTimeParseException e) {
                throw new InvalidInputException("timeout", "timeout must be an ISO-8601 duration such as PT30M (got '" + t + "')");
            }
            if (timeout.isNegative() || timeout.isZero()) throw new InvalidInputException("timeout", "timeout must be positive");
        }

        return new AskRequest(new Action(type, summary, params), runId, requestedFor, context, hint, hintExplanation, callbackUrl, timeout);
    }

    private static String requiredText(JsonNode parent, String name, String field, int max) {
        String value = optionalText(parent, name, field, max);
        if (value == null) throw new InvalidInputException(field, field + " is required");
        if (value.isBlank()) throw new InvalidInputException(field, field + " must not be blank");
        return value;
    }

    private static String optionalText(JsonNode parent, String name, String field, int max) {
        JsonNode n = parent.get(name);
        if (n == null || n.isNull()) return null;
        if (!n.isTextual()) throw new InvalidInputException(field, field + " must be a string");
        String value = n.textValue();
        if (value.length() > max) throw new InvalidInputException(field, field + " is longer than " + max + " characters");
        return value;
    }

    private static void requireHttpUrl(String url, String field) {
        try {
            URI uri = new URI(url);
            String scheme = uri.getScheme();
            if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https")) || uri.getHost() == null) {
                throw new InvalidInputException(field, field + " must be an absolute http or https URL");
            }
        } catch (java.net.URISyntaxException e) {
            throw new InvalidInputException(field, field + " is not a valid URL");
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> toMap(JsonNode node) {
        try {
            return MAPPER.convertValue(node, Map.class);
        } catch (IllegalArgumentException e) {
            // Integers beyond a 64-bit long: refused rather than stored as something rules cannot compare.
            throw new InvalidInputException("action.params", "action.params holds a number outside the 64-bit integer range");
        }
    }
}
