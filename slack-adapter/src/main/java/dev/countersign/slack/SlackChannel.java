package dev.countersign.slack;

import com.slack.api.Slack;
import com.slack.api.SlackConfig;
import com.slack.api.bolt.App;
import com.slack.api.bolt.AppConfig;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.channel.Channel;
import dev.countersign.core.channel.ChannelException;
import dev.countersign.core.channel.ChannelPort;
import dev.countersign.core.channel.PostLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Slack as a channel of the core (⑤ ⑧): approval messages with one-click buttons, the comment modal,
 * {@code /pending}, and escalation DMs. Durable: the core delivers {@link #publish}, {@link #update} and
 * {@link #notifyEscalation} from its {@code channel_task} queue and repeats them after a failure or a restart,
 * so each of them does only what is still missing (posts already in the {@link PostLog} are not posted again)
 * and renders the approval as it now stands.
 *
 * <p>People's clicks come in through {@link #http()} (HTTP mode, mounted by the server at
 * {@code POST /slack/events}) or Socket Mode (when an app token is set); both run the same {@link SlackListeners}.
 *
 * <p>Failures: a 429 or a transient failure (network, 5xx) is thrown for the core's queue to try again. A permanent
 * Slack error ({@code ok:false} such as {@code channel_not_found}, {@code not_in_channel}, {@code user_disabled},
 * {@code missing_scope}, {@code invalid_auth}) is logged and that one message is given up: trying it again for a
 * day would only hold back the later updates of the approval. Each escalation DM and each message update is
 * handled on its own, so one bad message never stops the others.
 */
public final class SlackChannel implements Channel {
    private static final Logger log = LoggerFactory.getLogger(SlackChannel.class);
    public static final String NAME = "slack";
    /** chat.update errors that mean the message cannot be updated, ever: skip it rather than retry for a day. */
    private static final Set<String> GONE = Set.of("message_not_found", "cant_update_message", "channel_not_found", "is_archived",
            "not_in_channel", "edit_window_closed");
    /** chat.update errors about what we rendered: sent again as {@link BlockKitRenderer#minimal}. */
    private static final Set<String> RENDER = Set.of("invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long",
            "too_many_attachments", "invalid_attachments", "invalid_arguments", "no_text");
    private static final Set<String> BAD_TOKEN = Set.of("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired");

    /** The listeners' Slack calls (who clicked) must leave time for the rest of the 3-second ack. */
    static final int QUICK_TIMEOUT_MS = 1_500;

    private final SlackSettings settings;
    private final Slack slack;
    private final Slack quickSlack;
    private final SlackApi api;
    private final SlackDirectory people;
    private final BlockKitRenderer render;
    private final App app;
    private final SlackHttpTransport http;
    private final SocketModeTransport socket;
    private final ExecutorService after;
    private final ScheduledExecutorService warmer;

    public SlackChannel(SlackSettings settings, ChannelPort port) {
        this(settings, port, Clock.systemUTC());
    }

    public SlackChannel(SlackSettings settings, ChannelPort port, Clock clock) {
        List<String> problems = settings.problems();
        if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("; ", problems));
        this.settings = settings;
        SlackConfig config = new SlackConfig();
        config.setMethodsEndpointUrlPrefix(settings.apiUrl());
        // No metrics threads, and no extra auth.test per token to learn the team id: we pace calls ourselves.
        config.setStatsEnabled(false);
        config.setHttpClientReadTimeoutMillis(10_000);
        config.setHttpClientWriteTimeoutMillis(10_000);
        config.setHttpClientCallTimeoutMillis(15_000);
        this.slack = Slack.getInstance(config);
        this.api = new SlackApi(slack, settings.botToken(), settings.responseUrlPrefix());
        // The listeners' calls must fit in Slack's 3 s with the core's work: one try, 1.5 s at most.
        SlackConfig quickConfig = new SlackConfig();
        quickConfig.setMethodsEndpointUrlPrefix(settings.apiUrl());
        quickConfig.setStatsEnabled(false);
        quickConfig.setHttpClientReadTimeoutMillis(QUICK_TIMEOUT_MS);
        quickConfig.setHttpClientWriteTimeoutMillis(QUICK_TIMEOUT_MS);
        quickConfig.setHttpClientCallTimeoutMillis(QUICK_TIMEOUT_MS);
        this.quickSlack = Slack.getInstance(quickConfig);
        this.people = new SlackDirectory(port.directory(), api, SlackApi.quick(quickSlack, settings.botToken(), settings.responseUrlPrefix()), clock);
        this.render = new BlockKitRenderer(settings.publicUrl());
        this.after = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "slack-after-ack");
            t.setDaemon(true);
            return t;
        });
        // Every value set explicitly: AppConfig's defaults read SLACK_* variables, and a stray client id/secret
        // would switch Bolt to multi-workspace OAuth mode.
        this.app = new App(AppConfig.builder().slack(slack).singleTeamBotToken(settings.botToken())
                .signingSecret(settings.signingSecret()).clientId(null).clientSecret(null).build());
        new SlackListeners(port, people, api, render, after).register(app);
        this.http = settings.verifiesRequests() ? new SlackHttpTransport(app, settings.signingSecret(), clock) : null;
        checkToken();
        this.warmer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "slack-directory");
            t.setDaemon(true);
            return t;
        });
        warmer.scheduleWithFixedDelay(people::warm, 0, SlackDirectory.WARM_EVERY.toMillis(), TimeUnit.MILLISECONDS);
        this.socket = settings.socketMode() ? new SocketModeTransport(settings.appToken(), app) : null;
        if (socket != null) socket.start();
        if (settings.approvalChannel() == null) {
            log.warn("Slack: no approval channel (SLACK_APPROVAL_CHANNEL or channels.slack.approval_channel); only rules with a channel are posted");
        }
        log.info("Slack channel ready ({})", settings);
    }

    /** A token Slack refuses stops the start with a sentence that says what to fix; Slack being unreachable does not. */
    private void checkToken() {
        try {
            Optional<String> problem = api.authProblem();
            if (problem.isPresent() && BAD_TOKEN.contains(problem.get())) {
                throw new IllegalArgumentException("Slack refused SLACK_BOT_TOKEN (auth.test: " + problem.get()
                        + "): copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions and reinstall the app if needed");
            }
            problem.ifPresent(p -> log.warn("Slack auth.test answered {}", p));
        } catch (ChannelException e) {
            log.warn("Slack cannot be reached now ({}); messages will be delivered once it can", e.getMessage());
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean durable() {
        return true;
    }

    /**
     * HTTP mode's entry point, for the server's {@code POST /slack/events}; null when no signing secret is set
     * (Socket Mode only), and then the route must not be mounted.
     */
    public SlackHttpTransport http() {
        return http;
    }

    /** True once Socket Mode is connected (always false in HTTP mode). */
    public boolean socketConnected() {
        return socket != null && socket.connected();
    }

    // ------------------------------------------------------------------ ⑤ publish

    @Override
    public void publish(Approval a, PostLog posts) {
        if (!a.isPending() && a.risk() != null && a.risk().level() == RiskLevel.LOW
                && a.decision() != null && a.decision().by().channel() == DecidedVia.POLICY) {
            return;   // answered at once by the policy: nobody needs to see it
        }
        String target = a.plan().channelTargets().getOrDefault(NAME, settings.approvalChannel());
        if (target == null) return;
        String key = "channel:" + target;
        if (posts.refs().stream().map(PostRef::parse).anyMatch(r -> r != null && key.equals(r.key()))) return;
        BlockKitRenderer.Message m = render.approval(a, null);
        SlackApi.Posted posted;
        try {
            posted = api.postMessage(target, m.text(), m.blocksJson(), a.id());
        } catch (SlackApi.SlackError e) {
            // Permanent: retrying for a day fixes nothing and holds back the approval's later updates.
            log.error("Slack refused to post approval {} to channel {} ({}: {}); not retried. Fix the channel or the app "
                    + "(invite the bot, unarchive, scopes, token); approvers can still decide on the web page or in other channels",
                    a.id(), target, e.method(), e.error());
            return;
        }
        // Remembered at once: a failure after this point must not post it twice.
        posts.remember(new PostRef(posted.channel(), posted.ts(), key).encode());
    }

    // ------------------------------------------------------------------ ⑧ update

    @Override
    public void update(Approval a, PostLog posts) {
        RuntimeException retry = null;
        for (String encoded : posts.refs()) {
            PostRef ref = PostRef.parse(encoded);
            if (ref == null) continue;
            try {
                updateOne(a, ref);
            } catch (SlackApi.SlackError e) {
                log.warn("Slack message {} of approval {} was not updated ({}: {}); skipped", ref.ts(), a.id(), e.method(), e.error());
            } catch (RuntimeException e) {
                // A 429 or a transient failure: the other messages first, then the queue tries again.
                if (retry == null) retry = e; else retry.addSuppressed(e);
            }
        }
        if (retry != null) throw retry;
    }

    /** One message: as it now stands, else (Slack refused what we rendered) the minimal layout, without buttons. */
    private void updateOne(Approval a, PostRef ref) {
        BlockKitRenderer.Message m = render.approval(a, ref.personId() == null || !a.isPending() ? null : escalationNote(a, ref.personId()));
        try {
            api.updateMessage(ref.channel(), ref.ts(), m.text(), m.blocksJson(), a.id());
        } catch (SlackApi.SlackError e) {
            if (GONE.contains(e.error())) {
                log.info("Slack message {} of approval {} cannot be updated any more ({}); skipped", ref.ts(), a.id(), e.error());
                return;
            }
            if (!RENDER.contains(e.error())) throw e;
            if (a.isPending()) {
                // The message as posted still works (its buttons decide); only its progress line is stale.
                log.warn("Slack refused the update of message {} of approval {} ({}); it keeps its previous content", ref.ts(), a.id(), e.error());
                return;
            }
            log.warn("Slack refused the update of message {} of approval {} ({}); sending the minimal layout", ref.ts(), a.id(), e.error());
            BlockKitRenderer.Message min = render.minimal(a);
            api.updateMessage(ref.channel(), ref.ts(), min.text(), min.blocksJson(), a.id());
        }
    }

    // ------------------------------------------------------------------ escalation DMs

    @Override
    public void notifyEscalation(Approval a, List<Person> newlyEligible, PostLog posts) {
        if (!a.isPending()) return;   // decided before the DM could go out: the update already says so
        Set<String> done = posts.refs().stream().map(PostRef::parse).filter(r -> r != null && r.personId() != null)
                .map(PostRef::personId).collect(Collectors.toSet());
        RuntimeException retry = null;
        for (Person p : newlyEligible) {
            if (done.contains(p.id())) continue;
            try {
                dm(a, p, posts);
            } catch (SlackApi.SlackError e) {
                // Permanent (user_disabled, cannot_dm_bot, missing_scope, channel_not_found…): logged, not retried.
                log.warn("could not DM {} about approval {} in Slack ({}: {}); not retried", p.id(), a.id(), e.method(), e.error());
            } catch (RuntimeException e) {
                // A 429 or a transient failure: the others first, then the queue tries again (the sent ones are remembered).
                if (retry == null) retry = e; else retry.addSuppressed(e);
            }
        }
        if (retry != null) throw retry;
    }

    private void dm(Approval a, Person p, PostLog posts) {
        Optional<String> slackId = people.slackIdOf(p.id());
        if (slackId.isEmpty()) {
            log.warn("cannot DM {} about approval {} in Slack: no `slack` id in the config and no Slack user with their e-mail", p.id(), a.id());
            return;
        }
        String dm = people.dmChannel(slackId.get(), a.id());
        BlockKitRenderer.Message m = render.approval(a, escalationNote(a, p.id()));
        SlackApi.Posted posted = api.postMessage(dm, m.text(), m.blocksJson(), a.id());
        posts.remember(new PostRef(posted.channel(), posted.ts(), "dm:" + p.id()).encode());
    }

    /** Why a DM reached this person: "no answer from #channel in 15 min". Our own mrkdwn. */
    String escalationNote(Approval a, String personId) {
        Plan plan = a.plan();
        int level = Math.min(a.escalationLevel(), plan.steps().size());
        Plan.Step step = null;
        for (int i = 0; i < level; i++) {
            if (plan.steps().get(i).people().stream().anyMatch(x -> x.id().equals(personId))) {
                step = plan.steps().get(i);
                break;
            }
        }
        if (step == null) return "⏫ This request escalated and you may decide it now.";
        String target = plan.channelTargets().getOrDefault(NAME, settings.approvalChannel());
        String from = target != null ? "<#" + target + ">" : plan.approvers().isEmpty() ? "the first approvers"
                : plan.approvers().stream().map(x -> Mrkdwn.literal(x.name())).collect(Collectors.joining(", "));
        return "⏫ Escalated to you: no answer from " + from + " in " + BlockKitRenderer.humanDuration(step.after()) + ".";
    }

    @Override
    public void close() {
        if (socket != null) socket.close();
        warmer.shutdownNow();
        after.shutdown();
        try {
            after.awaitTermination(3, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            app.stop();
        } catch (Exception e) {
            log.debug("stopping Bolt: {}", e.toString());
        }
        for (Slack s : List.of(slack, quickSlack)) {
            try {
                s.close();
            } catch (Exception e) {
                log.debug("closing the Slack client: {}", e.toString());
            }
        }
    }

    /**
     * Where one message was posted, as kept in the {@link PostLog}: {@code channelId:ts:key}, the key saying
     * what it is ({@code channel:<target>} for the approval channel, {@code dm:<personId>} for an escalation DM),
     * so that a repeated call knows what is already there.
     */
    record PostRef(String channel, String ts, String key) {
        String encode() {
            return channel + ":" + ts + ":" + key;
        }

        String personId() {
            return key.startsWith("dm:") ? key.substring(3) : null;
        }

        static PostRef parse(String s) {
            String[] parts = s.split(":", 3);
            if (parts.length < 2 || parts[0].isEmpty() || parts[1].isEmpty()) return null;
            return new PostRef(parts[0], parts[1], parts.length == 3 ? parts[2] : "channel:" + parts[0]);
        }
    }
}
