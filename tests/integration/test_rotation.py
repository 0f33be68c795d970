"""Token rotation with a grace period (issue 14): POST
/api/v1/account/tokens/{id}/rotate mints a new secret with the same name,
scopes, restrictions and expiry; the old secret keeps working until the
grace period ends (both TokenValid), then answers TokenRevoked; listings show
the replacement, then only the new token. The CLI rotates too.
"""
import time
import unittest

from harness import ServerTestCase


class RotationTest(ServerTestCase):
    settings = {"token-api-rate": 0}

    def setUp(self):
        self.email, self.pair = self.server.new_account()
        self.user = self.server.get("/api/v1/account/me",
                                    token=self.pair["access"]).json()["username"]

    def mint(self, **extra):
        body = {"scopes": ["stac", "tokens:read"], "note": "to rotate",
                "allowedUrls": ["https://maps.example.com"]}
        body.update(extra)
        r = self.server.post("/tokens/v2/" + self.user, body, token=self.pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def rotate(self, token_id, body=None):
        return self.server.post("/api/v1/account/tokens/%s/rotate" % token_id, body,
                                token=self.pair["access"])

    def code(self, token):
        return self.server.get("/tokens/v2", token=token).json()["code"]

    def listed_ids(self):
        return {t["id"] for t in self.server.get("/api/v1/account/tokens",
                                                 token=self.pair["access"]).json()}

    def test_grace_period(self):
        old = self.mint(expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                 time.gmtime(time.time() + 30 * 86400)))
        r = self.rotate(old["id"], {"grace_seconds": 2})
        self.assertEqual(r.status_code, 200, r.text)
        new = r.json()
        self.assertNotEqual(new["id"], old["id"])
        self.assertEqual(new["replaces"], old["id"])
        self.assertEqual(new["name"], "to rotate")
        self.assertEqual(sorted(new["scopes"]), ["stac", "tokens:read"])
        self.assertEqual(new["expires"], old["expires"])
        self.assertTrue(new["token_value"].startswith("sk."))
        # Both work during the grace period, and both are listed.
        self.assertEqual(self.code(old["token"]), "TokenValid")
        self.assertEqual(self.code(new["token_value"]), "TokenValid")
        listed = {t["id"]: t for t in self.server.get("/api/v1/account/tokens",
                                                      token=self.pair["access"]).json()}
        self.assertEqual(listed[old["id"]]["replaced_by"], new["id"])
        self.assertNotIn("replaced_by", listed[new["id"]])
        # The restrictions came along.
        mapbox = {t["id"]: t for t in self.server.get("/tokens/v2/" + self.user,
                                                      token=self.pair["access"]).json()}
        self.assertEqual(mapbox[new["id"]]["allowedUrls"], ["https://maps.example.com"])
        time.sleep(2.3)
        self.assertEqual(self.code(old["token"]), "TokenRevoked")
        self.assertEqual(self.code(new["token_value"]), "TokenValid")
        self.assertEqual(self.server.get("/api/v1/stac/search",
                                         token=old["token"]).status_code, 401)
        self.assertNotIn(old["id"], self.listed_ids())
        self.assertIn(new["id"], self.listed_ids())

    def test_without_grace_and_errors(self):
        old = self.mint()
        r = self.rotate(old["id"])  # no body: no grace
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.code(old["token"]), "TokenRevoked")
        # A replaced token cannot be rotated again; unknown ids are 404.
        self.assertEqual(self.rotate(old["id"]).status_code, 404)
        self.assertEqual(self.rotate("a" * 25).status_code, 404)
        fresh = self.mint()
        for bad in ({"grace_seconds": -1}, {"grace_seconds": 604801}, {"grace_seconds": "10"},
                    {"grace_seconds": 1.5}):
            r = self.rotate(fresh["id"], bad)
            self.assertEqual(r.status_code, 422, r.text)
            self.assertEqual(r.json()["detail"][0]["loc"], ["body", "grace_seconds"])
        self.assertEqual(self.code(fresh["token"]), "TokenValid")
        # Another account's token is not found.
        _, other = self.server.new_account()
        r = self.server.post("/api/v1/account/tokens/%s/rotate" % fresh["id"], None,
                             token=other["access"])
        self.assertEqual(r.status_code, 404)
        # Only a session may rotate.
        r = self.server.post("/api/v1/account/tokens/%s/rotate" % fresh["id"], None,
                             token=fresh["token"])
        self.assertEqual(r.status_code, 401)

    def test_default_public_token_rotates(self):
        pk = next(t for t in self.server.get("/tokens/v2/" + self.user,
                                             token=self.pair["access"]).json() if t["default"])
        r = self.rotate(pk["id"])
        self.assertEqual(r.status_code, 200, r.text)
        new = r.json()
        self.assertIs(new["default"], True)
        self.assertTrue(new["token_value"].startswith("pk."))
        defaults = [t for t in self.server.get("/tokens/v2/" + self.user,
                                               token=self.pair["access"],
                                               params={"default": "true"}).json()]
        self.assertEqual([t["id"] for t in defaults], [new["id"]])

    def test_cli_rotate(self):
        old = self.mint()
        r = self.server.cli("token", "rotate", old["id"], "--grace-seconds", "60")
        value = r.stdout.strip()
        self.assertTrue(value.startswith("sk."), r.stdout)
        self.server.keep_credential(value)
        self.assertEqual(self.code(value), "TokenValid")
        self.assertEqual(self.code(old["token"]), "TokenValid")  # within the grace period
        r = self.server.cli("token", "rotate", old["id"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no live token", r.stderr)


if __name__ == "__main__":
    unittest.main()
