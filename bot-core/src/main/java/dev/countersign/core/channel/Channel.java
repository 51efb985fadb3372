package dev.countersign.core.channel;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Person;

import java.util.List;

/**
 * What a channel (Slack, Teams, the web pages, a test channel) implements to show approvals to people.
 * The core calls it after each change is committed, off the request thread, one approval at a time in
 * order. A channel hands people's clicks back through the {@link ChannelPort} it was built with, and never
 * decides anything itself.
 *
 * <p>A {@link #durable()} channel (Slack, Teams: a platform far away that can fail or rate-limit) gets its
 * calls from a queue in the database, written in the same transaction as the change: a call that throws is
 * tried again later (after {@link ChannelException#retryAfter()} when given, else with backoff), also after a
 * restart, until it succeeds. Such a channel must therefore tolerate a repeated call: {@code publish} skips
 * targets already in its {@link PostLog}, {@code update} renders the approval as it now stands. The calls
 * for one approval keep their order. A channel that is not durable (the web pages' live updates) is called
 * once, from memory.
 *
 * <p>Every method gets the approval as it now stands (an immutable value) and the channel's own
 * {@link PostLog}, where it remembers what it posted so that {@link #update} can reach every message.
 * A channel that throws never blocks the other channels.
 */
public interface Channel {

    /** A short lower-case name: {@code slack}, {@code teams}, {@code web}. Also the key of rule targets. */
    String name();

    /**
     * A new approval. Pending ones wait for people; decided ones (medium risk under logged review) are
     * posted for information. {@code approval.plan().channelTargets().get(name())} is where the rule
     * wants it posted, if anywhere special.
     */
    void publish(Approval approval, PostLog posts);

    /** The approval changed (decided, escalated, a vote counted): bring every message it posted up to date. */
    void update(Approval approval, PostLog posts);

    /**
     * The approval escalated: {@code newlyEligible} may decide now and should be told directly (a DM).
     * Channels that cannot reach people one by one may leave this as it is.
     */
    default void notifyEscalation(Approval approval, List<Person> newlyEligible, PostLog posts) {
    }

    /** True when its calls must survive failures and restarts (see above). */
    default boolean durable() {
        return false;
    }

    /** Called once at shutdown. */
    default void close() {
    }
}
