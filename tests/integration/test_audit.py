"""The audit trail (issue 14): sign-ins and their failures, sign-out,
registration, token creation (stored and temporary), update, rotation and
revocation, account changes by an operator and throttling, each with time,
actor, account, token id, client address, user agent and request id, and
never a secret. GET /api/v1/account/audit shows an account its own events,
paged; `tessera audit` shows an operator anyone's, as a table or JSON.
"""
import json
import time
import unittest

from harness import ServerTestCase, unique_email

PASSWORD = "correct horse battery"
# A tab is the one control byte a field value may hold (RFC 9110 §5.5);
# the others are refused by the HTTP layer (test_http_layer).
AGENT = "audit-test/1.0 (\u00e9 \t)"


class AuditTest(ServerTestCase):
    settings = {"login-rate-account": "5", "login-rate-addr": "1000", "token-api-rate": "0"}

    def events(self, access, **params):
        r = self.server.get("/api/v1/account/audit", token=access, params=params)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json(), r

    def wait_for(self, access, kind, count=1, timeout=5):
        """Events are written off the request path, within a second."""
        deadline = time.time() + timeout
        while True:
            evs = self.events(access, limit=200)[0]["events"]
            found = [e for e in evs if e["kind"] == kind]
            if len(found) >= count or time.time() > deadline:
                return found
            time.sleep(0.1)

    def test_lifecycle_is_audited_without_secrets(self):
        email = unique_email("audit")
        headers = {"User-Agent": AGENT.encode("utf-8")}
        r = self.server.post("/api/v1/account/register", {"email": email, "password": PASSWORD},
                             headers=headers)
        self.assertEqual(r.status_code, 201, r.text)
        account_id = r.json()["id"]
        bad = self.server.post("/api/v1/token/pair", {"email": email, "password": "wrong pw 1"})
        self.assertEqual(bad.status_code, 401)
        pair = self.server.login(email, PASSWORD)
        access = pair["access"]
        user = self.server.get("/api/v1/account/me", token=access).json()["username"]
        r = self.server.post("/tokens/v2/" + user, {"scopes": ["stac", "tokens:write"],
                                                    "note": "audited"}, token=access,
                             headers={"User-Agent": "mapbox-sdk"})
        sk = r.json()
        r = self.server.request("PATCH", "/tokens/v2/%s/%s" % (user, sk["id"]), token=access,
                                json={"note": "renamed"})
        self.assertEqual(r.status_code, 200, r.text)
        expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 600))
        tk = self.server.post("/tokens/v2/" + user, {"scopes": ["stac"], "expires": expires},
                              token=sk["token"]).json()["token"]
        rotated = self.server.post("/api/v1/account/tokens/%s/rotate" % sk["id"],
                                   {"grace_seconds": 60}, token=access).json()
        r = self.server.request("DELETE", "/tokens/v2/%s/%s" % (user, rotated["id"]),
                                token=access)
        self.assertEqual(r.status_code, 204)
        # A revocation is in the trail as soon as it is acknowledged.
        page, _ = self.events(access, limit=200)
        revokes = [e for e in page["events"] if e["kind"] == "token.revoke"]
        self.assertEqual([e["token_id"] for e in revokes], [rotated["id"]])
        self.assertEqual(revokes[0]["actor"], "session")
        self.assertEqual(revokes[0]["account_id"], account_id)
        self.assertEqual(revokes[0]["client"], "127.0.0.1")
        self.assertRegex(revokes[0]["request_id"], r".+")
        r = self.server.post("/api/v1/token/blacklist", {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 200)
        for kind in ("account.register", "signin.failed", "signin", "token.create",
                     "token.update", "token.temporary", "token.rotate", "token.revoke",
                     "signout"):
            self.assertTrue(self.wait_for(access, kind), kind)
        evs = self.events(access, limit=200)[0]["events"]
        times = [e["at"] for e in evs]
        self.assertEqual(times, sorted(times, reverse=True), "newest first")
        reg = next(e for e in evs if e["kind"] == "account.register")
        self.assertEqual(reg["user_agent"], "audit-test/1.0 (?? ?)")  # printable ASCII only
        create = next(e for e in evs if e["kind"] == "token.create")
        self.assertEqual(create["token_id"], sk["id"])
        self.assertEqual(create["user_agent"], "mapbox-sdk")
        failed = next(e for e in evs if e["kind"] == "signin.failed")
        self.assertEqual(failed["detail"], "wrong password")
        temp = next(e for e in evs if e["kind"] == "token.temporary")
        self.assertEqual(temp["actor"], "token:" + sk["id"])
        text = json.dumps(evs)
        for secret in (PASSWORD, "wrong pw 1", sk["token"], sk["token"].rsplit(".", 1)[1], tk,
                       rotated["token_value"], access, pair["refresh"]):
            self.assertNotIn(secret, text)
        # Only one's own events.
        _, other = self.server.new_account()
        others = self.events(other["access"])[0]["events"]
        self.assertTrue(all(e["account_id"] != account_id for e in others))

    def test_paging_and_errors(self):
        email, pair = self.server.new_account()
        for _ in range(3):
            self.server.login(email)
        self.wait_for(pair["access"], "signin", count=4)
        page, r = self.events(pair["access"], limit=2)
        self.assertEqual(len(page["events"]), 2)
        self.assertIn('rel="next"', r.headers["Link"])
        seen = [e["id"] for e in page["events"]]
        while page["next"]:
            page = self.server.get(page["next"], token=pair["access"]).json()
            seen += [e["id"] for e in page["events"]]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertGreaterEqual(len(seen), 5)  # register + 4 sign-ins
        for params in ({"limit": 0}, {"limit": 201}, {"limit": "x"}, {"before": "-3"}):
            r = self.server.get("/api/v1/account/audit", token=pair["access"], params=params)
            self.assertEqual(r.status_code, 422, (params, r.text))
        self.assertEqual(self.server.get("/api/v1/account/audit").status_code, 401)

    def test_throttling_and_operator_view(self):
        email, pair = self.server.new_account()
        for _ in range(6):
            self.server.post("/api/v1/token/pair", {"email": email, "password": "nope nope"})
        self.server.cli("user", "set", email, "--groups", "Public,Partners")
        self.server.cli("user", "set", email, "--password-stdin",
                        input="another long passphrase\n")
        deadline = time.time() + 5
        while True:
            out = self.server.cli("audit", "--account", email, "--json").stdout
            kinds = [e["kind"] for e in json.loads(out)]
            if "throttled" in kinds or time.time() > deadline:
                break
            time.sleep(0.1)
        for kind in ("signin.failed", "account.update", "account.password"):
            self.assertIn(kind, kinds)
        ops = [e for e in json.loads(out) if e["kind"] in ("account.update", "account.password")]
        self.assertEqual(len(ops), 3, ops)
        self.assertTrue(all(e["actor"] == "cli" for e in ops), ops)
        # Throttling is kept without an account (the e-mail may not exist).
        everyone = json.loads(self.server.cli("audit", "--json", "--limit", "500").stdout)
        self.assertTrue(any(e["kind"] == "throttled" for e in everyone))
        table = self.server.cli("audit", "--account", email, "--since", "2020-01-01").stdout
        self.assertTrue(table.startswith("ID\tAT\tKIND\tACTOR\tACCOUNT\tTOKEN\tCLIENT\tDETAIL\n"))
        self.assertIn("account.password", table)
        r = self.server.cli("audit", "--since", "yesterday", check=False)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
