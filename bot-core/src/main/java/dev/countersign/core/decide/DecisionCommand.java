package dev.countersign.core.decide;

import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.DecidedVia;

import java.util.Objects;

/**
 * A request to decide one approval, from any source: a person in a channel, an operator tool, the agent
 * withdrawing, or a timer. Channels build these from clicks; nothing else writes an outcome.
 */
public record DecisionCommand(String approvalId, Verdict verdict, Actor actor, String comment) {

    public DecisionCommand {
        Objects.requireNonNull(approvalId, "approvalId");
        Objects.requireNonNull(verdict, "verdict");
        Objects.requireNonNull(actor, "actor");
        if (comment != null && comment.isBlank()) comment = null;
        if (comment != null && comment.length() > MAX_COMMENT) {
            throw new InvalidInputException("comment", "the comment is longer than " + MAX_COMMENT + " characters");
        }
        if (comment != null && comment.indexOf('\u0000') >= 0) {
            throw new InvalidInputException("comment", "the comment contains a NUL character");
        }
    }

    /** Longest comment kept with a decision. */
    public static final int MAX_COMMENT = 10_000;

    public enum Verdict { APPROVE, REJECT, CANCEL, EXPIRE }

    /** Who asks to decide. */
    public sealed interface Actor {
        /** A person of the config file, through a channel (slack, teams, web) or an operator tool (cli). */
        record PersonActor(String personId, DecidedVia via) implements Actor {}

        /** The agent that asked, withdrawing its own request. */
        record AgentActor(String agentId) implements Actor {}

        /** A timer: the expiry, or the end of a veto window. */
        record TimerActor(String reason) implements Actor {}
    }

    public static DecisionCommand byPerson(String approvalId, Verdict verdict, String personId, DecidedVia via, String comment) {
        return new DecisionCommand(approvalId, verdict, new Actor.PersonActor(personId, via), comment);
    }
}
