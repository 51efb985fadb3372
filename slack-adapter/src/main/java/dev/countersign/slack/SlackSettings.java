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

    public SlackSettings {
        apiUrl = apiUrl == null || apiUrl.isBlank() ? DEFAULT_API_URL : (apiUrl.endsWith("/") ? apiUrl : apiUrl + "/");
        publicUrl = publicUrl == null ? "http://localhost:8080" : (publicUrl.endsWith("/") ? publicUrl.substring(0, publicUrl.length() - 1) : publicUrl);
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
