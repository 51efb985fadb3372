package dev.countersign.client;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A breakpoint: one ask for a whole plan, so an agent pauses at a natural point instead of on every call.
 * It is an action of type {@value #TYPE} with params {@code steps} (the list) and {@code step_count}, which the
 * policy matches like any other ({@code action.type == "plan.review"}).
 */
public final class PlanReview {
    public static final String TYPE = "plan.review";

    private final String summary;
    private final List<String> steps;
    private final Map<String, Object> extra;

    private PlanReview(String summary, List<String> steps, Map<String, Object> extra) {
        if (steps == null || steps.isEmpty()) throw new IllegalArgumentException("steps: a plan needs at least one step");
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i) == null || steps.get(i).isBlank()) throw new IllegalArgumentException("steps[" + i + "] is empty");
        }
        this.summary = summary;
        this.steps = List.copyOf(steps);
        this.extra = extra;
    }

    public static PlanReview of(String summary, List<String> steps) {
        return new PlanReview(summary, steps, Map.of());
    }

    /** A copy with one more param (e.g. the environment the plan runs in, for the rules to test). */
    public PlanReview withParam(String name, Object value) {
        Map<String, Object> p = new LinkedHashMap<>(extra);
        p.put(name, value);
        return new PlanReview(summary, steps, p);
    }

    public String summary() {
        return summary;
    }

    public List<String> steps() {
        return steps;
    }

    /** The action asked: type {@value #TYPE}, the summary, params {@code steps} and {@code step_count} (and any extra). */
    public Action toAction() {
        Map<String, Object> params = new LinkedHashMap<>(extra);
        params.put("steps", steps);
        params.put("step_count", steps.size());
        return Action.of(TYPE, summary, params);
    }
}
