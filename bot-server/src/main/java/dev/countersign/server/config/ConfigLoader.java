package dev.countersign.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.policy.RiskPolicy;
import dev.countersign.core.policy.RuleSpec;
import dev.countersign.core.store.DatabaseConfig;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads {@code countersign.yaml} and the environment into a {@link ServerConfig}. {@code ${VAR}} and
 * {@code ${VAR:-default}} are replaced from the environment first. Every problem found is reported at once,
 * each with the file, the line and the key, and the start stops: a half-understood policy is worse than none.
 */
public final class ConfigLoader {
    private static final Pattern VAR = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?}");
    private static final Set<String> TOP_KEYS = Set.of("agents", "people", "groups", "rules", "admins", "channels", "server", "database");
    private static final Set<String> RULE_KEYS = Set.of("name", "when", "risk", "approvers", "quorum", "escalation", "expires_after", "veto_window", "channel", "teams_conversation");

    private final Map<String, String> env;
    private final List<String> problems = new ArrayList<>();
    private String file;
    private LocatedYaml yaml;

    private ConfigLoader(Map<String, String> env) {
        this.env = env;
    }

    /** Loads the file named by COUNTERSIGN_CONFIG, or {@code config/countersign.yaml}. */
    public static ServerConfig load(Map<String, String> env) {
        String path = Env.COUNTERSIGN_CONFIG.in(env);
        return load(Path.of(path == null ? "config/countersign.yaml" : path), env);
    }

    public static ServerConfig load(Path path, Map<String, String> env) {
        String text;
        try {
            text = Files.readString(path, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of("config file " + path + " does not exist (set COUNTERSIGN_CONFIG to its path, or run from the repository root)"));
        } catch (IOException e) {
            throw new ConfigException(List.of("config file " + path + " cannot be read: " + e.getMessage()));
        }
        return new ConfigLoader(env).parse(path, text);
    }

    /** Parses config text (for tests and tools); {@code path} only names it in messages. */
    public static ServerConfig parse(Path path, String text, Map<String, String> env) {
        return new ConfigLoader(env).parse(path, text);
    }

    private ServerConfig parse(Path path, String text) {
        this.file = path.toString();
        try {
            yaml = LocatedYaml.parse(text, this::substitute);
        } catch (IOException e) {
            String msg = e.getMessage() == null ? e.toString() : e.getMessage().split("\n")[0];
            int line = e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe && jpe.getLocation() != null ? jpe.getLocation().getLineNr() : 0;
            throw new ConfigException(List.of(file + (line > 0 ? " line " + line : "") + ": not valid YAML: " + msg));
        }
        if (!problems.isEmpty()) throw new ConfigException(problems);
        JsonNode root = yaml.root;
        if (!root.isObject()) {
            throw new ConfigException(List.of(file + ": the top level must be a mapping of keys (agents, people, groups, rules, admins, channels)"));
        }
        root.fieldNames().forEachRemaining(k -> {
            if (!TOP_KEYS.contains(k)) problem(k, "unknown key '" + k + "' (known: " + String.join(", ", new java.util.TreeSet<>(TOP_KEYS)) + ")");
        });

        Directory directory = directory(root);
        Map<String, String> agentKeys = new LinkedHashMap<>();
        Map<String, String> webhookSecrets = new LinkedHashMap<>();
        agents(root.path("agents"), agentKeys, webhookSecrets);
        String envAgents = Env.COUNTERSIGN_AGENT_KEYS.in(env);
        if (envAgents != null) {
            for (String pair : envAgents.split(",")) {
                String p = pair.trim();
                int colon = p.indexOf(':');
                if (colon <= 0 || colon == p.length() - 1) {
                    problems.add("COUNTERSIGN_AGENT_KEYS: each entry must be agentId:key (got '" + (colon <= 0 ? p : p.substring(0, colon) + ":…") + "')");
                    continue;
                }
                agentKeys.put(sha256(p.substring(colon + 1)), p.substring(0, colon));
            }
        }
        Set<String> operatorKeys = new LinkedHashSet<>();
        String envOps = Env.COUNTERSIGN_OPERATOR_KEYS.in(env);
        if (envOps != null) {
            for (String k : envOps.split(",")) if (!k.isBlank()) operatorKeys.add(sha256(k.trim()));
        }

        List<RuleSpec> rules = rules(root.path("rules"), directory);
        ServerConfig.Channels channels = channels(root.path("channels"));

        int port = 8080;
        String portText = Env.COUNTERSIGN_PORT.in(env) != null ? Env.COUNTERSIGN_PORT.in(env) : text(root.path("server").path("port"));
        if (portText != null) {
            try {
                port = Integer.parseInt(portText.trim());
                if (port < 0 || port > 65535) throw new NumberFormatException();
            } catch (NumberFormatException e) {
                problems.add((Env.COUNTERSIGN_PORT.in(env) != null ? "COUNTERSIGN_PORT" : where("server.port")) + ": not a port number: '" + portText + "'");
            }
        }
        String publicUrl = firstNonNull(Env.COUNTERSIGN_PUBLIC_URL.in(env), text(root.path("server").path("public_url")), "http://localhost:" + (port == 0 ? 8080 : port));
        DatabaseConfig db = database(root.path("database"));
        ServerConfig.Teams teams = teams();

        if (!problems.isEmpty()) throw new ConfigException(problems);
        return new ServerConfig(path, port, stripSlash(publicUrl), db, agentKeys, operatorKeys, webhookSecrets, directory, rules, channels, teams);
    }

    /** Replaces {@code ${VAR}} and {@code ${VAR:-default}} in one scalar value (never in comments). */
    private String substitute(String text, int line) {
        Matcher m = VAR.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = env.get(m.group(1));
            if (value == null || value.isEmpty()) {
                if (m.group(2) != null) {
                    value = m.group(2);
                } else {
                    problems.add(file + " line " + line + ": ${" + m.group(1) + "} is not set (set it, or write ${" + m.group(1) + ":-} to allow it to be empty)");
                    value = "";
                }
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }

    private Directory directory(JsonNode root) {
        Map<String, Directory.Member> members = new LinkedHashMap<>();
        Set<String> ids = members.keySet();
        JsonNode people = root.path("people");
        if (!people.isMissingNode() && !people.isNull() && !people.isArray()) problem("people", "people must be a list");
        for (int i = 0; i < people.size() && people.isArray(); i++) {
            String at = "people[" + i + "]";
            JsonNode p = people.get(i);
            String id = text(p.path("id"));
            if (id == null) {
                problem(at, "a person needs an id");
                continue;
            }
            if (ids.contains(id)) {
                problem(at + ".id", "person '" + id + "' is listed twice");
                continue;
            }
            members.put(id, new Directory.Member(id, text(p.path("name")), text(p.path("email")), text(p.path("slack")), text(p.path("teams"))));
        }
        Map<String, List<String>> groups = new LinkedHashMap<>();
        JsonNode g = root.path("groups");
        if (g.isObject()) {
            g.fields().forEachRemaining(e -> {
                List<String> list = new ArrayList<>();
                if (!e.getValue().isArray()) {
                    problem("groups." + e.getKey(), "group '" + e.getKey() + "' must be a list of person ids");
                } else {
                    for (int i = 0; i < e.getValue().size(); i++) {
                        String pid = text(e.getValue().get(i));
                        if (!ids.contains(pid)) problem("groups." + e.getKey() + "[" + i + "]", "group '" + e.getKey() + "' names unknown person '" + pid + "'");
                        list.add(pid);
                    }
                }
                groups.put(e.getKey(), list);
            });
        } else if (!g.isMissingNode() && !g.isNull()) {
            problem("groups", "groups must be a mapping of group name to a list of person ids");
        }
        List<String> admins = new ArrayList<>();
        JsonNode a = root.path("admins");
        for (int i = 0; i < a.size() && a.isArray(); i++) {
            String pid = text(a.get(i));
            if (!ids.contains(pid)) problem("admins[" + i + "]", "admins names unknown person '" + pid + "'");
            admins.add(pid);
        }
        return new Directory(List.copyOf(members.values()), groups, admins);
    }

    private void agents(JsonNode agents, Map<String, String> keys, Map<String, String> secrets) {
        if (agents.isMissingNode() || agents.isNull()) return;
        if (!agents.isArray()) {
            problem("agents", "agents must be a list");
            return;
        }
        for (int i = 0; i < agents.size(); i++) {
            String at = "agents[" + i + "]";
            JsonNode a = agents.get(i);
            String id = text(a.path("id"));
            if (id == null) {
                problem(at, "an agent needs an id");
                continue;
            }
            String key = text(a.path("key"));
            String keyHash = text(a.path("key_sha256"));
            if (key != null) {
                keys.put(sha256(key), id);
            } else if (keyHash != null) {
                if (!keyHash.matches("[0-9a-fA-F]{64}")) problem(at + ".key_sha256", "key_sha256 must be 64 hex digits");
                keys.put(keyHash.toLowerCase(), id);
            }
            String secret = text(a.path("webhook_secret"));
            if (secret != null) {
                if (secret.startsWith("whsec_")) {
                    try {
                        java.util.Base64.getDecoder().decode(secret.substring(6));
                    } catch (IllegalArgumentException e) {
                        problem(at + ".webhook_secret", "webhook_secret after 'whsec_' must be base64");
                    }
                }
                secrets.put(id, secret);
            }
        }
    }

    private List<RuleSpec> rules(JsonNode rules, Directory directory) {
        List<RuleSpec> out = new ArrayList<>();
        if (rules.isMissingNode() || rules.isNull()) return out;
        if (!rules.isArray()) {
            problem("rules", "rules must be a list");
            return out;
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < rules.size(); i++) {
            String at = "rules[" + i + "]";
            JsonNode r = rules.get(i);
            if (!r.isObject()) {
                problem(at, "each rule must be a mapping");
                continue;
            }
            r.fieldNames().forEachRemaining(k -> {
                if (!RULE_KEYS.contains(k)) problem(at + "." + k, "unknown rule key '" + k + "' (known: " + String.join(", ", new java.util.TreeSet<>(RULE_KEYS)) + ")");
            });
            String name = text(r.path("name"));
            if (name == null) {
                problem(at, "a rule needs a name");
                name = "rules[" + i + "]";
            } else if (!names.add(name)) {
                problem(at + ".name", "rule name '" + name + "' is used twice");
            }
            String when = text(r.path("when"));
            if (when != null) {
                String why = RiskPolicy.checkCondition(when);
                if (why != null) problem(at + ".when", "rule '" + name + "': the condition does not compile: " + why.replace('\n', ' '));
            }
            String riskText = text(r.path("risk"));
            RiskLevel risk = RiskLevel.parse(riskText).orElse(null);
            if (risk == null) problem(at + ".risk", "rule '" + name + "': risk must be low, medium or high" + (riskText == null ? "" : " (got '" + riskText + "')"));
            List<String> approvers = refs(r.path("approvers"), at + ".approvers", directory);
            int quorum = 1;
            String q = text(r.path("quorum"));
            if (q != null) {
                try {
                    quorum = Integer.parseInt(q);
                    if (quorum < 1) throw new NumberFormatException();
                } catch (NumberFormatException e) {
                    problem(at + ".quorum", "rule '" + name + "': quorum must be a whole number of at least 1");
                }
            }
            List<RuleSpec.StepSpec> steps = new ArrayList<>();
            JsonNode esc = r.path("escalation");
            Duration last = Duration.ZERO;
            for (int s = 0; s < esc.size() && esc.isArray(); s++) {
                String sat = at + ".escalation[" + s + "]";
                Duration after = duration(esc.get(s).path("after"), sat + ".after", true);
                List<String> notify = refs(esc.get(s).path("notify"), sat + ".notify", directory);
                if (after != null) {
                    if (after.compareTo(last) <= 0) problem(sat + ".after", "escalation steps must come later and later (each 'after' counts from the ask)");
                    last = after;
                    steps.add(new RuleSpec.StepSpec(after, notify));
                }
            }
            Duration expires = duration(r.path("expires_after"), at + ".expires_after", false);
            if (expires != null && !steps.isEmpty() && !steps.get(steps.size() - 1).after().minus(expires).isNegative()) {
                problem(at + ".expires_after", "rule '" + name + "': expires_after must be later than the last escalation step");
            }
            Duration veto = duration(r.path("veto_window"), at + ".veto_window", false);
            if (veto != null && risk != RiskLevel.MEDIUM) problem(at + ".veto_window", "rule '" + name + "': veto_window applies to medium risk only");
            int possible = directory.resolve(approvers).size();
            for (RuleSpec.StepSpec st : steps) possible += directory.resolve(st.people()).size();
            if (risk == RiskLevel.HIGH && quorum > Math.max(possible, directory.admins().size()) && possible > 0) {
                problem(at + ".quorum", "rule '" + name + "': quorum " + quorum + " is more than the " + possible + " people who may approve");
            }
            out.add(new RuleSpec(name, when, risk == null ? RiskLevel.HIGH : risk, approvers, quorum, steps, expires, veto,
                    text(r.path("channel")), text(r.path("teams_conversation")), where(at + ".when")));
        }
        return out;
    }

    private ServerConfig.Channels channels(JsonNode c) {
        String slack = firstNonNull(Env.SLACK_APPROVAL_CHANNEL.in(env), text(c.path("slack").path("approval_channel")), null);
        String teams = text(c.path("teams").path("approval_conversation"));
        JsonNode oidc = c.path("web").path("oidc");
        return new ServerConfig.Channels(slack, teams, new ServerConfig.Oidc(text(oidc.path("issuer")), text(oidc.path("client_id")), text(oidc.path("client_secret"))),
                slackCredentials(c.path("slack")));
    }

    /** The variables win over channels.slack.{bot_token, signing_secret, app_token, api_url} in the file. */
    private ServerConfig.Slack slackCredentials(JsonNode s) {
        return new ServerConfig.Slack(firstNonNull(Env.SLACK_BOT_TOKEN.in(env), text(s.path("bot_token")), null),
                firstNonNull(Env.SLACK_SIGNING_SECRET.in(env), text(s.path("signing_secret")), null),
                firstNonNull(Env.SLACK_APP_TOKEN.in(env), text(s.path("app_token")), null),
                firstNonNull(Env.SLACK_API_URL.in(env), text(s.path("api_url")), null));
    }

    /** Teams is on when both TEAMS_APP_ID and TEAMS_APP_PASSWORD are set; one without the other is a mistake worth stopping for. */
    private ServerConfig.Teams teams() {
        String appId = Env.TEAMS_APP_ID.in(env);
        String password = Env.TEAMS_APP_PASSWORD.in(env);
        if (appId == null && password == null) return null;
        if (appId == null || password == null) {
            problems.add((appId == null ? "TEAMS_APP_ID" : "TEAMS_APP_PASSWORD") + " is not set: the Teams channel needs both TEAMS_APP_ID and "
                    + "TEAMS_APP_PASSWORD (the Azure Bot's Microsoft App ID and client secret), or neither to leave Teams off");
            return null;
        }
        for (Env url : List.of(Env.TEAMS_OPENID_METADATA_URL, Env.TEAMS_TOKEN_URL)) {
            String v = url.in(env);
            if (v != null && !v.startsWith("https://") && !v.startsWith("http://")) problems.add(url.name() + ": not an http(s) URL: '" + v + "'");
        }
        return new ServerConfig.Teams(appId.trim(), password, Env.TEAMS_TENANT_ID.in(env), Env.TEAMS_OPENID_METADATA_URL.in(env), Env.TEAMS_TOKEN_URL.in(env));
    }

    private DatabaseConfig database(JsonNode d) {
        String url = firstNonNull(Env.COUNTERSIGN_DATABASE_URL.in(env), text(d.path("url")), null);
        if (url == null) return DatabaseConfig.embeddedH2(Path.of("data"));
        if (!url.startsWith("jdbc:h2:") && !url.startsWith("jdbc:postgresql:")) {
            problems.add((Env.COUNTERSIGN_DATABASE_URL.in(env) != null ? "COUNTERSIGN_DATABASE_URL" : where("database.url"))
                    + ": only H2 (jdbc:h2:…) and PostgreSQL (jdbc:postgresql://…) are supported");
        }
        String user = firstNonNull(Env.COUNTERSIGN_DATABASE_USER.in(env), text(d.path("user")), url.startsWith("jdbc:h2:") ? "sa" : null);
        String password = firstNonNull(Env.COUNTERSIGN_DATABASE_PASSWORD.in(env), text(d.path("password")), "");
        return new DatabaseConfig(url, user, password);
    }

    private List<String> refs(JsonNode node, String at, Directory directory) {
        List<String> out = new ArrayList<>();
        if (node.isMissingNode() || node.isNull()) return out;
        if (!node.isArray()) {
            problem(at, "must be a list of person ids and group:<name>");
            return out;
        }
        for (int i = 0; i < node.size(); i++) {
            String ref = text(node.get(i));
            if (ref == null) continue;
            String refAt = at + "[" + i + "]";
            directory.checkReference(ref).ifPresent(why -> problem(refAt, why));
            out.add(ref);
        }
        return out;
    }

    private Duration duration(JsonNode node, String at, boolean required) {
        String t = text(node);
        if (t == null) {
            if (required) problem(at, "a duration is required (ISO-8601, e.g. PT15M)");
            return null;
        }
        try {
            Duration d = Duration.parse(t);
            if (d.isNegative() || d.isZero()) {
                problem(at, "must be a positive duration");
                return null;
            }
            return d;
        } catch (DateTimeParseException e) {
            problem(at, "'" + t + "' is not an ISO-8601 duration such as PT15M or PT1H");
            return null;
        }
    }

    private void problem(String path, String message) {
        problems.add(where(path) + ": " + message);
    }

    private String where(String path) {
        int line = yaml == null ? 0 : yaml.line(path);
        return file + (line > 0 ? " line " + line : "") + " (" + path + ")";
    }

    private static String text(JsonNode n) {
        if (n == null || n.isMissingNode() || n.isNull()) return null;
        String t = n.isTextual() ? n.textValue() : n.toString();
        return t == null || t.isBlank() ? null : t.trim();
    }

    private static String firstNonNull(String a, String b, String c) {
        return a != null ? a : b != null ? b : c;
    }

    private static String stripSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /** SHA-256 in hex: agent and operator keys are kept and compared only in this form. */
    public static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
