package dev.countersign.server.web;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Browser sessions, kept in this server's memory: a restart signs everyone out, and on several nodes a browser
 * must come back to the node that signed it in (sticky sessions) until sessions move to the database.
 * The cookie holds only a random id; the person, the CSRF token and a sign-in in progress stay on the server.
 */
final class Sessions {
    static final String COOKIE = "cs_session";
    /** How long a sign-in lasts, however active: a day's work. */
    static final Duration MAX_AGE = Duration.ofHours(12);
    /** A session nobody signed in to (a sign-in page left open, a bot) is dropped after this, so they cannot pile up. */
    static final Duration ANONYMOUS_AGE = Duration.ofMinutes(15);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A sign-in under way: what the callback must see again (OIDC state, nonce, PKCE verifier) and where to go after. */
    record PendingSignIn(String state, String nonce, String codeVerifier, String returnTo) {}

    static final class Session {
        final String id;
        final String csrf;
        final Instant created;
        volatile String personId;
        volatile PendingSignIn pending;

        private Session(String id, Instant created) {
            this.id = id;
            this.csrf = random();
            this.created = created;
        }

        boolean signedIn() {
            return personId != null;
        }

        /** Constant-time comparison: the token must not leak through timing. */
        boolean csrfMatches(String token) {
            return token != null && MessageDigest.isEqual(csrf.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                    token.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
    }

    private final Map<String, Session> byId = new ConcurrentHashMap<>();
    private final Clock clock;

    Sessions(Clock clock) {
        this.clock = clock;
    }

    Optional<Session> find(String id) {
        if (id == null) return Optional.empty();
        Session s = byId.get(id);
        if (s == null) return Optional.empty();
        if (s.created.plus(s.signedIn() ? MAX_AGE : ANONYMOUS_AGE).isBefore(clock.instant())) {
            byId.remove(id);
            return Optional.empty();
        }
        return Optional.of(s);
    }

    Session create() {
        purge();
        Session s = new Session(random(), clock.instant());
        byId.put(s.id, s);
        return s;
    }

    /** Signs a person in on a fresh session id, dropping the old one (no session fixation). */
    Session signIn(Session old, String personId) {
        if (old != null) byId.remove(old.id);
        Session s = create();
        s.personId = personId;
        return s;
    }

    void remove(Session s) {
        if (s != null) byId.remove(s.id);
    }

    private volatile Instant lastPurge = Instant.EPOCH;

    private void purge() {
        Instant now = clock.instant();
        if (now.isBefore(lastPurge.plusSeconds(30))) return;
        lastPurge = now;
        byId.values().removeIf(s -> s.created.plus(s.signedIn() ? MAX_AGE : ANONYMOUS_AGE).isBefore(now));
    }

    static String random() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
