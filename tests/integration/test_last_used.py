"""Last use of a token (issue 14): no storage write on the check path; the
node keeps use times in memory, writes them in batches (last_used_interval)
and at shutdown, and every listing shows them: the Carbon Mapper list, the
Mapbox list and the CLI, with null / "never" for a token never used.
"""
import time
import unittest
from datetime import datetime, timezone

from harness import ServerTestCase


def parse(ts):
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


class LastUsedTest(ServerTestCase):
    settings = {"last-used-interval": "1"}

    def setUp(self):
        self.email, self.pair = self.server.new_account()
        me = self.server.get("/api/v1/account/me", token=self.pair["access"]).json()
        self.user = me["username"]
        r = self.server.post("/tokens/v2/" + self.user, {"scopes": ["stac", "tokens:read"],
                                                         "note": "used"},
                             token=self.pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        self.sk = r.json()

    def mapbox_entry(self, token_id):
        r = self.server.get("/tokens/v2/" + self.user, token=self.pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        return next(t for t in r.json() if t["id"] == token_id)

    def cm_entry(self, token_id):
        r = self.server.get("/api/v1/account/tokens", token=self.pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        return next(t for t in r.json() if t["id"] == token_id)

    def cli_last_used(self, token_id):
        rows = self.server.cli("token", "list", self.email).stdout.strip().split("\n")
        column = rows[0].split("\t").index("LAST_USED")
        return next(r.split("\t") for r in rows if r.startswith(token_id))[column]

    def test_never_used_then_used(self):
        self.assertIsNone(self.mapbox_entry(self.sk["id"])["last_used"])
        self.assertIsNone(self.cm_entry(self.sk["id"])["last_used"])
        self.assertEqual(self.cli_last_used(self.sk["id"]), "never")
        before = time.time()
        r = self.server.get("/tokens/v2", token=self.sk["token"])
        self.assertEqual(r.json()["code"], "TokenValid")
        # The node's own listings show it at once (from memory) ...
        for entry in (self.mapbox_entry(self.sk["id"]), self.cm_entry(self.sk["id"])):
            self.assertIsNotNone(entry["last_used"])
            self.assertLessEqual(abs(parse(entry["last_used"]) - before), 2)
        # ... and storage within one interval (the CLI reads storage).
        deadline = time.time() + 5
        while self.cli_last_used(self.sk["id"]) == "never" and time.time() < deadline:
            time.sleep(0.2)
        used = self.cli_last_used(self.sk["id"])
        self.assertNotEqual(used, "never")
        self.assertLessEqual(abs(parse(used) - before), 2)
        # The account's default public token was never used.
        pk = next(t for t in self.server.get("/tokens/v2/" + self.user,
                                             token=self.pair["access"]).json() if t["default"])
        self.assertIsNone(pk["last_used"])

    def test_failed_checks_are_not_uses(self):
        secret = self.sk["token"].rsplit(".", 1)[1]
        forged = self.sk["token"][:-len(secret)] + secret[::-1]
        code = self.server.get("/tokens/v2", token=forged).json()["code"]
        self.assertIn(code, ("TokenInvalid", "TokenMalformed"))
        self.assertIsNone(self.mapbox_entry(self.sk["id"])["last_used"])
        self.assertIsNone(self.cm_entry(self.sk["id"])["last_used"])

    def test_written_at_shutdown(self):
        srv = self.server
        r = srv.get("/tokens/v2", token=self.sk["token"])
        self.assertEqual(r.json()["code"], "TokenValid")
        # SIGTERM within the interval: the pending use is written on the way out.
        srv.stop()
        try:
            self.assertNotEqual(self.cli_last_used(self.sk["id"]), "never")
        finally:
            srv.start()
        self.assertIsNotNone(self.mapbox_entry(self.sk["id"])["last_used"])


if __name__ == "__main__":
    unittest.main()
