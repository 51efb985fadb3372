package dev.countersign.mcp;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class ToolCallsTest {
    @Test
    void theActionTypeIsMcpServerToolWithCharactersTheApiRefusesReplaced() {
        assertThat(ToolCalls.actionType("fs", "write_file")).isEqualTo("mcp.fs.write_file");
        assertThat(ToolCalls.actionType("my files", "git/commit.amend")).isEqualTo("mcp.my_files.git_commit_amend");
        assertThat(ToolCalls.actionType("fs", "ünïcode")).isEqualTo("mcp.fs._n_code");
    }

    @Test
    void secretArgumentsAreMaskedAtAnyDepthCaseInsensitively() {
        Map<String, Object> args = new LinkedHashMap<>();
        args.put("path", "/srv/a.txt");
        args.put("API_Token", "t-123");
        args.put("auth", Map.of("password", "hunter2", "user", "bob"));
        args.put("headers", List.of(Map.of("api_token", "t-456")));

        Map<String, Object> masked = ToolCalls.masked(args, GatewayConfig.of("fs", List.of("x"))
                .withSecretNames(Set.of("api_token", "Password")).secretNames());

        assertThat(masked).containsEntry("path", "/srv/a.txt").containsEntry("API_Token", "***");
        assertThat(masked.get("auth")).isEqualTo(Map.of("password", "***", "user", "bob"));
        assertThat(masked.get("headers")).isEqualTo(List.of(Map.of("api_token", "***")));
        assertThat(masked.toString()).doesNotContain("t-123", "hunter2", "t-456");
    }

    @Test
    void theSummaryIsOneReadableLineCutToLength() {
        Map<String, Object> args = new LinkedHashMap<>();
        args.put("path", "/srv/a.txt");
        args.put("content", "line one\nline two " + "x".repeat(200));
        String s = ToolCalls.summary("fs", "write_file", args);

        assertThat(s).startsWith("fs: write_file(path=\"/srv/a.txt\", content=\"line one line two xxx").doesNotContain("\n");
        assertThat(s.length()).isLessThanOrEqualTo(300);
        assertThat(ToolCalls.summary("fs", "list_allowed_directories", Map.of())).isEqualTo("fs: list_allowed_directories()");
    }
}
