package dev.countersign.core.approval;

import java.util.Locale;

/** Where an approval stands. Every state but {@link #PENDING} is terminal. */
public enum Status {
    PENDING, APPROVED, REJECTED, EXPIRED, CANCELLED;

    public boolean isTerminal() {
        return this != PENDING;
    }

    /** The lower-case name used on the wire and in the database. */
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Status fromWire(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
