package dev.countersign.teams;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The Bot Connector REST API on a conversation's service URL: send an activity, replace one, open a 1:1 chat.
 * A 412 is tried again twice after a short pause, and so is a network error or a 5xx of an idempotent call
 * (replacing an activity, opening the 1:1 chat, which finds an existing one). Sending an activity is not: after a
 * timeout or a 5xx the Connector may have posted it, so the failure goes to the caller (the core's durable queue
 * decides whether to post again) rather than posting it twice here. A 429 is not waited out here but thrown carrying
 * {@code Retry-After}, so that the core's durable queue waits instead of a channel lane. Every failure is a
 * {@link ConnectorException} with the status. Only service URLs that arrived in authenticated activities are called.
 */
public final class ConnectorClient {
    private static final Logger log = LoggerFactory.getLogger(ConnectorClient.class);
    private static final List<Duration> PAUSES = List.of(Duration.ofMillis(200), Duration.ofMillis(800));
    /** When Teams throttles without saying how long to wait. */
    static final Duration DEFAULT_RETRY_AFTER = Duration.ofSeconds(2);

    private final HttpClient http;
    private final BotTokens tokens;

    public ConnectorClient(HttpClient http, BotTokens tokens) {
        this.http = http;
        this.tokens = tokens;
    }

    /** Posts an activity to a conversation; answers the new activity's id. */
    public String send(String serviceUrl, String conversationId, Activity activity) {
        JsonNode r = call("POST", uri(serviceUrl, "v3/conversations/" + enc(conversationId) + "/activities"), activity, false);
        return r.path("id").asText(null);
    }

    /** Replaces an activity the bot posted (the whole activity). */
    public void update(String serviceUrl, String conversationId, String activityId, Activity activity) {
        call("PUT", uri(serviceUrl, "v3/conversations/" + enc(conversationId) + "/activities/" + enc(activityId)), activity, true);
    }

    /** Opens (or finds) the 1:1 chat of the bot with a user ({@code 29:…}); answers its conversation id. */
    public String createPersonalConversation(String serviceUrl, String botId, String userId, String tenantId) {
        ObjectNode body = Activity.MAPPER.createObjectNode();
        body.putObject("bot").put("id", botId);
        body.putArray("members").addObject().put("id", userId);
        if (tenantId != null) {
            body.putObject("channelData").putObject("tenant").put("id", tenantId);
            body.put("tenantId", tenantId);
        }
        body.put("isGroup", false);
        JsonNode r = call("POST", uri(serviceUrl, "v3/conversations"), body, true);
        String id = r.path("id").asText(null);
        if (id == null) throw new ConnectorException("the Connector created a conversation but answered no id", 0, null, null);
        return id;
    }

    /** @param idempotent whether sending the same request twice does no harm (so an ambiguous failure may be retried) */
    private JsonNode call(String method, URI uri, Object body, boolean idempotent) {
        String json;
        try {
            json = Activity.MAPPER.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        boolean refreshedToken = false;
        for (int attempt = 0; ; attempt++) {
            HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20))
                    .header("Authorization", "Bearer " + tokens.token())
                    .header("Content-Type", "application/json; charset=utf-8")
                    .method(method, HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8)).build();
            HttpResponse<String> r;
            try {
                r = http.send(req, HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                if (idempotent && attempt < PAUSES.size()) {
                    pause(attempt);
                    continue;
                }
                throw new ConnectorException(method + " " + uri + " failed: " + e, 0, null, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ConnectorException("interrupted", 0, null, e);
            }
            int s = r.statusCode();
            if (s >= 200 && s < 300) return parse(r.body());
            if (s == 429) {
                Duration wait = retryAfter(r);
                throw new ConnectorException("Teams throttled " + method + " " + uri + " (429); retry after " + wait, s, wait == null ? DEFAULT_RETRY_AFTER : wait, null);
            }
            if (s == 401 && !refreshedToken) {
                // A token revoked or rotated early: fetch a new one once.
                tokens.invalidate();
                refreshedToken = true;
                attempt--;
                continue;
            }
            // 412: refused before anything was done; a 5xx may come after the work was done, so only idempotent calls repeat it
            if ((s == 412 || (s >= 500 && idempotent)) && attempt < PAUSES.size()) {
                log.debug("{} {} answered {}; trying again", method, uri, s);
                pause(attempt);
                continue;
            }
            throw new ConnectorException(method + " " + uri + " answered " + s + ": " + BotTokens.abbreviate(r.body()), s, retryAfter(r), null);
        }
    }

    private static JsonNode parse(String body) {
        if (body == null || body.isBlank()) return Activity.MAPPER.createObjectNode();
        try {
            return Activity.MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            return Activity.MAPPER.createObjectNode();
        }
    }

    /** The {@code Retry-After} header in seconds (an HTTP date is rare here and treated as absent). */
    static Duration retryAfter(HttpResponse<?> r) {
        Optional<String> h = r.headers().firstValue("Retry-After");
        if (h.isEmpty()) return null;
        try {
            long seconds = Long.parseLong(h.get().trim());
            return Duration.ofSeconds(Math.max(0, Math.min(seconds, 3600)));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static void pause(int attempt) {
        try {
            Thread.sleep(PAUSES.get(attempt).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConnectorException("interrupted", 0, null, e);
        }
    }

    static URI uri(String serviceUrl, String path) {
        String base = serviceUrl.endsWith("/") ? serviceUrl : serviceUrl + "/";
        return URI.create(base + path);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
