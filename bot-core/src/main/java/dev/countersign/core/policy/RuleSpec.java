package dev.countersign.core.policy;

import dev.countersign.core.approval.RiskLevel;

import java.time.Duration;
import java.util.List;

/**
 * One risk rule as configured. {@code where} names its place in the config file for error messages
 * (e.g. {@code config/countersign.yaml line 31 (rules[0].when)}).
 */
public record RuleSpec(
        String name,
        String when,
        RiskLevel risk,
        List<String> approvers,
        int quorum,
        List<StepSpec> escalation,
        Duration expiresAfter,
        Duration vetoWindow,
        String channel,
        String teamsConversation,
        String where) {

    public RuleSpec {
        approvers = approvers == null ? List.of() : List.copyOf(approvers);
        escalation = escalation == null ? List.of() : List.copyOf(escalation);
    }

    /** An escalation step: {@code after} counts from the approval's creation. */
    public record StepSpec(Duration after, List<String> people) {
        public StepSpec {
            people = List.copyOf(people);
        }
    }
}
