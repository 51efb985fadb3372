package dev.countersign.core.audit;

import java.time.Instant;

/** An audit entry as stored, with its place in the chain. */
public record AuditRecord(long seq, Instant at, String approvalId, String kind, String actor, String detail, String prevHash, String hash) {}
