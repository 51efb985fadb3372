package dev.countersign.client;

/** A person (or, for a quorum, one of the approvers) rejected the action. */
public class ApprovalRejectedException extends ApprovalDeniedException {
    public ApprovalRejectedException(Outcome outcome) {
        super("rejected by " + (outcome.decidedBy() == null ? "an approver" : outcome.decidedBy())
                + (outcome.comment() == null ? "" : ": " + outcome.comment()) + " (" + outcome.id() + ")", outcome);
    }

    /** The person who rejected it (their id in the server's config), or null if unknown. */
    public String decidedBy() {
        return outcome().decidedBy();
    }

    /** Their comment, or null. */
    public String comment() {
        return outcome().comment();
    }
}
