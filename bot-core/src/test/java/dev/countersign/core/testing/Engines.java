package dev.countersign.core.testing;

import dev.countersign.core.Countersign;
import dev.countersign.core.channel.Channel;
import dev.countersign.core.channel.ChannelPort;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.policy.RuleSpec;
import dev.countersign.core.store.DatabaseConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * Real engines for tests: an H2 file database in the test's directory (or a fresh PostgreSQL one), real Quartz, and a
 * {@link TestChannel}. Configure, then {@link #start()}; {@link #close()} stops every engine started.
 * Starting again on the same instance reuses the database and the Quartz scheduler name, which is
 * what a restart of the service does.
 *
 * <pre>
 * try (Engines engines = Engines.in(dir).rules(...)) {
 *     Countersign cs = engines.start();
 *     ...
 * }
 * </pre>
 */
public final class Engines implements AutoCloseable {

    public static final String AGENT = "billing-bot";
    public static final String OTHER_AGENT = "ops-bot";

    /**
     * The people of every test: alice, bob, carol and dave approve per rule; erin is the admin; frank is
     * configured but approves nothing.
     */
    public static final Directory DIRECTORY = new Directory(
            List.of(member("alice", "Alice Ng"), member("bob", "Bob Li"), member("carol", "Carol Diaz"),
                    member("dave", "Dave Okafor"), member("erin", "Erin Admin"), member("frank", "Frank Nobody")),
            Map.of("finance", List.of("alice", "bob", "dave"), "cfo", List.of("carol")),
            List.of("erin"));

    private final Databases.DataSourceSpec database;
    private final String schedulerName = "test-" + UUID.randomUUID();
    private final List<RuleSpec> rules = new ArrayList<>();
    private final Map<String, String> webhookSecrets = new HashMap<>();
    private final List<Function<ChannelPort, Channel>> extraChannels = new ArrayList<>();
    private Clock clock = Clock.systemUTC();
    private final List<Countersign> started = new CopyOnWriteArrayList<>();
    private volatile TestChannel channel;

    private Engines(Databases.DataSourceSpec database) {
        this.database = database;
    }

    /** An embedded H2 file database in {@code dir}. */
    public static Engines in(Path dir) {
        return new Engines(Databases.h2(dir));
    }

    /** A fresh PostgreSQL database (see {@link Databases#postgres()}). */
    public static Engines onPostgres() {
        return new Engines(Databases.postgres());
    }

    private static Directory.Member member(String id, String name) {
        return new Directory.Member(id, name, id + "@example.com", null, null);
    }

    public Engines rules(RuleSpec... specs) {
        rules.clear();
        rules.addAll(List.of(specs));
        return this;
    }

    public Engines rules(Rules... specs) {
        rules.clear();
        for (Rules r : specs) rules.add(r.build());
        return this;
    }

    public Engines webhookSecret(String agentId, String secret) {
        webhookSecrets.put(agentId, secret);
        return this;
    }

    /** Adds a channel besides the {@link TestChannel} (each engine started builds its own). */
    public Engines channel(Function<ChannelPort, Channel> factory) {
        extraChannels.add(factory);
        return this;
    }

    public Engines clock(Clock clock) {
        this.clock = clock;
        return this;
    }

    public Countersign.Settings settings() {
        List<Function<ChannelPort, Channel>> channels = new ArrayList<>();
        channels.add(port -> channel = new TestChannel(port));
        channels.addAll(extraChannels);
        return new Countersign.Settings(new DatabaseConfig(database.url(), database.user(), database.password()), DIRECTORY, rules,
                webhookSecrets, channels, clock, new SimpleMeterRegistry(),
                schedulerName, 8, 4);
    }

    /** Starts an engine on this database (a new one, or a restart after {@link Countersign#close()}). */
    public Countersign start() {
        Countersign cs = Countersign.start(settings());
        started.add(cs);
        return cs;
    }

    /** The test channel of the engine started last. */
    public TestChannel channel() {
        return channel;
    }

    public Databases.DataSourceSpec database() {
        return database;
    }

    public String schedulerName() {
        return schedulerName;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (Countersign cs : started) {
            try {
                cs.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        started.clear();
        if (first != null) throw first;
    }
}
