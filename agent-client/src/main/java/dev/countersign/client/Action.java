package dev.countersign.client;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the agent wants to do: a dotted {@code type} the policy matches ({@code payments.transfer}), a one-line
 * {@code summary} a person reads, and {@code params} the rules can test ({@code params.amount > 10000}).
 * Immutable; the withers return copies.
 */
public final class Action {
    private static final Pattern TYPE = Pattern.compile("[A-Za-z0-9_\\-]+(\\.[A-Za-z0-9_\\-]+)*");
    /** What a masked param's value becomes. */
    public static final String MASK = "••••••••";

    private final String type;
    private final String summary;
    private final Map<String, Object> params;

    private Action(String type, String summary, Map<String, ?> params) {
        if (type == null || type.isBlank()) throw new IllegalArgumentException("action.type is required (a dotted name such as payments.transfer)");
        if (!TYPE.matcher(type).matches() || type.length() > 200) {
            throw new IllegalArgumentException("action.type must be a dotted name of letters, digits, '_' and '-' (≤ 200), got '" + type + "'");
        }
        if (summary == null || summary.isBlank()) throw new IllegalArgumentException("action.summary is required (one line a person reads)");
        this.type = type;
        this.summary = summary;
        this.params = Collections.unmodifiableMap(new LinkedHashMap<>(params == null ? Map.of() : params));
    }

    /** An action; {@code params} may be null or empty, its values anything Jackson can write. */
    public static Action of(String type, String summary, Map<String, ?> params) {
        return new Action(type, summary, params);
    }

    /** An action without params. */
    public static Action of(String type, String summary) {
        return new Action(type, summary, null);
    }

    public String type() {
        return type;
    }

    public String summary() {
        return summary;
    }

    /** The params, in insertion order, unmodifiable. */
    public Map<String, Object> params() {
        return params;
    }

    /** A copy with one more (or a replaced) param. */
    public Action withParam(String name, Object value) {
        Map<String, Object> p = new LinkedHashMap<>(params);
        p.put(Objects.requireNonNull(name, "param name"), value);
        return new Action(type, summary, p);
    }

    /** A copy with another summary. */
    public Action withSummary(String newSummary) {
        return new Action(type, newSummary, params);
    }

    /**
     * A copy whose top-level params of these names carry {@link #MASK} instead of their values: the secret never
     * leaves the agent, but people (and the rules, with {@code has(params.x)}) see that it is there. The server
     * also masks, on its pages, params whose names look secret ({@code password}, {@code token}, {@code api_key}, …).
     */
    public Action masking(String... names) {
        Set<String> secret = Set.copyOf(Arrays.asList(names));
        Map<String, Object> p = new LinkedHashMap<>();
        params.forEach((k, v) -> p.put(k, secret.contains(k) ? MASK : v));
        return new Action(type, summary, p);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Action a && a.type.equals(type) && a.summary.equals(summary) && a.params.equals(params);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, summary, params);
    }

    @Override
    public String toString() {
        return type + " (" + summary + ")";
    }
}
