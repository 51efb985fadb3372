package dev.countersign.core.channel;

import java.util.List;

/** Where one channel posted one approval's messages (a Slack ts, a Teams activity id), kept in the database. */
public interface PostLog {
    void remember(String ref);

    /** Every reference remembered for this approval and channel, oldest first. */
    List<String> refs();
}
