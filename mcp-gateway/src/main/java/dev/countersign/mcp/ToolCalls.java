package dev.countersign.mcp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** How a tool call is described to Countersign: the action type, a summary a person reads, and masked params. */
final class ToolCalls {
    static final String MASK = "***";
    private static final int MAX_TYPE = 200;
    private static final int MAX_VALUE = 80;
    private static final int MAX_SUMMARY = 300;

    private ToolCalls() {
    }

    /** {@code mcp.<server>.<tool>}, each part reduced to the characters an action type allows. */
    static String actionType(String server, String tool) {
        String type = "mcp." + part(server) + "." + part(tool);
        return type.length() <= MAX_TYPE ? type : type.substring(0, MAX_TYPE);
    }

    private static String part(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append((c < 128 && (Character.isLetterOrDigit(c) || c == '_' || c == '-')) ? c : '_');
        }
        return b.length() == 0 ? "_" : b.toString();
    }

    /** A copy of the arguments with every value under a secret name (at any depth, case-insensitive) replaced by {@value #MASK}. */
    static Map<String, Object> masked(Map<String, Object> arguments, Set<String> secretNames) {
        if (arguments == null) return Map.of();
        return maskMap(arguments, secretNames);
    }

    private static Map<String, Object> maskMap(Map<?, ?> map, Set<String> secretNames) {
        Map<String, Object> out = new LinkedHashMap<>();
        map.forEach((k, v) -> {
            String key = String.valueOf(k);
            out.put(key, secretNames.contains(key.toLowerCase(Locale.ROOT)) ? MASK : maskValue(v, secretNames));
        });
        return out;
    }

    private static Object maskValue(Object v, Set<String> secretNames) {
        if (v instanceof Map<?, ?> m) return maskMap(m, secretNames);
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object o : l) out.add(maskValue(o, secretNames));
            return out;
        }
        return v;
    }

    /**
     * One line a person reads: {@code fs: write_file(path="/tmp/a.txt", content="hello…")}, from the masked arguments,
     * each value cut at 80 characters, the whole at 300.
     */
    static String summary(String server, String tool, Map<String, Object> maskedArguments) {
        StringBuilder b = new StringBuilder(server).append(": ").append(tool).append('(');
        boolean first = true;
        for (Map.Entry<String, Object> e : maskedArguments.entrySet()) {
            if (!first) b.append(", ");
            first = false;
            b.append(e.getKey()).append('=').append(render(e.getValue()));
        }
        b.append(')');
        String s = b.toString().replaceAll("[\\r\\n\\t]+", " ");
        return s.length() <= MAX_SUMMARY ? s : s.substring(0, MAX_SUMMARY - 1) + "…";
    }

    private static String render(Object v) {
        String s = v instanceof String str ? "\"" + str + "\"" : String.valueOf(v);
        return s.length() <= MAX_VALUE ? s : s.substring(0, MAX_VALUE - 1) + "…";
    }
}
