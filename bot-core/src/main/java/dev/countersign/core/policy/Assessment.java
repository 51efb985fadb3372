package dev.countersign.core.policy;

import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.Risk;

import java.time.Duration;

/** The policy's verdict on one ask: the risk (with the rule and why), the plan of who decides and when, and how long it may wait. */
public record Assessment(Risk risk, Plan plan, Duration expiresAfter) {}
