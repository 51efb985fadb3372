package dev.countersign.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.server.TestServer;
import dev.countersign.server.testing.ServerProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The packaged jar's {@code gate} as a pipeline runs it (a child process, key and URL from the environment):
 * a pipeline cancel (SIGTERM) withdraws the pending request and the step ends with exit 2.
 */
class GateSigtermIT {
    private static final Path JAR = Path.of(System.getProperty("countersign.jar", "target/countersign.jar"));

    @TempDir
    Path dir;

    @Test
    void sigterm_withdraws_the_pending_request_and_exits_2() throws Exception {
        assertThat(JAR).exists();
        try (TestServer server = TestServer.start(dir)) {
            ProcessBuilder pb = new ProcessBuilder(ServerProcess.javaBinary(), "-jar", JAR.toString(), "gate",
                    "--type", "deploy.production", "--summary", "Deploy v1.4.2 (SIGTERM test)", "--param", "version=1.4.2", "--timeout", "PT30M");
            pb.environment().put("COUNTERSIGN_URL", server.url(""));
            pb.environment().put("COUNTERSIGN_AGENT_KEY", TestServer.ALICE_BOT_KEY);
            Path errFile = dir.resolve("gate.err");
            pb.redirectError(errFile.toFile());
            Process gate = pb.start();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(gate.getInputStream(), StandardCharsets.UTF_8));
                String first = out.readLine();
                assertThat(first).as("first line; stderr: %s", Files.exists(errFile) ? Files.readString(errFile) : "").isNotNull();
                Matcher m = Pattern.compile("approval (apr_[A-Za-z0-9_\\-]+)").matcher(first);
                assertThat(m.find()).as(first).isTrue();
                String id = m.group(1);
                assertThat(out.readLine()).startsWith("waiting for a decision"); // the hook is installed before this line
                assertThat(server.get("/api/v1/approvals/" + id, TestServer.ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");

                gate.destroy(); // SIGTERM, as a CI runner cancelling the job
                assertThat(gate.waitFor(30, TimeUnit.SECONDS)).isTrue();

                assertThat(gate.exitValue()).isEqualTo(GateCommand.EXPIRED_OR_CANCELLED);
                JsonNode a = server.get("/api/v1/approvals/" + id, TestServer.ALICE_BOT_KEY).json();
                assertThat(a.path("status").asText()).isEqualTo("cancelled");
                assertThat(a.path("decision").path("by").path("channel").asText()).isEqualTo("agent");
                assertThat(Files.readString(errFile)).contains("withdrew " + id);
                assertThat(server.decide(id, "approve", "erin", "too late").status()).isEqualTo(409);
            } finally {
                if (gate.isAlive()) gate.destroyForcibly();
                gate.waitFor(10, TimeUnit.SECONDS);
                Duration.ofSeconds(0);
            }
        }
    }
}
