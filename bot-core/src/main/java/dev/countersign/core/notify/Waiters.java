package dev.countersign.core.notify;

import dev.countersign.core.approval.Approval;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Agents waiting for a decision (long-poll). A waiter is a future, not a thread: a thousand waiting agents
 * cost a thousand small objects and one timer thread. A decision on this node completes its waiters at once
 * with the decided approval; when the wait runs out, the waiter reads the store again, so a decision made
 * on another node is seen then at the latest.
 */
public final class Waiters implements AutoCloseable {
    private final Map<String, Set<CompletableFuture<Approval>>> waiting = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;
    private final Executor reloads;
    private final Function<String, Optional<Approval>> load;

    /** @param load reads an approval from the store; {@code reloads} runs those reads off the timer thread */
    public Waiters(Function<String, Optional<Approval>> load, Executor reloads) {
        this.load = load;
        this.reloads = reloads;
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread th = new Thread(r, "long-poll-timer");
            th.setDaemon(true);
            return th;
        });
        t.setRemoveOnCancelPolicy(true);
        this.timer = t;
    }

    /**
     * Completes with the approval once it is no longer pending, or with its current state after {@code max}.
     * Completes with empty if it does not exist.
     */
    public CompletableFuture<Optional<Approval>> await(String id, Duration max) {
        CompletableFuture<Approval> decided = new CompletableFuture<>();
        // Register before reading, so a decision committed in between still wakes us.
        waiting.computeIfAbsent(id, k -> ConcurrentHashMap.newKeySet()).add(decided);
        Optional<Approval> now = load.apply(id);
        if (now.isEmpty() || !now.get().isPending()) {
            forget(id, decided);
            return CompletableFuture.completedFuture(now);
        }
        CompletableFuture<Optional<Approval>> result = new CompletableFuture<>();
        var timeout = timer.schedule(() -> {
            if (forget(id, decided)) {
                reloads.execute(() -> {
                    try {
                        result.complete(load.apply(id));
                    } catch (RuntimeException e) {
                        result.completeExceptionally(e);
                    }
                });
            }
        }, max.toMillis(), TimeUnit.MILLISECONDS);
        decided.thenAccept(a -> {
            timeout.cancel(false);
            result.complete(Optional.of(a));
        });
        return result;
    }

    /** Wakes every waiter of this approval on this node. */
    public void wake(Approval decided) {
        Set<CompletableFuture<Approval>> set = waiting.remove(decided.id());
        if (set != null) set.forEach(f -> f.complete(decided));
    }

    /**
     * Answers every waiter on this node now with the approval as it stands (still pending), as when its wait runs
     * out: for a shutdown, so that waiting agents get a clean answer and ask again elsewhere or later.
     */
    public void releaseAll() {
        for (String id : List.copyOf(waiting.keySet())) {
            Set<CompletableFuture<Approval>> set = waiting.remove(id);
            if (set == null) continue;
            try {
                Optional<Approval> now = load.apply(id);
                set.forEach(f -> now.ifPresentOrElse(f::complete, () -> f.cancel(false)));
            } catch (RuntimeException e) {
                set.forEach(f -> f.completeExceptionally(e));
            }
        }
    }

    public int count() {
        return waiting.values().stream().mapToInt(Set::size).sum();
    }

    private boolean forget(String id, CompletableFuture<Approval> f) {
        boolean[] removed = {false};
        waiting.computeIfPresent(id, (k, set) -> {
            removed[0] = set.remove(f);
            return set.isEmpty() ? null : set;
        });
        return removed[0];
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
