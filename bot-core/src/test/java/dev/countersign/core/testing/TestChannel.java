package dev.countersign.core.testing;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Person;
import dev.countersign.core.channel.Channel;
import dev.countersign.core.channel.PostLog;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionPort;
import dev.countersign.core.decide.DecisionResult;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A channel that records every call the core makes, with the approval as it stood then. Like a real
 * adapter it remembers a post reference on publish, and hands "clicks" back through its DecisionPort.
 */
public final class TestChannel implements Channel {

    /** One call: {@code kind} is publish, update or escalation; {@code refs} what the PostLog held at the time. */
    public record Call(String kind, Approval approval, List<Person> people, List<String> refs) {
    }

    private final DecisionPort decisions;
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    public TestChannel(DecisionPort decisions) {
        this.decisions = decisions;
    }

    @Override
    public String name() {
        return "test";
    }

    @Override
    public void publish(Approval approval, PostLog posts) {
        posts.remember("msg-" + approval.id());
        calls.add(new Call("publish", approval, List.of(), posts.refs()));
    }

    @Override
    public void update(Approval approval, PostLog posts) {
        calls.add(new Call("update", approval, List.of(), posts.refs()));
    }

    @Override
    public void notifyEscalation(Approval approval, List<Person> newlyEligible, PostLog posts) {
        calls.add(new Call("escalation", approval, newlyEligible, posts.refs()));
    }

    @Override
    public void close() {
        closed = true;
    }

    /** A person clicks a button in this channel. */
    public DecisionResult click(String approvalId, DecisionCommand.Verdict verdict, String personId, String comment) {
        return decisions.decide(DecisionCommand.byPerson(approvalId, verdict, personId, DecidedVia.SLACK, comment));
    }

    public List<Call> calls() {
        return List.copyOf(calls);
    }

    public List<Call> calls(String kind, String approvalId) {
        return calls.stream().filter(c -> c.kind().equals(kind) && c.approval().id().equals(approvalId)).toList();
    }

    public boolean isClosed() {
        return closed;
    }
}
