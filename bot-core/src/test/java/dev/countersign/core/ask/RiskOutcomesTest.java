package dev.countersign.core.ask;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Status;
import dev.countersign.core.audit.AuditRecord;
import dev.countersign.core.decide.DecisionResult;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import dev.countersign.core.testing.TestChannel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static dev.countersign.core.testing.Commands.reject;
import static dev.countersign.core.testing.Engines.AGENT;
import static dev.countersign.core.testing.Polling.eventually;
import static dev.countersign.core.testing.Polling.until;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Step ②: what the policy's level means for an ask — go at once, go and record, wait out a veto window, or wait for
 * people. Every test asks its own approvals, so the class shares one engine.
 */
class RiskOutcomesTest {

    @TempDir
    static Path dir;

    static Engines engines;
    static Countersign cs;

    @BeforeAll
    static void start() {
        engines = Engines.in(dir).rules(
                Rules.rule("reads").when("action.type.startsWith(\"db.read\")").low(),
                Rules.rule("internal-email").when("action.type == \"email.send\"").medium().approvers("alice"),
                Rules.rule("staging-deploy").when("action.type == \"deploy.staging\"").medium().vetoWindow("PT1S").approvers("alice"),
                Rules.rule("large-payment").when("action.type.startsWith(\"payments.\") && params.amount > 10000")
                        .high().approvers("group:finance"),
                Rules.rule("payments").when("action.type.startsWith(\"payments.\")").medium().approvers("alice"));
        cs = engines.start();
    }

    @AfterAll
    static void stop() {
        engines.close();
    }

    private static TestChannel channel() {
        return engines.channel();
    }

    @Test
    void low_risk_is_approved_at_once_by_the_policy() {
        Approval a = Asks.action("db.read.customers").by(cs, AGENT);

        assertThat(a.status()).isEqualTo(Status.APPROVED);
        assertThat(a.risk().level()).isEqualTo(RiskLevel.LOW);
        assertThat(a.risk().rule()).isEqualTo("reads");
        assertThat(a.decision().by().channel()).isEqualTo(DecidedVia.POLICY);
        assertThat(a.decision().by().id()).isEqualTo("policy");
        assertThat(cs.get(a.id())).get().extracting(Approval::status).isEqualTo(Status.APPROVED);
        assertThat(cs.hasTimer(a.id())).isFalse();
        assertThat(cs.audit().forApproval(a.id())).extracting(AuditRecord::kind).containsExactly("asked", "risk_assessed", "decided");
        eventually(Duration.ofSeconds(5), () -> assertThat(channel().calls("publish", a.id())).singleElement()
                .satisfies(call -> assertThat(call.approval().status()).isEqualTo(Status.APPROVED)));
    }

    @Test
    void medium_risk_without_a_veto_window_is_approved_at_once_and_posted_for_information() {
        Approval a = Asks.action("email.send", "Send the weekly report to the team").by(cs, AGENT);

        assertThat(a.status()).isEqualTo(Status.APPROVED);
        assertThat(a.risk().level()).isEqualTo(RiskLevel.MEDIUM);
        assertThat(a.decision().by().channel()).isEqualTo(DecidedVia.POLICY);
        assertThat(cs.hasTimer(a.id())).isFalse();
        assertThat(cs.audit().forApproval(a.id())).filteredOn(r -> r.kind().equals("decided")).singleElement()
                .satisfies(r -> assertThat(r.detail()).contains("\"review\":true"));
        eventually(Duration.ofSeconds(5), () -> assertThat(channel().calls("publish", a.id())).singleElement()
                .satisfies(call -> {
                    assertThat(call.approval().status()).isEqualTo(Status.APPROVED);
                    assertThat(call.approval().decision().by().channel()).isEqualTo(DecidedVia.POLICY);
                }));
    }

    @Test
    void medium_risk_with_a_veto_window_waits_and_the_timer_approves_when_the_window_ends() {
        Approval a = Asks.action("deploy.staging", "Deploy build 812 to staging").by(cs, AGENT);

        assertThat(a.status()).isEqualTo(Status.PENDING);
        assertThat(a.decision()).isNull();
        assertThat(a.approvers()).extracting(Person::id).containsExactly("alice");
        assertThat(cs.hasTimer(a.id())).isTrue();

        eventually(Duration.ofSeconds(6), () -> assertThat(cs.get(a.id()).orElseThrow().status()).isEqualTo(Status.APPROVED));
        Approval approved = cs.get(a.id()).orElseThrow();
        assertThat(approved.decision().by().channel()).isEqualTo(DecidedVia.TIMER);
        assertThat(approved.decision().at()).isAfterOrEqualTo(a.createdAt().plusMillis(500));
        assertThat(cs.audit().forApproval(a.id())).filteredOn(r -> r.kind().equals("decided")).singleElement()
                .satisfies(r -> assertThat(r.actor()).isEqualTo("timer"));
        eventually(Duration.ofSeconds(5), () -> {
            assertThat(cs.hasTimer(a.id())).isFalse();
            assertThat(channel().calls("update", a.id())).anySatisfy(call -> assertThat(call.approval().status()).isEqualTo(Status.APPROVED));
        });
    }

    @Test
    void an_approvers_rejection_inside_the_veto_window_wins() {
        Approval a = Asks.action("deploy.staging", "Deploy build 813 to staging").by(cs, AGENT);

        DecisionResult result = cs.decide(reject(a.id(), "alice", "not during the demo"));

        assertThat(result).isInstanceOfSatisfying(DecisionResult.Decided.class, d -> {
            assertThat(d.approval().status()).isEqualTo(Status.REJECTED);
            assertThat(d.approval().decision().by().id()).isEqualTo("alice");
            assertThat(d.approval().decision().comment()).isEqualTo("not during the demo");
        });
        assertThat(cs.hasTimer(a.id())).isFalse();
        // Past the end of the window the rejection still stands: the timer was removed, and a stale one does nothing.
        until(a.createdAt().plusSeconds(2));
        assertThat(cs.get(a.id()).orElseThrow().status()).isEqualTo(Status.REJECTED);
        assertThat(cs.audit().forApproval(a.id())).filteredOn(r -> r.kind().equals("decided")).hasSize(1);
    }

    @Test
    void high_risk_waits_for_people_with_a_timer_set() {
        Approval a = Asks.action("payments.transfer", "Pay ACME 50,000 EUR").param("amount", 50_000).by(cs, AGENT);

        assertThat(a.status()).isEqualTo(Status.PENDING);
        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.approvers()).extracting(Person::id).containsExactly("alice", "bob", "dave");
        assertThat(cs.hasTimer(a.id())).isTrue();
        eventually(Duration.ofSeconds(5), () -> assertThat(channel().calls("publish", a.id())).singleElement()
                .satisfies(call -> assertThat(call.approval().isPending()).isTrue()));
    }

    @Test
    void the_agents_hint_raises_the_level_but_never_lowers_it() {
        Approval raised = Asks.action("db.read.customers").riskHint("high").by(cs, AGENT);
        Approval notLowered = Asks.action("payments.transfer").param("amount", 50_000).riskHint("low").by(cs, AGENT);

        assertThat(raised.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(raised.status()).isEqualTo(Status.PENDING);
        assertThat(raised.risk().explanation()).contains("raised to high");
        assertThat(notLowered.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(notLowered.risk().explanation()).contains("cannot lower");
    }

    @Test
    void a_condition_that_errors_on_the_request_makes_it_high_risk_for_the_admins() {
        // "amount" as a string cannot be compared with 10000: fail closed, never fall through to the medium rule.
        Approval a = Asks.action("payments.transfer").param("amount", "50000").by(cs, AGENT);

        assertThat(a.status()).isEqualTo(Status.PENDING);
        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isEqualTo("large-payment");
        assertThat(a.risk().explanation()).contains("fail closed");
        assertThat(a.approvers()).extracting(Person::id).containsExactly("erin");
    }

    @Test
    void no_matching_rule_is_high_risk_for_the_admins() {
        Approval a = Asks.action("k8s.delete.namespace").by(cs, AGENT);

        assertThat(a.status()).isEqualTo(Status.PENDING);
        assertThat(a.risk().level()).isEqualTo(RiskLevel.HIGH);
        assertThat(a.risk().rule()).isNull();
        assertThat(a.approvers()).extracting(Person::id).containsExactly("erin");
    }
}
