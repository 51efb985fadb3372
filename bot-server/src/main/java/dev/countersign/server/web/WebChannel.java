package dev.countersign.server.web;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.channel.Channel;
import dev.countersign.core.channel.PostLog;
import dev.countersign.core.decide.DecisionPort;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The web pages as a channel: the core tells it of every new and changed approval, and it pushes a live
 * update to every open page. Decisions made on the pages go back through the {@link DecisionPort} it was built with.
 */
public final class WebChannel implements Channel {
    private final DecisionPort decisions;
    private final LiveEvents live = new LiveEvents();
    private final ScheduledExecutorService heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "web-live-heartbeat");
        t.setDaemon(true);
        return t;
    });

    public WebChannel(DecisionPort decisions) {
        this.decisions = decisions;
        heartbeat.scheduleWithFixedDelay(live::heartbeat, 20, 20, TimeUnit.SECONDS);
    }

    @Override
    public String name() {
        return "web";
    }

    @Override
    public void publish(Approval approval, PostLog posts) {
        live.changed(approval);
    }

    @Override
    public void update(Approval approval, PostLog posts) {
        live.changed(approval);
    }

    @Override
    public void close() {
        heartbeat.shutdownNow();
        live.closeAll();
    }

    DecisionPort decisions() {
        return decisions;
    }

    LiveEvents live() {
        return live;
    }
}
