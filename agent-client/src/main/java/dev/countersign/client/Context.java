package dev.countersign.client;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything about an ask besides the action: why, the impact, for whom, the agent's run, links, a risk hint,
 * how long the agent will wait and where to send the webhook. All optional; {@link #none()} has nothing.
 */
public final class Context {
    private static final Context NONE = new Builder().build();

    /** A link shown with the request. */
    public record Link(String title, String url) {}

    private final String reason;
    private final String impact;
    private final String onBehalfOf;
    private final String runId;
    private final List<Link> links;
    private final RiskLevel riskHint;
    private final String riskExplanation;
    private final Duration timeout;
    private final String callbackUrl;

    private Context(Builder b) {
        this.reason = b.reason;
        this.impact = b.impact;
        this.onBehalfOf = b.onBehalfOf;
        this.runId = b.runId;
        this.links = List.copyOf(b.links);
        this.riskHint = b.riskHint;
        this.riskExplanation = b.riskExplanation;
        this.timeout = b.timeout;
        this.callbackUrl = b.callbackUrl;
    }

    public static Context none() {
        return NONE;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this context's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.reason = reason;
        b.impact = impact;
        b.onBehalfOf = onBehalfOf;
        b.runId = runId;
        b.links.addAll(links);
        b.riskHint = riskHint;
        b.riskExplanation = riskExplanation;
        b.timeout = timeout;
        b.callbackUrl = callbackUrl;
        return b;
    }

    public String reason() { return reason; }
    public String impact() { return impact; }
    public String onBehalfOf() { return onBehalfOf; }
    public String runId() { return runId; }
    public List<Link> links() { return links; }
    public RiskLevel riskHint() { return riskHint; }
    public String riskExplanation() { return riskExplanation; }
    public Duration timeout() { return timeout; }
    public String callbackUrl() { return callbackUrl; }

    public static final class Builder {
        private String reason;
        private String impact;
        private String onBehalfOf;
        private String runId;
        private final List<Link> links = new ArrayList<>();
        private RiskLevel riskHint;
        private String riskExplanation;
        private Duration timeout;
        private String callbackUrl;

        private Builder() {}

        /** Why the agent wants to do it ({@code context.reason}). */
        public Builder reason(String reason) { this.reason = reason; return this; }

        /** What happens if it does ({@code context.impact}). */
        public Builder impact(String impact) { this.impact = impact; return this; }

        /** The person the agent acts for ({@code requested_for}); that person can never approve it. */
        public Builder onBehalfOf(String personId) { this.onBehalfOf = personId; return this; }

        /** The agent's run ({@code agent.run_id}), shown to people and kept in the audit log. */
        public Builder runId(String runId) { this.runId = runId; return this; }

        /** A link shown with the request; {@code url} must be absolute http(s). */
        public Builder link(String label, String url) {
            if (label == null || label.isBlank()) throw new IllegalArgumentException("context.links[].title is required");
            URI u;
            try {
                u = URI.create(url);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("context.links[].url is not a URL: " + url);
            }
            if (!u.isAbsolute() || !("http".equals(u.getScheme()) || "https".equals(u.getScheme()))) {
                throw new IllegalArgumentException("context.links[].url must be an absolute http(s) URL, got " + url);
            }
            links.add(new Link(label, url));
            return this;
        }

        /** A risk hint: the policy may raise the level to it, never lower it. */
        public Builder riskHint(RiskLevel level) { return riskHint(level, null); }

        /** A risk hint with the agent's reason for it. */
        public Builder riskHint(RiskLevel level, String explanation) {
            this.riskHint = level;
            this.riskExplanation = explanation;
            return this;
        }

        /** How long the agent will wait; the server expires the request then (capped by the rule's expiry). */
        public Builder timeout(Duration timeout) {
            if (timeout != null && (timeout.isNegative() || timeout.isZero())) throw new IllegalArgumentException("timeout must be positive, got " + timeout);
            this.timeout = timeout;
            return this;
        }

        /** Where the server POSTs the decided approval (signed, see {@link WebhookVerifier}). */
        public Builder callbackUrl(String url) { this.callbackUrl = url; return this; }

        public Context build() { return new Context(this); }
    }
}
