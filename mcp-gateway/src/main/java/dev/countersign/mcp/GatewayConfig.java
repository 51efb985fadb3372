package dev.countersign.mcp;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What the gateway fronts and how it asks.
 *
 * @param name            the downstream server's name, the middle of the action type {@code mcp.<name>.<tool>}
 * @param command         the downstream server's command line (started as a child process)
 * @param secretNames     argument names whose values are masked in what Countersign stores and shows (any depth,
 *                        case-insensitive); the downstream still gets the real values
 * @param approvalTimeout how long a call waits for a decision (sent as the ask's {@code timeout}, which the policy
 *                        may shorten); then the ask is withdrawn and the call fails with a tool error
 * @param callTimeout     how long a forwarded call may take at the downstream server
 * @param childEnv        extra environment of the child (it inherits the gateway's, minus COUNTERSIGN_AGENT_KEY)
 */
public record GatewayConfig(String name, List<String> command, Set<String> secretNames, Duration approvalTimeout,
                            Duration callTimeout, Map<String, String> childEnv) {
    public static final String VERSION = "0.1.0";
    public static final Duration DEFAULT_APPROVAL_TIMEOUT = Duration.ofMinutes(15);
    public static final Duration DEFAULT_CALL_TIMEOUT = Duration.ofMinutes(5);

    public GatewayConfig {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) throw new IllegalArgumentException("the server name must not be blank");
        if (command == null || command.isEmpty()) throw new IllegalArgumentException("the downstream command is missing (after --)");
        command = List.copyOf(command);
        secretNames = secretNames == null ? Set.of()
                : secretNames.stream().map(s -> s.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        approvalTimeout = approvalTimeout == null ? DEFAULT_APPROVAL_TIMEOUT : approvalTimeout;
        callTimeout = callTimeout == null ? DEFAULT_CALL_TIMEOUT : callTimeout;
        childEnv = childEnv == null ? Map.of() : Map.copyOf(childEnv);
        if (approvalTimeout.isNegative() || approvalTimeout.isZero()) throw new IllegalArgumentException("the approval timeout must be positive");
        if (callTimeout.isNegative() || callTimeout.isZero()) throw new IllegalArgumentException("the call timeout must be positive");
    }

    /** Defaults for everything but the name and the command. */
    public static GatewayConfig of(String name, List<String> command) {
        return new GatewayConfig(name, command, Set.of(), null, null, Map.of());
    }

    public GatewayConfig withSecretNames(Set<String> names) {
        return new GatewayConfig(name, command, names, approvalTimeout, callTimeout, childEnv);
    }

    public GatewayConfig withApprovalTimeout(Duration timeout) {
        return new GatewayConfig(name, command, secretNames, timeout, callTimeout, childEnv);
    }

    public GatewayConfig withCallTimeout(Duration timeout) {
        return new GatewayConfig(name, command, secretNames, approvalTimeout, timeout, childEnv);
    }
}
