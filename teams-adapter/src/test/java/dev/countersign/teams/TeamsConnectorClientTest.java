package dev.countersign.teams;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * The Connector client against a local stand-in: a send (POST of an activity) is never repeated after an answer
 * that may come after the work was done (a dropped connection, a timeout, a 5xx), since that would post the card
 * twice; idempotent calls are; every failure carries its status, so the channel can tell a permanent one.
 */
class TeamsConnectorClientTest {
    private HttpServer server;
    private final List<String> requests = new CopyOnWriteArrayList<>();
    /** What the next Connector calls answer, in turn: a status, or 0 to drop the connection; then 200. */
    private final List<Integer> answers = new CopyOnWriteArrayList<>();
    private final AtomicInteger ids = new AtomicInteger();
    private ConnectorClient connector;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
        HttpClient http = HttpClient.newHttpClient();
        BotTokens tokens = new BotTokens(URI.create(base() + "/token"), "app", "secret", http, Clock.systemUTC());
        connector = new ConnectorClient(http, tokens);
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            ex.getRequestBody().readAllBytes();
            String path = ex.getRequestURI().getPath();
            if (path.equals("/token")) {
                send(ex, 200, "{\"access_token\":\"t\",\"expires_in\":3600}");
                return;
            }
            requests.add(ex.getRequestMethod() + " " + path);
            int status = answers.isEmpty() ? 200 : answers.remove(0);
            if (status == 0) throw new IOException("dropped"); // the connection closes without an answer
            send(ex, status, status == 200 ? "{\"id\":\"1:a" + ids.incrementAndGet() + "\"}" : "{\"error\":{\"code\":\"X\"}}");
        }
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    private String serviceUrl() {
        return base() + "/amer/";
    }

    @Test
    void a_send_is_not_repeated_after_a_dropped_connection_or_a_5xx() {
        for (int answer : new int[] {0, 502, 500, 503}) {
            requests.clear();
            answers.clear();
            answers.add(answer);
            ConnectorException e = catchThrowableOfType(() -> connector.send(serviceUrl(), "19:c", Activity.text("hi")), ConnectorException.class);
            assertThat(e).as("answer %s", answer).isNotNull();
            assertThat(e.status()).isEqualTo(answer);
            assertThat(e.permanent()).isFalse();
            assertThat(requests).as("answer %s: posted once", answer).hasSize(1);
        }
    }

    @Test
    void a_send_refused_before_it_was_done_412_is_tried_again() {
        answers.add(412);
        assertThat(connector.send(serviceUrl(), "19:c", Activity.text("hi"))).isNotNull();
        assertThat(requests).hasSize(2);
    }

    @Test
    void an_update_and_opening_a_chat_are_idempotent_so_they_are_tried_again() {
        answers.addAll(List.of(0, 502));
        connector.update(serviceUrl(), "19:c", "1:a1", Activity.text("hi"));
        assertThat(requests).hasSize(3).allMatch(r -> r.startsWith("PUT "));
        requests.clear();
        answers.addAll(List.of(503));
        assertThat(connector.createPersonalConversation(serviceUrl(), "28:app", "29:u", "t")).isNotNull();
        assertThat(requests).hasSize(2);
    }

    @Test
    void permanent_failures_say_so_and_a_429_carries_retry_after() {
        for (int status : new int[] {400, 403, 404}) {
            answers.add(status);
            ConnectorException e = catchThrowableOfType(() -> connector.update(serviceUrl(), "19:c", "1:a1", Activity.text("hi")), ConnectorException.class);
            assertThat(e.permanent()).as("status %s", status).isTrue();
            assertThat(e.retryAfter()).isEmpty();
        }
        answers.add(429);
        ConnectorException e = catchThrowableOfType(() -> connector.send(serviceUrl(), "19:c", Activity.text("hi")), ConnectorException.class);
        assertThat(e.permanent()).isFalse();
        assertThat(e.retryAfter()).contains(ConnectorClient.DEFAULT_RETRY_AFTER);
    }

    @Test
    void a_post_reference_that_cannot_be_kept_is_known_before_sending() {
        String url = "https://smba.trafficmanager.net/amer/";
        assertThat(PostRef.fits(PostRef.CHANNEL, url, "19:efa9296d959346209fea44151c742e73@thread.tacv2;messageid=1501")).isTrue();
        assertThat(PostRef.fits(PostRef.dmKind("carol"), url, "a:" + "x".repeat(250))).isTrue();
        String tooLong = "a:" + "x".repeat(400);
        assertThat(PostRef.fits(PostRef.dmKind("carol"), url, tooLong)).isFalse();
        // whatever fits takes any activity id up to the reserve
        String conversation = "a:" + "x".repeat(PostRef.MAX - PostRef.ACTIVITY_ID_RESERVE - ("v1|dm:carol||" + url + "|").length() - 2);
        assertThat(PostRef.fits(PostRef.dmKind("carol"), url, conversation)).isTrue();
        PostRef ref = PostRef.dm("carol", "1:" + "y".repeat(PostRef.ACTIVITY_ID_RESERVE - 2), url, conversation);
        assertThat(ref.encodable()).isTrue();
        assertThat(PostRef.decode(ref.encode())).contains(ref);
    }
}
