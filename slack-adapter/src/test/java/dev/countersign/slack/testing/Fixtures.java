package dev.countersign.slack.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.core.store.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** The Slack payload samples of {@code shared/fixtures/slack}, copied into the test resources (see their README). */
public final class Fixtures {
    private Fixtures() {}

    public static String text(String name) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/fixtures/slack/" + name)) {
            if (in == null) throw new IllegalArgumentException("no fixture " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonNode json(String name) {
        try {
            return Json.MAPPER.readTree(text(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
