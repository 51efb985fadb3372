package dev.countersign.teams;

import dev.countersign.core.store.Database;
import dev.countersign.core.store.DatabaseConfig;
import dev.countersign.core.testing.Databases;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

/** Conversation references on both databases the service runs on (the V4 migration included). */
class TeamsConversationStoreTest {
    @TempDir
    Path dir;

    private Database open(String vendor) {
        Databases.DataSourceSpec spec = vendor.equals("h2") ? Databases.h2(dir) : Databases.postgres();
        return Database.open(new DatabaseConfig(spec.url(), spec.user(), spec.password()), 2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgresql"})
    void installs_and_users_are_remembered_updated_and_forgotten(String vendor) {
        try (Database db = open(vendor)) {
            ConversationStore store = new ConversationStore(db, Clock.systemUTC());
            String team = "19:general@thread.tacv2";
            store.saveConversation(new ConversationStore.ConversationRef(team, "channel", "https://smba.example/amer/", "tenant-1", team));
            store.saveConversation(new ConversationStore.ConversationRef(team, "channel", "https://smba.example/emea/", null, null));
            ConversationStore.ConversationRef found = store.conversation(team).orElseThrow();
            assertThat(found.serviceUrl()).isEqualTo("https://smba.example/emea/");
            assertThat(found.tenantId()).as("kept when a later activity lacks it").isEqualTo("tenant-1");
            assertThat(store.conversation("19:other@thread.tacv2")).isEmpty();
            store.forgetConversation(team);
            assertThat(store.conversation(team)).isEmpty();

            store.saveUser(new ConversationStore.UserRef("AAAA-1", "29:alice", "https://smba.example/amer/", "tenant-1", null));
            store.saveUser(new ConversationStore.UserRef("aaaa-1", "29:alice", "https://smba.example/amer/", null, "a:dm-alice"));
            store.saveUser(new ConversationStore.UserRef("aaaa-1", "29:alice", "https://smba.example/amer/", null, null));
            ConversationStore.UserRef alice = store.user("Aaaa-1").orElseThrow();
            assertThat(alice.personalConversationId()).isEqualTo("a:dm-alice");
            assertThat(alice.tenantId()).isEqualTo("tenant-1");
            assertThat(store.user("bbbb-2")).isEmpty();
        }
    }
}
