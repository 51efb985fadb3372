package dev.countersign.slack;

import dev.countersign.core.approval.Directory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Slack user ids ↔ people of the configuration. A person's {@code slack} id in the config wins; otherwise they
 * are matched by e-mail ({@code users.lookupByEmail} one way, {@code users.info} the other). Answers from Slack
 * are cached for {@link #TTL} (misses for {@link #MISS_TTL}, so a person added to the workspace is found soon).
 */
public final class SlackDirectory {
    static final Duration TTL = Duration.ofHours(1);
    static final Duration MISS_TTL = Duration.ofMinutes(5);

    private final Directory directory;
    private final SlackApi api;
    private final Clock clock;
    private final Map<String, Cached> emailOfUser = new ConcurrentHashMap<>();
    private final Map<String, Cached> userOfEmail = new ConcurrentHashMap<>();
    private final Map<String, Cached> dmOfUser = new ConcurrentHashMap<>();

    private record Cached(String value, Instant until) {}

    public SlackDirectory(Directory directory, SlackApi api, Clock clock) {
        this.directory = directory;
        this.api = api;
        this.clock = clock;
    }

    /** The configured person behind a Slack user id, if any. */
    public Optional<Directory.Member> personOf(String slackUserId) {
        if (slackUserId == null) return Optional.empty();
        Optional<Directory.Member> configured = directory.bySlackId(slackUserId);
        if (configured.isPresent()) return configured;
        Optional<String> email = cached(emailOfUser, slackUserId, api::emailOf);
        // Someone whose config entry names another Slack id is not matched by e-mail: the explicit id wins.
        return email.flatMap(directory::byEmail).filter(m -> m.slackId() == null || m.slackId().equals(slackUserId));
    }

    /** The Slack user id of a configured person, if Slack knows them. */
    public Optional<String> slackIdOf(String personId) {
        Optional<Directory.Member> m = directory.member(personId);
        if (m.isEmpty()) return Optional.empty();
        if (m.get().slackId() != null) return Optional.of(m.get().slackId());
        if (m.get().email() == null) return Optional.empty();
        return cached(userOfEmail, m.get().email().toLowerCase(java.util.Locale.ROOT), api::userIdByEmail);
    }

    /** The DM channel with a Slack user (cached; Slack returns the same one each time). */
    public String dmChannel(String slackUserId, String approvalId) {
        return cached(dmOfUser, slackUserId, u -> Optional.of(api.openDm(u, approvalId))).orElseThrow();
    }

    public Directory directory() {
        return directory;
    }

    private Optional<String> cached(Map<String, Cached> cache, String key, Function<String, Optional<String>> load) {
        Instant now = clock.instant();
        Cached c = cache.get(key);
        if (c != null && now.isBefore(c.until())) return Optional.ofNullable(c.value());
        Optional<String> found = load.apply(key);
        cache.put(key, new Cached(found.orElse(null), now.plus(found.isPresent() ? TTL : MISS_TTL)));
        return found;
    }
}
