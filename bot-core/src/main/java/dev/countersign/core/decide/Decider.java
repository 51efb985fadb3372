package dev.countersign.core.decide;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;
import dev.countersign.core.audit.AuditEntry;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.channel.ChannelTasks;
import dev.countersign.core.decide.DecisionCommand.Actor;
import dev.countersign.core.decide.DecisionResult.Reason;
import dev.countersign.core.notify.WebhookOutbox;
import dev.countersign.core.store.ApprovalStore;
import dev.countersign.core.store.Database;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Decides approvals, exactly once. In one transaction it locks the approval's row, checks who may do
 * what, counts quorum votes, writes the outcome with a conditional update ({@code WHERE status =
 * 'pending'}), appends the audit entries and queues the webhook. Only after the commit does it tell
 * the rest of the system (timers, waiting agents, channels).
 *
 * <p>Rules: only a configured person may decide, and only while they are among the approvers (the plan's,
 * widened by escalation) or an admin; the person the agent acts for may not approve it; with a quorum of N,
 * N distinct approvals approve and any one rejection rejects; only the asking agent may cancel; only a
 * timer expires.
 */
public final class Decider implements DecisionPort {
    private final Database db;
    private final ApprovalStore store;
    private final AuditLog audit;
    private final WebhookOutbox outbox;
    private final ChannelTasks channelTasks;
    private final Directory directory;
    private final Clock clock;
    private final Consumer<Approval> onDecided;
    private final Consumer<Approval> onVote;

    public Decider(ApprovalStore store, AuditLog audit, WebhookOutbox outbox, ChannelTasks channelTasks, Directory directory, Clock clock,
                   Consumer<Approval> onDecided, Consumer<Approval> onVote) {
        this.channelTasks = channelTasks;
        this.db = store.database();
        this.store = store;
        this.audit = audit;
        this.outbox = outbox;
        this.directory = directory;
        this.clock = clock;
        this.onDecided = onDecided;
        this.onVote = onVote;
    }

    @Override
    public DecisionResult decide(DecisionCommand cmd) {
        DecisionResult result = db.inTransaction(c -> decideInTransaction(c, cmd));
        if (result instanceof DecisionResult.Decided d) {
            onDecided.accept(d.approval());
        } else if (result instanceof DecisionResult.VoteCounted v) {
            onVote.accept(v.approval());
        }
        return result;
    }

    private DecisionResult decideInTransaction(Connection c, DecisionCommand cmd) throws SQLException {
        Optional<Approval> found = store.find(c, cmd.approvalId(), true);
        if (found.isEmpty()) return new DecisionResult.Refused(Reason.NOT_FOUND, "no approval with id " + cmd.approvalId());
        Approval a = found.get();
        if (!a.isPending()) return new DecisionResult.AlreadyDecided(a);

        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        Object ruling = cmd.actor() instanceof Actor.PersonActor p ? person(c, a, cmd, p, now)
                : cmd.actor() instanceof Actor.AgentActor ag ? agent(a, cmd, ag)
                : timer(a, cmd, (Actor.TimerActor) cmd.actor());
        if (ruling instanceof DecisionResult r) {
            if (r instanceof DecisionResult.VoteCounted) channelTasks.record(c, a.id(), ChannelTasks.Kind.UPDATE, List.of(), now);
            return r;
        }
        Ruling rule = (Ruling) ruling;
        Decision.Decider by = rule.by();
        Status outcome = rule.outcome();
        String actorName = rule.actor();
        if (rule.withVotes() != null) a = rule.withVotes();
        String comment = cmd.comment() != null ? cmd.comment() : rule.defaultComment();

        Decision decision = new Decision(outcome, by, comment, now);
        if (!store.recordDecision(c, a.id(), decision)) {
            // Unreachable while the row lock holds; kept so a lost race can never be reported as a win.
            return new DecisionResult.AlreadyDecided(store.find(c, a.id(), false).orElseThrow());
        }
        Approval decided = a.with(outcome, decision);
        List<AuditEntry> entries = new ArrayList<>();
        entries.add(new AuditEntry(a.id(), outcome == Status.CANCELLED ? "cancelled" : "decided", actorName,
                AuditEntry.details("outcome", outcome.wire(), "via", by.channel().wire(), "comment", comment)));
        if (decided.callbackUrl() != null) {
            outbox.enqueue(c, decided, now);
        }
        channelTasks.record(c, a.id(), ChannelTasks.Kind.UPDATE, List.of(), now);
        audit.append(c, now, entries);
        return new DecisionResult.Decided(decided);
    }

    /** Who decides, with what outcome, as named in the audit log; {@code withVotes} is set once a quorum is reached. */
    private record Ruling(Decision.Decider by, Status outcome, String actor, Approval withVotes, String defaultComment) {}

    /** A person approves or rejects: a {@link Ruling}, or a result to answer at once (refused, or a vote short of the quorum). */
    private Object person(Connection c, Approval a, DecisionCommand cmd, Actor.PersonActor p, Instant now) throws SQLException {
        Optional<Directory.Member> member = directory.member(p.personId());
        if (member.isEmpty()) {
            return new DecisionResult.Refused(Reason.UNKNOWN_PERSON, "'" + p.personId() + "' is not a person in the configuration");
        }
        boolean approve = cmd.verdict() == DecisionCommand.Verdict.APPROVE;
        if (!approve && cmd.verdict() != DecisionCommand.Verdict.REJECT) {
            return new DecisionResult.Refused(Reason.NOT_ALLOWED, "a person may approve or reject, not " + cmd.verdict().name().toLowerCase());
        }
        Person person = member.get().person();
        boolean eligible = a.approvers().stream().anyMatch(x -> x.id().equals(person.id())) || directory.isAdmin(person.id());
        if (!eligible) {
            return new DecisionResult.Refused(Reason.NOT_ELIGIBLE, person.name() + " is not among the approvers of this request"
                    + (a.escalationLevel() < a.plan().steps().size() ? " (yet: it may escalate to them)" : ""));
        }
        if (approve && person.id().equals(a.requestedFor())) {
            return new DecisionResult.Refused(Reason.SELF_APPROVAL, person.name() + " cannot approve a request made on their own behalf");
        }
        String actor = "person:" + person.id();
        Approval withVotes = null;
        if (approve && a.plan().quorum() > 1) {
            store.addVote(c, a.id(), new Vote(person.id(), person.name(), p.via(), cmd.comment(), now));
            withVotes = store.find(c, a.id(), false).orElseThrow();
            int remaining = a.plan().quorum() - withVotes.votes().size();
            if (remaining > 0) {
                audit.append(c, now, List.of(new AuditEntry(a.id(), "vote", actor,
                        AuditEntry.details("via", p.via().wire(), "comment", cmd.comment(), "remaining", remaining))));
                return new DecisionResult.VoteCounted(withVotes, remaining);
            }
        }
        return new Ruling(new Decision.Decider(person.id(), person.name(), p.via()), approve ? Status.APPROVED : Status.REJECTED, actor, withVotes, null);
    }

    /** Only the asking agent, and only to cancel. */
    private static Object agent(Approval a, DecisionCommand cmd, Actor.AgentActor ag) {
        if (cmd.verdict() != DecisionCommand.Verdict.CANCEL) {
            return new DecisionResult.Refused(Reason.NOT_ALLOWED, "an agent may only cancel its own request");
        }
        if (!ag.agentId().equals(a.agent().id())) {
            return new DecisionResult.Refused(Reason.NOT_YOURS, "approval " + a.id() + " was asked by another agent");
        }
        return new Ruling(new Decision.Decider(ag.agentId(), ag.agentId(), DecidedVia.AGENT), Status.CANCELLED, "agent:" + ag.agentId(), null, null);
    }

    /** A timer expires, or approves when a veto window ends without objection. */
    private static Object timer(Approval a, DecisionCommand cmd, Actor.TimerActor t) {
        Status outcome;
        if (cmd.verdict() == DecisionCommand.Verdict.EXPIRE) {
            outcome = Status.EXPIRED;
        } else if (cmd.verdict() == DecisionCommand.Verdict.APPROVE && a.plan().vetoWindow() != null) {
            outcome = Status.APPROVED;
        } else {
            return new DecisionResult.Refused(Reason.NOT_ALLOWED, "a timer may only expire, or approve at the end of a veto window");
        }
        return new Ruling(new Decision.Decider("timer", "Countersign timer", DecidedVia.TIMER), outcome, "timer", null, t.reason());
    }
}
