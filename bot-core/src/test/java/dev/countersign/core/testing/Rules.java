package dev.countersign.core.testing;

import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.policy.RuleSpec;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Builds a {@link RuleSpec} the way a line of YAML reads: {@code Rules.rule("x").when("...").high().approvers("alice").build()}. */
public final class Rules {
    private final String name;
    private String when;
    private RiskLevel risk = RiskLevel.HIGH;
    private List<String> approvers = List.of();
    private int quorum = 1;
    private final List<RuleSpec.StepSpec> escalation = new ArrayList<>();
    private Duration expiresAfter;
    private Duration vetoWindow;

    private Rules(String name) {
        this.name = name;
    }

    public static Rules rule(String name) {
        return new Rules(name);
    }

    public Rules when(String celCondition) {
        this.when = celCondition;
        return this;
    }

    public Rules risk(RiskLevel level) {
        this.risk = level;
        return this;
    }

    public Rules low() {
        return risk(RiskLevel.LOW);
    }

    public Rules medium() {
        return risk(RiskLevel.MEDIUM);
    }

    public Rules high() {
        return risk(RiskLevel.HIGH);
    }

    public Rules approvers(String... refs) {
        this.approvers = List.of(refs);
        return this;
    }

    public Rules quorum(int n) {
        this.quorum = n;
        return this;
    }

    public Rules escalateAfter(String isoDuration, String... notify) {
        escalation.add(new RuleSpec.StepSpec(Duration.parse(isoDuration), List.of(notify)));
        return this;
    }

    public Rules expiresAfter(String isoDuration) {
        this.expiresAfter = Duration.parse(isoDuration);
        return this;
    }

    public Rules vetoWindow(String isoDuration) {
        this.vetoWindow = Duration.parse(isoDuration);
        return this;
    }

    public RuleSpec build() {
        return new RuleSpec(name, when, risk, approvers, quorum, escalation, expiresAfter, vetoWindow, null, null,
                "test rules (" + name + ")");
    }
}
