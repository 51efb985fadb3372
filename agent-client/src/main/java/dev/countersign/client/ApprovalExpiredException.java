package dev.countersign.client;

/** Nobody decided in time and the server expired the request (fail closed). */
public class ApprovalExpiredException extends ApprovalDeniedException {
    public ApprovalExpiredException(Outcome outcome) {
        super("expired: nobody decided before " + (outcome.json().path("expires_at").asText("the deadline")) + " (" + outcome.id() + ")", outcome);
    }
}
