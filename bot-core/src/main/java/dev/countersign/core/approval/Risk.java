package dev.countersign.core.approval;

/** The assessed risk, the rule that matched (null when none did) and why. */
public record Risk(RiskLevel level, String explanation, String rule) {}
