package dev.countersign.server.cli;

import dev.countersign.client.Action;
import dev.countersign.client.ApprovalHandle;
import dev.countersign.client.Context;
import dev.countersign.client.Countersign;
import dev.countersign.client.CountersignException;
import dev.countersign.client.Outcome;
import dev.countersign.client.RiskLevel;
import dev.countersign.client.Status;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

/**
 * {@code gate}: a CI/CD step. Asks Countersign through the Java client (as any agent would, with
 * {@code COUNTERSIGN_URL} and {@code COUNTERSIGN_AGENT_KEY}), prints the approval's link, waits for the
 * decision, prints it and exits with it: 0 approved, 1 rejected, 2 expired or cancelled (or withdrawn because
 * the wait ended), 3 an error (bad arguments, unreachable service, bad key, refused request) with one line on
 * stderr. A pipeline cancel (SIGTERM) or Ctrl-C withdraws the pending request before the process ends.
 */
@Command(name = "gate", sortOptions = false,
        description = {"A CI/CD step: ask for approval, wait, and exit with the decision.",
                "Exit codes: 0 approved, 1 rejected, 2 expired or cancelled, 3 error.",
                "Reads COUNTERSIGN_URL (default http://localhost:8080) and COUNTERSIGN_AGENT_KEY."})
public final class GateCommand implements Callable<Integer> {
    public static final int APPROVED = 0;
    public static final int REJECTED = 1;
    public static final int EXPIRED_OR_CANCELLED = 2;
    public static final int ERROR = 3;
    private static final Pattern NUMBER = Pattern.compile("-?(0|[1-9]\\d{0,17})(\\.\\d+)?");

    @Option(names = "--type", required = true, paramLabel = "TYPE", description = "the action's dotted type the policy matches, e.g. deploy.production")
    String type;

    @Option(names = "--summary", required = true, paramLabel = "TEXT", description = "one line people read, e.g. \"Deploy v1.4.2\"")
    String summary;

    @Option(names = {"-p", "--param"}, paramLabel = "NAME=VALUE", description = "a param the rules can test (repeatable); numbers and true/false are sent as such, anything else as text")
    Map<String, String> params = new LinkedHashMap<>();

    @Option(names = "--reason", description = "why (shown to people)")
    String reason;

    @Option(names = "--impact", description = "what happens if approved (shown to people)")
    String impact;

    @Option(names = "--on-behalf-of", paramLabel = "PERSON", description = "the person the pipeline acts for (who then cannot approve it), e.g. the commit author's id")
    String onBehalfOf;

    @Option(names = "--run-id", description = "the pipeline run (shown to people, kept in the audit log)")
    String runId;

    @Option(names = "--link", paramLabel = "TITLE=URL", description = "a link shown with the request, e.g. the pipeline run (repeatable)")
    Map<String, String> links = new LinkedHashMap<>();

    @Option(names = "--risk-hint", paramLabel = "LEVEL", description = "low, medium or high: the policy may raise the risk to it, never lower it")
    String riskHint;

    @Option(names = "--timeout", paramLabel = "DURATION", description = "how long to wait for people, ISO-8601 (PT30M); the service expires the request then (capped by its rule)")
    String timeout;

    @Option(names = "--url", description = "the service (default: COUNTERSIGN_URL or http://localhost:8080)")
    String url;

    @Option(names = "--key", description = "agent key (default: COUNTERSIGN_AGENT_KEY)")
    String key;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Makes usage errors of {@code gate} exit {@value #ERROR} with one line, as its contract says (picocli's default is 2, which means "expired" here). */
    public static void install(CommandLine root) {
        CommandLine.IParameterExceptionHandler others = root.getParameterExceptionHandler();
        root.setParameterExceptionHandler((ex, args) -> {
            if (!(ex.getCommandLine().getCommand() instanceof GateCommand)) return others.handleParseException(ex, args);
            ex.getCommandLine().getErr().println("gate: " + ex.getMessage() + " (see: countersign gate --help)");
            return ERROR;
        });
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            return run(out, err);
        } catch (CountersignException | IllegalArgumentException e) {
            err.println("gate: " + e.getMessage());
            return ERROR;
        } catch (RuntimeException e) {
            err.println("gate: unexpected error: " + e);
            return ERROR;
        } finally {
            out.flush();
            err.flush();
        }
    }

    private int run(PrintWriter out, PrintWriter err) {
        Map<String, String> env = new LinkedHashMap<>(System.getenv());
        if (url != null) env.put("COUNTERSIGN_URL", url);
        if (key != null) env.put("COUNTERSIGN_AGENT_KEY", key);
        Countersign cs = Countersign.fromEnvironment(env);
        Action action = Action.of(type, summary, typedParams());
        Context context = context();

        ApprovalHandle handle = cs.requestApproval(action, context);
        Outcome first = handle.lastSeen();
        out.printf("Countersign approval %s (%s risk%s): %s%n", handle.id(), level(first),
                first.json().path("risk").path("rule").isTextual() ? ", rule " + first.json().path("risk").path("rule").asText() : "", handle.url());
        out.flush();
        if (!first.pending()) return report(first, out);

        // a pipeline cancel (SIGTERM) or Ctrl-C: withdraw the request, then end as "cancelled"
        AtomicBoolean settled = new AtomicBoolean();
        Countersign quick = Countersign.builder().url(cs.url()).agentKey(env.get("COUNTERSIGN_AGENT_KEY"))
                .requestTimeout(Duration.ofSeconds(5)).maxRetries(1).build();
        Thread withdraw = new Thread(() -> {
            if (settled.getAndSet(true)) return;
            try {
                Outcome o = quick.approval(handle.id()).cancel("the pipeline step was stopped");
                err.println("gate: stopped: " + (o.status() == Status.CANCELLED ? "withdrew " + handle.id() : handle.id() + " was already " + o.status().wire()));
            } catch (RuntimeException e) {
                err.println("gate: stopped, but could not withdraw " + handle.id() + ": " + e.getMessage());
            }
            err.flush();
            Runtime.getRuntime().halt(EXPIRED_OR_CANCELLED);
        }, "gate-withdraw");
        Runtime.getRuntime().addShutdownHook(withdraw);
        try {
            out.printf("waiting for a decision (expires %s; Ctrl-C withdraws the request)%n", first.expiresAt() == null ? "when its rule says" : first.expiresAt());
            out.flush();
            Outcome o = handle.await(untilServerDecides(first));
            if (o.pending()) {
                o = handle.cancel("the gate stopped waiting");
                if (o.status() == Status.CANCELLED) {
                    out.println("no decision in time: withdrew the request");
                    return EXPIRED_OR_CANCELLED;
                }
            }
            settled.set(true);
            return report(o, out);
        } finally {
            settled.set(true);
            try {
                Runtime.getRuntime().removeShutdownHook(withdraw);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already stopping: the hook runs (and does nothing, the gate has settled)
            }
        }
    }

    private static Duration untilServerDecides(Outcome o) {
        // the server always expires a pending request (its rule's expires_after, 24 h by default, capped by --timeout)
        Duration d = o.expiresAt() == null ? Duration.ofHours(24) : Duration.between(java.time.Instant.now(), o.expiresAt());
        return (d.isNegative() ? Duration.ZERO : d).plusSeconds(30);
    }

    private static int report(Outcome o, PrintWriter out) {
        String who = o.decidedBy() == null ? "" : " by " + o.decidedBy();
        String comment = o.comment() == null ? "" : ": " + o.comment();
        switch (o.status()) {
            case APPROVED -> {
                out.println("approved" + who + comment);
                return APPROVED;
            }
            case REJECTED -> {
                out.println("rejected" + who + comment);
                return REJECTED;
            }
            case EXPIRED -> {
                out.println("expired: nobody decided in time" + comment);
                return EXPIRED_OR_CANCELLED;
            }
            case CANCELLED -> {
                out.println("cancelled" + who + comment);
                return EXPIRED_OR_CANCELLED;
            }
            default -> {
                out.println("still pending: not approved");
                return EXPIRED_OR_CANCELLED;
            }
        }
    }

    private static String level(Outcome o) {
        RiskLevel r = o.riskLevel();
        return r == null ? "unknown" : r.wire();
    }

    private Map<String, Object> typedParams() {
        Map<String, Object> p = new LinkedHashMap<>();
        params.forEach((name, value) -> {
            if (name == null || name.isBlank()) throw new IllegalArgumentException("--param needs NAME=VALUE, got '=" + value + "'");
            if (value == null) p.put(name, null);
            else if (value.equals("true") || value.equals("false")) p.put(name, Boolean.parseBoolean(value));
            else if (NUMBER.matcher(value).matches()) p.put(name, value.contains(".") ? (Object) new java.math.BigDecimal(value) : (Object) Long.parseLong(value));
            else p.put(name, value);
        });
        return p;
    }

    private Context context() {
        Context.Builder b = Context.builder().reason(reason).impact(impact).onBehalfOf(onBehalfOf).runId(runId);
        links.forEach(b::link);
        if (riskHint != null) {
            try {
                b.riskHint(RiskLevel.valueOf(riskHint.trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--risk-hint must be low, medium or high, got '" + riskHint + "'");
            }
        }
        if (timeout != null) {
            try {
                b.timeout(Duration.parse(timeout.trim()));
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("--timeout must be an ISO-8601 duration such as PT30M or PT2H, got '" + timeout + "'");
            }
        }
        return b.build();
    }
}
