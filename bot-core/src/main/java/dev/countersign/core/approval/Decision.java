package dev.countersign.core.approval;

import java.time.Instant;

/** How an approval ended: the outcome, who decided through which way, their comment, and when. */
public record Decision(Status outcome, Decider by, String comment, Instant at) {
    /** Who decided. For the system (policy, timer) the id names the mechanism, e.g. {@code policy}. */
    public record Decider(String id, String name, DecidedVia channel) {}
}
