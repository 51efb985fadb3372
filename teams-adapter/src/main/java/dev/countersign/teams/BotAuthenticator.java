package dev.countersign.teams;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Checks the bearer token Bot Framework sends with every activity (Bot Connector authentication, "connector to
 * bot"): an RS256 signature by a key from the OpenID metadata's JWKS (cached, fetched again on an unknown key id
 * and daily), the issuer {@value #ISSUER}, our app id as audience, the expiry with {@link #CLOCK_SKEW} of leeway,
 * and a {@code serviceUrl} claim equal to the activity's. The signing key must carry endorsements that include the
 * activity's {@code channelId}: a key without endorsements, or an activity without a channel, is refused.
 *
 * <p>When a refetch of the keys fails, the keys already fetched are still used; refetches (on an unknown key id, and
 * of keys older than {@link #KEYS_MAX_AGE}) happen at most every {@link #MIN_REFETCH}, failed or not.
 */
public final class BotAuthenticator {
    private static final Logger log = LoggerFactory.getLogger(BotAuthenticator.class);
    public static final String ISSUER = "https://api.botframework.com";
    public static final Duration CLOCK_SKEW = Duration.ofMinutes(5);
    /** Keys are fetched again after this long, as Microsoft recommends. */
    static final Duration KEYS_MAX_AGE = Duration.ofHours(24);
    /** A token with an unknown key id fetches the keys again, but not more often than this (forged tokens are cheap). */
    static final Duration MIN_REFETCH = Duration.ofSeconds(5);

    private final String appId;
    private final URI metadataUrl;
    private final HttpClient http;
    private final Clock clock;
    private final Object fetchLock = new Object();
    private volatile KeySet keys;
    private Instant lastFetchAttempt; // guarded by fetchLock

    /** Valid: the token's claims. Invalid: why, for the log (callers answer a bare 401). */
    public sealed interface Result {
        record Valid(JWTClaimsSet claims) implements Result {}

        record Invalid(String reason) implements Result {}
    }

    private record KeySet(Map<String, RSAKey> byKid, Map<String, Set<String>> endorsements, Instant fetchedAt) {}

    public BotAuthenticator(String appId, URI metadataUrl, HttpClient http, Clock clock) {
        this.appId = Objects.requireNonNull(appId, "appId");
        this.metadataUrl = Objects.requireNonNull(metadataUrl, "metadataUrl");
        this.http = http;
        this.clock = clock;
    }

    /**
     * @param authorization   the {@code Authorization} header, or null
     * @param serviceUrl      the {@code serviceUrl} of the activity the token came with
     * @param channelId       the activity's {@code channelId} (checked against key endorsements)
     */
    public Result authenticate(String authorization, String serviceUrl, String channelId) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return new Result.Invalid("no bearer token");
        }
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(authorization.substring(7).trim());
        } catch (ParseException e) {
            return new Result.Invalid("not a signed JWT");
        }
        if (!JWSAlgorithm.RS256.equals(jwt.getHeader().getAlgorithm())) {
            return new Result.Invalid("algorithm " + jwt.getHeader().getAlgorithm() + " is not RS256");
        }
        String kid = jwt.getHeader().getKeyID();
        if (kid == null) return new Result.Invalid("the token names no key (kid)");
        if (channelId == null || channelId.isBlank()) return new Result.Invalid("the activity names no channel (channelId)");
        KeySet ks;
        try {
            ks = keysFor(kid);
        } catch (IOException | RuntimeException e) {
            log.warn("cannot fetch Bot Framework signing keys from {}: {}", metadataUrl, e.toString());
            return new Result.Invalid("signing keys unavailable");
        }
        RSAKey key = ks.byKid().get(kid);
        if (key == null) return new Result.Invalid("unknown signing key " + kid);
        Set<String> endorsed = ks.endorsements().get(kid);
        if (endorsed == null || !endorsed.contains(channelId)) {
            return new Result.Invalid("key " + kid + " is not endorsed for channel " + channelId + " (endorsements " + endorsed + ")");
        }
        try {
            if (!jwt.verify(new RSASSAVerifier(key))) return new Result.Invalid("bad signature");
        } catch (JOSEException e) {
            return new Result.Invalid("signature check failed: " + e.getMessage());
        }
        JWTClaimsSet claims;
        try {
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            return new Result.Invalid("unreadable claims");
        }
        if (!ISSUER.equals(claims.getIssuer())) return new Result.Invalid("issuer " + claims.getIssuer() + " is not " + ISSUER);
        List<String> audience = claims.getAudience();
        if (audience == null || !audience.contains(appId)) return new Result.Invalid("audience " + audience + " is not this bot");
        Instant now = clock.instant();
        Date exp = claims.getExpirationTime();
        if (exp == null) return new Result.Invalid("the token has no expiry");
        if (now.minus(CLOCK_SKEW).isAfter(exp.toInstant())) return new Result.Invalid("the token expired at " + exp.toInstant());
        Date nbf = claims.getNotBeforeTime();
        if (nbf != null && now.plus(CLOCK_SKEW).isBefore(nbf.toInstant())) return new Result.Invalid("the token is not valid before " + nbf.toInstant());
        Object claimed = claims.getClaim("serviceurl");
        if (claimed == null) claimed = claims.getClaim("serviceUrl");
        if (!(claimed instanceof String s) || serviceUrl == null || !sameServiceUrl(s, serviceUrl)) {
            return new Result.Invalid("the token's serviceUrl " + claimed + " does not match the activity's " + serviceUrl);
        }
        return new Result.Valid(claims);
    }

    /** Service URLs compare without a trailing slash: Teams sends both forms of the same URL. */
    static boolean sameServiceUrl(String a, String b) {
        return stripSlash(a).equalsIgnoreCase(stripSlash(b));
    }

    private static String stripSlash(String s) {
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    /**
     * The key set to check a token with key id {@code kid}: the cached one while it is fresh and knows the kid; else
     * fetched again, unless a fetch was tried less than {@link #MIN_REFETCH} ago; and when fetching fails, the cached
     * one (the kid's key stays valid: Microsoft publishes keys well before and after use).
     */
    private KeySet keysFor(String kid) throws IOException {
        KeySet ks = keys;
        if (ks != null && ks.byKid().containsKey(kid) && fresh(ks, clock.instant())) return ks;
        synchronized (fetchLock) {
            Instant now = clock.instant();
            ks = keys;
            if (ks != null && ks.byKid().containsKey(kid) && fresh(ks, now)) return ks; // fetched meanwhile
            boolean mayFetch = lastFetchAttempt == null || !lastFetchAttempt.plus(MIN_REFETCH).isAfter(now);
            if (!mayFetch) {
                if (ks == null) throw new IOException("the last fetch of the signing keys failed less than " + MIN_REFETCH + " ago");
                return ks;
            }
            lastFetchAttempt = now;
            try {
                keys = ks = fetch();
                return ks;
            } catch (IOException | RuntimeException e) {
                if (ks == null) throw e;
                log.warn("cannot refresh the Bot Framework signing keys from {} (using the {} cached ones, fetched {}): {}", metadataUrl,
                        ks.byKid().size(), ks.fetchedAt(), e.toString());
                return ks;
            }
        }
    }

    private static boolean fresh(KeySet ks, Instant now) {
        return ks.fetchedAt().plus(KEYS_MAX_AGE).isAfter(now);
    }

    private KeySet fetch() throws IOException {
        JsonNode metadata = getJson(metadataUrl);
        String jwksUri = metadata.path("jwks_uri").asText(null);
        if (jwksUri == null) throw new IOException("the OpenID metadata at " + metadataUrl + " has no jwks_uri");
        JsonNode jwks = getJson(metadataUrl.resolve(jwksUri));
        Map<String, RSAKey> byKid = new HashMap<>();
        Map<String, Set<String>> endorsements = new HashMap<>();
        for (JsonNode k : jwks.path("keys")) {
            try {
                JWK jwk = JWK.parse(k.toString());
                if (!(jwk instanceof RSAKey rsa) || rsa.getKeyID() == null) continue;
                byKid.put(rsa.getKeyID(), rsa);
                if (k.path("endorsements").isArray()) {
                    Set<String> e = new HashSet<>();
                    k.path("endorsements").forEach(x -> e.add(x.asText()));
                    endorsements.put(rsa.getKeyID(), e);
                }
            } catch (ParseException e) {
                log.warn("skipping an unreadable key in {}: {}", jwksUri, e.getMessage());
            }
        }
        log.info("fetched {} Bot Framework signing keys from {}", byKid.size(), jwksUri);
        return new KeySet(Map.copyOf(byKid), Map.copyOf(endorsements), clock.instant());
    }

    private JsonNode getJson(URI uri) throws IOException {
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).header("Accept", "application/json").GET().build();
        try {
            HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) throw new IOException("GET " + uri + " answered " + r.statusCode());
            return Activity.MAPPER.readTree(r.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
