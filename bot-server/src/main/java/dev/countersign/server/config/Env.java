package dev.countersign.server.config;

import java.util.Map;

/** Every environment variable Countersign reads, in one place. Each overrides the config file. */
public enum Env {
    /** Path of the YAML config. Default: config/countersign.yaml (the commented example in the repository). */
    COUNTERSIGN_CONFIG,
    /** HTTP port. Default 8080. */
    COUNTERSIGN_PORT,
    /** The URL people's browsers and Slack/Teams reach. Default http://localhost:8080. */
    COUNTERSIGN_PUBLIC_URL,
    /** JDBC URL of H2 or PostgreSQL. Default: an embedded H2 file under ./data. */
    COUNTERSIGN_DATABASE_URL,
    COUNTERSIGN_DATABASE_USER,
    COUNTERSIGN_DATABASE_PASSWORD,
    /** This node's stable id in a PostgreSQL cluster (unique per node). Default: hostname:port. */
    COUNTERSIGN_NODE_ID,
    /** agentId:key,agentId:key — agent API keys to accept (kept only as SHA-256 hashes). */
    COUNTERSIGN_AGENT_KEYS,
    /** key,key — keys for trusted tooling (CLI, scripts) that record a person's decision. */
    COUNTERSIGN_OPERATOR_KEYS,
    /** Where agent-side tools (the CLI's decide command) reach the service. Default http://localhost:8080. */
    COUNTERSIGN_URL,
    /** The key agent-side tools send. */
    COUNTERSIGN_AGENT_KEY,
    /** The operator key the CLI's decide command sends (one of COUNTERSIGN_OPERATOR_KEYS). */
    COUNTERSIGN_OPERATOR_KEY,
    SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL, SLACK_APPROVAL_CHANNEL,
    TEAMS_APP_ID, TEAMS_APP_PASSWORD, TEAMS_TENANT_ID, TEAMS_OPENID_METADATA_URL, TEAMS_TOKEN_URL;

    public String in(Map<String, String> env) {
        String v = env.get(name());
        return v == null || v.isBlank() ? null : v;
    }
}
