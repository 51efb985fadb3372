package dev.countersign.core;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;
import dev.countersign.core.ask.AskService;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionResult;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Commands.cancel;
import static dev.countersign.core.testing.Commands.reject;
import static dev.countersign.core.testing.Engines.AGENT;
import static dev.countersign.core.testing.Polling.eventually;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The engine on PostgreSQL, where it differs from H2: a failed statement aborts the whole transaction, row
 * locks behave differently, and Quartz runs clustered with its own delegate. The H2 classes cover the rules;
 * these check the paths that only PostgreSQL exercises.
 */
class PostgresEngineTest {

    static Engines engines;
    static Countersign cs;

    @BeforeAll
    static void start() {
        engines = Engines.onPostgres().rules(
                Rules.rule("large-transfer").when("action.type == \"payments.transfer\" && params.amount > 10000")
                        .high().approvers("group:finance").quorum(2),
                Rules.rule("transfer").when("action.type == \"payments.transfer\"").high().approvers("alice", "bob"),
                Rules.rule("wire").when("action.type == \"payments.wire\"").high().approvers("alice")
                        .escalateAfter("PT1S", "carol").expiresAfter("PT3S"));
        cs = engines.start();
    }

    @AfterAll
    static void stop() {
        engines.close();
    }

    private static <T> List<T> race(int n, java.util.function.IntFunction<Callable<T>> work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Callable<T> task = work.apply(i);
                futures.add(pool.submit(() -> {
                    go.await();
                    return task.call();
                }));
            }
            go.countDown();
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) results.add(f.get(30, TimeUnit.SECONDS));
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void racing_decisions_on_postgresql_decide_exactly_once() throws Exception {
        Approval a = Asks.action("payments.transfer").param("amount", 500).by(cs, AGENT);

        List<DecisionResult> results = race(16, i -> () -> cs.decide(switch (i % 3) {
            case 0 -> approve(a.id(), "alice");
            case 1 -> reject(a.id(), "bob");
            default -> cancel(a.id(), AGENT);
        }));

        assertThat(results).filteredOn(DecisionResult.Decided.class::isInstance).hasSize(1);
        assertThat(results).filteredOn(r -> !(r instanceof DecisionResult.Decided)).allMatch(DecisionResult.AlreadyDecided.class::isInstance);
        assertThat(cs.audit().forApproval(a.id())).filteredOn(r -> r.kind().equals("decided") || r.kind().equals("cancelled")).hasSize(1);
        assertThat(cs.audit().verify().intact()).isTrue();
    }

    @Test
    void a_repeated_vote_on_postgresql_counts_once_and_the_quorum_still_completes() {
        Approval a = Asks.action("payments.transfer").param("amount", 50_000).by(cs, AGENT);
        cs.decide(approve(a.id(), "alice"));

        DecisionResult again = cs.decide(approve(a.id(), "alice"));
        DecisionResult second = cs.decide(approve(a.id(), "dave"));

        assertThat(again).isInstanceOfSatisfying(DecisionResult.VoteCounted.class, v -> assertThat(v.remaining()).isEqualTo(1));
        assertThat(second).isInstanceOfSatisfying(DecisionResult.Decided.class,
                d -> assertThat(d.approval().votes()).extracting(Vote::personId).containsExactlyInAnyOrder("alice", "dave"));
    }

    @Test
    void racing_repeats_of_one_idempotency_key_on_postgresql_create_one_approval() throws Exception {
        Asks ask = Asks.action("payments.transfer").param("amount", 600);

        List<AskService.Asked> results = race(8, i -> () -> ask.by(cs, AGENT, "pg-key-race"));

        assertThat(results).filteredOn(AskService.Asked::created).hasSize(1);
        assertThat(results).extracting(r -> r.approval().id()).containsOnly(results.get(0).approval().id());
    }

    @Test
    void clustered_timers_on_postgresql_escalate_and_then_expire() {
        Approval a = Asks.action("payments.wire").by(cs, AGENT);

        eventually(Duration.ofSeconds(5), () -> assertThat(cs.get(a.id()).orElseThrow().approvers())
                .extracting(Person::id).containsExactly("alice", "carol"));
        eventually(Duration.ofSeconds(6), () -> assertThat(cs.get(a.id()).orElseThrow().status()).isEqualTo(Status.EXPIRED));
        assertThat(cs.get(a.id()).orElseThrow().decision().by().channel()).isEqualTo(DecidedVia.TIMER);
        assertThat(cs.audit().forApproval(a.id())).filteredOn(r -> r.kind().equals("decided")).hasSize(1);
        eventually(Duration.ofSeconds(5), () -> assertThat(cs.hasTimer(a.id())).isFalse());
        assertThat(cs.decide(DecisionCommand.byPerson(a.id(), DecisionCommand.Verdict.APPROVE, "carol", DecidedVia.WEB, null)))
                .isInstanceOf(DecisionResult.AlreadyDecided.class);
    }
}
