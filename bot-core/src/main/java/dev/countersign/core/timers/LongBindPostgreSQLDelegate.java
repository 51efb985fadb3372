package dev.countersign.core.timers;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.quartz.TriggerKey;
import org.quartz.impl.jdbcjobstore.PostgreSQLDelegate;

/**
 * Quartz's PostgreSQL delegate with a trigger-acquisition query that can use an index.
 *
 * <p>The stock query binds NEXT_FIRE_TIME bounds with {@code setBigDecimal}. PostgreSQL then
 * compares {@code next_fire_time::numeric}, which no bigint index can serve, so every
 * acquisition seq-scans QRTZ_TRIGGERS and costs O(pending timers) (quartz issue #612; 17-37 ms
 * per call at 100k pending here). Binding {@code long} lets the planner use
 * IDX_QRTZ_T_NFT_ST (sched_name, trigger_state, next_fire_time), and a LIMIT (rather than only
 * {@code setMaxRows}, which the planner never sees) lets it stop after the first rows in
 * NEXT_FIRE_TIME order. Measured here: about 8x faster acquisition at 100k pending.
 *
 * <p>The WHERE clause, ordering and result are those of Quartz 2.5.2
 * {@code StdJDBCDelegate.selectTriggerToAcquire}; re-check on every Quartz upgrade.
 */
public class LongBindPostgreSQLDelegate extends PostgreSQLDelegate {

    // StdJDBCConstants.SELECT_NEXT_TRIGGER_TO_ACQUIRE plus LIMIT. Goes through rtp(), which is a
    // MessageFormat: keep single quotes out of it.
    static final String SELECT_NEXT_TRIGGER_TO_ACQUIRE_LIMITED =
            "SELECT TRIGGER_NAME, TRIGGER_GROUP, NEXT_FIRE_TIME, PRIORITY FROM {0}TRIGGERS"
                    + " WHERE SCHED_NAME = {1} AND TRIGGER_STATE = ? AND NEXT_FIRE_TIME <= ?"
                    + " AND (MISFIRE_INSTR = -1 OR (MISFIRE_INSTR <> -1 AND NEXT_FIRE_TIME >= ?))"
                    + " ORDER BY NEXT_FIRE_TIME ASC, PRIORITY DESC"
                    + " LIMIT ?";

    @Override
    public List<TriggerKey> selectTriggerToAcquire(
            Connection conn, long noLaterThan, long noEarlierThan, int maxCount) throws SQLException {
        // Same floor as the parent: Quartz asks for at least one trigger.
        int limit = Math.max(maxCount, 1);
        List<TriggerKey> keys = new ArrayList<>(limit);
        try (PreparedStatement ps = conn.prepareStatement(rtp(SELECT_NEXT_TRIGGER_TO_ACQUIRE_LIMITED))) {
            ps.setFetchSize(limit);
            ps.setString(1, STATE_WAITING);
            ps.setLong(2, noLaterThan);
            ps.setLong(3, noEarlierThan);
            ps.setInt(4, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next() && keys.size() < limit) {
                    keys.add(TriggerKey.triggerKey(rs.getString(COL_TRIGGER_NAME), rs.getString(COL_TRIGGER_GROUP)));
                }
            }
        }
        return keys;
    }
}
