package dev.countersign.slack;

import com.fasterxml.jackson.databind.JsonNode;
import com.slack.api.Slack;
import com.slack.api.SlackConfig;
import com.slack.api.bolt.App;
import com.slack.api.bolt.AppConfig;
import com.slack.api.bolt.socket_mode.SocketModeApp;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Status;
import dev.countersign.core.channel.ChannelException;
import dev.countersign.core.channel.PostLog;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.store.Json;
import dev.countersign.core.testing.Asks;
import dev.countersign.slack.testing.FakeSlack;
import dev.countersign.slack.testing.SignedRequests;
import dev.countersign.slack.testing.SlackHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.countersign.core.testing.Polling.eventually;
import static dev.countersign.slack.testing.SignedRequests.blockAction;
import static dev.countersign.slack.testing.SignedRequests.slashCommand;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What goes wrong with Slack, and what the channel does then: refused requests, slow lookups, permanent errors. */
class SlackFailuresTest {
    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    Path dir;
    SlackHarness h;
    FakeSlack other;

    @AfterEach
    void stop() {
        if (h != null) h.close();
        if (other != null) other.close();
    }

    private SlackHarness started() {
        h = new SlackHarness(dir).start();
        return h;
    }

    private Approval askPayment() {
        return h.ask(Asks.action("payments.transfer", "Pay invoice INV-2291 to Acme Corp: 12,500.00 EUR").param("amount", 12500));
    }

    private List<FakeSlack.Call> postsFor(String approvalId) {
        return h.slack.calls("chat.postMessage").stream().filter(c -> c.param("blocks").contains(approvalId)).toList();
    }

    private static final class MemoryPostLog implements PostLog {
        final List<String> refs = new CopyOnWriteArrayList<>();

        @Override
        public void remember(String ref) {
            refs.add(ref);
        }

        @Override
        public List<String> refs() {
            return List.copyOf(refs);
        }
    }

    // ------------------------------------------------------------------ 1. forged requests, foreign response_urls

    @Test
    void without_a_signing_secret_there_is_no_http_endpoint_and_the_transport_refuses_even_the_placeholder_secret() {
        h = new SlackHarness(dir).appToken("xapp-1-test").signingSecret(null).start();
        assertThat(h.channel().http()).as("Socket Mode without a signing secret: nothing to mount").isNull();

        AtomicInteger handled = new AtomicInteger();
        App app = new App(AppConfig.builder().singleTeamBotToken(FakeSlack.BOT_TOKEN).signingSecret(null).clientId(null).clientSecret(null).build());
        app.blockAction("cs.approve", (req, ctx) -> {
            handled.incrementAndGet();
            return ctx.ack();
        });
        SlackHttpTransport transport = new SlackHttpTransport(app, " ", Clock.systemUTC());
        String click = blockAction("cs.approve", "apr_x", "U0ALICE", SlackHarness.CHANNEL, "1.1", null, false);
        for (String secret : List.of("---", "any-secret-at-all")) {
            SignedRequests.Signed forged = SignedRequests.sign(click, Instant.now().getEpochSecond(), secret);
            assertThat(transport.handle(forged.body(), forged.headers(), "127.0.0.1").status()).isEqualTo(401);
        }
        assertThat(handled).hasValue(0);
    }

    @Test
    void response_urls_are_followed_only_under_slacks_prefix_or_the_fake_apis_origin() {
        assertThat(new SlackSettings("xoxb-1", "s", null, null, null, null).responseUrlPrefix()).isEqualTo("https://hooks.slack.com/");
        assertThat(new SlackSettings("xoxb-1", "s", null, "http://127.0.0.1:4567/api/", null, null).responseUrlPrefix()).isEqualTo("http://127.0.0.1:4567/");

        started();
        other = new FakeSlack();   // another origin: stands for an attacker's URL in a forged-but-signed payload
        Approval a = askPayment();
        eventually(WAIT, () -> assertThat(postsFor(a.id())).isNotEmpty());
        h.send(blockAction("cs.approve", a.id(), "U0STRANGER", SlackHarness.PAYMENTS_CHANNEL, "1.1", other.responseUrl("evil"), false));
        // The note still reaches the clicker, by chat.postEphemeral, and nothing is sent to the foreign URL.
        eventually(WAIT, () -> assertThat(h.slack.calls("chat.postEphemeral")).anySatisfy(c -> {
            assertThat(c.param("user")).isEqualTo("U0STRANGER");
            assertThat(c.param("text")).contains("not linked to a person");
        }));

        // From an ephemeral list, the comment modal does not keep a foreign URL in its private_metadata either.
        h.send(blockAction("cs.comment", a.id(), "U0BOB", SlackHarness.PAYMENTS_CHANNEL, "1.1", other.responseUrl("evil2"), true));
        eventually(WAIT, () -> assertThat(h.slack.calls("views.open")).isNotEmpty());
        String metadata = h.slack.calls("views.open").get(0).json("view").path("private_metadata").asText();
        assertThat(metadata).doesNotContain("evil2");
        assertThat(other.calls()).isEmpty();
    }

    // ------------------------------------------------------------------ 2. the 3-second ack

    @Test
    void configured_people_are_looked_up_by_email_at_start_so_a_click_needs_no_users_info() {
        started();
        eventually(WAIT, () -> assertThat(h.slack.calls("users.lookupByEmail")).anySatisfy(c -> assertThat(c.param("email")).isEqualTo("carol@example.com")));
        Approval a = askPayment();
        eventually(WAIT, () -> assertThat(postsFor(a.id())).isNotEmpty());
        // Carol (no slack id in the config) is known: she is told she cannot decide this one, not that she is a stranger.
        assertThat(h.send(blockAction("cs.approve", a.id(), "U0CAROL", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("carol"), false)).status()).isEqualTo(200);
        eventually(WAIT, () -> assertThat(h.slack.responses()).anySatisfy(r -> {
            assertThat(r.param("path")).isEqualTo("/actions/carol");
            assertThat(r.bodyJson().path("text").asText()).contains("You cannot decide");
        }));
        assertThat(h.slack.calls("users.info")).isEmpty();
    }

    @Test
    void a_rate_limited_or_slow_users_info_is_answered_at_once_with_try_again_never_a_500() throws Exception {
        started();
        Approval a = askPayment();
        eventually(WAIT, () -> assertThat(postsFor(a.id())).isNotEmpty());

        h.slack.rateLimit("users.info", 1, 30);
        SlackHttpTransport.Answer limited = h.send(blockAction("cs.approve", a.id(), "U0NEW1", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("new1"), false));
        assertThat(limited.status()).isEqualTo(200);

        h.slack.delay("users.info", 5_000);
        long start = System.nanoTime();
        SlackHttpTransport.Answer slow = h.send(blockAction("cs.approve", a.id(), "U0NEW2", SlackHarness.PAYMENTS_CHANNEL, "1.1", h.slack.responseUrl("new2"), false));
        assertThat(slow.status()).isEqualTo(200);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2_500));
        assertThat(h.slack.calls("users.info").stream().filter(c -> "U0NEW2".equals(c.param("user")))).hasSize(1);   // no retry

        JsonNode pending = Json.MAPPER.readTree(h.send(slashCommand("/pending", "", "U0NEW3", h.slack.responseUrl("cmd"))).body());
        assertThat(pending.path("text").asText()).contains("couldn't check who you are");

        eventually(WAIT, () -> assertThat(h.slack.responses()).filteredOn(r -> r.param("path").matches("/actions/new[12]"))
                .hasSize(2).allSatisfy(r -> assertThat(r.bodyJson().path("text").asText()).contains("couldn't check who you are")));
        assertThat(h.engine().get(a.id()).orElseThrow().status()).isEqualTo(Status.PENDING);
    }

    // ------------------------------------------------------------------ 3. permanent errors

    @Test
    void a_permanent_error_for_one_escalation_dm_does_not_stop_the_others_and_is_not_thrown() {
        started();
        Approval a = askPayment();
        h.slack.error("conversations.open", c -> "U0DAVE".equals(c.param("users")), "user_disabled");
        MemoryPostLog log = new MemoryPostLog();
        h.channel().notifyEscalation(a, List.of(new Person("dave", "Dave Okafor"), new Person("carol", "Carol Diaz")), log);
        assertThat(log.refs).singleElement().asString().endsWith(":dm:carol").startsWith("DU0CAROL:");
    }

    @Test
    void a_rate_limit_on_one_escalation_dm_is_thrown_with_retry_after_only_after_the_others_are_sent() {
        started();
        Approval a = askPayment();
        h.slack.rateLimit("conversations.open", 1, 7);
        MemoryPostLog log = new MemoryPostLog();
        assertThatThrownBy(() -> h.channel().notifyEscalation(a, List.of(new Person("dave", "Dave Okafor"), new Person("carol", "Carol Diaz")), log))
                .isInstanceOfSatisfying(ChannelException.class, e -> assertThat(e.retryAfter()).contains(Duration.ofSeconds(7)));
        assertThat(log.refs).singleElement().asString().endsWith(":dm:carol");
    }

    @Test
    void a_permanent_error_posting_to_the_approval_channel_is_logged_and_not_retried() throws Exception {
        started();
        h.slack.error("chat.postMessage", c -> SlackHarness.PAYMENTS_CHANNEL.equals(c.param("channel")), "channel_not_found");
        Approval a = askPayment();
        eventually(WAIT, () -> assertThat(postsFor(a.id())).hasSize(1));
        Thread.sleep(4_500);   // the core's first retries would come after 1 s, 2 s
        assertThat(postsFor(a.id())).hasSize(1);
        // Later work for the approval is not held back: a decision on the web is recorded, and nothing is owed.
        h.engine().decide(DecisionCommand.byPerson(a.id(), DecisionCommand.Verdict.APPROVE, "alice", dev.countersign.core.approval.DecidedVia.WEB, null));
        assertThat(h.engine().get(a.id()).orElseThrow().status()).isEqualTo(Status.APPROVED);
    }

    // ------------------------------------------------------------------ 4. no duplicate posts

    @Test
    void chat_post_message_is_not_retried_in_the_client_after_an_ambiguous_failure() {
        try (FakeSlack fake = new FakeSlack()) {
            SlackConfig config = new SlackConfig();
            config.setMethodsEndpointUrlPrefix(fake.apiUrl());
            config.setStatsEnabled(false);
            SlackApi api = new SlackApi(Slack.getInstance(config), FakeSlack.BOT_TOKEN, "http://127.0.0.1/");
            fake.httpStatus("chat.postMessage", 502, 1);
            assertThatThrownBy(() -> api.postMessage("C1", "t", "[]", "apr_1")).isInstanceOf(ChannelException.class)
                    .isNotInstanceOf(SlackApi.SlackError.class);
            assertThat(fake.calls("chat.postMessage")).hasSize(1);
            fake.error("chat.postMessage", c -> true, "fatal_error");
            assertThatThrownBy(() -> api.postMessage("C1", "t", "[]", "apr_2")).isInstanceOf(ChannelException.class);
            assertThat(fake.calls("chat.postMessage")).hasSize(2);
            // Idempotent calls still get their quick retries.
            fake.httpStatus("chat.update", 502, 1);
            api.updateMessage("C1", "1.1", "t", "[]", "apr_1");
            assertThat(fake.calls("chat.update")).hasSize(2);
        }
    }

    // ------------------------------------------------------------------ 5. updates

    @Test
    void every_message_is_updated_on_its_own_and_a_refused_render_falls_back_to_a_minimal_layout_without_buttons() {
        started();
        Approval a = h.ask(Asks.action("test.escalate", "Rotate the production database password"));
        eventually(WAIT, () -> assertThat(postsFor(a.id())).hasSize(2));   // the channel, then Carol's DM
        // Slack refuses the full layout: the channel message as invalid_blocks, the DM as msg_too_long.
        h.slack.error("chat.update", c -> SlackHarness.CHANNEL.equals(c.param("channel")) && c.json("blocks").size() > 1, "invalid_blocks");
        h.slack.error("chat.update", c -> "DU0CAROL".equals(c.param("channel")) && c.json("blocks").size() > 1, "msg_too_long");

        h.send(blockAction("cs.approve", a.id(), "U0CAROL", "DU0CAROL", "1.2", h.slack.responseUrl("carol"), false));
        assertThat(h.engine().await(a.id(), Duration.ofSeconds(10)).join().orElseThrow().status()).isEqualTo(Status.APPROVED);
        eventually(WAIT, () -> {
            for (String channel : List.of(SlackHarness.CHANNEL, "DU0CAROL")) {
                assertThat(h.slack.calls("chat.update")).as(channel).anySatisfy(u -> {
                    assertThat(u.param("channel")).isEqualTo(channel);
                    assertThat(u.json("blocks").size()).isEqualTo(1);
                    assertThat(u.param("blocks")).contains("Approved").contains("Carol Diaz").doesNotContain("cs.approve");
                });
            }
        });
    }

    // ------------------------------------------------------------------ 6. Socket Mode connections

    @Test
    void a_failed_socket_mode_connection_is_closed_before_the_next_attempt() {
        App app = new App(AppConfig.builder().singleTeamBotToken(FakeSlack.BOT_TOKEN).signingSecret("s").clientId(null).clientSecret(null).build());
        AtomicInteger closed = new AtomicInteger();
        SocketModeTransport transport = new SocketModeTransport(() -> new SocketModeApp(() -> null, app) {
            @Override
            public void startAsync() throws Exception {
                throw new java.io.IOException("apps.connections.open: invalid_auth");
            }

            @Override
            public void close() {
                closed.incrementAndGet();
            }
        });
        try {
            transport.start();
            eventually(Duration.ofSeconds(5), () -> assertThat(closed).hasValue(1));
            assertThat(transport.connected()).isFalse();
        } finally {
            transport.close();
        }
    }
}
