package dev.countersign.slack;

import com.slack.api.app_backend.SlackSignature;
import com.slack.api.bolt.App;
import com.slack.api.bolt.request.Request;
import com.slack.api.bolt.request.RequestHeaders;
import com.slack.api.bolt.response.Response;
import com.slack.api.bolt.util.SlackRequestParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * HTTP mode: one Slack request (events, interactivity and slash commands all arrive at {@code POST /slack/events})
 * in, Bolt's answer out, without any web framework type. The server hands over the raw body bytes exactly as
 * received, since Bolt recomputes the signature over them. Before Bolt sees a request, its timestamp must be
 * within five minutes of now in either direction: Bolt itself only refuses old ones, so a request signed with a
 * timestamp in the future could be replayed for as long as that future lasts.
 *
 * <p>Without a signing secret every request is refused (401): Bolt would otherwise verify against a fixed
 * placeholder secret that anyone can sign with. (In Socket Mode without a secret the server does not mount
 * {@code POST /slack/events} at all; this is the second lock.)
 */
public final class SlackHttpTransport {
    private static final Logger log = LoggerFactory.getLogger(SlackHttpTransport.class);
    /** Slack's own rule for stale requests, applied both ways. */
    public static final Duration MAX_SKEW = Duration.ofMinutes(5);
    /** Slack's payloads are a few KB; a message's blocks come back inside a click, so leave room for those. */
    public static final int MAX_BODY = 512 * 1024;
    private static final String UNAUTHORIZED = "{\"error\":\"invalid request\"}";

    private final App app;
    private final SlackRequestParser parser;
    private final Clock clock;
    private final boolean hasSecret;

    /** What to send back: status, content type, extra headers and body (may be empty). */
    public record Answer(int status, String contentType, Map<String, List<String>> headers, String body) {
        static Answer json(int status, String body) {
            return new Answer(status, "application/json; charset=utf-8", Map.of(), body);
        }
    }

    SlackHttpTransport(App app, String signingSecret, Clock clock) {
        this.app = app;
        this.hasSecret = signingSecret != null && !signingSecret.isBlank();
        this.parser = new SlackRequestParser(app.config());
        this.clock = clock;
    }

    /**
     * @param rawBody the request body, unmodified
     * @param headers every request header (names in any case)
     * @param remoteAddress the client's address, for Bolt's logs only
     */
    public Answer handle(byte[] rawBody, Map<String, List<String>> headers, String remoteAddress) {
        if (!hasSecret) {
            log.warn("refused a Slack request from {}: no signing secret is configured (SLACK_SIGNING_SECRET)", remoteAddress);
            return Answer.json(401, UNAUTHORIZED);
        }
        if (rawBody.length > MAX_BODY) return Answer.json(413, "{\"error\":\"body too large\"}");
        Map<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        h.putAll(headers);
        String ts = first(h, SlackSignature.HeaderNames.X_SLACK_REQUEST_TIMESTAMP);
        if (ts != null && !fresh(ts)) {
            log.warn("refused a Slack request from {}: timestamp {} is more than {} from now", remoteAddress, ts, MAX_SKEW);
            return Answer.json(401, UNAUTHORIZED);
        }
        String body = new String(rawBody, StandardCharsets.UTF_8);
        Request<?> request;
        try {
            request = parser.parse(SlackRequestParser.HttpRequest.builder()
                    .requestUri("/slack/events").queryString(Map.of())
                    .headers(new RequestHeaders(h)).requestBody(body).remoteAddress(remoteAddress).build());
        } catch (RuntimeException e) {
            log.warn("unreadable Slack request from {}: {}", remoteAddress, e.toString());
            return Answer.json(400, "{\"error\":\"unreadable request\"}");
        }
        if (request == null) return Answer.json(400, "{\"error\":\"not a Slack request\"}");
        try {
            Response r = app.run(request);
            if (r.getStatusCode() == 401) log.warn("refused a Slack request from {}: bad or missing signature", remoteAddress);
            return new Answer(r.getStatusCode(), r.getContentType() == null ? "text/plain; charset=utf-8" : r.getContentType(),
                    r.getHeaders() == null ? Map.of() : r.getHeaders(), r.getBody() == null ? "" : r.getBody());
        } catch (Exception e) {
            log.error("Slack request failed", e);
            return Answer.json(500, "{\"error\":\"internal error; it has been logged\"}");
        }
    }

    private boolean fresh(String ts) {
        try {
            long seconds = Long.parseLong(ts.trim());
            long skew = Math.abs(clock.instant().getEpochSecond() - seconds);
            return skew <= MAX_SKEW.toSeconds();
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static String first(Map<String, List<String>> h, String name) {
        List<String> v = h.get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }
}
