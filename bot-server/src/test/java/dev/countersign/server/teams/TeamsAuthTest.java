package dev.countersign.server.teams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.countersign.server.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.function.Function;
import java.util.function.UnaryOperator;

import static dev.countersign.core.testing.Polling.eventually;
import static dev.countersign.server.teams.TeamsHarness.ALICE_AAD;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Inbound tokens: only a token signed by a key of the Bot Framework's JWKS endorsed for Teams, issued by Bot Framework,
 * for this bot, unexpired, and naming the activity's service URL is accepted, with an activity from the {@code msteams}
 * channel and this bot's tenant (TEAMS_TENANT_ID is set in the harness). Everything else is a bare 401 and changes
 * nothing: the install is not remembered and the click decides nothing.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TeamsAuthTest {
    @TempDir
    static Path dir;
    static TeamsHarness teams;
    static String approvalId;

    @BeforeAll
    static void start() {
        teams = new TeamsHarness(dir);
        approvalId = teams.server.asked(TestServer.ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
    }

    @AfterAll
    static void stop() {
        teams.close();
    }

    private void refusedWithoutEffect(Function<String, String> tokenFor) {
        refusedWithoutEffect(a -> a, tokenFor);
    }

    private void refusedWithoutEffect(UnaryOperator<ObjectNode> change, Function<String, String> tokenFor) {
        ObjectNode install = change.apply(teams.teamInstall());
        ObjectNode click = change.apply(teams.click(ALICE_AAD, "approve", approvalId, "forged"));
        for (JsonNode activity : new JsonNode[] {install, click}) {
            TestServer.Response r = teams.send(activity, tokenFor.apply(activity.path("serviceUrl").asText()));
            assertThat(r.status()).as(r.toString()).isEqualTo(401);
            assertThat(r.json().path("error").path("code").asText()).isIn("invalid_token", "unauthenticated");
            assertThat(r.body()).doesNotContain("Exception", "at dev.");
        }
        assertThat(teams.count("SELECT COUNT(*) FROM teams_conversation")).isZero();
        assertThat(teams.count("SELECT COUNT(*) FROM teams_user")).isZero();
        assertThat(teams.server.get("/api/v1/approvals/" + approvalId, TestServer.ALICE_BOT_KEY).json().path("status").asText()).isEqualTo("pending");
        assertThat(teams.bf.calls()).isEmpty();
    }

    @Test
    void a_token_signed_by_a_key_not_in_the_jwks_is_refused() {
        RSAKey stranger = FakeBotFramework.newKey("key-1"); // even under a published key's id
        refusedWithoutEffect(url -> FakeBotFramework.token(stranger, teams.bf.claims(url).build()));
        RSAKey unknownKid = FakeBotFramework.newKey("key-unknown");
        refusedWithoutEffect(url -> FakeBotFramework.token(unknownKid, teams.bf.claims(url).build()));
    }

    @Test
    void a_token_for_another_bot_is_refused() {
        refusedWithoutEffect(url -> FakeBotFramework.token(teams.bf.signingKey(), teams.bf.claims(url).audience("another-app-id").build()));
    }

    @Test
    void a_token_from_another_issuer_is_refused() {
        refusedWithoutEffect(url -> FakeBotFramework.token(teams.bf.signingKey(), teams.bf.claims(url).issuer("https://sts.windows.net/evil/").build()));
    }

    @Test
    void an_expired_token_is_refused_beyond_the_clock_skew() {
        refusedWithoutEffect(url -> FakeBotFramework.token(teams.bf.signingKey(), teams.bf.claims(url)
                .expirationTime(Date.from(Instant.now().minus(Duration.ofMinutes(6)))).build()));
    }

    @Test
    void a_token_for_another_service_url_is_refused() {
        refusedWithoutEffect(url -> teams.bf.token("https://smba.trafficmanager.net/amer/"));
        refusedWithoutEffect(url -> FakeBotFramework.token(teams.bf.signingKey(), new JWTClaimsSet.Builder(teams.bf.claims(url).build())
                .claim("serviceurl", null).build()));
    }

    @Test
    void a_missing_or_malformed_token_is_refused() {
        refusedWithoutEffect(url -> null);
        refusedWithoutEffect(url -> "not-a-jwt");
        // alg "none": unsigned
        refusedWithoutEffect(url -> new com.nimbusds.jwt.PlainJWT(teams.bf.claims(url).build()).serialize());
    }

    @Test
    void an_activity_from_another_bot_framework_channel_is_refused_even_with_a_valid_token() {
        // Web Chat (on by default for every Azure Bot) gets valid tokens, and its client chooses "from" freely
        refusedWithoutEffect(a -> a.put("channelId", "webchat"), url -> FakeBotFramework.token(teams.bf.webChatKey(), teams.bf.claims(url).build()));
        refusedWithoutEffect(a -> a.put("channelId", "webchat"), url -> teams.bf.token(url));
        refusedWithoutEffect(a -> a.put("channelId", "directline"), url -> teams.bf.token(url));
        refusedWithoutEffect(a -> {
            a.remove("channelId");
            return a;
        }, url -> teams.bf.token(url));
        refusedWithoutEffect(a -> {
            a.remove("channelId");
            return a;
        }, url -> FakeBotFramework.token(teams.bf.unendorsedKey(), teams.bf.claims(url).build()));
    }

    @Test
    void a_teams_activity_signed_by_a_key_not_endorsed_for_teams_is_refused() {
        refusedWithoutEffect(url -> FakeBotFramework.token(teams.bf.unendorsedKey(), teams.bf.claims(url).build()));
        refusedWithoutEffect(url -> FakeBotFramework.token(teams.bf.webChatKey(), teams.bf.claims(url).build()));
    }

    @Test
    void an_activity_from_another_tenant_is_refused() {
        String other = "99999999-0000-4000-8000-000000000bad";
        refusedWithoutEffect(a -> {
            ((ObjectNode) a.get("channelData").get("tenant")).put("id", other);
            if (a.get("conversation").has("tenantId")) ((ObjectNode) a.get("conversation")).put("tenantId", other);
            return a;
        }, url -> teams.bf.token(url));
        // the two places Teams names the tenant must agree
        refusedWithoutEffect(a -> {
            ((ObjectNode) a.get("channelData").get("tenant")).put("id", other);
            return a;
        }, url -> teams.bf.token(url));
        refusedWithoutEffect(a -> {
            ((ObjectNode) a.get("conversation")).put("tenantId", other);
            return a;
        }, url -> teams.bf.token(url));
        // and one of them must be there
        refusedWithoutEffect(a -> {
            a.remove("channelData");
            ((ObjectNode) a.get("conversation")).remove("tenantId");
            return a;
        }, url -> teams.bf.token(url));
    }

    @Test
    @Order(Integer.MAX_VALUE) // last: it changes state, which the others check is untouched
    void a_rotated_key_is_accepted_once_the_jwks_publishes_it() {
        RSAKey next = FakeBotFramework.newKey("key-2");
        ObjectNode message = teams.personalMessage(TeamsHarness.STRANGER_AAD, "hello");
        String token = FakeBotFramework.token(next, teams.bf.claims(teams.bf.serviceUrl()).build());
        assertThat(teams.send(message, token).status()).isEqualTo(401);
        teams.bf.publish(next);
        // the unknown key id makes the bot fetch the keys again (at most every few seconds)
        eventually(Duration.ofSeconds(15), () -> assertThat(teams.send(message, token).status()).isEqualTo(200));
        assertThat(teams.count("SELECT COUNT(*) FROM teams_user")).isEqualTo(1);
    }
}
