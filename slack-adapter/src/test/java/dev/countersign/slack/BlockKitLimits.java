package dev.countersign.slack;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** Slack's Block Kit limits (shared/notes/slack-platform.md §3.1), checked on rendered JSON. */
final class BlockKitLimits {
    private BlockKitLimits() {}

    static void check(JsonNode blocks) {
        assertThat(blocks.size()).as("blocks in a message").isBetween(1, 50);
        Set<String> blockIds = new HashSet<>();
        for (JsonNode b : blocks) {
            checkBlock(b, blockIds);
        }
    }

    static void checkModal(JsonNode view) {
        assertThat(view.path("blocks").size()).isLessThanOrEqualTo(100);
        for (String f : new String[]{"title", "submit", "close"}) assertThat(view.path(f).path("text").asText().length()).as(f).isBetween(1, 24);
        assertThat(view.path("private_metadata").asText().length()).isLessThanOrEqualTo(3000);
        assertThat(view.path("callback_id").asText().length()).isLessThanOrEqualTo(255);
        Set<String> ids = new HashSet<>();
        for (JsonNode b : view.path("blocks")) {
            checkBlock(b, ids);
            if (b.path("type").asText().equals("input")) assertThat(b.path("label").path("text").asText().length()).isBetween(1, 2000);
        }
    }

    private static void checkBlock(JsonNode b, Set<String> blockIds) {
        String id = b.path("block_id").asText("");
        assertThat(id.length()).as("block_id").isLessThanOrEqualTo(255);
        if (!id.isEmpty()) assertThat(blockIds.add(id)).as("unique block_id " + id).isTrue();
        switch (b.path("type").asText()) {
            case "header" -> assertThat(b.path("text").path("text").asText().length()).as("header").isBetween(1, 150);
            case "section" -> {
                assertThat(b.path("text").path("text").asText().length()).as("section text").isBetween(1, 3000);
                assertThat(b.path("fields").size()).isLessThanOrEqualTo(10);
            }
            case "context" -> {
                assertThat(b.path("elements").size()).as("context elements").isBetween(1, 10);
                for (JsonNode e : b.path("elements")) assertThat(e.path("text").asText().length()).isBetween(1, 2000);
            }
            case "actions" -> {
                assertThat(b.path("elements").size()).as("actions").isBetween(1, 25);
                Set<String> actionIds = new HashSet<>();
                for (JsonNode e : b.path("elements")) {
                    assertThat(actionIds.add(e.path("action_id").asText())).as("unique action_id").isTrue();
                    assertThat(e.path("action_id").asText().length()).isLessThanOrEqualTo(255);
                    assertThat(e.path("text").path("text").asText().length()).as("button text").isBetween(1, 75);
                    assertThat(e.path("value").asText().length()).as("button value").isLessThanOrEqualTo(2000);
                    assertThat(e.path("url").asText().length()).isLessThanOrEqualTo(3000);
                    JsonNode c = e.path("confirm");
                    if (!c.isMissingNode()) {
                        assertThat(c.path("title").path("text").asText().length()).isBetween(1, 100);
                        assertThat(c.path("text").path("text").asText().length()).isBetween(1, 300);
                        assertThat(c.path("confirm").path("text").asText().length()).isBetween(1, 30);
                        assertThat(c.path("deny").path("text").asText().length()).isBetween(1, 30);
                    }
                }
            }
            case "input" -> {
            }
            default -> throw new AssertionError("unexpected block type " + b.path("type"));
        }
    }

    static int totalText(JsonNode n) {
        int sum = 0;
        if (n.isObject()) {
            JsonNode t = n.get("text");
            if (t != null && t.isTextual()) sum += t.asText().length();
        }
        for (JsonNode child : n) if (child.isContainerNode()) sum += totalText(child);
        return sum;
    }
}
