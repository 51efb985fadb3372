package dev.countersign.client;

import java.util.Locale;

/** Where an approval stands. Only {@link #APPROVED} lets an action run. */
public enum Status {
    PENDING, APPROVED, REJECTED, EXPIRED, CANCELLED;

    /** The API's word ({@code pending}, {@code approved}, …). */
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The status for an API word. An unknown word is an error, never a guess: the client fails closed.
     *
     * @throws CountersignException for a word this client does not know
     */
    public static Status fromWire(String word) {
        if (word != null) {
            for (Status s : values()) {
                if (s.wire().equals(word)) return s;
            }
        }
        throw new CountersignException(0, "unknown_status", "the server answered an unknown approval status '" + word
                + "'; not treating it as approved", "status");
    }
}
