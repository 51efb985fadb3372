package dev.countersign.core.store;

import dev.countersign.core.approval.Action;
import dev.countersign.core.approval.AgentRef;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.Risk;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Approvals in the database. Methods that take a {@link Connection} run inside the caller's transaction
 * (so the change, its audit entries and its webhook land together); the others run on their own.
 */
public final class ApprovalStore {
    private static final String COLUMNS = "id, agent_id, status, risk_level, rule_name, spec, plan, callback_url, created_at, expires_at, "
            + "escalation_level, decided_outcome, decided_by_id, decided_by_name, decided_via, decision_comment, decided_at, request_hash";

    /** What the agent asked, as stored: the parts of an approval that never change. */
    record Spec(Action action, String runId, String requestedFor, AskContext context, String riskExplanation) {}

    private final Database db;

    public ApprovalStore(Database db) {
        this.db = db;
    }

    public Database database() {
        return db;
    }

    /**
     * Inserts a new approval. Returns false, inserting nothing, when the agent already used this
     * idempotency key (the unique index decides, so two racing repeats cannot both insert).
     */
    public boolean insert(Connection c, Approval a, String idempotencyKey, String requestHash) throws SQLException {
        return unlessDuplicate(c, () -> insertRow(c, a, idempotencyKey, requestHash));
    }

    private void insertRow(Connection c, Approval a, String idempotencyKey, String requestHash) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO approval (id, agent_id, idempotency_key, request_hash, status, risk_level, rule_name, spec, plan, "
                + "callback_url, created_at, expires_at, escalation_level, decided_outcome, decided_by_id, decided_by_name, decided_via, decision_comment, decided_at) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, a.id());
            ps.setString(2, a.agent().id());
            ps.setString(3, idempotencyKey);
            ps.setString(4, requestHash);
            ps.setString(5, a.status().wire());
            ps.setString(6, a.risk().level().wire());
            ps.setString(7, a.risk().rule());
            ps.setString(8, Json.write(new Spec(a.action(), a.agent().runId(), a.requestedFor(), a.context(), a.risk().explanation())));
            ps.setString(9, Json.write(a.plan()));
            ps.setString(10, a.callbackUrl());
            ps.setObject(11, ts(a.createdAt()));
            ps.setObject(12, ts(a.expiresAt()));
            ps.setInt(13, a.escalationLevel());
            setDecision(ps, 14, a.decision());
            ps.executeUpdate();
        }
    }

    private interface Statement {
        void run() throws SQLException;
    }

    /**
     * Runs one insert; a unique-key violation returns false and leaves the transaction usable. PostgreSQL
     * aborts the whole transaction on any error, so the insert runs behind a savepoint there.
     */
    private static boolean unlessDuplicate(Connection c, Statement insert) throws SQLException {
        java.sql.Savepoint sp = c.getAutoCommit() ? null : c.setSavepoint();
        try {
            insert.run();
            if (sp != null) c.releaseSavepoint(sp);
            return true;
        } catch (SQLException e) {
            if (!StoreException.isUniqueViolation(e)) throw e;
            if (sp != null) c.rollback(sp);
            return false;
        }
    }

    /** An approval found by an agent's idempotency key, with the hash of the request that created it. */
    public record Keyed(Approval approval, String requestHash) {}

    public Optional<Keyed> findByIdempotencyKey(String agentId, String key) {
        return db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM approval WHERE agent_id = ? AND idempotency_key = ?")) {
                ps.setString(1, agentId);
                ps.setString(2, key);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.empty();
                    String hash = rs.getString("request_hash");
                    return Optional.of(new Keyed(withVotes(c, read(rs)), hash));
                }
            }
        });
    }

    public Optional<Approval> find(String id) {
        return db.read(c -> find(c, id, false));
    }

    /** Reads one approval; with {@code forUpdate} it locks the row until the transaction ends. */
    public Optional<Approval> find(Connection c, String id, boolean forUpdate) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM approval WHERE id = ?" + (forUpdate ? " FOR UPDATE" : ""))) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(withVotes(c, read(rs))) : Optional.empty();
            }
        }
    }

    /** Newest first. {@code agentId} and {@code status} are filters; null means any. */
    public List<Approval> list(String agentId, Status status, int limit) {
        StringBuilder sql = new StringBuilder("SELECT ").append(COLUMNS).append(" FROM approval WHERE 1 = 1");
        if (agentId != null) sql.append(" AND agent_id = ?");
        if (status != null) sql.append(" AND status = ?");
        sql.append(" ORDER BY created_at DESC, id LIMIT ?");
        return db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
                int i = 1;
                if (agentId != null) ps.setString(i++, agentId);
                if (status != null) ps.setString(i++, status.wire());
                ps.setInt(i, limit);
                List<Approval> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.add(withVotes(c, read(rs)));
                }
                return out;
            }
        });
    }

    /** The ids of every pending approval (for the timer reconciler), oldest first. */
    public List<String> pendingIds() {
        return db.read(c -> {
            List<String> ids = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT id FROM approval WHERE status = 'pending' ORDER BY created_at");
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) ids.add(rs.getString(1));
            }
            return ids;
        });
    }

    public long countPending() {
        return db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM approval WHERE status = 'pending'");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        });
    }

    /**
     * Records the decision only if the approval is still pending: the one place an outcome is written.
     * Returns false when another decision got there first.
     */
    public boolean recordDecision(Connection c, String id, Decision d) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE approval SET status = ?, decided_outcome = ?, decided_by_id = ?, decided_by_name = ?, "
                + "decided_via = ?, decision_comment = ?, decided_at = ? WHERE id = ? AND status = 'pending'")) {
            ps.setString(1, d.outcome().wire());
            setDecision(ps, 2, d);
            ps.setString(8, id);
            return ps.executeUpdate() == 1;
        }
    }

    /** Moves a pending approval one escalation level up, only from the level the caller saw. */
    public boolean escalate(Connection c, String id, int fromLevel) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE approval SET escalation_level = ? WHERE id = ? AND status = 'pending' AND escalation_level = ?")) {
            ps.setInt(1, fromLevel + 1);
            ps.setString(2, id);
            ps.setInt(3, fromLevel);
            return ps.executeUpdate() == 1;
        }
    }

    /** Counts one person's approval toward the quorum; a repeat by the same person changes nothing. */
    public void addVote(Connection c, String approvalId, Vote v) throws SQLException {
        unlessDuplicate(c, () -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO approval_vote (approval_id, person_id, person_name, via, comment, voted_at) VALUES (?, ?, ?, ?, ?, ?)")) {
                ps.setString(1, approvalId);
                ps.setString(2, v.personId());
                ps.setString(3, v.personName());
                ps.setString(4, v.channel().wire());
                ps.setString(5, v.comment());
                ps.setObject(6, ts(v.at()));
                ps.executeUpdate();
            }
        });
    }

    public void recordChannelPost(String approvalId, String channel, String ref, Instant at) {
        db.read(c -> {
            return unlessDuplicate(c, () -> {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO channel_post (approval_id, channel, post_ref, posted_at) VALUES (?, ?, ?, ?)")) {
                    ps.setString(1, approvalId);
                    ps.setString(2, channel);
                    ps.setString(3, ref);
                    ps.setObject(4, ts(at));
                    ps.executeUpdate();
                }
            });
        });
    }

    public List<String> channelPosts(String approvalId, String channel) {
        return db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT post_ref FROM channel_post WHERE approval_id = ? AND channel = ? ORDER BY posted_at")) {
                ps.setString(1, approvalId);
                ps.setString(2, channel);
                List<String> refs = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) refs.add(rs.getString(1));
                }
                return refs;
            }
        });
    }

    private Approval withVotes(Connection c, Approval a) throws SQLException {
        if (a.plan().quorum() <= 1) return a;
        List<Vote> votes = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT person_id, person_name, via, comment, voted_at FROM approval_vote WHERE approval_id = ? ORDER BY voted_at, person_id")) {
            ps.setString(1, a.id());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    votes.add(new Vote(rs.getString(1), rs.getString(2), DecidedVia.fromWire(rs.getString(3)), rs.getString(4), instant(rs, 5)));
                }
            }
        }
        return new Approval(a.id(), a.agent(), a.requestedFor(), a.action(), a.context(), a.risk(), a.plan(), a.callbackUrl(),
                a.createdAt(), a.expiresAt(), a.status(), a.escalationLevel(), a.decision(), votes);
    }

    private static Approval read(ResultSet rs) throws SQLException {
        Spec spec = Json.read(rs.getString("spec"), Spec.class);
        Plan plan = Json.read(rs.getString("plan"), Plan.class);
        Decision decision = null;
        String outcome = rs.getString("decided_outcome");
        if (outcome != null) {
            decision = new Decision(Status.fromWire(outcome),
                    new Decision.Decider(rs.getString("decided_by_id"), rs.getString("decided_by_name"), DecidedVia.fromWire(rs.getString("decided_via"))),
                    rs.getString("decision_comment"), instant(rs, "decided_at"));
        }
        Risk risk = new Risk(RiskLevel.parse(rs.getString("risk_level")).orElseThrow(), spec.riskExplanation(), rs.getString("rule_name"));
        return new Approval(rs.getString("id"), new AgentRef(rs.getString("agent_id"), spec.runId()), spec.requestedFor(), spec.action(),
                spec.context(), risk, plan, rs.getString("callback_url"), instant(rs, "created_at"), instant(rs, "expires_at"),
                Status.fromWire(rs.getString("status")), rs.getInt("escalation_level"), decision, List.of());
    }

    private static void setDecision(PreparedStatement ps, int from, Decision d) throws SQLException {
        if (d == null) {
            for (int i = 0; i < 6; i++) ps.setNull(from + i, i == 5 ? Types.TIMESTAMP_WITH_TIMEZONE : Types.VARCHAR);
            return;
        }
        ps.setString(from, d.outcome().wire());
        ps.setString(from + 1, d.by().id());
        ps.setString(from + 2, d.by().name());
        ps.setString(from + 3, d.by().channel().wire());
        ps.setString(from + 4, d.comment());
        ps.setObject(from + 5, ts(d.at()));
    }

    static OffsetDateTime ts(Instant i) {
        return i == null ? null : OffsetDateTime.ofInstant(i, ZoneOffset.UTC);
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }
}
