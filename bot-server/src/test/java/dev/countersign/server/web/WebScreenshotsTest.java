package dev.countersign.server.web;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.server.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static dev.countersign.server.TestServer.ALICE_BOT_KEY;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Screenshots of the pending list and an approval page, on a laptop and a phone, in headless Chromium. They go to
 * {@code target/screenshots}; {@code -Dcountersign.screenshots=<dir>} writes them elsewhere (the README's come from
 * {@code ./mvnw -pl bot-server test -Dtest=WebScreenshotsTest -Dcountersign.screenshots=$PWD/docs/screenshots}).
 * Also checks that a keyboard alone reaches the decide buttons.
 */
class WebScreenshotsTest {
    @TempDir
    static Path dir;
    static TestServer server;
    static String approvalId;

    @BeforeAll
    static void start() {
        server = TestServer.start(dir);
        server.asked(ALICE_BOT_KEY, TestServer.lowAsk());
        ObjectNode pay = TestServer.highAsk();
        TestServer.params(pay).put("iban", "DE89 3704 0044 0532 0130 00").put("api_token", "sk_live_do_not_show");
        pay.putObject("agent").put("id", ALICE_BOT_KEY.isEmpty() ? "" : "alice-bot").put("run_id", "run-2291");
        ((ObjectNode) pay.get("context")).putArray("links").addObject().put("title", "Invoice INV-2291").put("url", "https://erp.example.com/invoices/INV-2291");
        approvalId = server.asked(ALICE_BOT_KEY, pay).path("id").asText();
        ObjectNode deploy = TestServer.ask("deploy.production", "Deploy billing-service v2.14.0 to production");
        TestServer.params(deploy).put("service", "billing-service").put("version", "2.14.0").put("environment", "production");
        deploy.putObject("context").put("reason", "fixes the VAT rounding bug (#812)").put("impact", "all customers' invoices");
        server.asked(ALICE_BOT_KEY, deploy);
        ObjectNode refund = TestServer.ask("payments.refund", "Refund order 5531 to Jane Roe: 15,200.00 EUR");
        TestServer.params(refund).put("amount", 15200).put("currency", "EUR").put("order", "5531");
        String decided = server.asked(ALICE_BOT_KEY, refund).path("id").asText();
        server.decide(decided, "reject", "bob", "Duplicate of order 5530, already refunded");
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static Path out() throws IOException {
        Path d = Path.of(System.getProperty("countersign.screenshots", "target/screenshots"));
        Files.createDirectories(d);
        return d;
    }

    private static void signInDev(ChromeDriver d, String person) {
        d.get(server.url("/web"));
        new Select(new WebDriverWait(d, Duration.ofSeconds(15)).until(ExpectedConditions.presenceOfElementLocated(By.id("person")))).selectByValue(person);
        d.findElement(By.cssSelector("form button[type=submit]")).click();
        new WebDriverWait(d, Duration.ofSeconds(15)).until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector(".who"), "Signed in as"));
    }

    private static void shoot(ChromeDriver d, String name) throws IOException {
        Path file = out().resolve(name);
        Files.write(file, d.getScreenshotAs(OutputType.BYTES));
        assertThat(Files.size(file)).isGreaterThan(10_000);
    }

    @Test
    void the_pending_list_and_an_approval_page_on_a_laptop() throws IOException {
        ChromeDriver d = Chromium.start(1280, 860);
        try {
            signInDev(d, "alice");
            new WebDriverWait(d, Duration.ofSeconds(15)).until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("body.live")));
            shoot(d, "pending-list.png");
            d.get(server.url("/web/approvals/" + approvalId));
            assertThat(d.getPageSource()).doesNotContain("sk_live_do_not_show");
            shoot(d, "approval-page.png");
            d.get(server.url("/web/history"));
            shoot(d, "history.png");
            d.get(server.url("/web/audit"));
            assertThat(d.getPageSource()).contains("Chain intact");
            shoot(d, "audit-log.png");
        } finally {
            d.quit();
        }
    }

    @Test
    void an_approval_page_on_a_phone_and_the_decide_buttons_by_keyboard() throws IOException {
        ChromeDriver d = Chromium.start(390, 1400);
        try {
            signInDev(d, "alice");
            d.get(server.url("/web/approvals/" + approvalId));
            shoot(d, "approval-page-phone.png");
            // Tab from the comment field: the next stops are Approve, then Reject.
            d.findElement(By.id("comment")).click();
            d.switchTo().activeElement().sendKeys(org.openqa.selenium.Keys.TAB);
            assertThat(d.switchTo().activeElement().getAttribute("value")).isEqualTo("approve");
            d.switchTo().activeElement().sendKeys(org.openqa.selenium.Keys.TAB);
            assertThat(d.switchTo().activeElement().getAttribute("value")).isEqualTo("reject");
        } finally {
            d.quit();
        }
    }
}
