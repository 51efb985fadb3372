package dev.countersign.core.decide;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;
import dev.countersign.core.audit.AuditRecord;
import dev.countersign.core.decide.DecisionCommand.Verdict;
import dev.countersign.core.decide.DecisionResult.Reason;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Commands.cancel;
import static dev.countersign.core.testing.Commands.reject;
import static dev.countersign.core.testing.Engines.AGENT;
import static dev.countersign.core.testing.Engines.OTHER_AGENT;
import static dev.countersign.core.testing.Polling.eventually;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Steps ⑥–⑦: who may decide what. Every test asks its own approvals, so the class shares one engine.
 * The rules: a transfer waits for alice or bob; a large transfer needs two of finance (alice, bob, dave).
 * erin is the admin; carol and frank are configured but approve neither.
 */
class DecisionRulesTest {

    @TempDir
    static Path dir;

    static Engines engines;
    static Countersign cs;

    @BeforeAll
    static void start() {
        engines = Engines.in(dir).rules(
                Rules.rule("large-transfer").when("action.type == \"payments.transfer\" && params.amount > 10000")
                        .high().approvers("group:finance").quorum(2),
                Rules.rule("transfer").when("action.type == \"payments.transfer\"").high().approvers("alice", "bob"));
        cs = engines.start();
    }

    @AfterAll
    static void stop() {
        engines.close();
    }

    private static Approval transfer() {
        return Asks.action("payments.transfer", "Pay ACME 900 EUR").param("amount", 900).by(cs, AGENT);
    }

    private static Approval transferFor(String personId) {
        return Asks.action("payments.transfer", "Refund 40 EUR to " + personId).param("amount", 40).requestedFor(personId).by(cs, AGENT);
    }

    private static Approval largeTransfer() {
        return Asks.action("payments.transfer", "Pay ACME 50,000 EUR").param("amount", 50_000).by(cs, AGENT);
    }

    private static Approval stored(Approval a) {
        return cs.get(a.id()).orElseThrow();
    }

    private static long decidedEntries(Approval a) {
        return cs.audit().forApproval(a.id()).stream().filter(r -> r.kind().equals("decided")).count();
    }

    // ---- high risk: eligibility

    @Test
    void high_risk_waits_until_a_person_decides() {
        Approval a = transfer();

        assertThat(a.status()).isEqualTo(Status.PENDING);
        assertThat(a.decision()).isNull();
        assertThat(a.approvers()).extracting(Person::id).containsExactly("alice", "bob");
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
    }

    @Test
    void an_eligible_approver_approves_through_the_cli() {
        Approval a = transfer();

        DecisionResult result = cs.decide(approve(a.id(), "bob"));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Decided.class, d -> {
            assertThat(d.approval().status()).isEqualTo(Status.APPROVED);
            assertThat(d.approval().decision().outcome()).isEqualTo(Status.APPROVED);
            assertThat(d.approval().decision().by().id()).isEqualTo("bob");
            assertThat(d.approval().decision().by().name()).isEqualTo("Bob Li");
            assertThat(d.approval().decision().by().channel()).isEqualTo(DecidedVia.CLI);
        });
        assertThat(stored(a).status()).isEqualTo(Status.APPROVED);
        assertThat(stored(a).decision().by().channel()).isEqualTo(DecidedVia.CLI);
        assertThat(cs.audit().forApproval(a.id())).last().satisfies(r -> {
            assertThat(r.kind()).isEqualTo("decided");
            assertThat(r.actor()).isEqualTo("person:bob");
            assertThat(r.detail()).contains("\"via\":\"cli\"");
        });
        assertThat(cs.hasTimer(a.id())).isFalse();
    }

    @Test
    void a_rejection_is_recorded_with_the_comment() {
        Approval a = transfer();

        DecisionResult result = cs.decide(reject(a.id(), "alice", "wrong IBAN"));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Decided.class, d -> {
            assertThat(d.approval().status()).isEqualTo(Status.REJECTED);
            assertThat(d.approval().decision().comment()).isEqualTo("wrong IBAN");
        });
        assertThat(stored(a).decision().comment()).isEqualTo("wrong IBAN");
    }

    @Test
    void a_configured_person_who_is_not_an_approver_is_refused_as_not_eligible() {
        Approval a = transfer();

        DecisionResult approve = cs.decide(approve(a.id(), "carol"));
        DecisionResult reject = cs.decide(reject(a.id(), "frank"));

        assertThat(approve).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> {
            assertThat(r.reason()).isEqualTo(Reason.NOT_ELIGIBLE);
            assertThat(r.message()).contains("Carol Diaz");
        });
        assertThat(reject).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> assertThat(r.reason()).isEqualTo(Reason.NOT_ELIGIBLE));
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
        assertThat(decidedEntries(a)).isZero();
    }

    @Test
    void an_unknown_person_is_refused_as_unknown_person() {
        Approval a = transfer();

        DecisionResult result = cs.decide(approve(a.id(), "mallory"));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> {
            assertThat(r.reason()).isEqualTo(Reason.UNKNOWN_PERSON);
            assertThat(r.message()).contains("mallory");
        });
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
    }

    @Test
    void the_person_the_agent_acts_for_cannot_approve_and_the_approval_stays_pending() {
        Approval a = transferFor("alice");

        DecisionResult result = cs.decide(approve(a.id(), "alice"));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> {
            assertThat(r.reason()).isEqualTo(Reason.SELF_APPROVAL);
            assertThat(r.message()).contains("Alice Ng");
        });
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
        assertThat(decidedEntries(a)).isZero();
        assertThat(cs.decide(approve(a.id(), "bob"))).isInstanceOf(DecisionResult.Decided.class);
    }

    @Test
    void the_person_the_agent_acts_for_may_still_reject_it() {
        Approval a = transferFor("alice");

        DecisionResult result = cs.decide(reject(a.id(), "alice", "I did not ask for this"));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Decided.class,
                d -> assertThat(d.approval().status()).isEqualTo(Status.REJECTED));
    }

    @Test
    void even_an_admin_cannot_approve_on_their_own_behalf() {
        Approval a = transferFor("erin");

        assertThat(cs.decide(approve(a.id(), "erin"))).isInstanceOfSatisfying(DecisionResult.Refused.class,
                r -> assertThat(r.reason()).isEqualTo(Reason.SELF_APPROVAL));
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
    }

    @Test
    void an_admin_may_decide_approvals_they_are_not_an_approver_of() {
        Approval toApprove = transfer();
        Approval toReject = largeTransfer();
        assertThat(toApprove.approvers()).extracting(Person::id).doesNotContain("erin");

        DecisionResult approved = cs.decide(approve(toApprove.id(), "erin"));
        DecisionResult rejected = cs.decide(reject(toReject.id(), "erin"));

        assertThat(approved).isInstanceOfSatisfying(DecisionResult.Decided.class, d -> {
            assertThat(d.approval().status()).isEqualTo(Status.APPROVED);
            assertThat(d.approval().decision().by().id()).isEqualTo("erin");
        });
        assertThat(rejected).isInstanceOfSatisfying(DecisionResult.Decided.class,
                d -> assertThat(d.approval().status()).isEqualTo(Status.REJECTED));
    }

    @Test
    void a_second_decision_is_told_who_decided_first() {
        Approval a = transfer();
        cs.decide(approve(a.id(), "alice"));

        DecisionResult second = cs.decide(reject(a.id(), "bob", "too late?"));

        assertThat(second).isInstanceOfSatisfying(DecisionResult.AlreadyDecided.class, already -> {
            assertThat(already.approval().status()).isEqualTo(Status.APPROVED);
            assertThat(already.approval().decision().by().id()).isEqualTo("alice");
        });
        assertThat(stored(a).status()).isEqualTo(Status.APPROVED);
        assertThat(decidedEntries(a)).isEqualTo(1);
    }

    @Test
    void an_unknown_approval_is_refused_as_not_found() {
        assertThat(cs.decide(approve("apr_doesnotexist", "alice"))).isInstanceOfSatisfying(DecisionResult.Refused.class,
                r -> assertThat(r.reason()).isEqualTo(Reason.NOT_FOUND));
    }

    @Test
    void a_click_in_a_channel_decides_and_every_posted_message_is_updated() {
        Approval a = transfer();
        eventually(Duration.ofSeconds(5), () -> assertThat(engines.channel().calls("publish", a.id())).hasSize(1));

        DecisionResult result = engines.channel().click(a.id(), Verdict.APPROVE, "alice", "looks right");

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Decided.class,
                d -> assertThat(d.approval().decision().by().channel()).isEqualTo(DecidedVia.SLACK));
        eventually(Duration.ofSeconds(5), () -> assertThat(engines.channel().calls("update", a.id())).singleElement().satisfies(call -> {
            assertThat(call.approval().status()).isEqualTo(Status.APPROVED);
            assertThat(call.approval().decision().comment()).isEqualTo("looks right");
            assertThat(call.refs()).containsExactly("msg-" + a.id());
        }));
    }

    // ---- quorum

    @Test
    void the_first_approval_of_a_quorum_of_two_is_counted_with_one_remaining() {
        Approval a = largeTransfer();
        assertThat(a.plan().quorum()).isEqualTo(2);

        DecisionResult first = cs.decide(approve(a.id(), "alice"));

        assertThat(first).isInstanceOfSatisfying(DecisionResult.VoteCounted.class, v -> {
            assertThat(v.remaining()).isEqualTo(1);
            assertThat(v.approval().status()).isEqualTo(Status.PENDING);
            assertThat(v.approval().votes()).extracting(Vote::personId).containsExactly("alice");
        });
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
        assertThat(stored(a).votes()).extracting(Vote::personId).containsExactly("alice");
        assertThat(cs.audit().forApproval(a.id())).extracting(AuditRecord::kind).contains("vote").doesNotContain("decided");
        eventually(Duration.ofSeconds(5), () -> assertThat(engines.channel().calls("update", a.id()))
                .anySatisfy(call -> assertThat(call.approval().votes()).hasSize(1)));
    }

    @Test
    void the_same_person_approving_twice_counts_once() {
        Approval a = largeTransfer();
        cs.decide(approve(a.id(), "alice"));

        DecisionResult again = cs.decide(approve(a.id(), "alice"));

        assertThat(again).isInstanceOfSatisfying(DecisionResult.VoteCounted.class, v -> assertThat(v.remaining()).isEqualTo(1));
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
        assertThat(stored(a).votes()).extracting(Vote::personId).containsExactly("alice");
    }

    @Test
    void a_second_distinct_approver_completes_the_quorum() {
        Approval a = largeTransfer();
        cs.decide(approve(a.id(), "alice"));
        cs.decide(approve(a.id(), "alice"));

        DecisionResult second = cs.decide(approve(a.id(), "dave"));

        assertThat(second).isInstanceOfSatisfying(DecisionResult.Decided.class, d -> {
            assertThat(d.approval().status()).isEqualTo(Status.APPROVED);
            assertThat(d.approval().decision().by().id()).isEqualTo("dave");
            assertThat(d.approval().votes()).extracting(Vote::personId).containsExactlyInAnyOrder("alice", "dave");
        });
        assertThat(stored(a).status()).isEqualTo(Status.APPROVED);
        assertThat(decidedEntries(a)).isEqualTo(1);
    }

    @Test
    void any_eligible_rejection_rejects_a_quorum_approval() {
        Approval a = largeTransfer();
        cs.decide(approve(a.id(), "alice"));

        DecisionResult rejection = cs.decide(reject(a.id(), "bob", "not this quarter"));

        assertThat(rejection).isInstanceOfSatisfying(DecisionResult.Decided.class, d -> {
            assertThat(d.approval().status()).isEqualTo(Status.REJECTED);
            assertThat(d.approval().decision().by().id()).isEqualTo("bob");
        });
        assertThat(cs.decide(approve(a.id(), "dave"))).isInstanceOf(DecisionResult.AlreadyDecided.class);
        assertThat(stored(a).status()).isEqualTo(Status.REJECTED);
    }

    @Test
    void a_rejection_by_someone_not_eligible_does_not_reject_a_quorum_approval() {
        Approval a = largeTransfer();

        assertThat(cs.decide(reject(a.id(), "carol"))).isInstanceOfSatisfying(DecisionResult.Refused.class,
                r -> assertThat(r.reason()).isEqualTo(Reason.NOT_ELIGIBLE));
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
    }

    // ---- the agent withdraws

    @Test
    void the_asking_agent_cancels_its_own_request() {
        Approval a = transfer();

        DecisionResult result = cs.decide(cancel(a.id(), AGENT));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Decided.class, d -> {
            assertThat(d.approval().status()).isEqualTo(Status.CANCELLED);
            assertThat(d.approval().decision().by().channel()).isEqualTo(DecidedVia.AGENT);
            assertThat(d.approval().decision().by().id()).isEqualTo(AGENT);
        });
        assertThat(stored(a).status()).isEqualTo(Status.CANCELLED);
        assertThat(cs.audit().forApproval(a.id())).last().satisfies(r -> {
            assertThat(r.kind()).isEqualTo("cancelled");
            assertThat(r.actor()).isEqualTo("agent:" + AGENT);
        });
        assertThat(cs.hasTimer(a.id())).isFalse();
    }

    @Test
    void another_agent_cannot_cancel_it() {
        Approval a = transfer();

        DecisionResult result = cs.decide(cancel(a.id(), OTHER_AGENT));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> assertThat(r.reason()).isEqualTo(Reason.NOT_YOURS));
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
    }

    @Test
    void cancelling_twice_is_told_it_is_already_decided() {
        Approval a = transfer();
        cs.decide(cancel(a.id(), AGENT));

        DecisionResult again = cs.decide(cancel(a.id(), AGENT));

        assertThat(again).isInstanceOfSatisfying(DecisionResult.AlreadyDecided.class, already -> {
            assertThat(already.approval().status()).isEqualTo(Status.CANCELLED);
            assertThat(already.approval().decision().by().channel()).isEqualTo(DecidedVia.AGENT);
        });
    }

    @Test
    void an_agent_may_only_cancel_and_a_person_may_not_cancel() {
        Approval a = transfer();

        DecisionResult agentApproves = cs.decide(new DecisionCommand(a.id(), Verdict.APPROVE, new DecisionCommand.Actor.AgentActor(AGENT), null));
        DecisionResult personCancels = cs.decide(DecisionCommand.byPerson(a.id(), Verdict.CANCEL, "alice", DecidedVia.WEB, null));
        DecisionResult personExpires = cs.decide(DecisionCommand.byPerson(a.id(), Verdict.EXPIRE, "erin", DecidedVia.WEB, null));

        assertThat(agentApproves).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> assertThat(r.reason()).isEqualTo(Reason.NOT_ALLOWED));
        assertThat(personCancels).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> assertThat(r.reason()).isEqualTo(Reason.NOT_ALLOWED));
        assertThat(personExpires).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> assertThat(r.reason()).isEqualTo(Reason.NOT_ALLOWED));
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
    }

    @Test
    void a_timer_may_not_approve_outside_a_veto_window() {
        Approval a = transfer();

        DecisionResult result = cs.decide(new DecisionCommand(a.id(), Verdict.APPROVE, new DecisionCommand.Actor.TimerActor("forged"), null));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Refused.class, r -> assertThat(r.reason()).isEqualTo(Reason.NOT_ALLOWED));
        assertThat(stored(a).status()).isEqualTo(Status.PENDING);
    }
}
