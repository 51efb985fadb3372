package dev.countersign.core.audit;

import java.util.Map;

/**
 * One state change to append. {@code actor} says who caused it ({@code agent:billing-bot},
 * {@code person:alice}, {@code timer}, {@code policy}); {@code detail} is small and never holds secrets.
 */
public record AuditEntry(String approvalId, String kind, String actor, Map<String, Object> detail) {
    public AuditEntry {
        detail = detail == null ? Map.of() : detail;
    }

    /** Builds a detail map from key/value pairs, leaving out null values. */
    public static Map<String, Object> details(Object... keyValues) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            if (keyValues[i + 1] != null) m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }
}
