package dev.countersign.server.web;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.store.Json;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Iterator;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Escaping and formatting for the pages. Every string an agent or a person wrote passes through {@link #esc}
 * before it reaches HTML: the pages are built from text blocks, so this is the one guard against markup injection.
 */
final class Html {
    /** Parameter names whose values are never shown: the agent may pass credentials it means to use. */
    static final Pattern SECRET_KEY = Pattern.compile("(?i)(password|secret|token|api[_-]?key|authorization|credential)");
    static final String MASK = "••••••••";
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);

    private Html() {}

    /** Text for an element or a double-quoted attribute. */
    static String esc(Object value) {
        if (value == null) return "";
        String s = value.toString();
        StringBuilder out = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    /** A URL for an href: only http(s) links are made clickable, anything else (javascript:, data:) is not a link. */
    static boolean safeUrl(String url) {
        return url != null && (url.startsWith("https://") || url.startsWith("http://"));
    }

    static String time(Instant at) {
        return at == null ? "" : "<time datetime=\"" + at + "\">" + TIME.format(at) + "</time>";
    }

    static String plainTime(Instant at) {
        return at == null ? "" : TIME.format(at);
    }

    /** The params as indented JSON with the values of secret-looking keys masked, at any depth. */
    static String maskedJson(Map<String, Object> params) {
        JsonNode tree = Json.MAPPER.valueToTree(params);
        mask(tree);
        try {
            return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(tree);
        } catch (JsonProcessingException e) {
            return "{}";
        }
    }

    private static void mask(JsonNode node) {
        if (node instanceof ObjectNode o) {
            Iterator<Map.Entry<String, JsonNode>> it = o.fields();
            java.util.List<String> secret = new java.util.ArrayList<>();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                if (SECRET_KEY.matcher(e.getKey()).find()) secret.add(e.getKey());
                else mask(e.getValue());
            }
            secret.forEach(k -> o.put(k, MASK));
        } else if (node != null && node.isArray()) {
            node.forEach(Html::mask);
        }
    }
}
