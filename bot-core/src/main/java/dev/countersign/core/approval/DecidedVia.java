package dev.countersign.core.approval;

import java.util.Locale;

/** The way a decision arrived: a person in a channel, an operator tool, the policy, a timer or the agent. */
public enum DecidedVia {
    SLACK, TEAMS, WEB, CLI, POLICY, TIMER, AGENT;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static DecidedVia fromWire(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }

    /** Decisions made by a person (as opposed to the system deciding on its own). */
    public boolean isPerson() {
        return this == SLACK || this == TEAMS || this == WEB || this == CLI;
    }
}
