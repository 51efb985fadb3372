package dev.countersign.teams;

import java.net.URI;
import java.util.Objects;

/**
 * What the Teams channel runs with.
 *
 * @param appId                the bot's Microsoft App ID: the audience of inbound tokens, the client id of outbound ones
 * @param appPassword          the app's client secret
 * @param tenantId             the Entra tenant of a single-tenant bot; null for a multi-tenant one
 * @param openIdMetadataUrl    where the signing keys of inbound tokens are found
 * @param tokenUrl             where outbound tokens are requested (client credentials)
 * @param approvalConversation the conversation (a team channel) where approvals are posted when the rule names none; may be null
 */
public record TeamsSettings(String appId, String appPassword, String tenantId, URI openIdMetadataUrl, URI tokenUrl,
                            String approvalConversation) {
    /** Bot Framework's public OpenID metadata for tokens that channels (Teams) send to bots. */
    public static final URI BOT_FRAMEWORK_METADATA = URI.create("https://login.botframework.com/v1/.well-known/openidconfiguration");

    public TeamsSettings {
        Objects.requireNonNull(appId, "appId");
        Objects.requireNonNull(appPassword, "appPassword");
        if (openIdMetadataUrl == null) openIdMetadataUrl = BOT_FRAMEWORK_METADATA;
        if (tokenUrl == null) tokenUrl = defaultTokenUrl(tenantId);
        if (approvalConversation != null && approvalConversation.isBlank()) approvalConversation = null;
    }

    /**
     * The Microsoft identity platform's token endpoint: the bot's own tenant for a single-tenant bot, else the
     * {@code botframework.com} tenant that multi-tenant bots use.
     */
    public static URI defaultTokenUrl(String tenantId) {
        String tenant = tenantId == null || tenantId.isBlank() ? "botframework.com" : tenantId;
        return URI.create("https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/token");
    }

    /** The bot's id in conversations. */
    public String botId() {
        return "28:" + appId;
    }

    @Override
    public String toString() {
        // never the password
        return "TeamsSettings[appId=" + appId + ", tenantId=" + tenantId + ", openIdMetadataUrl=" + openIdMetadataUrl
                + ", tokenUrl=" + tokenUrl + ", approvalConversation=" + approvalConversation + "]";
    }
}
