package dev.countersign.core.channel;

import java.time.Duration;
import java.util.Optional;

/**
 * A channel could not deliver now and wants the core to try again later, after {@code retryAfter} when
 * the platform said so (Slack's and Teams' 429 {@code Retry-After}). Any other exception from a durable
 * channel is retried too, with backoff; this one only carries the platform's hint.
 */
public class ChannelException extends RuntimeException {
    private final Duration retryAfter;

    public ChannelException(String message, Duration retryAfter, Throwable cause) {
        super(message, cause);
        this.retryAfter = retryAfter;
    }

    public ChannelException(String message) {
        this(message, null, null);
    }

    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }
}
