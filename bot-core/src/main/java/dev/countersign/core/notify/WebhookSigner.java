package dev.countersign.core.notify;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;

/**
 * Standard Webhooks signing: {@code v1,<base64 HMAC-SHA256 over "id.timestamp.body">}, keyed with the
 * base64 part of a {@code whsec_} secret (a secret without the prefix is used as its UTF-8 bytes).
 */
public final class WebhookSigner {
    private final byte[] key;

    public WebhookSigner(String secret) {
        if (secret == null || secret.isBlank()) throw new IllegalArgumentException("webhook secret is empty");
        this.key = secret.startsWith("whsec_") ? Base64.getDecoder().decode(secret.substring("whsec_".length())) : secret.getBytes(StandardCharsets.UTF_8);
    }

    public String sign(String webhookId, long timestampSeconds, String body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] sig = mac.doFinal((webhookId + "." + timestampSeconds + "." + body).getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(sig);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
