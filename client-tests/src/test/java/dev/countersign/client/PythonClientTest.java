package dev.countersign.client;

import dev.countersign.server.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Python client's own tests ({@code clients/python/test_countersign.py}, stdlib unittest) against a real
 * Countersign started here on a free port: runs {@code python3 -m unittest -v test_countersign} with the URL, the
 * agent key, an operator key and the webhook secret in its environment, prints its output and fails if Python
 * fails. It never skips: without python3 on the PATH this test fails ({@code .ci/run} installs it).
 */
class PythonClientTest {
    @TempDir
    Path dir;

    @Test
    void the_python_client_tests_pass_against_a_real_server() throws Exception {
        Path python = Path.of(System.getProperty("countersign.python.dir", "../clients/python")).toAbsolutePath().normalize();
        assertThat(python.resolve("test_countersign.py")).exists();
        try (TestServer server = ClientTestServer.start(dir)) {
            ProcessBuilder pb = new ProcessBuilder(List.of("python3", "-B", "-m", "unittest", "-v", "test_countersign"))
                    .directory(python.toFile()).redirectErrorStream(true);
            pb.environment().put("COUNTERSIGN_URL", server.url(""));
            pb.environment().put("COUNTERSIGN_AGENT_KEY", TestServer.ALICE_BOT_KEY);
            pb.environment().put("COUNTERSIGN_OPERATOR_KEY", TestServer.OPERATOR_KEY);
            pb.environment().put("COUNTERSIGN_WEBHOOK_SECRET", TestServer.WEBHOOK_SECRET);
            pb.environment().put("PYTHONUNBUFFERED", "1");
            Path log = dir.resolve("python.log");
            pb.redirectOutput(log.toFile());
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                throw new AssertionError("python3 is not on the PATH (apt-get install python3; .ci/run does): " + e.getMessage(), e);
            }
            boolean done = p.waitFor(5, TimeUnit.MINUTES);
            if (!done) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            String output = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println("---- python3 -m unittest -v test_countersign ----\n" + output + "---- end of Python output ----");
            assertThat(done).as("the Python tests finished within 5 minutes").isTrue();
            assertThat(p.exitValue()).as("python3 -m unittest exit code; output:\n%s", output).isZero();
            assertThat(output).contains("OK").doesNotContain("skipped");
        }
    }
}
