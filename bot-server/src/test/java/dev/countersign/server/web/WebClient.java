package dev.countersign.server.web;

import dev.countersign.server.TestServer;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A browser without a browser, for HTTP-level tests of the pages: keeps the session cookie, follows no
 * redirects (tests look at them), and reads the CSRF token out of the last page, as a form would send it.
 */
final class WebClient {
    private static final Pattern CSRF = Pattern.compile("name=\"csrf\" value=\"([^\"]+)\"");
    private final String base;
    private String cookie;
    private String lastPage = "";

    WebClient(String base) {
        this.base = base;
    }

    TestServer.Response get(String pathOrUrl, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(pathOrUrl)).timeout(Duration.ofSeconds(30)).GET();
        return send(b, headers);
    }

    TestServer.Response post(String path, Map<String, String> form, String... headers) {
        String body = form.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(body));
        return send(b, headers);
    }

    /** Signs in through the dev sign-in (the test config has no single sign-on), as {@code person}. */
    WebClient signInDev(String person) {
        TestServer.Response page = get("/web/signin");
        if (page.status() != 200) throw new AssertionError("sign-in page: " + page);
        TestServer.Response r = post("/web/signin/dev", form("csrf", csrf(), "person", person, "next", "/web"));
        if (r.status() != 303) throw new AssertionError("dev sign-in: " + r);
        get("/web");
        return this;
    }

    /** The CSRF token of the last page that had a form. */
    String csrf() {
        Matcher m = CSRF.matcher(lastPage);
        if (!m.find()) throw new AssertionError("no CSRF token on the last page: " + lastPage);
        return m.group(1);
    }

    String cookie() {
        return cookie;
    }

    void cookie(String value) {
        cookie = value;
    }

    static Map<String, String> form(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    private URI uri(String pathOrUrl) {
        return URI.create(pathOrUrl.startsWith("http") ? pathOrUrl : base + pathOrUrl);
    }

    private TestServer.Response send(HttpRequest.Builder b, String... headers) {
        if (cookie != null) b.header("Cookie", cookie);
        for (int i = 0; i + 1 < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        TestServer.Response r = TestServer.send(b);
        r.headers().allValues("Set-Cookie").forEach(c -> {
            String pair = c.split(";", 2)[0];
            if (pair.startsWith(Sessions.COOKIE + "=")) cookie = pair.endsWith("=") ? null : pair;
        });
        if (r.body() != null && r.body().contains("name=\"csrf\"")) lastPage = r.body();
        return r;
    }
}
