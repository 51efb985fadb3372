package dev.countersign.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.countersign.core.CountersignException;
import dev.countersign.core.approval.Action;
import dev.countersign.core.approval.AgentRef;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.ApprovalJson;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.Risk;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;
import dev.countersign.core.audit.AuditEntry;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.audit.AuditRecord;
import dev.countersign.core.notify.WebhookOutbox;
import dev.countersign.core.testing.Databases;
import dev.countersign.core.testing.Databases.DataSourceSpec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The store's contract, run unchanged on H2 and on PostgreSQL: whatever passes on one must pass on the other.
 * Each test gets a fresh database (an H2 file in its own temp dir, or a new PostgreSQL database).
 */
class ApprovalStoreContractTest {

    /** Runs the test once per supported database. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.METHOD)
    @ParameterizedTest(name = "on {0}")
    @EnumSource(Backend.class)
    @interface OnEachDatabase {}

    enum Backend {
        H2 {
            @Override
            DataSourceSpec spec(Path dir) {
                return Databases.h2(dir);
            }
        },
        POSTGRESQL {
            @Override
            DataSourceSpec spec(Path dir) {
                return Databases.postgres();
            }
        };

        abstract DataSourceSpec spec(Path dir);
    }

    private static final Instant T0 = Instant.parse("2025-03-01T10:15:30.123Z");
    private static final Person ALICE = new Person("alice", "Alice Ng");
    private static final Person BOB = new Person("bob", "Bob Ødegård");
    private static final Person CAROL = new Person("carol", "Carol 陈");
    private static final Person DAVE = new Person("dave", "Dave O'Brien");

    @TempDir
    Path dir;

    private final List<Database> opened = new ArrayList<>();

    @AfterEach
    void close_every_database_the_test_opened() {
        opened.forEach(Database::close);
    }

    private Database open(DataSourceSpec spec) {
        Database db = Database.open(new DatabaseConfig(spec.url(), spec.user(), spec.password()), 4);
        opened.add(db);
        return db;
    }

    private Database open(Backend backend) {
        return open(backend.spec(dir));
    }

    // ------------------------------------------------------------------ round trip

    @OnEachDatabase
    void a_pending_approval_reads_back_exactly_as_it_was_inserted(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        Approval original = fullApproval("apr_full");

        assertThat(inTransaction(db, c -> store.insert(c, original, "key-full", "hash-full"))).isTrue();

        Approval found = store.find("apr_full").orElseThrow();
        assertThat(found).isEqualTo(original);
        Map<String, Object> params = found.action().params();
        assertThat(params.get("amount")).isInstanceOf(Long.class).isEqualTo(50_000L);
        assertThat(params.get("beyond_double_precision")).isEqualTo(9_007_199_254_740_993L);
        assertThat(params.get("rate")).isInstanceOf(Double.class).isEqualTo(0.125);
        assertThat(params.get("memo")).isEqualTo("Überweisung für Zoë — 支払い ✓ 🚀");
        assertThat(params.get("beneficiary")).isEqualTo(original.action().params().get("beneficiary"));
        assertThat(found.createdAt()).isEqualTo(T0);
        assertThat(found.plan().steps()).extracting(Plan.Step::after).containsExactly(Duration.ofMinutes(15), Duration.ofMinutes(45));
        assertThat(found.plan().channelTargets()).containsEntry("slack", "C0FINANCE").containsEntry("teams", "19:abc@thread.tacv2");
        assertThat(found.context().links()).extracting(AskContext.Link::url)
                .containsExactly("https://erp.example.com/invoices/42", "https://jira.example.com/browse/FIN-7?q=ü&x=1");
        assertThat(store.findByIdempotencyKey("billing-bot", "key-full"))
                .hasValueSatisfying(k -> {
                    assertThat(k.approval()).isEqualTo(original);
                    assertThat(k.requestHash()).isEqualTo("hash-full");
                });
    }

    @OnEachDatabase
    void a_decided_approval_with_empty_optional_fields_reads_back_exactly(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        Decision decision = new Decision(Status.APPROVED, new Decision.Decider("alice", "Alice Ng", DecidedVia.SLACK),
                "looks fine ✓", T0.plusMillis(5_456));
        Approval original = new Approval("apr_bare", new AgentRef("ops-bot", null), null,
                new Action("db.read_rows", "Read 10 rows", Map.of()), AskContext.EMPTY,
                new Risk(RiskLevel.LOW, "rule 'reads' matched → low", "reads"), Plan.none(), null,
                T0, T0.plus(Duration.ofHours(24)), Status.APPROVED, 1, decision, List.of());

        assertThat(inTransaction(db, c -> store.insert(c, original, null, null))).isTrue();

        Approval found = store.find("apr_bare").orElseThrow();
        assertThat(found).isEqualTo(original);
        assertThat(found.decision().at()).isEqualTo(Instant.parse("2025-03-01T10:15:35.579Z"));
        assertThat(found.agent().runId()).isNull();
        assertThat(found.requestedFor()).isNull();
        assertThat(found.callbackUrl()).isNull();
        assertThat(found.plan().vetoWindow()).isNull();
    }

    @OnEachDatabase
    void finding_an_unknown_id_gives_nothing(Backend backend) {
        ApprovalStore store = new ApprovalStore(open(backend));

        assertThat(store.find("apr_missing")).isEmpty();
        assertThat(store.findByIdempotencyKey("billing-bot", "no-such-key")).isEmpty();
    }

    // ------------------------------------------------------------------ idempotency

    @OnEachDatabase
    void a_second_insert_with_the_same_agent_and_key_returns_false_and_inserts_nothing(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        assertThat(inTransaction(db, c -> store.insert(c, pending("apr_first", "billing-bot", T0), "key-1", "hash-1"))).isTrue();

        boolean second = db.inTransaction(c -> store.insert(c, pending("apr_second", "billing-bot", T0.plusSeconds(1)), "key-1", "hash-2"));

        assertThat(second).isFalse();
        assertThat(store.find("apr_second")).isEmpty();
        assertThat(store.list("billing-bot", null, 100)).extracting(Approval::id).containsExactly("apr_first");
        assertThat(store.findByIdempotencyKey("billing-bot", "key-1")).hasValueSatisfying(k -> {
            assertThat(k.approval().id()).isEqualTo("apr_first");
            assertThat(k.requestHash()).isEqualTo("hash-1");
        });
    }

    @OnEachDatabase
    void the_same_key_from_another_agent_is_a_different_approval(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);

        assertThat(inTransaction(db, c -> store.insert(c, pending("apr_billing", "billing-bot", T0), "shared-key", "h"))).isTrue();
        assertThat(inTransaction(db, c -> store.insert(c, pending("apr_ops", "ops-bot", T0), "shared-key", "h"))).isTrue();

        assertThat(store.findByIdempotencyKey("billing-bot", "shared-key")).map(k -> k.approval().id()).contains("apr_billing");
        assertThat(store.findByIdempotencyKey("ops-bot", "shared-key")).map(k -> k.approval().id()).contains("apr_ops");
    }

    @OnEachDatabase
    void approvals_without_a_key_never_clash(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);

        for (int i = 0; i < 3; i++) {
            String id = "apr_nokey_" + i;
            Instant at = T0.plusSeconds(i);
            assertThat(inTransaction(db, c -> store.insert(c, pending(id, "billing-bot", at), null, null))).isTrue();
        }

        assertThat(store.list("billing-bot", null, 100)).hasSize(3);
    }

    @OnEachDatabase
    void a_refused_repeat_leaves_its_transaction_usable(Backend backend) {
        // The ask path may keep working in the transaction after a refused repeat (e.g. an audit entry);
        // a swallowed unique violation must not have poisoned the transaction.
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        AuditLog audit = new AuditLog(db);
        db.inTransaction(c -> store.insert(c, pending("apr_first", "billing-bot", T0), "key-1", "hash-1"));

        boolean inserted = db.inTransaction(c -> {
            boolean ok = store.insert(c, pending("apr_second", "billing-bot", T0), "key-1", "hash-1");
            audit.append(c, T0, List.of(new AuditEntry("apr_first", "repeat_seen", "agent:billing-bot", Map.of())));
            return ok;
        });

        assertThat(inserted).isFalse();
        assertThat(audit.forApproval("apr_first")).extracting(AuditRecord::kind).containsExactly("repeat_seen");
    }

    // ------------------------------------------------------------------ decisions, escalation, votes

    @OnEachDatabase
    void a_decision_is_recorded_once_and_the_first_one_stays(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        db.inTransaction(c -> store.insert(c, pending("apr_d", "billing-bot", T0), null, null));
        Decision approve = new Decision(Status.APPROVED, new Decision.Decider("alice", "Alice Ng", DecidedVia.SLACK), "ok", T0.plusSeconds(10));
        Decision reject = new Decision(Status.REJECTED, new Decision.Decider("bob", "Bob Ødegård", DecidedVia.TEAMS), "no", T0.plusSeconds(11));

        boolean first = db.inTransaction(c -> store.recordDecision(c, "apr_d", approve));
        boolean second = db.inTransaction(c -> store.recordDecision(c, "apr_d", reject));

        assertThat(first).isTrue();
        assertThat(second).isFalse();
        Approval found = store.find("apr_d").orElseThrow();
        assertThat(found.status()).isEqualTo(Status.APPROVED);
        assertThat(found.decision()).isEqualTo(approve);
    }

    @OnEachDatabase
    void a_decision_on_an_unknown_approval_records_nothing(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        Decision expire = new Decision(Status.EXPIRED, new Decision.Decider("timer", "expired", DecidedVia.TIMER), null, T0);

        assertThat(inTransaction(db, c -> store.recordDecision(c, "apr_missing", expire))).isFalse();
    }

    @OnEachDatabase
    void escalation_moves_up_only_from_the_level_the_caller_saw(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        db.inTransaction(c -> store.insert(c, pending("apr_e", "billing-bot", T0), null, null));

        assertThat(inTransaction(db, c -> store.escalate(c, "apr_e", 1))).isFalse();
        assertThat(store.find("apr_e").orElseThrow().escalationLevel()).isZero();

        assertThat(inTransaction(db, c -> store.escalate(c, "apr_e", 0))).isTrue();
        assertThat(inTransaction(db, c -> store.escalate(c, "apr_e", 0))).isFalse();
        assertThat(store.find("apr_e").orElseThrow().escalationLevel()).isEqualTo(1);

        db.inTransaction(c -> store.recordDecision(c, "apr_e",
                new Decision(Status.EXPIRED, new Decision.Decider("timer", "expired", DecidedVia.TIMER), null, T0.plusSeconds(60))));
        assertThat(inTransaction(db, c -> store.escalate(c, "apr_e", 1))).isFalse();
        assertThat(store.find("apr_e").orElseThrow().escalationLevel()).isEqualTo(1);
    }

    @OnEachDatabase
    void a_second_vote_by_the_same_person_counts_once(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        db.inTransaction(c -> store.insert(c, quorumOfTwo("apr_q"), null, null));
        Vote first = new Vote("alice", "Alice Ng", DecidedVia.SLACK, "first click", T0.plusSeconds(1));
        Vote again = new Vote("alice", "Alice Ng", DecidedVia.WEB, "second click", T0.plusSeconds(2));

        db.inTransaction(c -> {
            store.addVote(c, "apr_q", first);
            return null;
        });
        // As the decider does it: vote, then read the votes back, in one transaction.
        List<Vote> afterRepeat = db.inTransaction(c -> {
            store.addVote(c, "apr_q", again);
            return store.find(c, "apr_q", false).orElseThrow().votes();
        });

        assertThat(afterRepeat).containsExactly(first);
        assertThat(store.find("apr_q").orElseThrow().votes()).containsExactly(first);
    }

    @OnEachDatabase
    void votes_by_different_people_all_count_in_the_order_they_came(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        db.inTransaction(c -> store.insert(c, quorumOfTwo("apr_q"), null, null));
        Vote bob = new Vote("bob", "Bob Ødegård", DecidedVia.TEAMS, null, T0.plusSeconds(1));
        Vote alice = new Vote("alice", "Alice Ng", DecidedVia.SLACK, "fine", T0.plusSeconds(2));

        db.inTransaction(c -> {
            store.addVote(c, "apr_q", bob);
            return null;
        });
        db.inTransaction(c -> {
            store.addVote(c, "apr_q", alice);
            return null;
        });

        assertThat(store.find("apr_q").orElseThrow().votes()).containsExactly(bob, alice);
    }

    // ------------------------------------------------------------------ listing

    @OnEachDatabase
    void list_filters_by_agent_and_status_newest_first_up_to_the_limit(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        insertAll(db, store,
                pending("apr_b1", "billing-bot", T0.plusSeconds(10)),
                decided(pending("apr_b2", "billing-bot", T0.plusSeconds(20)), Status.APPROVED),
                pending("apr_b3", "billing-bot", T0.plusSeconds(30)),
                decided(pending("apr_b4", "billing-bot", T0.plusSeconds(40)), Status.REJECTED),
                pending("apr_b5", "billing-bot", T0.plusSeconds(50)),
                pending("apr_o1", "ops-bot", T0.plusSeconds(15)),
                decided(pending("apr_o2", "ops-bot", T0.plusSeconds(60)), Status.APPROVED));

        assertThat(ids(store.list("billing-bot", null, 100))).containsExactly("apr_b5", "apr_b4", "apr_b3", "apr_b2", "apr_b1");
        assertThat(ids(store.list("billing-bot", Status.PENDING, 100))).containsExactly("apr_b5", "apr_b3", "apr_b1");
        assertThat(ids(store.list("billing-bot", Status.PENDING, 2))).containsExactly("apr_b5", "apr_b3");
        assertThat(ids(store.list(null, Status.APPROVED, 100))).containsExactly("apr_o2", "apr_b2");
        assertThat(ids(store.list("ops-bot", null, 100))).containsExactly("apr_o2", "apr_o1");
        assertThat(ids(store.list(null, null, 3))).containsExactly("apr_o2", "apr_b5", "apr_b4");
        assertThat(store.list("nobody", null, 100)).isEmpty();
        assertThat(store.list(null, Status.EXPIRED, 100)).isEmpty();
    }

    @OnEachDatabase
    void pending_ids_come_oldest_first_and_the_count_follows_decisions(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        assertThat(store.pendingIds()).isEmpty();
        assertThat(store.countPending()).isZero();
        insertAll(db, store,
                pending("apr_late", "billing-bot", T0.plusSeconds(30)),
                pending("apr_early", "ops-bot", T0.plusSeconds(10)),
                decided(pending("apr_done", "billing-bot", T0.plusSeconds(5)), Status.APPROVED),
                pending("apr_mid", "billing-bot", T0.plusSeconds(20)));

        assertThat(store.pendingIds()).containsExactly("apr_early", "apr_mid", "apr_late");
        assertThat(store.countPending()).isEqualTo(3);

        db.inTransaction(c -> store.recordDecision(c, "apr_mid",
                new Decision(Status.CANCELLED, new Decision.Decider("billing-bot", "billing-bot", DecidedVia.AGENT), null, T0.plusSeconds(40))));

        assertThat(store.pendingIds()).containsExactly("apr_early", "apr_late");
        assertThat(store.countPending()).isEqualTo(2);
    }

    // ------------------------------------------------------------------ channel posts

    @OnEachDatabase
    void channel_posts_are_remembered_per_approval_and_channel(Backend backend) {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        insertAll(db, store, pending("apr_p", "billing-bot", T0), pending("apr_other", "billing-bot", T0));

        store.recordChannelPost("apr_p", "slack", "C0APPROVALS/1700000000.000100", T0.plusSeconds(1));
        store.recordChannelPost("apr_p", "teams", "1:activity-abc", T0.plusSeconds(2));
        store.recordChannelPost("apr_p", "slack", "D0ALICE/1700000005.000200", T0.plusSeconds(3));
        store.recordChannelPost("apr_p", "slack", "C0APPROVALS/1700000000.000100", T0.plusSeconds(4)); // a repeat: no-op

        assertThat(store.channelPosts("apr_p", "slack")).containsExactly("C0APPROVALS/1700000000.000100", "D0ALICE/1700000005.000200");
        assertThat(store.channelPosts("apr_p", "teams")).containsExactly("1:activity-abc");
        assertThat(store.channelPosts("apr_p", "web")).isEmpty();
        assertThat(store.channelPosts("apr_other", "slack")).isEmpty();
    }

    // ------------------------------------------------------------------ audit

    @OnEachDatabase
    void an_audit_append_in_a_rolled_back_transaction_leaves_no_entry_and_the_head_unchanged(Backend backend) {
        Database db = open(backend);
        AuditLog audit = new AuditLog(db);
        audit.append(T0, new AuditEntry("apr_a", "asked", "agent:billing-bot", AuditEntry.details("action_type", "payments.transfer")));
        Head before = head(db);

        assertThatThrownBy(() -> db.inTransaction(c -> {
            audit.append(c, T0.plusSeconds(1), List.of(
                    new AuditEntry("apr_a", "decided", "person:alice", AuditEntry.details("outcome", "approved")),
                    new AuditEntry("apr_a", "webhook_queued", "system", Map.of())));
            throw new IllegalStateException("the decision failed after the audit append");
        })).isInstanceOf(IllegalStateException.class).hasMessageContaining("decision failed");

        assertThat(head(db)).isEqualTo(before);
        assertThat(before.lastSeq()).isEqualTo(1);
        assertThat(audit.forApproval("apr_a")).extracting(AuditRecord::kind).containsExactly("asked");
        AuditLog.Verification v = audit.verify();
        assertThat(v.intact()).as(v.problem()).isTrue();
        assertThat(v.entries()).isEqualTo(1);

        // and the chain carries on from where it was
        audit.append(T0.plusSeconds(2), new AuditEntry("apr_a", "decided", "person:bob", Map.of()));
        assertThat(head(db).lastSeq()).isEqualTo(2);
        assertThat(audit.verify().intact()).isTrue();
    }

    @OnEachDatabase
    void two_hundred_concurrent_appends_from_eight_threads_chain_intact_with_consecutive_seqs(Backend backend) throws Exception {
        Database db = open(backend);
        AuditLog audit = new AuditLog(db);
        int threads = 8;
        int total = 200;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    start.await();
                    for (int n = thread; n < total; n += threads) {
                        audit.append(T0.plusMillis(n), new AuditEntry("apr_" + (n % 10), "vote", "person:p" + thread,
                                AuditEntry.details("n", n, "thread", thread)));
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }

        AuditLog.Verification v = audit.verify();
        assertThat(v.intact()).as(v.problem()).isTrue();
        assertThat(v.entries()).isEqualTo(total);
        List<AuditRecord> records = new ArrayList<>();
        audit.forEach(records::add);
        assertThat(records).extracting(AuditRecord::seq).containsExactlyElementsOf(LongStream.rangeClosed(1, total).boxed().toList());
        assertThat(records.stream().map(r -> json(r.detail()).get("n").asInt()).collect(Collectors.toSet()))
                .containsExactlyInAnyOrderElementsOf(IntStream.range(0, total).boxed().toList());
        assertThat(head(db)).isEqualTo(new Head(total, records.get(total - 1).hash()));
    }

    // ------------------------------------------------------------------ webhook outbox

    @OnEachDatabase
    void enqueueing_a_webhook_writes_one_due_row_with_the_approval_json(Backend backend) throws Exception {
        Database db = open(backend);
        ApprovalStore store = new ApprovalStore(db);
        Approval asked = fullApproval("apr_w");
        db.inTransaction(c -> store.insert(c, asked, null, null));
        Decision decision = new Decision(Status.APPROVED, new Decision.Decider("alice", "Alice Ng", DecidedVia.WEB), "go ahead", T0.plusSeconds(90));
        Approval decided = asked.with(Status.APPROVED, decision);
        Instant now = T0.plusSeconds(90);

        try (WebhookOutbox outbox = new WebhookOutbox(db, new AuditLog(db), Clock.fixed(now, ZoneOffset.UTC),
                agent -> Optional.empty(), new SimpleMeterRegistry())) {
            db.inTransaction(c -> {
                store.recordDecision(c, "apr_w", decision);
                outbox.enqueue(c, decided, now);
                return null;
            });
        }

        List<Map<String, Object>> rows = outboxRows(db);
        assertThat(rows).hasSize(1);
        Map<String, Object> row = rows.get(0);
        assertThat((String) row.get("webhook_id")).matches("msg_[0-9a-f]{32}");
        assertThat(row.get("approval_id")).isEqualTo("apr_w");
        assertThat(row.get("agent_id")).isEqualTo("billing-bot");
        assertThat(row.get("url")).isEqualTo("https://agent.example.com/hooks/countersign");
        assertThat(row.get("attempts")).isEqualTo(0);
        assertThat(row.get("next_attempt_at")).isEqualTo(now);
        assertThat(row.get("created_at")).isEqualTo(now);
        assertThat(row.get("delivered_at")).isNull();
        assertThat(row.get("failed_at")).isNull();
        assertThat(row.get("locked_until")).isNull();
        JsonNode payload = json((String) row.get("payload"));
        assertThat(payload).isEqualTo(json(ApprovalJson.of(decided).toString()));
        assertThat(payload.get("status").asText()).isEqualTo("approved");
        assertThat(payload.at("/decision/by/id").asText()).isEqualTo("alice");
        assertThat(payload.at("/action/params/amount").asLong()).isEqualTo(50_000L);
        assertThat(payload.at("/action/params/memo").asText()).isEqualTo("Überweisung für Zoë — 支払い ✓ 🚀");
    }

    @OnEachDatabase
    void a_webhook_enqueued_in_a_rolled_back_transaction_is_not_kept(Backend backend) {
        Database db = open(backend);
        Approval decided = decided(pending("apr_w", "billing-bot", T0), Status.REJECTED);
        Approval withCallback = new Approval(decided.id(), decided.agent(), null, decided.action(), decided.context(), decided.risk(),
                decided.plan(), "https://agent.example.com/hook", decided.createdAt(), decided.expiresAt(), decided.status(), 0,
                decided.decision(), List.of());

        try (WebhookOutbox outbox = new WebhookOutbox(db, new AuditLog(db), Clock.fixed(T0, ZoneOffset.UTC),
                agent -> Optional.empty(), new SimpleMeterRegistry())) {
            assertThatThrownBy(() -> db.inTransaction(c -> {
                outbox.enqueue(c, withCallback, T0);
                throw new IllegalStateException("rolled back");
            })).hasMessage("rolled back");
        }

        assertThat(outboxRows(db)).isEmpty();
    }

    // ------------------------------------------------------------------ opening and migrating

    @Test
    void an_h2_url_with_a_write_delay_is_refused_with_a_message_naming_write_delay() throws Exception {
        String base = "jdbc:h2:file:" + dir.toAbsolutePath() + "/unsafe";

        assertThatThrownBy(() -> Database.open(new DatabaseConfig(base + ";WRITE_DELAY=500", "sa", ""), 4))
                .isInstanceOf(CountersignException.class)
                .hasMessageContaining("WRITE_DELAY")
                .satisfies(e -> assertThat(((CountersignException) e).code()).isEqualTo("unsafe_database"));
        assertThatThrownBy(() -> Database.open(new DatabaseConfig(base + ";write_delay=500;DB_CLOSE_ON_EXIT=FALSE", "sa", ""), 4))
                .isInstanceOf(CountersignException.class)
                .hasMessageContaining("WRITE_DELAY");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).as("refused before any database file is created").isEmpty();
        }
    }

    @Test
    void an_h2_url_without_a_write_delay_gets_write_delay_zero(@TempDir Path other) throws Exception {
        String url = "jdbc:h2:file:" + other.toAbsolutePath() + "/countersign;DB_CLOSE_ON_EXIT=FALSE";

        Database db = open(new DataSourceSpec(url, "sa", "", "H2"));

        assertThat(db.config().url()).isEqualTo(url + ";WRITE_DELAY=0");
        String effective = db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT SETTING_VALUE FROM INFORMATION_SCHEMA.SETTINGS WHERE SETTING_NAME = 'WRITE_DELAY'");
                 ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        });
        assertThat(effective).isEqualTo("0");
    }

    @Test
    void an_h2_url_with_write_delay_zero_is_kept_as_it_is() {
        DataSourceSpec spec = Databases.h2(dir);

        Database db = open(spec);

        assertThat(db.config().url()).isEqualTo(spec.url());
    }

    @OnEachDatabase
    void opening_the_same_database_again_migrates_nothing_and_keeps_the_data(Backend backend) {
        DataSourceSpec spec = backend.spec(dir);
        Database first = open(spec);
        ApprovalStore store = new ApprovalStore(first);
        Approval original = fullApproval("apr_kept");
        first.inTransaction(c -> store.insert(c, original, "key-kept", "hash"));
        new AuditLog(first).append(T0, new AuditEntry("apr_kept", "asked", "agent:billing-bot", Map.of()));
        int migrationsAfterFirstOpen = appliedMigrations(first);
        first.close();

        Database second = open(spec);

        assertThat(appliedMigrations(second)).isEqualTo(migrationsAfterFirstOpen).isGreaterThanOrEqualTo(2);
        assertThat(new ApprovalStore(second).find("apr_kept")).contains(original);
        AuditLog.Verification v = new AuditLog(second).verify();
        assertThat(v.intact()).as(v.problem()).isTrue();
        assertThat(v.entries()).isEqualTo(1);
        assertThat(head(second).lastSeq()).isEqualTo(1);
        // the idempotency index survived too
        assertThat(inTransaction(second, c -> new ApprovalStore(second).insert(c, pending("apr_dup", "billing-bot", T0), "key-kept", "hash")))
                .isFalse();
    }

    // ------------------------------------------------------------------ fixtures

    /** An approval with every field filled, including awkward params. */
    private static Approval fullApproval(String id) {
        Map<String, Object> address = new LinkedHashMap<>();
        address.put("city", "Köln");
        address.put("zip", "50667");
        Map<String, Object> beneficiary = new LinkedHashMap<>();
        beneficiary.put("name", "ACME GmbH");
        beneficiary.put("iban", "DE89370400440532013000");
        beneficiary.put("address", address);
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("sku", "A-1");
        line.put("qty", 3L);
        line.put("price", 19.99);
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("amount", 50_000L);
        params.put("beyond_double_precision", 9_007_199_254_740_993L);
        params.put("negative", -42L);
        params.put("rate", 0.125);
        params.put("fee", -0.5);
        params.put("currency", "EUR");
        params.put("memo", "Überweisung für Zoë — 支払い ✓ 🚀");
        params.put("urgent", true);
        params.put("note", null);
        params.put("beneficiary", beneficiary);
        params.put("tags", List.of("q1", "vendor", "ünïcödé"));
        params.put("lines", List.of(line));
        params.put("empty", Map.of());

        AskContext context = new AskContext("quarterly vendor payment", "€50,000 leaves the company account",
                List.of(new AskContext.Link("Invoice #42", "https://erp.example.com/invoices/42"),
                        new AskContext.Link("Ticket „FIN-7“", "https://jira.example.com/browse/FIN-7?q=ü&x=1")));
        Plan plan = new Plan(List.of(ALICE, BOB),
                List.of(new Plan.Step(Duration.ofMinutes(15), List.of(CAROL)), new Plan.Step(Duration.ofMinutes(45), List.of(DAVE, CAROL))),
                2, Duration.ofMinutes(2), Map.of("slack", "C0FINANCE", "teams", "19:abc@thread.tacv2"));
        return new Approval(id, new AgentRef("billing-bot", "run-2025-03-01-7"), "erin",
                new Action("payments.transfer", "Pay ACME GmbH €50,000 for invoice #42", params), context,
                new Risk(RiskLevel.HIGH, "rule 'large-payment' matched: params.amount > 10000 → high", "large-payment"),
                plan, "https://agent.example.com/hooks/countersign", T0, T0.plus(Duration.ofHours(1)).plusMillis(7),
                Status.PENDING, 0, null, List.of());
    }

    private static Approval pending(String id, String agentId, Instant createdAt) {
        return new Approval(id, new AgentRef(agentId, null), null,
                new Action("email.send", "Send the weekly report", Map.of("to", "team@example.com")), AskContext.EMPTY,
                new Risk(RiskLevel.HIGH, "no rule matched", null), new Plan(List.of(ALICE), List.of(), 1, null, Map.of()), null,
                createdAt, createdAt.plus(Duration.ofHours(1)), Status.PENDING, 0, null, List.of());
    }

    private static Approval quorumOfTwo(String id) {
        Approval p = pending(id, "billing-bot", T0);
        return new Approval(id, p.agent(), null, p.action(), p.context(), p.risk(),
                new Plan(List.of(ALICE, BOB, CAROL), List.of(), 2, null, Map.of()), null, T0, T0.plus(Duration.ofHours(1)),
                Status.PENDING, 0, null, List.of());
    }

    private static Approval decided(Approval a, Status outcome) {
        return a.with(outcome, new Decision(outcome, new Decision.Decider("alice", "Alice Ng", DecidedVia.SLACK), null, a.createdAt().plusSeconds(1)));
    }

    private static void insertAll(Database db, ApprovalStore store, Approval... approvals) {
        for (Approval a : approvals) {
            assertThat(inTransaction(db, c -> store.insert(c, a, null, null))).isTrue();
        }
    }

    /** A transaction whose answer is a yes or no (keeps assertThat's overloads unambiguous). */
    private static boolean inTransaction(Database db, Database.SqlWork<Boolean> work) {
        return db.inTransaction(work);
    }

    private static List<String> ids(List<Approval> approvals) {
        return approvals.stream().map(Approval::id).toList();
    }

    record Head(long lastSeq, String lastHash) {}

    private static Head head(Database db) {
        return db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT last_seq, last_hash FROM audit_head WHERE id = 1");
                 ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                Head h = new Head(rs.getLong(1), rs.getString(2));
                assertThat(rs.next()).as("exactly one head row").isFalse();
                return h;
            }
        });
    }

    private static int appliedMigrations(Database db) {
        return db.read(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM \"flyway_schema_history\" WHERE \"success\" = TRUE AND \"version\" IS NOT NULL");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        });
    }

    private static List<Map<String, Object>> outboxRows(Database db) {
        return db.read(c -> {
            List<Map<String, Object>> rows = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT webhook_id, approval_id, agent_id, url, payload, attempts, next_attempt_at, "
                    + "created_at, delivered_at, failed_at, locked_until FROM webhook_outbox ORDER BY id");
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("webhook_id", rs.getString(1));
                    row.put("approval_id", rs.getString(2));
                    row.put("agent_id", rs.getString(3));
                    row.put("url", rs.getString(4));
                    row.put("payload", rs.getString(5));
                    row.put("attempts", rs.getInt(6));
                    row.put("next_attempt_at", instant(rs, 7));
                    row.put("created_at", instant(rs, 8));
                    row.put("delivered_at", instant(rs, 9));
                    row.put("failed_at", instant(rs, 10));
                    row.put("locked_until", instant(rs, 11));
                    rows.add(row);
                }
            }
            return rows;
        });
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    /** Parsed with a plain mapper on both sides, so ints compare equal however they were built. */
    private static JsonNode json(String text) {
        try {
            return new ObjectMapper().readTree(text);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }
}
