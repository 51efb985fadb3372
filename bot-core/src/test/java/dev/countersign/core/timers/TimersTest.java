package dev.countersign.core.timers;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Status;
import dev.countersign.core.audit.AuditRecord;
import dev.countersign.core.decide.DecisionResult;
import dev.countersign.core.decide.DecisionResult.Reason;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import dev.countersign.core.testing.TestChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Engines.AGENT;
import static dev.countersign.core.testing.Polling.eventually;
import static dev.countersign.core.testing.Polling.until;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Step ④ on real Quartz and real time: escalation widens who may decide and tells them; expiry decides
 * "expired" through the one decision path; timers live in the database and survive a restart.
 */
class TimersTest {

    @TempDir
    Path dir;

    Engines engines;

    @AfterEach
    void stop() {
        if (engines != null) engines.close();
    }

    private Engines engines(Rules... rules) {
        engines = Engines.in(dir).rules(rules);
        return engines;
    }

    private static long decidedEntries(Countersign cs, String id) {
        return cs.audit().forApproval(id).stream().filter(r -> r.kind().equals("decided")).count();
    }

    @Test
    void an_unanswered_approval_escalates_to_the_next_approvers_and_then_expires() {
        Countersign cs = engines(Rules.rule("wire").when("action.type == \"payments.wire\"").high().approvers("alice")
                .escalateAfter("PT1S", "carol").expiresAfter("PT3S")).start();
        TestChannel channel = engines.channel();

        Approval a = Asks.action("payments.wire", "Wire 80,000 EUR to ACME").by(cs, AGENT);

        assertThat(a.escalationLevel()).isZero();
        assertThat(a.escalation().nextAt()).isEqualTo(a.createdAt().plusSeconds(1));
        assertThat(cs.decide(approve(a.id(), "carol"))).isInstanceOfSatisfying(DecisionResult.Refused.class,
                r -> assertThat(r.reason()).isEqualTo(Reason.NOT_ELIGIBLE));

        Approval[] seen = new Approval[1];
        eventually(Duration.ofSeconds(5), () -> assertThat((seen[0] = cs.get(a.id()).orElseThrow()).escalationLevel()).isEqualTo(1));
        Approval escalated = seen[0];
        assertThat(escalated.status()).isEqualTo(Status.PENDING);
        assertThat(escalated.approvers()).extracting(Person::id).containsExactly("alice", "carol");
        assertThat(escalated.escalation().nextAt()).isEqualTo(a.expiresAt());
        assertThat(cs.hasTimer(a.id())).isTrue();
        assertThat(cs.audit().forApproval(a.id())).filteredOn(r -> r.kind().equals("escalated")).singleElement()
                .satisfies(r -> assertThat(r.detail()).contains("carol"));
        eventually(Duration.ofSeconds(5), () -> assertThat(channel.calls("escalation", a.id())).singleElement().satisfies(call -> {
            assertThat(call.people()).extracting(Person::id).containsExactly("carol");
            assertThat(call.approval().escalationLevel()).isEqualTo(1);
            assertThat(call.refs()).containsExactly("msg-" + a.id());
        }));

        eventually(Duration.ofSeconds(6), () -> assertThat(cs.get(a.id()).orElseThrow().status()).isEqualTo(Status.EXPIRED));
        Approval expired = cs.get(a.id()).orElseThrow();
        assertThat(expired.decision().outcome()).isEqualTo(Status.EXPIRED);
        assertThat(expired.decision().by().channel()).isEqualTo(DecidedVia.TIMER);
        assertThat(expired.decision().at()).isAfterOrEqualTo(a.expiresAt().minusMillis(500));
        assertThat(decidedEntries(cs, a.id())).isEqualTo(1);
        eventually(Duration.ofSeconds(5), () -> {
            assertThat(channel.calls("update", a.id())).last().satisfies(call -> {
                assertThat(call.approval().status()).isEqualTo(Status.EXPIRED);
                assertThat(call.approval().decision().by().channel()).isEqualTo(DecidedVia.TIMER);
            });
            assertThat(cs.hasTimer(a.id())).isFalse();
        });
        assertThat(cs.decide(approve(a.id(), "carol"))).isInstanceOfSatisfying(DecisionResult.AlreadyDecided.class,
                already -> assertThat(already.approval().status()).isEqualTo(Status.EXPIRED));
    }

    @Test
    void the_agents_timeout_shortens_the_rules_expiry() {
        Countersign cs = engines(Rules.rule("wire").when("action.type == \"payments.wire\"").high().approvers("alice")
                .expiresAfter("PT1H")).start();

        Approval a = Asks.action("payments.wire").timeout("PT1S").by(cs, AGENT);

        assertThat(a.expiresAt()).isEqualTo(a.createdAt().plusSeconds(1));
        eventually(Duration.ofSeconds(6), () -> assertThat(cs.get(a.id()).orElseThrow().status()).isEqualTo(Status.EXPIRED));
        assertThat(cs.get(a.id()).orElseThrow().decision().by().channel()).isEqualTo(DecidedVia.TIMER);
    }

    @Test
    void a_timer_that_came_due_while_the_service_was_down_fires_when_it_starts_again() throws SQLException {
        Countersign first = engines(Rules.rule("wire").when("action.type == \"payments.wire\"").high().approvers("alice")
                .expiresAfter("PT2S")).start();
        Approval a = Asks.action("payments.wire").by(first, AGENT);
        assertThat(first.hasTimer(a.id())).isTrue();

        first.close();
        assertThat(statusInDatabase(a.id())).as("still pending when the service stopped").isEqualTo("pending");
        until(a.expiresAt().plusMillis(500));
        Countersign second = engines.start();

        eventually(Duration.ofSeconds(10), () -> assertThat(second.get(a.id()).orElseThrow().status()).isEqualTo(Status.EXPIRED));
        assertThat(second.get(a.id()).orElseThrow().decision().by().channel()).isEqualTo(DecidedVia.TIMER);
        assertThat(decidedEntries(second, a.id())).isEqualTo(1);
        assertThat(second.audit().verify().intact()).isTrue();
    }

    @Test
    void a_pending_approval_whose_timer_rows_were_lost_gets_its_timer_back_at_start() throws SQLException {
        Countersign first = engines(Rules.rule("wire").when("action.type == \"payments.wire\"").high().approvers("alice")
                .expiresAfter("PT1H")).start();
        Approval a = Asks.action("payments.wire").by(first, AGENT);
        assertThat(first.hasTimer(a.id())).isTrue();
        first.close();

        try (Connection c = engines.database().connect()) {
            assertThat(deleteTimerRows(c, engines.schedulerName(), a.id())).isEqualTo(new int[] {1, 1, 1});
        }
        Countersign second = engines.start();

        assertThat(second.hasTimer(a.id())).isTrue();
        try (Connection c = engines.database().connect();
             PreparedStatement ps = c.prepareStatement("SELECT NEXT_FIRE_TIME FROM QRTZ_TRIGGERS WHERE SCHED_NAME = ? AND JOB_NAME = ?")) {
            ps.setString(1, engines.schedulerName());
            ps.setString(2, a.id());
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getLong(1)).isEqualTo(a.expiresAt().toEpochMilli());
            }
        }
        assertThat(second.get(a.id()).orElseThrow().status()).isEqualTo(Status.PENDING);
        assertThat(second.audit().forApproval(a.id())).extracting(AuditRecord::kind).containsExactly("asked", "risk_assessed");
    }

    private String statusInDatabase(String approvalId) throws SQLException {
        try (Connection c = engines.database().connect();
             PreparedStatement ps = c.prepareStatement("SELECT status FROM approval WHERE id = ?")) {
            ps.setString(1, approvalId);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getString(1);
            }
        }
    }

    /** What a crash between storing an approval and scheduling its timer leaves: the approval without Quartz rows. */
    private static int[] deleteTimerRows(Connection c, String schedulerName, String approvalId) throws SQLException {
        String[] statements = {
                "DELETE FROM QRTZ_SIMPLE_TRIGGERS WHERE SCHED_NAME = ? AND TRIGGER_NAME IN "
                        + "(SELECT TRIGGER_NAME FROM QRTZ_TRIGGERS WHERE SCHED_NAME = ? AND JOB_NAME = ?)",
                "DELETE FROM QRTZ_TRIGGERS WHERE SCHED_NAME = ? AND JOB_NAME = ?",
                "DELETE FROM QRTZ_JOB_DETAILS WHERE SCHED_NAME = ? AND JOB_NAME = ?"};
        int[] deleted = new int[statements.length];
        for (int i = 0; i < statements.length; i++) {
            try (PreparedStatement ps = c.prepareStatement(statements[i])) {
                ps.setString(1, schedulerName);
                if (i == 0) {
                    ps.setString(2, schedulerName);
                    ps.setString(3, approvalId);
                } else {
                    ps.setString(2, approvalId);
                }
                deleted[i] = ps.executeUpdate();
            }
        }
        return deleted;
    }
}
