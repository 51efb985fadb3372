package dev.countersign.server.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.server.TestServer;
import dev.countersign.server.TestServer.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;


import static dev.countersign.server.TestServer.ALICE_BOT_KEY;
import static dev.countersign.server.web.WebClient.form;
import static org.assertj.core.api.Assertions.assertThat;

/** The approval pages over real HTTP: sign-in, CSRF, the core's decision rules as the pages show them, escaping. */
class WebPagesTest {
    @RegisterExtension
    static final TestServer server = TestServer.perClass();

    private static WebClient browser() {
        return new WebClient(server.url(""));
    }

    private static String pending() {
        return server.asked(ALICE_BOT_KEY, TestServer.highAsk()).path("id").asText();
    }

    private static JsonNode approval(String id) {
        return server.get("/api/v1/approvals/" + id, ALICE_BOT_KEY).json();
    }

    @Test
    void pages_need_a_sign_in_first() {
        WebClient anonymous = browser();
        Response list = anonymous.get("/web");
        assertThat(list.status()).isEqualTo(303);
        assertThat(list.header("Location")).isEqualTo("/web/signin?next=%2Fweb");

        String id = pending();
        assertThat(anonymous.get("/web/approvals/" + id).status()).isEqualTo(303);
        Response decide = anonymous.post("/web/approvals/" + id + "/decide", form("verdict", "approve", "csrf", "x"));
        assertThat(decide.status()).isEqualTo(303);
        assertThat(decide.header("Location")).startsWith("/web/signin");
        assertThat(anonymous.get("/web/events").status()).isEqualTo(401);
        assertThat(anonymous.get("/web/live/pending").status()).isEqualTo(401);
        assertThat(approval(id).path("status").asText()).isEqualTo("pending");
    }

    @Test
    void a_form_post_without_the_right_csrf_token_changes_nothing() {
        WebClient alice = browser().signInDev("alice");
        String id = pending();
        alice.get("/web/approvals/" + id);

        Response missing = alice.post("/web/approvals/" + id + "/decide", form("verdict", "approve"));
        Response wrong = alice.post("/web/approvals/" + id + "/decide", form("verdict", "approve", "csrf", "not-the-token"));

        assertThat(missing.status()).isEqualTo(403);
        assertThat(missing.body()).contains("Nothing was changed");
        assertThat(wrong.status()).isEqualTo(403);
        assertThat(approval(id).path("status").asText()).isEqualTo("pending");
    }

    @Test
    void a_person_who_is_not_an_approver_is_refused() {
        WebClient dave = browser().signInDev("dave");
        String id = pending();
        Response page = dave.get("/web/approvals/" + id);
        assertThat(page.body()).contains("You are not among the people who may decide").doesNotContain("value=\"approve\"");

        Response r = dave.post("/web/approvals/" + id + "/decide", form("verdict", "approve", "csrf", dave.csrf()));

        assertThat(r.status()).isEqualTo(403);
        assertThat(r.body()).contains("Your decision was not recorded").contains("not among the approvers");
        assertThat(approval(id).path("status").asText()).isEqualTo("pending");
    }

    @Test
    void the_person_the_agent_acts_for_cannot_approve() {
        ObjectNode ask = TestServer.highAsk();
        ask.put("requested_for", "bob");
        String id = server.asked(ALICE_BOT_KEY, ask).path("id").asText();
        WebClient bob = browser().signInDev("bob");
        Response page = bob.get("/web/approvals/" + id);
        assertThat(page.body()).contains("you may reject it but not approve it").doesNotContain("value=\"approve\"");

        Response r = bob.post("/web/approvals/" + id + "/decide", form("verdict", "approve", "csrf", bob.csrf()));

        assertThat(r.status()).isEqualTo(403);
        assertThat(r.body()).contains("cannot approve a request made on their own behalf");
        assertThat(approval(id).path("status").asText()).isEqualTo("pending");
    }

    @Test
    void an_approver_decides_on_the_page_and_the_agent_sees_who_how_and_why() {
        WebClient alice = browser().signInDev("alice");
        String id = pending();
        assertThat(alice.get("/web").body()).contains("/web/approvals/" + id);
        alice.get("/web/approvals/" + id);

        Response r = alice.post("/web/approvals/" + id + "/decide", form("verdict", "approve", "comment", "paid on time", "csrf", alice.csrf()));

        assertThat(r.status()).as(r.toString()).isEqualTo(303);
        JsonNode d = approval(id).path("decision");
        assertThat(d.path("outcome").asText()).isEqualTo("approved");
        assertThat(d.path("by").path("id").asText()).isEqualTo("alice");
        assertThat(d.path("by").path("channel").asText()).isEqualTo("web");
        assertThat(d.path("comment").asText()).isEqualTo("paid on time");
        assertThat(alice.get("/web/approvals/" + id).body()).contains("Approved by Alice Ng (web) at").contains("paid on time");
        assertThat(alice.get("/web/history?status=approved&via=web").body()).contains("/web/approvals/" + id);
    }

    @Test
    void a_stale_page_cannot_decide_twice_and_is_told_who_won() {
        String id = pending();
        WebClient alice = browser().signInDev("alice");
        WebClient bob = browser().signInDev("bob");
        alice.get("/web/approvals/" + id);
        bob.get("/web/approvals/" + id);
        String bobsToken = bob.csrf();

        assertThat(alice.post("/web/approvals/" + id + "/decide", form("verdict", "approve", "csrf", alice.csrf())).status()).isEqualTo(303);
        Response late = bob.post("/web/approvals/" + id + "/decide", form("verdict", "reject", "comment", "no", "csrf", bobsToken));

        assertThat(late.status()).isEqualTo(409);
        assertThat(late.body()).contains("already decided").contains("Approved by Alice Ng (web) at");
        assertThat(approval(id).path("status").asText()).isEqualTo("approved");
    }

    @Test
    void what_the_agent_wrote_is_escaped_and_secret_params_are_masked() {
        ObjectNode ask = TestServer.highAsk();
        ((ObjectNode) ask.get("action")).put("summary", "Pay <script>alert(1)</script> & \"co\"");
        TestServer.params(ask).put("api_key", "sk-live-123456").putObject("auth").put("password", "hunter2").put("user", "svc");
        ask.putObject("context").put("reason", "<img src=x onerror=alert(2)>").putArray("links").addObject()
                .put("title", "<b>docs</b>").put("url", "https://example.com/?q=a'onmouseover='alert(3)");
        String id = server.asked(ALICE_BOT_KEY, ask).path("id").asText();
        WebClient alice = browser().signInDev("alice");

        String page = alice.get("/web/approvals/" + id).body();
        String list = alice.get("/web").body();

        assertThat(page).contains("Pay &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;").doesNotContain("<script>alert")
                .contains("&lt;img src=x onerror=alert(2)&gt;").doesNotContain("<img src=x")
                .contains("&lt;b&gt;docs&lt;/b&gt;").doesNotContain("a'onmouseover").contains("a&#39;onmouseover=&#39;alert(3)")
                .doesNotContain("sk-live-123456").doesNotContain("hunter2").contains(Html.MASK).contains("svc");
        assertThat(list).doesNotContain("<script>alert").contains("&lt;script&gt;");
    }

    @Test
    void the_session_cookie_is_http_only_and_same_site_and_rotates_at_sign_in() {
        WebClient c = browser();
        Response signin = c.get("/web/signin");
        String before = c.cookie();
        assertThat(signin.header("Set-Cookie")).contains("HttpOnly").contains("SameSite=Lax").doesNotContain("Secure");
        assertThat(signin.header("Content-Security-Policy")).contains("default-src 'self'");
        Response r = c.post("/web/signin/dev", form("csrf", c.csrf(), "person", "alice", "next", "/web"));
        assertThat(r.status()).isEqualTo(303);
        assertThat(c.cookie()).isNotEqualTo(before);

        WebClient fixated = browser();
        fixated.cookie(before);
        assertThat(fixated.get("/web").status()).as("the pre-sign-in session id is not signed in").isEqualTo(303);
    }

    @Test
    void the_dev_sign_in_refuses_requests_that_came_through_a_proxy() {
        WebClient c = browser();
        c.get("/web/signin");
        Response r = c.post("/web/signin/dev", form("csrf", c.csrf(), "person", "alice"), "X-Forwarded-For", "203.0.113.9");
        assertThat(r.status()).isEqualTo(403);
        assertThat(c.get("/web/signin", "X-Forwarded-For", "203.0.113.9").body()).contains("Sign-in is not available from here");
    }

    @Test
    void every_page_says_the_dev_sign_in_is_for_trying_out() {
        WebClient alice = browser().signInDev("alice");
        for (String path : new String[]{"/web", "/web/history", "/web/audit", "/web/approvals/" + pending()}) {
            Response r = alice.get(path);
            assertThat(r.status()).as(path).isEqualTo(200);
            assertThat(r.body()).as(path).contains("Trying out:");
        }
    }

    @Test
    void the_audit_page_shows_that_the_chain_verifies() {
        pending();
        WebClient erin = browser().signInDev("erin");
        assertThat(erin.get("/web/audit").body()).contains("Chain intact");
    }

    @Test
    void sign_out_needs_the_csrf_token_and_ends_the_session() {
        WebClient alice = browser().signInDev("alice");
        assertThat(alice.post("/web/signout", form()).status()).isEqualTo(403);
        assertThat(alice.get("/web").status()).isEqualTo(200);
        assertThat(alice.post("/web/signout", form("csrf", alice.csrf())).status()).isEqualTo(303);
        assertThat(alice.get("/web").status()).isEqualTo(303);
    }
}
