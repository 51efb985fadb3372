package dev.countersign.core.timers;

import static org.assertj.core.api.Assertions.assertThat;

import dev.countersign.core.testing.Databases;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.quartz.Job;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobExecutionContext;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SimpleScheduleBuilder;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.TriggerKey;
import org.quartz.impl.StdSchedulerFactory;
import org.quartz.impl.jdbcjobstore.StdJDBCDelegate;
import org.quartz.impl.jdbcjobstore.Util;
import org.quartz.simpl.CascadingClassLoadHelper;
import org.slf4j.LoggerFactory;

class QuartzSchemaTest {

    /** The PostgreSQL index set, which {@code tables_h2.sql} ships without. */
    private static final List<String> TRIGGER_INDEXES = List.of(
            "IDX_QRTZ_T_J", "IDX_QRTZ_T_JG", "IDX_QRTZ_T_C", "IDX_QRTZ_T_G", "IDX_QRTZ_T_STATE",
            "IDX_QRTZ_T_N_STATE", "IDX_QRTZ_T_N_G_STATE", "IDX_QRTZ_T_NEXT_FIRE_TIME", "IDX_QRTZ_T_NFT_ST",
            "IDX_QRTZ_T_NFT_MISFIRE", "IDX_QRTZ_T_NFT_ST_MISFIRE", "IDX_QRTZ_T_NFT_ST_MISFIRE_GRP");

    @TempDir
    Path dir;

    @Test
    void h2_migration_adds_the_trigger_indexes_the_shipped_ddl_lacks() throws Exception {
        String url = h2Url();
        migrate(url, "sa", "", "h2");

        List<String> indexes = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url, "sa", "");
                ResultSet rs = c.createStatement().executeQuery(
                        "SELECT INDEX_NAME FROM INFORMATION_SCHEMA.INDEXES WHERE TABLE_NAME = 'QRTZ_TRIGGERS'")) {
            while (rs.next()) {
                indexes.add(rs.getString(1));
            }
        }
        assertThat(indexes).containsAll(TRIGGER_INDEXES);
    }

    @Test
    void h2_migration_lets_a_jdbc_scheduler_fire_a_one_shot_job() throws Exception {
        String url = h2Url();
        migrate(url, "sa", "", "h2");

        assertOneShotJobFires(url, "sa", "", "org.h2.Driver", StdJDBCDelegate.class.getName());
    }

    @Test
    void postgresql_migration_lets_the_long_bind_delegate_fire_a_one_shot_job() throws Exception {
        Databases.DataSourceSpec db = Databases.postgres();
        migrate(db.url(), db.user(), db.password(), "postgresql");

        assertOneShotJobFires(db.url(), db.user(), db.password(), "org.postgresql.Driver",
                LongBindPostgreSQLDelegate.class.getName());
    }

    @Test
    void long_bind_delegate_acquires_the_same_triggers_as_the_stock_query() throws Exception {
        Databases.DataSourceSpec db = Databases.postgres();
        migrate(db.url(), db.user(), db.password(), "postgresql");
        long now = System.currentTimeMillis();
        long hour = 3_600_000L;
        String schedulerName = "acquire-" + UUID.randomUUID();
        Scheduler scheduler = new StdSchedulerFactory(quartzProperties(schedulerName, db.url(), db.user(),
                db.password(), "org.postgresql.Driver", LongBindPostgreSQLDelegate.class.getName())).getScheduler();
        try { // never started: triggers stay WAITING
            schedule(scheduler, "in-3h", now + 3 * hour, false);
            schedule(scheduler, "in-1h", now + hour, false);
            schedule(scheduler, "in-2h", now + 2 * hour, false);
            schedule(scheduler, "in-4h", now + 4 * hour, false);                 // after noLaterThan
            schedule(scheduler, "2h-ago-misfires", now - 2 * hour, false);       // before the misfire floor
            schedule(scheduler, "2h-ago-ignores-misfires", now - 2 * hour, true); // MISFIRE_INSTR = -1
        } finally {
            scheduler.shutdown();
        }

        long noLaterThan = now + 3 * hour + 1;
        long noEarlierThan = now - hour;
        StdJDBCDelegate stock = initialized(new StdJDBCDelegate(), schedulerName);
        StdJDBCDelegate longBind = initialized(new LongBindPostgreSQLDelegate(), schedulerName);
        try (Connection c = db.connect()) {
            List<TriggerKey> all = stock.selectTriggerToAcquire(c, noLaterThan, noEarlierThan, 10);
            assertThat(all).extracting(TriggerKey::getName)
                    .containsExactly("2h-ago-ignores-misfires", "in-1h", "in-2h", "in-3h");
            assertThat(longBind.selectTriggerToAcquire(c, noLaterThan, noEarlierThan, 10)).isEqualTo(all);
            assertThat(longBind.selectTriggerToAcquire(c, noLaterThan, noEarlierThan, 2))
                    .isEqualTo(stock.selectTriggerToAcquire(c, noLaterThan, noEarlierThan, 2))
                    .isEqualTo(all.subList(0, 2));
            assertThat(longBind.selectTriggerToAcquire(c, noLaterThan, noEarlierThan, 0))
                    .isEqualTo(all.subList(0, 1));
        }
    }

    @Test
    void long_bind_acquire_query_can_use_the_next_fire_time_index_and_the_stock_bind_cannot() throws Exception {
        Databases.DataSourceSpec db = Databases.postgres();
        migrate(db.url(), db.user(), db.password(), "postgresql");
        String sql = Util.rtp(LongBindPostgreSQLDelegate.SELECT_NEXT_TRIGGER_TO_ACQUIRE_LIMITED, "QRTZ_", "'s'");
        long now = System.currentTimeMillis();

        try (Connection c = db.connect()) {
            // The tables are empty, so make a seq scan the last resort rather than the cheapest plan.
            c.createStatement().execute("SET enable_seqscan = off");
            List<String> longPlan = explain(c, sql, "WAITING", now, now - 60_000L, 1);
            List<String> decimalPlan = explain(c, sql, "WAITING", new BigDecimal(now), new BigDecimal(now - 60_000L), 1);

            // What matters is whether next_fire_time bounds the index range or is filtered row by row.
            assertThat(longPlan).anySatisfy(line -> assertThat(line)
                    .contains("Index Cond").contains("next_fire_time <="));
            assertThat(decimalPlan).noneSatisfy(line -> assertThat(line)
                    .contains("Index Cond").contains("next_fire_time"));
            assertThat(decimalPlan).anySatisfy(line -> assertThat(line).contains("(next_fire_time)::numeric"));
        }
    }

    private static void schedule(Scheduler scheduler, String name, long at, boolean ignoreMisfires) throws Exception {
        SimpleScheduleBuilder schedule = SimpleScheduleBuilder.simpleSchedule();
        scheduler.scheduleJob(
                JobBuilder.newJob(CountingJob.class).withIdentity(JobKey.jobKey(name, "acquire")).build(),
                TriggerBuilder.newTrigger().withIdentity(name, "acquire").startAt(new Date(at))
                        .withSchedule(ignoreMisfires ? schedule.withMisfireHandlingInstructionIgnoreMisfires() : schedule)
                        .build());
    }

    private static StdJDBCDelegate initialized(StdJDBCDelegate delegate, String schedulerName) throws Exception {
        CascadingClassLoadHelper classLoadHelper = new CascadingClassLoadHelper();
        classLoadHelper.initialize();
        delegate.initialize(LoggerFactory.getLogger(QuartzSchemaTest.class), "QRTZ_", schedulerName, "test",
                classLoadHelper, true, null);
        return delegate;
    }

    private String h2Url() {
        return "jdbc:h2:file:" + dir.resolve("db").toAbsolutePath() + ";WRITE_DELAY=0";
    }

    // Only the vendor location: V2 must stand on its own, whatever the shared V1 holds.
    static void migrate(String url, String user, String password, String vendor) {
        var result = Flyway.configure()
                .dataSource(url, user, password)
                .locations("classpath:db/migration/" + vendor)
                .load()
                .migrate();
        assertThat(result.migrations).anySatisfy(m -> assertThat(m.version).isEqualTo("2"));
    }

    // A data source name per scheduler: Quartz registers providers in a JVM-wide singleton.
    static Properties quartzProperties(
            String schedulerName, String url, String user, String password, String driver, String delegate) {
        String dataSource = "qds" + UUID.randomUUID().toString().replace("-", "");
        Properties p = new Properties();
        p.setProperty("org.quartz.scheduler.instanceName", schedulerName);
        p.setProperty("org.quartz.scheduler.instanceId", "test");
        p.setProperty("org.quartz.threadPool.threadCount", "2");
        p.setProperty("org.quartz.jobStore.class", "org.quartz.impl.jdbcjobstore.JobStoreTX");
        p.setProperty("org.quartz.jobStore.driverDelegateClass", delegate);
        p.setProperty("org.quartz.jobStore.dataSource", dataSource);
        p.setProperty("org.quartz.jobStore.useProperties", "true");
        p.setProperty("org.quartz.dataSource." + dataSource + ".provider", "hikaricp");
        p.setProperty("org.quartz.dataSource." + dataSource + ".driver", driver);
        p.setProperty("org.quartz.dataSource." + dataSource + ".URL", url);
        p.setProperty("org.quartz.dataSource." + dataSource + ".user", user);
        p.setProperty("org.quartz.dataSource." + dataSource + ".password", password);
        p.setProperty("org.quartz.dataSource." + dataSource + ".maxConnections", "5");
        return p;
    }

    static void assertOneShotJobFires(String url, String user, String password, String driver, String delegate)
            throws Exception {
        Scheduler scheduler = new StdSchedulerFactory(
                quartzProperties("schema-test-" + UUID.randomUUID(), url, user, password, driver, delegate)).getScheduler();
        String latchId = UUID.randomUUID().toString();
        CountDownLatch fired = new CountDownLatch(1);
        CountingJob.LATCHES.put(latchId, fired);
        try {
            scheduler.start();
            JobDetail job = JobBuilder.newJob(CountingJob.class)
                    .withIdentity("one-shot", "schema-test")
                    .usingJobData(CountingJob.LATCH_KEY, latchId)
                    .build();
            Trigger trigger = TriggerBuilder.newTrigger()
                    .withIdentity("one-shot", "schema-test")
                    .startAt(new Date(System.currentTimeMillis() + 200))
                    .withSchedule(SimpleScheduleBuilder.simpleSchedule().withMisfireHandlingInstructionFireNow())
                    .build();
            scheduler.scheduleJob(job, trigger);

            assertThat(fired.await(10, TimeUnit.SECONDS)).as("one-shot job fired within 10 s").isTrue();
        } finally {
            scheduler.shutdown(true);
            CountingJob.LATCHES.remove(latchId);
        }
    }

    static List<String> explain(Connection c, String sql, Object... binds) throws SQLException {
        List<String> plan = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("EXPLAIN " + sql)) {
            for (int i = 0; i < binds.length; i++) {
                ps.setObject(i + 1, binds[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    plan.add(rs.getString(1));
                }
            }
        }
        return plan;
    }

    public static class CountingJob implements Job {
        static final String LATCH_KEY = "latch";
        static final Map<String, CountDownLatch> LATCHES = new ConcurrentHashMap<>();

        @Override
        public void execute(JobExecutionContext context) {
            CountDownLatch latch = LATCHES.get(context.getMergedJobDataMap().getString(LATCH_KEY));
            if (latch != null) {
                latch.countDown();
            }
        }
    }
}
