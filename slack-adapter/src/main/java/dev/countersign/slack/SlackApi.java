package dev.countersign.slack;

import com.slack.api.Slack;
import com.slack.api.methods.MethodsClient;
import com.slack.api.methods.SlackApiException;
import com.slack.api.methods.SlackApiTextResponse;
import com.slack.api.methods.response.chat.ChatPostMessageResponse;
import com.slack.api.methods.response.conversations.ConversationsOpenResponse;
import com.slack.api.methods.response.users.UsersInfoResponse;
import com.slack.api.methods.response.users.UsersLookupByEmailResponse;
import com.slack.api.webhook.WebhookResponse;
import dev.countersign.core.channel.ChannelException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

/**
 * The one place Countersign calls Slack's Web API. Each call is classified:
 * <ul>
 *   <li>ok → the response;</li>
 *   <li>HTTP 429 → {@link ChannelException} carrying {@code Retry-After}: the core's durable queue waits that long,
 *       no thread sleeps on it;</li>
 *   <li>a transient failure (network, 5xx, {@code internal_error}, …) → tried again here up to {@link #ATTEMPTS}
 *       times with a short pause, then a {@link ChannelException} so the queue tries later;</li>
 *   <li>any other {@code ok:false} → {@link SlackError} with Slack's error code, logged with the method and the
 *       approval id (never a token).</li>
 * </ul>
 * {@code chat.postMessage} is never tried again here: a timeout or a 5xx after Slack accepted the post would post it
 * twice. Its failures go straight to the core's queue. A "quick" instance ({@link #quick}) tries every call once,
 * for the listeners, which must answer Slack within 3 s.
 */
public final class SlackApi {
    private static final Logger log = LoggerFactory.getLogger(SlackApi.class);
    static final int ATTEMPTS = 3;
    private static final List<Duration> PAUSES = List.of(Duration.ofMillis(200), Duration.ofMillis(600));
    private static final Set<String> TRANSIENT = Set.of("internal_error", "fatal_error", "service_unavailable", "request_timeout",
            "ratelimited", "team_added_to_org");

    private final Slack slack;
    private final MethodsClient methods;
    private final String responseUrlPrefix;
    private final int maxAttempts;

    /**
     * @param responseUrlPrefix the only prefix a {@code response_url} may have ({@link SlackSettings#responseUrlPrefix})
     */
    public SlackApi(Slack slack, String botToken, String responseUrlPrefix) {
        this(slack, botToken, responseUrlPrefix, ATTEMPTS);
    }

    private SlackApi(Slack slack, String botToken, String responseUrlPrefix, int maxAttempts) {
        this.slack = slack;
        this.methods = slack.methods(botToken);
        this.responseUrlPrefix = responseUrlPrefix;
        this.maxAttempts = maxAttempts;
    }

    /** The same API through {@code slack} (short timeouts), each call tried once: for the 3-second listener path. */
    public static SlackApi quick(Slack slack, String botToken, String responseUrlPrefix) {
        return new SlackApi(slack, botToken, responseUrlPrefix, 1);
    }

    /** True when {@code url} may be POSTed to as a response_url: it starts with the configured Slack prefix. */
    public boolean trustedResponseUrl(String url) {
        return url != null && responseUrlPrefix != null && url.startsWith(responseUrlPrefix);
    }

    /** Slack answered {@code ok:false} with an error that trying again will not fix. */
    public static final class SlackError extends ChannelException {
        private final String method;
        private final String error;

        SlackError(String method, String error) {
            super("Slack " + method + " failed: " + error);
            this.method = method;
            this.error = error;
        }

        public String method() {
            return method;
        }

        public String error() {
            return error;
        }
    }

    @FunctionalInterface
    private interface Call<T> {
        T run(MethodsClient m) throws IOException, SlackApiException;
    }

    /** A posted message: the channel id Slack reports (a {@code D…} for a DM) and its {@code ts}. */
    public record Posted(String channel, String ts) {}

    /** Tried once: see the class comment. */
    public Posted postMessage(String channel, String text, String blocksJson, String approvalId) {
        ChatPostMessageResponse r = call("chat.postMessage", approvalId, 1, m -> m.chatPostMessage(b -> b.channel(channel).text(text)
                .blocksAsString(blocksJson).unfurlLinks(false).unfurlMedia(false)));
        return new Posted(r.getChannel() == null ? channel : r.getChannel(), r.getTs());
    }

    public void updateMessage(String channel, String ts, String text, String blocksJson, String approvalId) {
        call("chat.update", approvalId, m -> m.chatUpdate(b -> b.channel(channel).ts(ts).text(text).blocksAsString(blocksJson)));
    }

    public void postEphemeral(String channel, String user, String text, String blocksJson, String approvalId) {
        call("chat.postEphemeral", approvalId, m -> m.chatPostEphemeral(b -> b.channel(channel).user(user).text(text).blocksAsString(blocksJson)));
    }

    /** The DM channel with one user ({@code conversations.open}; Slack returns the same channel each time). */
    public String openDm(String userId, String approvalId) {
        ConversationsOpenResponse r = call("conversations.open", approvalId, m -> m.conversationsOpen(b -> b.users(List.of(userId))));
        return r.getChannel().getId();
    }

    /** Opens a modal; must run within 3 s of the click that gave {@code triggerId}, so it is tried once. */
    public void openView(String triggerId, String viewJson, String approvalId) {
        call("views.open", approvalId, 1, m -> m.viewsOpen(b -> b.triggerId(triggerId).viewAsString(viewJson)));
    }

    /** The Slack user with this e-mail, if any ({@code users.lookupByEmail}). */
    public Optional<String> userIdByEmail(String email) {
        try {
            UsersLookupByEmailResponse r = call("users.lookupByEmail", null, m -> m.usersLookupByEmail(b -> b.email(email)));
            return Optional.ofNullable(r.getUser()).map(u -> u.getId());
        } catch (SlackError e) {
            if ("users_not_found".equals(e.error())) return Optional.empty();
            throw e;
        }
    }

    /** The e-mail of a Slack user, if Slack shows it ({@code users.info}, needs users:read.email). */
    public Optional<String> emailOf(String userId) {
        try {
            UsersInfoResponse r = call("users.info", null, m -> m.usersInfo(b -> b.user(userId)));
            return Optional.ofNullable(r.getUser()).map(u -> u.getProfile()).map(p -> p.getEmail()).filter(e -> !e.isBlank());
        } catch (SlackError e) {
            if ("user_not_found".equals(e.error()) || "user_not_visible".equals(e.error())) return Optional.empty();
            throw e;
        }
    }

    /** {@code auth.test}: empty when the token works, else Slack's error (e.g. {@code invalid_auth}). */
    public Optional<String> authProblem() {
        try {
            call("auth.test", null, 1, m -> m.authTest(r -> r));
            return Optional.empty();
        } catch (SlackError e) {
            return Optional.of(e.error());
        }
    }

    /**
     * POSTs a message to an interaction's {@code response_url} (ephemeral notes, replacing an ephemeral list).
     * These URLs need no token; a failure is logged, not retried: the note only matters now.
     */
    public void respond(String responseUrl, String json, String approvalId) {
        if (!trustedResponseUrl(responseUrl)) {
            log.warn("not following a Slack response_url outside {} for approval {}", responseUrlPrefix, approvalId);
            return;
        }
        try {
            WebhookResponse r = slack.send(responseUrl, json);
            if (r.getCode() == null || r.getCode() != 200) log.warn("Slack response_url answered HTTP {} for approval {}: {}", r.getCode(), approvalId, r.getBody());
        } catch (IOException | RuntimeException e) {
            log.warn("Slack response_url failed for approval {}: {}", approvalId, e.toString());
        }
    }

    private <T extends SlackApiTextResponse> T call(String method, String approvalId, Call<T> call) {
        return call(method, approvalId, ATTEMPTS, call);
    }

    private <T extends SlackApiTextResponse> T call(String method, String approvalId, int wanted, Call<T> call) {
        int attempts = Math.min(wanted, maxAttempts);
        Exception last = null;
        String lastProblem = null;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            try {
                T r = call.run(methods);
                if (r.isOk()) return r;
                if (!TRANSIENT.contains(r.getError())) {
                    log.warn("Slack {} failed for approval {}: {}{}", method, approvalId, r.getError(),
                            r.getNeeded() == null ? "" : " (needed scope: " + r.getNeeded() + ")");
                    throw new SlackError(method, r.getError());
                }
                lastProblem = r.getError();
            } catch (SlackApiException e) {
                int code = e.getResponse().code();
                if (code == 429) {
                    Duration wait = retryAfter(e.getResponse().header("Retry-After"));
                    log.info("Slack {} rate limited for approval {}: retrying in {}", method, approvalId, wait);
                    throw new ChannelException("Slack " + method + " rate limited (429), Retry-After " + wait.toSeconds() + " s", wait, null);
                }
                if (code < 500) {
                    String error = e.getError() != null && e.getError().getError() != null ? e.getError().getError() : "http_" + code;
                    log.warn("Slack {} failed for approval {}: HTTP {} {}", method, approvalId, code, error);
                    throw new SlackError(method, error);
                }
                last = e;
                lastProblem = "HTTP " + code;
            } catch (IOException e) {
                last = e;
                lastProblem = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
            }
            if (attempt < attempts) LockSupport.parkNanos(PAUSES.get(Math.min(attempt, PAUSES.size()) - 1).toNanos());
        }
        log.warn("Slack {} failed for approval {} after {} attempts: {}", method, approvalId, attempts, lastProblem);
        throw new ChannelException("Slack " + method + " unavailable: " + lastProblem, null, last);
    }

    static Duration retryAfter(String header) {
        try {
            long s = Long.parseLong(header == null ? "" : header.trim());
            return Duration.ofSeconds(Math.max(1, Math.min(s, 3600)));
        } catch (NumberFormatException e) {
            return Duration.ofSeconds(30);
        }
    }
}
