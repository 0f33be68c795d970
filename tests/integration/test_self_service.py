"""Account self-service (issue 14): change password (every other session
ends; this one continues with the new pair), sign out everywhere, revoke all
tokens (but the default public one), PATCH account/me; and service accounts,
which an operator creates without a password: they cannot sign in and only
hold tokens.
"""
import unittest

from harness import ServerTestCase, unique_email

PASSWORD = "correct horse battery"


class SelfServiceTest(ServerTestCase):
    settings = {"token-api-rate": 0}

    def me(self, access):
        return self.server.get("/api/v1/account/me", token=access)

    def test_change_password(self):
        email, pair = self.server.new_account()
        other = self.server.login(email)  # a second session, elsewhere
        r = self.server.post("/api/v1/account/password",
                             {"current_password": "wrong one here", "new_password": "x" * 12},
                             token=pair["access"])
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "current_password"])
        r = self.server.post("/api/v1/account/password",
                             {"current_password": PASSWORD, "new_password": "short"},
                             token=pair["access"])
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "new_password"])
        r = self.server.post("/api/v1/account/password",
                             {"current_password": PASSWORD,
                              "new_password": "a much longer passphrase"},
                             token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        fresh = r.json()
        self.assertEqual(self.me(fresh["access"]).status_code, 200)
        for old in (pair["access"], other["access"]):
            self.assertEqual(self.me(old).status_code, 401)
        r = self.server.post("/api/v1/token/refresh", {"refresh": other["refresh"]})
        self.assertEqual(r.status_code, 401)
        r = self.server.post("/api/v1/token/pair", {"email": email, "password": PASSWORD})
        self.assertEqual(r.status_code, 401)
        self.server.login(email, "a much longer passphrase")

    def test_logout_everywhere_and_revoke_all(self):
        email, pair = self.server.new_account()
        second = self.server.login(email)
        user = self.me(pair["access"]).json()["username"]
        tokens = []
        for scopes in (["stac"], ["styles:read"], ["stac", "tokens:read"]):
            r = self.server.post("/tokens/v2/" + user, {"scopes": scopes},
                                 token=pair["access"])
            tokens.append(r.json())
        r = self.server.post("/api/v1/account/tokens/revoke-all", None, token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"revoked": 3})
        for t in tokens:
            code = self.server.get("/tokens/v2", token=t["token"]).json()["code"]
            self.assertEqual(code, "TokenRevoked")
        left = self.server.get("/tokens/v2/" + user, token=pair["access"]).json()
        self.assertEqual([t["default"] for t in left], [True], "the default pk stays")
        r = self.server.post("/api/v1/account/logout-all", None, token=pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        for s in (pair, second):
            self.assertEqual(self.me(s["access"]).status_code, 401)
            r = self.server.post("/api/v1/token/refresh", {"refresh": s["refresh"]})
            self.assertEqual(r.status_code, 401)
        # Signing in again works, and tokens are not sessions.
        again = self.server.login(email)
        self.assertEqual(self.me(again["access"]).status_code, 200)
        self.assertEqual(self.server.get("/tokens/v2", token=left[0]["token"]).json()["code"],
                         "TokenValid")

    def test_session_only(self):
        """Every self-service call needs a session: an sk or no credential
        gets 401 and changes nothing."""
        _, pair = self.server.new_account()
        user = self.me(pair["access"]).json()["username"]
        sk = self.server.post("/tokens/v2/" + user, {"scopes": ["stac", "tokens:write"]},
                              token=pair["access"]).json()["token"]
        calls = (("/api/v1/account/tokens/revoke-all", None),
                 ("/api/v1/account/logout-all", None),
                 ("/api/v1/account/password", {"current_password": PASSWORD,
                                               "new_password": "a much longer passphrase"}))
        for path, body in calls:
            for token in (sk, None):
                r = self.server.post(path, body, token=token)
                self.assertEqual(r.status_code, 401, (path, r.text))
                self.assertIn("detail", r.json())
        self.assertEqual(self.me(pair["access"]).status_code, 200)
        self.assertEqual(self.server.get("/tokens/v2", token=sk).json()["code"], "TokenValid")

    def test_patch_me(self):
        _, pair = self.server.new_account()
        r = self.server.request("PATCH", "/api/v1/account/me", token=pair["access"],
                                json={"first_name": "Ada", "organization": "Analytical"})
        self.assertEqual(r.status_code, 200, r.text)
        me = self.me(pair["access"]).json()
        self.assertEqual((me["first_name"], me["last_name"], me["organization"]),
                         ("Ada", "", "Analytical"))
        r = self.server.request("PATCH", "/api/v1/account/me", token=pair["access"],
                                json={"last_name": "x" * 151})
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "last_name"])
        r = self.server.request("PATCH", "/api/v1/account/me", token=pair["access"],
                                json={"first_name": 7})
        self.assertEqual(r.status_code, 422, r.text)
        # Only a session may change the account.
        user = me["username"]
        sk = self.server.post("/tokens/v2/" + user, {"scopes": ["stac"]},
                              token=pair["access"]).json()
        r = self.server.request("PATCH", "/api/v1/account/me", token=sk["token"],
                                json={"first_name": "Mallory"})
        self.assertEqual(r.status_code, 401)

    def test_service_account(self):
        email = unique_email("svc")
        r = self.server.cli("user", "add", email, "--service", "--scopes", "stac,catalog:read")
        self.assertIn(email, r.stdout)
        for password in ("", "!service", "anything at all"):
            r = self.server.post("/api/v1/token/pair", {"email": email, "password": password})
            self.assertIn(r.status_code, (400, 401), r.text)
        value = self.server.cli("token", "create", email, "--scopes", "stac").stdout.strip()
        self.server.keep_credential(value)
        self.assertEqual(self.server.get("/tokens/v2", token=value).json()["code"],
                         "TokenValid")
        self.assertEqual(self.server.get("/api/v1/stac/search", token=value).status_code, 200)
        r = self.server.cli("user", "add", unique_email("svc"), "--service", "--password", "x",
                            check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("has no password", r.stderr)


if __name__ == "__main__":
    unittest.main()
