package dev.countersign.core.notify;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.ApprovalJson;
import dev.countersign.core.audit.AuditEntry;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.store.Database;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * Webhooks to agents, from a durable outbox. A row is written in the same transaction as the decision, so a
 * decision never commits without its webhook; a worker then delivers it (at least once) and retries with
 * growing pauses. The {@code webhook-id} stays the same across retries, so an agent can drop duplicates.
 * Rows are claimed with a lease ({@code locked_until}), so several nodes can share one outbox.
 */
public final class WebhookOutbox implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WebhookOutbox.class);
    /** Pauses before each retry; after the last one the webhook is marked failed (about 29 hours in all). */
    static final List<Duration> BACKOFF = List.of(Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofMinutes(2),
            Duration.ofMinutes(10), Duration.ofMinutes(30), Duration.ofHours(1), Duration.ofHours(2), Duration.ofHours(4),
            Duration.ofHours(8), Duration.ofHours(12));
    private static final Duration LEASE = Duration.ofSeconds(60);

    private final Database db;
    private final AuditLog audit;
    private final Clock clock;
    private final Function<String, Optional<String>> secretOfAgent;
    private final HttpClient http;
    private final ScheduledExecutorService poller;
    private final ExecutorService senders;
    private final AtomicBoolean polling = new AtomicBoolean();
    private final Counter delivered;
    private final Counter failedAttempts;
    private volatile boolean running;

    public WebhookOutbox(Database db, AuditLog audit, Clock clock, Function<String, Optional<String>> secretOfAgent, MeterRegistry meters) {
        this.db = db;
        this.audit = audit;
        this.clock = clock;
        this.secretOfAgent = secretOfAgent;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).followRedirects(HttpClient.Redirect.NEVER).build();
        this.poller = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "webhook-poller"));
        this.senders = Executors.newFixedThreadPool(4, r -> daemon(r, "webhook-sender"));
        this.delivered = Counter.builder("countersign_webhooks_delivered").description("webhooks an agent accepted").register(meters);
        this.failedAttempts = Counter.builder("countersign_webhook_attempts_failed").description("webhook attempts that failed and will be retried").register(meters);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Queues the approval's webhook in the caller's (decision) transaction. */
    public void enqueue(Connection c, Approval a, Instant now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO webhook_outbox (webhook_id, approval_id, agent_id, url, payload, attempts, next_attempt_at, created_at) "
                + "VALUES (?, ?, ?, ?, ?, 0, ?, ?)")) {
            ps.setString(1, "msg_" + UUID.randomUUID().toString().replace("-", ""));
            ps.setString(2, a.id());
            ps.setString(3, a.agent().id());
            ps.setString(4, a.callbackUrl());
            ps.setString(5, ApprovalJson.of(a).toString());
            ps.setObject(6, OffsetDateTime.ofInstant(now, ZoneOffset.UTC));
            ps.setObject(7, OffsetDateTime.ofInstant(now, ZoneOffset.UTC));
            ps.executeUpdate();
        }
    }

    public void start(Duration pollEvery) {
        running = true;
        poller.scheduleWithFixedDelay(this::poll, 0, pollEvery.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Delivers what is due now instead of waiting for the next poll (called after a decision commits). */
    public void kick() {
        if (running) poller.execute(this::poll);
    }

    private record Due(long id, String webhookId, String approvalId, String agentId, String url, String payload, int attempts) {}

    private void poll() {
        if (!polling.compareAndSet(false, true)) return;
        try {
            for (Due due : claimDue(50)) {
                senders.execute(() -> deliver(due));
            }
        } catch (RuntimeException e) {
            log.warn("webhook outbox poll failed: {}", e.toString());
        } finally {
            polling.set(false);
        }
    }

    private List<Due> claimDue(int max) {
        Instant now = clock.instant();
        List<Due> candidates = db.read(c -> {
            List<Due> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT id, webhook_id, approval_id, agent_id, url, payload, attempts FROM webhook_outbox "
                    + "WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?) ORDER BY next_attempt_at LIMIT ?")) {
                ps.setObject(1, ts(now));
                ps.setObject(2, ts(now));
                ps.setInt(3, max);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) out.add(new Due(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6), rs.getInt(7)));
                }
            }
            return out;
        });
        List<Due> claimed = new ArrayList<>();
        for (Due d : candidates) {
            boolean mine = db.read(c -> {
                try (PreparedStatement ps = c.prepareStatement("UPDATE webhook_outbox SET locked_until = ? WHERE id = ? AND delivered_at IS NULL AND (locked_until IS NULL OR locked_until < ?)")) {
                    ps.setObject(1, ts(now.plus(LEASE)));
                    ps.setLong(2, d.id());
                    ps.setObject(3, ts(now));
                    return ps.executeUpdate() == 1;
                }
            });
            if (mine) claimed.add(d);
        }
        return claimed;
    }

    private void deliver(Due d) {
        Optional<String> secret = secretOfAgent.apply(d.agentId());
        String error;
        if (secret.isEmpty()) {
            error = "agent " + d.agentId() + " has no webhook_secret configured";
        } else {
            long ts = clock.instant().getEpochSecond();
            HttpRequest req = HttpRequest.newBuilder(URI.create(d.url()))
                    .timeout(Duration.ofSeconds(10))
                    .header("content-type", "application/json")
                    .header("user-agent", "Countersign-Webhooks/1")
                    .header("webhook-id", d.webhookId())
                    .header("webhook-timestamp", Long.toString(ts))
                    .header("webhook-signature", new WebhookSigner(secret.get()).sign(d.webhookId(), ts, d.payload()))
                    .POST(HttpRequest.BodyPublishers.ofString(d.payload()))
                    .build();
            try {
                HttpResponse<Void> resp = http.send(req, HttpResponse.BodyHandlers.discarding());
                if (resp.statusCode() / 100 == 2) {
                    markDelivered(d, resp.statusCode());
                    return;
                }
                error = "HTTP " + resp.statusCode();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Exception e) {
                error = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
            }
        }
        markFailedAttempt(d, error);
    }

    private void markDelivered(Due d, int status) {
        Instant now = clock.instant();
        db.inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE webhook_outbox SET delivered_at = ?, attempts = attempts + 1, locked_until = NULL WHERE id = ?")) {
                ps.setObject(1, ts(now));
                ps.setLong(2, d.id());
                ps.executeUpdate();
            }
            audit.append(c, now, List.of(new AuditEntry(d.approvalId(), "webhook_delivered", "system",
                    Map.of("webhook_id", d.webhookId(), "status", status, "attempt", d.attempts() + 1))));
            return null;
        });
        delivered.increment();
    }

    private void markFailedAttempt(Due d, String error) {
        failedAttempts.increment();
        Instant now = clock.instant();
        int attempt = d.attempts() + 1;
        boolean giveUp = attempt > BACKOFF.size();
        log.warn("webhook {} for approval {} to {} failed (attempt {}): {}{}", d.webhookId(), d.approvalId(), d.url(), attempt, error,
                giveUp ? "; giving up" : "; retrying in " + BACKOFF.get(attempt - 1));
        db.inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE webhook_outbox SET attempts = ?, last_error = ?, locked_until = NULL, next_attempt_at = ?, failed_at = ? WHERE id = ?")) {
                ps.setInt(1, attempt);
                ps.setString(2, error.length() > 1000 ? error.substring(0, 1000) : error);
                ps.setObject(3, ts(giveUp ? now : now.plus(BACKOFF.get(attempt - 1))));
                if (giveUp) ps.setObject(4, ts(now)); else ps.setNull(4, java.sql.Types.TIMESTAMP_WITH_TIMEZONE);
                ps.setLong(5, d.id());
                ps.executeUpdate();
            }
            if (giveUp) {
                audit.append(c, now, List.of(new AuditEntry(d.approvalId(), "webhook_failed", "system",
                        Map.of("webhook_id", d.webhookId(), "attempts", attempt, "error", error))));
            }
            return null;
        });
    }

    private static OffsetDateTime ts(Instant i) {
        return OffsetDateTime.ofInstant(i, ZoneOffset.UTC);
    }

    @Override
    public void close() {
        running = false;
        poller.shutdown();
        senders.shutdown();
        try {
            poller.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            senders.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
