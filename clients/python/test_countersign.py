"""Tests of countersign.py against a REAL Countersign server.

Run by the Maven build (client-tests' PythonClientTest starts the server on a free port and runs
``python3 -m unittest -v test_countersign`` here), or by hand against a server with the test rules:
COUNTERSIGN_URL, COUNTERSIGN_AGENT_KEY (agent alice-bot), COUNTERSIGN_OPERATOR_KEY and
COUNTERSIGN_WEBHOOK_SECRET (alice-bot's webhook_secret) must be set; the tests fail, never skip, without them.
Rules used: db.read* low; payments.* over 10000 high (alice, bob); test.expire high, expires after 2 s;
email.send medium with a 2 s veto window; plan.review high (alice).
"""

import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import unittest
import urllib.request
import uuid

import countersign
from countersign import (ApprovalCancelledError, ApprovalExpiredError, ApprovalRejectedError, ApprovalTimeoutError,
                         Countersign, CountersignError, WebhookVerificationError, WebhookVerifier,
                         execute_with_approval, request_approval, review_plan, verify_webhook)

URL = os.environ.get("COUNTERSIGN_URL")
OPERATOR_KEY = os.environ.get("COUNTERSIGN_OPERATOR_KEY")
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")


def setUpModule():
    missing = [v for v in ("COUNTERSIGN_URL", "COUNTERSIGN_AGENT_KEY", "COUNTERSIGN_OPERATOR_KEY", "COUNTERSIGN_WEBHOOK_SECRET")
               if not os.environ.get(v)]
    if missing:
        raise RuntimeError("set %s: these tests need a real Countersign (the Maven build starts one)" % ", ".join(missing))


def operator(method, path, body=None):
    req = urllib.request.Request(URL + path, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers={"Authorization": "Bearer " + OPERATOR_KEY, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def find(summary, timeout=10, status=None):
    """The newest approval with this summary (and status), as the operator sees it (waits for the ask to arrive)."""
    end = time.time() + timeout
    while time.time() < end:
        _, listing = operator("GET", "/api/v1/approvals?limit=1000" + ("&status=" + status if status else ""))
        for a in listing["approvals"]:
            if a["action"]["summary"] == summary:
                return a
        time.sleep(0.05)
    raise AssertionError("no approval with summary %r" % summary)


def count(summary):
    _, listing = operator("GET", "/api/v1/approvals?limit=1000")
    return sum(1 for a in listing["approvals"] if a["action"]["summary"] == summary)


def decide_later(summary, outcome, person, comment=None):
    """In the background: wait for the ask with this summary, then record a person's decision."""
    def run():
        a = find(summary, status="pending")
        body = {"outcome": outcome, "as": person}
        if comment:
            body["comment"] = comment
        operator("POST", "/api/v1/approvals/%s/decision" % a["id"], body)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def unique(text):
    return "%s #%s" % (text, uuid.uuid4().hex[:8])


def payment(summary):
    return {"type": "payments.transfer", "summary": summary, "params": {"amount": 12500, "currency": "EUR"}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AskingAndWaiting(unittest.TestCase):
    def test_low_risk_is_granted_at_once_by_policy(self):
        d = request_approval(action={"type": "db.read.customers", "summary": unique("Read customers"), "params": {"limit": 20}},
                             reason="weekly report")
        self.assertTrue(d.granted)
        self.assertEqual(d.status, "approved")
        self.assertEqual(d.decided_by, "policy")
        self.assertEqual(d.risk, "low")
        self.assertEqual(d.approval["context"]["reason"], "weekly report")
        self.assertTrue(d.url.endswith("/web/approvals/" + d.id))

    def test_high_risk_waits_for_a_person_and_the_function_runs_only_after_the_approval(self):
        summary = unique("Pay invoice INV-2291")
        ran = []
        decider = decide_later(summary, "approve", "alice", "checked the invoice")
        result = execute_with_approval(payment(summary), {"reason": "invoice due Friday", "run_id": "py-1"},
                                       lambda: ran.append("paid") or "receipt-1")
        decider.join()
        self.assertEqual(result, "receipt-1")
        self.assertEqual(ran, ["paid"])
        a = find(summary)
        self.assertEqual(a["status"], "approved")
        self.assertEqual(a["decision"]["by"]["id"], "alice")
        self.assertEqual(a["agent"]["run_id"], "py-1")

    def test_request_approval_returns_the_deciders_comment_as_reason(self):
        summary = unique("Pay invoice INV-3")
        decide_later(summary, "approve", "bob", "fine by me")
        d = request_approval(action=payment(summary), reason="due", context={"impact": "money leaves"})
        self.assertTrue(d.granted)
        self.assertEqual((d.status, d.decided_by, d.reason), ("approved", "bob", "fine by me"))
        self.assertEqual(d.approval["context"]["impact"], "money leaves")

    def test_a_rejection_raises_with_who_and_why_and_the_function_never_runs(self):
        summary = unique("Pay invoice INV-7")
        ran = []
        decide_later(summary, "reject", "bob", "use the sandbox account")
        with self.assertRaises(ApprovalRejectedError) as caught:
            execute_with_approval(payment(summary), {"reason": "test"}, lambda: ran.append("paid"))
        self.assertEqual(caught.exception.decided_by, "bob")
        self.assertEqual(caught.exception.reason, "use the sandbox account")
        self.assertEqual(caught.exception.approval["status"], "rejected")
        self.assertEqual(ran, [])

    def test_expiry_raises_expired_with_a_reason_and_the_function_never_runs(self):
        ran = []
        with self.assertRaises(ApprovalExpiredError) as caught:
            execute_with_approval({"type": "test.expire", "summary": unique("Expires in 2 s")}, None, lambda: ran.append(1))
        self.assertEqual(caught.exception.status, "expired")
        self.assertTrue(caught.exception.reason)  # why it expired: the timer's comment
        self.assertEqual(caught.exception.decided_by, "timer")
        self.assertEqual(ran, [])
        d = request_approval(action={"type": "test.expire", "summary": unique("Expires again")})
        self.assertFalse(d.granted)
        self.assertEqual(d.status, "expired")

    def test_medium_risk_with_a_veto_window_runs_only_after_the_window(self):
        started = time.monotonic()
        ran = []
        execute_with_approval({"type": "email.send", "summary": unique("E-mail the report")}, {}, lambda: ran.append(1))
        self.assertEqual(ran, [1])
        self.assertGreaterEqual(time.monotonic() - started, 1.9)

    def test_a_request_withdrawn_while_waiting_raises_cancelled(self):
        summary = unique("Pay invoice INV-8")
        cs = Countersign()

        def withdraw():
            cs.cancel(find(summary)["id"], "changed my mind")
        threading.Thread(target=withdraw, daemon=True).start()
        ran = []
        with self.assertRaises(ApprovalCancelledError):
            execute_with_approval(payment(summary), {}, lambda: ran.append(1))
        self.assertEqual(ran, [])

    def test_a_wait_that_ends_while_pending_withdraws_the_request(self):
        summary = unique("Pay invoice INV-10")
        ran = []
        with self.assertRaises(ApprovalTimeoutError):
            execute_with_approval(payment(summary), {}, lambda: ran.append(1), max_wait=1)
        self.assertEqual(ran, [])
        self.assertEqual(find(summary)["status"], "cancelled")
        self.assertEqual(operator("POST", "/api/v1/approvals/%s/decision" % find(summary)["id"], {"outcome": "approve", "as": "alice"})[0], 409)

    def test_the_context_reaches_the_server_as_the_api_names_it(self):
        d = request_approval(action={"type": "ops.restart", "summary": unique("Restart the cache")}, wait=False,
                             context={"reason": "stale", "on_behalf_of": "dave", "links": {"runbook": "https://example.com/rb"},
                                      "risk": "high", "timeout": 600})
        a = d.approval
        self.assertEqual(d.status, "pending")
        self.assertEqual(a["requested_for"], "dave")
        self.assertEqual(a["context"]["links"], [{"title": "runbook", "url": "https://example.com/rb"}])
        self.assertEqual(a["risk"]["level"], "high")
        self.assertEqual(Countersign().cancel(d.id).status, "cancelled")

    def test_a_plan_review_asks_once_and_a_rejection_stops_the_plan(self):
        summary = unique("Migrate the billing DB")
        decide_later(summary, "approve", "alice", "go")
        d = review_plan(summary, ["snapshot", "migrate", "switch"], {"reason": "OPS-12"})
        self.assertTrue(d.granted)
        self.assertEqual(d.approval["action"]["type"], "plan.review")
        self.assertEqual(d.approval["action"]["params"]["steps"], ["snapshot", "migrate", "switch"])
        second = unique("Drop old tables")
        decide_later(second, "reject", "alice", "keep them")
        with self.assertRaises(ApprovalRejectedError) as caught:
            review_plan(second, ["drop t1"])
        self.assertEqual(caught.exception.reason, "keep them")


class Errors(unittest.TestCase):
    def test_a_bad_key_is_a_401_error_naming_the_variable(self):
        with self.assertRaises(CountersignError) as caught:
            request_approval(action={"type": "db.read.x", "summary": "read"}, agent_key="not-a-key")
        self.assertEqual(caught.exception.status, 401)
        self.assertEqual(caught.exception.code, "invalid_key")
        self.assertIn("COUNTERSIGN_AGENT_KEY", str(caught.exception))

    def test_a_refused_request_names_the_field_and_nothing_runs(self):
        ran = []
        with self.assertRaises(CountersignError) as caught:
            execute_with_approval({"type": "db.read.x", "summary": "x" * 3001}, {}, lambda: ran.append(1))
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.field, "action.summary")
        self.assertEqual(ran, [])

    def test_bad_input_is_refused_before_sending(self):
        with self.assertRaisesRegex(ValueError, "action.type"):
            request_approval(action={"type": "pay now", "summary": "x"})
        with self.assertRaisesRegex(ValueError, "action.summary"):
            request_approval(action={"type": "db.read.x", "summary": ""})
        with self.assertRaisesRegex(ValueError, "timeout"):
            request_approval(action={"type": "db.read.x", "summary": "x"}, context={"timeout": "30 minutes"})
        with self.assertRaisesRegex(ValueError, "unknown context key"):
            request_approval(action={"type": "db.read.x", "summary": "x"}, context={"reasn": "typo"})

    def test_an_unreachable_server_is_a_clear_error_and_nothing_runs(self):
        port = free_port()
        ran = []
        cs = Countersign(url="http://127.0.0.1:%d" % port, max_retries=2, initial_backoff=0.01)
        with self.assertRaises(CountersignError) as caught:
            cs.execute_with_approval({"type": "db.read.x", "summary": "read"}, {}, lambda: ran.append(1))
        self.assertEqual(caught.exception.code, "unreachable")
        self.assertIn("cannot reach Countersign at http://127.0.0.1:%d" % port, str(caught.exception))
        self.assertIn("3 attempts", str(caught.exception))
        self.assertEqual(ran, [])


class _DroppingProxy(http.server.ThreadingHTTPServer):
    """A real HTTP proxy to the server that forwards every request but loses the answer to the first ``drops`` asks."""
    daemon_threads = True

    def __init__(self, drops):
        self.drops = drops
        self.asks = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type", "idempotency-key")}
                req = urllib.request.Request(URL + self.path, data=body, headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(req, timeout=90) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                if self.command == "POST" and self.path == "/api/v1/approvals":
                    outer.asks.append((self.headers.get("Idempotency-Key"), body, status))
                    if len(outer.asks) <= outer.drops:
                        self.close_connection = True  # no answer at all: the connection just closes
                        return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _forward
            do_POST = _forward

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class Retries(unittest.TestCase):
    def test_a_lost_answer_is_retried_with_the_same_idempotency_key_and_makes_one_approval(self):
        proxy = _DroppingProxy(drops=1)
        try:
            summary = unique("Pay once")
            d = Countersign(url=proxy.url, initial_backoff=0.01).request_approval(payment(summary), wait=False)
            self.assertEqual(len(proxy.asks), 2)
            self.assertEqual(proxy.asks[0][0], proxy.asks[1][0])
            self.assertIsNotNone(proxy.asks[0][0])
            self.assertEqual(proxy.asks[0][1], proxy.asks[1][1])
            self.assertEqual(count(summary), 1)
            self.assertEqual(d.id, find(summary)["id"])
        finally:
            proxy.shutdown()
            proxy.server_close()


class _Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.received = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append((self.headers, body))
                self.send_response(204)
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Webhooks(unittest.TestCase):
    def test_a_real_webhook_is_accepted_once_and_forged_old_and_replayed_ones_are_refused(self):
        receiver = _Receiver()
        try:
            summary = unique("Pay with a callback")
            d = request_approval(action=payment(summary), wait=False,
                                 context={"callback_url": "http://127.0.0.1:%d/hook" % receiver.server_address[1]})
            operator("POST", "/api/v1/approvals/%s/decision" % d.id, {"outcome": "reject", "as": "alice", "comment": "wrong account"})
            end = time.time() + 20
            while not receiver.received and time.time() < end:
                time.sleep(0.05)
            self.assertTrue(receiver.received, "no webhook arrived")
            headers, body = receiver.received[0]
            stamp = int(headers["webhook-timestamp"])

            v = WebhookVerifier()  # COUNTERSIGN_WEBHOOK_SECRET
            with self.assertRaises(WebhookVerificationError) as forged:
                WebhookVerifier("whsec_YW5vdGhlciBzZWNyZXQgb2YgMzIgYnl0ZXMuLi4uLi4=").verify(headers, body)
            self.assertEqual(forged.exception.reason, "bad_signature")
            with self.assertRaises(WebhookVerificationError) as altered:
                v.verify(headers, body.replace(b"rejected", b"approved"))
            self.assertEqual(altered.exception.reason, "bad_signature")
            with self.assertRaises(WebhookVerificationError) as old:
                v.verify(headers, body, now=stamp + 600)
            self.assertEqual(old.exception.reason, "timestamp_out_of_range")
            with self.assertRaises(WebhookVerificationError) as future:
                v.verify(headers, body, now=stamp - 600)
            self.assertEqual(future.exception.reason, "timestamp_out_of_range")
            with self.assertRaises(WebhookVerificationError) as missing:
                v.verify({}, body)
            self.assertEqual(missing.exception.reason, "missing_header")

            approval = verify_webhook(headers, body)
            self.assertEqual(approval["id"], d.id)
            self.assertEqual(approval["status"], "rejected")
            self.assertEqual(approval["decision"]["comment"], "wrong account")
            with self.assertRaises(WebhookVerificationError) as replayed:
                verify_webhook(dict(headers.items()), body)  # a plain dict, names as sent
            self.assertEqual(replayed.exception.reason, "replayed")
        finally:
            receiver.shutdown()
            receiver.server_close()


class ReadmeExample(unittest.TestCase):
    """The README's Python snippet, run as written (a person approves the payment it asks for)."""

    def test_the_readme_python_example_works_as_written(self):
        with open(README, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"<!-- python-example -->\s*```python\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "README.md has no python example block")
        code = m.group(1)
        summaries = re.findall(r'"summary": "([^"]+)"', code)
        self.assertTrue(summaries)
        for s in summaries:  # approve whatever the example asks that needs a person
            if "INV-" in s:
                decide_later(s, "approve", "alice", "checked")
        from io import StringIO
        out, saved = StringIO(), sys.stdout
        sys.stdout = out
        try:
            exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
        finally:
            sys.stdout = saved
        printed = out.getvalue()
        self.assertIn("approved", printed)
        self.assertIn("paid INV-2291", printed)


if __name__ == "__main__":
    unittest.main()
