package dev.countersign.core.approval;

import java.util.Map;
import java.util.Objects;

/** What the agent wants to do: a dotted type, one line a human reads, and its parameters. */
public record Action(String type, String summary, Map<String, Object> params) {
    public Action {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(summary, "summary");
        params = params == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(params));
    }
}
