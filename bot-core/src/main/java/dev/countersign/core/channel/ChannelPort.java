package dev.countersign.core.channel;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.decide.DecisionPort;
import dev.countersign.core.store.Database;

import java.util.List;
import java.util.Optional;

/**
 * What a channel may ask of the core: decide (the one way, through {@link DecisionPort}), look an
 * approval up, list what waits, and find people. Channels hold nothing else of the engine.
 */
public interface ChannelPort extends DecisionPort {

    Optional<Approval> find(String approvalId);

    /** Pending approvals {@code personId} may decide now and has not yet, most urgent (nearest deadline) first. */
    List<Approval> waitingFor(String personId, int limit);

    /** Every pending approval {@code personId} may see, most urgent first. */
    List<Approval> pendingVisibleTo(String personId, int limit);

    /** The people and groups of the configuration. */
    Directory directory();

    /**
     * The engine's database (schema migrated, pool shared), for a channel that keeps state of its own there, such
     * as where a bot is installed. Its tables come from the core's migrations.
     */
    Database database();
}
