package dev.countersign.teams;

import java.util.Optional;

/**
 * Where one card was posted, as kept in the core's post log: what it is ({@code channel}, or {@code dm:<person id>}),
 * the activity id, the service URL and the conversation. Encoded {@code v1|kind|activity|serviceUrl|conversation}
 * (the conversation id last: it is the only part that may hold any character).
 *
 * <p>The post log holds at most {@value #MAX} characters. A card must never be sent without being remembered (a
 * retry would post it again, and it could never be updated), so {@link #fits} is asked <em>before</em> sending,
 * keeping {@value #ACTIVITY_ID_RESERVE} characters for the activity id the Connector will answer (Teams' ids are far
 * shorter).
 */
public record PostRef(String kind, String activityId, String serviceUrl, String conversationId) {
    public static final String CHANNEL = "channel";
    /** The post_ref column. */
    static final int MAX = 500;
    /** Room kept for the activity id, which is known only once the card is sent. */
    static final int ACTIVITY_ID_RESERVE = 150;

    public static PostRef dm(String personId, String activityId, String serviceUrl, String conversationId) {
        return new PostRef("dm:" + personId, activityId, serviceUrl, conversationId);
    }

    public static String dmKind(String personId) {
        return "dm:" + personId;
    }

    public boolean isDmFor(String personId) {
        return kind.equals(dmKind(personId));
    }

    /** Whether a card posted to this conversation can be remembered, whatever (reasonable) activity id it gets. */
    public static boolean fits(String kind, String serviceUrl, String conversationId) {
        return encodedLength(kind, "", serviceUrl, conversationId) + ACTIVITY_ID_RESERVE <= MAX;
    }

    /** Whether {@link #encode} will succeed. */
    public boolean encodable() {
        return encodedLength(kind, activityId, serviceUrl, conversationId) <= MAX;
    }

    public String encode() {
        String s = "v1|" + kind + "|" + activityId + "|" + serviceUrl + "|" + conversationId;
        if (s.length() > MAX) throw new IllegalArgumentException("a Teams post reference is longer than " + MAX + " characters: " + s.length());
        return s;
    }

    private static int encodedLength(String kind, String activityId, String serviceUrl, String conversationId) {
        return 3 + String.valueOf(kind).length() + 1 + String.valueOf(activityId).length() + 1 + String.valueOf(serviceUrl).length() + 1
                + String.valueOf(conversationId).length();
    }

    public static Optional<PostRef> decode(String ref) {
        String[] p = ref.split("\\|", 5);
        if (p.length != 5 || !p[0].equals("v1")) return Optional.empty();
        return Optional.of(new PostRef(p[1], p[2], p[3], p[4]));
    }
}
