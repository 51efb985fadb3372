package dev.countersign.core;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Status;
import dev.countersign.core.ask.AskRequest;
import dev.countersign.core.ask.AskService;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.channel.Channel;
import dev.countersign.core.channel.ChannelFanout;
import dev.countersign.core.channel.ChannelPort;
import dev.countersign.core.decide.Decider;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionPort;
import dev.countersign.core.decide.DecisionResult;
import dev.countersign.core.notify.Waiters;
import dev.countersign.core.notify.WebhookOutbox;
import dev.countersign.core.policy.RiskPolicy;
import dev.countersign.core.policy.RuleSpec;
import dev.countersign.core.store.ApprovalStore;
import dev.countersign.core.store.Database;
import dev.countersign.core.store.DatabaseConfig;
import dev.countersign.core.timers.TimerActions;
import dev.countersign.core.timers.TimerService;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The approval engine: the one front door of the core. It wires the steps of the flow — ask (①–③),
 * timers (④), channels (⑤ ⑧), decisions (⑥ ⑦) and notification (⑨) — on one database, and is what
 * the HTTP server, the channel adapters and the CLI talk to. It knows nothing of HTTP, Slack or Teams.
 */
public final class Countersign implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Countersign.class);

    /**
     * Everything the engine needs.
     *
     * @param webhookSecrets agent id → Standard Webhooks secret ({@code whsec_…})
     * @param channels       builds each channel, handing it the one way to decide
     * @param schedulerName  Quartz's scheduler name: the same on every node of one cluster
     * @param nodeId         this node's stable id in a cluster (e.g. host:port), so that after a restart it takes
     *                       back its own unfinished timers at once instead of after failure detection; null: a new id each start
     */
    public record Settings(DatabaseConfig database, Directory directory, List<RuleSpec> rules, Map<String, String> webhookSecrets,
                           List<Function<ChannelPort, Channel>> channels, Clock clock, MeterRegistry meters, String schedulerName,
                           int poolSize, int timerThreads, String nodeId) {
        public Settings {
            rules = List.copyOf(rules);
            webhookSecrets = Map.copyOf(webhookSecrets);
            channels = List.copyOf(channels);
        }

        public Settings(DatabaseConfig database, Directory directory, List<RuleSpec> rules, Map<String, String> webhookSecrets,
                        List<Function<ChannelPort, Channel>> channels, Clock clock, MeterRegistry meters, String schedulerName,
                        int poolSize, int timerThreads) {
            this(database, directory, rules, webhookSecrets, channels, clock, meters, schedulerName, poolSize, timerThreads, null);
        }
    }

    private final Settings settings;
    private final Database db;
    private final ApprovalStore store;
    private final AuditLog audit;
    private final WebhookOutbox outbox;
    private final AskService asks;
    private final Decider decider;
    private final ChannelFanout fanout;
    private final TimerService timers;
    private final Waiters waiters;
    private final Metrics metrics;
    private final ExecutorService background;
    private final ScheduledExecutorService housekeeping;

    private Countersign(Settings s) {
        this.settings = s;
        this.db = Database.open(s.database(), s.poolSize());
        try {
            this.store = new ApprovalStore(db);
            this.audit = new AuditLog(db);
            this.metrics = new Metrics(s.meters());
            Function<String, Optional<String>> secretOf = agent -> Optional.ofNullable(s.webhookSecrets().get(agent)).filter(x -> !x.isBlank());
            this.outbox = new WebhookOutbox(db, audit, s.clock(), secretOf, s.meters());
            // Channels get a port that reaches the decider only when called, after construction.
            ChannelPort port = new Port();
            List<Channel> channels = new ArrayList<>();
            for (Function<ChannelPort, Channel> factory : s.channels()) channels.add(factory.apply(port));
            this.fanout = new ChannelFanout(channels, db, store, s.directory(), s.clock(), s.meters(), 4);
            this.asks = new AskService(store, audit, outbox, fanout, new RiskPolicy(s.rules(), s.directory()), s.clock(),
                    agent -> secretOf.apply(agent).isPresent());
            this.background = Executors.newFixedThreadPool(2, r -> {
                Thread t = new Thread(r, "countersign-background");
                t.setDaemon(true);
                return t;
            });
            this.waiters = new Waiters(store::find, background);
            this.decider = new Decider(store, audit, outbox, fanout, s.directory(), s.clock(), this::afterDecision, this::afterVote);
            // Timers and their actions refer to each other; the lambdas reach the timer service only once it runs.
            TimerActions actions = new TimerActions(store, audit, decider, fanout, s.clock(), this::scheduleTimer,
                    fanout::escalated, metrics::timerLateness, this::cancelTimer);
            // The effective config: the same URL as the app's pool (an embedded H2 file must be opened one way only).
            this.timers = new TimerService(db.config(), s.schedulerName(), s.nodeId(), s.timerThreads(), actions);
            this.housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "countersign-housekeeping");
                t.setDaemon(true);
                return t;
            });
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
    }

    private void scheduleTimer(Approval a) {
        timers.schedule(a);
    }

    private void cancelTimer(String approvalId) {
        timers.cancel(approvalId);
    }

    /** Opens the database (migrating it), starts the timers, repairs missing ones and starts webhook delivery. */
    public static Countersign start(Settings settings) {
        Countersign cs = new Countersign(settings);
        try {
            cs.timers.start();
            cs.reconcileTimers();
            cs.outbox.start(Duration.ofSeconds(1));
            cs.fanout.start(Duration.ofSeconds(1));
            cs.housekeeping.scheduleWithFixedDelay(cs::refreshPending, 0, 5, TimeUnit.SECONDS);
            cs.housekeeping.scheduleWithFixedDelay(cs::reconcileTimers, 10, 10, TimeUnit.MINUTES);
            return cs;
        } catch (RuntimeException e) {
            cs.close();
            throw e;
        }
    }

    /** ①–⑤: stores the ask, schedules its timer (before the caller answers 201), and hands it to the channels. */
    public AskService.Asked ask(String agentId, AskRequest request, String idempotencyKey, String requestHash) {
        AskService.Asked asked = asks.ask(agentId, request, idempotencyKey, requestHash);
        if (asked.created()) {
            Approval a = asked.approval();
            if (a.isPending()) timers.schedule(a);
            metrics.asked(a);
            fanout.published(a);
            if (a.decision() != null) {
                if (a.callbackUrl() != null) outbox.kick();
            }
        }
        return asked;
    }

    public Optional<Approval> get(String id) {
        return store.find(id);
    }

    /** Newest first; {@code agentId} null lists every agent's. */
    public List<Approval> list(String agentId, Status status, int limit) {
        return store.list(agentId, status, limit);
    }

    /** ⑥–⑦: the one way to decide. */
    public DecisionResult decide(DecisionCommand command) {
        return decider.decide(command);
    }

    public DecisionPort decisions() {
        return decider;
    }

    /** ⑨: completes when the approval leaves pending, or with its current state after {@code max}. */
    public CompletableFuture<Optional<Approval>> await(String id, Duration max) {
        return waiters.await(id, max);
    }

    public AuditLog audit() {
        return audit;
    }

    public Directory directory() {
        return settings.directory();
    }

    public List<Channel> channels() {
        return fanout.channels();
    }

    /** Ready: the database answers and the scheduler runs. */
    public boolean isReady() {
        return db.isReachable() && timers.isStarted();
    }

    /** Answers every long-poll waiting on this node with the current state (before the HTTP server stops). */
    public void releaseWaiters() {
        waiters.releaseAll();
    }

    public int waiting() {
        return waiters.count();
    }

    /** True when the approval has a timer waiting in Quartz (for operators and tests). */
    public boolean hasTimer(String approvalId) {
        return timers.hasTimer(approvalId);
    }

    private void afterDecision(Approval a) {
        // The waiting agent first: it is the latency people notice. A timer left for a moment is harmless.
        waiters.wake(a);
        if (a.callbackUrl() != null) outbox.kick();
        fanout.changed(a);
        metrics.decided(a);
        timers.cancel(a.id());
    }

    private void afterVote(Approval a) {
        fanout.changed(a);
    }

    /** What channels may ask of the engine. */
    private final class Port implements ChannelPort {
        @Override
        public DecisionResult decide(DecisionCommand command) {
            return decider.decide(command);
        }

        @Override
        public Optional<Approval> find(String approvalId) {
            return store.find(approvalId);
        }

        @Override
        public List<Approval> waitingFor(String personId, int limit) {
            return mostUrgent(a -> a.waitsFor(personId, settings.directory()), limit);
        }

        @Override
        public List<Approval> pendingVisibleTo(String personId, int limit) {
            return mostUrgent(a -> a.visibleTo(personId, settings.directory()), limit);
        }

        @Override
        public Directory directory() {
            return settings.directory();
        }

        @Override
        public Database database() {
            return db;
        }

        private List<Approval> mostUrgent(java.util.function.Predicate<Approval> keep, int limit) {
            return store.list(null, Status.PENDING, PENDING_SCAN).stream().filter(keep)
                    .sorted(java.util.Comparator.comparing((Approval a) -> a.nextDeadline() == null ? a.expiresAt() : a.nextDeadline().at())
                            .thenComparing(Approval::createdAt))
                    .limit(limit).toList();
        }
    }

    /** How many pending approvals a channel's "what waits for me" looks through. */
    private static final int PENDING_SCAN = 2_000;

    private void reconcileTimers() {
        try {
            List<String> missing = timers.pendingWithoutTimer(db.dataSource());
            for (String id : missing) {
                store.find(id).filter(Approval::isPending).ifPresent(timers::schedule);
            }
            if (!missing.isEmpty()) log.info("gave {} pending approvals the timer they were missing", missing.size());
        } catch (RuntimeException e) {
            log.warn("timer reconciliation failed: {}", e.toString());
        }
    }

    private void refreshPending() {
        try {
            metrics.pending(store.countPending());
        } catch (RuntimeException e) {
            log.debug("pending count failed: {}", e.toString());
        }
    }

    /**
     * Stops in order: our own workers first, letting their current database work finish (an embedded H2 file
     * is closed for everyone when a thread is interrupted in the middle of a write), then the timers, then the pool.
     */
    @Override
    public void close() {
        housekeeping.shutdown();
        awaitQuietly(housekeeping);
        outbox.close();
        fanout.close();
        waiters.close();
        background.shutdown();
        awaitQuietly(background);
        timers.close();
        db.close();
    }

    private static void awaitQuietly(ExecutorService executor) {
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) executor.shutdownNow();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
