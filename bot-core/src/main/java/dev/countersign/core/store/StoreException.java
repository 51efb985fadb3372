package dev.countersign.core.store;

import dev.countersign.core.CountersignException;

import java.sql.SQLException;

/** A database failure. The API answers 503: the request may be retried; nothing was half-done. */
public class StoreException extends CountersignException {
    public StoreException(SQLException cause) {
        super("store_unavailable", "the database failed: " + cause.getMessage(), cause);
    }

    /** True when the database refused a value (SQLState class 22: too long, out of range, bad encoding): not worth a retry. */
    public boolean isDataError() {
        return getCause() instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("22");
    }

    /** True when the failure is a unique-key violation (SQLState class 23, code 23505 on both H2 and PostgreSQL). */
    public static boolean isUniqueViolation(SQLException e) {
        return "23505".equals(e.getSQLState());
    }
}
