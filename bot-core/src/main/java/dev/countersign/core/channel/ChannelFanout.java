package dev.countersign.core.channel;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Person;
import dev.countersign.core.store.ApprovalStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Keeps every channel in step with every approval. Calls run off the caller's thread, on one of a few
 * single-thread lanes chosen by approval id: the calls for one approval keep their order (publish before
 * update), different approvals proceed in parallel, and a slow or failing channel delays only its lane.
 */
public final class ChannelFanout implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChannelFanout.class);

    private final List<Channel> channels;
    private final ApprovalStore store;
    private final Clock clock;
    private final ExecutorService[] lanes;

    public ChannelFanout(List<Channel> channels, ApprovalStore store, Clock clock, int laneCount) {
        this.channels = List.copyOf(channels);
        this.store = store;
        this.clock = clock;
        this.lanes = new ExecutorService[channels.isEmpty() ? 0 : laneCount];
        for (int i = 0; i < lanes.length; i++) {
            int n = i;
            lanes[i] = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "channel-lane-" + n);
                t.setDaemon(true);
                return t;
            });
        }
    }

    public List<Channel> channels() {
        return channels;
    }

    public void published(Approval a) {
        each(a, "publish", (ch, posts) -> ch.publish(a, posts));
    }

    public void changed(Approval a) {
        each(a, "update", (ch, posts) -> ch.update(a, posts));
    }

    public void escalated(Approval a, List<Person> newlyEligible) {
        each(a, "escalation", (ch, posts) -> {
            ch.update(a, posts);
            if (!newlyEligible.isEmpty()) ch.notifyEscalation(a, newlyEligible, posts);
        });
    }

    private interface Call {
        void run(Channel channel, PostLog posts);
    }

    private void each(Approval a, String what, Call call) {
        if (channels.isEmpty()) return;
        lanes[Math.floorMod(a.id().hashCode(), lanes.length)].execute(() -> {
            for (Channel ch : channels) {
                try {
                    call.run(ch, postLog(a.id(), ch.name()));
                } catch (RuntimeException e) {
                    log.warn("channel {} failed to {} approval {}: {}", ch.name(), what, a.id(), e.toString());
                }
            }
        });
    }

    private PostLog postLog(String approvalId, String channel) {
        return new PostLog() {
            @Override
            public void remember(String ref) {
                store.recordChannelPost(approvalId, channel, ref, clock.instant());
            }

            @Override
            public List<String> refs() {
                return store.channelPosts(approvalId, channel);
            }
        };
    }

    /** Waits for the work already handed over (at most a few seconds), then stops. */
    @Override
    public void close() {
        for (ExecutorService lane : lanes) lane.shutdown();
        for (ExecutorService lane : lanes) {
            try {
                lane.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        channels.forEach(Channel::close);
    }
}
