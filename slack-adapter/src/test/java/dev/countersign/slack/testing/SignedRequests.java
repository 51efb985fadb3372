package dev.countersign.slack.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.slack.api.app_backend.SlackSignature;
import dev.countersign.core.store.Json;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Requests as Slack sends them to {@code POST /slack/events}, built from the fixtures with only the fields a test
 * cares about changed, and signed with {@link SlackSignature.Generator} over the exact bytes sent.
 */
public final class SignedRequests {
    private final String secret;

    public SignedRequests(String signingSecret) {
        this.secret = signingSecret;
    }

    /** A body and the headers Slack would send with it. */
    public record Signed(byte[] body, Map<String, List<String>> headers) {
        public String header(String name) {
            List<String> v = headers.get(name);
            return v == null ? null : v.get(0);
        }
    }

    public Signed sign(String body, Instant at) {
        return sign(body, at.getEpochSecond(), secret);
    }

    public static Signed sign(String body, long timestamp, String secret) {
        String ts = String.valueOf(timestamp);
        String signature = new SlackSignature.Generator(secret).generate(ts, body);
        Map<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        h.put("Content-Type", List.of("application/x-www-form-urlencoded"));
        h.put(SlackSignature.HeaderNames.X_SLACK_REQUEST_TIMESTAMP, List.of(ts));
        h.put(SlackSignature.HeaderNames.X_SLACK_SIGNATURE, List.of(signature));
        return new Signed(body.getBytes(StandardCharsets.UTF_8), h);
    }

    /**
     * A button click ({@code block_actions}) from fixture {@code block_actions_button_in_message.json}.
     *
     * @param messageTs the clicked message (channel, ts as posted); ephemeral when {@code ephemeral}
     */
    public static String blockAction(String actionId, String value, String slackUser, String channel, String messageTs,
                                     String responseUrl, boolean ephemeral) {
        ObjectNode p = (ObjectNode) Fixtures.json("block_actions_button_in_message.json");
        ((ObjectNode) p.get("user")).put("id", slackUser);
        ObjectNode container = (ObjectNode) p.get("container");
        container.put("channel_id", channel).put("message_ts", messageTs).put("is_ephemeral", ephemeral);
        ((ObjectNode) p.get("channel")).put("id", channel);
        ((ObjectNode) p.get("message")).put("ts", messageTs);
        if (responseUrl == null) p.remove("response_url"); else p.put("response_url", responseUrl);
        p.put("trigger_id", "trigger-" + System.nanoTime());
        ObjectNode action = (ObjectNode) p.get("actions").get(0);
        action.put("action_id", actionId).put("value", value).put("block_id", "cs.act.pending.0.0");
        return form(p);
    }

    /**
     * The comment modal submitted ({@code view_submission}) from fixture {@code view_submission_modal_plain_text_input.json}.
     *
     * @param verdict {@code approve}, {@code reject} or null (nothing chosen)
     * @param comment null when left empty
     */
    public static String viewSubmission(String privateMetadata, String slackUser, String verdict, String comment) {
        ObjectNode p = (ObjectNode) Fixtures.json("view_submission_modal_plain_text_input.json");
        ((ObjectNode) p.get("user")).put("id", slackUser);
        ObjectNode view = (ObjectNode) p.get("view");
        view.put("callback_id", "cs.decision");
        view.put("private_metadata", privateMetadata);
        ObjectNode values = ((ObjectNode) view.get("state")).putObject("values");
        ObjectNode v = values.putObject("cs_verdict").putObject("verdict");
        v.put("type", "radio_buttons");
        if (verdict == null) v.putNull("selected_option");
        else v.putObject("selected_option").put("value", verdict).putObject("text").put("type", "plain_text").put("text", verdict);
        ObjectNode c = values.putObject("cs_comment").putObject("comment");
        c.put("type", "plain_text_input");
        if (comment == null) c.putNull("value"); else c.put("value", comment);
        return form(p);
    }

    /** {@code /pending [text]} from fixture {@code slash_command_body.form.txt}, form fields replaced. */
    public static String slashCommand(String command, String text, String slackUser, String responseUrl) {
        String body = Fixtures.text("slash_command_body.form.txt");
        Map<String, String> replace = Map.of("command", command, "text", text == null ? "" : text, "user_id", slackUser,
                "response_url", responseUrl);
        StringBuilder out = new StringBuilder();
        for (String pair : body.split("&")) {
            String key = pair.substring(0, pair.indexOf('='));
            if (out.length() > 0) out.append('&');
            out.append(replace.containsKey(key) ? key + "=" + enc(replace.get(key)) : pair);
        }
        return out.toString();
    }

    /** The payload of a Socket Mode envelope: the same JSON, not form-encoded. */
    public static JsonNode payloadOf(String formBody) {
        String json = java.net.URLDecoder.decode(formBody.substring("payload=".length()), StandardCharsets.UTF_8);
        try {
            return Json.MAPPER.readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String form(JsonNode payload) {
        return "payload=" + enc(payload.toString());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    public static ArrayNode array() {
        return Json.MAPPER.createArrayNode();
    }
}
