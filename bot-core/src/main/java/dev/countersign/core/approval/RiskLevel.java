package dev.countersign.core.approval;

import java.util.Locale;
import java.util.Optional;

/** Low: go. Medium: go and record for review (or wait out a veto window). High: wait for people. */
public enum RiskLevel {
    LOW, MEDIUM, HIGH;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The higher of the two: an agent's hint may raise the policy's level, never lower it. */
    public RiskLevel atLeast(RiskLevel other) {
        return other != null && other.ordinal() > ordinal() ? other : this;
    }

    public static Optional<RiskLevel> parse(String value) {
        if (value == null) return Optional.empty();
        for (RiskLevel level : values()) {
            if (level.wire().equals(value)) return Optional.of(level);
        }
        return Optional.empty();
    }
}
