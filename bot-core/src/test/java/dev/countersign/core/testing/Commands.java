package dev.countersign.core.testing;

import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionCommand.Verdict;

/** Decision commands as each source would send them. */
public final class Commands {
    private Commands() {
    }

    /** A person approves through the operator CLI. */
    public static DecisionCommand approve(String approvalId, String personId) {
        return DecisionCommand.byPerson(approvalId, Verdict.APPROVE, personId, DecidedVia.CLI, null);
    }

    public static DecisionCommand reject(String approvalId, String personId, String comment) {
        return DecisionCommand.byPerson(approvalId, Verdict.REJECT, personId, DecidedVia.CLI, comment);
    }

    public static DecisionCommand reject(String approvalId, String personId) {
        return reject(approvalId, personId, null);
    }

    /** The asking agent withdraws. */
    public static DecisionCommand cancel(String approvalId, String agentId) {
        return new DecisionCommand(approvalId, Verdict.CANCEL, new DecisionCommand.Actor.AgentActor(agentId), null);
    }
}
