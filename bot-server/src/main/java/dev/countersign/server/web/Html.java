package dev.countersign.server.web;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.countersign.core.approval.Secrets;
import dev.countersign.core.store.Json;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;

/**
 * Escaping and formatting for the pages. Every string an agent or a person wrote passes through {@link #esc}
 * before it reaches HTML: the pages are built from text blocks, so this is the one guard against markup injection.
 */
final class Html {
    static final String MASK = Secrets.MASK;
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
        try {
            return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(Secrets.masked(params));
        } catch (JsonProcessingException e) {
            return "{}";
        }
    }
}
