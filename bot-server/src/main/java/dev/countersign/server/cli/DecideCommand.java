package dev.countersign.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.core.store.Json;
import dev.countersign.server.config.Env;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code decide}: an operator records a person's decision through the API (channel {@code cli}). It goes
 * through the same rules as a click: the person must be an approver, may not approve their own request,
 * and a second decision is refused with who decided first.
 */
@Command(name = "decide", description = "Record a person's decision through the API (needs an operator key).")
public final class DecideCommand implements Callable<Integer> {
    public enum Outcome { approve, reject }

    @Parameters(index = "0", paramLabel = "APPROVAL_ID", description = "the approval's id (apr_…)")
    String id;

    @Parameters(index = "1", paramLabel = "OUTCOME", description = "approve or reject")
    Outcome outcome;

    @Option(names = "--as", required = true, paramLabel = "PERSON", description = "the person deciding (an id from the config's people)")
    String as;

    @Option(names = {"-m", "--comment"}, description = "a comment the agent will see")
    String comment;

    @Option(names = "--url", description = "the service (default: COUNTERSIGN_URL or http://localhost:8080)")
    String url;

    @Option(names = "--key", description = "operator key (default: COUNTERSIGN_OPERATOR_KEY)")
    String key;

    @Override
    public Integer call() throws Exception {
        String base = url != null ? url : System.getenv().getOrDefault(Env.COUNTERSIGN_URL.name(), "http://localhost:8080");
        String k = key != null ? key : System.getenv(Env.COUNTERSIGN_OPERATOR_KEY.name());
        if (k == null || k.isBlank()) {
            System.err.println("decide: no operator key: pass --key or set COUNTERSIGN_OPERATOR_KEY (one of the server's COUNTERSIGN_OPERATOR_KEYS)");
            return 2;
        }
        var body = Json.MAPPER.createObjectNode().put("outcome", outcome.name()).put("as", as);
        if (comment != null) body.put("comment", comment);
        HttpRequest req = HttpRequest.newBuilder(URI.create(base.replaceAll("/$", "") + "/api/v1/approvals/" + id + "/decision"))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + k)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build();
        HttpResponse<String> resp;
        try {
            resp = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            System.err.println("decide: cannot reach Countersign at " + base + " (is it running? set --url or COUNTERSIGN_URL)");
            return 2;
        }
        JsonNode json = Json.MAPPER.readTree(resp.body());
        if (resp.statusCode() == 200) {
            String status = json.path("status").asText();
            if (status.equals("pending")) {
                System.out.println("recorded " + as + "'s approval of " + id + "; " + (json.path("quorum").asInt() - json.path("approvals").size()) + " more needed");
            } else {
                System.out.println(id + " " + status + " by " + json.path("decision").path("by").path("name").asText());
            }
            return 0;
        }
        System.err.println("decide: " + json.path("error").path("message").asText(resp.body()) + " (HTTP " + resp.statusCode() + ")");
        return 1;
    }
}
