package dev.countersign.core.approval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The people who may decide, their groups and the admins, as configured. One person is one approver
 * across channels: their Slack and Teams ids and e-mail all lead back to the same {@link #person id}.
 */
public final class Directory {
    /** A configured person with the handles each channel knows them by (any may be null). */
    public record Member(String id, String name, String email, String slackId, String teamsId) {
        public Person person() {
            return new Person(id, name == null ? id : name);
        }
    }

    private final Map<String, Member> people;
    private final Map<String, List<String>> groups;
    private final Set<String> admins;

    public Directory(List<Member> people, Map<String, List<String>> groups, List<String> admins) {
        Map<String, Member> byId = new LinkedHashMap<>();
        for (Member m : people) {
            if (byId.putIfAbsent(m.id(), m) != null) throw new IllegalArgumentException("person '" + m.id() + "' is listed twice");
        }
        this.people = Map.copyOf(byId);
        Map<String, List<String>> g = new LinkedHashMap<>();
        groups.forEach((name, ids) -> g.put(name, List.copyOf(ids)));
        this.groups = Map.copyOf(g);
        this.admins = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(admins));
    }

    public static Directory empty() {
        return new Directory(List.of(), Map.of(), List.of());
    }

    public Optional<Member> member(String id) {
        return Optional.ofNullable(id == null ? null : people.get(id));
    }

    public Optional<Member> bySlackId(String slackId) {
        return people.values().stream().filter(m -> slackId != null && slackId.equals(m.slackId())).findFirst();
    }

    public Optional<Member> byTeamsId(String teamsId) {
        return people.values().stream().filter(m -> teamsId != null && teamsId.equalsIgnoreCase(m.teamsId())).findFirst();
    }

    public Optional<Member> byEmail(String email) {
        return people.values().stream().filter(m -> email != null && email.equalsIgnoreCase(m.email())).findFirst();
    }

    public boolean isAdmin(String personId) {
        return admins.contains(personId);
    }

    public List<Person> admins() {
        return admins.stream().map(people::get).filter(java.util.Objects::nonNull).map(Member::person).toList();
    }

    public boolean hasGroup(String name) {
        return groups.containsKey(name);
    }

    /**
     * Resolves approver references ({@code alice}, {@code group:finance}) to people, in order and without
     * repeats. Unknown references are a configuration error, reported by the config loader before this runs.
     */
    public List<Person> resolve(List<String> refs) {
        Set<String> ids = new LinkedHashSet<>();
        for (String ref : refs) {
            if (ref.startsWith("group:")) {
                ids.addAll(groups.getOrDefault(ref.substring("group:".length()), List.of()));
            } else {
                ids.add(ref);
            }
        }
        List<Person> out = new ArrayList<>();
        for (String id : ids) {
            Member m = people.get(id);
            if (m != null) out.add(m.person());
        }
        return out;
    }

    /** The reason a reference cannot be resolved, or empty when it can. */
    public Optional<String> checkReference(String ref) {
        if (ref.startsWith("group:")) {
            String g = ref.substring("group:".length());
            if (!groups.containsKey(g)) return Optional.of("unknown group '" + g + "'");
            return Optional.empty();
        }
        return people.containsKey(ref) ? Optional.empty() : Optional.of("unknown person '" + ref + "'");
    }

    public Map<String, List<String>> groups() {
        return groups;
    }

    public List<Member> members() {
        return List.copyOf(people.values());
    }
}
