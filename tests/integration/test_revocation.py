"""Revocation and account changes take effect on the very next request.

Token checks are served from the server's in-memory index, so these tests
prove it never keeps a dead credential alive: revocation through the API and
through the CLI (a separate process writing the database directly), scope
removal, group change and deactivation, each checked by the request that
immediately follows the change.
"""
import base64
import json
import time
import unittest

from harness import ServerTestCase


class RevocationTest(ServerTestCase):
    settings = {"login-rate-account": 0, "login-rate-addr": 0, "token-api-rate": 0}

    def check(self, token):
        r = self.server.get("/tokens/v2", token=token)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["code"]

    def new_sk(self):
        email, pair = self.server.new_account()
        tok = self.server.create_stac_token(pair["access"])
        return email, pair, tok

    def test_api_delete_is_seen_by_next_request(self):
        _, pair, tok = self.new_sk()
        self.assertEqual(self.check(tok["token_value"]), "TokenValid")
        r = self.server.request("DELETE", "/api/v1/account/tokens/" + tok["id"],
                                token=pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        self.assertEqual(self.check(tok["token_value"]), "TokenRevoked")
        r = self.server.get("/api/v1/stac/collections", token=tok["token_value"])
        self.assertEqual(r.status_code, 401, r.text)

    def test_mapbox_delete_and_temporary_children(self):
        _, pair, _ = self.new_sk()
        me = self.server.get("/api/v1/account/me", token=pair["access"]).json()
        user = me["username"]
        r = self.server.post("/tokens/v2/" + user, {"scopes": ["stac", "tokens:write"],
                                                    "note": "parent"}, token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        parent = r.json()
        expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 600))
        r = self.server.post("/tokens/v2/" + user, {"scopes": ["stac"], "expires": expires},
                             token=parent["token"])
        self.assertEqual(r.status_code, 200, r.text)
        tk = r.json()["token"]
        self.assertEqual(self.check(tk), "TokenValid")
        r = self.server.request("DELETE", "/tokens/v2/%s/%s" % (user, parent["id"]),
                                token=pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        self.assertEqual(self.check(parent["token"]), "TokenRevoked")
        self.assertEqual(self.check(tk), "TokenRevoked")

    def test_session_minted_temporary_token_ends_with_sessions(self):
        # A tk minted by a session has no stored parent: a password change
        # (which ends every session) must end it too.
        email, pair, _ = self.new_sk()
        user = self.server.get("/api/v1/account/me", token=pair["access"]).json()["username"]
        expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 600))
        r = self.server.post("/tokens/v2/" + user, {"scopes": ["stac"], "expires": expires},
                             token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        tk = r.json()["token"]
        self.assertEqual(self.check(tk), "TokenValid")
        self.server.cli("user", "set", email, "--password-stdin",
                        input="another long passphrase\n")
        self.assertEqual(self.check(tk), "TokenRevoked")
        self.assertEqual(self.server.get("/api/v1/stac/collections", token=tk).status_code, 401)

    def test_cli_revoke_is_seen_by_next_request(self):
        _, _, tok = self.new_sk()
        self.assertEqual(self.check(tok["token_value"]), "TokenValid")
        self.server.cli("token", "revoke", tok["id"])
        self.assertEqual(self.check(tok["token_value"]), "TokenRevoked")

    def test_cli_token_create_is_usable_at_once(self):
        email, _, _ = self.new_sk()
        out = self.server.cli("token", "create", email, "--scopes", "stac").stdout
        token = [w for w in out.split() if w.startswith("sk.")][0]
        self.assertEqual(self.check(token), "TokenValid")

    def test_cli_scope_removal(self):
        email, pair, tok = self.new_sk()
        sk = tok["token_value"]
        self.assertEqual(self.server.get("/api/v1/stac/collections", token=sk).status_code, 200)
        self.server.cli("user", "set", email, "--scopes", "catalog:read,tokens:read")
        r = self.server.get("/api/v1/stac/collections", token=sk)
        self.assertEqual(r.status_code, 403, r.text)
        me = self.server.get("/api/v1/account/me", token=pair["access"]).json()
        self.assertNotIn("stac", me["scopes"])
        r = self.server.get("/api/v1/stac/collections", token=pair["access"])
        self.assertEqual(r.status_code, 403, r.text)

    def test_cli_group_change(self):
        email, pair, _ = self.new_sk()
        me = self.server.get("/api/v1/account/me", token=pair["access"]).json()
        self.assertNotIn("Partners", me["groups"])
        self.server.cli("user", "set", email, "--groups", "Public,Partners")
        me = self.server.get("/api/v1/account/me", token=pair["access"]).json()
        self.assertIn("Partners", me["groups"])
        self.server.cli("user", "set", email, "--groups", "Public")
        me = self.server.get("/api/v1/account/me", token=pair["access"]).json()
        self.assertNotIn("Partners", me["groups"])

    def test_cli_deactivation(self):
        email, pair, tok = self.new_sk()
        user = self.server.get("/api/v1/account/me", token=pair["access"]).json()["username"]
        listing = "/tokens/v2/" + user
        old_default = self.server.get(listing, token=pair["access"],
                                      params={"default": "true"}).json()
        self.assertEqual(len(old_default), 1)
        self.assertEqual(self.check(tok["token_value"]), "TokenValid")
        self.assertEqual(self.check(old_default[0]["token"]), "TokenValid")
        self.server.cli("user", "disable", email)
        self.assertEqual(self.check(tok["token_value"]), "TokenRevoked")
        self.assertEqual(self.check(old_default[0]["token"]), "TokenRevoked")
        r = self.server.get("/api/v1/account/me", token=pair["access"])
        self.assertEqual(r.status_code, 401, r.text)
        # A token minted for the disabled account (or left live by an older
        # version's deactivation) is ended when the account is enabled.
        minted = self.server.cli("token", "create", email, "--scopes", "stac").stdout.strip()
        # SPEC 5.3: ended stays ended. Re-enabling revives neither the tokens
        # nor the old session; the account gets a new default pk.
        self.server.cli("user", "set", email, "--active", "true")
        self.assertEqual(self.check(minted), "TokenRevoked")
        self.assertEqual(self.check(tok["token_value"]), "TokenRevoked")
        self.assertEqual(self.check(old_default[0]["token"]), "TokenRevoked")
        r = self.server.get("/api/v1/stac/collections", token=tok["token_value"])
        self.assertEqual(r.status_code, 401, r.text)
        r = self.server.get("/api/v1/account/me", token=pair["access"])
        self.assertEqual(r.status_code, 401, r.text)
        fresh = self.server.login(email)
        listed = self.server.get(listing, token=fresh["access"]).json()
        self.assertEqual([t["default"] for t in listed], [True], listed)
        self.assertNotEqual(listed[0]["id"], old_default[0]["id"])
        self.assertEqual(self.check(listed[0]["token"]), "TokenValid")
        # The trail records each ending as a revocation by the operator.
        events = json.loads(self.server.cli("audit", "--account", email, "--json").stdout)
        revoked = {e["token_id"] for e in events
                   if e["kind"] == "token.revoke" and e["actor"] == "cli"}
        minted_id = json.loads(base64.urlsafe_b64decode(minted.split(".")[1] + "=="))["a"]
        self.assertEqual(revoked, {tok["id"], old_default[0]["id"], minted_id})
        kinds = [e["kind"] for e in events]
        self.assertIn("account.disable", kinds)
        self.assertIn("account.enable", kinds)
        # A second enable leaves the new default pk alone.
        self.server.cli("user", "set", email, "--active", "true")
        again = self.server.get(listing, token=fresh["access"], params={"default": "true"}).json()
        self.assertEqual([t["id"] for t in again], [listed[0]["id"]])

    def test_revocation_survives_restart(self):
        _, _, tok = self.new_sk()
        self.server.cli("token", "revoke", tok["id"])
        self.server.stop()
        self.server.start()
        self.assertIn(self.check(tok["token_value"]), ("TokenRevoked", "TokenInvalid"))


if __name__ == "__main__":
    unittest.main()
