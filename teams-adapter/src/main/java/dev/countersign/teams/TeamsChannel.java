package dev.countersign.teams;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Person;
import dev.countersign.core.channel.Channel;
import dev.countersign.core.channel.ChannelException;
import dev.countersign.core.channel.ChannelPort;
import dev.countersign.core.channel.PostLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Approvals in Teams (⑤ ⑧): a card in the rule's {@code teams_conversation} (or the configured approval
 * conversation), every card kept in step with the approval, and a 1:1 card to each person an escalation reaches.
 * Durable: the core calls it from its task queue and calls again after a failure, so {@link #publish} skips what
 * its post log already holds and {@link #update} renders the approval as it now stands. Each card and each DM is
 * tried on its own: a permanent refusal (400, 403, 404) is logged and skipped; a 429 or a transient failure is thrown
 * once the others were tried, so the core tries again later.
 */
public final class TeamsChannel implements Channel {
    private static final Logger log = LoggerFactory.getLogger(TeamsChannel.class);
    /** How long to wait before trying again to post where the bot is not (yet) installed. */
    static final Duration NOT_INSTALLED_RETRY = Duration.ofMinutes(1);

    private final TeamsSettings settings;
    private final ChannelPort port;
    private final ConversationStore conversations;
    private final ConnectorClient connector;
    private final Cards cards;

    public TeamsChannel(TeamsSettings settings, ChannelPort port, ConversationStore conversations, ConnectorClient connector) {
        this.settings = settings;
        this.port = port;
        this.conversations = conversations;
        this.connector = connector;
        this.cards = new Cards(port.directory(), conversations);
    }

    @Override
    public String name() {
        return "teams";
    }

    @Override
    public boolean durable() {
        return true;
    }

    @Override
    public void publish(Approval a, PostLog posts) {
        String target = a.plan().channelTargets().get(name());
        if (target == null || target.isBlank()) target = settings.approvalConversation();
        if (target == null) {
            log.debug("approval {}: no Teams conversation configured (channels.teams.approval_conversation or the rule's teams_conversation)", a.id());
            return;
        }
        if (refs(posts).stream().anyMatch(r -> r.kind().equals(PostRef.CHANNEL))) return; // posted before a retry
        String where = target;
        String serviceUrl = conversations.conversation(target).map(ConversationStore.ConversationRef::serviceUrl)
                .orElseThrow(() -> new ChannelException("the Teams bot is not installed in conversation " + where
                        + ": add the Countersign app to that team; the approval is posted once it is", NOT_INSTALLED_RETRY, null));
        Failures failures = new Failures(a);
        try {
            post(a, posts, PostRef.CHANNEL, serviceUrl, target, Activity.card(card(a, null), summary(a)));
        } catch (RuntimeException e) {
            failures.add(e, "posting the card to conversation " + target);
        }
        failures.rethrow();
    }

    @Override
    public void update(Approval a, PostLog posts) {
        // Each card on its own: a card deleted (404) or a conversation the bot was removed from (403) is skipped for
        // good, and does not hold back the others; only what may work later (429, network, 5xx) is retried.
        Failures failures = new Failures(a);
        for (PostRef ref : refs(posts)) {
            ApprovalCard.Notice notice = ref.kind().startsWith("dm:") && a.isPending() ? why(a) : null;
            try {
                connector.update(ref.serviceUrl(), ref.conversationId(), ref.activityId(), Activity.card(card(a, notice), summary(a)));
            } catch (RuntimeException e) {
                failures.add(e, "updating the card " + ref.activityId() + " in conversation " + ref.conversationId());
            }
        }
        failures.rethrow();
    }

    @Override
    public void notifyEscalation(Approval a, List<Person> newlyEligible, PostLog posts) {
        if (!a.isPending()) return;
        Directory directory = port.directory();
        Failures failures = new Failures(a);
        for (Person p : newlyEligible) {
            if (refs(posts).stream().anyMatch(r -> r.isDmFor(p.id()))) continue; // sent before a retry
            Optional<String> aad = directory.member(p.id()).map(Directory.Member::teamsId);
            if (aad.isEmpty()) {
                log.info("approval {}: {} has no Teams id (people[].teams), so no Teams DM", a.id(), p.id());
                continue;
            }
            Optional<ConversationStore.UserRef> user = conversations.user(aad.get());
            if (user.isEmpty()) {
                log.warn("approval {}: cannot DM {} in Teams: the bot has not met them yet (install the app for them, or have them message it once)",
                        a.id(), p.id());
                continue;
            }
            try {
                ConversationStore.UserRef u = user.get();
                String conversation = u.personalConversationId();
                if (conversation == null) {
                    conversation = connector.createPersonalConversation(u.serviceUrl(), settings.botId(), u.userId(), u.tenantId());
                    conversations.saveUser(new ConversationStore.UserRef(u.aadObjectId(), u.userId(), u.serviceUrl(), u.tenantId(), conversation));
                }
                post(a, posts, PostRef.dmKind(p.id()), u.serviceUrl(), conversation,
                        Activity.card(card(a, why(a)), "Approval escalated to you: " + a.action().summary()));
            } catch (RuntimeException e) {
                failures.add(e, "sending the escalation DM to " + p.id());
            }
        }
        failures.rethrow();
    }

    /**
     * Sends a card and remembers it. A conversation whose reference could not be kept is not posted to at all: a card
     * sent but not remembered would be posted again on a retry and never updated.
     */
    private void post(Approval a, PostLog posts, String kind, String serviceUrl, String conversation, Activity activity) {
        if (!PostRef.fits(kind, serviceUrl, conversation)) {
            throw new ConnectorException("the reference of conversation " + ApprovalCard.cut(conversation, 60) + " is too long to keep ("
                    + PostRef.MAX + " characters), so no card is posted there", 400, null, null);
        }
        String activityId = connector.send(serviceUrl, conversation, activity);
        PostRef ref = new PostRef(kind, activityId, serviceUrl, conversation);
        if (!ref.encodable()) {
            // Not thrown: a retry would post the card a second time. It stays as sent, without later updates.
            log.error("approval {}: the Teams card was posted to {} but its activity id ({} characters) is too long to keep; it will not be updated",
                    a.id(), ApprovalCard.cut(conversation, 60), activityId == null ? 0 : activityId.length());
            return;
        }
        posts.remember(ref.encode());
    }

    /**
     * The failures of one call, target by target. Permanent ones (400, 403, 404) are logged and dropped; the call
     * then fails with a 429 (the longest Retry-After) if there was one, else with the first other failure, so the core
     * tries again later — and skips, through the post log, what was done meanwhile.
     */
    private static final class Failures {
        private final Approval approval;
        private RuntimeException throttled;
        private RuntimeException transientFailure;

        Failures(Approval approval) {
            this.approval = approval;
        }

        void add(RuntimeException e, String what) {
            if (e instanceof ConnectorException ce && ce.permanent()) {
                // the message names the method, URL and Teams' error body: no token, no secret
                log.warn("approval {}: {} failed for good ({}), skipping it: {}", approval.id(), what, ce.status(), ce.getMessage());
                return;
            }
            log.warn("approval {}: {} failed, will try again: {}", approval.id(), what, e.getMessage());
            Optional<Duration> wait = e instanceof ChannelException ce ? ce.retryAfter() : Optional.empty();
            if (wait.isPresent()) {
                if (throttled == null || wait.get().compareTo(((ChannelException) throttled).retryAfter().orElse(Duration.ZERO)) > 0) throttled = e;
            } else if (transientFailure == null) {
                transientFailure = e;
            }
        }

        void rethrow() {
            if (throttled != null) throw throttled;
            if (transientFailure != null) throw transientFailure;
        }
    }

    /** Why an escalation DM reached its reader. */
    static ApprovalCard.Notice why(Approval a) {
        return new ApprovalCard.Notice("This reached you because nobody decided it in time: it escalated (step " + a.escalationLevel()
                + ") and you may now decide it.", ApprovalCard.Notice.Style.WARNING);
    }

    private ObjectNode card(Approval a, ApprovalCard.Notice notice) {
        return cards.shared(a, notice);
    }

    private static List<PostRef> refs(PostLog posts) {
        List<PostRef> out = new ArrayList<>();
        for (String r : posts.refs()) PostRef.decode(r).ifPresent(out::add);
        return out;
    }

    static String summary(Approval a) {
        return ApprovalCard.cut(a.action().summary(), 200);
    }
}
