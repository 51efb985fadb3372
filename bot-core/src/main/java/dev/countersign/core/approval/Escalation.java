package dev.countersign.core.approval;

import java.time.Instant;

/** How far an approval has escalated (0 = the first approvers) and when its next timer is due. */
public record Escalation(int level, Instant nextAt) {}
