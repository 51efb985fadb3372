package dev.countersign.slack;

import java.util.ArrayList;
import java.util.List;

/**
 * What the Slack channel runs with, read once at start by the server.
 *
 * @param botToken        {@code xoxb-…}: every Web API call
 * @param signingSecret   verifies requests to {@code POST /slack/events} (HTTP mode)
 * @param appToken        {@code xapp-…}: Socket Mode instead of the HTTP endpoint; null for HTTP mode
 * @param apiUrl          the Web API base URL, ending in {@code /}; tests point it at a local fake
 * @param approvalChannel the channel id approvals are posted to unless a rule names another; null: rules' only
 * @param publicUrl       where people's browsers reach Countersign, for the "Open in browser" link
 */
public record SlackSettings(String botToken, String signingSecret, String appToken, String apiUrl, String approvalChannel,
                            String publicUrl) {

    public static final String DEFAULT_API_URL = "https://slack.com/api/";
    /** Where Slack's interaction {@code response_url}s live in production. */
    public static final String SLACK_HOOKS = "https://hooks.slack.com/";

    public SlackSettings {
        apiUrl = apiUrl == null || apiUrl.isBlank() ? DEFAULT_API_URL : (apiUrl.endsWith("/") ? apiUrl : apiUrl + "/");
        publicUrl = publicUrl == null ? "http://localhost:8080" : (publicUrl.endsWith("/") ? publicUrl.substring(0, publicUrl.length() - 1) : publicUrl);
    }

    /** True when a signing secret is set: only then may {@code POST /slack/events} be served. */
    public boolean verifiesRequests() {
        return signingSecret != null && !signingSecret.isBlank();
    }

    /**
     * The only URLs a {@code response_url} (or one kept in a modal's private_metadata) may point to: Slack's
     * {@value #SLACK_HOOKS} in production; when {@code apiUrl} is not Slack's own (a test fake, a proxy), the
     * origin of {@code apiUrl} ({@code scheme://host[:port]/}) instead. Anything else is never requested, so a
     * click cannot make Countersign POST to an address of the clicker's choosing.
     */
    public String responseUrlPrefix() {
        if (DEFAULT_API_URL.equals(apiUrl)) return SLACK_HOOKS;
        java.net.URI u = java.net.URI.create(apiUrl);
        return u.getScheme() + "://" + u.getRawAuthority() + "/";
    }

    public boolean socketMode() {
        return appToken != null && !appToken.isBlank();
    }

    /** What is wrong with these settings, one sentence each that says what to set; empty when they can run. */
    public List<String> problems() {
        List<String> out = new ArrayList<>();
        if (botToken == null || botToken.isBlank()) out.add("Slack bot token missing: set SLACK_BOT_TOKEN (xoxb-…)");
        if (!socketMode() && (signingSecret == null || signingSecret.isBlank())) {
            out.add("Slack signing secret missing: set SLACK_SIGNING_SECRET (Basic Information → App Credentials), or SLACK_APP_TOKEN for Socket Mode");
        }
        if (socketMode() && !appToken.startsWith("xapp-")) out.add("SLACK_APP_TOKEN must be an app-level token (xapp-…) with connections:write");
        return out;
    }

    /** Never prints a token or the signing secret. */
    @Override
    public String toString() {
        return "SlackSettings[mode=" + (socketMode() ? "socket" : "http") + ", apiUrl=" + apiUrl + ", approvalChannel=" + approvalChannel
                + ", publicUrl=" + publicUrl + "]";
    }
}
