package dev.countersign.core.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.locks.LockSupport;

/**
 * Bounded waiting for things that happen on other threads (Quartz timers, channel lanes, the webhook
 * worker). An assertion is retried until it passes or the time is up; then its last failure is thrown.
 * Nothing here sleeps and then asserts once.
 */
public final class Polling {
    private static final long STEP_NANOS = Duration.ofMillis(20).toNanos();

    private Polling() {
    }

    /** Runs {@code assertion} until it stops throwing, for at most {@code max}. */
    public static void eventually(Duration max, Runnable assertion) {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            try {
                assertion.run();
                return;
            } catch (AssertionError | RuntimeException e) {
                if (System.nanoTime() - deadline >= 0) {
                    AssertionError timedOut = new AssertionError("still failing after " + max + ": " + e.getMessage(), e);
                    throw timedOut;
                }
            }
            LockSupport.parkNanos(STEP_NANOS);
        }
    }

    /** Returns once the wall clock has passed {@code instant} (bounded by the distance to it). */
    public static void until(Instant instant) {
        while (Instant.now().isBefore(instant)) {
            LockSupport.parkNanos(STEP_NANOS);
        }
    }
}
