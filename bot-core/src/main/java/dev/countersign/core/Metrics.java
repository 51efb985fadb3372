package dev.countersign.core;

import dev.countersign.core.approval.Approval;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The figures operators watch: approvals by risk and outcome, what waits, how long people take, how late timers fire. */
final class Metrics {
    private final MeterRegistry registry;
    private final AtomicLong pending = new AtomicLong();
    private final Timer timerLateness;
    // Meters by tag values, looked up once: registering on every ask or decision costs a lookup on the hot path.
    private final Map<String, Counter> asked = new ConcurrentHashMap<>();
    private final Map<List<String>, Counter> decided = new ConcurrentHashMap<>();
    private final Map<List<String>, Timer> latency = new ConcurrentHashMap<>();

    Metrics(MeterRegistry registry) {
        this.registry = registry;
        Gauge.builder("countersign_approvals_pending", pending, AtomicLong::get)
                .description("approvals waiting for a decision (all nodes; refreshed every few seconds)")
                .register(registry);
        this.timerLateness = Timer.builder("countersign_timer_lateness")
                .description("how long after its due time an escalation, veto or expiry timer fired")
                .publishPercentileHistogram()
                .register(registry);
    }

    void asked(Approval a) {
        String risk = a.risk().level().wire();
        asked.computeIfAbsent(risk, r -> Counter.builder("countersign_approvals_asked").description("approvals asked, by assessed risk")
                .tag("risk", r).register(registry)).increment();
        if (a.decision() != null) decided(a);
    }

    void decided(Approval a) {
        String risk = a.risk().level().wire();
        String outcome = a.status().wire();
        String via = a.decision().by().channel().wire();
        decided.computeIfAbsent(List.of(risk, outcome, via), k -> Counter.builder("countersign_approvals_decided")
                .description("approvals decided, by risk and outcome")
                .tag("risk", risk).tag("outcome", outcome).tag("via", via).register(registry)).increment();
        latency.computeIfAbsent(List.of(risk, outcome), k -> Timer.builder("countersign_decision_latency").description("from the ask to the decision")
                .tag("risk", risk).tag("outcome", outcome)
                .publishPercentileHistogram()
                .register(registry))
                .record(Duration.between(a.createdAt(), a.decision().at()));
    }

    void timerLateness(Duration late) {
        timerLateness.record(late);
    }

    void pending(long count) {
        pending.set(count);
    }
}
