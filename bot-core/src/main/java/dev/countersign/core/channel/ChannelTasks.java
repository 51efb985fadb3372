package dev.countersign.core.channel;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;

/**
 * Records, inside the transaction of a change, the calls durable channels still owe for it, so that the change
 * never commits without them. Ask (③), decide (⑦) and the timers (④) call it; {@link ChannelFanout} delivers.
 */
public interface ChannelTasks {

    enum Kind { PUBLISH, UPDATE, ESCALATION }

    /** {@code personIds}: for {@link Kind#ESCALATION}, who may decide now and should be told directly. */
    void record(Connection c, String approvalId, Kind kind, List<String> personIds, Instant now) throws SQLException;

    /** For engines without durable channels, and tests of a single step. */
    ChannelTasks NONE = (c, approvalId, kind, personIds, now) -> { };
}
