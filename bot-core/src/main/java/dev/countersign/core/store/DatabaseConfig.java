package dev.countersign.core.store;

import java.nio.file.Path;

/** Where the database is. The default is an embedded H2 file under {@code ./data}. */
public record DatabaseConfig(String url, String user, String password) {

    /**
     * The embedded default. {@code WRITE_DELAY=0}: H2's default (500 ms) lost 5,000–22,000 acknowledged
     * commits on {@code kill -9} here; with 0 none were lost (shared/notes/quartz-durability-scale.md §3.2).
     */
    public static DatabaseConfig embeddedH2(Path dir) {
        return new DatabaseConfig("jdbc:h2:file:" + dir.toAbsolutePath().resolve("countersign") + ";WRITE_DELAY=0", "sa", "");
    }

    public boolean isPostgres() {
        return url.startsWith("jdbc:postgresql:");
    }

    public boolean isH2() {
        return url.startsWith("jdbc:h2:");
    }

    /** The URL as it may be logged: no password parameters. */
    public String safeUrl() {
        return url.replaceAll("(?i)(password=)[^&;]*", "$1***");
    }
}
