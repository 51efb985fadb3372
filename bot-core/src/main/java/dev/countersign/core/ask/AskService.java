package dev.countersign.core.ask;

import dev.countersign.core.ConflictException;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.AgentRef;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Status;
import dev.countersign.core.audit.AuditEntry;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.channel.ChannelTasks;
import dev.countersign.core.notify.WebhookOutbox;
import dev.countersign.core.policy.Assessment;
import dev.countersign.core.policy.RiskPolicy;
import dev.countersign.core.store.ApprovalStore;

import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * Steps ① to ③ of the flow: takes a validated ask, lets the policy assess it, and stores the approval with
 * its audit entries (and, when it is decided at once, its webhook) in one transaction. An idempotency key
 * makes a repeat return the first approval; a key reused for a different request is refused.
 */
public final class AskService {
    private final ApprovalStore store;
    private final AuditLog audit;
    private final WebhookOutbox outbox;
    private final ChannelTasks channelTasks;
    private final Clock clock;
    private final Predicate<String> hasWebhookSecret;
    private volatile RiskPolicy policy;

    public AskService(ApprovalStore store, AuditLog audit, WebhookOutbox outbox, ChannelTasks channelTasks, RiskPolicy policy, Clock clock,
                      Predicate<String> hasWebhookSecret) {
        this.channelTasks = channelTasks;
        this.store = store;
        this.audit = audit;
        this.outbox = outbox;
        this.policy = policy;
        this.clock = clock;
        this.hasWebhookSecret = hasWebhookSecret;
    }

    /** The approval and whether this call created it ({@code false}: an idempotent repeat). */
    public record Asked(Approval approval, boolean created) {}

    /**
     * @param requestHash a digest of the request body; a repeat with the same key and another body is a conflict
     */
    public Asked ask(String agentId, AskRequest req, String idempotencyKey, String requestHash) {
        if (idempotencyKey != null) {
            if (idempotencyKey.isBlank() || idempotencyKey.length() > 200) {
                throw new InvalidInputException("Idempotency-Key", "the Idempotency-Key header must be 1 to 200 characters");
            }
            Optional<Asked> repeat = repeatOf(agentId, idempotencyKey, requestHash);
            if (repeat.isPresent()) return repeat.get();
        }
        if (req.callbackUrl() != null && !hasWebhookSecret.test(agentId)) {
            throw new InvalidInputException("callback_url", "agent '" + agentId + "' has no webhook_secret in the configuration, so its webhooks cannot be signed");
        }

        AgentRef agent = new AgentRef(agentId, req.runId());
        Assessment assessment = policy.assess(req, agent);
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        RiskLevel level = assessment.risk().level();

        Status status = Status.PENDING;
        Decision decision = null;
        if (level == RiskLevel.LOW || (level == RiskLevel.MEDIUM && assessment.plan().vetoWindow() == null)) {
            status = Status.APPROVED;
            String why = level == RiskLevel.LOW ? "low risk" : "medium risk, recorded for review";
            decision = new Decision(Status.APPROVED, new Decision.Decider("policy", "Countersign policy", DecidedVia.POLICY), why, now);
        }
        Approval approval = new Approval("apr_" + UUID.randomUUID().toString().replace("-", ""), agent, req.requestedFor(), req.action(), req.context(),
                assessment.risk(), assessment.plan(), req.callbackUrl(), now, now.plus(assessment.expiresAfter()), status, 0, decision, List.of());

        List<AuditEntry> entries = new ArrayList<>();
        String actor = "agent:" + agentId;
        entries.add(new AuditEntry(approval.id(), "asked", actor, AuditEntry.details("action_type", req.action().type(), "summary", req.action().summary(),
                "run_id", req.runId(), "requested_for", req.requestedFor(), "risk_hint", req.riskHint() == null ? null : req.riskHint().wire())));
        entries.add(new AuditEntry(approval.id(), "risk_assessed", "policy", AuditEntry.details("level", level.wire(), "rule", assessment.risk().rule(),
                "explanation", assessment.risk().explanation(), "approvers", approval.approvers().stream().map(p -> p.id()).toList(),
                "quorum", approval.plan().quorum(), "expires_at", approval.expiresAt().toString())));
        if (decision != null) {
            entries.add(new AuditEntry(approval.id(), "decided", "policy", AuditEntry.details("outcome", "approved", "via", "policy", "review", level == RiskLevel.MEDIUM)));
        }
        Optional<Asked> raced = store.database().inTransaction(c -> {
            if (!store.insert(c, approval, idempotencyKey, requestHash)) {
                return Optional.of(new Asked(null, false));
            }
            if (approval.decision() != null && approval.callbackUrl() != null) {
                outbox.enqueue(c, approval, now);
            }
            if (approval.isPending() || level == RiskLevel.MEDIUM) {
                channelTasks.record(c, approval.id(), ChannelTasks.Kind.PUBLISH, List.of(), now);
            }
            audit.append(c, now, entries);
            return Optional.empty();
        });
        if (raced.isPresent()) {
            // Another request with the same key committed between our look-up and our insert.
            return repeatOf(agentId, idempotencyKey, requestHash).orElseThrow();
        }
        return new Asked(approval, true);
    }

    private Optional<Asked> repeatOf(String agentId, String key, String requestHash) {
        return store.findByIdempotencyKey(agentId, key).map(k -> {
            if (requestHash != null && k.requestHash() != null && !requestHash.equals(k.requestHash())) {
                throw new ConflictException("idempotency_key_reused",
                        "Idempotency-Key '" + key + "' was already used for a different request (approval " + k.approval().id() + ")");
            }
            return new Asked(k.approval(), false);
        });
    }

    /** Swaps in a new policy (config reload); approvals already asked keep the plan they got. */
    public void replacePolicy(RiskPolicy newPolicy) {
        this.policy = newPolicy;
    }
}
