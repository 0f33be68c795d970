"""Leaked-token self-defence (issue 15, part 3), over real HTTP.

POST /api/v1/token/report-leak takes reports in the format of GitHub's
secret-scanning partner programme: a JSON array of {token, type, url,
source}, signed with ECDSA P-256 / SHA-256 over the raw body (base64 DER in
Github-Public-Key-Signature, the key named by Github-Public-Key-Identifier in
the leak_report_keys document). The fixture key pair is tests/fixtures/leak/;
reports are signed with the openssl command line, as a scanner signs them.
DELETE /api/v1/token/self lets the holder of a pk/sk revoke it.
"""
import hashlib
import json
import os
import shutil
import time
import unittest

from harness import Server, ServerTestCase
from leakutil import FIXTURES, FORGER_KEY, KEY_ID, KEYS, SCANNER_KEY, payload_of, sign, \
    with_payload

URL = "https://github.com/octocat/hello/blob/0123456789abcdef/config/settings.py"


def sha256(token):
    return hashlib.sha256(token.encode()).hexdigest()


class LeakBase(ServerTestCase):
    settings = {"leak-report-keys": KEYS, "token-api-rate": "0"}

    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl command not found")
        super().setUpClass()

    # -- helpers ---------------------------------------------------------
    def account(self):
        """A fresh account: (username, session pair, default pk)."""
        _, pair = self.server.new_account()
        user = self.server.get("/api/v1/account/me", token=pair["access"]).json()["username"]
        listed = self.server.get("/tokens/v2/" + user, token=pair["access"]).json()
        default = [t for t in listed if t["default"]][0]["token"]
        return user, pair, default

    def mint(self, user, access, scopes=("stac",), expires=None):
        body = {"scopes": list(scopes), "note": "leak test"}
        if expires:
            body["expires"] = time.strftime("%Y-%m-%dT%H:%M:%S",
                                            time.gmtime(time.time() + expires))
        r = self.server.post("/tokens/v2/" + user, body, token=access)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["token"]

    def code(self, token):
        r = self.server.get("/tokens/v2", token=token)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["code"]

    def report(self, tokens, key=SCANNER_KEY, key_id=KEY_ID, body=None, signature=None,
               headers=None):
        """Posts a signed report of tokens (a list of token strings or entry
        dicts); returns the response."""
        if body is None:
            entries = [t if isinstance(t, dict) else
                       {"token": t, "type": "tessera_token", "url": URL, "source": "content"}
                       for t in tokens]
            body = json.dumps(entries).encode()
        for t in tokens or ():
            self.server.keep_credential(t["token"] if isinstance(t, dict) else t)
        h = {"Content-Type": "application/json"}
        if key_id is not None:
            h["Github-Public-Key-Identifier"] = key_id
        if key is not None:
            h["Github-Public-Key-Signature"] = signature or sign(body, key)
        h.update(headers or {})
        return self.server.request("POST", "/api/v1/token/report-leak", data=body, headers=h)

    def audit(self, access, kind):
        r = self.server.get("/api/v1/account/audit", token=access, params={"limit": 100})
        self.assertEqual(r.status_code, 200, r.text)
        return [e for e in r.json()["events"] if e["kind"] == kind]


class ReportLeakTest(LeakBase):
    def test_valid_report_revokes_and_audits(self):
        user, pair, _ = self.account()
        sk = self.server.create_stac_token(pair["access"])["token_value"]
        pk = self.mint(user, pair["access"], ["styles:read"])
        self.assertEqual(self.code(sk), "TokenValid")
        r = self.report([sk, pk])
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertEqual(r.json(), [
            {"token_hash": sha256(sk), "token_type": "tessera_token", "label": "true_positive",
             "status": "revoked", "revoked": True},
            {"token_hash": sha256(pk), "token_type": "tessera_token", "label": "true_positive",
             "status": "revoked", "revoked": True}])
        self.assertNotIn(sk, r.text)
        # Refused on the very next request.
        self.assertEqual(self.code(sk), "TokenRevoked")
        self.assertEqual(self.code(pk), "TokenRevoked")
        self.assertEqual(self.server.get("/api/v1/stac/collections", token=sk).status_code, 401)
        # The trail: the revocation by the report, and the report with where
        # the token was found; never the token.
        sk_id = payload_of(sk)["a"]
        revokes = [e for e in self.audit(pair["access"], "token.revoke") if e["token_id"] == sk_id]
        self.assertEqual(len(revokes), 1)
        self.assertEqual(revokes[0]["actor"], "leak-report")
        leaks = [e for e in self.audit(pair["access"], "token.leak_reported")
                 if e["token_id"] == sk_id]
        self.assertEqual(len(leaks), 1)
        self.assertEqual(leaks[0]["actor"], "leak-report")
        self.assertTrue(leaks[0]["detail"].startswith("revoked; found in content at https://"),
                        leaks[0])
        self.assertIn("github.com/octocat/hello", leaks[0]["detail"])
        events = json.dumps(self.audit(pair["access"], "token.leak_reported"))
        self.assertNotIn(sk.split(".")[2], events)
        # Reported again: nothing more to do, still a true positive.
        r = self.report([sk])
        self.assertEqual(r.json()[0]["status"], "already_revoked")
        self.assertEqual(r.json()[0]["label"], "true_positive")
        self.assertIs(r.json()[0]["revoked"], False)

    def test_header_names_in_any_case(self):
        # GitHub's earlier documents spelt them in capitals.
        user, pair, _ = self.account()
        sk = self.mint(user, pair["access"], ["stac"])
        body = json.dumps([{"token": sk, "type": "t", "url": URL, "source": "content"}]).encode()
        r = self.report([sk], key=None, key_id=None, body=body, headers={
            "GITHUB-PUBLIC-KEY-IDENTIFIER": KEY_ID, "GITHUB-PUBLIC-KEY-SIGNATURE": sign(body)})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()[0]["status"], "revoked")

    def test_forged_or_tampered_signature_revokes_nothing(self):
        user, pair, _ = self.account()
        sk = self.mint(user, pair["access"], ["stac"])
        body = json.dumps([{"token": sk, "type": "t", "url": URL, "source": "content"}]).encode()
        # Signed by another key under the scanner's identifier.
        r = self.report([sk], key=FORGER_KEY)
        self.assertJsonError(r, 403, code="bad_signature")
        # The scanner's signature over another body.
        other = body.replace(b'"t"', b'"u"')
        r = self.report([sk], body=other, signature=sign(body))
        self.assertJsonError(r, 403, code="bad_signature")
        r = self.report([sk], signature="bm90IGEgc2lnbmF0dXJl")
        self.assertJsonError(r, 403, code="bad_signature")
        r = self.report([sk], signature="***")
        self.assertJsonError(r, 403, code="bad_signature")
        self.assertEqual(self.code(sk), "TokenValid")
        self.assertEqual(self.audit(pair["access"], "token.leak_reported"), [])

    def test_unknown_key_or_no_signature_revokes_nothing(self):
        user, pair, _ = self.account()
        sk = self.mint(user, pair["access"], ["stac"])
        r = self.report([sk], key_id="f" * 64)
        self.assertJsonError(r, 403, code="unknown_key")
        r = self.report([sk], key=None)
        self.assertJsonError(r, 403, code="signature_missing")
        r = self.report([sk], key_id=None)
        self.assertJsonError(r, 403, code="signature_missing")
        self.assertEqual(self.code(sk), "TokenValid")

    def test_unknown_and_malformed_tokens_are_false_positives(self):
        user, pair, _ = self.account()
        sk = self.mint(user, pair["access"], ["stac"])
        payload = payload_of(sk)
        # Well-formed, but no such id; our id with another (valid) secret.
        unknown = with_payload(sk, dict(payload, a="q" * 25))
        other = self.mint(user, pair["access"], ["stac"])
        wrong_secret = "%s.%s" % (sk.rsplit(".", 1)[0], other.rsplit(".", 1)[1])
        fake_tk = "tk." + sk.split(".")[1] + "." + "A" * 43
        r = self.report([unknown, wrong_secret, "sk.garbage.x", "hello", fake_tk])
        self.assertEqual(r.status_code, 200, r.text)
        got = [(x["status"], x["label"], x["revoked"]) for x in r.json()]
        self.assertEqual(got, [("unknown", "false_positive", False),
                               ("unknown", "false_positive", False),
                               ("malformed", "false_positive", False),
                               ("malformed", "false_positive", False),
                               ("unknown", "false_positive", False)])  # not our MAC
        self.assertEqual(self.code(sk), "TokenValid")
        self.assertEqual(self.code(other), "TokenValid")

    def test_other_instance_marker_is_not_ours(self):
        user, pair, _ = self.account()
        sk = self.mint(user, pair["access"], ["stac"])
        payload = payload_of(sk)
        foreign = with_payload(sk, dict(payload, i="another01"))
        r = self.report([foreign])
        self.assertEqual(r.json(), [{"token_hash": sha256(foreign), "token_type": "tessera_token",
                                     "label": "false_positive", "status": "other_instance",
                                     "revoked": False}])
        self.assertEqual(self.code(sk), "TokenValid")

    def test_default_pk_is_kept_but_reported(self):
        _, pair, default = self.account()
        r = self.report([default])
        self.assertEqual(r.json()[0]["status"], "default_token_kept")
        self.assertEqual(r.json()[0]["label"], "true_positive")
        self.assertIs(r.json()[0]["revoked"], False)
        self.assertEqual(self.code(default), "TokenValid")
        leaks = self.audit(pair["access"], "token.leak_reported")
        self.assertEqual(len(leaks), 1)
        self.assertTrue(leaks[0]["detail"].startswith("default_token_kept; "), leaks[0])

    def test_tokens_made_before_markers_are_revoked(self):
        user, pair, _ = self.account()
        sk = self.mint(user, pair["access"], ["stac"])
        payload = payload_of(sk)
        old = with_payload(sk, {"u": payload["u"], "a": payload["a"]})
        r = self.report([old])
        self.assertEqual(r.json()[0]["status"], "revoked")
        self.assertEqual(self.code(sk), "TokenRevoked")

    def test_mixed_report(self):
        user, pair, default = self.account()
        live = self.mint(user, pair["access"], ["stac", "tokens:write"])
        dead = self.mint(user, pair["access"], ["stac"])
        dead_id = payload_of(dead)["a"]
        r = self.server.request("DELETE", "/tokens/v2/%s/%s" % (user, dead_id),
                                token=pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        tk = self.mint(user, live, ["stac"], expires=600)
        # Two seconds: mint() writes whole seconds, so one could already be past.
        expired_tk = self.mint(user, pair["access"], ["stac"], expires=2)
        time.sleep(2.5)
        entries = [{"token": live, "type": "tessera_sk", "url": URL, "source": "commit"},
                   {"token": "sk.eyJ1Ijoibm9ib2R5In0.nothing", "type": "tessera_sk"},
                   {"token": default, "type": "tessera_pk", "url": None},
                   {"token": dead, "type": "tessera_pk", "source": "content"},
                   {"token": tk, "type": "tessera_tk", "url": URL, "source": "issue"},
                   {"token": expired_tk, "type": "tessera_tk"}]
        r = self.report(entries)
        self.assertEqual(r.status_code, 200, r.text)
        got = [(x["token_hash"], x["token_type"], x["status"], x["label"], x["revoked"])
               for x in r.json()]
        self.assertEqual(got, [
            (sha256(live), "tessera_sk", "revoked", "true_positive", True),
            (sha256(entries[1]["token"]), "tessera_sk", "malformed", "false_positive", False),
            (sha256(default), "tessera_pk", "default_token_kept", "true_positive", False),
            (sha256(dead), "tessera_pk", "already_revoked", "true_positive", False),
            # Its parent's revocation above ended this tk already.
            (sha256(tk), "tessera_tk", "already_revoked", "true_positive", False),
            (sha256(expired_tk), "tessera_tk", "expired", "true_positive", False)])
        self.assertEqual(self.code(live), "TokenRevoked")
        self.assertEqual(self.code(tk), "TokenRevoked")
        self.assertEqual(self.code(default), "TokenValid")

    def test_live_temporary_token_is_revoked_alone(self):
        user, pair, _ = self.account()
        parent = self.mint(user, pair["access"], ["stac", "tokens:write"])
        tk = self.mint(user, parent, ["stac"], expires=600)
        sibling = self.mint(user, parent, ["stac"], expires=900)  # other claims, another tk
        self.assertNotEqual(sibling, tk)
        r = self.report([{"token": tk, "type": "tessera_tk", "url": URL, "source": "content"}])
        self.assertEqual(r.json()[0]["status"], "revoked")
        self.assertEqual(r.json()[0]["label"], "true_positive")
        self.assertIs(r.json()[0]["revoked"], True)
        self.assertEqual(self.code(tk), "TokenRevoked")
        # Only that tk: its parent and its parent's other tks live on.
        self.assertEqual(self.code(parent), "TokenValid")
        self.assertEqual(self.code(sibling), "TokenValid")
        r = self.report([{"token": tk, "type": "tessera_tk", "url": URL, "source": "content"}])
        self.assertEqual(r.json()[0]["status"], "already_revoked")
        # Recorded on its parent, so that the owner sees where it leaked.
        parent_id = payload_of(parent)["a"]
        leaks = self.audit(pair["access"], "token.leak_reported")
        self.assertEqual([e["token_id"] for e in leaks], [parent_id, parent_id])
        self.assertTrue(leaks[-1]["detail"].startswith("revoked; found in content"))

    def test_report_shape_and_bounds(self):
        def signed(body):
            return self.report(None, body=body)
        r = signed(b'{"token": "x"}')
        self.assertEqual(r.status_code, 422, r.text)
        r = signed(b"[]")
        self.assertEqual(r.status_code, 422, r.text)
        r = signed(json.dumps([{"token": "x"}] * 101).encode())
        self.assertEqual(r.status_code, 422, r.text)
        self.assertIn("1 to 100", r.text)
        r = signed(b'[{"type": "x"}]')
        self.assertEqual(r.status_code, 422, r.text)
        r = signed(b'[{"token": "x", "url": 7}]')
        self.assertEqual(r.status_code, 422, r.text)
        r = signed(b"[{")
        self.assertJsonError(r, 400, code="parse_error")
        r = signed(b"")
        self.assertJsonError(r, 400, code="parse_error")
        # 100 entries are fine.
        r = signed(json.dumps([{"token": "x"}] * 100).encode())
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(len(r.json()), 100)
        # The body limit holds before any signature work.
        r = signed(b"[" + b" " * (70 * 1024) + b"]")
        self.assertEqual(r.status_code, 413, r.text)


class ReportLeakOffTest(unittest.TestCase):
    def test_not_configured(self):
        srv = Server()
        try:
            srv.start()
            r = srv.request("POST", "/api/v1/token/report-leak", data=b"[]",
                            headers={"Content-Type": "application/json"})
            self.assertEqual(r.status_code, 404, r.text)
            self.assertEqual(r.json()["code"], "not_configured")
        finally:
            srv.close()

    def test_keys_are_read_for_every_report(self):
        # Replacing the file rotates the keys without a restart; a file that
        # no longer loads is a 503 (logged), never an unchecked report.
        srv = Server()
        try:
            keys = os.path.join(srv.tmp.name, "keys.json")
            shutil.copy(KEYS, keys)
            srv.settings["leak-report-keys"] = keys
            srv.start()
            body = b'[{"token": "sk.x.y", "type": "t"}]'
            headers = {"Content-Type": "application/json", "Github-Public-Key-Identifier": KEY_ID,
                       "Github-Public-Key-Signature": sign(body)}
            post = lambda: srv.request("POST", "/api/v1/token/report-leak", data=body,
                                       headers=headers)
            self.assertEqual(post().status_code, 200)
            with open(keys, "w") as f:
                f.write("{}")
            r = post()
            self.assertEqual(r.status_code, 503, r.text)
            self.assertEqual(r.json()["code"], "keys_unavailable")
            self.assertIn("Retry-After", r.headers)
            os.unlink(keys)
            self.assertEqual(post().status_code, 503)
            shutil.copy(KEYS, keys)
            self.assertEqual(post().status_code, 200)
            self.assertIn("leak report: leak_report_keys: %s: expected" % keys, srv.read_log())
        finally:
            srv.close()

    def test_bad_keys_file_stops_the_start(self):
        srv = Server(settings={"leak-report-keys": os.path.join(FIXTURES, "scanner_pub.pem")})
        try:
            with self.assertRaises(AssertionError) as ctx:
                srv.start()
            self.assertIn("leak_report_keys:", str(ctx.exception))
            self.assertIn("not JSON", str(ctx.exception))
        finally:
            srv.close()


class RevokeSelfTest(LeakBase):
    def delete_self(self, token=None, **kw):
        return self.server.request("DELETE", "/api/v1/token/self", token=token, **kw)

    def test_sk_and_pk_revoke_themselves(self):
        user, pair, _ = self.account()
        sk = self.server.create_stac_token(pair["access"])["token_value"]
        pk = self.mint(user, pair["access"], ["styles:read"])
        r = self.delete_self(sk)
        self.assertEqual(r.status_code, 204, r.text)
        self.assertEqual(r.content, b"")
        self.assertEqual(self.code(sk), "TokenRevoked")
        self.assertEqual(self.server.get("/api/v1/stac/collections", token=sk).status_code, 401)
        # Once revoked, it proves nothing any more.
        self.assertJsonError(self.delete_self(sk), 401, code="token_not_valid")
        # The credential may come as the access_token parameter too.
        self.server.keep_credential(pk)
        r = self.server.request("DELETE", "/api/v1/token/self", params={"access_token": pk})
        self.assertEqual(r.status_code, 204, r.text)
        self.assertEqual(self.code(pk), "TokenRevoked")
        sk_id = payload_of(sk)["a"]
        revokes = [e for e in self.audit(pair["access"], "token.revoke") if e["token_id"] == sk_id]
        self.assertEqual([e["actor"] for e in revokes], ["token:" + sk_id])

    def test_default_pk_is_kept(self):
        _, _, default = self.account()
        self.assertJsonError(self.delete_self(default), 400, code="default_token")
        self.assertEqual(self.code(default), "TokenValid")

    def test_temporary_token_revokes_itself_session_token_is_refused(self):
        user, pair, _ = self.account()
        tk = self.mint(user, pair["access"], ["stac"], expires=600)
        other = self.mint(user, pair["access"], ["stac"], expires=900)
        self.assertNotEqual(other, tk)
        self.assertEqual(self.delete_self(tk).status_code, 204)
        self.assertEqual(self.code(tk), "TokenRevoked")
        self.assertEqual(self.code(other), "TokenValid")
        self.assertEqual(self.delete_self(tk).status_code, 401)  # it is gone
        body = self.assertJsonError(self.delete_self(pair["access"]), 400,
                                    code="unsupported_token_type")
        self.assertIn("token/blacklist", body["detail"])
        r = self.server.get("/api/v1/account/me", token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)

    def test_no_or_bad_credential(self):
        self.assertJsonError(self.delete_self(), 401, code="not_authenticated")
        self.assertJsonError(self.delete_self("sk.bogus.x"), 401, code="token_not_valid")

    def test_allowed_urls_still_apply(self):
        user, pair, _ = self.account()
        r = self.server.post("/tokens/v2/" + user,
                             {"scopes": ["styles:read"], "allowedUrls": ["https://maps.example"]},
                             token=pair["access"])
        pk = r.json()["token"]
        r = self.delete_self(pk, headers={"Origin": "https://evil.example"})
        self.assertJsonError(r, 403, code="url_not_allowed")
        self.assertEqual(self.code(pk), "TokenValid")
        r = self.delete_self(pk, headers={"Origin": "https://maps.example"})
        self.assertEqual(r.status_code, 204, r.text)


if __name__ == "__main__":
    unittest.main()
