package dev.countersign.core.timers;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.countersign.core.CountersignException;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.store.DatabaseConfig;
import org.quartz.Job;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.Trigger;
import org.quartz.TriggerKey;
import org.quartz.impl.StdSchedulerFactory;
import org.quartz.utils.ConnectionProvider;
import org.quartz.utils.DBConnectionManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Date;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;

import static org.quartz.JobBuilder.newJob;
import static org.quartz.SimpleScheduleBuilder.simpleSchedule;
import static org.quartz.TriggerBuilder.newTrigger;

/**
 * Escalation, veto-window and expiry timers in Quartz's JDBC store, on the same database as the approvals.
 * One durable job per approval (key = approval id) with one trigger per deadline; the job recovers after a
 * crash ({@code requestRecovery}) and a trigger that came due while the service was down fires at start
 * (fire-now misfire handling). The job itself only calls {@link Handler#onTimer}; the handler re-reads the
 * approval and does nothing if it is no longer pending, which makes a duplicate or late fire harmless.
 */
public final class TimerService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TimerService.class);
    static final String GROUP = "approval";

    /** What a fired timer does. */
    public interface Handler {
        void onTimer(String approvalId, Instant scheduledFor);
    }

    private final Scheduler scheduler;
    private final HikariDataSource pool;

    /**
     * @param schedulerName the same on every node of a cluster; distinct for engines sharing one JVM
     * @param nodeId        a stable id of this node in the cluster; null for a fresh one at every start
     */
    public TimerService(DatabaseConfig db, String schedulerName, String nodeId, int threads, Handler handler) {
        String dsName = "countersign-" + UUID.randomUUID();
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(db.url());
        hc.setUsername(db.user());
        hc.setPassword(db.password());
        hc.setMaximumPoolSize(threads + 4);
        hc.setPoolName("quartz");
        hc.setAutoCommit(false);
        this.pool = new HikariDataSource(hc);
        DBConnectionManager.getInstance().addConnectionProvider(dsName, new ConnectionProvider() {
            @Override
            public Connection getConnection() throws SQLException {
                return pool.getConnection();
            }

            @Override
            public void shutdown() {
            }

            @Override
            public void initialize() {
            }
        });

        Properties p = new Properties();
        p.setProperty("org.quartz.scheduler.instanceName", schedulerName);
        // A stable id lets a restarted node recover its own in-flight timers at its first check-in.
        p.setProperty("org.quartz.scheduler.instanceId", nodeId == null || nodeId.isBlank() ? "AUTO" : nodeId);
        p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
        // A node that scheduled nothing itself still notices new triggers within this time.
        p.setProperty("org.quartz.scheduler.idleWaitTime", "2000");
        p.setProperty("org.quartz.scheduler.batchTriggerAcquisitionMaxCount", Integer.toString(threads));
        p.setProperty("org.quartz.threadPool.threadCount", Integer.toString(threads));
        p.setProperty("org.quartz.threadPool.makeThreadsDaemons", "true");
        p.setProperty("org.quartz.jobStore.class", "org.quartz.impl.jdbcjobstore.JobStoreTX");
        p.setProperty("org.quartz.jobStore.dataSource", dsName);
        p.setProperty("org.quartz.jobStore.tablePrefix", "QRTZ_");
        p.setProperty("org.quartz.jobStore.useProperties", "true");
        p.setProperty("org.quartz.jobStore.misfireThreshold", "60000");
        p.setProperty("org.quartz.jobStore.acquireTriggersWithinLock", "true");
        if (db.isPostgres()) {
            // Several nodes may share PostgreSQL: cluster, and bind fire times as longs so acquisition uses the index.
            p.setProperty("org.quartz.jobStore.driverDelegateClass", LongBindPostgreSQLDelegate.class.getName());
            p.setProperty("org.quartz.jobStore.isClustered", "true");
            p.setProperty("org.quartz.jobStore.clusterCheckinInterval", "7500");
        } else {
            // An embedded H2 file opens in one process only: no cluster. Quartz has no H2 delegate; the standard one is right.
            p.setProperty("org.quartz.jobStore.driverDelegateClass", "org.quartz.impl.jdbcjobstore.StdJDBCDelegate");
            p.setProperty("org.quartz.jobStore.isClustered", "false");
        }
        try {
            this.scheduler = new StdSchedulerFactory(p).getScheduler();
            scheduler.setJobFactory((bundle, s) -> new FireJob(handler));
        } catch (SchedulerException e) {
            pool.close();
            throw new CountersignException("scheduler_failed", "cannot create the Quartz scheduler: " + e.getMessage(), e);
        }
    }

    public void start() {
        try {
            scheduler.start();
        } catch (SchedulerException e) {
            throw new CountersignException("scheduler_failed", "cannot start the Quartz scheduler: " + e.getMessage(), e);
        }
    }

    public boolean isStarted() {
        try {
            return scheduler.isStarted() && !scheduler.isShutdown() && !scheduler.isInStandbyMode();
        } catch (SchedulerException e) {
            return false;
        }
    }

    /** Sets the approval's timer to its next deadline. Idempotent: scheduling the same deadline twice keeps one trigger. */
    public void schedule(Approval a) {
        Plan.Deadline next = a.nextDeadline();
        if (next == null) return;
        JobKey job = jobKey(a.id());
        JobDetail detail = newJob(FireJob.class).withIdentity(job).requestRecovery(true).storeDurably(true).build();
        Trigger trigger = newTrigger()
                .withIdentity(TriggerKey.triggerKey(a.id() + "#" + a.escalationLevel() + "-" + next.kind().name().toLowerCase(), GROUP))
                .forJob(job)
                .startAt(Date.from(next.at()))
                .withSchedule(simpleSchedule().withMisfireHandlingInstructionFireNow())
                .build();
        try {
            scheduler.scheduleJob(detail, Set.of(trigger), true);
        } catch (SchedulerException e) {
            throw new CountersignException("scheduler_failed", "cannot schedule the timer of approval " + a.id() + ": " + e.getMessage(), e);
        }
    }

    /** Removes every timer of the approval. */
    public void cancel(String approvalId) {
        try {
            scheduler.deleteJob(jobKey(approvalId));
        } catch (SchedulerException e) {
            // Harmless: a timer of a decided approval fires, finds it decided and does nothing.
            log.warn("could not remove the timers of approval {}: {}", approvalId, e.toString());
        }
    }

    /** True when the approval has a trigger waiting. */
    public boolean hasTimer(String approvalId) {
        try {
            return !scheduler.getTriggersOfJob(jobKey(approvalId)).isEmpty();
        } catch (SchedulerException e) {
            throw new CountersignException("scheduler_failed", e.getMessage(), e);
        }
    }

    /**
     * Pending approvals that have no trigger waiting: the gap left when a process died between storing an
     * approval and scheduling its timer. One query, so it is cheap to run at start and now and then.
     */
    public java.util.List<String> pendingWithoutTimer(javax.sql.DataSource ds) {
        String sql = "SELECT a.id FROM approval a WHERE a.status = 'pending' AND NOT EXISTS ("
                + "SELECT 1 FROM QRTZ_TRIGGERS t WHERE t.SCHED_NAME = ? AND t.JOB_GROUP = ? AND t.JOB_NAME = a.id) ORDER BY a.created_at";
        try (Connection c = ds.getConnection(); java.sql.PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, scheduler.getSchedulerName());
            ps.setString(2, GROUP);
            java.util.List<String> ids = new java.util.ArrayList<>();
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                while (rs.next()) ids.add(rs.getString(1));
            }
            return ids;
        } catch (SQLException | SchedulerException e) {
            throw new CountersignException("scheduler_failed", "cannot look for approvals without timers: " + e.getMessage(), e);
        }
    }

    private static JobKey jobKey(String approvalId) {
        return JobKey.jobKey(approvalId, GROUP);
    }

    @Override
    public void close() {
        try {
            scheduler.shutdown(true);
        } catch (SchedulerException e) {
            log.warn("Quartz shutdown: {}", e.toString());
        } finally {
            pool.close();
        }
    }

    /** The Quartz job: hands the approval id and the due time to the handler. */
    static final class FireJob implements Job {
        private final Handler handler;

        FireJob(Handler handler) {
            this.handler = handler;
        }

        @Override
        public void execute(JobExecutionContext context) {
            String id = context.getJobDetail().getKey().getName();
            Date due = context.getScheduledFireTime();
            handler.onTimer(id, due == null ? Instant.now() : due.toInstant());
        }
    }
}
