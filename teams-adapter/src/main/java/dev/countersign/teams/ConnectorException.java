package dev.countersign.teams;

import dev.countersign.core.channel.ChannelException;

import java.time.Duration;

/**
 * A Connector call that failed, with the HTTP status it answered (0: no answer — a network error or a timeout).
 * {@link #permanent()} failures (400, 403, 404: a bad activity, the bot removed or blocked, the conversation or
 * activity gone) will fail the same way every time, so the channel gives up on that one target instead of retrying.
 */
public final class ConnectorException extends ChannelException {
    private final int status;

    ConnectorException(String message, int status, Duration retryAfter, Throwable cause) {
        super(message, retryAfter, cause);
        this.status = status;
    }

    /** The HTTP status, or 0 when none was received. */
    public int status() {
        return status;
    }

    /** True when trying again cannot help: 400, 403 or 404. */
    public boolean permanent() {
        return status == 400 || status == 403 || status == 404;
    }
}
