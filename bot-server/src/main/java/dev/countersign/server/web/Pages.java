package dev.countersign.server.web;

import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.AskContext;
import dev.countersign.core.approval.Decision;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Person;
import dev.countersign.core.approval.Plan;
import dev.countersign.core.approval.RiskLevel;
import dev.countersign.core.approval.Status;
import dev.countersign.core.approval.Vote;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.audit.AuditRecord;

import java.util.List;
import java.util.stream.Collectors;

import static dev.countersign.server.web.Html.esc;
import static dev.countersign.server.web.Html.time;

/**
 * The HTML of the pages, from text blocks. Server-rendered and complete without JavaScript; {@code app.js} only
 * swaps in fresh fragments when a live update arrives. Every value that came from an agent or a person goes
 * through {@link Html#esc}.
 */
final class Pages {
    private final Directory directory;
    private final boolean devSignIn;

    Pages(Directory directory, boolean devSignIn) {
        this.directory = directory;
        this.devSignIn = devSignIn;
    }

    /** Who is looking: the signed-in person and their session's CSRF token (null person on the sign-in pages). */
    record Viewer(Person person, String csrf) {
        String id() {
            return person == null ? null : person.id();
        }
    }

    // ------------------------------------------------------------------ layout

    String layout(String title, Viewer viewer, String current, String body) {
        String nav = viewer == null || viewer.person() == null ? "" : """
                <nav aria-label="Main">
                  <a href="/web"%s>Pending</a>
                  <a href="/web/history"%s>History</a>
                  <a href="/web/audit"%s>Audit log</a>
                </nav>
                <div class="who">
                  <span>Signed in as <strong>%s</strong></span>
                  <form method="post" action="/web/signout"><input type="hidden" name="csrf" value="%s"><button type="submit" class="link">Sign out</button></form>
                </div>
                """.formatted(cur(current, "pending"), cur(current, "history"), cur(current, "audit"),
                esc(viewer.person().name()), esc(viewer.csrf()));
        String banner = devSignIn ? """
                <div class="banner dev" role="note"><strong>Trying out:</strong> dev sign-in is on, so anyone on this
                machine can act as any person. For real use, configure single sign-on (<code>channels.web.oidc</code>).</div>
                """ : "";
        return """
                <!doctype html>
                <html lang="en">
                <head>
                <meta charset="utf-8">
                <meta name="viewport" content="width=device-width, initial-scale=1">
                <title>%s · Countersign</title>
                <link rel="stylesheet" href="/web/static/app.css">
                <script src="/web/static/app.js" defer></script>
                </head>
                <body>
                <a class="skip" href="#main">Skip to content</a>
                %s
                <header class="top">
                  <a class="brand" href="/web">Countersign</a>
                  %s
                </header>
                <main id="main" tabindex="-1">
                %s
                </main>
                <p class="live-note" aria-live="polite" id="live-note"></p>
                </body>
                </html>
                """.formatted(esc(title), banner, nav, body);
    }

    private static String cur(String current, String name) {
        return name.equals(current) ? " aria-current=\"page\"" : "";
    }

    String message(String title, Viewer viewer, String headline, String text, String linkHref, String linkText) {
        String link = linkHref == null ? "" : "<p><a class=\"button\" href=\"" + esc(linkHref) + "\">" + esc(linkText) + "</a></p>";
        return layout(title, viewer, null, """
                <section class="card narrow">
                <h1>%s</h1>
                <p>%s</p>
                %s
                </section>
                """.formatted(esc(headline), esc(text), link));
    }

    // ------------------------------------------------------------------ sign-in

    String signIn(String next, boolean oidc, boolean loopback, String csrf) {
        String body;
        if (oidc) {
            body = """
                    <section class="card narrow">
                    <h1>Sign in</h1>
                    <p>Sign in with your organisation's account to see and decide approvals.</p>
                    <p><a class="button primary" href="/web/signin/oidc?next=%s">Sign in with single sign-on</a></p>
                    </section>
                    """.formatted(esc(urlEncode(next)));
        } else if (!loopback) {
            body = """
                    <section class="card narrow">
                    <h1>Sign-in is not available from here</h1>
                    <p>No single sign-on is configured, and the dev sign-in only answers on this machine's loopback address
                    (open <code>http://localhost:…/web</code> on the server itself). To let people sign in from elsewhere,
                    configure <code>channels.web.oidc</code> (issuer, client_id, client_secret).</p>
                    </section>
                    """;
        } else {
            String options = directory.members().stream()
                    .map(m -> "<option value=\"" + esc(m.id()) + "\">" + esc(m.name() == null ? m.id() : m.name()) + " (" + esc(m.id()) + ")</option>")
                    .collect(Collectors.joining("\n"));
            body = """
                    <section class="card narrow">
                    <h1>Sign in (dev)</h1>
                    <p>Pick a person of the configuration to act as. This works only from this machine and is for trying
                    Countersign out.</p>
                    <form method="post" action="/web/signin/dev" class="stack">
                      <input type="hidden" name="csrf" value="%s">
                      <input type="hidden" name="next" value="%s">
                      <label for="person">Person</label>
                      <select id="person" name="person">%s</select>
                      <button type="submit" class="primary">Sign in</button>
                    </form>
                    </section>
                    """.formatted(esc(csrf), esc(next), options);
        }
        return layout("Sign in", null, null, body);
    }

    // ------------------------------------------------------------------ pending list

    String pending(Viewer viewer, List<Approval> pending) {
        return layout("Pending", viewer, "pending", """
                <h1>Pending approvals</h1>
                <div id="pending-live" data-live-fragment="/web/live/pending">
                %s
                </div>
                """.formatted(pendingFragment(viewer, pending)));
    }

    String pendingFragment(Viewer viewer, List<Approval> pending) {
        List<Approval> mine = pending.stream().filter(a -> waitsFor(a, viewer.id())).toList();
        return """
                <section aria-labelledby="mine-h">
                <h2 id="mine-h">Waiting for you <span class="count">%d</span></h2>
                %s
                </section>
                <section aria-labelledby="all-h">
                <h2 id="all-h">All pending <span class="count">%d</span></h2>
                %s
                </section>
                """.formatted(mine.size(), rows(mine, "Nothing waits for you."), pending.size(), rows(pending, "Nothing is pending."));
    }

    /** The viewer may act on it now and has not yet voted. */
    boolean waitsFor(Approval a, String personId) {
        return a.waitsFor(personId, directory);
    }

    private String rows(List<Approval> list, String empty) {
        if (list.isEmpty()) return "<p class=\"empty\">" + esc(empty) + "</p>";
        StringBuilder sb = new StringBuilder("<ul class=\"approvals\">\n");
        for (Approval a : list) {
            Plan.Deadline next = a.nextDeadline();
            sb.append("""
                    <li class="item">
                      %s
                      <div class="what">
                        <a class="summary" href="/web/approvals/%s">%s</a>
                        <div class="meta"><code>%s</code> · asked by <strong>%s</strong>%s · %s</div>
                      </div>
                      <div class="when">%s</div>
                    </li>
                    """.formatted(risk(a.risk().level()), esc(a.id()), esc(a.action().summary()), esc(a.action().type()),
                    esc(a.agent().id()), a.requestedFor() == null ? "" : " for " + esc(name(a.requestedFor())), time(a.createdAt()),
                    next == null ? "" : deadlineLabel(next)));
        }
        return sb.append("</ul>").toString();
    }

    private static String deadlineLabel(Plan.Deadline d) {
        String what = switch (d.kind()) {
            case ESCALATE -> "escalates";
            case VETO_END -> "goes ahead";
            case EXPIRE -> "expires";
        };
        return what + " " + time(d.at());
    }

    static String risk(RiskLevel level) {
        String mark = switch (level) {
            case LOW -> "▽";
            case MEDIUM -> "◇";
            case HIGH -> "▲";
        };
        return "<span class=\"risk risk-" + level.wire() + "\"><span aria-hidden=\"true\">" + mark + "</span> " + level.wire() + " risk</span>";
    }

    // ------------------------------------------------------------------ one approval

    String approval(Viewer viewer, Approval a, List<AuditRecord> trail, String notice, String noticeKind) {
        AskContext ctx = a.context();
        String links = ctx.links().isEmpty() ? "" : "<dt>Links</dt><dd><ul class=\"links\">" + ctx.links().stream()
                .map(l -> Html.safeUrl(l.url())
                        ? "<li><a href=\"" + esc(l.url()) + "\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">" + esc(l.title() == null ? l.url() : l.title()) + "</a> <span class=\"url\">" + esc(l.url()) + "</span></li>"
                        : "<li>" + esc(l.title()) + " <span class=\"url\">" + esc(l.url()) + "</span></li>")
                .collect(Collectors.joining()) + "</ul></dd>";
        String noticeHtml = notice == null ? "" : "<div class=\"notice " + esc(noticeKind) + "\" role=\"alert\">" + esc(notice) + "</div>";
        String body = """
                <p class="crumbs"><a href="/web">← Pending</a></p>
                %s
                <h1>%s</h1>
                <p class="sub">%s <code>%s</code> · approval <code>%s</code></p>
                <div id="approval-live" data-live-fragment="/web/live/approvals/%s" data-live-id="%s">
                %s
                </div>
                <div class="grid">
                <section class="card" aria-labelledby="ask-h">
                  <h2 id="ask-h">The request</h2>
                  <dl>
                    <dt>Agent</dt><dd><strong>%s</strong>%s</dd>
                    <dt>On behalf of</dt><dd>%s</dd>
                    <dt>Action</dt><dd><code>%s</code></dd>
                    %s%s%s
                  </dl>
                  <h3>Parameters</h3>
                  <pre class="params" tabindex="0" aria-label="Parameters (secrets masked)">%s</pre>
                </section>
                <section class="card" aria-labelledby="risk-h">
                  <h2 id="risk-h">Risk</h2>
                  <p>%s</p>
                  <dl>
                    <dt>Rule</dt><dd>%s</dd>
                    <dt>Why</dt><dd>%s</dd>
                    <dt>Asked</dt><dd>%s</dd>
                    <dt>Expires</dt><dd>%s</dd>
                  </dl>
                  <h3>Who was notified</h3>
                  %s
                </section>
                </div>
                <section class="card" aria-labelledby="trail-h">
                  <h2 id="trail-h">History of this request</h2>
                  %s
                </section>
                """.formatted(noticeHtml, esc(a.action().summary()), risk(a.risk().level()), esc(a.action().type()), esc(a.id()),
                esc(a.id()), esc(a.id()), approvalFragment(viewer, a),
                esc(a.agent().id()), a.agent().runId() == null ? "" : " · run <code>" + esc(a.agent().runId()) + "</code>",
                a.requestedFor() == null ? "<span class=\"muted\">nobody named</span>" : esc(name(a.requestedFor())),
                esc(a.action().type()),
                ctx.reason() == null ? "" : "<dt>Reason</dt><dd>" + esc(ctx.reason()) + "</dd>",
                ctx.impact() == null ? "" : "<dt>Impact</dt><dd>" + esc(ctx.impact()) + "</dd>",
                links,
                esc(Html.maskedJson(a.action().params())),
                risk(a.risk().level()),
                a.risk().rule() == null ? "<span class=\"muted\">no rule matched (high by default)</span>" : "<code>" + esc(a.risk().rule()) + "</code>",
                esc(a.risk().explanation()),
                time(a.createdAt()), time(a.expiresAt()),
                notified(a), trail(trail));
        return layout(a.action().summary(), viewer, null, body);
    }

    /** The part of an approval page that changes: where it stands, the votes, the deadline, and the decide form. */
    String approvalFragment(Viewer viewer, Approval a) {
        StringBuilder sb = new StringBuilder();
        sb.append("<section class=\"card state state-").append(a.status().wire()).append("\" aria-labelledby=\"state-h\" data-status=\"")
                .append(a.status().wire()).append("\">\n");
        if (a.isPending()) {
            Plan.Deadline next = a.nextDeadline();
            sb.append("<h2 id=\"state-h\" class=\"status\">Waiting for a decision</h2>\n");
            sb.append("<p>May decide now: ").append(people(a.approvers())).append(a.plan().quorum() > 1
                    ? " · needs <strong>" + a.plan().quorum() + "</strong> approvals (" + a.votes().size() + " so far)" : "").append("</p>\n");
            if (a.escalationLevel() > 0) sb.append("<p>Escalated ").append(a.escalationLevel()).append(a.escalationLevel() == 1 ? " step" : " steps").append(".</p>\n");
            if (next != null) sb.append("<p>Next: ").append(deadlineLabel(next)).append("</p>\n");
            votes(sb, a.votes());
            sb.append(decideForm(viewer, a));
        } else {
            Decision d = a.decision();
            sb.append("<h2 id=\"state-h\" class=\"status\">").append(esc(outcomeLine(a))).append("</h2>\n");
            if (d != null && d.comment() != null) sb.append("<blockquote class=\"comment\">").append(esc(d.comment())).append("</blockquote>\n");
            votes(sb, a.votes());
        }
        return sb.append("</section>\n").toString();
    }

    /** "Approved by Alice Ng (web) at 2026-…": what a stale page and the live update both show. */
    static String outcomeLine(Approval a) {
        Decision d = a.decision();
        String verb = switch (a.status()) {
            case APPROVED -> "Approved";
            case REJECTED -> "Rejected";
            case EXPIRED -> "Expired";
            case CANCELLED -> "Cancelled";
            case PENDING -> "Pending";
        };
        if (d == null) return verb;
        if (a.status() == Status.EXPIRED) return "Expired at " + Html.plainTime(d.at()) + " (nobody decided in time)";
        return verb + " by " + d.by().name() + " (" + d.by().channel().wire() + ") at " + Html.plainTime(d.at());
    }

    private void votes(StringBuilder sb, List<Vote> votes) {
        if (votes.isEmpty()) return;
        sb.append("<ul class=\"votes\">");
        for (Vote v : votes) {
            sb.append("<li>Approved by <strong>").append(esc(v.personName())).append("</strong> (").append(esc(v.channel().wire())).append(") ")
                    .append(time(v.at())).append(v.comment() == null ? "" : ": “" + esc(v.comment()) + "”").append("</li>");
        }
        sb.append("</ul>\n");
    }

    private String decideForm(Viewer viewer, Approval a) {
        String me = viewer.id();
        boolean eligible = a.approvers().stream().anyMatch(p -> p.id().equals(me)) || directory.isAdmin(me);
        if (!eligible) {
            return "<p class=\"muted\">You are not among the people who may decide this request"
                    + (a.escalationLevel() < a.plan().steps().size() ? " (yet: it may escalate to you)." : ".") + "</p>\n";
        }
        if (a.votes().stream().anyMatch(v -> v.personId().equals(me))) {
            return "<p class=\"muted\">You approved. Waiting for the other approvals.</p>\n";
        }
        boolean requester = me.equals(a.requestedFor());
        return """
                <form method="post" action="/web/approvals/%s/decide" class="decide">
                  <input type="hidden" name="csrf" value="%s">
                  <label for="comment">Comment <span class="muted">(optional; the agent sees it)</span></label>
                  <textarea id="comment" name="comment" rows="3" maxlength="10000"></textarea>
                  <div class="buttons">
                    %s
                    <button type="submit" name="verdict" value="reject" class="reject">Reject</button>
                  </div>
                  %s
                </form>
                """.formatted(esc(a.id()), esc(viewer.csrf()),
                requester ? "" : "<button type=\"submit\" name=\"verdict\" value=\"approve\" class=\"approve\">Approve</button>",
                requester ? "<p class=\"muted\">The agent acts on your behalf here, so you may reject it but not approve it.</p>" : "");
    }

    private String notified(Approval a) {
        StringBuilder sb = new StringBuilder("<ul class=\"notified\">");
        sb.append("<li>").append(people(a.plan().approvers())).append(" <span class=\"muted\">when asked</span></li>");
        List<Plan.Step> steps = a.plan().steps();
        for (int i = 0; i < steps.size(); i++) {
            Plan.Step s = steps.get(i);
            boolean passed = i < a.escalationLevel();
            sb.append("<li>").append(people(s.people())).append(" <span class=\"muted\">")
                    .append(passed ? "escalated at " : (a.isPending() ? "if still open at " : "would have been told at "))
                    .append(time(a.createdAt().plus(s.after()))).append("</span></li>");
        }
        return sb.append("</ul>").toString();
    }

    private static String people(List<Person> people) {
        if (people.isEmpty()) return "<span class=\"muted\">nobody</span>";
        return people.stream().map(p -> esc(p.name())).collect(Collectors.joining(", "));
    }

    private String trail(List<AuditRecord> trail) {
        if (trail.isEmpty()) return "<p class=\"empty\">No entries.</p>";
        StringBuilder sb = new StringBuilder("<ol class=\"trail\">");
        for (AuditRecord r : trail) {
            sb.append("<li>").append(time(r.at())).append(" <strong>").append(esc(r.kind())).append("</strong> by ")
                    .append(esc(r.actor())).append(" <code class=\"detail\">").append(esc(r.detail())).append("</code></li>");
        }
        return sb.append("</ol>").toString();
    }

    String name(String personId) {
        return directory.member(personId).map(m -> m.person().name()).orElse(personId);
    }

    // ------------------------------------------------------------------ history

    record HistoryFilter(String status, String via, String by, String agent, String q) {}

    String history(Viewer viewer, List<Approval> decided, HistoryFilter f, List<String> agents) {
        StringBuilder rows = new StringBuilder();
        for (Approval a : decided) {
            Decision d = a.decision();
            rows.append("""
                    <tr>
                      <td><span class="outcome outcome-%s">%s</span></td>
                      <td><a href="/web/approvals/%s">%s</a><div class="meta"><code>%s</code> · %s</div></td>
                      <td>%s</td>
                      <td>%s</td>
                      <td>%s</td>
                      <td>%s</td>
                    </tr>
                    """.formatted(a.status().wire(), a.status().wire(), esc(a.id()), esc(a.action().summary()), esc(a.action().type()),
                    risk(a.risk().level()), d == null ? "" : esc(d.by().name()), d == null ? "" : esc(d.by().channel().wire()),
                    d == null ? "" : time(d.at()), d == null || d.comment() == null ? "" : esc(d.comment())));
        }
        String table = decided.isEmpty() ? "<p class=\"empty\">No decided approvals match.</p>" : """
                <div class="table-wrap"><table>
                <thead><tr><th scope="col">Outcome</th><th scope="col">Request</th><th scope="col">Who</th><th scope="col">Channel</th><th scope="col">When</th><th scope="col">Comment</th></tr></thead>
                <tbody>
                %s</tbody>
                </table></div>
                """.formatted(rows);
        return layout("History", viewer, "history", """
                <h1>History</h1>
                <form method="get" action="/web/history" class="filters" aria-label="Filters">
                  <label>Outcome %s</label>
                  <label>Channel %s</label>
                  <label>Decided by %s</label>
                  <label>Agent %s</label>
                  <label>Text <input type="search" name="q" value="%s" placeholder="summary or type"></label>
                  <button type="submit">Filter</button>
                </form>
                %s
                """.formatted(
                select("status", f.status(), List.of("approved", "rejected", "expired", "cancelled")),
                select("via", f.via(), List.of("web", "slack", "teams", "cli", "policy", "timer", "agent")),
                select("by", f.by(), directory.members().stream().map(Directory.Member::id).toList()),
                select("agent", f.agent(), agents),
                esc(f.q() == null ? "" : f.q()), table));
    }

    private static String select(String name, String current, List<String> values) {
        StringBuilder sb = new StringBuilder("<select name=\"" + name + "\"><option value=\"\">any</option>");
        for (String v : values) {
            sb.append("<option value=\"").append(esc(v)).append("\"").append(v.equals(current) ? " selected" : "").append(">").append(esc(v)).append("</option>");
        }
        return sb.append("</select>").toString();
    }

    // ------------------------------------------------------------------ audit

    String audit(Viewer viewer, AuditLog.Verification v, List<AuditRecord> latest) {
        String status = v.intact()
                ? "<div class=\"notice ok\" role=\"status\"><strong>Chain intact:</strong> all " + v.entries() + " entries verify (each hash covers the one before).</div>"
                : "<div class=\"notice bad\" role=\"alert\"><strong>Chain broken</strong> at entry " + v.firstBrokenSeq() + ": " + esc(v.problem()) + "</div>";
        StringBuilder rows = new StringBuilder();
        for (AuditRecord r : latest) {
            rows.append("<tr><td>").append(r.seq()).append("</td><td class=\"nowrap\">").append(time(r.at())).append("</td><td>")
                    .append(r.approvalId() == null ? "" : "<a href=\"/web/approvals/" + esc(r.approvalId()) + "\" title=\"" + esc(r.approvalId()) + "\"><code>" + esc(shortId(r.approvalId())) + "</code></a>")
                    .append("</td><td>").append(esc(r.kind())).append("</td><td>").append(esc(r.actor())).append("</td><td><code class=\"detail\">")
                    .append(esc(r.detail())).append("</code></td><td><code title=\"").append(esc(r.hash())).append("\">").append(esc(r.hash().substring(0, 12)))
                    .append("…</code></td></tr>\n");
        }
        return layout("Audit log", viewer, "audit", """
                <h1>Audit log</h1>
                %s
                <p class="muted">The newest %d entries, newest first. <code>countersign audit export</code> writes them all.</p>
                <div class="table-wrap"><table>
                <thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Approval</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Detail</th><th scope="col">Hash</th></tr></thead>
                <tbody>
                %s</tbody>
                </table></div>
                """.formatted(status, latest.size(), rows));
    }

    private static String shortId(String id) {
        return id.length() > 14 ? id.substring(0, 12) + "…" : id;
    }

    private static String urlEncode(String s) {
        return java.net.URLEncoder.encode(s == null ? "" : s, java.nio.charset.StandardCharsets.UTF_8);
    }
}
