package dev.countersign.core.channel;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Person;

import java.util.List;

/**
 * What a channel (Slack, Teams, the web pages, a test channel) implements to show approvals to people.
 * The core calls it after each change is committed, off the request thread, one approval at a time in
 * order. A channel hands people's clicks back through the {@link dev.countersign.core.decide.DecisionPort}
 * it was built with, and never decides anything itself.
 *
 * <p>Every method gets the approval as it now stands (an immutable value) and the channel's own
 * {@link PostLog}, where it remembers what it posted so that {@link #update} can reach every message.
 * A channel that throws is logged and retried on the next change; it never blocks the other channels.
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

    /** Called once at shutdown. */
    default void close() {
    }
}
