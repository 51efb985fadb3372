package dev.countersign.server.web;

import dev.countersign.core.approval.Approval;
import io.javalin.http.sse.SseClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The open server-sent-event streams of signed-in browsers. An event names only the approval and its status;
 * a page that cares fetches the new state with its own session, so nothing is pushed that the page could not read.
 */
final class LiveEvents {
    private static final Logger log = LoggerFactory.getLogger(LiveEvents.class);
    private final Set<SseClient> clients = ConcurrentHashMap.newKeySet();

    void add(SseClient client) {
        clients.add(client);
        client.onClose(() -> clients.remove(client));
        // A comment first, so proxies and the browser see the stream open at once.
        client.sendComment("connected");
        client.keepAlive();
    }

    void changed(Approval a) {
        String data = "{\"id\":\"" + a.id() + "\",\"status\":\"" + a.status().wire() + "\",\"votes\":" + a.votes().size()
                + ",\"level\":" + a.escalationLevel() + "}";
        for (SseClient c : clients) {
            try {
                if (c.terminated()) {
                    clients.remove(c);
                } else {
                    c.sendEvent("approval", data);
                }
            } catch (RuntimeException e) {
                log.debug("dropping a live-update stream: {}", e.toString());
                clients.remove(c);
            }
        }
    }

    /** A comment every little while keeps idle connections open through proxies and shows dead ones. */
    void heartbeat() {
        for (SseClient c : clients) {
            try {
                if (c.terminated()) clients.remove(c);
                else c.sendComment("ping");
            } catch (RuntimeException e) {
                clients.remove(c);
            }
        }
    }

    int count() {
        return clients.size();
    }

    /**
     * Forgets the streams without closing them: the HTTP server closes their connections when it stops, and an
     * SSE client closed after that loops in Javalin's error handling.
     */
    void closeAll() {
        clients.clear();
    }
}
