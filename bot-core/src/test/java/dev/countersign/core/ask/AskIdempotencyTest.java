package dev.countersign.core.ask;

import dev.countersign.core.ConflictException;
import dev.countersign.core.Countersign;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.Status;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
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

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Engines.AGENT;
import static dev.countersign.core.testing.Engines.OTHER_AGENT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Step ③: an Idempotency-Key makes a retried ask return the first approval, per agent. */
class AskIdempotencyTest {

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

    private static Asks transfer(int amount) {
        return Asks.action("payments.transfer", "Pay ACME " + amount + " EUR").param("amount", amount);
    }

    private static long entries(String approvalId, String kind) {
        return cs.audit().forApproval(approvalId).stream().filter(r -> r.kind().equals(kind)).count();
    }

    @Test
    void a_repeat_with_the_same_key_and_body_returns_the_same_approval_without_creating_one() {
        AskService.Asked first = transfer(100).by(cs, AGENT, "key-repeat");
        AskService.Asked again = transfer(100).by(cs, AGENT, "key-repeat");

        assertThat(first.created()).isTrue();
        assertThat(again.created()).isFalse();
        assertThat(again.approval().id()).isEqualTo(first.approval().id());
        assertThat(cs.list(AGENT, null, 1000)).filteredOn(a -> a.id().equals(first.approval().id())).hasSize(1);
        assertThat(entries(first.approval().id(), "asked")).isEqualTo(1);
    }

    @Test
    void a_repeat_after_the_decision_returns_the_approval_as_it_now_stands() {
        AskService.Asked first = transfer(150).by(cs, AGENT, "key-after-decision");
        cs.decide(approve(first.approval().id(), "alice"));

        AskService.Asked again = transfer(150).by(cs, AGENT, "key-after-decision");

        assertThat(again.created()).isFalse();
        assertThat(again.approval().status()).isEqualTo(Status.APPROVED);
        assertThat(again.approval().decision().by().id()).isEqualTo("alice");
    }

    @Test
    void the_same_key_with_a_different_body_is_a_conflict() {
        AskService.Asked first = transfer(200).by(cs, AGENT, "key-conflict");

        assertThatThrownBy(() -> transfer(200_000).by(cs, AGENT, "key-conflict"))
                .isInstanceOfSatisfying(ConflictException.class, e -> {
                    assertThat(e.code()).isEqualTo("idempotency_key_reused");
                    assertThat(e.getMessage()).contains("key-conflict").contains(first.approval().id());
                });
        assertThat(cs.list(AGENT, null, 1000)).noneMatch(a -> a.action().params().get("amount").equals(200_000L));
    }

    @Test
    void the_same_key_from_another_agent_is_a_different_approval() {
        AskService.Asked mine = transfer(300).by(cs, AGENT, "key-shared");
        AskService.Asked theirs = transfer(300).by(cs, OTHER_AGENT, "key-shared");

        assertThat(theirs.created()).isTrue();
        assertThat(theirs.approval().id()).isNotEqualTo(mine.approval().id());
        assertThat(theirs.approval().agent().id()).isEqualTo(OTHER_AGENT);
        assertThat(mine.approval().agent().id()).isEqualTo(AGENT);
    }

    @Test
    void without_a_key_every_ask_is_a_new_approval() {
        String first = transfer(400).by(cs, AGENT).id();
        String second = transfer(400).by(cs, AGENT).id();

        assertThat(second).isNotEqualTo(first);
    }

    @Test
    void a_blank_or_overlong_key_is_refused_naming_the_header() {
        assertThatThrownBy(() -> transfer(500).by(cs, AGENT, " "))
                .isInstanceOfSatisfying(InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("Idempotency-Key"));
        assertThatThrownBy(() -> transfer(500).by(cs, AGENT, "k".repeat(201)))
                .isInstanceOfSatisfying(InvalidInputException.class, e -> assertThat(e.field()).isEqualTo("Idempotency-Key"));
    }

    @Test
    void racing_repeats_of_one_key_create_exactly_one_approval() throws Exception {
        int n = 12;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<AskService.Asked>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                futures.add(pool.submit(() -> {
                    go.await();
                    return transfer(600).by(cs, AGENT, "key-race");
                }));
            }
            go.countDown();
            List<AskService.Asked> results = new ArrayList<>();
            for (Future<AskService.Asked> f : futures) results.add(f.get(30, TimeUnit.SECONDS));

            assertThat(results).filteredOn(AskService.Asked::created).hasSize(1);
            assertThat(results).extracting(r -> r.approval().id()).containsOnly(results.get(0).approval().id());
            assertThat(entries(results.get(0).approval().id(), "asked")).isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
    }
}
