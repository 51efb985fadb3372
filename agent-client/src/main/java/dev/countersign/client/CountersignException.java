package dev.countersign.client;

/**
 * The request could not be made or was refused: a bad key ({@code 401}), a refused request (a {@code 4xx} whose
 * JSON error names the {@link #field()}), a server that stayed unreachable or kept failing after the retries
 * ({@link #httpStatus()} {@code 0} or {@code 5xx}). When this is thrown by {@code executeWithApproval}, the action
 * did not run.
 */
public class CountersignException extends RuntimeException {
    private final int httpStatus;
    private final String code;
    private final String field;

    public CountersignException(int httpStatus, String code, String message, String field) {
        this(httpStatus, code, message, field, null);
    }

    public CountersignException(int httpStatus, String code, String message, String field, Throwable cause) {
        super(message, cause);
        this.httpStatus = httpStatus;
        this.code = code;
        this.field = field;
    }

    /** The HTTP status of the refusal; {@code 0} when no answer came (unreachable, timed out, interrupted). */
    public int httpStatus() {
        return httpStatus;
    }

    /**
     * The server's error code ({@code invalid_key}, {@code invalid_input}, {@code not_found}, …), or the client's own:
     * {@code unreachable}, {@code server_error}, {@code bad_response}, {@code unknown_status}, {@code interrupted}.
     */
    public String code() {
        return code;
    }

    /** The request field the server named ({@code action.summary}, {@code timeout}, …), or null. */
    public String field() {
        return field;
    }
}
