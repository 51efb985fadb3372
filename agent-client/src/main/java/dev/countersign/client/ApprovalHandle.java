package dev.countersign.client;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One approval asked by this agent: its id, the page where people decide it, and ways to wait for or withdraw
 * it. Thread-safe.
 */
public final class ApprovalHandle {
    /** Waits longer than this are cut to it (about 100 days), so deadline arithmetic cannot overflow. */
    private static final Duration LONGEST_WAIT = Duration.ofDays(100);

    private final Countersign cs;
    private final String id;
    private volatile Outcome last;

    ApprovalHandle(Countersign cs, Outcome first) {
        this.cs = cs;
        this.id = first.id();
        this.last = first;
    }

    /** The approval's id ({@code apr_…}). */
    public String id() {
        return id;
    }

    /** The web page where people see and decide it. */
    public String url() {
        return cs.webUrl(last);
    }

    /** The approval as last seen (no request). */
    public Outcome lastSeen() {
        return last;
    }

    /** Reads the approval now ({@code GET}) and returns its status. */
    public Status status() {
        return refresh().status();
    }

    /** Reads the approval now and returns it. */
    public Outcome refresh() {
        if (!last.pending()) return last; // a decision is final
        return seen(Outcome.of(cs.send(cs.get(Countersign.path(id), 0).timeout(cs.requestTimeout()), cs.maxRetries())));
    }

    /**
     * Waits up to {@code max} for a decision and returns the approval: decided, or still {@link Status#PENDING}
     * when {@code max} passed. Long-polls in rounds of at most 60 s; a dropped connection, a 5xx or a restarting
     * server does not end the wait (it retries with backoff on the same id until the deadline). A refusal
     * (bad key, the approval not found) ends it with a {@link CountersignException}.
     */
    public Outcome await(Duration max) {
        CompletableFuture<Outcome> f = awaitAsync(max);
        try {
            return f.get();
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new CountersignException(0, "interrupted", "interrupted while waiting for approval " + id, null, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new CountersignException(0, "unexpected", "waiting for approval " + id + " failed: " + e.getCause(), null, e.getCause());
        }
    }

    /**
     * {@link #await} without holding a thread while waiting: the future completes with the approval (decided, or
     * pending when {@code max} passed) or with a {@link CountersignException}. Cancelling the future stops the wait
     * (the request itself stays pending; {@link #cancel()} withdraws it).
     */
    public CompletableFuture<Outcome> awaitAsync(Duration max) {
        CompletableFuture<Outcome> result = new CompletableFuture<>();
        if (!last.pending()) {
            result.complete(last);
            return result;
        }
        Duration d = max == null || max.isNegative() ? Duration.ZERO : (max.compareTo(LONGEST_WAIT) > 0 ? LONGEST_WAIT : max);
        round(result, System.nanoTime() + d.toNanos(), 0);
        return result;
    }

    private void round(CompletableFuture<Outcome> result, long deadline, int failures) {
        if (result.isDone()) return;
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0) {
            result.complete(last);
            return;
        }
        int wait = (int) Math.max(1, Math.min(Countersign.MAX_WAIT_SECONDS, TimeUnit.NANOSECONDS.toSeconds(remaining + 999_999_999L)));
        HttpRequest request = cs.get(Countersign.path(id), wait).timeout(Duration.ofSeconds(wait + 30L)).build();
        CompletableFuture<HttpResponse<String>> call = cs.http().sendAsync(request, HttpResponse.BodyHandlers.ofString());
        result.whenComplete((r, e) -> call.cancel(true)); // a cancelled wait drops its request
        call.whenComplete((resp, error) -> {
            if (result.isDone()) return;
            Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            try {
                if (e == null && resp.statusCode() < 500) {
                    JsonNode json = cs.answer(request, resp);
                    Outcome o = seen(Outcome.of(json));
                    if (!o.pending()) {
                        result.complete(o);
                    } else {
                        round(result, deadline, 0);
                    }
                    return;
                }
                if (e != null && !(e instanceof IOException)) {
                    result.completeExceptionally(e instanceof RuntimeException ? e : new CountersignException(0, "unexpected", e.toString(), null, e));
                    return;
                }
            } catch (RuntimeException refused) {
                result.completeExceptionally(refused);
                return;
            }
            // a 5xx or a connection error: the server may be restarting; keep waiting on the same id
            long delay = Math.min(cs.backoff(failures).toNanos(), Math.max(0, deadline - System.nanoTime()));
            CompletableFuture.delayedExecutor(delay, TimeUnit.NANOSECONDS).execute(() -> round(result, deadline, failures + 1));
        });
    }

    /** Withdraws the request ({@code POST …/cancel}) and returns the approval: cancelled, or as decided if someone decided first. */
    public Outcome cancel() {
        return cancel(null);
    }

    /** {@link #cancel()} with a reason people see. */
    public Outcome cancel(String reason) {
        if (!last.pending()) return last;
        byte[] body = reason == null ? "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8)
                : Countersign.MAPPER.createObjectNode().put("reason", reason).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try {
            return seen(Outcome.of(cs.send(cs.post(Countersign.path(id) + "/cancel", body).timeout(cs.requestTimeout()), cs.maxRetries())));
        } catch (CountersignException e) {
            if (e.httpStatus() == 409) return refresh(); // already decided: who won
            throw e;
        }
    }

    private Outcome seen(Outcome o) {
        last = o;
        return o;
    }

    @Override
    public String toString() {
        return last.toString();
    }
}
