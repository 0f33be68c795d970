"""The Mapbox Tokens API dialect (SPEC §4.2, issue 3) over real HTTP, token
validity: temporary tokens (minted from an sk or a tk, their expiry rules and
bounds), the check's code for every kind (pk, sk, tk, session JWT) in every
state (valid, tampered, malformed, expired, revoked), and what deactivation
ends. The endpoints themselves are tested by test_mapbox.py."""
import datetime
import json
import os
import sqlite3
import time
import unittest

from mapboxcase import (RFC3339_MS, INVALID_401, payload_of, with_payload, flip_char, naive_utc_in,
                        MapboxCase)


class TokenValidityTest(MapboxCase):
    # ---- temporary tokens -----------------------------------------------
    def test_temporary_token_from_sk(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:read", "tokens:write", "styles:read"])
        before = int(time.time())
        body = self.temp(user, sk["token"], ["styles:read", "tokens:read"], seconds=600)
        self.assertEqual(set(body), {"token", "issued_at", "expires", "expires_in"})
        tk = body["token"]
        self.assertTrue(tk.startswith("tk."))
        self.assertRegex(body["issued_at"], RFC3339_MS)
        self.assertRegex(body["expires"], RFC3339_MS)
        self.assertTrue(598 <= body["expires_in"] <= 602, body)
        claims = payload_of(tk)
        self.assertEqual(claims["u"], user)
        self.assertEqual(claims["p"], sk["id"])
        self.assertEqual(claims["client"], "api")
        self.assertEqual(claims["scopes"], ["styles:read", "tokens:read"])
        self.assertTrue(before - 1 <= claims["iat"] <= time.time() + 1)
        check = self.check(tk)
        self.assertEqual(check["code"], "TokenValid")
        self.assertEqual(set(check["token"]), {"usage", "user", "expires", "created", "scopes",
                                               "client"})
        self.assertEqual(check["token"]["usage"], "tk")
        self.assertEqual(check["token"]["user"], user)
        self.assertEqual(check["token"]["expires"], body["expires"])
        self.assertEqual(check["token"]["client"], "api")
        # It works on the API within its scopes, and is not listed (not stored).
        ids = self.list_ids(user, tk)
        self.assertIn(sk["id"], ids)
        self.assertEqual(len(ids), 2)
        r = self.call("POST", "/tokens/v2/" + user, tk, json={"scopes": ["styles:read"]})
        self.assertEqual(r.status_code, 403)
        # Deleting the parent revokes it.
        self.assertEqual(self.call("DELETE", "/tokens/v2/%s/%s" % (user, sk["id"]),
                                   access).status_code, 204)
        self.assertEqual(self.check(tk)["code"], "TokenRevoked")
        r = self.call("GET", "/tokens/v2/" + user, tk)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.json(), INVALID_401)

    def test_temporary_expiry_rules(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:write", "styles:read"])["token"]
        path = "/tokens/v2/" + user
        post = lambda body: self.call("POST", path, sk, json=body)
        self.assert422(post({"scopes": ["styles:read"], "expires": naive_utc_in(-5)}),
                       "expires is in the past")
        self.assert422(post({"scopes": ["styles:read"], "expires": "2001-01-01T00:00:00Z"}),
                       "expires is in the past")
        self.assert422(post({"scopes": ["styles:read"], "expires": naive_utc_in(3600 + 120)}),
                       "expires is more than one hour in the future")
        self.assert422(post({"scopes": ["styles:read"], "expires": "2999-01-01T00:00:00"}),
                       "expires is more than one hour in the future")
        # Exactly one hour, as the client computes it, with its clock a little ahead.
        for seconds in (3600, 3605):
            self.assertEqual(post({"scopes": ["styles:read"],
                                   "expires": naive_utc_in(seconds)}).status_code, 200)
        # Every accepted time format: naive, Z, offsets, 0-6 fraction digits, space.
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
        for text in (soon.strftime("%Y-%m-%dT%H:%M:%S"), soon.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     soon.strftime("%Y-%m-%d %H:%M:%S.%f"),
                     soon.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
                     .isoformat(timespec="milliseconds")):
            r = post({"scopes": ["styles:read"], "expires": text})
            self.assertEqual(r.status_code, 200, (text, r.text))
            self.assertEqual(self.check(r.json()["token"])["code"], "TokenValid")
        for bad in ("tomorrow", "", "2026-13-01T00:00:00", "2026-02-30T00:00:00",
                    "9" * 300, "2026-01-01T00:00:00.1234567"):
            self.assert422(post({"scopes": ["styles:read"], "expires": bad}), "expires is invalid")
        self.assert422(post({"scopes": ["styles:read"], "expires": 60}), "expires is invalid")
        # Scopes: known, held; no allowedUrls on a temporary token.
        self.assert422(post({"scopes": ["tokens:read"], "expires": naive_utc_in(60)}),
                       "scopes are invalid")
        self.assert422(post({"scopes": [], "expires": naive_utc_in(60)}), "scopes are invalid")
        self.assert422(post({"scopes": ["x:y"], "expires": naive_utc_in(60)}),
                       "scopes are invalid")
        r = post({"scopes": ["styles:read"], "expires": naive_utc_in(60),
                  "allowedUrls": ["https://a.example"]})
        self.assertEqual(r.status_code, 422, r.text)

    def test_tk_authorized_by_tk(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:write", "tokens:read", "styles:read"])
        outer = self.temp(user, sk["token"], ["tokens:write", "styles:read"], seconds=120)
        tk = outer["token"]
        # Never outliving the authorizing tk.
        r = self.call("POST", "/tokens/v2/" + user, tk,
                      json={"scopes": ["styles:read"], "expires": naive_utc_in(600)})
        self.assert422(r, "expires may not be greater than the expiration of the authorizing token")
        # Never wider than it.
        r = self.call("POST", "/tokens/v2/" + user, tk,
                      json={"scopes": ["tokens:read"], "expires": naive_utc_in(60)})
        self.assert422(r, "scopes are invalid")
        inner = self.temp(user, tk, ["styles:read"], seconds=60)
        claims = payload_of(inner["token"])
        self.assertEqual(claims["p"], sk["id"])  # the stored ancestor, whose deletion ends both
        self.assertLessEqual(claims["exp"], payload_of(tk)["exp"])
        self.assertEqual(self.check(inner["token"])["code"], "TokenValid")
        # Temporary tokens cannot be updated or deleted: they have no id.
        for method in ("PATCH", "DELETE"):
            r = self.call(method, "/tokens/v2/%s/%s" % (user, tk), access, json={"note": "x"})
            self.assertEqual(r.status_code, 404)
        self.assertEqual(self.call("DELETE", "/tokens/v2/%s/%s" % (user, sk["id"]),
                                   access).status_code, 204)
        self.assertEqual(self.check(tk)["code"], "TokenRevoked")
        self.assertEqual(self.check(inner["token"])["code"], "TokenRevoked")

    def test_expiring_stored_token_bounds_its_tk(self):
        email, access, user = self.account()
        res = self.server.cli("token", "create", email, "--scopes", "tokens:write,styles:read",
                              "--expires-days", "1")
        sk = res.stdout.strip().split()[-1]
        r = self.call("POST", "/tokens/v2/" + user, sk,
                      json={"scopes": ["styles:read"], "expires": naive_utc_in(3000)})
        self.assertEqual(r.status_code, 200, r.text)

    def test_expired_tk(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:write", "tokens:read"])["token"]
        tk = self.temp(user, sk, ["tokens:read"], seconds=1)["token"]
        self.assertEqual(self.check(tk)["code"], "TokenValid")
        time.sleep(2.2)
        check = self.check(tk)
        self.assertEqual(check["code"], "TokenExpired")
        self.assertEqual(check["token"]["usage"], "tk")
        r = self.call("GET", "/tokens/v2/" + user, tk)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.json(), INVALID_401)

    # ---- GET /tokens/v2 over tampered and malformed credentials ------------
    def test_validity_codes_for_every_kind(self):
        _, access, user = self.account()
        _, _, other_user = self.account()
        sk = self.create(user, access, ["tokens:read", "tokens:write"])
        pk = self.create(user, access, ["styles:read"])
        tk = self.temp(user, sk["token"], ["tokens:read"])["token"]
        cases = []  # (credential, expected code)
        for good in (sk["token"], pk["token"]):
            kind, payload, secret = good.split(".")
            cases += [
                (good, "TokenValid"),
                # A mistyped secret fails its checksum before any lookup.
                ("%s.%s.%s" % (kind, payload, flip_char(secret, 5)), "TokenMalformed"),
                ("%s.%s.%s" % (kind, payload, secret[:-1]), "TokenMalformed"),
                ("%s.%s" % (kind, payload), "TokenMalformed"),
                # Well formed, but claims another user or another id.
                (with_payload(good, {"u": other_user, "a": payload_of(good)["a"]}), "TokenInvalid"),
                (with_payload(good, {"u": user, "a": "b" * 25}), "TokenInvalid"),
                (with_payload(good, {"u": user, "a": (pk if good == sk["token"] else sk)["id"]}),
                 "TokenInvalid"),
                # The other usage prefix with the same payload and secret.
                (("pk." if kind == "sk" else "sk.") + good[3:], "TokenInvalid"),
            ]
        head, payload, mac = tk.split(".")
        claims = payload_of(tk)
        cases += [
            (tk, "TokenValid"),
            ("%s.%s.%s" % (head, payload, flip_char(mac, 10)), "TokenInvalid"),
            (with_payload(tk, dict(claims, exp=claims["exp"] + 3600)), "TokenInvalid"),
            (with_payload(tk, dict(claims, scopes=["tokens:write"])), "TokenInvalid"),
            ("%s.%s" % (head, payload), "TokenMalformed"),
            ("tk.!!!.%s" % mac, "TokenMalformed"),
        ]
        jh, jp, js = access.split(".")
        cases += [
            (access, "TokenValid"),
            ("%s.%s.%s" % (jh, jp, flip_char(js, 10)), "TokenInvalid"),
            ("%s.%s" % (jh, jp), "TokenMalformed"),
            ("garbage", "TokenMalformed"),
            ("pk.", "TokenMalformed"),
            ("x" * 5000, "TokenMalformed"),
            ("a.b.c", "TokenMalformed"),
        ]
        bodies_401 = set()
        for cred, code in cases:
            got = self.check(cred)
            self.assertEqual(got["code"], code, (cred, got))
            self.assertIsInstance(got["token"], dict)
            # Query parameter and Bearer header agree.
            via_query = self.check(None, params={"access_token": cred})
            self.assertEqual(via_query["code"], code)
            # Elsewhere every non-valid credential gets the same 401.
            r = self.call("GET", "/tokens/v2/" + user, cred)
            if code == "TokenValid":
                self.assertIn(r.status_code, (200, 403))
            else:
                self.assertEqual(r.status_code, 401, (cred, r.text))
                self.assertIn("invalid_token", r.headers["WWW-Authenticate"])
                bodies_401.add(r.text)
        self.assertEqual(len(bodies_401), 1, bodies_401)
        self.assertEqual(json.loads(bodies_401.pop()), INVALID_401)
        # A non-Bearer Authorization header is a malformed credential, not none.
        r = self.server.get("/tokens/v2", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["code"], "TokenMalformed")
        # No credential at all.
        r = self.server.get("/tokens/v2")
        self.assertMessage(r, 401, "Unauthorized")

    def test_revoked_for_every_kind_by_deactivation(self):
        email, access, user = self.account()
        sk = self.create(user, access, ["tokens:read", "tokens:write"])
        pk = self.create(user, access, ["styles:read"])
        tk = self.temp(user, sk["token"], ["tokens:read"])["token"]
        tk_session = self.temp(user, access, ["tokens:read"])["token"]
        for tok in (sk["token"], pk["token"], tk, tk_session, access):
            self.assertEqual(self.check(tok)["code"], "TokenValid")
        self.server.cli("user", "set", email, "--active", "false")
        for tok in (sk["token"], pk["token"], tk, tk_session, access):
            got = self.check(tok)
            self.assertEqual(got["code"], "TokenRevoked", tok[:3])
            self.assertEqual(got["token"]["user"], user)
            r = self.call("GET", "/tokens/v2/" + user, tok)
            self.assertEqual(r.status_code, 401)
            self.assertEqual(r.json(), INVALID_401)


class ExpiredStoredTokensTest(MapboxCase):
    """Stored tokens cannot be minted already expired, so the test ages them in
    the database while the server is stopped (no cache can hide the change)."""

    def test_expired_pk_sk_and_session(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:read", "tokens:write"])
        pk = self.create(user, access, ["styles:read"])
        tk = self.temp(user, sk["token"], ["tokens:read"])["token"]
        self.server.stop()
        db = sqlite3.connect(os.path.join(self.server.data_dir, "tessera.db"))
        past = int(time.time() * 1000) - 60000
        with db:
            db.execute("UPDATE tokens SET expires_at = ? WHERE id IN (?, ?)",
                       (past, sk["id"], pk["id"]))
        db.close()
        self.server.start()
        for tok, usage in ((sk["token"], "sk"), (pk["token"], "pk")):
            got = self.check(tok)
            self.assertEqual(got["code"], "TokenExpired")
            self.assertEqual(got["token"]["usage"], usage)
            r = self.call("GET", "/tokens/v2/" + user, tok)
            self.assertEqual(r.status_code, 401)
            self.assertEqual(r.json(), INVALID_401)
        # A tk whose parent has expired dies with it.
        self.assertIn(self.check(tk)["code"], ("TokenRevoked", "TokenExpired"))
        self.assertEqual(self.call("GET", "/tokens/v2/" + user, tk).status_code, 401)


class ExpiredSessionTest(MapboxCase):
    settings = {"access-ttl": "10"}

    def test_expired_session_jwt(self):
        _, access, user = self.account()
        self.assertEqual(self.check(access)["code"], "TokenValid")
        time.sleep(11.2)
        got = self.check(access)
        self.assertEqual(got["code"], "TokenExpired")
        self.assertEqual(got["token"]["user"], user)
        r = self.call("GET", "/tokens/v2/" + user, access)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.json(), INVALID_401)


if __name__ == "__main__":
    unittest.main()
