package dev.countersign.core.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.ask.AskRequest;
import dev.countersign.core.ask.AskService;
import dev.countersign.core.store.Json;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * An agent's ask as the JSON body of {@code POST /api/v1/approvals}, parsed by {@link AskRequest#parse} as
 * the server would, so the tests go through the same validation.
 */
public final class Asks {
    private final ObjectNode body = Json.MAPPER.createObjectNode();

    private Asks(String type, String summary) {
        ObjectNode action = body.putObject("action");
        action.put("type", type);
        action.put("summary", summary);
        action.putObject("params");
    }

    public static Asks action(String type, String summary) {
        return new Asks(type, summary);
    }

    public static Asks action(String type) {
        return new Asks(type, "do " + type);
    }

    public Asks param(String name, Object value) {
        ((ObjectNode) body.get("action").get("params")).set(name, Json.MAPPER.valueToTree(value));
        return this;
    }

    public Asks requestedFor(String personId) {
        body.put("requested_for", personId);
        return this;
    }

    public Asks callbackUrl(String url) {
        body.put("callback_url", url);
        return this;
    }

    public Asks timeout(String isoDuration) {
        body.put("timeout", isoDuration);
        return this;
    }

    public Asks riskHint(String level) {
        body.putObject("risk").put("level", level);
        return this;
    }

    public AskRequest request(String agentId) {
        return AskRequest.parse(body, agentId);
    }

    /** A digest of the body, as the server computes for idempotency. */
    public String hash() {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(body.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Asks without an idempotency key; returns the new approval. */
    public Approval by(Countersign engine, String agentId) {
        return engine.ask(agentId, request(agentId), null, hash()).approval();
    }

    /** Asks with an idempotency key. */
    public AskService.Asked by(Countersign engine, String agentId, String idempotencyKey) {
        return engine.ask(agentId, request(agentId), idempotencyKey, hash());
    }
}
