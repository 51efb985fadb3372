package dev.countersign.core.notify;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Status;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Commands.reject;
import static dev.countersign.core.testing.Engines.AGENT;
import static dev.countersign.core.testing.Polling.eventually;
import static org.assertj.core.api.Assertions.assertThat;

/** Step ⑨, long-poll: a waiting agent hears of the decision at once, or gets the pending approval back when its wait runs out. */
class LongPollTest {

    @TempDir
    static Path dir;

    static Engines engines;
    static Countersign cs;

    @BeforeAll
    static void start() {
        engines = Engines.in(dir).rules(Rules.rule("transfer").when("action.type == \"payments.transfer\"").high().approvers("alice", "bob"));
        cs = engines.start();
    }

    @AfterAll
    static void stop() {
        engines.close();
    }

    private static Approval pending() {
        return Asks.action("payments.transfer").param("amount", 100).by(cs, AGENT);
    }

    @Test
    void a_waiting_agent_is_answered_as_soon_as_the_approval_is_decided() throws Exception {
        Approval a = pending();
        CompletableFuture<Optional<Approval>> waiting = cs.await(a.id(), Duration.ofSeconds(5));
        assertThat(waiting).isNotDone();

        long decidedAt = System.nanoTime();
        cs.decide(approve(a.id(), "alice"));
        Optional<Approval> answer = waiting.get(5, TimeUnit.SECONDS);
        Duration after = Duration.ofNanos(System.nanoTime() - decidedAt);

        assertThat(after).as("answered well before the 5 s wait ran out").isLessThan(Duration.ofSeconds(1));
        assertThat(answer).get().satisfies(x -> {
            assertThat(x.status()).isEqualTo(Status.APPROVED);
            assertThat(x.decision().by().id()).isEqualTo("alice");
        });
        assertThat(cs.waiting()).isZero();
    }

    @Test
    void releasing_the_waiters_for_a_shutdown_answers_each_at_once_with_its_approval_still_pending() throws Exception {
        Approval a = pending();
        Approval b = pending();
        CompletableFuture<Optional<Approval>> first = cs.await(a.id(), Duration.ofSeconds(60));
        CompletableFuture<Optional<Approval>> second = cs.await(b.id(), Duration.ofSeconds(60));
        assertThat(first).isNotDone();

        cs.releaseWaiters();

        assertThat(first.get(2, TimeUnit.SECONDS)).get().satisfies(x -> {
            assertThat(x.id()).isEqualTo(a.id());
            assertThat(x.status()).isEqualTo(Status.PENDING);
        });
        assertThat(second.get(2, TimeUnit.SECONDS)).get().extracting(Approval::id).isEqualTo(b.id());
        assertThat(cs.waiting()).isZero();
    }

    @Test
    void a_wait_that_runs_out_returns_the_approval_still_pending() throws Exception {
        Approval a = pending();

        long start = System.nanoTime();
        Optional<Approval> answer = cs.await(a.id(), Duration.ofMillis(300)).get(5, TimeUnit.SECONDS);
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(answer).get().satisfies(x -> assertThat(x.status()).isEqualTo(Status.PENDING));
        assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(290)).isLessThan(Duration.ofSeconds(3));
        assertThat(cs.waiting()).isZero();
    }

    @Test
    void waiting_on_a_decided_approval_answers_at_once_and_on_an_unknown_one_with_nothing() throws Exception {
        Approval a = pending();
        cs.decide(reject(a.id(), "bob"));

        assertThat(cs.await(a.id(), Duration.ofSeconds(30)).get(1, TimeUnit.SECONDS))
                .get().extracting(Approval::status).isEqualTo(Status.REJECTED);
        assertThat(cs.await("apr_unknown", Duration.ofSeconds(30)).get(1, TimeUnit.SECONDS)).isEmpty();
        assertThat(cs.waiting()).isZero();
    }

    @Test
    void a_thousand_waiting_agents_are_answered_without_a_thread_each() throws Exception {
        int n = 1_000;
        ExecutorService workers = Executors.newFixedThreadPool(4);
        try {
            List<Future<Approval>> asked = new ArrayList<>();
            for (int i = 0; i < n; i++) asked.add(workers.submit(LongPollTest::pending));
            List<Approval> approvals = new ArrayList<>();
            for (Future<Approval> f : asked) approvals.add(f.get(60, TimeUnit.SECONDS));
            int threadsBefore = ManagementFactory.getThreadMXBean().getThreadCount();

            List<CompletableFuture<Optional<Approval>>> waits = new ArrayList<>();
            for (Approval a : approvals) waits.add(cs.await(a.id(), Duration.ofSeconds(60)));

            assertThat(cs.waiting()).isEqualTo(n);
            assertThat(waits).noneMatch(CompletableFuture::isDone);
            int threadsWhileWaiting = ManagementFactory.getThreadMXBean().getThreadCount();
            assertThat(threadsWhileWaiting).as("threads while %d agents wait", n)
                    .isLessThan(threadsBefore + 20)
                    .isLessThan(300);

            List<Future<?>> decisions = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String id = approvals.get(i).id();
                boolean even = i % 2 == 0;
                decisions.add(workers.submit(() -> cs.decide(even ? approve(id, "alice") : reject(id, "bob"))));
            }
            for (Future<?> f : decisions) f.get(60, TimeUnit.SECONDS);

            CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            for (int i = 0; i < n; i++) {
                Approval answer = waits.get(i).join().orElseThrow();
                assertThat(answer.id()).isEqualTo(approvals.get(i).id());
                assertThat(answer.status()).isEqualTo(i % 2 == 0 ? Status.APPROVED : Status.REJECTED);
            }
            eventually(Duration.ofSeconds(5), () -> assertThat(cs.waiting()).isZero());
        } finally {
            workers.shutdownNow();
        }
    }
}
