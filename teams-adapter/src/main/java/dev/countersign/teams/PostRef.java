package dev.countersign.teams;

import java.util.Optional;

/**
 * Where one card was posted, as kept in the core's post log: what it is ({@code channel}, or {@code dm:<person id>}),
 * the activity id, the service URL and the conversation. Encoded {@code v1|kind|activity|serviceUrl|conversation}
 * (the conversation id last: it is the only part that may hold any character).
 */
public record PostRef(String kind, String activityId, String serviceUrl, String conversationId) {
    public static final String CHANNEL = "channel";
    private static final int MAX = 500; // the post_ref column

    public static PostRef dm(String personId, String activityId, String serviceUrl, String conversationId) {
        return new PostRef("dm:" + personId, activityId, serviceUrl, conversationId);
    }

    public boolean isDmFor(String personId) {
        return kind.equals("dm:" + personId);
    }

    public String encode() {
        String s = "v1|" + kind + "|" + activityId + "|" + serviceUrl + "|" + conversationId;
        if (s.length() > MAX) throw new IllegalArgumentException("a Teams post reference is longer than " + MAX + " characters: " + s.length());
        return s;
    }

    public static Optional<PostRef> decode(String ref) {
        String[] p = ref.split("\\|", 5);
        if (p.length != 5 || !p[0].equals("v1")) return Optional.empty();
        return Optional.of(new PostRef(p[1], p[2], p[3], p[4]));
    }
}
