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
 * its post log already holds and {@link #update} renders the approval as it now stands.
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
        String activityId = connector.send(serviceUrl, target, Activity.card(card(a, null), summary(a)));
        posts.remember(new PostRef(PostRef.CHANNEL, activityId, serviceUrl, target).encode());
    }

    @Override
    public void update(Approval a, PostLog posts) {
        RuntimeException first = null;
        for (PostRef ref : refs(posts)) {
            ApprovalCard.Notice notice = ref.kind().startsWith("dm:") && a.isPending() ? why(a) : null;
            try {
                connector.update(ref.serviceUrl(), ref.conversationId(), ref.activityId(), Activity.card(card(a, notice), summary(a)));
            } catch (ChannelException e) {
                if (e.retryAfter().isPresent()) throw e; // throttled: the rest would be too
                if (first == null) first = e;
                log.warn("approval {}: updating the Teams card {} failed: {}", a.id(), ref.activityId(), e.getMessage());
            }
        }
        if (first != null) throw first;
    }

    @Override
    public void notifyEscalation(Approval a, List<Person> newlyEligible, PostLog posts) {
        if (!a.isPending()) return;
        Directory directory = port.directory();
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
            ConversationStore.UserRef u = user.get();
            String conversation = u.personalConversationId();
            if (conversation == null) {
                conversation = connector.createPersonalConversation(u.serviceUrl(), settings.botId(), u.userId(), u.tenantId());
                conversations.saveUser(new ConversationStore.UserRef(u.aadObjectId(), u.userId(), u.serviceUrl(), u.tenantId(), conversation));
            }
            String activityId = connector.send(u.serviceUrl(), conversation, Activity.card(card(a, why(a)), "Approval escalated to you: " + a.action().summary()));
            posts.remember(PostRef.dm(p.id(), activityId, u.serviceUrl(), conversation).encode());
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
