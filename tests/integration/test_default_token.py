"""The account's default public token is never revoked (issue 14): every
way in refuses it with a clear 4xx and it keeps working; rotating it is the
way to a new value."""
from harness import ServerTestCase


class DefaultTokenTest(ServerTestCase):
    def setUp(self):
        self.email, self.pair = self.server.new_account()
        me = self.server.get("/api/v1/account/me", token=self.pair["access"]).json()
        self.user = me["username"]
        listed = self.server.get("/api/v1/account/tokens", token=self.pair["access"]).json()
        self.default = next(t for t in listed if t["default"])

    def value(self):
        r = self.server.get("/tokens/v2/" + self.user, token=self.pair["access"])
        return next(t["token"] for t in r.json() if t["id"] == self.default["id"])

    def assert_still_valid(self):
        r = self.server.get("/tokens/v2", params={"access_token": self.value()})
        self.assertEqual(r.json()["code"], "TokenValid")

    def test_every_way_in_refuses(self):
        tid = self.default["id"]
        r = self.server.request("DELETE", "/api/v1/account/tokens/" + tid,
                                token=self.pair["access"])
        body = self.assertJsonError(r, 400, code="default_token")
        self.assertIn("rotate", body["detail"])
        r = self.server.request("DELETE", "/tokens/v2/%s/%s" % (self.user, tid),
                                token=self.pair["access"])
        self.assertEqual(r.status_code, 400, r.text)
        self.assertIn("rotate", r.json()["message"])
        r = self.server.post("/api/v1/oauth/revoke", data={"token": self.value()})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json()["error"], "unsupported_token_type")
        r = self.server.cli("token", "revoke", tid, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("default public token", r.stderr)
        self.assert_still_valid()
        # Revoke-all leaves it too.
        r = self.server.post("/api/v1/account/tokens/revoke-all", token=self.pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_still_valid()

    def test_rotation_gives_a_new_default(self):
        old = self.value()
        r = self.server.post("/api/v1/account/tokens/%s/rotate" % self.default["id"],
                             {"grace_seconds": 0}, token=self.pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        listed = self.server.get("/api/v1/account/tokens", token=self.pair["access"]).json()
        fresh = next(t for t in listed if t["default"])
        self.assertNotEqual(fresh["id"], self.default["id"])
        r = self.server.get("/tokens/v2", params={"access_token": old})
        self.assertEqual(r.json()["code"], "TokenRevoked")
