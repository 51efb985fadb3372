package dev.countersign.core.policy;

import dev.countersign.core.CountersignException;

/** A rule that cannot be used: its condition does not compile or is not a boolean. Stops the start. */
public class PolicyException extends CountersignException {
    public PolicyException(String message) {
        super("invalid_policy", message);
    }
}
