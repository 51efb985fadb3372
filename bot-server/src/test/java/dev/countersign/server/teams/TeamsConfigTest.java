package dev.countersign.server.teams;

import dev.countersign.server.TestServer;
import dev.countersign.server.config.ConfigException;
import dev.countersign.server.config.ServerConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TeamsConfigTest {
    private static ServerConfig load(Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(TestServer.env());
        env.putAll(extra);
        return TestServer.config(TestServer.CONFIG.replace("%DB%", TestServer.h2Url(Path.of("target/unused"))), env);
    }

    @Test
    void teams_is_off_without_credentials_and_on_with_both() {
        assertThat(load(Map.of()).teams()).isNull();
        ServerConfig.Teams t = load(Map.of("TEAMS_APP_ID", "app", "TEAMS_APP_PASSWORD", "secret")).teams();
        assertThat(t.appId()).isEqualTo("app");
        assertThat(t.toString()).doesNotContain("secret");
    }

    @Test
    void one_credential_without_the_other_stops_the_start_naming_the_missing_variable() {
        assertThatThrownBy(() -> load(Map.of("TEAMS_APP_ID", "app"))).isInstanceOf(ConfigException.class).hasMessageContaining("TEAMS_APP_PASSWORD is not set");
        assertThatThrownBy(() -> load(Map.of("TEAMS_APP_ID", "app", "TEAMS_APP_PASSWORD", "s", "TEAMS_TOKEN_URL", "ftp://x")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("TEAMS_TOKEN_URL");
    }
}
