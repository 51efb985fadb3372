package dev.countersign.core.channel;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Status;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Engines.AGENT;
import static dev.countersign.core.testing.Polling.eventually;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Steps ⑤ and ⑧ for durable channels (Slack, Teams): every call they owe is kept in the database with the change
 * that caused it, delivered in order, retried after failures (with the platform's Retry-After when given) and
 * after a restart, and never lost.
 */
class DurableChannelTest {

    @TempDir
    Path dir;

    Engines engines;

    @AfterEach
    void stop() {
        if (engines != null) engines.close();
    }

    /** A remote channel that can be made to fail, and records every call it took (and every attempt). */
    static final class RemoteChannel implements Channel {
        record Call(String kind, String approvalId, Status status, List<String> people, List<String> refs, Instant at) {}

        final List<Call> delivered = new CopyOnWriteArrayList<>();
        final List<Instant> attempts = new CopyOnWriteArrayList<>();
        final AtomicInteger failuresLeft = new AtomicInteger();
        volatile Duration retryAfter;
        volatile boolean down;
        volatile boolean failUpdates;

        @Override
        public String name() {
            return "remote";
        }

        @Override
        public boolean durable() {
            return true;
        }

        private void attempt() {
            attempts.add(Instant.now());
            if (down) throw new IllegalStateException("remote is down");
            if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw retryAfter != null ? new ChannelException("rate limited", retryAfter, null) : new IllegalStateException("connection reset");
            }
        }

        @Override
        public void publish(Approval a, PostLog posts) {
            attempt();
            if (posts.refs().isEmpty()) posts.remember("post-" + a.id());
            delivered.add(new Call("publish", a.id(), a.status(), List.of(), posts.refs(), Instant.now()));
        }

        @Override
        public void update(Approval a, PostLog posts) {
            attempt();
            if (failUpdates) throw new IllegalStateException("message_not_found");
            delivered.add(new Call("update", a.id(), a.status(), List.of(), posts.refs(), Instant.now()));
        }

        @Override
        public void notifyEscalation(Approval a, List<Person> people, PostLog posts) {
            attempt();
            delivered.add(new Call("escalation", a.id(), a.status(), people.stream().map(Person::id).toList(), posts.refs(), Instant.now()));
        }

        List<String> kinds(String approvalId) {
            return delivered.stream().filter(c -> c.approvalId().equals(approvalId)).map(Call::kind).toList();
        }
    }

    /** The remote channel the next engine started gets. */
    private final AtomicReference<RemoteChannel> remoteChannel = new AtomicReference<>();

    private Countersign start(RemoteChannel remote, Rules... rules) {
        remoteChannel.set(remote);
        if (engines == null) engines = Engines.in(dir).rules(rules).channel(port -> remoteChannel.get());
        return engines.start();
    }

    private static Rules wire() {
        return Rules.rule("wire").when("action.type == \"payments.wire\"").high().approvers("alice").expiresAfter("PT1H");
    }

    @Test
    void a_durable_channel_is_told_of_a_new_approval_and_then_of_its_decision_in_that_order() {
        RemoteChannel remote = new RemoteChannel();
        Countersign cs = start(remote, wire());

        Approval a = Asks.action("payments.wire").by(cs, AGENT);
        eventually(Duration.ofSeconds(5), () -> assertThat(remote.kinds(a.id())).containsExactly("publish"));
        cs.decide(approve(a.id(), "alice"));

        eventually(Duration.ofSeconds(5), () -> assertThat(remote.kinds(a.id())).containsExactly("publish", "update"));
        RemoteChannel.Call update = remote.delivered.get(1);
        assertThat(update.status()).isEqualTo(Status.APPROVED);
        assertThat(update.refs()).containsExactly("post-" + a.id());
    }

    @Test
    void on_postgresql_too_the_calls_arrive_in_order_after_a_failure() {
        engines = Engines.onPostgres().rules(wire()).channel(port -> remoteChannel.get());
        RemoteChannel remote = new RemoteChannel();
        remote.failuresLeft.set(1);
        Countersign cs = start(remote);

        Approval a = Asks.action("payments.wire").by(cs, AGENT);
        eventually(Duration.ofSeconds(10), () -> assertThat(remote.kinds(a.id())).containsExactly("publish"));
        cs.decide(approve(a.id(), "alice"));

        eventually(Duration.ofSeconds(10), () -> assertThat(remote.kinds(a.id())).containsExactly("publish", "update"));
        assertThat(remote.delivered.get(1).status()).isEqualTo(Status.APPROVED);
    }

    @Test
    void a_failing_channel_is_retried_with_backoff_and_an_update_never_overtakes_its_publish() {
        RemoteChannel remote = new RemoteChannel();
        Countersign cs = start(remote, wire());
        remote.failuresLeft.set(2);

        Approval a = Asks.action("payments.wire").by(cs, AGENT);
        cs.decide(approve(a.id(), "alice"));

        eventually(Duration.ofSeconds(15), () -> assertThat(remote.kinds(a.id())).contains("publish"));
        // Publish renders the approval as it now stands (already approved), so no separate update is owed after it.
        assertThat(remote.kinds(a.id()).get(0)).isEqualTo("publish");
        assertThat(remote.delivered.get(0).status()).isEqualTo(Status.APPROVED);
        assertThat(remote.attempts).hasSizeGreaterThanOrEqualTo(3);
        // Backoff: the second attempt waits at least the first pause (1 s), the third the second (2 s).
        assertThat(Duration.between(remote.attempts.get(0), remote.attempts.get(1))).isGreaterThanOrEqualTo(Duration.ofMillis(900));
        assertThat(Duration.between(remote.attempts.get(1), remote.attempts.get(2))).isGreaterThanOrEqualTo(Duration.ofMillis(1900));
    }

    @Test
    void a_failed_update_holds_nothing_back_and_a_later_update_makes_it_pointless() throws InterruptedException {
        RemoteChannel remote = new RemoteChannel();
        Countersign cs = start(remote, Rules.rule("deploy").when("action.type == \"deploy\"").high().approvers("alice", "bob").quorum(2)
                .expiresAfter("PT1H"));
        Approval a = Asks.action("deploy").by(cs, AGENT);
        eventually(Duration.ofSeconds(5), () -> assertThat(remote.kinds(a.id())).containsExactly("publish"));

        remote.failUpdates = true;
        int before = remote.attempts.size();
        cs.decide(approve(a.id(), "alice"));                       // a vote: an update that fails
        eventually(Duration.ofSeconds(5), () -> assertThat(remote.attempts).hasSize(before + 1));
        remote.failUpdates = false;
        cs.decide(approve(a.id(), "bob"));                         // the decision: its update goes through

        eventually(Duration.ofSeconds(5), () -> assertThat(remote.kinds(a.id())).containsExactly("publish", "update"));
        assertThat(remote.delivered.get(1).status()).isEqualTo(Status.APPROVED);
        Thread.sleep(2_500);   // past the failed update's retry time: it was dropped, not sent again
        assertThat(remote.kinds(a.id())).containsExactly("publish", "update");
    }

    @Test
    void the_platforms_retry_after_is_honoured_before_the_next_attempt() {
        RemoteChannel remote = new RemoteChannel();
        Countersign cs = start(remote, wire());
        remote.retryAfter = Duration.ofSeconds(3);
        remote.failuresLeft.set(1);

        Approval a = Asks.action("payments.wire").by(cs, AGENT);

        eventually(Duration.ofSeconds(10), () -> assertThat(remote.kinds(a.id())).containsExactly("publish"));
        assertThat(remote.attempts).hasSize(2);
        assertThat(Duration.between(remote.attempts.get(0), remote.attempts.get(1))).isGreaterThanOrEqualTo(Duration.ofMillis(2900));
    }

    @Test
    void calls_owed_when_the_service_stops_are_delivered_after_a_restart() {
        RemoteChannel down = new RemoteChannel();
        down.down = true;
        Countersign cs = start(down, Rules.rule("wire").when("action.type == \"payments.wire\"").high().approvers("alice")
                .escalateAfter("PT1S", "carol").expiresAfter("PT1H"));

        Approval a = Asks.action("payments.wire").by(cs, AGENT);
        eventually(Duration.ofSeconds(6), () -> assertThat(cs.get(a.id()).orElseThrow().escalationLevel()).isEqualTo(1));
        assertThat(down.delivered).isEmpty();
        cs.close();

        RemoteChannel up = new RemoteChannel();
        Countersign restarted = start(up);

        eventually(Duration.ofSeconds(10), () -> assertThat(up.kinds(a.id())).containsExactly("publish", "escalation"));
        assertThat(up.delivered.get(1).people()).containsExactly("carol");
        assertThat(up.delivered.get(1).refs()).containsExactly("post-" + a.id());
        assertThat(restarted.get(a.id()).orElseThrow().isPending()).isTrue();
    }

    @Test
    void a_low_risk_approval_owes_a_durable_channel_nothing() throws InterruptedException {
        RemoteChannel remote = new RemoteChannel();
        Countersign cs = start(remote, wire(), Rules.rule("reads").when("action.type == \"db.read\"").low());

        Approval low = Asks.action("db.read").by(cs, AGENT);
        Approval high = Asks.action("payments.wire").by(cs, AGENT);

        eventually(Duration.ofSeconds(5), () -> assertThat(remote.kinds(high.id())).containsExactly("publish"));
        Thread.sleep(1_500);   // a poll or two later, still nothing for the low-risk one
        assertThat(low.status()).isEqualTo(Status.APPROVED);
        assertThat(remote.kinds(low.id())).isEmpty();
    }
}
