package dev.countersign.server.config;

import dev.countersign.core.CountersignException;

import java.util.List;

/** The configuration cannot be used. The message lists every problem with file, line and key. */
public class ConfigException extends CountersignException {
    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super("invalid_config", "the configuration has " + problems.size() + (problems.size() == 1 ? " problem" : " problems") + ":\n  - " + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
