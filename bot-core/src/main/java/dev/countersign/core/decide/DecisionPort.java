package dev.countersign.core.decide;

/** The one way in for decisions: channels, the operator API and the timers all call this. */
@FunctionalInterface
public interface DecisionPort {
    DecisionResult decide(DecisionCommand command);
}
