package dev.countersign.server;

import dev.countersign.core.Countersign;
import dev.countersign.core.channel.Channel;
import dev.countersign.core.channel.ChannelPort;
import dev.countersign.slack.SlackChannel;
import dev.countersign.slack.SlackHttpTransport;
import dev.countersign.slack.SlackSettings;
import dev.countersign.server.config.Env;
import dev.countersign.server.config.ServerConfig;
import dev.countersign.server.http.ApiServer;
import dev.countersign.server.web.WebChannel;
import dev.countersign.server.web.WebUi;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import dev.countersign.core.channel.Channel;
import dev.countersign.core.channel.ChannelPort;
import dev.countersign.teams.BotAuthenticator;
import dev.countersign.teams.BotTokens;
import dev.countersign.teams.ConnectorClient;
import dev.countersign.teams.ConversationStore;
import dev.countersign.teams.TeamsBot;
import dev.countersign.teams.TeamsChannel;
import dev.countersign.teams.TeamsSettings;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.concurrent.atomic.AtomicReference;

/** The running service: the engine on its database plus the HTTP server in front of it. */
public final class CountersignServer implements AutoCloseable {
    private final Countersign engine;
    private final ApiServer api;
    private final ServerConfig config;
    private final Teams teams;

    private CountersignServer(ServerConfig config, Countersign engine, ApiServer api, Teams teams) {
        this.config = config;
        this.engine = engine;
        this.api = api;
        this.teams = teams;
    }

    /** Starts with Quartz's default scheduler name; every node of one cluster must use the same. */
    public static CountersignServer start(ServerConfig config) {
        return start(config, "countersign");
    }

    /** @param schedulerName distinct for servers that share one JVM (tests), the same across a cluster's nodes */
    public static CountersignServer start(ServerConfig config, String schedulerName) {
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(meters);
        new JvmThreadMetrics().bindTo(meters);
        new ProcessorMetrics().bindTo(meters);
        @SuppressWarnings("resource") JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(meters);
        // The web pages are a channel (live updates) and a set of routes on the API's app; both share one WebChannel.
        AtomicReference<WebChannel> web = new AtomicReference<>();
        List<Function<ChannelPort, Channel>> channels = new ArrayList<>();
        channels.add(port -> {
            web.set(new WebChannel(port));
            return web.get();
        });
        // Slack, when its credentials are set: a durable channel plus POST /slack/events (or Socket Mode).
        AtomicReference<SlackChannel> slack = new AtomicReference<>();
        if (config.channels().slack().enabled()) {
            channels.add(port -> {
                slack.set(new SlackChannel(slackSettings(config), port));
                return slack.get();
            });
        }
        // Teams, when its app id and password are set: a durable channel plus POST /api/messages.
        Teams teams = config.teams() == null ? null : Teams.open(config);
        if (teams != null) channels.add(teams::channel);
        Countersign engine;
        try {
            engine = Countersign.start(new Countersign.Settings(config.database(), config.directory(), config.rules(),
                    config.webhookSecrets(), channels, Clock.systemUTC(), meters, schedulerName, 20, 6, nodeId(config)));
        } catch (RuntimeException e) {
            if (teams != null) teams.close();
            throw e;
        }
        try {
            // POST /slack/events only with a signing secret to verify it: in Socket Mode without one, no route at all
            // (http() is null then), so nobody can send forged clicks to an endpoint nothing needs.
            SlackHttpTransport slackHttp = slack.get() == null ? null : slack.get().http();
            ApiServer api = new ApiServer(engine, config, meters, new WebUi(engine, web.get(), config),
                    slackHttp, teams == null ? null : teams.bot()).start();
            return new CountersignServer(config, engine, api, teams);
        } catch (RuntimeException e) {
            engine.close();
            if (teams != null) teams.close();
            throw e;
        }
    }

    private static SlackSettings slackSettings(ServerConfig config) {
        ServerConfig.Slack s = config.channels().slack();
        return new SlackSettings(s.botToken(), s.signingSecret(), s.appToken(), s.apiUrl(), config.channels().slackApprovalChannel(), config.publicUrl());
    }

    /**
     * The Teams channel's parts: its conversation store (in the engine's database, through the channel port), the
     * Connector client and the inbound bot, which needs the engine's channel port.
     */
    private static final class Teams implements AutoCloseable {
        private final TeamsSettings settings;
        private final ConnectorClient connector;
        private final BotAuthenticator auth;
        private volatile ChannelPort port;
        private volatile ConversationStore conversations;
        private volatile TeamsBot bot;

        private Teams(TeamsSettings settings) {
            this.settings = settings;
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            this.connector = new ConnectorClient(http, new BotTokens(settings.tokenUrl(), settings.appId(), settings.appPassword(), http, Clock.systemUTC()));
            this.auth = new BotAuthenticator(settings.appId(), settings.openIdMetadataUrl(), http, Clock.systemUTC());
        }

        static Teams open(ServerConfig config) {
            ServerConfig.Teams t = config.teams();
            TeamsSettings settings = new TeamsSettings(t.appId(), t.appPassword(), t.tenantId(),
                    t.openIdMetadataUrl() == null ? null : URI.create(t.openIdMetadataUrl()), t.tokenUrl() == null ? null : URI.create(t.tokenUrl()),
                    config.channels().teamsApprovalConversation());
            return new Teams(settings);
        }

        /** Called once, while the engine starts: the conversation store lives in the engine's database and pool. */
        Channel channel(ChannelPort port) {
            this.port = port;
            this.conversations = new ConversationStore(port.database(), Clock.systemUTC());
            return new TeamsChannel(settings, port, conversations, connector);
        }

        /** The inbound bot (one per server; it owns the pool that sends its replies). */
        synchronized TeamsBot bot() {
            if (bot == null) bot = new TeamsBot(settings, port, auth, conversations, connector);
            return bot;
        }

        @Override
        public void close() {
            TeamsBot b = bot;
            if (b != null) b.close();
        }
    }

    /** COUNTERSIGN_NODE_ID, else host:port; a node started on a random port (0) gets a fresh id each start. */
    private static String nodeId(ServerConfig config) {
        String configured = Env.COUNTERSIGN_NODE_ID.in(System.getenv());
        if (configured != null) return configured;
        if (config.port() == 0) return null;
        try {
            return java.net.InetAddress.getLocalHost().getHostName() + ":" + config.port();
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }

    public Countersign engine() {
        return engine;
    }

    public int port() {
        return api.port();
    }

    public ServerConfig config() {
        return config;
    }

    @Override
    public void close() {
        api.close();
        engine.close();
        if (teams != null) teams.close();
    }
}
