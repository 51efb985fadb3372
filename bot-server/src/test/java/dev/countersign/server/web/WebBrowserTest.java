package dev.countersign.server.web;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.server.TestServer;
import no.nav.security.mock.oauth2.MockOAuth2Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.countersign.server.TestServer.ALICE_BOT_KEY;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The approval pages in a real browser (headless Chromium), signed in through a real OpenID Connect provider:
 * a request appears without a reload, is approved with a comment, the agent's long-poll returns with that comment,
 * and another person's open page switches to the outcome by itself.
 */
class WebBrowserTest {
    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    static Path dir;
    static MockOAuth2Server idp;
    static TestServer server;
    static String base;
    private final List<WebDriver> browsers = new ArrayList<>();

    @BeforeAll
    static void start() {
        idp = OidcServer.start(true);
        int port = OidcServer.freePort();
        server = TestServer.start(OidcServer.config(dir, idp, port));
        base = "http://localhost:" + port;
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (idp != null) idp.shutdown();
    }

    @AfterEach
    void closeBrowsers() {
        browsers.forEach(WebDriver::quit);
    }

    private WebDriver browser() {
        WebDriver d = Chromium.start(1280, 900);
        browsers.add(d);
        return d;
    }

    private static WebDriverWait waitIn(WebDriver d) {
        return new WebDriverWait(d, WAIT);
    }

    /** Through the provider's login form, as a person would (user name and the e-mail claim). */
    private static void signIn(WebDriver d, String user, String email) {
        d.get(base + "/web");
        waitIn(d).until(ExpectedConditions.elementToBeClickable(By.linkText("Sign in with single sign-on"))).click();
        waitIn(d).until(ExpectedConditions.presenceOfElementLocated(By.name("username"))).sendKeys(user);
        d.findElement(By.name("claims")).sendKeys("{\"email\": \"" + email + "\"}");
        d.findElement(By.cssSelector("input[type=submit]")).click();
        waitIn(d).until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector(".who"), "Signed in as"));
        assertThat(d.getCurrentUrl()).startsWith(base + "/web");
    }

    /** Marks the document, so a test can tell that a change arrived without the page being loaded again. */
    private static void markDocument(WebDriver d) {
        ((JavascriptExecutor) d).executeScript("window.countersignTestMark = 'same document';");
    }

    private static void assertSameDocument(WebDriver d) {
        assertThat(((JavascriptExecutor) d).executeScript("return window.countersignTestMark;")).isEqualTo("same document");
    }

    /** The live stream is open (app.js marks the body), so no event can be missed from here on. */
    private static void waitUntilLive(WebDriver d) {
        waitIn(d).until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("body.live")));
    }

    @Test
    void an_approver_sees_a_request_arrive_approves_it_and_the_agent_and_another_browser_are_told() throws Exception {
        WebDriver alice = browser();
        signIn(alice, "alice", "alice@example.com");
        waitUntilLive(alice);
        markDocument(alice);

        ObjectNode ask = TestServer.highAsk();
        ((ObjectNode) ask.get("action")).put("summary", "Pay invoice INV-7001 to Acme Corp: 12,500.00 EUR");
        String id = server.asked(ALICE_BOT_KEY, ask).path("id").asText();

        WebElement link = waitIn(alice).until(ExpectedConditions.elementToBeClickable(By.cssSelector("#mine-h ~ ul a[href='/web/approvals/" + id + "']")));
        assertSameDocument(alice);

        WebDriver bob = browser();
        signIn(bob, "bob", "bob@example.com");
        bob.get(base + "/web/approvals/" + id);
        waitUntilLive(bob);
        markDocument(bob);
        assertThat(bob.findElement(By.id("approval-live")).getText()).contains("Waiting for a decision");

        CompletableFuture<TestServer.Response> agentWaits = CompletableFuture.supplyAsync(
                () -> server.get("/api/v1/approvals/" + id + "?wait=30", ALICE_BOT_KEY));

        link.click();
        WebElement comment = waitIn(alice).until(ExpectedConditions.elementToBeClickable(By.id("comment")));
        comment.sendKeys("Checked against the PO, pay it");
        alice.findElement(By.cssSelector("button[value=approve]")).click();

        TestServer.Response answer = agentWaits.get(20, TimeUnit.SECONDS);
        JsonNode a = answer.json();
        assertThat(a.path("status").asText()).isEqualTo("approved");
        assertThat(a.path("decision").path("comment").asText()).isEqualTo("Checked against the PO, pay it");
        assertThat(a.path("decision").path("by").path("id").asText()).isEqualTo("alice");
        assertThat(a.path("decision").path("by").path("channel").asText()).isEqualTo("web");

        waitIn(alice).until(ExpectedConditions.textToBePresentInElementLocated(By.id("approval-live"), "Approved by Alice Ng (web)"));
        waitIn(bob).until(ExpectedConditions.textToBePresentInElementLocated(By.id("approval-live"), "Approved by Alice Ng (web)"));
        assertSameDocument(bob);
        assertThat(bob.findElements(By.cssSelector("button[value=approve]"))).as("the stale form is gone").isEmpty();
        assertThat(bob.findElement(By.id("approval-live")).getText()).contains("Checked against the PO, pay it");
    }
}
