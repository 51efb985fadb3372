package dev.countersign.core.approval;

import java.time.Instant;

/** One person's approval toward a quorum. */
public record Vote(String personId, String personName, DecidedVia channel, String comment, Instant at) {}
