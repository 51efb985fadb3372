package dev.countersign.teams;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
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
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Collections;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The signing keys of inbound tokens: endorsements are required; a failed refresh keeps the keys already known; and
 * refetches are throttled on every path, so a burst of requests (or of forged key ids) is not a burst of fetches.
 */
class TeamsBotAuthenticatorTest {
    private static final String APP = "app-id";
    private static final String SERVICE_URL = "https://smba.trafficmanager.net/amer/";

    private HttpServer server;
    private final AtomicInteger metadataFetches = new AtomicInteger();
    private final AtomicBoolean down = new AtomicBoolean();
    /** key → endorsements (null: none listed) */
    private final Map<RSAKey, List<String>> published = Collections.synchronizedMap(new LinkedHashMap<>());
    private final MutableClock clock = new MutableClock(Instant.parse("2026-03-02T09:00:00Z"));
    private BotAuthenticator auth;
    private RSAKey teamsKey;

    static final class MutableClock extends Clock {
        private volatile Instant now;

        MutableClock(Instant now) {
            this.now = now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @BeforeEach
    void start() throws Exception {
        teamsKey = new RSAKeyGenerator(2048).keyID("key-1").generate();
        published.put(teamsKey, List.of("msteams"));
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
        auth = new BotAuthenticator(APP, URI.create(base() + "/openid"), HttpClient.newHttpClient(), clock);
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
            String path = ex.getRequestURI().getPath();
            if (down.get()) {
                send(ex, 503, "{}");
            } else if (path.equals("/openid")) {
                metadataFetches.incrementAndGet();
                send(ex, 200, "{\"issuer\":\"" + BotAuthenticator.ISSUER + "\",\"jwks_uri\":\"" + base() + "/keys\"}");
            } else {
                StringBuilder keys = new StringBuilder("{\"keys\":[");
                String sep = "";
                Map<RSAKey, List<String>> copy;
                synchronized (published) {
                    copy = new LinkedHashMap<>(published);
                }
                for (Map.Entry<RSAKey, List<String>> k : copy.entrySet()) {
                    String json = k.getKey().toPublicJWK().toJSONString();
                    if (k.getValue() != null) {
                        json = json.substring(0, json.length() - 1) + ",\"endorsements\":[" + String.join(",", k.getValue().stream().map(e -> "\"" + e + "\"").toList()) + "]}";
                    }
                    keys.append(sep).append(json);
                    sep = ",";
                }
                send(ex, 200, keys.append("]}").toString());
            }
        }
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    private String token(RSAKey key) throws JOSEException {
        Instant now = clock.instant();
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(BotAuthenticator.ISSUER).audience(APP).expirationTime(Date.from(now.plusSeconds(1800)))
                .claim("serviceurl", SERVICE_URL).build();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(), claims);
        jwt.sign(new RSASSASigner(key));
        return "Bearer " + jwt.serialize();
    }

    private BotAuthenticator.Result check(RSAKey key, String channelId) throws JOSEException {
        return auth.authenticate(token(key), SERVICE_URL, channelId);
    }

    @Test
    void a_key_must_be_endorsed_for_the_activitys_channel_and_the_activity_must_name_one() throws Exception {
        RSAKey bare = new RSAKeyGenerator(2048).keyID("key-bare").generate();
        published.put(bare, null);
        RSAKey webChat = new RSAKeyGenerator(2048).keyID("key-webchat").generate();
        published.put(webChat, List.of("webchat"));
        assertThat(check(teamsKey, "msteams")).isInstanceOf(BotAuthenticator.Result.Valid.class);
        assertThat(check(teamsKey, null)).isInstanceOf(BotAuthenticator.Result.Invalid.class);
        assertThat(check(teamsKey, "webchat")).isInstanceOf(BotAuthenticator.Result.Invalid.class);
        assertThat(check(bare, "msteams")).isInstanceOf(BotAuthenticator.Result.Invalid.class);
        assertThat(check(bare, null)).isInstanceOf(BotAuthenticator.Result.Invalid.class);
        assertThat(check(webChat, "msteams")).isInstanceOf(BotAuthenticator.Result.Invalid.class);
    }

    @Test
    void when_refreshing_stale_keys_fails_the_cached_ones_still_serve_and_refetches_are_throttled() throws Exception {
        assertThat(check(teamsKey, "msteams")).isInstanceOf(BotAuthenticator.Result.Valid.class);
        assertThat(metadataFetches).hasValue(1);

        clock.advance(BotAuthenticator.KEYS_MAX_AGE.plusMinutes(1));
        down.set(true);
        for (int i = 0; i < 20; i++) {
            assertThat(check(teamsKey, "msteams")).as("request %s", i).isInstanceOf(BotAuthenticator.Result.Valid.class);
        }
        clock.advance(BotAuthenticator.MIN_REFETCH);
        assertThat(check(teamsKey, "msteams")).isInstanceOf(BotAuthenticator.Result.Valid.class);

        // up again: one refetch (not one per request), and the keys are fresh for another day
        down.set(false);
        for (int i = 0; i < 20; i++) check(teamsKey, "msteams");
        assertThat(metadataFetches).hasValue(1);
        clock.advance(BotAuthenticator.MIN_REFETCH);
        for (int i = 0; i < 20; i++) assertThat(check(teamsKey, "msteams")).isInstanceOf(BotAuthenticator.Result.Valid.class);
        assertThat(metadataFetches).hasValue(2);
        clock.advance(Duration.ofHours(1));
        check(teamsKey, "msteams");
        assertThat(metadataFetches).hasValue(2);
    }
}
