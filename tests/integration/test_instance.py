"""The instance marker in token payloads (issue 15, part 3).

Every new pk/sk/tk carries this deployment's marker as "i", chosen once per
database; `tessera instance` prints it with a pattern for secret scanners.
Tokens made before markers (no "i") keep working, a token whose marker names
another deployment is refused, and instance_id can only confirm the marker
the database holds.
"""
import re
import time
import unittest

from harness import Server, ServerTestCase
from leakutil import payload_of, with_payload


class InstanceMarkerTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        out = cls.server.cli("instance").stdout
        cls.instance = re.search(r"^instance ([a-z0-9]+)$", out, re.M).group(1)
        cls.pattern = re.compile(re.search(r"^pattern (.+)$", out, re.M).group(1))

    def check(self, token):
        r = self.server.get("/tokens/v2", token=token)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["code"]

    def user_and_sk(self):
        _, pair = self.server.new_account()
        user = self.server.get("/api/v1/account/me", token=pair["access"]).json()["username"]
        return user, pair, self.server.create_stac_token(pair["access"])["token_value"]

    def test_new_tokens_carry_the_marker(self):
        self.assertEqual(len(self.instance), 12)
        user, pair, sk = self.user_and_sk()
        payload = payload_of(sk)
        self.assertEqual(list(payload), ["u", "a", "i"])  # "u" first, as Mapbox's
        self.assertEqual(payload["u"], user)
        self.assertEqual(payload["i"], self.instance)
        self.assertTrue(self.pattern.fullmatch(sk), sk)
        # The default pk and a Mapbox-style pk too.
        pks = self.server.get("/tokens/v2/" + user, token=pair["access"]).json()
        default = [t for t in pks if t["default"]][0]["token"]
        self.assertEqual(payload_of(default)["i"], self.instance)
        self.assertTrue(self.pattern.fullmatch(default), default)
        # A tk: the marker is its payload's last member.
        expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 600))
        r = self.server.post("/tokens/v2/" + user, {"scopes": ["stac"], "expires": expires},
                             token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        tk = r.json()["token"]
        claims = payload_of(tk)
        self.assertEqual(list(claims)[-1], "i")
        self.assertEqual(claims["i"], self.instance)
        self.assertTrue(self.pattern.fullmatch(tk), tk)
        self.assertEqual(self.check(tk), "TokenValid")

    def test_tokens_without_marker_still_verify(self):
        # A token issued before markers existed: same id and secret, no "i".
        user, _, sk = self.user_and_sk()
        payload = payload_of(sk)
        old = with_payload(sk, {"u": payload["u"], "a": payload["a"]})
        self.assertIsNone(self.pattern.fullmatch(old))
        self.assertEqual(self.check(old), "TokenValid")
        r = self.server.get("/api/v1/stac/collections", token=old)
        self.assertEqual(r.status_code, 200, r.text)

    def test_other_instance_is_not_ours(self):
        _, _, sk = self.user_and_sk()
        payload = payload_of(sk)
        other = "zz" + self.instance[2:] if not self.instance.startswith("zz") else "aa" + \
            self.instance[2:]
        foreign = with_payload(sk, dict(payload, i=other))
        self.assertIsNone(self.pattern.fullmatch(foreign))
        self.assertEqual(self.check(foreign), "TokenInvalid")
        r = self.server.get("/api/v1/stac/collections", token=foreign)
        self.assertEqual(r.status_code, 401, r.text)
        # The genuine token is untouched.
        self.assertEqual(self.check(sk), "TokenValid")


class InstanceSettingTest(unittest.TestCase):
    def test_instance_id_set_once(self):
        srv = Server(settings={"instance-id": "acme42"})
        try:
            srv.start()
            self.assertIn("instance acme42\n", srv.cli("instance").stdout)
            _, pair = srv.new_account()
            sk = srv.create_stac_token(pair["access"])["token_value"]
            self.assertEqual(payload_of(sk)["i"], "acme42")
            srv.stop()
            # The database holds the marker: another value cannot replace it.
            res = srv.cli("instance", "--instance-id", "other42", check=False)
            self.assertNotEqual(res.returncode, 0)
            self.assertIn("instance_id other42 is not this database's instance marker acme42",
                          res.stderr)
            res = srv.cli("instance", "--instance-id", "BAD!", check=False)
            self.assertEqual(res.returncode, 2, res.stderr)
            self.assertIn("instance_id must be 4 to 16 characters", res.stderr)
            # Without the setting, the stored marker is used.
            self.assertIn("instance acme42\n", srv.cli("instance").stdout)
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main()
