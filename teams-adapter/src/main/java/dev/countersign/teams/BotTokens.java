package dev.countersign.teams;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.core.channel.ChannelException;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * The bot's own access token for the Connector API: OAuth 2.0 client credentials at the token endpoint, scope
 * {@value #SCOPE}, cached until {@link #REFRESH_BEFORE} before it expires.
 */
public final class BotTokens {
    public static final String SCOPE = "https://api.botframework.com/.default";
    static final Duration REFRESH_BEFORE = Duration.ofMinutes(5);

    private final URI tokenUrl;
    private final String appId;
    private final String appPassword;
    private final HttpClient http;
    private final Clock clock;
    private String token;       // guarded by this
    private Instant validUntil; // guarded by this

    public BotTokens(URI tokenUrl, String appId, String appPassword, HttpClient http, Clock clock) {
        this.tokenUrl = tokenUrl;
        this.appId = appId;
        this.appPassword = appPassword;
        this.http = http;
        this.clock = clock;
    }

    /** A token valid for a while yet; fetched when there is none or it is about to expire. */
    public synchronized String token() {
        if (token != null && clock.instant().isBefore(validUntil)) return token;
        String form = "grant_type=client_credentials&client_id=" + enc(appId) + "&client_secret=" + enc(appPassword) + "&scope=" + enc(SCOPE);
        HttpRequest req = HttpRequest.newBuilder(tokenUrl).timeout(Duration.ofSeconds(15))
                .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form)).build();
        HttpResponse<String> r;
        try {
            r = http.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new ChannelException("cannot reach the token endpoint " + tokenUrl + ": " + e, null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ChannelException("interrupted while fetching a bot token", null, e);
        }
        if (r.statusCode() != 200) {
            // The body may say why (AADSTS…: a wrong secret, an unknown app); it holds no secret of ours.
            throw new ChannelException("the token endpoint " + tokenUrl + " answered " + r.statusCode() + ": " + abbreviate(r.body())
                    + " (check TEAMS_APP_ID, TEAMS_APP_PASSWORD and TEAMS_TENANT_ID)", ConnectorClient.retryAfter(r), null);
        }
        try {
            JsonNode json = Activity.MAPPER.readTree(r.body());
            String t = json.path("access_token").asText(null);
            if (t == null) throw new ChannelException("the token endpoint's answer has no access_token");
            long expiresIn = json.path("expires_in").asLong(3600);
            token = t;
            validUntil = clock.instant().plusSeconds(expiresIn).minus(REFRESH_BEFORE);
            return t;
        } catch (IOException e) {
            throw new ChannelException("the token endpoint's answer is not JSON", null, e);
        }
    }

    /** Forgets the cached token (the Connector refused it). */
    public synchronized void invalidate() {
        token = null;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static String abbreviate(String s) {
        if (s == null) return "";
        return s.length() <= 300 ? s : s.substring(0, 300) + "…";
    }
}
