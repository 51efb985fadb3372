package dev.countersign.teams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.channel.ChannelPort;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * {@code POST /api/messages}: the activities Teams sends the bot (⑥). Authenticates each one, remembers where the
 * bot is installed and whom it has met, turns card clicks into decision commands and answers with the updated card,
 * and answers "pending" with the approvals waiting for the writer. Nothing is read or stored before the token is valid.
 * Only Teams activities are accepted: {@code channelId} {@value #CHANNEL_ID} (other Bot Framework channels, such as
 * Web Chat, get valid tokens too, but let the client choose {@code from}), and, for a single-tenant bot, only from
 * its tenant. Free of HTTP-server types: the server hands over the body and headers and writes back the {@link Response}.
 *
 * <p>Messages are answered at once (200) and the bot's reply is sent afterwards, from a small pool of its own: Bot
 * Framework gives up on a request after about 15 seconds, and a send may take longer. Invokes (card clicks) are
 * answered in the HTTP response itself. {@link #close} stops the pool.
 */
public final class TeamsBot implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TeamsBot.class);
    private static final Pattern MENTION = Pattern.compile("(?is)<at>.*?</at>");
    private static final Pattern TAG = Pattern.compile("<[^>]*>");
    static final int PENDING_LIMIT = 10;
    /** The only Bot Framework channel this bot serves. */
    public static final String CHANNEL_ID = "msteams";
    private static final int REPLY_THREADS = 2;
    private static final int REPLY_QUEUE = 500;

    private final TeamsSettings settings;
    private final ChannelPort port;
    private final BotAuthenticator auth;
    private final ConversationStore conversations;
    private final ConnectorClient connector;
    private final Cards cards;
    private final ThreadPoolExecutor replies;

    /** What to answer: the HTTP status, and a JSON body (null for none). */
    public record Response(int status, String body) {
        public static final String CONTENT_TYPE = "application/json";

        static Response empty() {
            return new Response(200, null);
        }

        static Response error(int status, String code, String message) {
            ObjectNode root = Activity.MAPPER.createObjectNode();
            root.putObject("error").put("code", code).put("message", message);
            return new Response(status, root.toString());
        }
    }

    public TeamsBot(TeamsSettings settings, ChannelPort port, BotAuthenticator auth, ConversationStore conversations, ConnectorClient connector) {
        this.settings = settings;
        this.port = port;
        this.auth = auth;
        this.conversations = conversations;
        this.connector = connector;
        this.cards = new Cards(port.directory(), conversations);
        AtomicInteger n = new AtomicInteger();
        this.replies = new ThreadPoolExecutor(REPLY_THREADS, REPLY_THREADS, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(REPLY_QUEUE), r -> {
            Thread t = new Thread(r, "teams-reply-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.replies.allowCoreThreadTimeOut(true);
    }

    /** Stops sending replies: those queued get a few seconds to go out. */
    @Override
    public void close() {
        replies.shutdown();
        try {
            if (!replies.awaitTermination(5, TimeUnit.SECONDS)) replies.shutdownNow();
        } catch (InterruptedException e) {
            replies.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** @param headers the request headers (names in any case) */
    public Response handle(byte[] body, Map<String, String> headers) {
        String authorization = header(headers, "Authorization");
        if (authorization == null) return Response.error(401, "unauthenticated", "no Bot Framework token (Authorization: Bearer …)");
        Activity activity;
        try {
            activity = Activity.MAPPER.readValue(body, Activity.class);
        } catch (java.io.IOException e) {
            return Response.error(400, "invalid_json", "the body is not a Bot Framework activity (JSON object)");
        }
        if (activity == null || activity.type() == null) return Response.error(400, "invalid_activity", "the activity has no type");
        BotAuthenticator.Result result = auth.authenticate(authorization, activity.serviceUrl(), activity.channelId());
        if (result instanceof BotAuthenticator.Result.Invalid invalid) {
            // Terse to the caller, which may be hostile; the reason goes to the log.
            log.warn("refused a Teams activity ({} {}): {}", activity.type(), activity.id(), invalid.reason());
            return Response.error(401, "invalid_token", "the Bot Framework token is not valid");
        }
        String refused = notOurs(activity);
        if (refused != null) {
            log.warn("refused a Bot Framework activity ({} {}): {}", activity.type(), activity.id(), refused);
            return Response.error(401, "invalid_token", "the Bot Framework token is not valid");
        }
        try {
            return switch (activity.type()) {
                case "conversationUpdate" -> conversationUpdate(activity);
                case "message" -> message(activity);
                case "invoke" -> invoke(activity);
                default -> Response.empty();
            };
        } catch (InvalidActivity e) {
            return Response.error(400, "invalid_activity", e.getMessage());
        }
    }

    /**
     * Why an authenticated activity is not for this bot, or null: another channel than Teams, or (when
     * {@code TEAMS_TENANT_ID} is set) another tenant, by either place Teams names it.
     */
    private String notOurs(Activity a) {
        if (!CHANNEL_ID.equals(a.channelId())) return "channel " + a.channelId() + " is not " + CHANNEL_ID;
        String tenant = settings.tenantId();
        if (tenant == null || tenant.isBlank()) return null;
        String inConversation = a.conversation() == null ? null : a.conversation().tenantId();
        String inChannelData = a.channelData() == null ? null : text(a.channelData().path("tenant").path("id"));
        if (inConversation == null && inChannelData == null) return "the activity names no tenant (this bot serves tenant " + tenant + ")";
        for (String t : new String[] {inConversation, inChannelData}) {
            if (t != null && !t.trim().equalsIgnoreCase(tenant.trim())) return "tenant " + t + " is not this bot's tenant " + tenant;
        }
        return null;
    }

    // ---- installation ---------------------------------------------------------------------------------------

    private Response conversationUpdate(Activity a) {
        requireConversation(a);
        if (containsBot(a.membersAdded(), a)) {
            conversations.saveConversation(new ConversationStore.ConversationRef(baseConversationId(a), a.conversationType(), a.serviceUrl(),
                    a.tenantId(), a.teamId()));
            log.info("Teams bot installed in {} conversation {}", a.conversationType(), baseConversationId(a));
        }
        if (a.membersAdded() != null) {
            for (Activity.Account m : a.membersAdded()) {
                if (m.aadObjectId() != null && m.id() != null && !m.id().startsWith("28:")) rememberUser(a, m);
            }
        }
        if (containsBot(a.membersRemoved(), a)) {
            conversations.forgetConversation(baseConversationId(a));
            log.info("Teams bot removed from conversation {}", baseConversationId(a));
        }
        return Response.empty();
    }

    // ---- messages: "pending", and card clicks from clients without Universal Actions --------------------------

    private Response message(Activity a) {
        requireConversation(a);
        rememberSender(a);
        Optional<Directory.Member> person = person(a);
        JsonNode value = a.value();
        if (value != null && value.path("approval").isTextual() && value.path("verb").isTextual()) {
            // Action.Submit fallback: the same decision; the core then updates every card.
            String approvalId = value.path("approval").textValue();
            Outcome o = decide(approvalId, value.path("verb").textValue(), comment(value, approvalId), a, person);
            reply(a, Activity.text(o.notice() == null ? "Done." : o.notice().text()));
            return Response.empty();
        }
        String text = a.text() == null ? "" : TAG.matcher(MENTION.matcher(a.text()).replaceAll(" ")).replaceAll(" ").trim().toLowerCase(Locale.ROOT);
        if (text.equals("pending") || text.equals("/pending")) {
            if (person.isEmpty()) {
                reply(a, Activity.card(ApprovalCard.message(notLinked(a).text(), ApprovalCard.Notice.Style.ATTENTION), "Not linked"));
            } else {
                List<Approval> waiting = port.waitingFor(person.get().id(), PENDING_LIMIT);
                reply(a, Activity.card(ApprovalCard.pendingList(waiting, port.directory(), person.get().person().name()),
                        waiting.size() + " approvals wait for you"));
            }
        } else {
            reply(a, Activity.text("I post approval requests from Countersign here. Write **pending** to see the ones waiting for you."));
        }
        return Response.empty();
    }

    // ---- invokes: Action.Execute clicks and card refreshes ----------------------------------------------------

    private Response invoke(Activity a) {
        if (!"adaptiveCard/action".equals(a.name())) return invokeError(400, "NotSupported", "this bot does not handle " + a.name());
        requireConversation(a);
        rememberSender(a);
        JsonNode action = a.value() == null ? null : a.value().path("action");
        if (action == null || !action.isObject()) return invokeError(400, "BadRequest", "the invoke has no value.action");
        String verb = text(action.path("verb"));
        String approvalId = text(action.path("data").path("approval"));
        if (approvalId == null || verb == null) return invokeError(400, "BadRequest", "this card action is not a Countersign approval action");
        Optional<Directory.Member> person = person(a);
        if (verb.equals(ApprovalCard.VERB_REFRESH)) {
            Optional<Approval> found = port.find(approvalId);
            if (found.isEmpty()) return invokeCard(ApprovalCard.message("No approval " + approvalId + ".", ApprovalCard.Notice.Style.ATTENTION));
            return invokeCard(cards.forViewer(found.get(), person.map(Directory.Member::id).orElse(null), null));
        }
        Outcome o = decide(approvalId, verb, comment(action.path("data"), approvalId), a, person);
        if (o.approval() == null) return invokeCard(ApprovalCard.message(o.notice().text(), o.notice().style()));
        return invokeCard(cards.forViewer(o.approval(), person.map(Directory.Member::id).orElse(null), o.notice()));
    }

    /**
     * The comment typed for this approval: the input {@code comment.<approval id>} (the "pending" list has one box
     * per approval, and a click sends every box), else {@code comment} (the card of one approval).
     */
    static String comment(JsonNode data, String approvalId) {
        String own = text(data.path(ApprovalCard.commentInputId(approvalId)));
        if (own != null) return own;
        return data.has(ApprovalCard.commentInputId(approvalId)) ? null : text(data.path(ApprovalCard.COMMENT_INPUT));
    }

    private record Outcome(Approval approval, ApprovalCard.Notice notice) {}

    private Outcome decide(String approvalId, String verb, String comment, Activity a, Optional<Directory.Member> person) {
        DecisionCommand.Verdict verdict = switch (verb) {
            case ApprovalCard.VERB_APPROVE -> DecisionCommand.Verdict.APPROVE;
            case ApprovalCard.VERB_REJECT -> DecisionCommand.Verdict.REJECT;
            default -> null;
        };
        if (verdict == null) return new Outcome(port.find(approvalId).orElse(null), attention("Unknown action '" + verb + "'."));
        if (person.isEmpty()) return new Outcome(port.find(approvalId).orElse(null), notLinked(a));
        DecisionResult r;
        try {
            r = port.decide(DecisionCommand.byPerson(approvalId, verdict, person.get().id(), DecidedVia.TEAMS, comment));
        } catch (InvalidInputException e) {
            return new Outcome(port.find(approvalId).orElse(null), attention("Nothing recorded: " + e.getMessage() + "."));
        }
        if (r instanceof DecisionResult.Decided d) {
            return new Outcome(d.approval(), new ApprovalCard.Notice("You " + (verdict == DecisionCommand.Verdict.APPROVE ? "approved" : "rejected")
                    + " this. The agent has been told.", ApprovalCard.Notice.Style.GOOD));
        }
        if (r instanceof DecisionResult.VoteCounted v) {
            return new Outcome(v.approval(), new ApprovalCard.Notice("Your approval is counted; " + v.remaining() + " more "
                    + (v.remaining() == 1 ? "is" : "are") + " needed.", ApprovalCard.Notice.Style.GOOD));
        }
        if (r instanceof DecisionResult.AlreadyDecided ad) {
            Decision d = ad.approval().decision();
            String who = d == null ? "" : d.by().channel().isPerson() ? " by " + d.by().name() + " (" + d.by().channel().wire() + ")" : " by the " + d.by().channel().wire();
            String when = d == null ? "" : " at " + ApprovalCard.when(d.at());
            return new Outcome(ad.approval(), new ApprovalCard.Notice("Too late: already " + ad.approval().status().wire() + who + when
                    + ". Your click changed nothing.", ApprovalCard.Notice.Style.WARNING));
        }
        DecisionResult.Refused refused = (DecisionResult.Refused) r;
        if (refused.reason() == DecisionResult.Reason.NOT_FOUND) return new Outcome(null, attention("No approval " + approvalId + "."));
        return new Outcome(port.find(approvalId).orElse(null), attention("Not recorded: " + refused.message()));
    }

    private ApprovalCard.Notice notLinked(Activity a) {
        String aad = a.from() == null ? null : a.from().aadObjectId();
        return attention("Your Teams account" + (aad == null ? "" : " (Entra object id " + aad + ")")
                + " is not linked to a person in Countersign's configuration (people[].teams), so you cannot decide approvals.");
    }

    private static ApprovalCard.Notice attention(String text) {
        return new ApprovalCard.Notice(text, ApprovalCard.Notice.Style.ATTENTION);
    }

    private static Response invokeCard(ObjectNode card) {
        ObjectNode root = Activity.MAPPER.createObjectNode().put("statusCode", 200).put("type", Activity.ADAPTIVE_CARD);
        root.set("value", card);
        return new Response(200, root.toString());
    }

    private static Response invokeError(int statusCode, String code, String message) {
        ObjectNode root = Activity.MAPPER.createObjectNode().put("statusCode", statusCode).put("type", "application/vnd.microsoft.error");
        root.putObject("value").put("code", code).put("message", message);
        return new Response(200, root.toString());
    }

    // ---- references --------------------------------------------------------------------------------------------

    private void rememberSender(Activity a) {
        if ("channel".equals(a.conversationType()) || "groupChat".equals(a.conversationType())) {
            // A message where the bot is proves it is installed there.
            conversations.saveConversation(new ConversationStore.ConversationRef(baseConversationId(a), a.conversationType(), a.serviceUrl(),
                    a.tenantId(), a.teamId()));
        }
        if (a.from() != null && a.from().aadObjectId() != null && a.from().id() != null) rememberUser(a, a.from());
    }

    private void rememberUser(Activity a, Activity.Account user) {
        String personal = "personal".equals(a.conversationType()) ? a.conversation().id() : null;
        try {
            conversations.saveUser(new ConversationStore.UserRef(user.aadObjectId(), user.id(), a.serviceUrl(), a.tenantId(), personal));
        } catch (RuntimeException e) {
            // Two first activities of one user at once: one of them stored it.
            log.debug("could not store Teams user {}: {}", user.aadObjectId(), e.toString());
        }
    }

    private Optional<Directory.Member> person(Activity a) {
        return a.from() == null ? Optional.empty() : port.directory().byTeamsId(a.from().aadObjectId());
    }

    private boolean containsBot(List<Activity.Account> members, Activity a) {
        if (members == null) return false;
        String recipient = a.recipient() == null ? null : a.recipient().id();
        return members.stream().anyMatch(m -> m.id() != null && (m.id().equals(recipient) || m.id().equals(settings.botId())));
    }

    /** Sends a reply after the request is answered (see the class comment); a failure is logged. */
    private void reply(Activity a, Activity message) {
        String serviceUrl = a.serviceUrl();
        String conversation = a.conversation().id();
        try {
            replies.execute(() -> {
                try {
                    connector.send(serviceUrl, conversation, message);
                } catch (RuntimeException e) {
                    log.warn("could not answer in Teams conversation {}: {}", conversation, e.getMessage());
                }
            });
        } catch (RejectedExecutionException e) {
            log.warn("not answering in Teams conversation {}: too many replies queued, or shutting down", conversation);
        }
    }

    /** A channel thread's conversation id carries {@code ;messageid=…}; the channel is what the part before it names. */
    private static String baseConversationId(Activity a) {
        String id = a.conversation().id();
        int i = id.indexOf(";messageid=");
        return i < 0 ? id : id.substring(0, i);
    }

    private static void requireConversation(Activity a) {
        if (a.conversation() == null || a.conversation().id() == null || a.conversation().id().isBlank()) throw new InvalidActivity("the activity has no conversation.id");
        if (a.serviceUrl() == null) throw new InvalidActivity("the activity has no serviceUrl");
    }

    private static final class InvalidActivity extends RuntimeException {
        InvalidActivity(String message) {
            super(message);
        }
    }

    private static String text(JsonNode n) {
        return n != null && n.isTextual() && !n.textValue().isBlank() ? n.textValue() : null;
    }

    private static String header(Map<String, String> headers, String name) {
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey() != null && e.getKey().equalsIgnoreCase(name)) return e.getValue();
        }
        return null;
    }
}
