package dev.countersign.core.decide;

import dev.countersign.core.approval.Approval;

/** What became of a {@link DecisionCommand}. Exactly one command per approval ever gets {@link Decided}. */
public sealed interface DecisionResult {

    /** This command decided the approval. */
    record Decided(Approval approval) implements DecisionResult {}

    /** An approval counted toward the quorum; {@code remaining} more distinct approvals are needed. */
    record VoteCounted(Approval approval, int remaining) implements DecisionResult {}

    /** Someone else decided first; {@code approval.decision()} says who, how and when. */
    record AlreadyDecided(Approval approval) implements DecisionResult {}

    /** Not allowed: nothing changed. {@code reason} is a stable code, {@code message} says why to a person. */
    record Refused(Reason reason, String message) implements DecisionResult {}

    enum Reason { NOT_FOUND, UNKNOWN_PERSON, NOT_ELIGIBLE, SELF_APPROVAL, NOT_YOURS, NOT_ALLOWED }
}
