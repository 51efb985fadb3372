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
 *
 * <p>{@link #warm} (at start, then every {@link #WARM_EVERY}, in the background) looks up the configured people's
 * e-mails, so that a click is matched from memory. {@link #personOf} runs before the 3-second ack: what is not in
 * memory is asked of Slack once, with a short timeout (the "quick" {@link SlackApi}); when that fails it throws
 * {@link Unavailable}, which the listeners answer with "try again", never with an error.
 */
public final class SlackDirectory {
    static final Duration TTL = Duration.ofHours(1);
    static final Duration MISS_TTL = Duration.ofMinutes(5);
    static final Duration WARM_EVERY = Duration.ofMinutes(50);
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(SlackDirectory.class);

    /** Slack could not be asked who a user is in time; the caller should say "try again". */
    public static final class Unavailable extends RuntimeException {
        Unavailable(String slackUserId, Throwable cause) {
            super("could not look up Slack user " + slackUserId + " now: " + cause.getMessage(), cause);
        }
    }

    private final Directory directory;
    private final SlackApi api;
    private final SlackApi quick;
    private final Clock clock;
    private final Map<String, Cached> emailOfUser = new ConcurrentHashMap<>();
    private final Map<String, Cached> userOfEmail = new ConcurrentHashMap<>();
    private final Map<String, Cached> dmOfUser = new ConcurrentHashMap<>();

    private record Cached(String value, Instant until) {}

    /**
     * @param api   for the background (escalation DMs, {@link #warm}): retries transient failures
     * @param quick for {@link #personOf}, on the listener path: one attempt, short timeouts
     */
    public SlackDirectory(Directory directory, SlackApi api, SlackApi quick, Clock clock) {
        this.directory = directory;
        this.api = api;
        this.quick = quick;
        this.clock = clock;
    }

    /**
     * Looks up every configured person with an e-mail and no {@code slack} id ({@code users.lookupByEmail}), so
     * their clicks are matched without asking Slack. Stops the round at a rate limit; never throws.
     */
    public void warm() {
        int found = 0;
        for (Directory.Member m : directory.members()) {
            if (m.slackId() != null || m.email() == null || m.email().isBlank()) continue;
            String email = m.email().toLowerCase(java.util.Locale.ROOT);
            try {
                Optional<String> id = api.userIdByEmail(m.email());
                Instant now = clock.instant();
                userOfEmail.put(email, new Cached(id.orElse(null), now.plus(id.isPresent() ? TTL : MISS_TTL)));
                if (id.isPresent()) {
                    emailOfUser.put(id.get(), new Cached(m.email(), now.plus(TTL)));
                    found++;
                }
            } catch (dev.countersign.core.channel.ChannelException e) {
                if (e instanceof SlackApi.SlackError) continue;   // logged by SlackApi; the others may still work
                log.info("Slack directory warm-up stopped ({}); clicks are looked up one by one until the next round", e.getMessage());
                return;
            } catch (RuntimeException e) {
                log.warn("Slack directory warm-up: looking up {} failed: {}", m.id(), e.toString());
            }
        }
        log.debug("Slack directory warm-up: {} people found by e-mail", found);
    }

    /**
     * The configured person behind a Slack user id, if any.
     *
     * @throws Unavailable when Slack had to be asked and did not answer at once (429, outage, timeout)
     */
    public Optional<Directory.Member> personOf(String slackUserId) {
        if (slackUserId == null) return Optional.empty();
        Optional<Directory.Member> configured = directory.bySlackId(slackUserId);
        if (configured.isPresent()) return configured;
        Optional<String> email;
        try {
            email = cached(emailOfUser, slackUserId, quick::emailOf);
        } catch (RuntimeException e) {
            throw new Unavailable(slackUserId, e);
        }
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
