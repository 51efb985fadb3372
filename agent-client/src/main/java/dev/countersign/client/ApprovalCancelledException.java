package dev.countersign.client;

/** The request was withdrawn (by this agent, or another process holding its key) before anyone approved it. */
public class ApprovalCancelledException extends ApprovalDeniedException {
    public ApprovalCancelledException(Outcome outcome) {
        super("cancelled: the request was withdrawn" + (outcome.comment() == null ? "" : ": " + outcome.comment()) + " (" + outcome.id() + ")", outcome);
    }
}
