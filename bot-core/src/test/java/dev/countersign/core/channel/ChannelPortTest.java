package dev.countersign.core.channel;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.decide.DecisionResult;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Engines.AGENT;
import static org.assertj.core.api.Assertions.assertThat;

/** What a channel may ask of the core for "/pending" and the like: what waits for a person, most urgent first. */
class ChannelPortTest {

    @TempDir
    Path dir;

    Engines engines;
    Countersign cs;
    ChannelPort port;

    @BeforeEach
    void start() {
        AtomicReference<ChannelPort> captured = new AtomicReference<>();
        engines = Engines.in(dir).rules(
                        Rules.rule("wire").when("action.type == \"payments.wire\"").high().approvers("alice")
                                .escalateAfter("PT30M", "carol").expiresAfter("PT2H"),
                        Rules.rule("deploy").when("action.type == \"deploy\"").high().approvers("alice", "bob").quorum(2).expiresAfter("PT1H"),
                        Rules.rule("email").when("action.type == \"email.send\"").high().approvers("bob").expiresAfter("PT10M"))
                .channel(p -> {
                    captured.set(p);
                    return new Channel() {
                        @Override
                        public String name() {
                            return "probe";
                        }

                        @Override
                        public void publish(Approval approval, PostLog posts) {
                        }

                        @Override
                        public void update(Approval approval, PostLog posts) {
                        }
                    };
                });
        cs = engines.start();
        port = captured.get();
    }

    @AfterEach
    void stop() {
        engines.close();
    }

    private static List<String> ids(List<Approval> list) {
        return list.stream().map(Approval::id).toList();
    }

    @Test
    void waiting_for_lists_what_a_person_may_decide_now_most_urgent_first() {
        Approval wire = Asks.action("payments.wire").by(cs, AGENT);            // next deadline: escalation in 30 min
        Approval deploy = Asks.action("deploy").by(cs, AGENT);                // expires in 1 h
        Approval email = Asks.action("email.send").by(cs, AGENT);             // bob only
        Approval forAlice = Asks.action("payments.wire").requestedFor("alice").by(cs, AGENT);

        assertThat(ids(port.waitingFor("alice", 10))).containsExactly(wire.id(), deploy.id());
        assertThat(ids(port.waitingFor("bob", 10))).containsExactly(email.id(), deploy.id());
        assertThat(port.waitingFor("frank", 10)).isEmpty();
        assertThat(port.waitingFor("carol", 10)).as("carol only after the escalation").isEmpty();
        assertThat(ids(port.waitingFor("erin", 10))).as("the admin may decide everything pending")
                .containsExactlyInAnyOrder(wire.id(), deploy.id(), email.id(), forAlice.id());
        assertThat(port.waitingFor("erin", 2)).hasSize(2);
    }

    @Test
    void a_vote_already_cast_or_a_decision_takes_the_approval_off_the_persons_list() {
        Approval wire = Asks.action("payments.wire").by(cs, AGENT);
        Approval deploy = Asks.action("deploy").by(cs, AGENT);

        assertThat(cs.decide(approve(deploy.id(), "alice"))).isInstanceOf(DecisionResult.VoteCounted.class);
        assertThat(ids(port.waitingFor("alice", 10))).containsExactly(wire.id());
        assertThat(ids(port.waitingFor("bob", 10))).containsExactly(deploy.id());

        assertThat(cs.decide(approve(wire.id(), "alice"))).isInstanceOf(DecisionResult.Decided.class);
        assertThat(port.waitingFor("alice", 10)).isEmpty();
        assertThat(port.find(wire.id())).hasValueSatisfying(a -> assertThat(a.isPending()).isFalse());
    }

    @Test
    void pending_visible_to_includes_later_escalation_steps_and_the_person_it_is_for_but_not_strangers() {
        Approval wire = Asks.action("payments.wire").by(cs, AGENT);
        Approval forFrank = Asks.action("email.send").requestedFor("frank").by(cs, AGENT);

        assertThat(ids(port.pendingVisibleTo("carol", 10))).containsExactly(wire.id());
        assertThat(ids(port.pendingVisibleTo("frank", 10))).containsExactly(forFrank.id());
        assertThat(port.pendingVisibleTo("dave", 10)).isEmpty();
        assertThat(port.directory().member("carol")).isPresent();
    }
}
