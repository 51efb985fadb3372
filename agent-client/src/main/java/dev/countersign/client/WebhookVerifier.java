package dev.countersign.client;

import com.fasterxml.jackson.databind.JsonNode;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Verifies Countersign's webhooks (Standard Webhooks): the {@code webhook-signature} must hold a
 * {@code v1,<base64 HMAC-SHA256 of "id.timestamp.body">} under the agent's {@code whsec_} secret, the
 * {@code webhook-timestamp} must be within the tolerance (default 5 minutes either way), and a
 * {@code webhook-id} is accepted once: a replay inside the window is refused. Accepted ids are remembered in
 * memory, bounded ({@code maxRemembered}, default 10,000) and forgotten once their timestamp has left the window
 * (after which the timestamp check refuses them anyway). Verify the raw body bytes as received, before parsing.
 * Thread-safe.
 */
public final class WebhookVerifier {
    private final byte[] key;
    private final Duration tolerance;
    private final Clock clock;
    private final int maxRemembered;
    /** webhook-id → its timestamp (epoch seconds), oldest first. */
    private final LinkedHashMap<String, Long> seen = new LinkedHashMap<>();

    private WebhookVerifier(byte[] key, Duration tolerance, Clock clock, int maxRemembered) {
        this.key = key;
        this.tolerance = tolerance;
        this.clock = clock;
        this.maxRemembered = maxRemembered;
    }

    /** A verifier for this secret ({@code whsec_<base64>}; without the prefix, its UTF-8 bytes are the key, as the server does). */
    public static WebhookVerifier of(String secret) {
        return builder(secret).build();
    }

    public static Builder builder(String secret) {
        return new Builder(secret);
    }

    /**
     * Verifies a webhook from its headers (looked up case-insensitively by {@code header}) and raw body; returns
     * the body as JSON (the approval).
     *
     * @throws WebhookVerificationException if it is refused
     */
    public JsonNode verify(Function<String, String> header, String body) {
        verify(header.apply("webhook-id"), header.apply("webhook-timestamp"), header.apply("webhook-signature"), body);
        try {
            return Countersign.MAPPER.readTree(body);
        } catch (IOException e) {
            throw new WebhookVerificationException(WebhookVerificationException.Reason.BAD_SIGNATURE, "the signed body is not JSON");
        }
    }

    /** {@link #verify(Function, String)} with headers as a map (e.g. {@code HttpHeaders.map()}), names in any case. */
    public JsonNode verify(Map<String, List<String>> headers, String body) {
        return verify(name -> {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey() != null && e.getKey().equalsIgnoreCase(name) && e.getValue() != null && !e.getValue().isEmpty()) return e.getValue().get(0);
            }
            return null;
        }, body);
    }

    /**
     * Verifies the three header values and the raw body.
     *
     * @throws WebhookVerificationException if it is refused
     */
    public void verify(String webhookId, String webhookTimestamp, String webhookSignature, String body) {
        if (webhookId == null || webhookId.isBlank()) throw refused(WebhookVerificationException.Reason.MISSING_HEADER, "no webhook-id header");
        if (webhookTimestamp == null || !webhookTimestamp.trim().matches("\\d{1,12}")) {
            throw refused(WebhookVerificationException.Reason.MISSING_HEADER, "webhook-timestamp is missing or not Unix seconds: " + webhookTimestamp);
        }
        if (webhookSignature == null || webhookSignature.isBlank()) throw refused(WebhookVerificationException.Reason.MISSING_HEADER, "no webhook-signature header");
        if (body == null) throw refused(WebhookVerificationException.Reason.MISSING_HEADER, "no body");
        long ts = Long.parseLong(webhookTimestamp.trim());
        long now = clock.instant().getEpochSecond();
        if (Math.abs(now - ts) > tolerance.toSeconds()) {
            throw refused(WebhookVerificationException.Reason.TIMESTAMP_OUT_OF_RANGE, "webhook-timestamp " + ts + " is " + Math.abs(now - ts)
                    + " s " + (ts < now ? "old" : "in the future") + " (tolerance " + tolerance.toSeconds() + " s)");
        }
        byte[] expected = hmac(webhookId + "." + ts + "." + body);
        boolean match = false;
        for (String candidate : webhookSignature.trim().split(" +")) {
            int comma = candidate.indexOf(',');
            if (comma < 0 || !candidate.substring(0, comma).equals("v1")) continue;
            byte[] given;
            try {
                given = Base64.getDecoder().decode(candidate.substring(comma + 1));
            } catch (IllegalArgumentException e) {
                continue;
            }
            match |= MessageDigest.isEqual(expected, given);
        }
        if (!match) throw refused(WebhookVerificationException.Reason.BAD_SIGNATURE, "no v1 signature matches the body: forged, altered, or signed with another secret");
        synchronized (seen) {
            forgetOld(now);
            if (seen.containsKey(webhookId)) throw refused(WebhookVerificationException.Reason.REPLAYED, "webhook-id " + webhookId + " was already accepted");
            seen.put(webhookId, ts);
            while (seen.size() > maxRemembered) {
                Iterator<String> it = seen.keySet().iterator();
                it.next();
                it.remove();
            }
        }
    }

    private void forgetOld(long now) {
        Iterator<Map.Entry<String, Long>> it = seen.entrySet().iterator();
        while (it.hasNext()) {
            // insertion order is close to timestamp order; drop leading entries that left the window
            if (now - it.next().getValue() > tolerance.toSeconds()) it.remove();
            else break;
        }
    }

    private byte[] hmac(String signed) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(signed.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static WebhookVerificationException refused(WebhookVerificationException.Reason reason, String message) {
        return new WebhookVerificationException(reason, "webhook refused: " + message);
    }

    public static final class Builder {
        private final byte[] key;
        private Duration tolerance = Duration.ofMinutes(5);
        private Clock clock = Clock.systemUTC();
        private int maxRemembered = 10_000;

        private Builder(String secret) {
            if (secret == null || secret.isBlank()) throw new IllegalArgumentException("webhook secret is empty (the agent's webhook_secret, whsec_<base64>)");
            if (secret.startsWith("whsec_")) {
                try {
                    key = Base64.getDecoder().decode(secret.substring("whsec_".length()));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("webhook secret: the part after whsec_ is not base64");
                }
            } else {
                key = secret.getBytes(StandardCharsets.UTF_8);
            }
        }

        /** How far a timestamp may be from now, either way (default 5 minutes). */
        public Builder tolerance(Duration tolerance) {
            if (tolerance == null || tolerance.isNegative()) throw new IllegalArgumentException("tolerance must be 0 or more");
            this.tolerance = tolerance;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /** How many accepted ids to remember for replay detection (default 10,000; the oldest is forgotten first). */
        public Builder maxRemembered(int n) {
            if (n < 1) throw new IllegalArgumentException("maxRemembered must be at least 1");
            this.maxRemembered = n;
            return this;
        }

        public WebhookVerifier build() {
            return new WebhookVerifier(key, tolerance, clock, maxRemembered);
        }
    }
}
