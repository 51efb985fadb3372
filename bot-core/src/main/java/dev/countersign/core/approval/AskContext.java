package dev.countersign.core.approval;

import java.util.List;

/** Why the agent asks and what could happen: shown to the people who decide. */
public record AskContext(String reason, String impact, List<Link> links) {
    public static final AskContext EMPTY = new AskContext(null, null, List.of());

    public AskContext {
        links = links == null ? List.of() : List.copyOf(links);
    }

    public record Link(String title, String url) {}
}
