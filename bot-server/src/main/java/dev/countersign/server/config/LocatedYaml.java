package dev.countersign.server.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * YAML read into a tree that remembers the line of every key, so that a config error can say
 * "countersign.yaml line 31 (rules[0].when)" instead of only what is wrong. Scalars stay text: the loader
 * decides what each key means.
 */
final class LocatedYaml {
    final JsonNode root;
    private final Map<String, Integer> lines;

    private LocatedYaml(JsonNode root, Map<String, Integer> lines) {
        this.root = root;
        this.lines = lines;
    }

    /** Rewrites a scalar value (e.g. replaces {@code ${VAR}}); gets the value's line for messages. */
    interface Scalars {
        String rewrite(String value, int line);
    }

    static LocatedYaml parse(String text, Scalars scalars) throws IOException {
        Map<String, Integer> lines = new HashMap<>();
        try (JsonParser p = new YAMLFactory().createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) return new LocatedYaml(JsonNodeFactory.instance.objectNode(), lines);
            JsonNode root = read(p, "", lines, scalars);
            return new LocatedYaml(root, lines);
        }
    }

    /** The line of a key such as {@code rules[0].when}, or of the nearest enclosing key; 0 if unknown. */
    int line(String path) {
        String p = path;
        while (!p.isEmpty()) {
            Integer l = lines.get(p);
            if (l != null) return l;
            int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
            p = cut <= 0 ? "" : p.substring(0, cut);
        }
        return 0;
    }

    private static JsonNode read(JsonParser p, String path, Map<String, Integer> lines, Scalars scalars) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.START_OBJECT) {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                String child = path.isEmpty() ? name : path + "." + name;
                lines.put(child, p.currentTokenLocation().getLineNr());
                p.nextToken();
                o.set(name, read(p, child, lines, scalars));
            }
            return o;
        }
        if (t == JsonToken.START_ARRAY) {
            ArrayNode a = JsonNodeFactory.instance.arrayNode();
            int i = 0;
            while (p.nextToken() != JsonToken.END_ARRAY) {
                String child = path + "[" + i + "]";
                lines.put(child, p.currentTokenLocation().getLineNr());
                a.add(read(p, child, lines, scalars));
                i++;
            }
            return a;
        }
        if (t == JsonToken.VALUE_NULL) return JsonNodeFactory.instance.nullNode();
        return JsonNodeFactory.instance.textNode(scalars.rewrite(p.getText(), p.currentTokenLocation().getLineNr()));
    }
}
