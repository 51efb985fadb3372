package dev.countersign.slack;

/**
 * Agent-supplied text inside Slack {@code mrkdwn}, shown literally. Slack reads {@code &}, {@code <} and {@code >}
 * as markup (links, {@code <!channel>} mentions), so they are escaped as entities, the only escaping Slack decodes.
 * Slack has no escape for the formatting characters {@code * _ ~ `}; each is wrapped as the fallback of an invalid
 * date token ({@code <!date^0^{_}|*>}), which Slack clients always render as plain text.
 */
public final class Mrkdwn {
    private Mrkdwn() {}

    /** {@code text} as mrkdwn that displays exactly {@code text}: no mentions, links or formatting. */
    public static String literal(String text) {
        if (text == null) return "";
        StringBuilder out = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '*', '_', '~', '`' -> out.append("<!date^0^{_}|").append(c).append('>');
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    /**
     * {@code text} for the inside of a {@code ```} code block: Slack shows formatting characters there as they are,
     * so only the entities are escaped, and a backtick (which could close the block) becomes a look-alike.
     */
    public static String code(String text) {
        if (text == null) return "";
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('`', 'ˋ');
    }

    /**
     * The longest literal rendering of {@code text} that fits {@code max} characters, with {@code note} appended
     * when something was cut. Never splits an escape or a surrogate pair.
     */
    public static String fit(String text, int max, java.util.function.UnaryOperator<String> render, String note) {
        if (text == null) return "";
        String whole = render.apply(text);
        if (whole.length() <= max) return whole;
        int lo = 0, hi = text.length();
        // Binary search on the raw length: the rendered length only grows with it.
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (render.apply(safePrefix(text, mid)).length() + note.length() <= max) lo = mid; else hi = mid - 1;
        }
        return render.apply(safePrefix(text, lo)) + note;
    }

    /** At most {@code n} chars of {@code s} without a lone high surrogate at the end. */
    public static String safePrefix(String s, int n) {
        if (n >= s.length()) return s;
        if (n > 0 && Character.isHighSurrogate(s.charAt(n - 1))) n--;
        return s.substring(0, n);
    }

    /** Plain text cut to {@code max} chars with an ellipsis (for plain_text objects: buttons, headers, options). */
    public static String plainCut(String s, int max) {
        if (s == null) return "";
        if (s.length() <= max) return s;
        return safePrefix(s, max - 1) + "…";
    }
}
