"""JWT sessions (SPEC §2, §4.1, §5 rule 3): token/pair, refresh rotation and
re-use detection, verify, blacklist, and the operator actions that end
sessions (password change, deactivation)."""
import base64
import json
import time
import unittest

from harness import Server, ServerTestCase, unique_email, within_one_window

PAIR = "/api/v1/token/pair"
REFRESH = "/api/v1/token/refresh"
VERIFY = "/api/v1/token/verify"
BLACKLIST = "/api/v1/token/blacklist"
ME = "/api/v1/account/me"

BAD_CREDENTIALS = {"detail": "No active account found with the given credentials",
                   "code": "authentication_failed"}
NOT_VALID = {"detail": "Token is invalid or expired", "code": "token_not_valid"}


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class SessionTestBase(ServerTestCase):
    def verify(self, token):
        return self.server.post(VERIFY, {"token": token})

    def assert_valid(self, token):
        r = self.verify(token)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {})

    def assert_not_valid(self, token):
        r = self.verify(token)
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json(), NOT_VALID)
        self.assertTrue(r.headers["WWW-Authenticate"].startswith("Bearer"))

    def refresh(self, token):
        return self.server.post(REFRESH, {"refresh": token})

    def me_status(self, access):
        return self.server.get(ME, token=access).status_code


class PairTest(SessionTestBase):
    def test_pair_shape(self):
        email = unique_email()
        self.assertEqual(self.server.register(email, "pair password 1").status_code, 201)
        r = self.server.post(PAIR, {"email": email, "password": "pair password 1"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        body = r.json()
        self.assertEqual(set(body), {"refresh", "access", "groups", "permissions"})
        self.assertEqual(body["groups"], "Public")
        self.assertIsInstance(body["permissions"], list)
        for s in ("stac", "catalog:read", "tokens:read", "tokens:write", "scopes:list"):
            self.assertIn(s, body["permissions"])
        access, refresh = jwt_claims(body["access"]), jwt_claims(body["refresh"])
        header = json.loads(base64.urlsafe_b64decode(body["access"].split(".")[0] + "=="))
        self.assertEqual(header["alg"], "HS256")
        self.assertEqual(access["token_type"], "access")
        self.assertEqual(refresh["token_type"], "refresh")
        for c in (access, refresh):
            self.assertRegex(c["jti"], r"^[0-9a-f]{32}$")
            self.assertIsInstance(c["user_id"], int)
            self.assertGreater(c["exp"], c["iat"])
            self.assertIn("stac", c["scope"].split(" "))
            self.assertEqual(c["groups"], "Public")
            self.assertTrue(c["u"])
        self.assertNotEqual(access["jti"], refresh["jti"])
        self.assertEqual(self.me_status(body["access"]), 200)

    def test_email_case_insensitive_login(self):
        email = unique_email("Case")
        self.assertEqual(self.server.register(email, "case password 1").status_code, 201)
        self.server.login(email.upper(), "case password 1")

    def test_bad_password_and_unknown_email_identical(self):
        email, _ = self.server.new_account()
        wrong = self.server.post(PAIR, {"email": email, "password": "wrong password"})
        unknown = self.server.post(PAIR, {"email": unique_email("ghost"),
                                          "password": "whatever pass"})
        for r in (wrong, unknown):
            self.assertEqual(r.status_code, 401, r.text)
            self.assertEqual(r.json(), BAD_CREDENTIALS)

    def test_missing_fields(self):
        email, _ = self.server.new_account()
        for body in ({"email": email}, {"password": "x"}, {}, {"email": email, "password": 5}):
            with self.subTest(body=body):
                r = self.server.post(PAIR, body)
                self.assertEqual(r.status_code, 400, r.text)
                self.assertIsInstance(r.json()["detail"], str)

    def test_bad_bodies(self):
        r = self.server.request("POST", PAIR, data="{nope")
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.request("POST", PAIR, data="[1]")
        self.assertEqual(r.status_code, 422, r.text)
        r = self.server.request("POST", PAIR, data=b"")
        self.assertEqual(r.status_code, 400, r.text)

    def test_query_access_token(self):
        _, pair = self.server.new_account()
        r = self.server.get(ME, params={"access_token": pair["access"]})
        self.assertEqual(r.status_code, 200, r.text)
        # Both places at once is a bad request (RFC 6750 section 2).
        r = self.server.get(ME, token="garbage", params={"access_token": pair["access"]})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json()["code"], "invalid_request")


class RefreshTest(SessionTestBase):
    def test_rotation(self):
        _, pair = self.server.new_account()
        r = self.refresh(pair["refresh"])
        self.assertEqual(r.status_code, 200, r.text)
        new = r.json()
        self.assertEqual(set(new), {"refresh", "access"})
        self.assertNotEqual(new["refresh"], pair["refresh"])
        self.assertEqual(jwt_claims(new["access"])["token_type"], "access")
        self.assertEqual(self.me_status(new["access"]), 200)
        self.assert_valid(new["refresh"])
        # The used refresh token is no longer valid.
        self.assert_not_valid(pair["refresh"])
        # Rotation goes on.
        r = self.refresh(new["refresh"])
        self.assertEqual(r.status_code, 200, r.text)

    def test_reuse_revokes_family(self):
        _, pair = self.server.new_account()
        r1 = self.refresh(pair["refresh"])
        self.assertEqual(r1.status_code, 200, r1.text)
        r2 = self.refresh(r1.json()["refresh"])
        self.assertEqual(r2.status_code, 200, r2.text)
        newest = r2.json()["refresh"]
        self.assert_valid(newest)
        # Re-use of the first (already used) refresh token: refused ...
        reuse = self.refresh(pair["refresh"])
        self.assertEqual(reuse.status_code, 401, reuse.text)
        self.assertEqual(reuse.json()["code"], "token_not_valid")
        self.assertTrue(reuse.headers["WWW-Authenticate"].startswith("Bearer"))
        # ... and the whole family is dead, the newest member included.
        self.assert_not_valid(newest)
        r = self.refresh(newest)
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json()["code"], "token_not_valid")

    def test_other_family_unaffected(self):
        email, pair_a = self.server.new_account()
        pair_b = self.server.login(email)
        self.assertEqual(self.refresh(pair_a["refresh"]).status_code, 200)
        self.assertEqual(self.refresh(pair_a["refresh"]).status_code, 401)
        r = self.refresh(pair_b["refresh"])
        self.assertEqual(r.status_code, 200, r.text)

    def test_access_token_is_not_a_refresh_token(self):
        _, pair = self.server.new_account()
        r = self.refresh(pair["access"])
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json(), NOT_VALID)
        r = self.refresh("garbage")
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json(), NOT_VALID)

    def test_refresh_missing_field(self):
        r = self.server.post(REFRESH, {})
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.post(REFRESH, {"refresh": 12})
        self.assertIn(r.status_code, (400, 422), r.text)


class VerifyBlacklistTest(SessionTestBase):
    def test_verify_access_and_refresh(self):
        _, pair = self.server.new_account()
        self.assert_valid(pair["access"])
        self.assert_valid(pair["refresh"])

    def test_verify_garbage_and_tampered(self):
        _, pair = self.server.new_account()
        for bad in ("garbage", "a.b.c", "", "x" * 9000):
            with self.subTest(token=bad[:10]):
                self.assert_not_valid(bad) if bad else None
        head, payload, sig = pair["access"].split(".")
        flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
        self.assert_not_valid(".".join((head, payload, flipped)))
        # A payload with a forged user_id but the old signature.
        claims = jwt_claims(pair["access"])
        claims["user_id"] += 1
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        self.assert_not_valid(".".join((head, forged, sig)))
        # alg=none.
        none_head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        self.assert_not_valid(none_head + "." + payload + ".")
        # An sk API token is not a session token.
        tok = self.server.create_stac_token(pair["access"])
        self.assert_not_valid(tok["token_value"])

    def test_verify_missing_field(self):
        r = self.server.post(VERIFY, {})
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.post(VERIFY, {"token": ""})
        self.assertEqual(r.status_code, 401, r.text)

    def test_blacklist(self):
        _, pair = self.server.new_account()
        r = self.server.post(BLACKLIST, {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {})
        self.assert_not_valid(pair["refresh"])
        r = self.refresh(pair["refresh"])
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json()["code"], "token_not_valid")
        # Blacklisting again is harmless.
        r = self.server.post(BLACKLIST, {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 200, r.text)

    def test_blacklist_after_rotation_ends_family(self):
        _, pair = self.server.new_account()
        new = self.refresh(pair["refresh"]).json()
        r = self.server.post(BLACKLIST, {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_not_valid(new["refresh"])

    def test_blacklist_errors(self):
        _, pair = self.server.new_account()
        r = self.server.post(BLACKLIST, {"refresh": "garbage"})
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json(), NOT_VALID)
        r = self.server.post(BLACKLIST, {"refresh": pair["access"]})
        self.assertEqual(r.status_code, 401, r.text)
        r = self.server.post(BLACKLIST, {})
        self.assertEqual(r.status_code, 400, r.text)


class OperatorEndsSessionsTest(SessionTestBase):
    def test_password_change_ends_sessions(self):
        email, pair = self.server.new_account()
        self.assertEqual(self.me_status(pair["access"]), 200)
        self.server.cli("user", "set", email, "--password-stdin", input="brand new secret\n")
        self.assertEqual(self.me_status(pair["access"]), 401)
        self.assert_not_valid(pair["access"])
        self.assert_not_valid(pair["refresh"])
        self.assertEqual(self.refresh(pair["refresh"]).status_code, 401)
        # The old password is refused, the new one works at once.
        r = self.server.post(PAIR, {"email": email, "password": "correct horse battery"})
        self.assertEqual(r.status_code, 401, r.text)
        fresh = self.server.login(email, "brand new secret")
        self.assertEqual(self.me_status(fresh["access"]), 200)
        self.assert_valid(fresh["refresh"])
        self.assertEqual(self.refresh(fresh["refresh"]).status_code, 200)

    def test_weak_password_refused_by_cli(self):
        email, pair = self.server.new_account()
        res = self.server.cli("user", "set", email, "--password-stdin", input="short\n",
                              check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertEqual(self.me_status(pair["access"]), 200)

    def test_disable_ends_sessions_and_tokens(self):
        email, pair = self.server.new_account()
        tok = self.server.create_stac_token(pair["access"])["token_value"]
        stac = "/api/v1/stac/collections"
        before = self.server.get(stac, token=tok)
        self.server.cli("user", "disable", email)
        self.assertEqual(self.me_status(pair["access"]), 401)
        self.assert_not_valid(pair["access"])
        self.assertEqual(self.refresh(pair["refresh"]).status_code, 401)
        r = self.server.post(PAIR, {"email": email, "password": "correct horse battery"})
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json(), BAD_CREDENTIALS)
        if before.status_code == 200:
            after = self.server.get(stac, token=tok)
            self.assertEqual(after.status_code, 401, after.text)
        # The account's tokens fail on the token API too.
        r = self.server.get("/api/v1/account/tokens", token=tok)
        self.assertEqual(r.status_code, 401, r.text)
        # Re-enabling lets the account sign in again, but old sessions stay dead.
        self.server.cli("user", "set", email, "--active", "true")
        fresh = self.server.login(email)
        self.assertEqual(self.me_status(fresh["access"]), 200)
        self.assertEqual(self.me_status(pair["access"]), 401)


class ExpiryTest(SessionTestBase):
    settings = {"access-ttl": "10"}

    def test_access_token_expires(self):
        _, pair = self.server.new_account()
        self.assertEqual(jwt_claims(pair["access"])["exp"] - jwt_claims(pair["access"])["iat"], 10)
        self.assert_valid(pair["access"])
        time.sleep(11.2)
        self.assert_not_valid(pair["access"])
        r = self.server.get(ME, token=pair["access"])
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json(), NOT_VALID)
        # The refresh token outlives it and yields a working access token.
        r = self.refresh(pair["refresh"])
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.me_status(r.json()["access"]), 200)


class LoginThrottleTest(SessionTestBase):
    settings = {"login-rate-account": "3"}

    def test_login_throttled_per_account(self):
        within_one_window(60)  # the default rate_window
        email, _ = self.server.new_account()  # one sign-in used
        for _ in range(2):
            r = self.server.post(PAIR, {"email": email, "password": "wrong password"})
            self.assertEqual(r.status_code, 401, r.text)
        # Over the limit: 429 with Retry-After, whatever the password and case.
        for password in ("wrong password", "correct horse battery"):
            r = self.server.post(PAIR, {"email": email.upper(), "password": password})
            self.assertEqual(r.status_code, 429, r.text)
            retry = int(r.headers["Retry-After"])
            self.assertTrue(1 <= retry <= 60, retry)
            self.assertEqual(r.json()["code"], "throttled")
        # Other accounts are not affected.
        other, _ = self.server.new_account()
        self.server.login(other)


if __name__ == "__main__":
    unittest.main()
