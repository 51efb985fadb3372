package dev.countersign.teams;

import dev.countersign.core.store.Database;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Locale;
import java.util.Optional;

/**
 * Conversation references: where the bot is installed and which users it can reach, kept in the database so that
 * approvals can be posted and DMs opened after a restart. Everything here came in an authenticated activity.
 */
public final class ConversationStore {
    /** A team channel or chat the bot is in. */
    public record ConversationRef(String conversationId, String type, String serviceUrl, String tenantId, String teamId) {}

    /** A user the bot has seen. {@code personalConversationId} is null until the bot has a 1:1 chat with them. */
    public record UserRef(String aadObjectId, String userId, String serviceUrl, String tenantId, String personalConversationId) {}

    private final Database db;
    private final Clock clock;

    public ConversationStore(Database db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    public void saveConversation(ConversationRef ref) {
        db.inTransaction(c -> {
            int n;
            try (PreparedStatement ps = c.prepareStatement("UPDATE teams_conversation SET conversation_type = ?, service_url = ?, "
                    + "tenant_id = COALESCE(?, tenant_id), team_id = COALESCE(?, team_id), updated_at = ? WHERE conversation_id = ?")) {
                ps.setString(1, ref.type());
                ps.setString(2, ref.serviceUrl());
                ps.setString(3, ref.tenantId());
                ps.setString(4, ref.teamId());
                ps.setObject(5, now());
                ps.setString(6, ref.conversationId());
                n = ps.executeUpdate();
            }
            if (n == 0) {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO teams_conversation (conversation_id, conversation_type, service_url, "
                        + "tenant_id, team_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)")) {
                    ps.setString(1, ref.conversationId());
                    ps.setString(2, ref.type());
                    ps.setString(3, ref.serviceUrl());
                    ps.setString(4, ref.tenantId());
                    ps.setString(5, ref.teamId());
                    ps.setObject(6, now());
                    ps.executeUpdate();
                }
            }
            return null;
        });
    }

    /**
     * The conversation, found by its id or, for a team, by the team id: the id of a team's General channel is the
     * team's id, so a team installation also answers for it.
     */
    public Optional<ConversationRef> conversation(String conversationId) {
        return db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT conversation_id, conversation_type, service_url, tenant_id, team_id "
                    + "FROM teams_conversation WHERE conversation_id = ? OR team_id = ? ORDER BY updated_at DESC")) {
                ps.setString(1, conversationId);
                ps.setString(2, conversationId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.empty();
                    return Optional.of(new ConversationRef(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5)));
                }
            }
        });
    }

    public void forgetConversation(String conversationId) {
        db.inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM teams_conversation WHERE conversation_id = ?")) {
                ps.setString(1, conversationId);
                ps.executeUpdate();
            }
            return null;
        });
    }

    /** Remembers a user; a known 1:1 chat is kept when {@code personalConversationId} is null. */
    public void saveUser(UserRef ref) {
        String aad = ref.aadObjectId().toLowerCase(Locale.ROOT);
        db.inTransaction(c -> {
            int n;
            try (PreparedStatement ps = c.prepareStatement("UPDATE teams_user SET user_id = ?, service_url = ?, tenant_id = COALESCE(?, tenant_id), "
                    + "personal_conversation_id = COALESCE(?, personal_conversation_id), updated_at = ? WHERE aad_object_id = ?")) {
                ps.setString(1, ref.userId());
                ps.setString(2, ref.serviceUrl());
                ps.setString(3, ref.tenantId());
                ps.setString(4, ref.personalConversationId());
                ps.setObject(5, now());
                ps.setString(6, aad);
                n = ps.executeUpdate();
            }
            if (n == 0) insertUser(c, ref, aad);
            return null;
        });
    }

    private void insertUser(Connection c, UserRef ref, String aad) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO teams_user (aad_object_id, user_id, service_url, tenant_id, "
                + "personal_conversation_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, aad);
            ps.setString(2, ref.userId());
            ps.setString(3, ref.serviceUrl());
            ps.setString(4, ref.tenantId());
            ps.setString(5, ref.personalConversationId());
            ps.setObject(6, now());
            ps.executeUpdate();
        }
    }

    public Optional<UserRef> user(String aadObjectId) {
        if (aadObjectId == null) return Optional.empty();
        return db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT aad_object_id, user_id, service_url, tenant_id, personal_conversation_id "
                    + "FROM teams_user WHERE aad_object_id = ?")) {
                ps.setString(1, aadObjectId.toLowerCase(Locale.ROOT));
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.empty();
                    return Optional.of(new UserRef(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5)));
                }
            }
        });
    }

    private OffsetDateTime now() {
        return OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
    }
}
