package dev.countersign.server.web;

import dev.countersign.core.Countersign;
import dev.countersign.core.InvalidInputException;
import dev.countersign.core.approval.Approval;
import dev.countersign.core.approval.DecidedVia;
import dev.countersign.core.approval.Directory;
import dev.countersign.core.approval.Status;
import dev.countersign.core.audit.AuditLog;
import dev.countersign.core.audit.AuditRecord;
import dev.countersign.core.decide.DecisionCommand;
import dev.countersign.core.decide.DecisionResult;
import dev.countersign.server.config.ServerConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.UnauthorizedResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The web approval pages: the pending list, one approval with its decide form, history, the audit log,
 * sign-in (OpenID Connect, or a loopback-only dev sign-in when none is configured) and the live-update stream.
 * A thin translator like the API: a form post becomes a {@link DecisionCommand} with {@link DecidedVia#WEB} and
 * the signed-in person; every decision rule is the core's.
 */
public final class WebUi {
    private static final Logger log = LoggerFactory.getLogger(WebUi.class);
    static final String CALLBACK = "/web/oidc/callback";
    private static final int LIST_LIMIT = 500;
    private static final int AUDIT_SHOWN = 200;

    private final Countersign engine;
    private final WebChannel channel;
    private final Directory directory;
    private final Sessions sessions;
    private final Pages pages;
    private final OidcSignIn oidc;
    private final boolean secureCookies;
    private final String css;
    private final String js;

    public WebUi(Countersign engine, WebChannel channel, ServerConfig config) {
        this.engine = engine;
        this.channel = channel;
        this.directory = engine.directory();
        this.sessions = new Sessions(Clock.systemUTC());
        ServerConfig.Oidc o = config.channels().webOidc();
        this.oidc = o != null && o.configured() ? new OidcSignIn(o, config.publicUrl()) : null;
        this.pages = new Pages(directory, oidc == null);
        this.secureCookies = config.publicUrl().startsWith("https://");
        this.css = resource("web/app.css");
        this.js = resource("web/app.js");
        if (oidc == null) {
            log.info("web pages: no single sign-on configured (channels.web.oidc); dev sign-in from loopback only, for trying out");
        }
    }

    /** Adds the pages to the API's Javalin app. */
    public void routes(RoutesConfig r) {
        r.before("/web", WebUi::securityHeaders);
        r.before("/web/*", WebUi::securityHeaders);
        r.get("/", ctx -> ctx.redirect("/web"));
        r.get("/web/static/app.css", ctx -> ctx.contentType("text/css; charset=utf-8").header("Cache-Control", "max-age=300").result(css));
        r.get("/web/static/app.js", ctx -> ctx.contentType("text/javascript; charset=utf-8").header("Cache-Control", "max-age=300").result(js));
        r.get("/web/signin", this::signInPage);
        r.post("/web/signin/dev", page(this::devSignIn));
        r.get("/web/signin/oidc", page(this::oidcStart));
        r.get(CALLBACK, page(this::oidcCallback));
        r.post("/web/signout", page(this::signOut));
        r.get("/web", page(this::pendingPage));
        r.get("/web/live/pending", page(ctx -> ctx.html(pages.pendingFragment(viewer(ctx).orElseThrow(UnauthorizedResponse::new), pending()))));
        r.get("/web/approvals/{id}", page(this::approvalPage));
        r.get("/web/live/approvals/{id}", page(this::approvalFragment));
        r.post("/web/approvals/{id}/decide", page(this::decide));
        r.get("/web/history", page(this::historyPage));
        r.get("/web/audit", page(this::auditPage));
        r.before("/web/events", ctx -> {
            if (viewer(ctx).isEmpty()) throw new UnauthorizedResponse("sign in first");
        });
        r.sse("/web/events", client -> channel.live().add(client));
    }

    // ------------------------------------------------------------------ sessions and guards

    private Optional<Sessions.Session> session(Context ctx) {
        return sessions.find(ctx.cookie(Sessions.COOKIE));
    }

    private Optional<Pages.Viewer> viewer(Context ctx) {
        return session(ctx).filter(Sessions.Session::signedIn)
                .flatMap(s -> directory.member(s.personId).map(m -> new Pages.Viewer(m.person(), s.csrf)));
    }

    /** The signed-in viewer, or a redirect to the sign-in page (which comes back here afterwards). */
    private Pages.Viewer requireViewer(Context ctx) {
        Optional<Pages.Viewer> v = viewer(ctx);
        if (v.isPresent()) return v.get();
        String next = "GET".equals(ctx.method().name()) ? ctx.path() + (ctx.queryString() == null ? "" : "?" + ctx.queryString()) : "/web";
        throw new Redirect("/web/signin?next=" + java.net.URLEncoder.encode(next, java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Every form post carries the session's CSRF token; a post without it changes nothing. */
    private Sessions.Session requireCsrf(Context ctx) {
        Sessions.Session s = session(ctx).orElse(null);
        if (s == null || !s.csrfMatches(ctx.formParam("csrf"))) {
            throw new PageError(403, "Form expired", "This form has expired or did not come from this Countersign page. Nothing was changed: reload the page and try again.");
        }
        return s;
    }

    private void setSessionCookie(Context ctx, Sessions.Session s) {
        ctx.res().addHeader("Set-Cookie", Sessions.COOKIE + "=" + s.id + "; Path=/; HttpOnly; SameSite=Lax; Max-Age="
                + Sessions.MAX_AGE.toSeconds() + (secureCookies ? "; Secure" : ""));
    }

    private void clearSessionCookie(Context ctx) {
        ctx.res().addHeader("Set-Cookie", Sessions.COOKIE + "=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0" + (secureCookies ? "; Secure" : ""));
    }

    private static void securityHeaders(Context ctx) {
        ctx.header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "same-origin");
        if (!ctx.path().startsWith("/web/static/")) ctx.header("Cache-Control", "no-store");
    }

    /** Loopback only, and not through a proxy on this machine (which would make every visitor look local). */
    private static boolean fromLoopback(Context ctx) {
        if (ctx.header("X-Forwarded-For") != null || ctx.header("Forwarded") != null) return false;
        try {
            return InetAddress.getByName(ctx.req().getRemoteAddr()).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static String localPath(String next) {
        // Only paths of these pages: never an absolute or protocol-relative URL (no open redirect).
        return next != null && next.startsWith("/web") && !next.startsWith("//") && !next.contains("\\") ? next : "/web";
    }

    // ------------------------------------------------------------------ sign-in

    private void signInPage(Context ctx) {
        if (viewer(ctx).isPresent()) {
            ctx.redirect(localPath(ctx.queryParam("next")));
            return;
        }
        Sessions.Session s = session(ctx).orElseGet(() -> {
            Sessions.Session created = sessions.create();
            setSessionCookie(ctx, created);
            return created;
        });
        boolean loopback = fromLoopback(ctx);
        if (oidc == null && !loopback) ctx.status(403);
        ctx.html(pages.signIn(localPath(ctx.queryParam("next")), oidc != null, loopback, s.csrf));
    }

    private void devSignIn(Context ctx) {
        if (oidc != null || !fromLoopback(ctx)) {
            throw new PageError(403, "Not available", "The dev sign-in works only when no single sign-on is configured, and only from this machine.");
        }
        Sessions.Session s = requireCsrf(ctx);
        String personId = ctx.formParam("person");
        if (directory.member(personId).isEmpty()) throw new PageError(400, "Unknown person", "Pick a person of the configuration.");
        Sessions.Session signedIn = sessions.signIn(s, personId);
        setSessionCookie(ctx, signedIn);
        log.info("dev sign-in as {}", personId);
        ctx.redirect(localPath(ctx.formParam("next")), io.javalin.http.HttpStatus.SEE_OTHER);
    }

    private void oidcStart(Context ctx) {
        if (oidc == null) throw new Redirect("/web/signin");
        Sessions.Session s = session(ctx).orElseGet(() -> {
            Sessions.Session created = sessions.create();
            setSessionCookie(ctx, created);
            return created;
        });
        try {
            ctx.redirect(oidc.start(s, localPath(ctx.queryParam("next"))).toString());
        } catch (OidcSignIn.SignInFailed e) {
            throw new PageError(502, "Sign-in unavailable", e.getMessage());
        }
    }

    private void oidcCallback(Context ctx) {
        if (oidc == null) throw new Redirect("/web/signin");
        Sessions.Session s = session(ctx).orElseThrow(() ->
                new PageError(400, "Sign-in expired", "This sign-in did not start in this browser, or took too long. Start again from the sign-in page."));
        String returnTo = oidc.returnTo(s);
        OidcSignIn.Identity id;
        try {
            String query = ctx.queryString() == null ? "" : "?" + ctx.queryString();
            id = oidc.finish(s, URI.create("http://callback" + CALLBACK + query));
        } catch (OidcSignIn.SignInFailed e) {
            throw new PageError(401, "Sign-in failed", e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new PageError(400, "Sign-in failed", "The identity provider's answer could not be read. Start again.");
        }
        if (id.email() == null || Boolean.FALSE.equals(id.emailVerified())) {
            log.warn("OIDC sign-in of subject {} without a verified e-mail", id.subject());
            throw new PageError(403, "No verified e-mail", "Your identity provider did not share a verified e-mail address, which Countersign needs to know who you are. Ask your administrator to release the 'email' claim to this client.");
        }
        Optional<Directory.Member> member = directory.byEmail(id.email());
        if (member.isEmpty()) {
            log.warn("OIDC sign-in by {} refused: no configured person has that e-mail", id.email());
            throw new PageError(403, "Not a configured approver", "You signed in as " + id.email() + ", but no person in Countersign's configuration has that e-mail address, so you cannot see or decide approvals. Ask an operator to add you under people: in the config file.");
        }
        Sessions.Session signedIn = sessions.signIn(s, member.get().id());
        setSessionCookie(ctx, signedIn);
        log.info("signed in {} ({}) by single sign-on", member.get().id(), id.email());
        ctx.redirect(localPath(returnTo));
    }

    private void signOut(Context ctx) {
        Sessions.Session s = requireCsrf(ctx);
        sessions.remove(s);
        clearSessionCookie(ctx);
        ctx.redirect("/web/signin", io.javalin.http.HttpStatus.SEE_OTHER);
    }

    // ------------------------------------------------------------------ pages

    private List<Approval> pending() {
        return engine.list(null, Status.PENDING, LIST_LIMIT).stream().sorted(Comparator.comparing(Approval::createdAt)).toList();
    }

    private void pendingPage(Context ctx) {
        ctx.html(pages.pending(requireViewer(ctx), pending()));
    }

    private Approval found(Context ctx) {
        String id = ctx.pathParam("id");
        return engine.get(id).orElseThrow(() -> new PageError(404, "Not found", "There is no approval with id " + id + "."));
    }

    private void approvalPage(Context ctx) {
        Pages.Viewer v = requireViewer(ctx);
        Approval a = found(ctx);
        ctx.html(pages.approval(v, a, engine.audit().forApproval(a.id()), null, null));
    }

    private void approvalFragment(Context ctx) {
        Pages.Viewer v = viewer(ctx).orElseThrow(UnauthorizedResponse::new);
        ctx.html(pages.approvalFragment(v, found(ctx)));
    }

    private void decide(Context ctx) {
        Pages.Viewer v = requireViewer(ctx);
        requireCsrf(ctx);
        String id = ctx.pathParam("id");
        DecisionCommand.Verdict verdict = switch (String.valueOf(ctx.formParam("verdict"))) {
            case "approve" -> DecisionCommand.Verdict.APPROVE;
            case "reject" -> DecisionCommand.Verdict.REJECT;
            default -> throw new PageError(400, "Choose approve or reject", "The form did not say whether to approve or reject. Nothing was changed.");
        };
        DecisionResult r;
        try {
            r = channel.decisions().decide(DecisionCommand.byPerson(id, verdict, v.id(), DecidedVia.WEB, ctx.formParam("comment")));
        } catch (InvalidInputException e) {
            throw new PageError(400, "Not recorded", e.getMessage() + ". Nothing was changed.");
        }
        if (r instanceof DecisionResult.Decided || r instanceof DecisionResult.VoteCounted) {
            ctx.redirect("/web/approvals/" + id, io.javalin.http.HttpStatus.SEE_OTHER);
        } else if (r instanceof DecisionResult.AlreadyDecided ad) {
            Approval a = ad.approval();
            ctx.status(409).html(pages.approval(v, a, engine.audit().forApproval(a.id()),
                    "Your decision was not recorded: this request was already decided. " + Pages.outcomeLine(a) + ".", "bad"));
        } else {
            DecisionResult.Refused refused = (DecisionResult.Refused) r;
            int status = switch (refused.reason()) {
                case NOT_FOUND, NOT_YOURS -> 404;
                case NOT_ALLOWED -> 400;
                default -> 403;
            };
            Optional<Approval> a = engine.get(id);
            if (a.isEmpty()) throw new PageError(status, "Not recorded", refused.message());
            ctx.status(status).html(pages.approval(v, a.get(), engine.audit().forApproval(id),
                    "Your decision was not recorded: " + refused.message() + ".", "bad"));
        }
    }

    private void historyPage(Context ctx) {
        Pages.Viewer v = requireViewer(ctx);
        Pages.HistoryFilter f = new Pages.HistoryFilter(blank(ctx.queryParam("status")), blank(ctx.queryParam("via")),
                blank(ctx.queryParam("by")), blank(ctx.queryParam("agent")), blank(ctx.queryParam("q")));
        Status status = null;
        if (f.status() != null) {
            try {
                status = Status.fromWire(f.status());
            } catch (IllegalArgumentException e) {
                throw new PageError(400, "Unknown outcome", "Outcome must be approved, rejected, expired or cancelled.");
            }
        }
        List<Approval> all = engine.list(null, status, LIST_LIMIT).stream().filter(a -> !a.isPending()).toList();
        List<String> agents = all.stream().map(a -> a.agent().id()).distinct().sorted().toList();
        String q = f.q() == null ? null : f.q().toLowerCase(Locale.ROOT);
        List<Approval> shown = all.stream()
                .filter(a -> f.via() == null || (a.decision() != null && a.decision().by().channel().wire().equals(f.via())))
                .filter(a -> f.by() == null || (a.decision() != null && a.decision().by().id().equals(f.by())))
                .filter(a -> f.agent() == null || a.agent().id().equals(f.agent()))
                .filter(a -> q == null || a.action().summary().toLowerCase(Locale.ROOT).contains(q) || a.action().type().toLowerCase(Locale.ROOT).contains(q))
                .sorted(Comparator.comparing((Approval a) -> a.decision() == null ? a.createdAt() : a.decision().at()).reversed())
                .toList();
        ctx.html(pages.history(v, shown, f, agents));
    }

    private void auditPage(Context ctx) {
        Pages.Viewer v = requireViewer(ctx);
        AuditLog.Verification verification = engine.audit().verify();
        Deque<AuditRecord> latest = new ArrayDeque<>();
        engine.audit().forEach(r -> {
            latest.addFirst(r);
            if (latest.size() > AUDIT_SHOWN) latest.removeLast();
        });
        ctx.html(pages.audit(v, verification, List.copyOf(latest)));
    }

    private static String blank(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    // ------------------------------------------------------------------ errors as pages

    /** A page that says what went wrong, with its HTTP status. */
    private static final class PageError extends RuntimeException {
        final int status;
        final String title;

        PageError(int status, String title, String message) {
            super(message);
            this.status = status;
            this.title = title;
        }
    }

    private static final class Redirect extends RuntimeException {
        final String to;

        Redirect(String to) {
            super(to, null, false, false);
            this.to = to;
        }
    }

    /** Pages answer in HTML whatever happens: the API's JSON error handlers never see their failures. */
    private Handler page(Handler h) {
        return ctx -> {
            try {
                h.handle(ctx);
            } catch (Redirect r) {
                ctx.redirect(r.to, io.javalin.http.HttpStatus.SEE_OTHER);
            } catch (PageError e) {
                ctx.status(e.status).html(pages.message(e.title, viewer(ctx).orElse(null), e.title, e.getMessage(), "/web", "Back to the pending list"));
            } catch (UnauthorizedResponse e) {
                throw e;
            } catch (RuntimeException e) {
                log.error("web page {} {} failed", ctx.method(), ctx.path(), e);
                ctx.status(500).html(pages.message("Error", null, "Something went wrong", "The error has been logged. Try again in a moment.", "/web", "Back to the pending list"));
            }
        };
    }

    private static String resource(String name) {
        try (InputStream in = WebUi.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException(name + " is missing from the jar");
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
