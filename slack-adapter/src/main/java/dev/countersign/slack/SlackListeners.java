package dev.countersign.slack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.slack.api.app_backend.interactive_components.payload.BlockActionPayload;
import com.slack.api.app_backend.views.payload.ViewSubmissionPayload;
import com.slack.api.bolt.App;
import com.slack.api.bolt.context.builtin.ViewSubmissionContext;
import com.slack.api.bolt.request.builtin.BlockActionRequest;
import com.slack.api.bolt.request.builtin.SlashCommandRequest;
import com.slack.api.bolt.request.builtin.ViewSubmissionRequest;
import com.slack.api.bolt.context.builtin.ActionContext;
import com.slack.api.bolt.context.builtin.SlashCommandContext;
import com.slack.api.bolt.response.Response;
import com.slack.api.model.view.ViewState;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.channel.ChannelPort;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionResult;
import dev.countersign.core.store.Json;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * The Bolt listeners, the same for HTTP and Socket Mode: a click, the comment modal's submission and
 * {@code /pending} each become one core call, answered within Slack's 3 seconds; replies that can wait
 * (ephemeral notes) go to {@code after}. The messages themselves are brought up to date by the core's fan-out
 * ({@link SlackChannel#update}), not here.
 */
final class SlackListeners {
    private static final Logger log = LoggerFactory.getLogger(SlackListeners.class);
    static final String COMMAND = "/pending";
    private static final int LIST_LIMIT = BlockKitRenderer.LIST_SIZE + 1;

    private final ChannelPort port;
    private final SlackDirectory people;
    private final SlackApi api;
    private final BlockKitRenderer render;
    private final Executor after;

    SlackListeners(ChannelPort port, SlackDirectory people, SlackApi api, BlockKitRenderer render, Executor after) {
        this.port = port;
        this.people = people;
        this.api = api;
        this.render = render;
        this.after = after;
    }

    void register(App app) {
        app.blockAction(BlockKitRenderer.APPROVE, (req, ctx) -> safely(req, ctx, () -> click(req, ctx, DecisionCommand.Verdict.APPROVE)));
        app.blockAction(BlockKitRenderer.REJECT, (req, ctx) -> safely(req, ctx, () -> click(req, ctx, DecisionCommand.Verdict.REJECT)));
        app.blockAction(BlockKitRenderer.COMMENT, (req, ctx) -> safely(req, ctx, () -> openModal(req, ctx)));
        // The "Open in browser" button is a link; Slack still reports the click, which needs only an ack.
        app.blockAction(BlockKitRenderer.OPEN, (req, ctx) -> ctx.ack());
        app.viewSubmission(BlockKitRenderer.MODAL, this::submit);
        app.command(COMMAND, this::pending);
    }

    /**
     * A click is always acked, whatever fails: an unacked click shows the person an error in Slack, and a 500 makes
     * Slack send it again. What failed is logged, and the person is told to try again.
     */
    private Response safely(BlockActionRequest req, ActionContext ctx, java.util.function.Supplier<Response> handler) {
        try {
            return handler.get();
        } catch (RuntimeException e) {
            String approvalId = null;
            try {
                approvalId = req.getPayload().getActions().get(0).getValue();
                new Reply(req.getPayload()).note(approvalId, e instanceof SlackDirectory.Unavailable ? CANNOT_CHECK
                        : "⚠️ Something went wrong handling your click; it has been logged. Try again, or decide on the web page.");
            } catch (RuntimeException ignored) {
                // nothing more to tell
            }
            if (e instanceof SlackDirectory.Unavailable) log.warn("Slack click on approval {}: {}", approvalId, e.getMessage());
            else log.error("Slack click on approval {} failed", approvalId, e);
            return ctx.ack();
        }
    }

    static final String CANNOT_CHECK = "⏳ Countersign couldn't check who you are in Slack right now. Try again in a moment.";

    // ------------------------------------------------------------------ ⑥ a click

    private Response click(BlockActionRequest req, ActionContext ctx, DecisionCommand.Verdict verdict) {
        BlockActionPayload p = req.getPayload();
        String approvalId = p.getActions().get(0).getValue();
        String slackUser = p.getUser().getId();
        Reply reply = new Reply(p);
        Optional<Directory.Member> person = people.personOf(slackUser);
        if (person.isEmpty()) {
            reply.note(approvalId, unknownPerson(slackUser));
            return ctx.ack();
        }
        DecisionResult result = decide(approvalId, verdict, person.get(), null);
        if (result instanceof DecisionResult.Decided d) {
            log.info("approval {} {} by {} in Slack", approvalId, d.approval().status().wire(), person.get().id());
            // A list answered to /pending is ephemeral: chat.update cannot reach it, its response_url can.
            if (reply.ephemeral) reply.replace(approvalId, render.approval(d.approval(), null));
        } else if (result instanceof DecisionResult.VoteCounted v) {
            reply.note(approvalId, "👍 Your approval is counted: " + v.remaining()
                    + (v.remaining() == 1 ? " more approval is" : " more approvals are") + " needed.");
        } else if (result instanceof DecisionResult.AlreadyDecided ad) {
            reply.note(approvalId, alreadyDecided(ad.approval()));
        } else if (result instanceof DecisionResult.Refused r) {
            reply.note(approvalId, refused(r));
        }
        return ctx.ack();
    }

    private DecisionResult decide(String approvalId, DecisionCommand.Verdict verdict, Directory.Member person, String comment) {
        try {
            return port.decide(DecisionCommand.byPerson(approvalId, verdict, person.id(), DecidedVia.SLACK, comment));
        } catch (InvalidInputException e) {
            return new DecisionResult.Refused(DecisionResult.Reason.NOT_ALLOWED, e.getMessage());
        }
    }

    // ------------------------------------------------------------------ "Add comment…" and the modal

    private Response openModal(BlockActionRequest req, ActionContext ctx) {
        BlockActionPayload p = req.getPayload();
        String approvalId = p.getActions().get(0).getValue();
        Reply reply = new Reply(p);
        Optional<Approval> found = port.find(approvalId);
        if (found.isEmpty()) {
            reply.note(approvalId, "This approval no longer exists.");
            return ctx.ack();
        }
        if (!found.get().isPending()) {
            reply.note(approvalId, alreadyDecided(found.get()));
            return ctx.ack();
        }
        ObjectNode meta = Json.MAPPER.createObjectNode().put("id", approvalId);
        if (p.getContainer() != null && p.getContainer().isEphemeral() && api.trustedResponseUrl(p.getResponseUrl())) meta.put("r", p.getResponseUrl());
        try {
            // Within the 3 s the trigger_id lives: before the ack.
            api.openView(p.getTriggerId(), render.commentModal(found.get(), meta.toString()).toString(), approvalId);
        } catch (RuntimeException e) {
            reply.note(approvalId, "Slack did not open the comment form (" + e.getMessage() + "). Try again, or decide on the web page: "
                    + render.webUrl(approvalId));
        }
        return ctx.ack();
    }

    private Response submit(ViewSubmissionRequest req, ViewSubmissionContext ctx) {
        ViewSubmissionPayload p = req.getPayload();
        String approvalId;
        try {
            approvalId = Json.MAPPER.readTree(p.getView().getPrivateMetadata()).path("id").asText(null);
        } catch (Exception e) {
            approvalId = null;
        }
        if (approvalId == null) return ctx.ackWithErrors(Map.of(BlockKitRenderer.MODAL_COMMENT_BLOCK, "This form has lost track of its request; close it and click again."));
        Map<String, Map<String, ViewState.Value>> values = p.getView().getState() == null ? Map.of() : p.getView().getState().getValues();
        ViewState.Value verdictValue = values.getOrDefault(BlockKitRenderer.MODAL_VERDICT_BLOCK, Map.of()).get(BlockKitRenderer.MODAL_VERDICT);
        ViewState.Value commentValue = values.getOrDefault(BlockKitRenderer.MODAL_COMMENT_BLOCK, Map.of()).get(BlockKitRenderer.MODAL_COMMENT);
        String choice = verdictValue == null || verdictValue.getSelectedOption() == null ? null : verdictValue.getSelectedOption().getValue();
        String comment = commentValue == null || commentValue.getValue() == null || commentValue.getValue().isBlank() ? null : commentValue.getValue().strip();
        if (choice == null || !(choice.equals("approve") || choice.equals("reject"))) {
            return ctx.ackWithErrors(Map.of(BlockKitRenderer.MODAL_VERDICT_BLOCK, "Choose Approve or Reject."));
        }
        DecisionCommand.Verdict verdict = choice.equals("approve") ? DecisionCommand.Verdict.APPROVE : DecisionCommand.Verdict.REJECT;
        if (verdict == DecisionCommand.Verdict.REJECT && comment == null) {
            return ctx.ackWithErrors(Map.of(BlockKitRenderer.MODAL_COMMENT_BLOCK, "Say why you reject it: the agent reads this."));
        }
        if (comment != null && comment.length() > BlockKitRenderer.MAX_COMMENT) {
            return ctx.ackWithErrors(Map.of(BlockKitRenderer.MODAL_COMMENT_BLOCK, "Keep the comment under " + BlockKitRenderer.MAX_COMMENT + " characters."));
        }
        Optional<Directory.Member> person;
        DecisionResult result;
        try {
            person = people.personOf(p.getUser().getId());
            if (person.isEmpty()) return ctx.ackWithErrors(Map.of(BlockKitRenderer.MODAL_VERDICT_BLOCK, plainUnknown(p.getUser().getId())));
            result = decide(approvalId, verdict, person.get(), comment);
        } catch (RuntimeException e) {
            if (e instanceof SlackDirectory.Unavailable) log.warn("Slack modal for approval {}: {}", approvalId, e.getMessage());
            else log.error("Slack modal for approval {} failed", approvalId, e);
            return ctx.ackWithErrors(Map.of(BlockKitRenderer.MODAL_VERDICT_BLOCK, e instanceof SlackDirectory.Unavailable ? plain(CANNOT_CHECK)
                    : "Something went wrong; it has been logged. Try again, or decide on the web page."));
        }
        String errorText = null;
        if (result instanceof DecisionResult.Decided d) {
            log.info("approval {} {} by {} in Slack (with comment)", approvalId, d.approval().status().wire(), person.get().id());
            respondToList(p.getView().getPrivateMetadata(), d.approval());
        } else if (result instanceof DecisionResult.AlreadyDecided ad) {
            errorText = plain(alreadyDecided(ad.approval()));
        } else if (result instanceof DecisionResult.Refused r) {
            errorText = plain(refused(r));
        }
        if (errorText != null) return ctx.ackWithErrors(Map.of(BlockKitRenderer.MODAL_VERDICT_BLOCK, errorText));
        return ctx.ack();
    }

    /** When the modal was opened from an ephemeral /pending list, replace that entry with the outcome. */
    private void respondToList(String privateMetadata, Approval decided) {
        try {
            JsonNode meta = Json.MAPPER.readTree(privateMetadata);
            String url = meta.path("r").asText(null);
            if (url != null) {
                String body = render.approval(decided, null).asResponse(null, true).toString();
                after.execute(() -> api.respond(url, body, decided.id()));
            }
        } catch (Exception e) {
            log.debug("no list to update for approval {}: {}", decided.id(), e.toString());
        }
    }

    // ------------------------------------------------------------------ /pending

    private Response pending(SlashCommandRequest req, SlashCommandContext ctx) {
        var p = req.getPayload();
        boolean all = p.getText() != null && p.getText().trim().equalsIgnoreCase("all");
        BlockKitRenderer.Message m;
        try {
            Optional<Directory.Member> person = people.personOf(p.getUserId());
            if (person.isEmpty()) {
                m = render.note(unknownPerson(p.getUserId()));
            } else {
                var list = all ? port.pendingVisibleTo(person.get().id(), LIST_LIMIT) : port.waitingFor(person.get().id(), LIST_LIMIT);
                m = render.pendingList(list, all, person.get().id());
            }
        } catch (SlackDirectory.Unavailable e) {
            log.warn("Slack {}: {}", COMMAND, e.getMessage());
            m = render.note(CANNOT_CHECK);
        } catch (RuntimeException e) {
            log.error("Slack {} failed", COMMAND, e);
            m = render.note("⚠️ Something went wrong listing your requests; it has been logged. Try again, or use the web page.");
        }
        return json(m.asResponse("ephemeral", false).toString());
    }

    private static Response json(String body) {
        return Response.builder().statusCode(200).contentType("application/json; charset=utf-8").body(body).build();
    }

    // ------------------------------------------------------------------ what people are told

    private static String unknownPerson(String slackUser) {
        return "🚫 Your Slack account (<@" + slackUser + ">) is not linked to a person in Countersign's configuration, so you cannot "
                + "decide here. An operator can add `slack: " + slackUser + "` (or your Slack e-mail) to your entry under `people`.";
    }

    private static String plainUnknown(String slackUser) {
        return "Your Slack account (" + slackUser + ") is not linked to a person in Countersign's configuration.";
    }

    static String alreadyDecided(Approval a) {
        Decision d = a.decision();
        if (d == null) return "This request is already " + a.status().wire() + ".";
        return switch (a.status()) {
            case EXPIRED -> "⌛ Too late: this request expired (nobody decided in time).";
            case CANCELLED -> "🚫 The agent cancelled this request.";
            default -> "ℹ️ Already " + a.status().wire() + " by " + Mrkdwn.literal(d.by().name()) + " (" + d.by().channel().wire() + ").";
        };
    }

    private static String refused(DecisionResult.Refused r) {
        return "🚫 You cannot decide this request: " + Mrkdwn.literal(r.message()) + ".";
    }

    /** The modal shows errors as plain text: drop our mrkdwn emphasis and entities. */
    private static String plain(String mrkdwnText) {
        return mrkdwnText.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replaceAll("<!date\\^0\\^\\{_}\\|(.)>", "$1");
    }

    /** Where a note for the clicker goes: the interaction's response_url, else chat.postEphemeral. */
    private final class Reply {
        final String responseUrl;
        final String channel;
        final String user;
        final boolean ephemeral;

        Reply(BlockActionPayload p) {
            // Only Slack's own response_urls are followed; otherwise the note goes by chat.postEphemeral.
            this.responseUrl = api.trustedResponseUrl(p.getResponseUrl()) ? p.getResponseUrl() : null;
            this.channel = p.getChannel() != null ? p.getChannel().getId() : p.getContainer() == null ? null : p.getContainer().getChannelId();
            this.user = p.getUser().getId();
            this.ephemeral = p.getContainer() != null && p.getContainer().isEphemeral();
        }

        void note(String approvalId, String mrkdwnText) {
            BlockKitRenderer.Message m = render.note(mrkdwnText);
            send(approvalId, m, false);
        }

        void replace(String approvalId, BlockKitRenderer.Message m) {
            send(approvalId, m, true);
        }

        private void send(String approvalId, BlockKitRenderer.Message m, boolean replaceOriginal) {
            after.execute(() -> {
                if (responseUrl != null) {
                    api.respond(responseUrl, m.asResponse("ephemeral", replaceOriginal).toString(), approvalId);
                } else if (channel != null) {
                    try {
                        api.postEphemeral(channel, user, m.text(), m.blocksJson(), approvalId);
                    } catch (RuntimeException e) {
                        log.warn("could not tell Slack user {} about approval {}: {}", user, approvalId, e.getMessage());
                    }
                }
            });
        }
    }
}
