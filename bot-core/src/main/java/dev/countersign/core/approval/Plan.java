package dev.countersign.core.approval;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The policy's answer for one approval, snapshotted when the agent asks: who may decide, how many
 * must agree, when to escalate to whom, and when it ends. A config change later does not alter the
 * plan of an approval already waiting (the way an incident keeps the escalation policy it started with).
 *
 * @param approvers  the people who may decide from the start (groups already resolved)
 * @param steps      escalation steps; each {@code after} counts from the approval's creation
 * @param quorum     distinct approvals needed
 * @param vetoWindow for medium risk with a window: approved when it ends unless rejected first; else null
 * @param channelTargets where the rule wants each channel to post (e.g. {@code slack} → a channel id); absent: the channel's default
 */
public record Plan(List<Person> approvers, List<Step> steps, int quorum, Duration vetoWindow, Map<String, String> channelTargets) {

    public Plan {
        approvers = List.copyOf(approvers);
        steps = List.copyOf(steps);
        channelTargets = channelTargets == null ? Map.of() : Map.copyOf(channelTargets);
        if (quorum < 1) throw new IllegalArgumentException("quorum must be at least 1");
    }

    public static Plan none() {
        return new Plan(List.of(), List.of(), 1, null, Map.of());
    }

    /** One escalation step: after this long since creation, these people may decide too and are notified. */
    public record Step(Duration after, List<Person> people) {
        public Step {
            people = List.copyOf(people);
        }
    }

    /** Everyone who may decide at the given escalation level, first approvers first, without repeats. */
    public List<Person> eligibleAt(int level) {
        Map<String, Person> byId = new LinkedHashMap<>();
        approvers.forEach(p -> byId.putIfAbsent(p.id(), p));
        for (int i = 0; i < Math.min(level, steps.size()); i++) {
            steps.get(i).people().forEach(p -> byId.putIfAbsent(p.id(), p));
        }
        return List.copyOf(byId.values());
    }

    /**
     * When the timer of an approval at this escalation level is due next, and what it does then.
     * Escalation steps due at or after the expiry are never reached.
     */
    public Deadline nextDeadline(Instant createdAt, Instant expiresAt, int level) {
        if (vetoWindow != null) {
            Instant end = createdAt.plus(vetoWindow);
            return end.isBefore(expiresAt) ? new Deadline(end, Deadline.Kind.VETO_END) : new Deadline(expiresAt, Deadline.Kind.EXPIRE);
        }
        if (level < steps.size()) {
            Instant at = createdAt.plus(steps.get(level).after());
            if (at.isBefore(expiresAt)) return new Deadline(at, Deadline.Kind.ESCALATE);
        }
        return new Deadline(expiresAt, Deadline.Kind.EXPIRE);
    }

    /** A moment in an approval's life when a timer acts. */
    public record Deadline(Instant at, Kind kind) {
        public enum Kind { ESCALATE, VETO_END, EXPIRE }
    }
}
