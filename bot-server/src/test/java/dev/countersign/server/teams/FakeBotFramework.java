package dev.countersign.server.teams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.countersign.core.store.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * Microsoft's side of the Bot Framework, on one local port: the OpenID metadata and JWKS that sign inbound tokens
 * (with keys made here), the token endpoint, and a Connector service to be the activities' {@code serviceUrl}.
 * It records every Connector call and can answer the next ones with 429, or with any status, or slowly. Besides the
 * Teams key it publishes one endorsed for Web Chat only and one without endorsements (valid signatures that a Teams
 * bot must still refuse). The service URL may have any path before {@code /v3/conversations}.
 */
public final class FakeBotFramework implements AutoCloseable {
    public static final String APP_ID = "f5d48856-5b42-41a0-8c3a-c5f944b679b0";   // the bot id of the fixtures
    public static final String ISSUER = "https://api.botframework.com";

    /** One call to the Connector service. */
    public record Call(String method, String path, String authorization, JsonNode body, Instant at, int status, String answeredId) {
        /** The Adaptive Card of the activity, or a missing node. */
        public JsonNode card() {
            return body.path("attachments").path(0).path("content");
        }
    }

    private final HttpServer server;
    private final List<Published> published = new CopyOnWriteArrayList<>();
    private final RSAKey signingKey;
    private final RSAKey webChatKey;
    private final RSAKey unendorsedKey;
    private final List<Failure> failures = new CopyOnWriteArrayList<>();
    private final List<Delay> delays = new CopyOnWriteArrayList<>();
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private final AtomicInteger activityIds = new AtomicInteger();
    private final AtomicInteger tokenRequests = new AtomicInteger();
    private final AtomicInteger metadataRequests = new AtomicInteger();
    private final List<Throttle> throttles = new CopyOnWriteArrayList<>();

    private record Throttle(String method, AtomicInteger remaining, int retryAfterSeconds) {}

    /** A published key and its endorsements (null: none listed). */
    private record Published(RSAKey key, List<String> endorsements) {}

    /** Calls that match answer {@code status}; {@code accepted}: the activity is created all the same (the answer is lost). */
    private record Failure(Predicate<Call> which, int status, AtomicInteger remaining, boolean accepted) {}

    private record Delay(Predicate<Call> which, Duration delay) {}

    public FakeBotFramework() {
        try {
            signingKey = newKey("key-1");
            published.add(new Published(signingKey.toPublicJWK(), List.of("msteams")));
            webChatKey = newKey("key-webchat");
            published.add(new Published(webChatKey.toPublicJWK(), List.of("webchat", "directline")));
            unendorsedKey = newKey("key-bare");
            published.add(new Published(unendorsedKey.toPublicJWK(), null));
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.createContext("/", this::handle);
        server.start();
    }

    public static RSAKey newKey(String kid) {
        try {
            return new RSAKeyGenerator(2048).keyID(kid).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    public String base() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** The Connector's service URL, as Teams sends it (with a trailing slash). */
    public String serviceUrl() {
        return base() + "/amer/";
    }

    public Map<String, String> env() {
        return Map.of("TEAMS_APP_ID", APP_ID, "TEAMS_APP_PASSWORD", "a-client-secret", "TEAMS_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "TEAMS_OPENID_METADATA_URL", base() + "/openid", "TEAMS_TOKEN_URL", base() + "/token");
    }

    public void publish(RSAKey key) {
        published.add(new Published(key.toPublicJWK(), List.of("msteams")));
    }

    public RSAKey signingKey() {
        return signingKey;
    }

    /** A published key endorsed for Web Chat and Direct Line, not Teams. */
    public RSAKey webChatKey() {
        return webChatKey;
    }

    /** A published key with no endorsements. */
    public RSAKey unendorsedKey() {
        return unendorsedKey;
    }

    // ---- tokens ------------------------------------------------------------------------------------------

    /** A valid channel token for activities from {@code serviceUrl}. */
    public String token(String serviceUrl) {
        return token(signingKey, claims(serviceUrl).build());
    }

    public JWTClaimsSet.Builder claims(String serviceUrl) {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder().issuer(ISSUER).audience(APP_ID).issueTime(Date.from(now)).notBeforeTime(Date.from(now.minusSeconds(60)))
                .expirationTime(Date.from(now.plus(Duration.ofMinutes(30)))).claim("serviceurl", serviceUrl);
    }

    public static String token(RSAKey key, JWTClaimsSet claims) {
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).type(JOSEObjectType.JWT).build(), claims);
            jwt.sign(new RSASSASigner(key));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- Connector -----------------------------------------------------------------------------------------

    /** The next {@code times} calls with this method answer 429 with {@code Retry-After}. */
    public void throttle(String method, int times, int retryAfterSeconds) {
        throttles.add(new Throttle(method, new AtomicInteger(times), retryAfterSeconds));
    }

    /** The next {@code times} Connector calls that match answer {@code status} (and change nothing). */
    public void fail(Predicate<Call> which, int status, int times) {
        failures.add(new Failure(which, status, new AtomicInteger(times), false));
    }

    /**
     * The next {@code times} Connector calls that match are carried out, but the answer is lost: {@code status}, or
     * with {@code status} 0 the connection is dropped without an answer (as a timeout looks to the caller).
     */
    public void acceptButFail(Predicate<Call> which, int status, int times) {
        failures.add(new Failure(which, status, new AtomicInteger(times), true));
    }

    /** Connector calls that match are answered only after {@code delay}. */
    public void delay(Predicate<Call> which, Duration delay) {
        delays.add(new Delay(which, delay));
    }

    public List<Call> calls() {
        return List.copyOf(calls);
    }

    public List<Call> calls(Predicate<Call> which) {
        return calls.stream().filter(which).toList();
    }

    /** Successful posts of activities to a conversation. */
    public List<Call> posts(String conversationId) {
        return calls(c -> c.method().equals("POST") && c.status() == 200 && c.path().equals("/amer/v3/conversations/" + conversationId + "/activities"));
    }

    public List<Call> updates(String conversationId, String activityId) {
        return calls(c -> c.method().equals("PUT") && c.path().equals("/amer/v3/conversations/" + conversationId + "/activities/" + activityId));
    }

    public int tokenRequests() {
        return tokenRequests.get();
    }

    public int metadataRequests() {
        return metadataRequests.get();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String method = ex.getRequestMethod();
            byte[] in = ex.getRequestBody().readAllBytes();
            if (path.equals("/openid")) {
                metadataRequests.incrementAndGet();
                ObjectNode m = Json.MAPPER.createObjectNode().put("issuer", ISSUER).put("jwks_uri", base() + "/keys");
                m.putArray("id_token_signing_alg_values_supported").add("RS256");
                send(ex, 200, m.toString(), null);
            } else if (path.equals("/keys")) {
                ObjectNode jwks = Json.MAPPER.createObjectNode();
                ArrayNode keys = jwks.putArray("keys");
                for (Published k : published) {
                    ObjectNode n = (ObjectNode) Json.MAPPER.readTree(k.key().toJSONString());
                    if (k.endorsements() != null) k.endorsements().forEach(n.putArray("endorsements")::add);
                    keys.add(n);
                }
                send(ex, 200, jwks.toString(), null);
            } else if (path.equals("/token")) {
                tokenRequests.incrementAndGet();
                String form = new String(in, StandardCharsets.UTF_8);
                if (!form.contains("client_id=" + APP_ID) || !form.contains("client_secret=a-client-secret") || !form.contains("grant_type=client_credentials")) {
                    send(ex, 401, "{\"error\":\"invalid_client\"}", null);
                    return;
                }
                send(ex, 200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"bot-token-" + tokenRequests.get() + "\"}", null);
            } else if (path.contains("/v3/conversations")) {
                connector(ex, method, path, in);
            } else {
                send(ex, 404, "{}", null);
            }
        }
    }

    private void connector(HttpExchange ex, String method, String path, byte[] in) throws IOException {
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        JsonNode body = in.length == 0 ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(in);
        if (auth == null || !auth.startsWith("Bearer bot-token-")) {
            calls.add(new Call(method, path, auth, body, Instant.now(), 401, null));
            send(ex, 401, "{\"error\":{\"code\":\"Unauthorized\"}}", null);
            return;
        }
        Call asked = new Call(method, path, auth, body, Instant.now(), 0, null);
        for (Delay d : delays) {
            if (d.which().test(asked)) {
                try {
                    Thread.sleep(d.delay().toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        boolean acceptedButLost = false;
        int lostStatus = 0;
        for (Failure f : failures) {
            if (f.which().test(asked) && f.remaining().getAndDecrement() > 0) {
                if (!f.accepted()) {
                    calls.add(new Call(method, path, auth, body, Instant.now(), f.status(), null));
                    send(ex, f.status(), "{\"error\":{\"code\":\"Forbidden\",\"message\":\"refused by the fake\"}}", null);
                    return;
                }
                acceptedButLost = true;
                lostStatus = f.status();
                break;
            }
        }
        for (Throttle t : throttles) {
            if (t.method().equals(method) && t.remaining().getAndDecrement() > 0) {
                calls.add(new Call(method, path, auth, body, Instant.now(), 429, null));
                send(ex, 429, "{\"error\":{\"code\":\"TooManyRequests\"}}", String.valueOf(t.retryAfterSeconds()));
                return;
            }
        }
        String id;
        if (method.equals("POST") && path.endsWith("/v3/conversations")) {
            id = "a:dm-" + body.path("members").path(0).path("id").asText();
        } else if (method.equals("POST")) {
            id = "1:activity-" + activityIds.incrementAndGet();
        } else {
            id = path.substring(path.lastIndexOf('/') + 1);
        }
        calls.add(new Call(method, path, auth, body, Instant.now(), 200, id));
        if (acceptedButLost) {
            // done, but the caller never learns it
            if (lostStatus == 0) throw new IOException("the fake drops the connection");
            send(ex, lostStatus, "{\"error\":{\"code\":\"ServiceError\"}}", null);
            return;
        }
        send(ex, 200, Json.MAPPER.createObjectNode().put("id", id).toString(), null);
    }

    private static void send(HttpExchange ex, int status, String body, String retryAfter) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        if (retryAfter != null) ex.getResponseHeaders().set("Retry-After", retryAfter);
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
