"""Expiry notices (issue 14, item 2): a token's owner hears that it expires
soon (within expiry_warning_days) and that it expired, through a webhook — a
signed JSON POST to a loopback receiver, retried with backoff, never carrying
a secret — and through the account's notices (the pages' banner) until
dismissed.
"""
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import SOURCE_DIR, Server

SECRET = "loopback-webhook-secret-0123456789"
NOTICES = "/api/v1/account/notices"


def ahead(**kw):
    when = datetime.now(timezone.utc) + timedelta(**kw)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Receiver:
    """A real HTTP server on loopback that records every POST; the first
    `failures` answers are 500s."""

    def __init__(self, failures=0):
        self.posts = []
        self.failures = failures
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.posts.append((dict(self.headers), body))
                    fail = receiver.failures > 0
                    receiver.failures -= 1 if fail else 0
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_for(self, predicate, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                found = [p for p in self.posts if predicate(p)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError("no matching webhook POST; got %r" % self.posts)


def verify_signature(headers, body):
    fields = dict(part.split("=", 1) for part in headers["X-Tessera-Signature"].split(","))
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(fields["t"])) < 120


class NoticesTest(unittest.TestCase):
    failures = 2

    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver(failures=cls.failures)
        cls.server = Server(settings={"webhook-url": cls.receiver.url, "webhook-secret": SECRET,
                                      "notice-scan-interval": 1, "webhook-retry-seconds": 1,
                                      "webhook-max-attempts": 4, "token-api-rate": 0})
        cls.server.keep_credential(SECRET)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.receiver.close()

    def setUp(self):
        self.email, self.pair = self.server.new_account()
        self.user = self.server.get("/api/v1/account/me",
                                    token=self.pair["access"]).json()["username"]

    def create(self, note, **fields):
        body = {"scopes": ["stac"], "note": note}
        body.update(fields)
        r = self.server.post("/tokens/v2/" + self.user, body, token=self.pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def notices(self, token=None):
        r = self.server.get(NOTICES, token=token or self.pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["notices"]

    def test_expiring_then_expired_signed_and_retried(self):
        t = self.create("soon gone", expires_at=ahead(seconds=4))
        # Within the warning days: a warning, signed, without the secret; the
        # receiver's first answers were 500s, so the same delivery came again.
        posts = self.receiver.wait_for(
            lambda p: json.loads(p[1])["token"]["id"] == t["id"] and
            json.loads(p[1])["type"] == "token.expiring")
        headers, body = posts[-1]
        self.assertTrue(verify_signature(headers, body), headers)
        self.assertEqual(headers["X-Tessera-Event"], "token.expiring")
        self.assertEqual(headers["Content-Type"], "application/json")
        payload = json.loads(body)
        self.assertEqual(payload["account"]["email"], self.email)
        self.assertEqual(payload["account"]["username"], self.user)
        self.assertEqual(payload["token"]["note"], "soon gone")
        self.assertEqual(payload["token"]["scopes"], ["stac"])
        self.assertIn("soon gone", payload["message"])
        self.assertNotIn(t["token"], body.decode())
        self.assertNotIn(t["token"].split(".")[2], body.decode())
        ids = {h["X-Tessera-Delivery"] for h, b in posts}
        self.assertEqual(len(ids), 1, "a retry is the same delivery")
        # At expiry: the expired notice.
        expired = self.receiver.wait_for(
            lambda p: json.loads(p[1])["token"]["id"] == t["id"] and
            json.loads(p[1])["type"] == "token.expired")
        self.assertTrue(verify_signature(*expired[-1]))
        self.assertNotEqual(expired[-1][0]["X-Tessera-Delivery"], headers["X-Tessera-Delivery"])
        # The banner shows the expired notice, which stands in for the warning.
        shown = [n for n in self.notices() if n["token"]["id"] == t["id"]]
        self.assertEqual([n["kind"] for n in shown], ["token.expired"])
        self.assertIn("expired", shown[0]["message"])
        # Retries show in the metrics.
        metrics = self.server.get("/metrics").text
        self.assertRegex(metrics, r'tessera_webhook_deliveries_total\{outcome="delivered"\} [1-9]')
        self.assertRegex(metrics, r'tessera_webhook_deliveries_total\{outcome="retried"\} [1-9]')

    def test_banner_dismiss_and_ownership(self):
        t = self.create("three days", expires_at=ahead(days=3))
        far = self.create("next year", expires_at=ahead(days=300))
        deadline = time.time() + 20
        while time.time() < deadline and not any(n["token"]["id"] == t["id"]
                                                 for n in self.notices()):
            time.sleep(0.2)
        shown = self.notices()
        mine = [n for n in shown if n["token"]["id"] == t["id"]]
        self.assertEqual(len(mine), 1, shown)
        self.assertEqual(mine[0]["kind"], "token.expiring")
        self.assertIn("in 2 days", mine[0]["message"])
        self.assertEqual(mine[0]["token"]["note"], "three days")
        self.assertFalse(any(n["token"]["id"] == far["id"] for n in shown))
        # The warning is in the owner's audit trail, and the CLI marks the token.
        deadline = time.time() + 10  # the audit writer works in batches
        while True:
            events = self.server.get("/api/v1/account/audit", token=self.pair["access"]).json()
            warned = [e for e in events["events"] if e["kind"] == "token.expiring"]
            if warned or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual([(e["token_id"], e["actor"]) for e in warned], [(t["id"], "system")])
        rows = {l.split("\t")[0]: l.split("\t")
                for l in self.server.cli("token", "list", self.email).stdout.splitlines()}
        soon = rows["ID"].index("EXPIRING_SOON")
        self.assertEqual(rows[t["id"]][soon], "yes")
        self.assertEqual(rows[far["id"]][soon], "-")
        # Nobody else sees or dismisses it.
        _, other = self.server.new_account()
        self.assertEqual(self.notices(other["access"]), [])
        r = self.server.post("%s/%s/dismiss" % (NOTICES, mine[0]["id"]), token=other["access"])
        self.assertEqual((r.status_code, r.json()["code"]), (404, "not_found"), r.text)
        for bad in ("0", "abc", "99999999"):
            r = self.server.post("%s/%s/dismiss" % (NOTICES, bad), token=self.pair["access"])
            self.assertEqual(r.status_code, 404, r.text)
        r = self.server.post("%s/%s/dismiss" % (NOTICES, mine[0]["id"]), token=self.pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        r = self.server.post("%s/%s/dismiss" % (NOTICES, mine[0]["id"]), token=self.pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        self.assertFalse(any(n["token"]["id"] == t["id"] for n in self.notices()))
        # No credential, no notices.
        self.assertEqual(self.server.get(NOTICES).status_code, 401)

    def test_revoked_or_redated_token_takes_its_notice_away(self):
        t = self.create("revoke me", expires_at=ahead(days=2))
        u = self.create("extend me", expires_at=ahead(days=2))
        deadline = time.time() + 20
        while time.time() < deadline and len({n["token"]["id"] for n in self.notices()}) < 2:
            time.sleep(0.2)
        self.assertEqual({n["token"]["id"] for n in self.notices()}, {t["id"], u["id"]})
        r = self.server.request("DELETE", "/tokens/v2/%s/%s" % (self.user, t["id"]),
                                token=self.pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        r = self.server.request("PATCH", "/tokens/v2/%s/%s" % (self.user, u["id"]),
                                token=self.pair["access"], json={"expires_at": ahead(days=90)})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.notices(), [])

    def test_secret_scope_needed_with_a_token(self):
        sk = self.create("reader")
        r = self.server.get(NOTICES, token=sk["token"])
        self.assertEqual(r.status_code, 403, r.text)


class GivingUpTest(unittest.TestCase):
    """A receiver that always fails: the delivery is retried up to
    webhook_max_attempts, then given up (counted as failed)."""

    def test_gives_up_after_max_attempts(self):
        receiver = Receiver(failures=10 ** 6)
        server = Server(settings={"webhook-url": receiver.url, "webhook-secret": SECRET,
                                  "notice-scan-interval": 1, "webhook-retry-seconds": 1,
                                  "webhook-max-attempts": 2})
        server.keep_credential(SECRET)
        try:
            server.start()
            _, pair = server.new_account()
            user = server.get("/api/v1/account/me", token=pair["access"]).json()["username"]
            r = server.post("/tokens/v2/" + user, {"scopes": ["stac"], "note": "x",
                                                    "expires_at": ahead(days=1)},
                            token=pair["access"])
            self.assertEqual(r.status_code, 200, r.text)
            deadline = time.time() + 30
            while time.time() < deadline:
                m = server.get("/metrics").text
                if 'tessera_webhook_deliveries_total{outcome="failed"} 1' in m:
                    break
                time.sleep(0.2)
            self.assertIn('tessera_webhook_deliveries_total{outcome="failed"} 1', m)
            time.sleep(2.5)  # no third attempt
            self.assertEqual(len(receiver.posts), 2)
            (first, _), (second, _) = receiver.posts
            self.assertEqual(first["X-Tessera-Delivery"], second["X-Tessera-Delivery"])
            gap = (int(second["X-Tessera-Signature"].split(",")[0][2:]) -
                   int(first["X-Tessera-Signature"].split(",")[0][2:]))
            self.assertGreaterEqual(gap, 1, "the retry waited webhook_retry_seconds")
            self.assertIn("giving up", server.read_log())
        finally:
            server.close()
            receiver.close()


class TwoNodesTest(unittest.TestCase):
    """Two nodes on one PostgreSQL both scan and both deliver: each notice is
    made once and posted once."""

    def test_one_notice_one_post(self):
        sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "pg"))
        from pgcluster import PgCluster
        pg = PgCluster().start()
        receiver = Receiver()
        nodes = []
        try:
            url = pg.createdb("notices")
            for _ in range(2):
                node = Server(settings={"webhook-url": receiver.url, "webhook-secret": SECRET,
                                        "notice-scan-interval": 1}, database_url=url)
                node.keep_credential(SECRET)
                nodes.append(node.start())
            a, b = nodes
            _, pair = a.new_account()
            user = a.get("/api/v1/account/me", token=pair["access"]).json()["username"]
            made = []
            for i in range(5):
                r = a.post("/tokens/v2/" + user, {"scopes": ["stac"], "note": "n%d" % i,
                                                  "expires_at": ahead(days=1)},
                           token=pair["access"])
                self.assertEqual(r.status_code, 200, r.text)
                made.append(r.json()["id"])
            for token_id in made:
                receiver.wait_for(lambda p: json.loads(p[1])["token"]["id"] == token_id)
            time.sleep(3)  # both nodes scanned and polled several times more
            posted = [json.loads(body)["token"]["id"] for _, body in receiver.posts]
            self.assertEqual(sorted(posted), sorted(made))
            shown = b.get(NOTICES, token=pair["access"]).json()["notices"]
            self.assertEqual(sorted(n["token"]["id"] for n in shown), sorted(made))
            r = b.post("%s/%s/dismiss" % (NOTICES, shown[0]["id"]), token=pair["access"])
            self.assertEqual(r.status_code, 204, r.text)
            self.assertEqual(len(a.get(NOTICES, token=pair["access"]).json()["notices"]), 4)
        finally:
            for node in nodes:
                node.close()
            receiver.close()
            pg.destroy()


class SettingsTest(unittest.TestCase):
    def test_webhook_needs_a_secret_and_a_url(self):
        server = Server(settings={"webhook-url": "http://127.0.0.1:9/hook"})
        try:
            with self.assertRaises(AssertionError) as ctx:
                server.start()
            self.assertIn("webhook_secret", str(ctx.exception))
        finally:
            server.close()
        for key, value, words in (("webhook-url", "ftp://example.com/x", "http:// or https://"),
                                  ("webhook-secret", "short", "at least 16")):
            server = Server(settings={key: value})
            try:
                with self.assertRaises(AssertionError) as ctx:
                    server.start()
                self.assertIn(words, str(ctx.exception))
            finally:
                server.close()


if __name__ == "__main__":
    unittest.main()
