package dev.countersign.core.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.countersign.core.store.Database;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * The append-only audit log. Entries are appended inside the transaction of the change they record, and
 * each one's hash covers the previous hash, so removing or editing any entry breaks every hash after it.
 * The single {@code audit_head} row is locked per append: entries chain in commit order, across nodes.
 */
public final class AuditLog {
    public static final String GENESIS = "0".repeat(64);
    private static final ObjectMapper JSON = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

    private final Database db;

    public AuditLog(Database db) {
        this.db = db;
    }

    /** Appends entries in the caller's transaction. Call it last in the transaction: it holds the chain's lock until commit. */
    public void append(Connection c, Instant when, List<AuditEntry> entries) throws SQLException {
        if (entries.isEmpty()) return;
        Instant at = when.truncatedTo(ChronoUnit.MILLIS);
        long seq;
        String prev;
        try (PreparedStatement head = c.prepareStatement("SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE");
             ResultSet rs = head.executeQuery()) {
            rs.next();
            seq = rs.getLong(1);
            prev = rs.getString(2);
        }
        try (PreparedStatement ins = c.prepareStatement(
                "INSERT INTO audit_log (seq, at, approval_id, kind, actor, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (AuditEntry e : entries) {
                seq++;
                String detail = toJson(e.detail());
                String hash = hash(prev, seq, at, e.approvalId(), e.kind(), e.actor(), detail);
                ins.setLong(1, seq);
                ins.setObject(2, OffsetDateTime.ofInstant(at, ZoneOffset.UTC));
                ins.setString(3, e.approvalId());
                ins.setString(4, e.kind());
                ins.setString(5, e.actor());
                ins.setString(6, detail);
                ins.setString(7, prev);
                ins.setString(8, hash);
                ins.addBatch();
                prev = hash;
            }
            ins.executeBatch();
        }
        try (PreparedStatement upd = c.prepareStatement("UPDATE audit_head SET last_seq = ?, last_hash = ? WHERE id = 1")) {
            upd.setLong(1, seq);
            upd.setString(2, prev);
            upd.executeUpdate();
        }
    }

    /** Appends in a transaction of its own. */
    public void append(Instant when, AuditEntry entry) {
        db.inTransaction(c -> {
            append(c, when, List.of(entry));
            return null;
        });
    }

    /** The outcome of checking the whole chain. */
    public record Verification(boolean intact, long entries, Long firstBrokenSeq, String problem) {}

    /** Recomputes every hash from the first entry and checks each link and the head. */
    public Verification verify() {
        return db.read(c -> {
            String prev = GENESIS;
            long expectedSeq = 0;
            long count = 0;
            try (PreparedStatement ps = c.prepareStatement("SELECT seq, at, approval_id, kind, actor, detail, prev_hash, hash FROM audit_log ORDER BY seq")) {
                ps.setFetchSize(1000);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        AuditRecord r = read(rs);
                        expectedSeq++;
                        count++;
                        if (r.seq() != expectedSeq) {
                            return new Verification(false, count, r.seq(), "entry " + expectedSeq + " is missing (next is " + r.seq() + ")");
                        }
                        if (!r.prevHash().equals(prev)) {
                            return new Verification(false, count, r.seq(), "entry " + r.seq() + " does not link to the entry before it");
                        }
                        String recomputed = hash(prev, r.seq(), r.at(), r.approvalId(), r.kind(), r.actor(), r.detail());
                        if (!recomputed.equals(r.hash())) {
                            return new Verification(false, count, r.seq(), "entry " + r.seq() + " was altered (its hash does not match its content)");
                        }
                        prev = r.hash();
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT last_seq, last_hash FROM audit_head WHERE id = 1");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getLong(1) != expectedSeq || !rs.getString(2).equals(prev)) {
                    return new Verification(false, count, rs.getLong(1), "the chain ends at entry " + expectedSeq + " but the head records entry " + rs.getLong(1) + " (entries were removed from the end)");
                }
            }
            return new Verification(true, count, null, null);
        });
    }

    /** Streams every entry in order (for export). */
    public void forEach(Consumer<AuditRecord> sink) {
        db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT seq, at, approval_id, kind, actor, detail, prev_hash, hash FROM audit_log ORDER BY seq")) {
                ps.setFetchSize(1000);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) sink.accept(read(rs));
                }
            }
            return null;
        });
    }

    /** The entries of one approval, oldest first. */
    public List<AuditRecord> forApproval(String approvalId) {
        return db.read(c -> {
            List<AuditRecord> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT seq, at, approval_id, kind, actor, detail, prev_hash, hash FROM audit_log WHERE approval_id = ? ORDER BY seq")) {
                ps.setString(1, approvalId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.add(read(rs));
                }
            }
            return out;
        });
    }

    private static AuditRecord read(ResultSet rs) throws SQLException {
        return new AuditRecord(rs.getLong(1), rs.getObject(2, OffsetDateTime.class).toInstant(), rs.getString(3), rs.getString(4),
                rs.getString(5), rs.getString(6), rs.getString(7), rs.getString(8));
    }

    static String hash(String prev, long seq, Instant at, String approvalId, String kind, String actor, String detail) {
        String canonical = String.join("\u001f", prev, Long.toString(seq), at.toString(),
                approvalId == null ? "" : approvalId, kind, actor, detail);
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(sha.digest(canonical.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String toJson(Object detail) {
        try {
            return JSON.writeValueAsString(detail);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("audit detail is not serializable", e);
        }
    }
}
