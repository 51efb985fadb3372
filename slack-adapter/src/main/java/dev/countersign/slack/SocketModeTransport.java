package dev.countersign.slack;

import com.slack.api.bolt.App;
import com.slack.api.bolt.socket_mode.SocketModeApp;
import com.slack.api.socket_mode.SocketModeClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Socket Mode: Countersign opens a WebSocket to Slack ({@code apps.connections.open} with the app-level token)
 * and receives the same requests there, so no public URL is needed. The listeners are the same as in HTTP mode.
 * The connection is made in the background and retried while Slack cannot be reached, so that a Slack outage
 * never stops the service from starting; {@code apps.connections.open} is rate limited (tier 1), hence the
 * growing pause between attempts.
 */
final class SocketModeTransport implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SocketModeTransport.class);
    private static final Duration FIRST_RETRY = Duration.ofSeconds(5);
    private static final Duration MAX_RETRY = Duration.ofMinutes(5);

    /** Makes one (not yet started) connection; a failed one is closed before the next is made. */
    interface Connector {
        SocketModeApp create() throws Exception;
    }

    private final Connector connector;
    private final ScheduledExecutorService starter;
    private volatile SocketModeApp socket;
    private volatile boolean closed;

    SocketModeTransport(String appToken, App app) {
        this(() -> new SocketModeApp(appToken, SocketModeClient.Backend.JavaWebSocket, app));
    }

    SocketModeTransport(Connector connector) {
        this.connector = connector;
        this.starter = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "slack-socket-mode-start");
            t.setDaemon(true);
            return t;
        });
    }

    void start() {
        starter.execute(() -> connect(FIRST_RETRY));
    }

    boolean connected() {
        SocketModeApp s = socket;
        return s != null && !s.isClientStopped();
    }

    private void connect(Duration nextPause) {
        if (closed) return;
        SocketModeApp s = null;
        try {
            s = connector.create();
            s.startAsync();
            socket = s;
            log.info("Slack Socket Mode connected");
        } catch (Exception e) {
            // Its executor and any half-open client would otherwise live on, one set per attempt.
            if (s != null) {
                try {
                    s.close();
                } catch (Exception closing) {
                    log.debug("closing a failed Socket Mode connection: {}", closing.toString());
                }
            }
            log.warn("Slack Socket Mode could not connect ({}); trying again in {}", e.toString(), nextPause);
            Duration after = nextPause.multipliedBy(2).compareTo(MAX_RETRY) > 0 ? MAX_RETRY : nextPause.multipliedBy(2);
            if (!closed) starter.schedule(() -> connect(after), nextPause.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void close() {
        closed = true;
        starter.shutdownNow();
        SocketModeApp s = socket;
        if (s != null) {
            try {
                s.close();
            } catch (Exception e) {
                log.debug("closing Socket Mode: {}", e.toString());
            }
        }
    }
}
