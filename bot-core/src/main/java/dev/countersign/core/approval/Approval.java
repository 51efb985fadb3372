package dev.countersign.core.approval;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One approval: what the agent asked (fixed when it asked) and where it stands now (filled in by
 * people and timers). Immutable; the store hands out a new one for every change.
 *
 * @param requestedFor the person id the agent acts for; that person may never approve it
 * @param decision     null while pending
 * @param votes        approvals counted toward a quorum so far
 */
public record Approval(
        String id,
        AgentRef agent,
        String requestedFor,
        Action action,
        AskContext context,
        Risk risk,
        Plan plan,
        String callbackUrl,
        Instant createdAt,
        Instant expiresAt,
        Status status,
        int escalationLevel,
        Decision decision,
        List<Vote> votes) {

    public Approval {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(status, "status");
        votes = votes == null ? List.of() : List.copyOf(votes);
        context = context == null ? AskContext.EMPTY : context;
    }

    public boolean isPending() {
        return status == Status.PENDING;
    }

    /** The people who may decide now: the plan's approvers widened by every escalation step passed. */
    public List<Person> approvers() {
        return plan.eligibleAt(escalationLevel);
    }

    /** When this approval's timer acts next, or null once decided. */
    public Plan.Deadline nextDeadline() {
        return isPending() ? plan.nextDeadline(createdAt, expiresAt, escalationLevel) : null;
    }

    public Escalation escalation() {
        Plan.Deadline next = nextDeadline();
        return new Escalation(escalationLevel, next == null ? null : next.at());
    }

    /**
     * True when {@code personId} may act on this approval now and has not yet: it is pending, they are among
     * the current approvers (or an admin), they have not voted, and it was not asked on their behalf.
     */
    public boolean waitsFor(String personId, Directory directory) {
        if (!isPending() || personId == null || personId.equals(requestedFor)) return false;
        boolean eligible = approvers().stream().anyMatch(p -> p.id().equals(personId)) || directory.isAdmin(personId);
        return eligible && votes.stream().noneMatch(v -> v.personId().equals(personId));
    }

    /** True when {@code personId} may see it: an admin, anyone in its plan (at any escalation step), or the person it is for. */
    public boolean visibleTo(String personId, Directory directory) {
        if (personId == null) return false;
        if (directory.isAdmin(personId) || personId.equals(requestedFor)) return true;
        return plan.eligibleAt(plan.steps().size()).stream().anyMatch(p -> p.id().equals(personId));
    }

    public Approval with(Status newStatus, Decision newDecision) {
        return new Approval(id, agent, requestedFor, action, context, risk, plan, callbackUrl, createdAt, expiresAt,
                newStatus, escalationLevel, newDecision, votes);
    }
}
