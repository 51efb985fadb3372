package dev.countersign.server.web;

import dev.countersign.server.TestServer;
import dev.countersign.server.TestServer.Response;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import no.nav.security.mock.oauth2.token.DefaultOAuth2TokenCallback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Single sign-on against a real OpenID Connect provider, over HTTP: the code flow, the checks, and who may sign in. */
class WebOidcTest {
    @TempDir
    static Path dir;
    static MockOAuth2Server idp;
    static TestServer server;

    @BeforeAll
    static void start() {
        idp = OidcServer.start(false);
        server = TestServer.start(OidcServer.config(dir, idp, OidcServer.freePort()));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (idp != null) idp.shutdown();
    }

    private static void nextSignInIs(String email, List<String> audience) {
        nextSignInIs(email, audience, 300);
    }

    private static void nextSignInIs(String email, List<String> audience, long expirySeconds) {
        idp.enqueueCallback(new DefaultOAuth2TokenCallback("default", "sub-" + email, "JWT", audience, Map.of("email", email), expirySeconds));
    }

    /** Follows the flow up to the callback and returns the callback's answer. */
    private static Response signIn(WebClient browser, java.util.function.UnaryOperator<String> tamper) {
        Response start = browser.get("/web/signin/oidc?next=%2Fweb%2Fhistory");
        assertThat(start.status()).as(start.toString()).isIn(302, 303);
        String authorize = start.header("Location");
        assertThat(authorize).startsWith(idp.authorizationEndpointUrl("default").toString())
                .contains("code_challenge_method=S256").contains("nonce=").contains("state=");
        Response atIdp = browser.get(authorize);
        assertThat(atIdp.status()).as(atIdp.toString()).isEqualTo(302);
        String callback = tamper.apply(atIdp.header("Location"));
        assertThat(callback).contains(WebUi.CALLBACK);
        return browser.get(callback);
    }

    @Test
    void a_configured_person_signs_in_with_single_sign_on() {
        WebClient browser = new WebClient(server.url(""));
        nextSignInIs("alice@example.com", List.of(OidcServer.CLIENT_ID));

        Response done = signIn(browser, s -> s);

        assertThat(done.status()).as(done.toString()).isIn(302, 303);
        assertThat(done.header("Location")).isEqualTo("/web/history");
        Response page = browser.get("/web");
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.body()).contains("Signed in as <strong>Alice Ng</strong>").doesNotContain("Trying out:");
    }

    @Test
    void an_unknown_e_mail_is_told_it_is_not_a_configured_approver() {
        WebClient browser = new WebClient(server.url(""));
        nextSignInIs("mallory@example.org", List.of(OidcServer.CLIENT_ID));

        Response done = signIn(browser, s -> s);

        assertThat(done.status()).isEqualTo(403);
        assertThat(done.body()).contains("Not a configured approver").contains("mallory@example.org");
        assertThat(browser.get("/web").status()).isEqualTo(303);
    }

    @Test
    void a_callback_whose_state_does_not_match_is_refused() {
        WebClient browser = new WebClient(server.url(""));
        // No token is enqueued: the callback must be refused before the code is ever exchanged.

        Response done = signIn(browser, s -> s.replaceAll("state=[^&]+", "state=forged"));

        assertThat(done.status()).isEqualTo(401);
        assertThat(done.body()).contains("state does not match");
        assertThat(browser.get("/web").status()).isEqualTo(303);
    }

    @Test
    void an_expired_id_token_is_refused() {
        WebClient browser = new WebClient(server.url(""));
        nextSignInIs("alice@example.com", List.of(OidcServer.CLIENT_ID), -600);

        Response done = signIn(browser, s -> s);

        assertThat(done.status()).isEqualTo(401);
        assertThat(done.body()).contains("did not pass the checks");
    }

    @Test
    void the_dev_sign_in_is_off_when_single_sign_on_is_configured() {
        WebClient browser = new WebClient(server.url(""));
        Response page = browser.get("/web/signin");
        assertThat(page.body()).contains("Sign in with single sign-on").doesNotContain("name=\"person\"");
        Response r = browser.post("/web/signin/dev", WebClient.form("csrf", "anything", "person", "alice"));
        assertThat(r.status()).isEqualTo(403);
    }
}
