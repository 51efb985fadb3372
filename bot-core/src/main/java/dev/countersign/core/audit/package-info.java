/** The append-only, SHA-256 hash-chained audit log: append in the change's transaction, verify, export. */
package dev.countersign.core.audit;
