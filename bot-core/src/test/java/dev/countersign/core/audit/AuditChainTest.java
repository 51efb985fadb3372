package dev.countersign.core.audit;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Engines;
import dev.countersign.core.testing.Rules;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

import static dev.countersign.core.testing.Commands.approve;
import static dev.countersign.core.testing.Commands.cancel;
import static dev.countersign.core.testing.Commands.reject;
import static dev.countersign.core.testing.Engines.AGENT;
import static org.assertj.core.api.Assertions.assertThat;

/** The hash-chained audit log: intact after normal work; an edited or removed entry is found. */
class AuditChainTest {

    @TempDir
    Path dir;

    Engines engines;
    Countersign cs;

    @BeforeEach
    void start() {
        engines = Engines.in(dir).rules(
                Rules.rule("reads").when("action.type.startsWith(\"db.read\")").low(),
                Rules.rule("large-transfer").when("action.type == \"payments.transfer\" && params.amount > 10000")
                        .high().approvers("group:finance").quorum(2),
                Rules.rule("transfer").when("action.type == \"payments.transfer\"").high().approvers("alice", "bob"));
        cs = engines.start();
        Approval low = Asks.action("db.read.orders").by(cs, AGENT);
        Approval approved = Asks.action("payments.transfer").param("amount", 10).by(cs, AGENT);
        Approval rejected = Asks.action("payments.transfer").param("amount", 20).by(cs, AGENT);
        Approval quorum = Asks.action("payments.transfer").param("amount", 20_000).by(cs, AGENT);
        Approval cancelled = Asks.action("payments.transfer").param("amount", 30).by(cs, AGENT);
        cs.decide(approve(approved.id(), "alice"));
        cs.decide(reject(rejected.id(), "bob", "no"));
        cs.decide(approve(quorum.id(), "alice"));
        cs.decide(approve(quorum.id(), "bob"));
        cs.decide(cancel(cancelled.id(), AGENT));
        assertThat(low.status().isTerminal()).isTrue();
    }

    @AfterEach
    void stop() {
        engines.close();
    }

    private List<AuditRecord> all() {
        List<AuditRecord> out = new ArrayList<>();
        cs.audit().forEach(out::add);
        return out;
    }

    private int update(String sql, Object... binds) throws SQLException {
        try (Connection c = engines.database().connect(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < binds.length; i++) ps.setObject(i + 1, binds[i]);
            return ps.executeUpdate();
        }
    }

    @Test
    void after_asks_and_decisions_the_chain_is_intact_and_each_entry_links_to_the_one_before() {
        List<AuditRecord> entries = all();

        AuditLog.Verification v = cs.audit().verify();

        assertThat(v.intact()).isTrue();
        assertThat(v.problem()).isNull();
        assertThat(v.entries()).isEqualTo(entries.size());
        // 5 asks × (asked + risk_assessed) + policy decided + 2 decided + vote + decided + cancelled
        assertThat(entries).hasSize(16);
        assertThat(entries.get(0).prevHash()).isEqualTo(AuditLog.GENESIS);
        for (int i = 1; i < entries.size(); i++) {
            assertThat(entries.get(i).seq()).isEqualTo(entries.get(i - 1).seq() + 1);
            assertThat(entries.get(i).prevHash()).isEqualTo(entries.get(i - 1).hash());
        }
        assertThat(entries).extracting(AuditRecord::kind).contains("asked", "risk_assessed", "decided", "vote", "cancelled");
    }

    @Test
    void editing_one_entrys_detail_is_reported_at_that_entry() throws SQLException {
        long target = all().get(7).seq();

        assertThat(update("UPDATE audit_log SET detail = ? WHERE seq = ?", "{\"outcome\":\"approved\",\"via\":\"cli\"}", target)).isEqualTo(1);
        AuditLog.Verification v = cs.audit().verify();

        assertThat(v.intact()).isFalse();
        assertThat(v.firstBrokenSeq()).isEqualTo(target);
        assertThat(v.problem()).contains("entry " + target).contains("altered");
    }

    @Test
    void rewriting_an_entry_with_a_freshly_computed_hash_breaks_the_link_of_the_next_one() throws SQLException {
        AuditRecord victim = all().get(3);
        String forgedActor = "person:mallory";
        String forgedHash = AuditLog.hash(victim.prevHash(), victim.seq(), victim.at(), victim.approvalId(), victim.kind(), forgedActor, victim.detail());

        update("UPDATE audit_log SET actor = ?, hash = ? WHERE seq = ?", forgedActor, forgedHash, victim.seq());
        AuditLog.Verification v = cs.audit().verify();

        assertThat(v.intact()).isFalse();
        assertThat(v.firstBrokenSeq()).isEqualTo(victim.seq() + 1);
        assertThat(v.problem()).contains("does not link");
    }

    @Test
    void deleting_an_entry_in_the_middle_is_reported_as_missing() throws SQLException {
        long target = all().get(5).seq();

        update("DELETE FROM audit_log WHERE seq = ?", target);
        AuditLog.Verification v = cs.audit().verify();

        assertThat(v.intact()).isFalse();
        assertThat(v.firstBrokenSeq()).isEqualTo(target + 1);
        assertThat(v.problem()).contains("entry " + target + " is missing");
    }

    @Test
    void deleting_the_last_entry_is_detected_by_the_head() throws SQLException {
        List<AuditRecord> entries = all();
        long last = entries.get(entries.size() - 1).seq();

        assertThat(update("DELETE FROM audit_log WHERE seq = ?", last)).isEqualTo(1);
        AuditLog.Verification v = cs.audit().verify();

        assertThat(v.intact()).isFalse();
        assertThat(v.entries()).isEqualTo(entries.size() - 1);
        assertThat(v.firstBrokenSeq()).isEqualTo(last);
        assertThat(v.problem()).contains("head");
    }

    @Test
    void new_entries_after_a_verification_keep_the_chain_intact() {
        assertThat(cs.audit().verify().intact()).isTrue();

        Approval more = Asks.action("payments.transfer").param("amount", 40).by(cs, AGENT);
        cs.decide(approve(more.id(), "bob"));

        AuditLog.Verification v = cs.audit().verify();
        assertThat(v.intact()).isTrue();
        assertThat(v.entries()).isEqualTo(19);
    }
}
