/** The database: connection pool, Flyway migrations (H2 and PostgreSQL), the approval repository, JSON mapping. */
package dev.countersign.core.store;
