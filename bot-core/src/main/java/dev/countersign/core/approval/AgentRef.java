package dev.countersign.core.approval;

import java.util.Objects;

/** The asking agent (authenticated id) and the run it reports, if any. */
public record AgentRef(String id, String runId) {
    public AgentRef {
        Objects.requireNonNull(id, "id");
    }
}
