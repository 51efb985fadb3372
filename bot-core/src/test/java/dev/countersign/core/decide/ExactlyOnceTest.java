package dev.countersign.core.decide;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Status;
import dev.countersign.core.decide.DecisionCommand.Verdict;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Commands.cancel;
import static dev.countersign.core.testing.Commands.reject;
import static dev.countersign.core.testing.Engines.AGENT;
import static org.assertj.core.api.Assertions.assertThat;

/** Rule ⑦: however many ways race to decide one approval, exactly one wins and every loser learns who did. */
class ExactlyOnceTest {
    private static final int RACERS = 16;

    @TempDir
    static Path dir;

    static Engines engines;
    static Countersign cs;
    static ExecutorService pool;

    @BeforeAll
    static void start() {
        engines = Engines.in(dir).rules(
                Rules.rule("large-transfer").when("action.type == \"payments.transfer\" && params.amount > 10000")
                        .high().approvers("group:finance").quorum(2),
                Rules.rule("transfer").when("action.type == \"payments.transfer\"").high().approvers("alice", "bob"));
        cs = engines.start();
        pool = Executors.newFixedThreadPool(RACERS);
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
        engines.close();
    }

    /** Starts every command at once (behind a gate) and collects the results. */
    private static List<DecisionResult> race(IntFunction<DecisionCommand> commandOf) throws Exception {
        CountDownLatch ready = new CountDownLatch(RACERS);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<DecisionResult>> futures = new ArrayList<>();
        for (int i = 0; i < RACERS; i++) {
            DecisionCommand cmd = commandOf.apply(i);
            futures.add(pool.submit(() -> {
                ready.countDown();
                go.await();
                return cs.decide(cmd);
            }));
        }
        assertThat(ready.await(10, TimeUnit.SECONDS)).isTrue();
        go.countDown();
        List<DecisionResult> results = new ArrayList<>();
        for (Future<DecisionResult> f : futures) results.add(f.get(30, TimeUnit.SECONDS));
        return results;
    }

    private static void assertDecidedExactlyOnce(Approval a, List<DecisionResult> results) {
        List<DecisionResult.Decided> winners = results.stream()
                .filter(DecisionResult.Decided.class::isInstance).map(DecisionResult.Decided.class::cast).toList();
        assertThat(winners).hasSize(1);
        Approval won = winners.get(0).approval();
        assertThat(results).filteredOn(r -> !(r instanceof DecisionResult.Decided))
                .allSatisfy(r -> assertThat(r).isInstanceOfSatisfying(DecisionResult.AlreadyDecided.class, already -> {
                    assertThat(already.approval().status()).isEqualTo(won.status());
                    assertThat(already.approval().decision().by()).isEqualTo(won.decision().by());
                    assertThat(already.approval().decision().at()).isEqualTo(won.decision().at());
                }));
        Approval stored = cs.get(a.id()).orElseThrow();
        assertThat(stored.status()).isEqualTo(won.status());
        assertThat(stored.decision().by()).isEqualTo(won.decision().by());
        assertThat(cs.audit().forApproval(a.id()))
                .filteredOn(r -> r.kind().equals("decided") || r.kind().equals("cancelled")).hasSize(1);
    }

    @RepeatedTest(5)
    void sixteen_people_racing_to_approve_or_reject_decide_it_exactly_once() throws Exception {
        Approval a = Asks.action("payments.transfer").param("amount", 500).by(cs, AGENT);
        String[] people = {"alice", "bob", "erin"};

        List<DecisionResult> results = race(i -> i % 2 == 0 ? approve(a.id(), people[i % 3]) : reject(a.id(), people[i % 3], "no #" + i));

        assertDecidedExactlyOnce(a, results);
    }

    @Test
    void every_way_to_decide_racing_at_once_decides_it_exactly_once() throws Exception {
        Approval a = Asks.action("payments.transfer").param("amount", 500).by(cs, AGENT);

        List<DecisionResult> results = race(i -> switch (i % 4) {
            case 0 -> approve(a.id(), "alice");
            case 1 -> DecisionCommand.byPerson(a.id(), Verdict.REJECT, "bob", DecidedVia.SLACK, null);
            case 2 -> cancel(a.id(), AGENT);
            default -> new DecisionCommand(a.id(), Verdict.EXPIRE, new DecisionCommand.Actor.TimerActor("nobody decided in time"), null);
        });

        assertDecidedExactlyOnce(a, results);
        assertThat(cs.get(a.id()).orElseThrow().status()).isIn(Status.APPROVED, Status.REJECTED, Status.CANCELLED, Status.EXPIRED);
    }

    @Test
    void racing_approvals_toward_a_quorum_count_one_vote_then_decide_once() throws Exception {
        Approval a = Asks.action("payments.transfer").param("amount", 50_000).by(cs, AGENT);
        String[] finance = {"alice", "bob", "dave"};

        List<DecisionResult> results = race(i -> approve(a.id(), finance[i % 3]));

        // Before the quorum is reached, the first voter's repeats are counted once each time (VoteCounted, one
        // vote so far); how many such repeats win the race before a second person does is up to the scheduler.
        assertThat(results).filteredOn(DecisionResult.VoteCounted.class::isInstance).isNotEmpty()
                .allSatisfy(v -> assertThat(((DecisionResult.VoteCounted) v).approval().votes()).hasSize(1));
        assertThat(results).filteredOn(DecisionResult.Decided.class::isInstance).singleElement()
                .satisfies(d -> assertThat(((DecisionResult.Decided) d).approval().votes()).hasSize(2));
        assertThat(results).allMatch(r -> r instanceof DecisionResult.VoteCounted || r instanceof DecisionResult.Decided
                || r instanceof DecisionResult.AlreadyDecided);
        Approval stored = cs.get(a.id()).orElseThrow();
        assertThat(stored.status()).isEqualTo(Status.APPROVED);
        assertThat(stored.votes()).hasSize(2);
        assertThat(cs.audit().forApproval(a.id())).filteredOn(r -> r.kind().equals("decided")).hasSize(1);
        assertThat(cs.audit().verify().intact()).isTrue();
    }
}
