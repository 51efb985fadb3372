package dev.countersign.langchain4j;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.countersign.client.Action;
import dev.countersign.client.ApprovalHandle;
import dev.countersign.client.Context;
import dev.countersign.client.Countersign;
import dev.countersign.client.Outcome;
import dev.countersign.client.Status;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.agent.tool.ToolSpecifications;
import dev.langchain4j.invocation.InvocationContext;
import dev.langchain4j.service.tool.DefaultToolExecutor;
import dev.langchain4j.service.tool.ToolExecutionResult;
import dev.langchain4j.service.tool.ToolExecutor;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * Guards the tools of a LangChain4j AI service with Countersign: before a tool runs, the call is asked as action
 * {@code tool.<name>} with the call's arguments as params; it runs only once approved (at once for low risk). A
 * refusal, an expiry, a cancellation or an approval that cannot be confirmed is not an exception: the tool's result
 * becomes a sentence the model reads ({@code rejected by alice: use the sandbox account}) so it can adapt.
 *
 * <pre>{@code
 * Countersign countersign = Countersign.fromEnvironment();
 * Assistant assistant = AiServices.builder(Assistant.class)
 *         .chatModel(model)
 *         .tools(CountersignToolGuard.builder(countersign).build().guard(new BankTools()))
 *         .build();
 * }</pre>
 */
public final class CountersignToolGuard {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Countersign countersign;
    private final Duration maxWait;
    private final Set<String> secretParams;
    private final Function<ToolExecutionRequest, Context> context;

    private CountersignToolGuard(Builder b) {
        this.countersign = b.countersign;
        this.maxWait = b.maxWait;
        this.secretParams = Set.copyOf(b.secretParams);
        this.context = b.context;
    }

    public static Builder builder(Countersign countersign) {
        return new Builder(countersign);
    }

    /** Options: how long a call waits for a decision, params to mask, the context of each ask. */
    public static final class Builder {
        private final Countersign countersign;
        private Duration maxWait = Duration.ofMinutes(15);
        private Set<String> secretParams = Set.of();
        private Function<ToolExecutionRequest, Context> context =
                r -> Context.builder().reason("the AI agent wants to call its tool '" + r.name() + "'").build();

        private Builder(Countersign countersign) {
            this.countersign = Objects.requireNonNull(countersign, "countersign");
        }

        /** How long a tool call waits for a decision (default 15 min); then the ask is withdrawn and the tool does not run. */
        public Builder maxWait(Duration maxWait) {
            this.maxWait = Objects.requireNonNull(maxWait);
            return this;
        }

        /** Argument names whose values people never see (masked in the ask); the tool still gets them. */
        public Builder secretParams(String... names) {
            this.secretParams = Set.of(names);
            return this;
        }

        /** The context (reason, run id, links, risk hint…) sent with the ask for each call. */
        public Builder context(Function<ToolExecutionRequest, Context> context) {
            this.context = Objects.requireNonNull(context);
            return this;
        }

        public CountersignToolGuard build() {
            return new CountersignToolGuard(this);
        }
    }

    /**
     * The {@link Tool @Tool} methods of these objects, each behind Countersign: pass the map to
     * {@code AiServices.builder(..).tools(map)} instead of the objects.
     */
    public Map<ToolSpecification, ToolExecutor> guard(Object... toolObjects) {
        Map<ToolSpecification, ToolExecutor> tools = new LinkedHashMap<>();
        for (Object o : toolObjects) {
            for (Method m : o.getClass().getDeclaredMethods()) {
                if (!m.isAnnotationPresent(Tool.class)) continue;
                ToolSpecification spec = ToolSpecifications.toolSpecificationFrom(m);
                tools.put(spec, guard(spec, new DefaultToolExecutor(o, m)));
            }
        }
        return tools;
    }

    /** Any tool executor behind Countersign (for tools built by hand or from a {@code ToolProvider}). */
    public Map<ToolSpecification, ToolExecutor> guard(Map<ToolSpecification, ToolExecutor> tools) {
        Map<ToolSpecification, ToolExecutor> out = new LinkedHashMap<>();
        tools.forEach((spec, executor) -> out.put(spec, guard(spec, executor)));
        return out;
    }

    /** One tool executor behind Countersign. */
    public ToolExecutor guard(ToolSpecification spec, ToolExecutor delegate) {
        return new GuardedExecutor(spec.name(), delegate);
    }

    private final class GuardedExecutor implements ToolExecutor {
        private final String name;
        private final ToolExecutor delegate;

        GuardedExecutor(String name, ToolExecutor delegate) {
            this.name = name;
            this.delegate = delegate;
        }

        @Override
        public String execute(ToolExecutionRequest request, Object memoryId) {
            String refusal = refusal(request);
            return refusal != null ? refusal : delegate.execute(request, memoryId);
        }

        @Override
        public ToolExecutionResult executeWithContext(ToolExecutionRequest request, InvocationContext invocationContext) {
            String refusal = refusal(request);
            if (refusal != null) return ToolExecutionResult.builder().isError(true).resultText(refusal).build();
            return delegate.executeWithContext(request, invocationContext);
        }

        /** Null when approved; else the text the model reads instead of the tool's result. */
        private String refusal(ToolExecutionRequest request) {
            Map<String, Object> params = new LinkedHashMap<>(arguments(request.arguments()));
            params.replaceAll((k, v) -> secretParams.contains(k) ? Action.MASK : v); // people never see these
            Action action = Action.of("tool." + typePart(name), summary(name, params), params);
            ApprovalHandle handle;
            try {
                handle = countersign.requestApproval(action, context.apply(request));
            } catch (RuntimeException e) {
                return "not run: the approval of " + name + " could not be asked (" + e.getMessage() + ")";
            }
            Outcome outcome;
            try {
                outcome = handle.await(maxWait);
            } catch (RuntimeException e) {
                cancelQuietly(handle);
                return "not run: the approval of " + name + " could not be confirmed (" + e.getMessage() + ")";
            }
            if (outcome.status() == Status.PENDING) {
                Outcome after = cancelQuietly(handle);
                if (after != null && after.status() == Status.APPROVED) return null;
                return "not run: nobody decided on " + name + " within " + maxWait.toMinutes() + " min; the request was withdrawn";
            }
            return outcome.status() == Status.APPROVED ? null : text(outcome);
        }
    }

    /** {@code rejected by alice: use the sandbox account}, {@code expired: nobody decided in time}, … */
    static String text(Outcome o) {
        String by = o.decidedBy();
        String comment = o.comment();
        String why = comment == null || comment.isBlank() ? "" : ": " + comment;
        return switch (o.status()) {
            case REJECTED -> "rejected by " + (by == null ? "an approver" : by) + why;
            case EXPIRED -> "expired: nobody decided in time" + why;
            case CANCELLED -> "cancelled" + (by == null ? "" : " by " + by) + why;
            default -> "not approved (" + o.status() + ")" + why;
        };
    }

    private static Outcome cancelQuietly(ApprovalHandle handle) {
        try {
            return handle.cancel("the tool call was abandoned");
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static Map<String, Object> arguments(String json) {
        if (json == null || json.isBlank()) return Map.of();
        try {
            Map<String, Object> m = JSON.readValue(json, new TypeReference<LinkedHashMap<String, Object>>() {
            });
            return m == null ? Map.of() : m;
        } catch (Exception e) {
            return Map.of("arguments", json); // not an object: shown as it came
        }
    }

    private static String typePart(String name) {
        StringBuilder b = new StringBuilder();
        for (char c : name.toCharArray()) b.append(c < 128 && (Character.isLetterOrDigit(c) || c == '_' || c == '-') ? c : '_');
        return b.toString();
    }

    private static String summary(String tool, Map<String, Object> params) {
        StringBuilder b = new StringBuilder(tool).append('(');
        params.forEach((k, v) -> {
            if (b.charAt(b.length() - 1) != '(') b.append(", ");
            String s = v instanceof String str ? "\"" + str + "\"" : String.valueOf(v);
            b.append(k).append('=').append(s.length() > 80 ? s.substring(0, 79) + "…" : s);
        });
        String s = b.append(')').toString().replaceAll("[\\r\\n\\t]+", " ");
        return s.length() > 300 ? s.substring(0, 299) + "…" : s;
    }
}
