package dev.countersign.teams;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The Teams app package's sources (zipped by {@code mvn package} into target/countersign-teams.zip). */
class TeamsAppPackageTest {
    private static final Path DIR = Path.of("teams");

    @Test
    void the_manifest_declares_the_bot_in_every_scope_with_the_pending_command() throws Exception {
        JsonNode m = Activity.MAPPER.readTree(Files.readString(DIR.resolve("manifest.json")));
        assertThat(m.path("manifestVersion").asText()).isNotBlank();
        assertThat(m.path("id").asText()).isEqualTo("${teams.app.id}");
        JsonNode bot = m.path("bots").path(0);
        assertThat(bot.path("botId").asText()).isEqualTo("${teams.app.id}");
        assertThat(bot.path("scopes").findValuesAsText("scopes")).isEmpty();
        assertThat(bot.path("scopes").toString()).contains("personal", "team", "groupChat");
        assertThat(bot.path("commandLists").path(0).path("commands").findValuesAsText("title")).containsExactly("pending");
        assertThat(m.path("icons").path("color").asText()).isEqualTo("color.png");
        assertThat(m.path("icons").path("outline").asText()).isEqualTo("outline.png");
        assertThat(m.path("name").path("short").asText().length()).isLessThanOrEqualTo(30);
        assertThat(m.path("description").path("short").asText().length()).isLessThanOrEqualTo(80);
    }

    @Test
    void the_icons_have_the_sizes_teams_requires_and_the_outline_is_white_on_transparent() throws Exception {
        BufferedImage color = ImageIO.read(DIR.resolve("color.png").toFile());
        assertThat(color.getWidth()).isEqualTo(192);
        assertThat(color.getHeight()).isEqualTo(192);
        BufferedImage outline = ImageIO.read(DIR.resolve("outline.png").toFile());
        assertThat(outline.getWidth()).isEqualTo(32);
        assertThat(outline.getHeight()).isEqualTo(32);
        for (int x = 0; x < 32; x++) {
            for (int y = 0; y < 32; y++) {
                int argb = outline.getRGB(x, y);
                int alpha = argb >>> 24;
                assertThat(alpha == 0 || (argb & 0xFFFFFF) == 0xFFFFFF).as("pixel %d,%d is white or transparent", x, y).isTrue();
            }
        }
    }
}
