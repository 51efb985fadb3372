package dev.countersign.core.timers;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.audit.AuditEntry;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.channel.ChannelTasks;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionPort;
import dev.countersign.core.store.ApprovalStore;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * What a fired timer does. It re-reads the approval: if it is no longer pending, nothing (the timer was
 * stale); if its next deadline is still ahead, it re-arms; otherwise it escalates (one level, guarded by a
 * conditional update so a duplicate fire cannot escalate twice), approves at the end of a veto window, or
 * expires it. The last two go through the one decision path, like any click.
 */
public final class TimerActions implements TimerService.Handler {
    /** Quartz may fire a little early (batch acquisition); a deadline this close counts as reached. */
    private static final Duration EARLY_SLACK = Duration.ofMillis(500);

    private final ApprovalStore store;
    private final AuditLog audit;
    private final DecisionPort decisions;
    private final ChannelTasks channelTasks;
    private final Clock clock;
    private final Consumer<Approval> rearm;
    private final BiConsumer<Approval, List<Person>> onEscalated;
    private final Consumer<Duration> lateness;
    private final Consumer<String> forget;

    /**
     * @param rearm       schedules the approval's next deadline
     * @param onEscalated tells channels who may decide now
     * @param lateness    records how late a timer fired
     * @param forget      removes the timers of an approval that no longer needs them
     */
    public TimerActions(ApprovalStore store, AuditLog audit, DecisionPort decisions, ChannelTasks channelTasks, Clock clock, Consumer<Approval> rearm,
                        BiConsumer<Approval, List<Person>> onEscalated, Consumer<Duration> lateness, Consumer<String> forget) {
        this.store = store;
        this.audit = audit;
        this.decisions = decisions;
        this.channelTasks = channelTasks;
        this.clock = clock;
        this.rearm = rearm;
        this.onEscalated = onEscalated;
        this.lateness = lateness;
        this.forget = forget;
    }

    @Override
    public void onTimer(String approvalId, Instant scheduledFor) {
        Instant now = clock.instant();
        lateness.accept(Duration.between(scheduledFor, now).isNegative() ? Duration.ZERO : Duration.between(scheduledFor, now));
        Optional<Approval> found = store.find(approvalId);
        if (found.isEmpty() || !found.get().isPending()) {
            forget.accept(approvalId);
            return;
        }
        Approval a = found.get();
        Plan.Deadline due = a.nextDeadline();
        if (due.at().isAfter(now.plus(EARLY_SLACK))) {
            rearm.accept(a);
            return;
        }
        switch (due.kind()) {
            case ESCALATE -> escalate(a, now);
            case VETO_END -> decisions.decide(new DecisionCommand(a.id(), DecisionCommand.Verdict.APPROVE,
                    new DecisionCommand.Actor.TimerActor("veto window ended without objection"), null));
            case EXPIRE -> decisions.decide(new DecisionCommand(a.id(), DecisionCommand.Verdict.EXPIRE,
                    new DecisionCommand.Actor.TimerActor("nobody decided in time"), null));
        }
    }

    private void escalate(Approval a, Instant now) {
        List<Person> before = a.approvers();
        boolean moved = store.database().inTransaction(c -> {
            if (!store.escalate(c, a.id(), a.escalationLevel())) return false;
            Plan.Step step = a.plan().steps().get(a.escalationLevel());
            List<String> notify = step.people().stream().filter(p -> !before.contains(p)).map(Person::id).toList();
            channelTasks.record(c, a.id(), ChannelTasks.Kind.ESCALATION, notify.isEmpty() ? step.people().stream().map(Person::id).toList() : notify, now);
            audit.append(c, now, List.of(new AuditEntry(a.id(), "escalated", "timer", AuditEntry.details(
                    "level", a.escalationLevel() + 1, "notify", step.people().stream().map(Person::id).toList()))));
            return true;
        });
        if (!moved) return;
        Approval escalated = store.find(a.id()).orElseThrow();
        List<Person> newlyEligible = escalated.approvers().stream().filter(p -> !before.contains(p)).toList();
        if (escalated.isPending()) rearm.accept(escalated);
        onEscalated.accept(escalated, newlyEligible.isEmpty() ? a.plan().steps().get(a.escalationLevel()).people() : newlyEligible);
    }
}
