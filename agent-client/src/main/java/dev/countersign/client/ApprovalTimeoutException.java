package dev.countersign.client;

import java.time.Duration;

/**
 * The agent's own wait ended while the approval was still pending. {@code executeWithApproval} then withdraws
 * the request (so a late click cannot approve an action nobody will run) and throws this; {@link #outcome()} is
 * the approval after that withdrawal ({@code cancelled}), or the last one seen if the withdrawal failed.
 */
public class ApprovalTimeoutException extends ApprovalDeniedException {
    public ApprovalTimeoutException(Outcome outcome, Duration waited) {
        super("no decision within " + waited + "; the request was withdrawn (" + outcome.id() + ")", outcome);
    }
}
