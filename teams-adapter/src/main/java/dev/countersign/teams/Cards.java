package dev.countersign.teams;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.Directory;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** Renders approval cards with what only the running channel knows: which approvers Teams can refresh the card for. */
final class Cards {
    private final Directory directory;
    private final ConversationStore conversations;

    Cards(Directory directory, ConversationStore conversations) {
        this.directory = directory;
        this.conversations = conversations;
    }

    /** The card everyone in a conversation sees: buttons while pending (a click by someone who may not decide is refused). */
    ObjectNode shared(Approval a, ApprovalCard.Notice notice) {
        return ApprovalCard.approval(a, directory, notice, true, refreshUserIds(a));
    }

    /** The card one person sees: buttons only when they may decide now. */
    ObjectNode forViewer(Approval a, String personId, ApprovalCard.Notice notice) {
        return ApprovalCard.approval(a, directory, notice, personId != null && a.waitsFor(personId, directory), refreshUserIds(a));
    }

    /**
     * The Teams user ids ({@code 29:…}) of the approvers the bot has met: their clients ask for the current card
     * (the user-specific view) whenever they show it. At most 60, as Teams allows.
     */
    List<String> refreshUserIds(Approval a) {
        if (!a.isPending()) return List.of();
        return a.approvers().stream()
                .map(p -> directory.member(p.id()).map(Directory.Member::teamsId).orElse(null))
                .filter(Objects::nonNull)
                .map(conversations::user).flatMap(Optional::stream)
                .map(ConversationStore.UserRef::userId)
                .distinct().limit(ApprovalCard.MAX_REFRESH_USERS).toList();
    }

    Directory directory() {
        return directory;
    }
}
