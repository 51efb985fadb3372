package dev.countersign.teams;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.List;

/**
 * The part of a Bot Framework activity this channel reads or writes. Unknown fields are ignored on the way in
 * and absent ones left out on the way out.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record Activity(String type, String id, String serviceUrl, String channelId, Account from, Conversation conversation,
                       Account recipient, JsonNode channelData, String text, String summary, String name, JsonNode value,
                       List<Account> membersAdded, List<Account> membersRemoved, String replyToId, List<Attachment> attachments) {

    /** Reads activities leniently (unknown fields ignored) and writes them without nulls. */
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL);

    public static final String ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive";

    /** A user ({@code 29:…}, with their Entra object id) or a bot ({@code 28:<app id>}). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Account(String id, String name, String aadObjectId) {}

    /** {@code conversationType}: personal, channel or groupChat. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Conversation(String id, String conversationType, String tenantId, Boolean isGroup) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Attachment(String contentType, JsonNode content) {}

    /** A message carrying one Adaptive Card; {@code summary} is what notifications show. */
    public static Activity card(JsonNode card, String summary) {
        return new Activity("message", null, null, null, null, null, null, null, null, summary, null, null, null, null, null,
                List.of(new Attachment(ADAPTIVE_CARD, card)));
    }

    /** A plain text message. */
    public static Activity text(String text) {
        return new Activity("message", null, null, null, null, null, null, null, text, null, null, null, null, null, null, null);
    }

    /** The tenant: from the conversation, else from {@code channelData.tenant.id}. */
    public String tenantId() {
        if (conversation != null && conversation.tenantId() != null) return conversation.tenantId();
        return channelData == null ? null : text(channelData.path("tenant").path("id"));
    }

    public String teamId() {
        return channelData == null ? null : text(channelData.path("team").path("id"));
    }

    public String conversationType() {
        return conversation == null ? null : conversation.conversationType();
    }

    private static String text(JsonNode n) {
        return n.isTextual() && !n.textValue().isBlank() ? n.textValue() : null;
    }
}
