package dev.countersign.client;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Instant;

/** An approval as the server last described it: its status, who decided and their comment, and the whole JSON. */
public final class Outcome {
    private final JsonNode json;
    private final Status status;

    /** Reads an approval's JSON ({@code GET /api/v1/approvals/{id}}); an unknown status is a {@link CountersignException}. */
    public static Outcome of(JsonNode approval) {
        return new Outcome(approval);
    }

    private Outcome(JsonNode json) {
        if (json == null || !json.path("id").isTextual()) {
            throw new CountersignException(0, "bad_response", "the server's answer is not an approval: " + json, null);
        }
        this.json = json;
        this.status = Status.fromWire(json.path("status").asText(null));
    }

    public String id() {
        return json.path("id").asText();
    }

    public Status status() {
        return status;
    }

    /** True only when approved: the one state in which the action may run. */
    public boolean granted() {
        return status == Status.APPROVED;
    }

    public boolean pending() {
        return status == Status.PENDING;
    }

    /**
     * Who decided: a person's id for a person's decision; for the others the server's id of the decider
     * ({@code policy} for low risk, {@code timer} for an expiry or a veto window's end, the agent for a
     * cancel). Null while pending.
     */
    public String decidedBy() {
        JsonNode by = json.path("decision").path("by");
        return by.path("id").isTextual() ? by.path("id").asText() : null;
    }

    /** The decider's display name, or null. */
    public String decidedByName() {
        JsonNode by = json.path("decision").path("by");
        return by.path("name").isTextual() ? by.path("name").asText() : null;
    }

    /** How it was decided: {@code slack}, {@code teams}, {@code web}, {@code cli}, {@code policy}, {@code timer} or {@code agent}; null while pending. */
    public String decidedVia() {
        JsonNode by = json.path("decision").path("by");
        return by.path("channel").isTextual() ? by.path("channel").asText() : null;
    }

    /** The decider's comment, or null. */
    public String comment() {
        JsonNode c = json.path("decision").path("comment");
        return c.isTextual() ? c.asText() : null;
    }

    /** The risk level the policy gave it (null if the server sent none this client knows). */
    public RiskLevel riskLevel() {
        return RiskLevel.fromWire(json.path("risk").path("level").asText(null));
    }

    /** When the server expires it if nobody decides, or null. */
    public Instant expiresAt() {
        JsonNode e = json.path("expires_at");
        return e.isTextual() ? Instant.parse(e.asText()) : null;
    }

    /** The whole approval as the server sent it (see docs/API.md, "The approval"). */
    public JsonNode json() {
        return json;
    }

    @Override
    public String toString() {
        return id() + " " + status.wire() + (decidedBy() == null ? "" : " by " + decidedBy()) + (comment() == null ? "" : ": " + comment());
    }
}
