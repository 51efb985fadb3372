package dev.countersign.server.http;

import dev.countersign.server.config.ConfigLoader;

import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Agent and operator keys, held only as SHA-256 hashes. A presented key is hashed and looked up, so the
 * comparison never touches the key itself and takes the same time whatever the key's content.
 */
final class Keys {
    /** Who a request is: an agent (by id) or an operator tool. */
    sealed interface Caller {
        record Agent(String id) implements Caller {}

        record Operator() implements Caller {}
    }

    private final Map<String, String> agentByHash;
    private final Set<String> operatorHashes;

    Keys(Map<String, String> agentByHash, Set<String> operatorHashes) {
        this.agentByHash = Map.copyOf(agentByHash);
        this.operatorHashes = Set.copyOf(operatorHashes);
    }

    Optional<Caller> identify(String authorization) {
        if (authorization == null) return Optional.empty();
        String a = authorization.trim();
        if (a.regionMatches(true, 0, "Bearer ", 0, 7)) a = a.substring(7).trim();
        else return Optional.empty();
        if (a.isEmpty()) return Optional.empty();
        String hash = ConfigLoader.sha256(a);
        String agent = agentByHash.get(hash);
        if (agent != null) return Optional.of(new Caller.Agent(agent));
        if (operatorHashes.contains(hash)) return Optional.of(new Caller.Operator());
        return Optional.empty();
    }

    boolean noAgents() {
        return agentByHash.isEmpty();
    }
}
