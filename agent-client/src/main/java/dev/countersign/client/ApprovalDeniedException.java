package dev.countersign.client;

/** The action was not approved, so it did not run. {@link #outcome()} is the approval as it ended. */
public class ApprovalDeniedException extends RuntimeException {
    private final transient Outcome outcome;

    public ApprovalDeniedException(String message, Outcome outcome) {
        super(message);
        this.outcome = outcome;
    }

    public Outcome outcome() {
        return outcome;
    }

    /** The approval's id. */
    public String approvalId() {
        return outcome == null ? null : outcome.id();
    }
}
