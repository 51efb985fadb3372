package dev.countersign.core;

/**
 * The root of every error Countersign raises on purpose. Each subclass carries a stable {@link #code()}
 * that the API puts in its JSON error, so callers can branch on it without parsing the message.
 */
public class CountersignException extends RuntimeException {
    private final String code;

    public CountersignException(String code, String message) {
        super(message);
        this.code = code;
    }

    public CountersignException(String code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public String code() {
        return code;
    }
}
