package dev.countersign.core.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.countersign.core.testing.Databases.DataSourceSpec;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatabasesTest {

    @Test
    void h2SpecGivesAWorkingFileDatabase(@TempDir Path dir) throws SQLException {
        DataSourceSpec spec = Databases.h2(dir);

        assertThat(spec.label()).isEqualTo("H2");
        assertThat(spec.url()).isEqualTo("jdbc:h2:file:" + dir.toAbsolutePath()
                + "/countersign;WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE");
        assertThat(spec.user()).isEqualTo("sa");
        assertThat(spec.password()).isEmpty();
        try (Connection c = spec.connect()) {
            assertThat(selectOne(c)).isEqualTo(1);
            try (Statement st = c.createStatement()) {
                st.execute("SHUTDOWN"); // DB_CLOSE_ON_EXIT=FALSE: close it ourselves before @TempDir cleanup
            }
        }
        assertThat(dir.resolve("countersign.mv.db")).exists();
    }

    @Test
    void eachPostgresCallGivesAFreshEmptyDatabase() throws SQLException {
        DataSourceSpec first = Databases.postgres();
        DataSourceSpec second = Databases.postgres();

        assertThat(first.label()).isEqualTo("PostgreSQL");
        assertThat(second.label()).isEqualTo("PostgreSQL");
        assertThat(first.url()).startsWith("jdbc:postgresql:").isNotEqualTo(second.url());
        try (Connection a = first.connect(); Connection b = second.connect()) {
            assertThat(selectOne(a)).isEqualTo(1);
            assertThat(selectOne(b)).isEqualTo(1);
            assertThat(currentDatabase(a)).startsWith("cs_test_").isNotEqualTo(currentDatabase(b));
            assertThat(userTables(a)).isZero();
            assertThat(userTables(b)).isZero();

            try (Statement st = a.createStatement()) {
                st.execute("create table only_in_first (id int primary key)");
                st.execute("insert into only_in_first values (1)");
            }

            assertThat(tableExists(a, "only_in_first")).isTrue();
            assertThat(tableExists(b, "only_in_first")).isFalse();
            assertThat(userTables(b)).isZero();
        }
    }

    private static int selectOne(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select 1")) {
            assertThat(rs.next()).isTrue();
            return rs.getInt(1);
        }
    }

    private static String currentDatabase(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select current_database()")) {
            assertThat(rs.next()).isTrue();
            return rs.getString(1);
        }
    }

    private static int userTables(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "select count(*) from information_schema.tables"
                        + " where table_schema not in ('pg_catalog', 'information_schema')")) {
            assertThat(rs.next()).isTrue();
            return rs.getInt(1);
        }
    }

    private static boolean tableExists(Connection c, String table) throws SQLException {
        try (ResultSet rs = c.getMetaData().getTables(null, null, table, new String[] {"TABLE"})) {
            return rs.next();
        }
    }
}
