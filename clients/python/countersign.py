"""Countersign client for Python agents (standard library only, Python 3.9+).

Ask before acting, wait for a person's decision, act only when approved::

    from countersign import execute_with_approval, ApprovalRejectedError

    try:
        receipt = execute_with_approval(
            {"type": "payments.transfer", "summary": "Pay invoice INV-2291: 12,500 EUR",
             "params": {"amount": 12500, "currency": "EUR"}},
            {"reason": "invoice due Friday"},
            lambda: pay_invoice("INV-2291"))
    except ApprovalRejectedError as e:
        print(f"rejected by {e.decided_by}: {e.reason}")

``COUNTERSIGN_URL`` (default ``http://localhost:8080``) and ``COUNTERSIGN_AGENT_KEY`` are read from the
environment, or passed as ``url=`` / ``agent_key=``. Every ask carries an ``Idempotency-Key`` made once and sent
again (with the same body) on every retry, so a network blip never makes a second approval; retries (with
backoff) happen only on 5xx answers and connection errors. Waiting is a loop of long-polls (``?wait=N``, at most
60 s each), so a wait of hours works and survives dropped connections and server restarts. Fail closed: the
action runs only when the approval is ``approved``.
"""

import base64
import hashlib
import hmac
import json
import math
import os
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta, timezone

__all__ = [
    "Countersign", "Decision", "request_approval", "execute_with_approval", "review_plan", "verify_webhook",
    "WebhookVerifier", "CountersignError", "ApprovalDeniedError", "ApprovalRejectedError", "ApprovalExpiredError",
    "ApprovalCancelledError", "ApprovalTimeoutError", "WebhookVerificationError",
]

STATUSES = ("pending", "approved", "rejected", "expired", "cancelled")
MAX_WAIT_SECONDS = 60
EXPIRY_GRACE_SECONDS = 30


# ---------------------------------------------------------------------------------------------------- errors

class CountersignError(Exception):
    """The request was refused (bad key: status 401; bad input: 400 with ``field``) or Countersign stayed
    unreachable (status 0, code ``unreachable``). Nothing was approved, nothing ran."""

    def __init__(self, message, status=0, code=None, field=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field


class ApprovalDeniedError(Exception):
    """The action was not approved, so it did not run. ``decision`` is the outcome."""

    def __init__(self, message, decision):
        super().__init__(message)
        self.decision = decision
        self.approval = decision.approval
        self.decided_by = decision.decided_by
        self.reason = decision.reason
        self.status = decision.status


class ApprovalRejectedError(ApprovalDeniedError):
    """A person rejected it: ``decided_by`` and ``reason`` (their comment)."""


class ApprovalExpiredError(ApprovalDeniedError):
    """Nobody decided in time; the server expired it (fail closed)."""


class ApprovalCancelledError(ApprovalDeniedError):
    """The request was withdrawn."""


class ApprovalTimeoutError(ApprovalDeniedError):
    """This agent's own wait (``max_wait``) ended while the approval was pending; the request was withdrawn."""


class WebhookVerificationError(Exception):
    """A webhook was refused; ``reason`` is ``missing_header``, ``bad_signature``, ``timestamp_out_of_range`` or
    ``replayed`` (a server retry of a webhook you already took: answer it 2xx)."""

    def __init__(self, reason, message):
        super().__init__("webhook refused: " + message)
        self.reason = reason


# ---------------------------------------------------------------------------------------------------- the outcome

class Decision:
    """An approval as the server last described it.

    ``granted`` (True only when approved), ``status`` (pending|approved|rejected|expired|cancelled),
    ``reason`` (the decider's comment, or why it expired / was withdrawn), ``decided_by`` (a person's id, or
    ``policy``/``timer``/the agent), ``risk`` (low|medium|high), ``id``, ``url`` (the page where people decide)
    and ``approval`` (the whole approval as a dict, see docs/API.md).
    """

    def __init__(self, approval, url=None):
        if not isinstance(approval, dict) or not isinstance(approval.get("id"), str):
            raise CountersignError("the server's answer is not an approval: %r" % (approval,), code="bad_response")
        status = approval.get("status")
        if status not in STATUSES:
            raise CountersignError("the server answered an unknown status %r; not treating it as approved" % (status,),
                                   code="unknown_status", field="status")
        self.approval = approval
        self.id = approval["id"]
        self.status = status
        self.url = approval.get("url") or url
        decision = approval.get("decision") or {}
        by = decision.get("by") or {}
        self.decided_by = by.get("id")
        self.decided_via = by.get("channel")
        self.comment = decision.get("comment")
        self.risk = (approval.get("risk") or {}).get("level")

    @property
    def granted(self):
        return self.status == "approved"

    @property
    def pending(self):
        return self.status == "pending"

    @property
    def reason(self):
        if self.comment:
            return self.comment
        if self.status == "expired":
            return "expired: nobody decided before %s" % self.approval.get("expires_at")
        if self.status == "cancelled":
            return "cancelled: the request was withdrawn"
        if self.status == "pending":
            return "still pending"
        return None

    def __bool__(self):
        return self.granted

    def __repr__(self):
        return "Decision(id=%r, status=%r, decided_by=%r, reason=%r)" % (self.id, self.status, self.decided_by, self.reason)


# ---------------------------------------------------------------------------------------------------- the client

class Countersign:
    """A client. ``url`` and ``agent_key`` default to ``COUNTERSIGN_URL`` / ``COUNTERSIGN_AGENT_KEY``."""

    def __init__(self, url=None, agent_key=None, request_timeout=30.0, max_retries=4, initial_backoff=0.2):
        url = url or os.environ.get("COUNTERSIGN_URL") or "http://localhost:8080"
        parsed = urllib.parse.urlparse(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CountersignError("COUNTERSIGN_URL must be an absolute http(s) URL such as http://localhost:8080, got %r" % url,
                                   code="invalid_config", field="COUNTERSIGN_URL")
        key = agent_key or os.environ.get("COUNTERSIGN_AGENT_KEY")
        if not key:
            raise CountersignError("COUNTERSIGN_AGENT_KEY is not set: export the agent key the server accepts "
                                   "(one of its COUNTERSIGN_AGENT_KEYS, or an agents[].key in its config)",
                                   code="no_agent_key", field="COUNTERSIGN_AGENT_KEY")
        self.url = url.strip().rstrip("/")
        self.agent_key = key
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff

    # -- asking

    def ask(self, action, reason=None, context=None, idempotency_key=None, **extra):
        """POST the ask and return the first ``Decision`` (approved at once for low risk, else pending)."""
        body = _ask_body(action, reason, context, extra)
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")  # one body for every retry
        key = idempotency_key or "cs-py-" + uuid.uuid4().hex
        answer = self._send("POST", "/api/v1/approvals", data, {"Idempotency-Key": key}, self.request_timeout, self.max_retries)
        return self._decision(answer)

    def request_approval(self, action, reason=None, context=None, wait=True, max_wait=None, **extra):
        """Ask and (by default) wait for the decision; returns a ``Decision``. ``max_wait`` (seconds) limits the
        wait; when it ends while pending, the request is withdrawn and the result is ``cancelled``
        (``reason`` says so). Without it, waits until the server decides (its expiry, at the latest)."""
        d = self.ask(action, reason=reason, context=context, **extra)
        if not wait or not d.pending:
            return d
        limit = max_wait if max_wait is not None else _until_server_decides(d)
        d = self.wait(d.id, limit)
        if d.pending:
            d = self.cancel(d.id, "the agent stopped waiting after %s s" % limit)
            if d.status == "cancelled":
                d.timed_out = True
        return d

    def execute_with_approval(self, action, context, fn, reason=None, max_wait=None, **extra):
        """Ask, wait, and call ``fn()`` only if approved; returns its result. Otherwise raises
        ``ApprovalRejectedError`` / ``ApprovalExpiredError`` / ``ApprovalCancelledError`` /
        ``ApprovalTimeoutError`` and ``fn`` never runs."""
        d = self.request_approval(action, reason=reason, context=context, max_wait=max_wait, **extra)
        _raise_unless_granted(d)
        return fn()

    def review_plan(self, summary, steps, context=None, max_wait=None, **extra):
        """A breakpoint: one ask (type ``plan.review``, params ``steps``) for a whole plan; returns the approved
        ``Decision`` or raises like ``execute_with_approval``."""
        steps = list(steps or [])
        if not steps:
            raise ValueError("steps: a plan needs at least one step")
        action = {"type": "plan.review", "summary": summary, "params": {"steps": steps, "step_count": len(steps)}}
        d = self.request_approval(action, context=context, max_wait=max_wait, **extra)
        _raise_unless_granted(d)
        return d

    # -- one approval

    def get(self, approval_id):
        return self._decision(self._send("GET", _path(approval_id), None, {}, self.request_timeout, self.max_retries))

    def wait(self, approval_id, max_wait):
        """Long-polls until the approval leaves pending or ``max_wait`` seconds pass; returns the last ``Decision``.
        Connection errors and 5xx answers (a restarting server) do not end the wait: it retries with backoff on
        the same id until its deadline. A refusal (bad key, not found) raises ``CountersignError``."""
        deadline = time.monotonic() + max(0.0, float(max_wait))
        last = None
        failures = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return last if last is not None else self.get(approval_id)
            n = max(1, min(MAX_WAIT_SECONDS, int(math.ceil(remaining))))
            try:
                last = self._decision(self._send("GET", "%s?wait=%d" % (_path(approval_id), n), None, {}, n + 30, 0))
                failures = 0
                if not last.pending:
                    return last
            except CountersignError as e:
                if e.status != 0 and e.status < 500:
                    raise
                time.sleep(min(self._backoff(failures), max(0.0, deadline - time.monotonic())))
                failures += 1

    def cancel(self, approval_id, reason=None):
        """Withdraws the request; returns the ``Decision`` (cancelled, or as decided if someone decided first)."""
        body = json.dumps({"reason": reason} if reason else {}).encode("utf-8")
        try:
            return self._decision(self._send("POST", _path(approval_id) + "/cancel", body, {}, self.request_timeout, self.max_retries))
        except CountersignError as e:
            if e.status == 409:
                return self.get(approval_id)
            raise

    # -- HTTP

    def _decision(self, approval):
        return Decision(approval, url="%s/web/approvals/%s" % (self.url, approval.get("id") if isinstance(approval, dict) else ""))

    def _backoff(self, attempt):
        capped = min(self.initial_backoff * (2 ** min(attempt, 10)), 5.0)
        return capped / 2 + random.random() * capped / 2

    def _send(self, method, path, data, headers, timeout, retries):
        url = self.url + path
        all_headers = {"Authorization": "Bearer " + self.agent_key, "Accept": "application/json",
                       "User-Agent": "countersign-python-client/0.1"}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers)
        last = None
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=timeout) as resp:
                    return _json(resp.read(), resp.status, method, path)
            except urllib.error.HTTPError as e:
                error = _http_error(e, method, path)
                if e.code < 500:
                    raise error
                last = error
            except (urllib.error.URLError, OSError, ConnectionError) as e:  # refused, reset, timed out, dropped
                last = CountersignError("cannot reach Countersign at %s (%s %s, %d attempt%s: %s); is it running? check COUNTERSIGN_URL"
                                        % (self.url, method, path.split("?")[0], attempt + 1, "" if attempt == 0 else "s", _why(e)),
                                        code="unreachable")
            except Exception as e:  # http.client.RemoteDisconnected and friends
                if e.__class__.__module__ != "http.client":
                    raise
                last = CountersignError("cannot reach Countersign at %s (%s %s: %s); is it running? check COUNTERSIGN_URL"
                                        % (self.url, method, path.split("?")[0], _why(e)), code="unreachable")
            if attempt >= retries:
                raise last
            time.sleep(self._backoff(attempt))
            attempt += 1


def _why(e):
    reason = getattr(e, "reason", None)
    if reason is not None and not isinstance(reason, str):
        e = reason
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError) or "timed out" in str(e):
        return "no answer in time"
    text = str(e) or e.__class__.__name__
    return text


def _json(raw, status, method, path):
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        raise CountersignError("Countersign answered %s %s with something that is not JSON (HTTP %d)" % (method, path, status),
                               status=status, code="bad_response")


def _http_error(e, method, path):
    code, message, field = "http_%d" % e.code, None, None
    try:
        err = json.loads(e.read().decode("utf-8")).get("error") or {}
        code = err.get("code") or code
        message = err.get("message")
        field = err.get("field")
    except Exception:
        pass
    hint = ("; check COUNTERSIGN_AGENT_KEY (the server accepts the keys in its COUNTERSIGN_AGENT_KEYS or agents[].key)"
            if e.code == 401 else "")
    text = "%s (HTTP %d %s%s%s)" % (message or e.reason, e.code, code, ", field " + field if field else "", hint)
    return CountersignError(text, status=e.code, code=code, field=field)


def _path(approval_id):
    if not isinstance(approval_id, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", approval_id):
        raise ValueError("not an approval id: %r" % (approval_id,))
    return "/api/v1/approvals/" + approval_id


def _duration(value, name):
    """Seconds (int/float/timedelta) or an ISO-8601 duration string → ISO-8601 string."""
    if value is None:
        return None
    if isinstance(value, str):
        if not re.fullmatch(r"P(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?|\d+D(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?)", value) or value in ("P", "PT"):
            raise ValueError("%s must be seconds or an ISO-8601 duration such as PT30M, got %r" % (name, value))
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError("%s must be positive, got %r" % (name, value))
    return "PT%dS" % int(math.ceil(seconds))


def _ask_body(action, reason, context, extra):
    """The API's ask body from an action dict (or a type string with ``summary=``/``params=``) and a context dict."""
    extra = dict(extra)
    if isinstance(action, str):
        action = {"type": action, "summary": extra.pop("summary", None), "params": extra.pop("params", None) or {}}
    if not isinstance(action, dict):
        raise ValueError("action must be a dict with type, summary and params")
    t, s = action.get("type"), action.get("summary")
    if not isinstance(t, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*", t):
        raise ValueError("action.type is required: a dotted name such as payments.transfer, got %r" % (t,))
    if not isinstance(s, str) or not s.strip():
        raise ValueError("action.summary is required (one line a person reads)")
    params = action.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("action.params must be a dict")
    body = {"action": {"type": t, "summary": s, "params": params}}

    ctx = dict(context or {})
    ctx.update(extra)
    reason = reason if reason is not None else ctx.pop("reason", None)
    ctx.pop("reason", None)
    out_ctx = {}
    if reason is not None:
        out_ctx["reason"] = reason
    if ctx.get("impact") is not None:
        out_ctx["impact"] = ctx.pop("impact")
    links = ctx.pop("links", None)
    if links:
        if isinstance(links, dict):
            links = [{"title": k, "url": v} for k, v in links.items()]
        out_ctx["links"] = [{"title": l.get("title") or l.get("label"), "url": l["url"]} for l in links]
    if out_ctx:
        body["context"] = out_ctx
    run_id = ctx.pop("run_id", None)
    if run_id is not None:
        body["agent"] = {"run_id": run_id}
    for_whom = ctx.pop("on_behalf_of", None) or ctx.pop("requested_for", None)
    if for_whom is not None:
        body["requested_for"] = for_whom
    risk = ctx.pop("risk", None) or ctx.pop("risk_hint", None)
    if risk is not None:
        body["risk"] = {"level": risk} if isinstance(risk, str) else dict(risk)
    timeout = _duration(ctx.pop("timeout", None), "timeout")
    if timeout is not None:
        body["timeout"] = timeout
    callback = ctx.pop("callback_url", None)
    if callback is not None:
        body["callback_url"] = callback
    ctx.pop("impact", None)
    if ctx:
        raise ValueError("unknown context key(s): %s (known: reason, impact, links, run_id, on_behalf_of, risk, timeout, callback_url)"
                         % ", ".join(sorted(ctx)))
    return body


def _until_server_decides(d):
    expires = d.approval.get("expires_at")
    if not expires:
        return 24 * 3600 + EXPIRY_GRACE_SECONDS
    at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    return max(0.0, (at - datetime.now(timezone.utc)).total_seconds()) + EXPIRY_GRACE_SECONDS


def _raise_unless_granted(d):
    if d.granted:
        return
    if d.status == "rejected":
        raise ApprovalRejectedError("rejected by %s: %s (%s)" % (d.decided_by or "an approver", d.reason or "no reason given", d.id), d)
    if d.status == "expired":
        raise ApprovalExpiredError("%s (%s)" % (d.reason, d.id), d)
    if d.status == "cancelled" and getattr(d, "timed_out", False):
        raise ApprovalTimeoutError("no decision in time; the request was withdrawn (%s)" % d.id, d)
    if d.status == "cancelled":
        raise ApprovalCancelledError("%s (%s)" % (d.reason, d.id), d)
    raise ApprovalTimeoutError("still pending: not approved (%s)" % d.id, d)


# ---------------------------------------------------------------------------------------------------- module level

def request_approval(action, reason=None, context=None, wait=True, max_wait=None, url=None, agent_key=None, **extra):
    """Ask Countersign (``COUNTERSIGN_URL``, ``COUNTERSIGN_AGENT_KEY``) and wait for the decision.

    ``action``: ``{"type", "summary", "params"}``. ``reason``: why (shown to people). ``context``: a dict with any
    of ``reason``, ``impact``, ``links`` (``[{"title", "url"}]`` or ``{title: url}``), ``run_id``,
    ``on_behalf_of``, ``risk`` (a hint: low|medium|high), ``timeout`` (seconds or ``PT30M``: the server expires
    the request then), ``callback_url``. Returns a ``Decision`` (``granted``, ``status``, ``reason``,
    ``decided_by``, ``approval``)."""
    return Countersign(url=url, agent_key=agent_key).request_approval(action, reason=reason, context=context, wait=wait,
                                                                      max_wait=max_wait, **extra)


def execute_with_approval(action, context, fn, reason=None, max_wait=None, url=None, agent_key=None, **extra):
    """Ask, wait, and call ``fn()`` only if approved; returns its result, else raises ``ApprovalRejectedError``
    (``decided_by``, ``reason``), ``ApprovalExpiredError``, ``ApprovalCancelledError`` or
    ``ApprovalTimeoutError`` without calling ``fn``."""
    return Countersign(url=url, agent_key=agent_key).execute_with_approval(action, context, fn, reason=reason,
                                                                           max_wait=max_wait, **extra)


def review_plan(summary, steps, context=None, max_wait=None, url=None, agent_key=None):
    """One approval for a whole plan (action type ``plan.review``); returns the ``Decision`` or raises."""
    return Countersign(url=url, agent_key=agent_key).review_plan(summary, steps, context=context, max_wait=max_wait)


# ---------------------------------------------------------------------------------------------------- webhooks

class WebhookVerifier:
    """Standard Webhooks verification with a ``whsec_`` secret: the ``v1`` HMAC-SHA256 signature over
    ``"{id}.{timestamp}.{body}"``, the timestamp within ``tolerance`` seconds either way, and each ``webhook-id``
    accepted once (a bounded in-memory memory of ``max_remembered`` ids, forgotten once out of the window)."""

    def __init__(self, secret=None, tolerance=300, max_remembered=10000):
        secret = secret or os.environ.get("COUNTERSIGN_WEBHOOK_SECRET")
        if not secret:
            raise ValueError("webhook secret is empty (the agent's webhook_secret, whsec_<base64>; or COUNTERSIGN_WEBHOOK_SECRET)")
        self._key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode("utf-8")
        self.tolerance = tolerance
        self.max_remembered = max_remembered
        self._seen = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, headers, body, now=None):
        """Returns the approval (dict) or raises ``WebhookVerificationError``. ``headers``: any mapping (names in
        any case); ``body``: the raw bytes or text as received."""
        wid, ts, sig = _header(headers, "webhook-id"), _header(headers, "webhook-timestamp"), _header(headers, "webhook-signature")
        if not wid:
            raise WebhookVerificationError("missing_header", "no webhook-id header")
        if not ts or not re.fullmatch(r"\d{1,12}", ts.strip()):
            raise WebhookVerificationError("missing_header", "webhook-timestamp is missing or not Unix seconds: %r" % (ts,))
        if not sig:
            raise WebhookVerificationError("missing_header", "no webhook-signature header")
        if body is None:
            raise WebhookVerificationError("missing_header", "no body")
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        stamp = int(ts.strip())
        current = int(now if now is not None else time.time())
        if abs(current - stamp) > self.tolerance:
            raise WebhookVerificationError("timestamp_out_of_range", "webhook-timestamp %d is %d s %s (tolerance %d s)"
                                           % (stamp, abs(current - stamp), "old" if stamp < current else "in the future", self.tolerance))
        expected = hmac.new(self._key, ("%s.%d.%s" % (wid, stamp, text)).encode("utf-8"), hashlib.sha256).digest()
        ok = False
        for candidate in sig.strip().split():
            version, _, value = candidate.partition(",")
            if version != "v1":
                continue
            try:
                given = base64.b64decode(value, validate=True)
            except ValueError:
                continue
            ok = hmac.compare_digest(expected, given) or ok
        if not ok:
            raise WebhookVerificationError("bad_signature", "no v1 signature matches the body: forged, altered, or signed with another secret")
        with self._lock:
            while self._seen:
                oldest_id, oldest_ts = next(iter(self._seen.items()))
                if current - oldest_ts > self.tolerance:
                    self._seen.popitem(last=False)
                else:
                    break
            if wid in self._seen:
                raise WebhookVerificationError("replayed", "webhook-id %s was already accepted" % wid)
            self._seen[wid] = stamp
            while len(self._seen) > self.max_remembered:
                self._seen.popitem(last=False)
        try:
            return json.loads(text)
        except ValueError:
            raise WebhookVerificationError("bad_signature", "the signed body is not JSON")


_verifiers = {}
_verifiers_lock = threading.Lock()


def verify_webhook(headers, body, secret=None, tolerance=300, now=None):
    """Verifies a Countersign webhook (see ``WebhookVerifier``) and returns the approval as a dict. ``secret``
    defaults to ``COUNTERSIGN_WEBHOOK_SECRET``; replays are remembered per secret for this process."""
    secret = secret or os.environ.get("COUNTERSIGN_WEBHOOK_SECRET") or ""
    with _verifiers_lock:
        v = _verifiers.get((secret, tolerance))
        if v is None:
            v = _verifiers[(secret, tolerance)] = WebhookVerifier(secret or None, tolerance=tolerance)
    return v.verify(headers, body, now=now)


def _header(headers, name):
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None  # email.message.Message (http.server, urllib) is case-insensitive
    if value is None and hasattr(headers, "items"):
        for k, v in headers.items():
            if k.lower() == name:
                value = v
                break
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value
