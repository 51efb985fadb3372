package dev.countersign.core;

/** Input that cannot be accepted; {@link #field()} names the offending field as a dotted path. */
public class InvalidInputException extends CountersignException {
    private final String field;

    public InvalidInputException(String field, String message) {
        super("invalid_input", message);
        this.field = field;
    }

    public InvalidInputException(String code, String field, String message) {
        super(code, message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
