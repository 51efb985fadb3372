package dev.countersign.slack.testing;

import dev.countersign.core.Countersign;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.store.DatabaseConfig;
import dev.countersign.core.testing.Asks;
import dev.countersign.core.testing.Databases;
import dev.countersign.core.testing.Rules;
import dev.countersign.slack.SlackChannel;
import dev.countersign.slack.SlackHttpTransport;
import dev.countersign.slack.SlackSettings;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A real engine (H2 file database, Quartz) with the real {@link SlackChannel} talking to a {@link FakeSlack};
 * Slack's requests are fed to the channel's HTTP transport signed, as Slack would send them.
 *
 * <p>People: alice (U0ALICE) and bob (U0BOB) in group finance; carol in cfo, with no Slack id in the config but
 * known to Slack by e-mail (U0CAROL); dave (U0DAVE) in no group; erin (U0ERIN) the admin. Rules:
 * {@code test.escalate} (finance, escalates to cfo after 1 s), {@code test.quorum} (alice and bob, quorum 2),
 * {@code email.send} (medium, logged review), {@code db.read*} (low), {@code payments.*} (finance,
 * escalates after 15 min, rule channel C0PAYMENTS), anything else high for the admin.
 */
public final class SlackHarness implements AutoCloseable {
    public static final String AGENT = "billing-bot";
    public static final String CHANNEL = "C0APPROVALS";
    public static final String PAYMENTS_CHANNEL = "C0PAYMENTS";
    public static final Directory DIRECTORY = new Directory(List.of(
            new Directory.Member("alice", "Alice Ng", "alice@example.com", "U0ALICE", null),
            new Directory.Member("bob", "Bob Li", "bob@example.com", "U0BOB", null),
            new Directory.Member("carol", "Carol Diaz", "carol@example.com", null, null),
            new Directory.Member("dave", "Dave Okafor", "dave@example.com", "U0DAVE", null),
            new Directory.Member("erin", "Erin Admin", "erin@example.com", "U0ERIN", null)),
            Map.of("finance", List.of("alice", "bob"), "cfo", List.of("carol")), List.of("erin"));

    public final FakeSlack slack = new FakeSlack();
    public final SignedRequests requests = new SignedRequests(FakeSlack.SIGNING_SECRET);
    private final Databases.DataSourceSpec db;
    private final String scheduler = "slack-test-" + UUID.randomUUID();
    private Countersign engine;
    private volatile SlackChannel channel;
    private String appToken;
    private String signingSecret = FakeSlack.SIGNING_SECRET;

    public SlackHarness(Path dir) {
        this.db = Databases.h2(dir);
        slack.user("U0CAROL", "carol@example.com");
    }

    /** Socket Mode instead of HTTP (set before {@link #start()}). */
    public SlackHarness appToken(String token) {
        this.appToken = token;
        return this;
    }

    /** The signing secret the channel runs with (null: none, Socket Mode only); set before {@link #start()}. */
    public SlackHarness signingSecret(String secret) {
        this.signingSecret = secret;
        return this;
    }

    public SlackSettings settings() {
        return new SlackSettings(FakeSlack.BOT_TOKEN, signingSecret, appToken, slack.apiUrl(), CHANNEL, "https://countersign.example.com");
    }

    public SlackHarness start() {
        Countersign.Settings s = new Countersign.Settings(new DatabaseConfig(db.url(), db.user(), db.password()), DIRECTORY,
                List.of(Rules.rule("escalating").when("action.type == \"test.escalate\"").high().approvers("group:finance")
                                .escalateAfter("PT1S", "group:cfo").expiresAfter("PT1H").build(),
                        Rules.rule("quorum").when("action.type == \"test.quorum\"").high().approvers("alice", "bob").quorum(2).build(),
                        Rules.rule("logged-review").when("action.type == \"email.send\"").medium().approvers("alice").build(),
                        Rules.rule("reads").when("action.type.startsWith(\"db.read\")").low().build(),
                        paymentsRule()),
                Map.of(), List.of(port -> channel = new SlackChannel(settings(), port)), Clock.systemUTC(), new SimpleMeterRegistry(),
                scheduler, 8, 4);
        engine = Countersign.start(s);
        return this;
    }

    private static dev.countersign.core.policy.RuleSpec paymentsRule() {
        var r = Rules.rule("payments").when("action.type.startsWith(\"payments.\")").high().approvers("group:finance")
                .escalateAfter("PT15M", "group:cfo").expiresAfter("PT1H").build();
        return new dev.countersign.core.policy.RuleSpec(r.name(), r.when(), r.risk(), r.approvers(), r.quorum(), r.escalation(),
                r.expiresAfter(), r.vetoWindow(), PAYMENTS_CHANNEL, null, r.where());
    }

    /** Stops the engine (what is owed to Slack stays in the database) and starts it again on the same database. */
    public SlackHarness restart() {
        engine.close();
        return start();
    }

    public Countersign engine() {
        return engine;
    }

    public SlackChannel channel() {
        return channel;
    }

    public Approval ask(Asks ask) {
        return ask.by(engine, AGENT);
    }

    /** Slack POSTs {@code body} to /slack/events, signed now. */
    public SlackHttpTransport.Answer send(String body) {
        return send(requests.sign(body, Instant.now()));
    }

    public SlackHttpTransport.Answer send(SignedRequests.Signed signed) {
        return channel.http().handle(signed.body(), signed.headers(), "127.0.0.1");
    }

    @Override
    public void close() {
        try {
            if (engine != null) engine.close();
        } finally {
            slack.close();
        }
    }
}
