package dev.countersign.core.channel;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Person;
import dev.countersign.core.store.ApprovalStore;
import dev.countersign.core.store.Database;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Keeps every channel in step with every approval (⑤ ⑧). Calls run off the caller's thread, on one of a few
 * single-thread lanes chosen by approval id: the calls for one approval keep their order (publish before
 * update), different approvals proceed in parallel, and a slow or failing channel delays only its lane.
 *
 * <p>Channels that are {@link Channel#durable() durable} get their calls from the {@code channel_task} table:
 * {@link #record} writes them in the transaction of the change, the lane delivers them right after the commit,
 * and a poller picks up whatever is still owed — after a failure (with backoff, or the platform's
 * {@code Retry-After}), after a restart, or from another node. Rows are claimed with a lease, so several nodes
 * can share the table. Other channels are called once, from memory.
 */
public final class ChannelFanout implements ChannelTasks, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChannelFanout.class);
    /** Pauses before each retry; the last one repeats until {@link #GIVE_UP_AFTER}. */
    static final List<Duration> BACKOFF = List.of(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(2), Duration.ofMinutes(5));
    static final Duration GIVE_UP_AFTER = Duration.ofHours(24);
    private static final Duration LEASE = Duration.ofMinutes(2);

    private final List<Channel> channels;
    private final Map<String, Channel> durable;
    private final Database db;
    private final ApprovalStore store;
    private final Directory directory;
    private final Clock clock;
    private final ExecutorService[] lanes;
    private final ScheduledExecutorService poller;
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private final Counter delivered;
    private final Counter failedAttempts;
    private volatile boolean running = true;

    public ChannelFanout(List<Channel> channels, Database db, ApprovalStore store, Directory directory, Clock clock,
                         MeterRegistry meters, int laneCount) {
        this.channels = List.copyOf(channels);
        this.durable = channels.stream().filter(Channel::durable)
                .collect(Collectors.toMap(Channel::name, Function.identity(), (a, b) -> {
                    throw new IllegalArgumentException("two channels named " + a.name());
                }, LinkedHashMap::new));
        this.db = db;
        this.store = store;
        this.directory = directory;
        this.clock = clock;
        this.lanes = new ExecutorService[channels.isEmpty() ? 0 : laneCount];
        for (int i = 0; i < lanes.length; i++) {
            int n = i;
            lanes[i] = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "channel-lane-" + n);
                t.setDaemon(true);
                return t;
            });
        }
        this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "channel-task-poller");
            t.setDaemon(true);
            return t;
        });
        this.delivered = Counter.builder("countersign_channel_calls").tag("result", "delivered")
                .description("Calls to durable channels (Slack, Teams) delivered").register(meters);
        this.failedAttempts = Counter.builder("countersign_channel_calls").tag("result", "failed_attempt")
                .description("Calls to durable channels that failed and will be retried").register(meters);
    }

    public List<Channel> channels() {
        return channels;
    }

    /** Starts the poller that delivers what is still owed (at once, then every {@code every}). */
    public void start(Duration every) {
        if (durable.isEmpty()) return;
        poller.scheduleWithFixedDelay(this::poll, 0, every.toMillis(), TimeUnit.MILLISECONDS);
    }

    // ---- in the transaction of a change ----------------------------------------------------------------

    @Override
    public void record(Connection c, String approvalId, Kind kind, List<String> personIds, Instant now) throws SQLException {
        if (durable.isEmpty()) return;
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO channel_task (approval_id, channel, kind, people, next_attempt_at, created_at) "
                + "VALUES (?, ?, ?, ?, ?, ?)")) {
            for (String name : durable.keySet()) {
                ps.setString(1, approvalId);
                ps.setString(2, name);
                ps.setString(3, kind.name());
                if (personIds.isEmpty()) ps.setNull(4, Types.VARCHAR); else ps.setString(4, String.join(",", personIds));
                ps.setObject(5, ts(now));
                ps.setObject(6, ts(now));
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    // ---- after the commit ------------------------------------------------------------------------------

    public void published(Approval a) {
        direct(a, "publish", (ch, posts) -> ch.publish(a, posts));
    }

    public void changed(Approval a) {
        direct(a, "update", (ch, posts) -> ch.update(a, posts));
    }

    public void escalated(Approval a, List<Person> newlyEligible) {
        direct(a, "escalation", (ch, posts) -> {
            ch.update(a, posts);
            if (!newlyEligible.isEmpty()) ch.notifyEscalation(a, newlyEligible, posts);
        });
    }

    private interface Call {
        void run(Channel channel, PostLog posts);
    }

    private void direct(Approval a, String what, Call call) {
        if (channels.isEmpty()) return;
        submit(a.id(), () -> {
            for (Channel ch : channels) {
                if (ch.durable()) continue;
                try {
                    call.run(ch, postLog(a.id(), ch.name()));
                } catch (RuntimeException e) {
                    log.warn("channel {} failed to {} approval {}: {}", ch.name(), what, a.id(), e.toString());
                }
            }
        });
        kick(a.id());
    }

    /** Delivers what durable channels owe for this approval now, on its lane. */
    void kick(String approvalId) {
        if (durable.isEmpty() || !running || !inFlight.add(approvalId)) return;
        try {
            submit(approvalId, () -> {
                try {
                    deliverDue(approvalId);
                } finally {
                    inFlight.remove(approvalId);
                }
            });
        } catch (RejectedExecutionException e) {
            inFlight.remove(approvalId);
        }
    }

    private void submit(String approvalId, Runnable work) {
        lanes[Math.floorMod(approvalId.hashCode(), lanes.length)].execute(work);
    }

    private void poll() {
        try {
            Instant now = clock.instant();
            List<String> due = db.read(c -> {
                List<String> ids = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT approval_id FROM channel_task WHERE failed_at IS NULL "
                        + "AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?) FETCH FIRST 200 ROWS ONLY")) {
                    ps.setObject(1, ts(now));
                    ps.setObject(2, ts(now));
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) ids.add(rs.getString(1));
                    }
                }
                return ids;
            });
            due.forEach(this::kick);
        } catch (RuntimeException e) {
            log.warn("channel task poll failed: {}", e.toString());
        }
    }

    private record Task(long id, String channel, Kind kind, List<String> people, int attempts, Instant createdAt) {}

    private void deliverDue(String approvalId) {
        List<Task> tasks = claim(approvalId);
        if (tasks.isEmpty()) return;
        Optional<Approval> found = store.find(approvalId);
        Map<String, List<Task>> byChannel = new LinkedHashMap<>();
        for (Task t : tasks) byChannel.computeIfAbsent(t.channel(), k -> new ArrayList<>()).add(t);
        for (Map.Entry<String, List<Task>> e : byChannel.entrySet()) {
            Channel ch = durable.get(e.getKey());
            if (ch == null || found.isEmpty()) {
                // The channel is no longer configured (or the approval is gone): nothing can take these calls.
                log.info("dropping {} call(s) for approval {} owed to channel {}: {}", e.getValue().size(), approvalId, e.getKey(),
                        ch == null ? "the channel is not configured" : "no such approval");
                delete(e.getValue());
                continue;
            }
            deliver(ch, found.get(), e.getValue());
        }
    }

    /**
     * Delivers one channel's calls in order. A failed publish puts itself and the rest back for later; a failed
     * update or escalation is retried later on its own while the rest go on. A successful update makes older
     * updates still waiting for a retry pointless, so they are dropped.
     */
    private void deliver(Channel ch, Approval a, List<Task> tasks) {
        PostLog posts = postLog(a.id(), ch.name());
        boolean upToDate = false;   // publish and update both render the approval as it now stands
        for (int i = 0; i < tasks.size(); i++) {
            Task t = tasks.get(i);
            try {
                switch (t.kind()) {
                    case PUBLISH -> ch.publish(a, posts);
                    case UPDATE -> {
                        if (!upToDate) ch.update(a, posts);
                    }
                    case ESCALATION -> {
                        if (!upToDate) ch.update(a, posts);
                        List<Person> people = t.people().stream().map(directory::member).flatMap(Optional::stream)
                                .map(Directory.Member::person).toList();
                        if (!people.isEmpty()) ch.notifyEscalation(a, people, posts);
                    }
                }
                upToDate = true;
                delete(List.of(t));
                if (t.kind() != Kind.ESCALATION) dropSupersededUpdates(a.id(), ch.name(), t.id());
                delivered.increment();
            } catch (RuntimeException ex) {
                failedAttempts.increment();
                if (t.kind() == Kind.PUBLISH) {
                    retryLater(ch.name(), a.id(), t, tasks.subList(i + 1, tasks.size()), ex);
                    return;
                }
                retryLater(ch.name(), a.id(), t, List.of(), ex);
            }
        }
    }

    /** Updates owed from before one that just went through, and waiting for a retry, have nothing left to say. */
    private void dropSupersededUpdates(String approvalId, String channel, long before) {
        db.inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM channel_task WHERE approval_id = ? AND channel = ? AND kind = ? "
                    + "AND id < ? AND locked_until IS NULL")) {
                ps.setString(1, approvalId);
                ps.setString(2, channel);
                ps.setString(3, Kind.UPDATE.name());
                ps.setLong(4, before);
                ps.executeUpdate();
            }
            return null;
        });
    }

    /**
     * Claims the calls owed for this approval that are due and free. A publish waiting for its retry holds back
     * every later call to the same channel (an update must not overtake the message it updates); a failed update
     * or escalation holds back nothing, since a later update renders the approval as it then stands. A call
     * another node holds holds back its channel. The rows are read with {@code FOR UPDATE}, so two nodes never
     * claim the same approval's calls at once.
     */
    private List<Task> claim(String approvalId) {
        Instant now = clock.instant();
        String token = UUID.randomUUID().toString();
        return db.inTransaction(c -> {
            record Row(Task task, Instant next, Instant lockedUntil) {}
            List<Row> rows = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT id, channel, kind, people, attempts, created_at, next_attempt_at, locked_until "
                    + "FROM channel_task WHERE approval_id = ? AND failed_at IS NULL ORDER BY id FOR UPDATE")) {
                ps.setString(1, approvalId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String people = rs.getString(4);
                        OffsetDateTime locked = rs.getObject(8, OffsetDateTime.class);
                        rows.add(new Row(new Task(rs.getLong(1), rs.getString(2), Kind.valueOf(rs.getString(3)),
                                people == null || people.isEmpty() ? List.of() : Arrays.asList(people.split(",")),
                                rs.getInt(5), rs.getObject(6, OffsetDateTime.class).toInstant()),
                                rs.getObject(7, OffsetDateTime.class).toInstant(), locked == null ? null : locked.toInstant()));
                    }
                }
            }
            List<Task> claimed = new ArrayList<>();
            Set<String> heldBack = new java.util.HashSet<>();
            for (Row r : rows) {
                String channel = r.task().channel();
                if (heldBack.contains(channel)) continue;
                boolean free = r.lockedUntil() == null || r.lockedUntil().isBefore(now);
                boolean due = !r.next().isAfter(now);
                if (!free || (!due && r.task().kind() == Kind.PUBLISH)) {
                    heldBack.add(channel);
                } else if (due) {
                    claimed.add(r.task());
                }
            }
            if (claimed.isEmpty()) return List.of();
            try (PreparedStatement ps = c.prepareStatement("UPDATE channel_task SET locked_until = ?, lock_token = ? WHERE id = ?")) {
                for (Task t : claimed) {
                    ps.setObject(1, ts(now.plus(LEASE)));
                    ps.setString(2, token);
                    ps.setLong(3, t.id());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return claimed;
        });
    }

    private void delete(List<Task> tasks) {
        db.inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM channel_task WHERE id = ?")) {
                for (Task t : tasks) {
                    ps.setLong(1, t.id());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return null;
        });
    }

    private void retryLater(String channel, String approvalId, Task failed, List<Task> rest, RuntimeException error) {
        Instant now = clock.instant();
        int attempt = failed.attempts() + 1;
        Duration pause = error instanceof ChannelException ce && ce.retryAfter().isPresent()
                ? max(ce.retryAfter().get(), Duration.ofSeconds(1))
                : BACKOFF.get(Math.min(attempt, BACKOFF.size()) - 1);
        boolean giveUp = now.isAfter(failed.createdAt().plus(GIVE_UP_AFTER));
        String message = error.getMessage() == null ? error.getClass().getSimpleName() : error.getMessage();
        if (giveUp) {
            log.error("channel {} could not {} approval {} for {}; giving up after {} attempts: {}", channel,
                    failed.kind().name().toLowerCase(), approvalId, GIVE_UP_AFTER, attempt, message);
        } else {
            log.warn("channel {} failed to {} approval {} (attempt {}), retrying in {}: {}", channel,
                    failed.kind().name().toLowerCase(), approvalId, attempt, pause, message);
        }
        Instant next = now.plus(pause);
        db.inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE channel_task SET attempts = ?, last_error = ?, next_attempt_at = ?, "
                    + "locked_until = NULL, lock_token = NULL, failed_at = ? WHERE id = ?")) {
                ps.setInt(1, attempt);
                ps.setString(2, message.length() > 1000 ? message.substring(0, 1000) : message);
                ps.setObject(3, ts(next));
                if (giveUp) ps.setObject(4, ts(now)); else ps.setNull(4, Types.TIMESTAMP_WITH_TIMEZONE);
                ps.setLong(5, failed.id());
                ps.executeUpdate();
            }
            // The calls after a failed publish wait behind it, so that an update never overtakes the publish it updates.
            try (PreparedStatement ps = c.prepareStatement("UPDATE channel_task SET next_attempt_at = ?, locked_until = NULL, lock_token = NULL WHERE id = ?")) {
                for (Task t : rest) {
                    ps.setObject(1, ts(next));
                    ps.setLong(2, t.id());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return null;
        });
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    private PostLog postLog(String approvalId, String channel) {
        return new PostLog() {
            @Override
            public void remember(String ref) {
                store.recordChannelPost(approvalId, channel, ref, clock.instant());
            }

            @Override
            public List<String> refs() {
                return store.channelPosts(approvalId, channel);
            }
        };
    }

    private static OffsetDateTime ts(Instant i) {
        return OffsetDateTime.ofInstant(i, ZoneOffset.UTC);
    }

    /** Waits for the work already handed over (at most a few seconds), then stops. What is still owed stays in the table. */
    @Override
    public void close() {
        running = false;
        poller.shutdown();
        for (ExecutorService lane : lanes) lane.shutdown();
        try {
            poller.awaitTermination(5, TimeUnit.SECONDS);
            for (ExecutorService lane : lanes) lane.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        channels.forEach(Channel::close);
    }
}
