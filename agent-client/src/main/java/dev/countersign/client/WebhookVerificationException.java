package dev.countersign.client;

/** A webhook the {@link WebhookVerifier} refused; {@link #reason()} says why. */
public class WebhookVerificationException extends RuntimeException {
    /** Why a webhook was refused. */
    public enum Reason {
        /** A {@code webhook-id}, {@code webhook-timestamp} or {@code webhook-signature} header is missing or malformed. */
        MISSING_HEADER,
        /** No {@code v1} signature matches the body under the secret: forged or altered. */
        BAD_SIGNATURE,
        /** The timestamp is outside the tolerance window (too old, or in the future). */
        TIMESTAMP_OUT_OF_RANGE,
        /**
         * The {@code webhook-id} was already accepted: a replay, or the server's retry of a webhook this receiver
         * already took (answer it 2xx so the server stops retrying).
         */
        REPLAYED
    }

    private final Reason reason;

    public WebhookVerificationException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
