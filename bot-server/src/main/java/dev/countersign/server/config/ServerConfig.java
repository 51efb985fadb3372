package dev.countersign.server.config;

import dev.countersign.core.approval.Directory;
import dev.countersign.core.policy.RuleSpec;
import dev.countersign.core.store.DatabaseConfig;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Everything the server runs with, read once at start from the config file and the environment.
 *
 * @param source      the config file it came from (null when built in code)
 * @param agentKeys   SHA-256 (hex) of each accepted agent key → agent id; keys themselves are not kept
 * @param operatorKeys SHA-256 (hex) of each operator key
 * @param webhookSecrets agent id → Standard Webhooks secret
 */
public record ServerConfig(
        Path source,
        int port,
        String publicUrl,
        DatabaseConfig database,
        Map<String, String> agentKeys,
        java.util.Set<String> operatorKeys,
        Map<String, String> webhookSecrets,
        Directory directory,
        List<RuleSpec> rules,
        Channels channels,
        Teams teams) {

    /** Without Teams credentials (Teams off). */
    public ServerConfig(Path source, int port, String publicUrl, DatabaseConfig database, Map<String, String> agentKeys,
                        java.util.Set<String> operatorKeys, Map<String, String> webhookSecrets, Directory directory,
                        List<RuleSpec> rules, Channels channels) {
        this(source, port, publicUrl, database, agentKeys, operatorKeys, webhookSecrets, directory, rules, channels, null);
    }

    /**
     * Bot Framework credentials and endpoints (TEAMS_* variables); null when Teams is off.
     *
     * @param openIdMetadataUrl null: Bot Framework's; @param tokenUrl null: the Microsoft identity platform's
     */
    public record Teams(String appId, String appPassword, String tenantId, String openIdMetadataUrl, String tokenUrl) {
        @Override
        public String toString() {
            return "Teams[appId=" + appId + ", tenantId=" + tenantId + "]"; // never the password
        }
    }

    /** Per-channel settings; the adapters of later issues read theirs. */
    public record Channels(String slackApprovalChannel, String teamsApprovalConversation, Oidc webOidc, Slack slack) {
        public Channels(String slackApprovalChannel, String teamsApprovalConversation, Oidc webOidc) {
            this(slackApprovalChannel, teamsApprovalConversation, webOidc, Slack.OFF);
        }
    }

    /**
     * Slack credentials (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET; SLACK_APP_TOKEN for Socket Mode; SLACK_API_URL for a
     * fake in tests). Slack is on when the bot token and either the signing secret or the app token are set.
     */
    public record Slack(String botToken, String signingSecret, String appToken, String apiUrl) {
        public static final Slack OFF = new Slack(null, null, null, null);

        public boolean enabled() {
            return botToken != null && (signingSecret != null || appToken != null);
        }

        /** Never prints the tokens or the secret. */
        @Override
        public String toString() {
            return "Slack[" + (enabled() ? (appToken != null ? "socket mode" : "http") : "off") + (apiUrl == null ? "" : ", apiUrl=" + apiUrl) + "]";
        }
    }

    public record Oidc(String issuer, String clientId, String clientSecret) {
        public boolean configured() {
            return issuer != null && !issuer.isBlank();
        }
    }
}
