package dev.countersign.client;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP proxy in front of the server for fault tests. It forwards every request; for the first
 * {@code faults} asks ({@code POST /api/v1/approvals}) it then loses the answer: either drops the connection
 * ({@link Fault#DROP}) or answers 503 ({@link Fault#UNAVAILABLE}). It records each request it saw.
 */
final class FlakyProxy implements AutoCloseable {
    enum Fault { DROP, UNAVAILABLE }

    record Seen(String method, String path, String idempotencyKey, String body, int upstreamStatus) {}

    private final HttpServer http;
    private final HttpClient upstream = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final AtomicInteger faultsLeft;

    FlakyProxy(String target, Fault fault, int faults) throws IOException {
        this.faultsLeft = new AtomicInteger(faults);
        http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/", ex -> handle(ex, target, fault));
        http.start();
    }

    private void handle(HttpExchange ex, String target, Fault fault) throws IOException {
        byte[] body = ex.getRequestBody().readAllBytes();
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(target + ex.getRequestURI()));
        for (String h : List.of("Authorization", "Content-Type", "Idempotency-Key")) {
            String v = ex.getRequestHeaders().getFirst(h);
            if (v != null) b.header(h, v);
        }
        b.method(ex.getRequestMethod(), body.length == 0 && ex.getRequestMethod().equals("GET")
                ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        HttpResponse<byte[]> r;
        try {
            r = upstream.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
        seen.add(new Seen(ex.getRequestMethod(), ex.getRequestURI().getPath(), ex.getRequestHeaders().getFirst("Idempotency-Key"),
                new String(body, java.nio.charset.StandardCharsets.UTF_8), r.statusCode()));
        boolean ask = ex.getRequestMethod().equals("POST") && ex.getRequestURI().getPath().equals("/api/v1/approvals");
        if (ask && faultsLeft.getAndDecrement() > 0) {
            if (fault == Fault.DROP) {
                ex.close(); // no status line: the connection is closed and the client never sees the answer
                return;
            }
            byte[] err = "{\"error\":{\"code\":\"unavailable\",\"message\":\"proxy says no\"}}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(503, err.length);
            ex.getResponseBody().write(err);
            ex.close();
            return;
        }
        r.headers().firstValue("Content-Type").ifPresent(v -> ex.getResponseHeaders().add("Content-Type", v));
        ex.sendResponseHeaders(r.statusCode(), r.body().length == 0 ? -1 : r.body().length);
        ex.getResponseBody().write(r.body());
        ex.close();
    }

    String url() {
        return "http://127.0.0.1:" + http.getAddress().getPort();
    }

    List<Seen> seen() {
        return seen;
    }

    List<Seen> asks() {
        return seen.stream().filter(s -> s.method().equals("POST") && s.path().equals("/api/v1/approvals")).toList();
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
