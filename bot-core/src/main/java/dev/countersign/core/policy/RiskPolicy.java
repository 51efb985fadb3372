package dev.countersign.core.policy;

import dev.cel.bundle.Cel;
import dev.cel.bundle.CelFactory;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationException;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.countersign.core.approval.AgentRef;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.Risk;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.ask.AskRequest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Ordered risk rules, first match wins, conditions in CEL over {@code action}, {@code params},
 * {@code agent} and {@code context}. Compiled once; evaluated per ask.
 *
 * <p>Fail closed: a condition that errors on a request (a missing or mistyped param the agent controls)
 * makes the request high risk for the admins; it never falls through to a later, lower rule, or an agent
 * could dodge a rule by sending {@code "amount": "50000"}. No rule matching is high risk too.
 */
public final class RiskPolicy {
    /** How long an approval waits when its rule names no expiry: long enough for a person, never forever. */
    public static final Duration DEFAULT_EXPIRY = Duration.ofHours(24);

    private static final Cel CEL = CelFactory.standardCelBuilder()
            .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
            .addVar("action", MapType.create(SimpleType.STRING, SimpleType.DYN))
            .addVar("params", MapType.create(SimpleType.STRING, SimpleType.DYN))
            .addVar("agent", MapType.create(SimpleType.STRING, SimpleType.DYN))
            .addVar("context", MapType.create(SimpleType.STRING, SimpleType.DYN))
            .setOptions(CelOptions.current().enableHeterogeneousNumericComparisons(true).build())
            .build();

    private record CompiledRule(RuleSpec spec, CelRuntime.Program program, List<Person> approvers, List<Plan.Step> steps) {}

    private final List<CompiledRule> rules;
    private final Directory directory;

    public RiskPolicy(List<RuleSpec> specs, Directory directory) {
        this.directory = directory;
        List<CompiledRule> compiled = new ArrayList<>();
        for (RuleSpec spec : specs) {
            compiled.add(compile(spec, directory));
        }
        this.rules = List.copyOf(compiled);
    }

    /** Checks a condition alone; the config loader uses it to report the rule's line. Null when it is fine. */
    public static String checkCondition(String expression) {
        try {
            CelAbstractSyntaxTree ast = CEL.compile(expression).getAst();
            if (!ast.getResultType().equals(SimpleType.BOOL) && !ast.getResultType().equals(SimpleType.DYN)) {
                return "the condition must be a boolean, but it is " + ast.getResultType().name();
            }
            return null;
        } catch (CelValidationException e) {
            return e.getMessage();
        }
    }

    private static CompiledRule compile(RuleSpec spec, Directory directory) {
        CelRuntime.Program program = null;
        if (spec.when() != null && !spec.when().isBlank()) {
            String problem = checkCondition(spec.when());
            if (problem != null) {
                throw new PolicyException("rule '" + spec.name() + "' at " + spec.where() + ": " + problem);
            }
            try {
                program = CEL.createProgram(CEL.compile(spec.when()).getAst());
            } catch (CelValidationException | CelEvaluationException e) {
                throw new PolicyException("rule '" + spec.name() + "' at " + spec.where() + ": " + e.getMessage());
            }
        }
        List<Plan.Step> steps = spec.escalation().stream()
                .map(s -> new Plan.Step(s.after(), directory.resolve(s.people())))
                .toList();
        return new CompiledRule(spec, program, directory.resolve(spec.approvers()), steps);
    }

    public Assessment assess(AskRequest ask, AgentRef agent) {
        Map<String, Object> vars = variables(ask, agent);
        for (CompiledRule rule : rules) {
            Object result;
            try {
                result = rule.program() == null ? Boolean.TRUE : rule.program().eval(vars);
            } catch (CelEvaluationException | RuntimeException e) {
                return failClosed(rule.spec(), "its condition could not be evaluated on this request (" + firstLine(e.getMessage()) + ")", ask);
            }
            if (!(result instanceof Boolean)) {
                return failClosed(rule.spec(), "its condition returned " + result + " instead of true or false", ask);
            }
            if ((Boolean) result) {
                return matched(rule, ask);
            }
        }
        return unmatched(ask);
    }

    private Assessment matched(CompiledRule rule, AskRequest ask) {
        RuleSpec spec = rule.spec();
        RiskLevel level = spec.risk().atLeast(ask.riskHint());
        StringBuilder why = new StringBuilder("rule '").append(spec.name()).append("' matched");
        if (spec.when() != null && !spec.when().isBlank()) why.append(": ").append(spec.when());
        why.append(" → ").append(spec.risk().wire());
        appendHint(why, spec.risk(), level, ask);
        List<Person> approvers = rule.approvers().isEmpty() && level != RiskLevel.LOW ? directory.admins() : rule.approvers();
        Duration veto = level == RiskLevel.MEDIUM ? spec.vetoWindow() : null;
        Plan plan = new Plan(approvers, rule.steps(), Math.max(1, spec.quorum()), veto, targets(spec));
        Duration expiry = cap(spec.expiresAfter() == null ? DEFAULT_EXPIRY : spec.expiresAfter(), ask);
        return new Assessment(new Risk(level, why.toString(), spec.name()), plan, expiry);
    }

    private Assessment unmatched(AskRequest ask) {
        StringBuilder why = new StringBuilder("no rule matched action type '").append(ask.action().type()).append("' → high (the default)");
        appendHint(why, RiskLevel.HIGH, RiskLevel.HIGH, ask);
        Plan plan = new Plan(directory.admins(), List.of(), 1, null, Map.of());
        return new Assessment(new Risk(RiskLevel.HIGH, why.toString(), null), plan, cap(DEFAULT_EXPIRY, ask));
    }

    private Assessment failClosed(RuleSpec spec, String problem, AskRequest ask) {
        String why = "rule '" + spec.name() + "': " + problem + " → high (fail closed), decided by the admins";
        Plan plan = new Plan(directory.admins(), List.of(), 1, null, targets(spec));
        Duration expiry = cap(spec.expiresAfter() == null ? DEFAULT_EXPIRY : spec.expiresAfter(), ask);
        return new Assessment(new Risk(RiskLevel.HIGH, why, spec.name()), plan, expiry);
    }

    private static void appendHint(StringBuilder why, RiskLevel ruled, RiskLevel finalLevel, AskRequest ask) {
        if (ask.riskHint() == null) return;
        if (finalLevel != ruled) {
            why.append("; raised to ").append(finalLevel.wire()).append(" by the agent's hint");
            if (ask.riskHintExplanation() != null) why.append(" (").append(ask.riskHintExplanation()).append(')');
        } else if (ask.riskHint().compareTo(ruled) < 0) {
            why.append("; the agent's hint '").append(ask.riskHint().wire()).append("' cannot lower it");
        }
    }

    private static Map<String, String> targets(RuleSpec spec) {
        Map<String, String> targets = new HashMap<>();
        if (spec.channel() != null && !spec.channel().isBlank()) targets.put("slack", spec.channel());
        if (spec.teamsConversation() != null && !spec.teamsConversation().isBlank()) targets.put("teams", spec.teamsConversation());
        return targets;
    }

    private static Duration cap(Duration ruleExpiry, AskRequest ask) {
        return ask.timeout() != null && ask.timeout().compareTo(ruleExpiry) < 0 ? ask.timeout() : ruleExpiry;
    }

    private static String firstLine(String s) {
        if (s == null) return "unknown error";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static Map<String, Object> variables(AskRequest ask, AgentRef agent) {
        Map<String, Object> action = new HashMap<>();
        action.put("type", ask.action().type());
        action.put("summary", ask.action().summary());
        action.put("params", ask.action().params());
        Map<String, Object> agentVar = new HashMap<>();
        agentVar.put("id", agent.id());
        if (agent.runId() != null) agentVar.put("run_id", agent.runId());
        Map<String, Object> context = new HashMap<>();
        if (ask.context().reason() != null) context.put("reason", ask.context().reason());
        if (ask.context().impact() != null) context.put("impact", ask.context().impact());
        if (ask.requestedFor() != null) context.put("requested_for", ask.requestedFor());
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("action", action);
        vars.put("params", ask.action().params());
        vars.put("agent", agentVar);
        vars.put("context", context);
        return vars;
    }
}
