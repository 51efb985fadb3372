package dev.countersign.core.approval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which parameter values are never shown to people, in any channel: the agent may pass credentials it means
 * to use. A key that looks like a secret has its value replaced by {@link #MASK}, at any depth.
 */
public final class Secrets {
    /** Parameter names whose values are masked. */
    public static final Pattern SECRET_KEY = Pattern.compile("(?i)(password|passwd|secret|token|api[_-]?key|authorization|credential|private[_-]?key)");
    public static final String MASK = "••••••••";

    private Secrets() {}

    public static boolean isSecretKey(String key) {
        return key != null && SECRET_KEY.matcher(key).find();
    }

    /** A copy of the params with secret values masked (maps and lists are walked; other values are kept as they are). */
    public static Map<String, Object> masked(Map<String, ?> params) {
        Map<String, Object> out = new LinkedHashMap<>();
        params.forEach((k, v) -> out.put(k, isSecretKey(k) ? MASK : maskValue(v)));
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Object maskValue(Object v) {
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, x) -> out.put(String.valueOf(k), isSecretKey(String.valueOf(k)) ? MASK : maskValue(x)));
            return out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            l.forEach(x -> out.add(maskValue(x)));
            return out;
        }
        return v;
    }
}
