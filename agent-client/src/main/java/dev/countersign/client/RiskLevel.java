package dev.countersign.client;

import java.util.Locale;

/** The policy's risk levels. As a {@link Context.Builder#riskHint hint} it can raise the level, never lower it. */
public enum RiskLevel {
    LOW, MEDIUM, HIGH;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The level for an API word, or null for an unknown or missing one. */
    public static RiskLevel fromWire(String word) {
        if (word != null) {
            for (RiskLevel r : values()) {
                if (r.wire().equals(word)) return r;
            }
        }
        return null;
    }
}
