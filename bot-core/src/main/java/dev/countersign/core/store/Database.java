package dev.countersign.core.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.countersign.core.CountersignException;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The connection pool, the schema (Flyway, applied once per version, never drop-and-create) and a small
 * transaction helper. H2 and PostgreSQL share the {@code common} migrations; the Quartz tables differ by vendor.
 */
public final class Database implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Database.class);
    private static final Pattern WRITE_DELAY = Pattern.compile("(?i);WRITE_DELAY=(\\d+)");

    private final DatabaseConfig config;
    private final HikariDataSource pool;

    private Database(DatabaseConfig config, HikariDataSource pool) {
        this.config = config;
        this.pool = pool;
    }

    public static Database open(DatabaseConfig config, int poolSize) {
        DatabaseConfig effective = config;
        if (config.isH2()) {
            Matcher m = WRITE_DELAY.matcher(config.url());
            if (!m.find()) {
                effective = new DatabaseConfig(config.url() + ";WRITE_DELAY=0", config.user(), config.password());
            } else if (!"0".equals(m.group(1))) {
                throw new CountersignException("unsafe_database",
                        "the H2 URL sets WRITE_DELAY=" + m.group(1) + ", which loses acknowledged approvals when the process is killed: use WRITE_DELAY=0");
            }
        }
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(effective.url());
        hc.setUsername(effective.user());
        hc.setPassword(effective.password());
        hc.setMaximumPoolSize(poolSize);
        hc.setPoolName("countersign");
        hc.setAutoCommit(true);
        hc.setConnectionTimeout(10_000);
        HikariDataSource ds;
        try {
            ds = new HikariDataSource(hc);
        } catch (RuntimeException e) {
            throw new CountersignException("database_unreachable",
                    "cannot connect to the database at " + effective.safeUrl() + ": " + rootMessage(e)
                            + " (check COUNTERSIGN_DATABASE_URL, _USER and _PASSWORD)", e);
        }
        Database db = new Database(effective, ds);
        db.migrate();
        return db;
    }

    private void migrate() {
        String vendor = config.isPostgres() ? "postgresql" : "h2";
        var result = Flyway.configure()
                .dataSource(pool)
                .locations("classpath:db/migration/common", "classpath:db/migration/" + vendor)
                .load()
                .migrate();
        if (result.migrationsExecuted > 0) {
            log.info("database schema migrated to version {} ({} migrations) at {}", result.targetSchemaVersion, result.migrationsExecuted, config.safeUrl());
        }
    }

    public DataSource dataSource() {
        return pool;
    }

    public DatabaseConfig config() {
        return config;
    }

    public boolean isPostgres() {
        return config.isPostgres();
    }

    /** Runs work in one transaction: committed when it returns, rolled back when it throws. */
    public <T> T inTransaction(SqlWork<T> work) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (Throwable t) {
                try {
                    c.rollback();
                } catch (SQLException suppressed) {
                    t.addSuppressed(suppressed);
                }
                throw t;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new StoreException(e);
        }
    }

    /** Runs a read (or a single autocommitted statement). */
    public <T> T read(SqlWork<T> work) {
        try (Connection c = pool.getConnection()) {
            return work.run(c);
        } catch (SQLException e) {
            throw new StoreException(e);
        }
    }

    public boolean isReachable() {
        try (Connection c = pool.getConnection()) {
            return c.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    @Override
    public void close() {
        pool.close();
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) t = t.getCause();
        return t.getMessage();
    }

    @FunctionalInterface
    public interface SqlWork<T> {
        T run(Connection c) throws SQLException;
    }
}
