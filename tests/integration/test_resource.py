"""Resource-server endpoints (SPEC §4.3, §5): forward-auth GET /api/v1/auth/check
with prefix → scope rules, OAuth introspection (RFC 7662) and revocation
(RFC 7009), all over real HTTP against a running tessera."""
import time
import unittest
from urllib.parse import quote

from harness import Server, ServerTestCase

CHECK = "/api/v1/auth/check"
INTROSPECT = "/api/v1/oauth/introspect"
REVOKE = "/api/v1/oauth/revoke"
ALL_SCOPES = "stac,catalog:read,tokens:read,tokens:write,scopes:list,tokens:introspect"

# Longest prefix wins; "/public" is open, "/any" wants any valid credential,
# "/admin" an operator scope, and POST under /data wants tokens:write.
RULES = ("/=stac /public=- /any= /admin=tokens:introspect /data/private/=catalog:read "
         "POST,PUT:/data=tokens:write")


class ResourceTestBase(ServerTestCase):
    settings = {"auth-rules": RULES}

    # -- helpers -------------------------------------------------------------
    def account(self, operator=False):
        """A fresh account: (email, username, session pair, create-stac sk)."""
        email, pair = self.server.new_account()
        if operator:
            self.server.cli("user", "set", email, "--scopes", ALL_SCOPES)
        me = self.server.get("/api/v1/account/me", token=pair["access"]).json()
        sk = self.server.create_stac_token(pair["access"])
        return email, me["username"], pair, sk

    def check(self, uri=None, token=None, method=None, headers=None, params=None,
              forwarded=False):
        h = dict(headers or {})
        if uri is not None:
            h["X-Forwarded-Uri" if forwarded else "X-Original-URI"] = uri
        if method is not None:
            h["X-Forwarded-Method" if forwarded else "X-Original-Method"] = method
        return self.server.get(CHECK, token=token, headers=h, params=params)

    def introspect(self, token, caller, as_json=False):
        if as_json:
            return self.server.post(INTROSPECT, {"token": token}, token=caller)
        return self.server.post(INTROSPECT, token=caller,
                                data={"token": token, "token_type_hint": "access_token"})

    def mapbox_pk(self, username, access, scopes=("styles:tiles",)):
        r = self.server.post("/tokens/v2/" + username, {"scopes": list(scopes), "note": "pk"},
                             token=access)
        if r.status_code == 404 and "message" not in r.text:
            self.skipTest("Mapbox tokens API not available")
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["token"]

    def assert_allowed(self, r, username=None):
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.content, b"")
        if username is not None:
            self.assertEqual(r.headers.get("X-Auth-User"), username)
        return r

    def assert_401(self, r):
        self.assertEqual(r.status_code, 401, r.text)
        self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))
        return r

    def assert_403_scope(self, r, scope):
        self.assertEqual(r.status_code, 403, r.text)
        www = r.headers.get("WWW-Authenticate", "")
        self.assertIn('error="insufficient_scope"', www)
        self.assertIn('scope="%s"' % scope, www)
        self.assertEqual(r.json()["code"], "insufficient_scope")


class AuthCheckTest(ResourceTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.email, cls.username, cls.pair, cls.sk = ResourceTestBase.account(cls)

    def test_headers_for_sk(self):
        r = self.assert_allowed(self.check("/maps/x", self.sk["token_value"], "GET"),
                                self.username)
        self.assertEqual(set(r.headers["X-Auth-Scopes"].split()), {"stac", "catalog:read"})
        self.assertEqual(r.headers["X-Auth-Groups"].split(), ["Public"])
        self.assertEqual(r.headers["X-Auth-Token-Type"], "sk")

    def test_headers_for_session(self):
        r = self.assert_allowed(self.check("/maps/x", self.pair["access"]), self.username)
        scopes = set(r.headers["X-Auth-Scopes"].split())
        self.assertTrue({"stac", "catalog:read", "tokens:read", "tokens:write"} <= scopes, scopes)
        self.assertNotIn("tokens:introspect", scopes)
        self.assertEqual(r.headers["X-Auth-Token-Type"], "access")

    def test_headers_for_pk(self):
        pk = self.mapbox_pk(self.username, self.pair["access"])
        # A pk with only public scopes passes "/any" but not the stac root.
        r = self.assert_allowed(self.check("/any/thing", pk), self.username)
        self.assertEqual(r.headers["X-Auth-Scopes"], "styles:tiles")
        self.assertEqual(r.headers["X-Auth-Token-Type"], "pk")
        self.assert_403_scope(self.check("/maps/x", pk), "stac")

    def test_headers_for_tk(self):
        expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 600))
        r = self.server.post("/tokens/v2/" + self.username,
                             {"scopes": ["stac"], "expires": expires}, token=self.pair["access"])
        if r.status_code == 404 and "message" not in r.text:
            self.skipTest("Mapbox temporary tokens endpoint not available")
        self.assertEqual(r.status_code, 200, r.text)
        tk = r.json()["token"]
        self.assertTrue(tk.startswith("tk."))
        r = self.assert_allowed(self.check("/maps/x", tk), self.username)
        self.assertEqual(r.headers["X-Auth-Scopes"], "stac")
        self.assertEqual(r.headers["X-Auth-Token-Type"], "tk")
        self.assert_403_scope(self.check("/data/private/a", tk), "catalog:read")

    def test_longest_prefix_wins(self):
        sk = self.sk["token_value"]
        self.assert_allowed(self.check("/data/private/a.tif", sk))        # catalog:read
        self.assert_403_scope(self.check("/admin", sk), "tokens:introspect")
        self.assert_403_scope(self.check("/admin/users?x=1", sk), "tokens:introspect")
        # Prefixes match whole segments: /administrator is under "/" (stac).
        self.assert_allowed(self.check("/administrator", sk))
        self.assert_allowed(self.check("/", sk))

    def test_method_specific_rule(self):
        sk = self.sk["token_value"]
        self.assert_allowed(self.check("/data/x", sk, "GET"))
        self.assert_403_scope(self.check("/data/x", sk, "POST"), "tokens:write")
        self.assert_403_scope(self.check("/data/x", sk, "PUT"), "tokens:write")
        # A session holds tokens:write.
        self.assert_allowed(self.check("/data/x", self.pair["access"], "POST"), self.username)
        # The deeper /data/private rule is method-independent and longer.
        self.assert_allowed(self.check("/data/private/x", sk, "POST"))

    def test_public_prefix(self):
        r = self.assert_allowed(self.check("/public/index.html"))
        self.assertNotIn("X-Auth-User", r.headers)
        self.assert_allowed(self.check("/public"))
        # A presented credential must still be valid, even on a public path.
        self.assert_401(self.check("/public/x", "sk.garbage.token"))
        r = self.assert_allowed(self.check("/public/x", self.sk["token_value"]), self.username)
        # /publicity is not under /public.
        self.assert_401(self.check("/publicity"))

    def test_empty_scope_any_credential(self):
        self.assert_401(self.check("/any/x"))
        self.assert_allowed(self.check("/any/x", self.sk["token_value"]), self.username)

    def test_missing_credential_401(self):
        r = self.assert_401(self.check("/maps/x"))
        self.assertEqual(r.json()["code"], "not_authenticated")

    def test_garbage_and_revoked_look_the_same(self):
        email, username, pair, sk = self.account()
        self.assert_allowed(self.check("/maps", sk["token_value"]), username)
        r = self.server.request("DELETE", "/api/v1/account/tokens/" + sk["id"],
                                token=pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        revoked = self.assert_401(self.check("/maps", sk["token_value"]))
        garbage = self.assert_401(self.check("/maps", "not-a-token"))
        forged = sk["token_value"][:-6] + "AAAAAA"
        wrong = self.assert_401(self.check("/maps", forged))
        self.assertEqual(revoked.json(), garbage.json())
        self.assertEqual(revoked.json(), wrong.json())
        self.assertEqual(revoked.headers["WWW-Authenticate"], garbage.headers["WWW-Authenticate"])

    def test_credential_sources(self):
        sk = self.sk["token_value"]
        # access_token on the check request itself.
        self.assert_allowed(self.check("/maps", params={"access_token": sk}), self.username)
        # access_token inside the original URI (nginx passes $request_uri).
        self.assert_allowed(self.check("/maps/x?a=1&access_token=%s&b=2" % quote(sk)),
                            self.username)
        # Traefik's X-Forwarded-* headers.
        self.assert_allowed(self.check("/maps/x?access_token=" + sk, forwarded=True,
                                       method="GET"), self.username)
        self.assert_403_scope(self.check("/data/x", sk, "POST", forwarded=True), "tokens:write")
        # Repeated access_token in the URI is ambiguous: refused as malformed.
        self.assert_401(self.check("/maps?access_token=%s&access_token=%s" % (sk, sk)))
        # The Bearer header wins over the query.
        self.assert_allowed(self.check("/maps?access_token=junk", sk), self.username)
        # A non-Bearer Authorization header is a malformed credential.
        r = self.check("/public/x", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assert_401(r)

    def test_path_normalization_blocks_bypass(self):
        # Dot segments and escapes are resolved before matching, so a public
        # prefix cannot be used to reach a protected path.
        self.assert_401(self.check("/public/../maps"))
        self.assert_401(self.check("/public/%2e%2e/maps"))
        self.assert_401(self.check("/public/.%2E/maps"))
        self.assert_401(self.check("//public/..//maps"))
        self.assert_403_scope(self.check("/public/../admin", self.sk["token_value"]),
                              "tokens:introspect")
        self.assert_allowed(self.check("/maps/./../public/x"))
        self.assert_allowed(self.check("/%70ublic/x"))  # %70 = 'p'
        self.assert_allowed(self.check("http://example.com/public/x?y=1"))

    def test_malformed_uri_400(self):
        for uri in ("/../etc/passwd", "/a/%zz", "/a%00b", "relative/path", "/x/%2"):
            r = self.check(uri)
            self.assertEqual(r.status_code, 400, (uri, r.text))
            self.assertEqual(r.json()["code"], "invalid_uri")
        r = self.check("/" + "a" * 5000)
        self.assertEqual(r.status_code, 400)

    def test_no_original_uri_means_root(self):
        self.assert_401(self.check())
        self.assert_allowed(self.check(token=self.sk["token_value"]), self.username)

    def test_head_works(self):
        r = self.server.request("HEAD", CHECK, token=self.sk["token_value"],
                                headers={"X-Original-URI": "/maps"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers.get("X-Auth-User"), self.username)

    def test_no_credential_in_log(self):
        self.check("/maps?access_token=" + self.sk["token_value"])
        self.check("/maps", params={"access_token": self.sk["token_value"]})
        log = self.server.read_log()
        secret = self.sk["token_value"].split(".")[2]
        self.assertNotIn(secret, log)


class IntrospectRevokeTest(ResourceTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.op_email, cls.op_user, cls.op_pair, cls.op_sk = ResourceTestBase.account(cls, True)
        cls.op = cls.op_pair["access"]

    # -- introspect -------------------------------------------------------------
    def test_introspect_requires_caller(self):
        _, _, pair, sk = self.account()
        r = self.server.post(INTROSPECT, data={"token": sk["token_value"]})
        self.assert_401(r)
        r = self.introspect(sk["token_value"], "sk.bad.caller")
        self.assert_401(r)
        # An ordinary account lacks the operator scope.
        r = self.introspect(sk["token_value"], pair["access"])
        self.assert_403_scope(r, "tokens:introspect")
        r = self.introspect(sk["token_value"], sk["token_value"])
        self.assert_403_scope(r, "tokens:introspect")

    def test_introspect_sk_active_form_and_json(self):
        _, username, pair, sk = self.account()
        me = self.server.get("/api/v1/account/me", token=pair["access"]).json()
        for as_json in (False, True):
            r = self.introspect(sk["token_value"], self.op, as_json)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(r.headers.get("Cache-Control"), "no-store")
            body = r.json()
            self.assertIs(body["active"], True)
            self.assertEqual(set(body["scope"].split()), {"stac", "catalog:read"})
            self.assertEqual(body["client_id"], "api")
            self.assertEqual(body["username"], username)
            self.assertEqual(body["token_type"], "sk")
            self.assertEqual(body["sub"], str(me["id"]))
            self.assertEqual(body["jti"], sk["id"])
            self.assertIsInstance(body["iat"], int)
            self.assertGreater(body["exp"], time.time() + 6 * 86400)
            self.assertLessEqual(body["iat"], time.time() + 5)

    def test_introspect_session_and_refresh(self):
        _, username, pair, _ = self.account()
        body = self.introspect(pair["access"], self.op).json()
        self.assertIs(body["active"], True, body)
        self.assertEqual(body["token_type"], "access")
        self.assertEqual(body["username"], username)
        self.assertRegex(body["jti"], r"^[0-9a-f]{32}$")
        body = self.introspect(pair["refresh"], self.op).json()
        self.assertIs(body["active"], True, body)
        self.assertEqual(body["token_type"], "refresh")
        r = self.server.post("/api/v1/token/blacklist", {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.introspect(pair["refresh"], self.op).json(), {"active": False})

    def test_introspect_pk(self):
        _, username, pair, _ = self.account()
        pk = self.mapbox_pk(username, pair["access"])
        body = self.introspect(pk, self.op).json()
        self.assertEqual(body["token_type"], "pk")
        self.assertEqual(body["scope"], "styles:tiles")
        self.assertNotIn("exp", body)  # never expires

    def test_introspect_inactive_is_exactly_active_false(self):
        _, _, pair, sk = self.account()
        forged = sk["token_value"][:-6] + "AAAAAA"
        for tok in ("garbage", "sk.x.y", "tk.e30.AAAA", forged, "a" * 9000,
                    pair["access"][:-2] + "xx", "eyJhbGciOiJub25lIn0.e30."):
            for as_json in (False, True):
                r = self.introspect(tok, self.op, as_json)
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.text.replace(" ", ""), '{"active":false}')

    def test_introspect_bad_requests(self):
        r = self.server.post(INTROSPECT, token=self.op, data={"token_type_hint": "x"})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json()["error"], "invalid_request")
        self.assertEqual(r.json()["code"], "invalid_request")
        r = self.server.post(INTROSPECT, token=self.op, data="token=a&token=b",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.post(INTROSPECT, token=self.op, data="token=%zz",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.post(INTROSPECT, {"token": 5}, token=self.op)
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.post(INTROSPECT, token=self.op, data="{not json",
                             headers={"Content-Type": "application/json"})
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.post(INTROSPECT, token=self.op, data="token=x",
                             headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status_code, 415, r.text)
        r = self.server.post(INTROSPECT, token=self.op)
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.get(INTROSPECT, token=self.op)
        self.assertEqual(r.status_code, 405, r.text)

    def test_form_decoding(self):
        _, _, _, sk = self.account()
        # Percent-escapes and '+' are decoded; keys too.
        tok = sk["token_value"]
        enc = "".join("%%%02X" % ord(c) for c in tok)
        for body in ("token=" + enc, "x=1&to%6Ben=" + tok + "&y=a+b", "&&token=" + tok + "&"):
            r = self.server.post(INTROSPECT, token=self.op, data=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            self.assertEqual(r.status_code, 200, r.text)
            self.assertIs(r.json()["active"], True, body)

    # -- revoke -----------------------------------------------------------------
    def test_revoke_then_introspect_and_check(self):
        _, username, pair, sk = self.account()
        tok = sk["token_value"]
        self.assert_allowed(self.check("/maps", tok), username)
        r = self.server.post(REVOKE, token=pair["access"], data={"token": tok,
                                                                 "token_type_hint": "access_token"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.introspect(tok, self.op).json(), {"active": False})
        self.assert_401(self.check("/maps", tok))
        # Revoking again is still 200.
        r = self.server.post(REVOKE, token=pair["access"], data={"token": tok})
        self.assertEqual(r.status_code, 200, r.text)

    def test_revoke_by_possession_json(self):
        _, username, _, sk = self.account()
        tok = sk["token_value"]
        r = self.server.post(REVOKE, {"token": tok})
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_401(self.check("/maps", tok))

    def test_revoke_with_token_itself_as_caller(self):
        _, _, _, sk = self.account()
        tok = sk["token_value"]
        r = self.server.post(REVOKE, token=tok, data={"token": tok})
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_401(self.check("/maps", tok))

    def test_revoke_other_accounts_token_is_silent_noop(self):
        _, username, _, sk = self.account()
        _, _, other_pair, _ = self.account()
        r = self.server.post(REVOKE, token=other_pair["access"], data={"token": sk["token_value"]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assert_allowed(self.check("/maps", sk["token_value"]), username)
        self.assertIs(self.introspect(sk["token_value"], self.op).json()["active"], True)

    def test_revoke_unknown_and_bad_requests(self):
        _, _, pair, _ = self.account()
        for tok in ("garbage", "sk.x.y", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"):
            r = self.server.post(REVOKE, token=pair["access"], data={"token": tok})
            self.assertEqual(r.status_code, 200, (tok, r.text))
        r = self.server.post(REVOKE, token=pair["access"], data={})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json()["error"], "invalid_request")
        r = self.server.post(REVOKE, token="sk.bad.caller", data={"token": "x"})
        self.assert_401(r)
        # An access JWT cannot be revoked alone (RFC 7009 unsupported_token_type).
        r = self.server.post(REVOKE, data={"token": pair["access"]})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json()["error"], "unsupported_token_type")

    def test_revoke_refresh_ends_family(self):
        _, _, pair, _ = self.account()
        r = self.server.post(REVOKE, token=pair["access"], data={"token": pair["refresh"]})
        self.assertEqual(r.status_code, 200, r.text)
        r = self.server.post("/api/v1/token/refresh", {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(self.introspect(pair["refresh"], self.op).json(), {"active": False})

    def test_revoke_tk_unsupported(self):
        _, username, pair, _ = self.account()
        expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 600))
        r = self.server.post("/tokens/v2/" + username, {"scopes": ["stac"], "expires": expires},
                             token=pair["access"])
        if r.status_code == 404 and "message" not in r.text:
            self.skipTest("Mapbox temporary tokens endpoint not available")
        tk = r.json()["token"]
        body = self.introspect(tk, self.op).json()
        self.assertEqual(body["token_type"], "tk")
        self.assertNotIn("jti", body)
        r = self.server.post(REVOKE, data={"token": tk})
        self.assertEqual(r.status_code, 200, r.text)  # RFC 7009: ended, by its MAC's id
        self.assertFalse(self.introspect(tk, self.op).json()["active"])
        r = self.server.post(REVOKE, data={"token": tk})
        self.assertEqual(r.status_code, 200, r.text)  # again: nothing to do, still 200


class BrokenRulesTest(unittest.TestCase):
    """A malformed rule table fails closed (500 on every check) and says why
    in the log; the rest of the server keeps working."""

    def test_malformed_rules_refuse_to_start(self):
        # A rule typo must stop the server at start, naming the setting,
        # rather than turn every check into an error at run time.
        for rules in ("/ok=stac nonsense", "/a=stac /a/=catalog:read", "/x=bad*scope",
                      "get:/x=stac", "/a/../b=stac"):
            srv = Server(settings={"auth-rules": rules})
            try:
                with self.assertRaises(AssertionError) as ctx:
                    srv.start(timeout=10)
                self.assertIn("auth_rules", str(ctx.exception), rules)
            finally:
                srv.close()

    def test_unlisted_path_denied(self):
        srv = Server(settings={"auth-rules": "/only=-"})
        try:
            srv.start()
            self.assertEqual(srv.get(CHECK, headers={"X-Original-URI": "/only/x"}).status_code, 200)
            r = srv.get(CHECK, headers={"X-Original-URI": "/elsewhere"})
            self.assertEqual(r.status_code, 403, r.text)
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main()
