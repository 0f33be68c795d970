"""The Mapbox Tokens API dialect (SPEC §4.2, issue 3) over real HTTP: every
endpoint, rule and error (create, update, delete, list, scopes), pagination
while tokens come and go, allowedUrls, rate limits, and one server over HTTPS
with a self-signed certificate. Token validity (every kind in every state,
temporary tokens) is tested by test_mapbox_validity.py."""
import os
import random
import re
import subprocess
import tempfile
import threading
import time
import unittest

import requests

from harness import BIN, Server, unique_email, within_one_window
from mapboxcase import (PUBLIC, ALL_GRANTED, TOKEN_FIELDS, RFC3339_MS, INVALID_401, payload_of,
                        naive_utc_in, MapboxCase)
from tlsutil import make_self_signed


class TokensEndpointsTest(MapboxCase):
    # ---- listing and the default token ---------------------------------
    def test_new_account_lists_its_default_public_token(self):
        _, access, user = self.account()
        r = self.call("GET", "/tokens/v2/" + user, access)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        self.assertIsNone(r.headers.get("Link"))
        tokens = r.json()
        self.assertEqual(len(tokens), 1)
        t = tokens[0]
        self.assertEqual(set(t), TOKEN_FIELDS | {"token"})  # no allowedUrls when empty
        self.assertEqual(t["usage"], "pk")
        self.assertEqual(t["client"], "api")
        self.assertIs(t["default"], True)
        self.assertEqual(sorted(t["scopes"]), PUBLIC)
        self.assertTrue(t["token"].startswith("pk."))
        self.assertRegex(t["created"], RFC3339_MS)
        self.assertRegex(t["modified"], RFC3339_MS)
        self.assertIsNone(t["last_used"])
        self.assertRegex(t["id"], r"^[a-z0-9]{25}$")
        self.assertEqual(payload_of(t["token"])["u"], user)
        # The default pk works as a credential.
        self.assertEqual(self.check(t["token"])["code"], "TokenValid")

    def test_create_permanent_pk_and_sk(self):
        _, access, user = self.account()
        pk = self.create(user, access, ["styles:read", "fonts:read"], note="maps")
        self.assertEqual(pk["usage"], "pk")
        self.assertTrue(pk["token"].startswith("pk."))
        self.assertEqual(pk["scopes"], ["styles:read", "fonts:read"])
        self.assertEqual(pk["note"], "maps")
        self.assertIs(pk["default"], False)
        self.assertEqual(pk["client"], "api")
        # The Mapbox fields, then this deployment's marker (test_instance.py).
        payload = payload_of(pk["token"])
        self.assertEqual(list(payload), ["u", "a", "i"])
        self.assertEqual((payload["u"], payload["a"]), (user, pk["id"]))
        self.assertRegex(payload["i"], r"^[a-z0-9]{12}$")
        sk = self.create(user, access, ["styles:read", "tokens:read"])
        self.assertEqual(sk["usage"], "sk")
        self.assertTrue(sk["token"].startswith("sk."))
        self.assertEqual(sk["note"], "")
        listed = {t["id"]: t for t in
                  self.call("GET", "/tokens/v2/" + user, access).json()}
        # pk may be listed again, an sk secret is shown only once.
        self.assertEqual(listed[pk["id"]]["token"], pk["token"])
        self.assertNotIn("token", listed[sk["id"]])
        self.assertEqual(listed[sk["id"]]["usage"], "sk")
        # Both work as credentials.
        self.assertEqual(self.check(sk["token"])["token"],
                         {"usage": "sk", "user": user, "authorization": sk["id"]})
        self.assertEqual(self.check(pk["token"])["token"],
                         {"usage": "pk", "user": user, "authorization": pk["id"]})

    def test_create_rules(self):
        _, access, user = self.account()
        path = "/tokens/v2/" + user
        post = lambda body, tok=access: self.call("POST", path, tok, json=body)
        self.assert422(post({"scopes": ["no:such-scope"]}), "scopes are invalid")
        self.assert422(post({"scopes": []}), "scopes are invalid")
        self.assert422(post({"scopes": "styles:read"}), "scopes are invalid")
        self.assert422(post({"scopes": [1]}), "scopes are invalid")
        self.assert422(post({"note": "no scopes"}), "scopes are invalid")
        self.assert422(post({"scopes": ["tokens:introspect"]}), "scopes are invalid")  # not granted
        # A token never mints beyond its own scopes (SPEC §5.2).
        sk = self.create(user, access, ["tokens:write", "styles:read"])["token"]
        self.assert422(post({"scopes": ["styles:read", "fonts:read"]}, sk), "scopes are invalid")
        self.assert422(post({"scopes": ["tokens:read"]}, sk), "scopes are invalid")
        self.assertEqual(post({"scopes": ["styles:read"]}, sk).status_code, 200)
        # Note and allowedUrls limits.
        self.assert422(post({"scopes": ["styles:read"], "note": "x" * 257}),
                       "note must be at most 256 bytes of UTF-8")
        self.assertEqual(post({"scopes": ["styles:read"], "note": "x" * 256}).status_code, 200)
        self.assert422(post({"scopes": ["styles:read"], "note": "\u00e9" * 129}),
                       "note must be at most 256 bytes of UTF-8")
        r = post({"scopes": ["styles:read"], "note": "\u00e9" * 128})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["note"], "\u00e9" * 128)
        self.assert422(post({"scopes": ["styles:read"], "note": 5}), "note must be a string")
        urls = ["https://a%d.example.com" % i for i in range(101)]
        self.assert422(post({"scopes": ["styles:read"], "allowedUrls": urls}),
                       "allowedUrls may have at most 100 entries")
        r = post({"scopes": ["styles:read"], "allowedUrls": urls[:100]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["allowedUrls"], urls[:100])
        self.assert422(post({"scopes": ["styles:read"], "allowedUrls": "https://a.example"}),
                       "allowedUrls must be an array of URLs")
        self.assert422(post({"scopes": ["styles:read"], "allowedUrls": ["bad url"]}),
                       "allowedUrls are invalid")
        self.assert422(post({"scopes": ["styles:read"], "allowedUrls": [""]}),
                       "allowedUrls are invalid")
        # Malformed bodies are 4xx in the Mapbox dialect, never a crash.
        for raw, status in ((b"{", 400), (b"", 400), (b"[1]", 422), (b"\xff\xfe", 400),
                            (b'{"scopes": ["styles:read"]} x', 400)):
            r = self.call("POST", path, access, data=raw,
                          headers={"Content-Type": "application/json"})
            self.assertEqual(r.status_code, status, (raw, r.text))
            self.assertIn("message", r.json())
        r = self.call("POST", path, access, data=b'{"scopes":["styles:read"],"note":"' +
                      b"x" * 70000 + b'"}', headers={"Content-Type": "application/json"})
        self.assertEqual(r.status_code, 413)

    # ---- update ---------------------------------------------------------
    def test_update_note_scopes_allowed_urls(self):
        _, access, user = self.account()
        pk = self.create(user, access, ["styles:read"], note="before")
        time.sleep(0.01)
        r = self.call("PATCH", "/tokens/v2/%s/%s" % (user, pk["id"]), access,
                      json={"note": "after", "scopes": ["styles:read", "datasets:read"],
                            "allowedUrls": ["https://maps.example.com"]})
        self.assertEqual(r.status_code, 200, r.text)
        t = r.json()
        self.assertEqual(t["note"], "after")
        self.assertEqual(t["scopes"], ["styles:read", "datasets:read"])
        self.assertEqual(t["allowedUrls"], ["https://maps.example.com"])
        self.assertEqual(t["usage"], "pk")
        self.assertEqual(t["token"], pk["token"])  # same token string, still valid
        self.assertEqual(t["created"], pk["created"])
        self.assertGreater(t["modified"], pk["modified"])
        # Partial updates keep the rest; [] clears the URL restriction.
        r = self.call("PATCH", "/tokens/v2/%s/%s" % (user, pk["id"]), access,
                      json={"allowedUrls": []})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertNotIn("allowedUrls", r.json())
        self.assertEqual(r.json()["note"], "after")
        self.assertEqual(r.json()["scopes"], ["styles:read", "datasets:read"])
        # null leaves a field as it is.
        r = self.call("PATCH", "/tokens/v2/%s/%s" % (user, pk["id"]), access,
                      json={"note": None, "scopes": None, "allowedUrls": None})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["note"], "after")
        self.assertEqual(r.json()["scopes"], ["styles:read", "datasets:read"])
        # The listing shows the update.
        listed = {x["id"]: x for x in self.call("GET", "/tokens/v2/" + user, access).json()}
        self.assertEqual(listed[pk["id"]]["note"], "after")

    def test_pk_never_gains_a_secret_scope(self):
        _, access, user = self.account()
        pk = self.create(user, access, ["styles:read"])
        path = "/tokens/v2/%s/%s" % (user, pk["id"])
        for scopes in (["styles:read", "tokens:read"], ["stac"]):
            self.assert422(self.call("PATCH", path, access, json={"scopes": scopes}),
                           "scopes are invalid")
        self.assertEqual(self.check(pk["token"])["code"], "TokenValid")
        listed = {x["id"]: x for x in self.call("GET", "/tokens/v2/" + user, access).json()}
        self.assertEqual(listed[pk["id"]]["scopes"], ["styles:read"])
        self.assertEqual(listed[pk["id"]]["usage"], "pk")
        # An sk may drop to public scopes and stays an sk.
        sk = self.create(user, access, ["tokens:read"])
        r = self.call("PATCH", "/tokens/v2/%s/%s" % (user, sk["id"]), access,
                      json={"scopes": ["styles:read"]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["usage"], "sk")
        self.assertNotIn("token", r.json())

    def test_update_cannot_widen_beyond_the_authorizer(self):
        _, access, user = self.account()
        writer = self.create(user, access, ["tokens:write", "styles:read"])["token"]
        target = self.create(user, access, ["styles:read"])
        path = "/tokens/v2/%s/%s" % (user, target["id"])
        self.assert422(self.call("PATCH", path, writer, json={"scopes": ["fonts:read"]}),
                       "scopes are invalid")
        self.assert422(self.call("PATCH", path, writer, json={"scopes": ["no:such"]}),
                       "scopes are invalid")
        self.assert422(self.call("PATCH", path, writer, json={"scopes": []}),
                       "scopes are invalid")
        r = self.call("PATCH", path, writer, json={"note": "ok by writer"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assert422(self.call("PATCH", path, access,
                                 json={"allowedUrls": ["https://x%d.example" % i
                                                       for i in range(101)]}),
                       "allowedUrls may have at most 100 entries")

    def test_update_unknown_foreign_revoked_or_temporary_is_404(self):
        _, access, user = self.account()
        _, other_access, other_user = self.account()
        theirs = self.create(other_user, other_access, ["styles:read"])
        mine = self.create(user, access, ["styles:read"])
        tk = self.temp(user, access, ["styles:read"])["token"]
        self.assertEqual(self.call("DELETE", "/tokens/v2/%s/%s" % (user, mine["id"]),
                                   access).status_code, 204)
        for token_id in (theirs["id"], mine["id"], "a" * 25, "nope", tk, "A" * 25):
            for method, body in (("PATCH", {"note": "x"}), ("DELETE", None)):
                r = self.call(method, "/tokens/v2/%s/%s" % (user, token_id), access, json=body)
                self.assertMessage(r, 404, "Not Found")
        # The other account's token is untouched.
        self.assertEqual(self.check(theirs["token"])["code"], "TokenValid")

    # ---- delete ---------------------------------------------------------
    def test_delete_is_204_empty_and_immediate(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:read"])
        self.assertEqual(self.call("GET", "/tokens/v2/" + user, sk["token"]).status_code, 200)
        r = self.call("DELETE", "/tokens/v2/%s/%s" % (user, sk["id"]), access)
        self.assertEqual(r.status_code, 204)
        self.assertEqual(r.content, b"")
        r = self.call("GET", "/tokens/v2/" + user, sk["token"])
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.json(), INVALID_401)
        self.assertEqual(self.check(sk["token"])["code"], "TokenRevoked")
        self.assertNotIn(sk["id"], self.list_ids(user, access))
        self.assertMessage(self.call("DELETE", "/tokens/v2/%s/%s" % (user, sk["id"]), access),
                           404, "Not Found")
        # A token may delete itself.
        me = self.create(user, access, ["tokens:write"])
        r = self.call("DELETE", "/tokens/v2/%s/%s" % (user, me["id"]), me["token"])
        self.assertEqual(r.status_code, 204)
        self.assertEqual(self.check(me["token"])["code"], "TokenRevoked")

    # ---- username resolution, credentials, scopes ------------------------
    def test_username_must_be_the_callers_account(self):
        _, access, user = self.account()
        _, other_access, other_user = self.account()
        theirs = self.create(other_user, other_access, ["styles:read"])
        sk = self.create(user, access, ALL_GRANTED)["token"]
        for auth in (access, sk):
            for method, path, body in (
                    ("GET", "/tokens/v2/" + other_user, None),
                    ("POST", "/tokens/v2/" + other_user, {"scopes": ["styles:read"]}),
                    ("POST", "/tokens/v2/" + other_user, {"scopes": ["styles:read"],
                                                          "expires": naive_utc_in(60)}),
                    ("PATCH", "/tokens/v2/%s/%s" % (other_user, theirs["id"]), {"note": "x"}),
                    ("DELETE", "/tokens/v2/%s/%s" % (other_user, theirs["id"]), None),
                    ("GET", "/scopes/v1/" + other_user, None),
                    ("GET", "/tokens/v2/nosuchuser", None),
                    ("GET", "/scopes/v1/NOSUCH", None)):
                r = self.call(method, path, auth, json=body)
                self.assertMessage(r, 404, "Not Found")
        self.assertEqual(len(self.list_ids(other_user, other_access)), 2)
        self.assertEqual(self.check(theirs["token"])["code"], "TokenValid")

    def test_credentials_by_query_or_bearer_and_session(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:read", "scopes:list"])["token"]
        for tok in (access, sk):
            r = requests.get(self.server.url("/tokens/v2/" + user), params={"access_token": tok})
            self.assertEqual(r.status_code, 200, r.text)
            r = requests.get(self.server.url("/scopes/v1/" + user), params={"access_token": tok})
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(self.check(None, params={"access_token": tok})["code"], "TokenValid")
        # The session JWT authorizes every endpoint (it holds all the account's scopes).
        t = self.create(user, access, ["styles:read"])
        tk = self.temp(user, access, ["tokens:read"])
        self.assertEqual(self.call("PATCH", "/tokens/v2/%s/%s" % (user, t["id"]), access,
                                   json={"note": "s"}).status_code, 200)
        self.assertEqual(self.call("DELETE", "/tokens/v2/%s/%s" % (user, t["id"]),
                                   access).status_code, 204)
        self.assertEqual(self.check(tk["token"])["code"], "TokenValid")
        self.assertEqual(payload_of(tk["token"])["p"], "")

    def test_missing_credential_and_missing_scope(self):
        _, access, user = self.account()
        for method, path in (("GET", "/tokens/v2/" + user), ("POST", "/tokens/v2/" + user),
                             ("PATCH", "/tokens/v2/%s/%s" % (user, "a" * 25)),
                             ("DELETE", "/tokens/v2/%s/%s" % (user, "a" * 25)),
                             ("GET", "/scopes/v1/" + user), ("GET", "/tokens/v2")):
            r = self.call(method, path, json={} if method in ("POST", "PATCH") else None)
            self.assertMessage(r, 401, "Unauthorized")
            self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Bearer"))
        reader = self.create(user, access, ["tokens:read"])["token"]
        pk = self.create(user, access, ["styles:read"])["token"]
        r = self.call("POST", "/tokens/v2/" + user, reader, json={"scopes": ["styles:read"]})
        self.assertEqual(r.status_code, 403, r.text)
        self.assertIn("tokens:write", r.json()["message"])
        self.assertIn('error="insufficient_scope"', r.headers["WWW-Authenticate"])
        self.assertEqual(self.call("GET", "/tokens/v2/" + user, pk).status_code, 403)
        self.assertEqual(self.call("GET", "/scopes/v1/" + user, reader).status_code, 403)
        self.assertEqual(self.call("DELETE", "/tokens/v2/%s/%s" % (user, "a" * 25),
                                   reader).status_code, 403)
        r = self.call("PUT", "/tokens/v2/" + user, access, json={})
        self.assertEqual(r.status_code, 405)
        self.assertIn("message", r.json())

    def test_scopes_list(self):
        _, access, user = self.account()
        r = self.call("GET", "/scopes/v1/" + user, access)
        self.assertEqual(r.status_code, 200, r.text)
        scopes = r.json()
        self.assertEqual(sorted(s["id"] for s in scopes), sorted(ALL_GRANTED))
        self.assertEqual([s["id"] for s in scopes], sorted(s["id"] for s in scopes))
        for s in scopes:
            self.assertTrue(s["description"])
            if s["id"] in PUBLIC:
                self.assertEqual(set(s), {"id", "description", "public"})
                self.assertIs(s["public"], True)
            else:
                self.assertEqual(set(s), {"id", "description"})  # public omitted when secret
        lister = self.create(user, access, ["scopes:list"])["token"]
        r = self.call("GET", "/scopes/v1/" + user, lister)
        self.assertEqual(r.json(), scopes)

    # ---- lists ------------------------------------------------------------
    def test_list_filters_and_validation(self):
        _, access, user = self.account()
        pks = [self.create(user, access, ["styles:read"])["id"] for _ in range(3)]
        sks = [self.create(user, access, ["tokens:read"])["id"] for _ in range(2)]
        default = self.list_ids(user, access, default="true")
        self.assertEqual(len(default), 1)
        self.assertEqual(sorted(self.list_ids(user, access, default="false")), sorted(pks + sks))
        self.assertEqual(sorted(self.list_ids(user, access, usage="sk")), sorted(sks))
        self.assertEqual(sorted(self.list_ids(user, access, usage="pk")), sorted(pks + default))
        self.assertEqual(self.list_ids(user, access, usage="pk", default="true"), default)
        self.assertEqual(self.list_ids(user, access, usage="sk", default="true"), [])
        everything = self.list_ids(user, access)
        self.assertEqual(everything, default + pks + sks)  # created order
        # sortby=modified: touching a token moves it to the end.
        time.sleep(0.01)
        self.call("PATCH", "/tokens/v2/%s/%s" % (user, pks[0]), access, json={"note": "t"})
        by_mod = self.list_ids(user, access, sortby="modified")
        self.assertEqual(by_mod[-1], pks[0])
        self.assertEqual(self.list_ids(user, access, sortby="created"), everything)
        self.assertEqual(self.list_ids(user, access, limit="2"), everything[:2])
        self.assertEqual(self.list_ids(user, access, start=everything[1]), everything[2:])
        self.assertEqual(self.list_ids(user, access, start=everything[-1]), [])
        path = "/tokens/v2/" + user
        bad = [({"usage": "tk"}, "usage must be pk or sk"),
               ({"usage": ""}, "usage must be pk or sk"),
               ({"limit": "0"}, "limit must be between 1 and 100"),
               ({"limit": "101"}, "limit must be between 1 and 100"),
               ({"limit": "ten"}, "limit must be between 1 and 100"),
               ({"limit": "-1"}, "limit must be between 1 and 100"),
               ({"limit": "99999999999999999999"}, "limit must be between 1 and 100"),
               ({"sortby": "name"}, "sortby must be created or modified"),
               ({"default": "yes"}, "default must be true or false"),
               ({"start": "nope"}, "start is invalid"),
               ({"start": "z" * 25}, "start is invalid")]
        for params, msg in bad:
            self.assert422(self.call("GET", path, access, params=params), msg)
        self.assertEqual(len(self.list_ids(user, access, limit="100")), 6)
        # Another account's token id is not a valid start here.
        _, other_access, other_user = self.account()
        theirs = self.list_ids(other_user, other_access)[0]
        self.assert422(self.call("GET", path, access, params={"start": theirs}),
                       "start is invalid")

    def walk(self, user, auth, limit, between=None, **params):
        """Follows Link rel=next to the end; returns the ids in order."""
        seen, pages = [], 0
        url = self.server.url("/tokens/v2/" + user)
        params = dict(params, limit=limit)
        while url:
            r = requests.get(url, params=params, headers={"Authorization": "Bearer " + auth},
                             timeout=30)
            self.assertEqual(r.status_code, 200, r.text)
            page = [t["id"] for t in r.json()]
            self.assertLessEqual(len(page), limit)
            seen += page
            pages += 1
            link = r.headers.get("Link")
            url, params = None, None
            if link:
                m = re.match(r'^<([^>]+)>; rel="next"$', link)
                self.assertTrue(m, link)
                url = m.group(1)
                self.assertNotIn("access_token", url)  # links never carry the credential
                self.assertTrue(url.startswith(self.server.url("/tokens/v2/" + user + "?")), url)
                self.assertEqual(len(page), limit)
                if between:
                    between(pages, page)
            self.assertLess(pages, 500)
        return seen

    def test_pagination_follows_links_to_the_end(self):
        _, access, user = self.account()
        for i in range(22):
            self.create(user, access, ["styles:read"] if i % 2 else ["tokens:read"])
        everything = self.list_ids(user, access)
        self.assertEqual(len(everything), 23)
        for limit in (1, 4, 5, 23, 100):
            self.assertEqual(self.walk(user, access, limit), everything, limit)
        # Filters ride along in the next link.
        self.assertEqual(self.walk(user, access, 3, usage="sk"),
                         self.list_ids(user, access, usage="sk"))
        self.assertEqual(self.walk(user, access, 2, default="false", usage="pk"),
                         self.list_ids(user, access, default="false", usage="pk"))
        self.assertEqual(self.walk(user, access, 4, sortby="modified"),
                         self.list_ids(user, access, sortby="modified"))
        # An exact multiple of the page size ends without an empty page.
        r = self.call("GET", "/tokens/v2/" + user, access, params={"limit": 23})
        self.assertIsNone(r.headers.get("Link"))

    def test_pagination_while_tokens_are_created_and_deleted(self):
        _, access, user = self.account()
        for _ in range(30):
            self.create(user, access, ["styles:read"])
        before = self.list_ids(user, access)
        r = self.call("GET", "/tokens/v2/" + user, access, params={"limit": 100})
        default = next(t["id"] for t in r.json() if t.get("default"))
        deleted, created = {default}, []  # the default pk cannot be deleted: never a victim
        rnd = random.Random(3)

        def between(page_no, page):
            # Delete the page's last token (the cursor of the next link), one
            # already seen, one not yet seen; create two.
            unseen = [t for t in before if t not in seen_so_far and t not in deleted
                      and t not in page]
            victims = [page[-1], page[0]]
            if unseen:
                victims.append(rnd.choice(unseen))
                deleted_unseen.add(victims[-1])
            for v in victims:
                if v not in deleted:
                    r = self.call("DELETE", "/tokens/v2/%s/%s" % (user, v), access)
                    self.assertEqual(r.status_code, 204)
                    deleted.add(v)
            for _ in range(2):
                created.append(self.create(user, access, ["styles:read"])["id"])
            seen_so_far.update(page)

        seen_so_far, deleted_unseen = set(), set()
        seen = self.walk(user, access, 4, between=between)
        self.assertEqual(len(seen), len(set(seen)), "duplicates")
        self.assertTrue(deleted_unseen)
        # Every token that lived through the whole walk is there, in order.
        survivors = [t for t in before if t not in deleted or t == default]
        self.assertEqual([t for t in seen if t in set(survivors)], survivors)
        # Tokens created during the walk sort after it and are all reached.
        kept = [t for t in created if t not in deleted]
        self.assertTrue(kept)
        self.assertEqual([t for t in seen if t in set(kept)], kept)
        # Nothing deleted before its page was served shows up.
        self.assertFalse(set(seen) & deleted_unseen)
        self.assertTrue(set(seen) <= set(before) | set(created))

    def test_deleted_cursor_beyond_the_first_hundred(self):
        """Resuming after a deleted `start` token walks the listing in steps of
        100 from the top; the step that crosses the deleted token must neither
        repeat nor skip anything, also when that step is a full one."""
        _, access, user = self.account()
        for _ in range(259):
            self.create(user, access, ["styles:read"])
        everything = []
        while True:
            page = self.list_ids(user, access, limit=100,
                                 **({"start": everything[-1]} if everything else {}))
            everything += page
            if len(page) < 100:
                break
        self.assertEqual(len(everything), 260)
        for limit, first in ((100, 50), (30, 95), (7, 190), (100, 120)):
            page = self.list_ids(user, access, start=everything[first - 1], limit=limit)
            self.assertEqual(page, everything[first:first + limit])
            # The page's last token is deleted before the client follows the link.
            victim = page[-1]
            self.assertEqual(self.call("DELETE", "/tokens/v2/%s/%s" % (user, victim),
                                       access).status_code, 204)
            after = everything[everything.index(victim) + 1:]
            everything.remove(victim)
            self.assertEqual(self.walk(user, access, limit, start=victim), after)

    def test_pagination_under_concurrent_writers(self):
        _, access, user = self.account()
        for _ in range(20):
            self.create(user, access, ["styles:read"])
        stable = self.list_ids(user, access)
        stop = threading.Event()
        errors = []

        def churn():
            mine = []
            while not stop.is_set():
                try:
                    mine.append(self.create(user, access, ["styles:read"])["id"])
                    if len(mine) > 3:
                        victim = mine.pop(0)
                        r = self.call("DELETE", "/tokens/v2/%s/%s" % (user, victim), access)
                        if r.status_code != 204:
                            errors.append(r.text)
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))
                    return

        threads = [threading.Thread(target=churn) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for _ in range(5):
                seen = self.walk(user, access, 3)
                self.assertEqual(len(seen), len(set(seen)), "duplicates")
                self.assertEqual([t for t in seen if t in set(stable)], stable)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])

    # ---- allowedUrls --------------------------------------------------------
    def test_allowed_urls_are_enforced(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:read", "scopes:list"],
                         allowedUrls=["https://maps.example.com", "http://localhost:3000/app"])
        self.assertEqual(sk["allowedUrls"], ["https://maps.example.com",
                                             "http://localhost:3000/app"])
        tok = sk["token"]
        path = "/tokens/v2/" + user
        ok = [{}, {"Origin": "https://maps.example.com"},
              {"Referer": "https://maps.example.com/page?x=1"},
              {"Origin": "http://localhost:3000", "Referer": "http://localhost:3000/app/x"}]
        bad = [{"Origin": "https://evil.example"}, {"Referer": "https://evil.example/maps"},
               {"Origin": "https://maps.example.com.evil.example"},
               {"Referer": "https://evil.example/?https://maps.example.com"},
               {"Origin": "http://localhost:3000"}]
        for headers in ok:
            r = self.call("GET", path, tok, headers=headers)
            self.assertEqual(r.status_code, 200, (headers, r.text))
        for headers in bad:
            for p in (path, "/scopes/v1/" + user):
                r = self.call("GET", p, tok, headers=headers)
                self.assertMessage(r, 403, "This token is not allowed from this URL")
        # A restricted pk from another site is refused on resource endpoints.
        pk = self.create(user, access, ["styles:read"], allowedUrls=["https://maps.example.com"])
        r = self.call("GET", "/api/v1/stac/collections", pk["token"],
                      headers={"Origin": "https://evil.example"})
        self.assertEqual(r.status_code, 403, r.text)
        self.assertIn("not allowed from this URL", r.text)
        # Lifting the restriction takes effect at once.
        r = self.call("PATCH", "/tokens/v2/%s/%s" % (user, sk["id"]), access,
                      json={"allowedUrls": []})
        self.assertEqual(r.status_code, 200, r.text)
        r = self.call("GET", path, tok, headers={"Origin": "https://evil.example"})
        self.assertEqual(r.status_code, 200)
        # And adding one too.
        r = self.call("PATCH", "/tokens/v2/%s/%s" % (user, sk["id"]), access,
                      json={"allowedUrls": ["https://other.example"]})
        r = self.call("GET", path, tok, headers={"Origin": "https://evil.example"})
        self.assertEqual(r.status_code, 403)

    # ---- hygiene ------------------------------------------------------------
    def test_no_secret_in_the_log(self):
        _, access, user = self.account()
        sk = self.create(user, access, ["tokens:read", "tokens:write"])["token"]
        tk = self.temp(user, sk, ["tokens:read"])["token"]
        self.list_ids(user, sk)
        self.check(tk)
        requests.get(self.server.url("/tokens/v2"), params={"access_token": sk})
        log = self.server.read_log()
        for secret in (sk.split(".")[2], tk.split(".")[2], access.split(".")[2]):
            self.assertNotIn(secret, log)


class TokenApiRateLimitTest(MapboxCase):
    settings = {"token-api-rate": "5"}

    def test_token_api_calls_are_limited_per_account(self):
        _, access, user = self.account()
        _, other_access, other_user = self.account()
        within_one_window(60)  # the default rate_window: the burst must not straddle a reset
        statuses = [self.call("GET", "/tokens/v2/" + user, access).status_code for _ in range(5)]
        self.assertEqual(statuses, [200] * 5)
        for method, path in (("GET", "/tokens/v2/" + user),
                             ("POST", "/tokens/v2/" + user),
                             ("GET", "/scopes/v1/" + user)):
            r = self.call(method, path, access, json={"scopes": ["styles:read"]})
            self.assertMessage(r, 429, "Too Many Requests")
            self.assertGreater(int(r.headers["Retry-After"]), 0)
        # Another account has its own budget; the validity check is not throttled.
        self.assertEqual(self.call("GET", "/tokens/v2/" + other_user, other_access).status_code,
                         200)
        for _ in range(10):
            self.assertEqual(self.check(access)["code"], "TokenValid")


class MapboxHttpsTest(unittest.TestCase):
    """`tessera serve --tls-cert F --tls-key F` serves the whole API over HTTPS."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="tessera-tls-")
        cls.cert, cls.key = make_self_signed(cls.tmp.name)
        cls.server = Server(tls=(cls.cert, cls.key))
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.tmp.cleanup()

    def req(self, method, path, token=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return requests.request(method, self.server.url(path), headers=headers,
                                verify=self.cert, timeout=30, **kw)

    def test_tokens_api_over_https(self):
        self.assertTrue(self.server.url("/").startswith("https://"))
        email = unique_email("tls")
        r = self.req("POST", "/api/v1/account/register",
                     json={"email": email, "password": "correct horse battery"})
        self.assertEqual(r.status_code, 201, r.text)
        r = self.req("POST", "/api/v1/token/pair",
                     json={"email": email, "password": "correct horse battery"})
        access = r.json()["access"]
        user = self.req("GET", "/api/v1/account/me", access).json()["username"]
        for _ in range(3):
            r = self.req("POST", "/tokens/v2/" + user, access, json={"scopes": ["styles:read"]})
            self.assertEqual(r.status_code, 200, r.text)
        sk = self.req("POST", "/tokens/v2/" + user, access,
                      json={"scopes": ["tokens:read"]}).json()["token"]
        self.assertEqual(self.req("GET", "/tokens/v2", sk).json()["code"], "TokenValid")
        r = self.req("GET", "/tokens/v2/" + user, sk, params={"limit": 2})
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.headers["Link"].startswith("<https://127.0.0.1:%d/tokens/v2/%s?"
                                                     % (self.server.port, user)), r.headers)
        # The certificate is checked (this one is trusted only through verify=).
        with self.assertRaises(requests.exceptions.SSLError):
            requests.get(self.server.url("/tokens/v2"), timeout=30)
        # Plain HTTP to the TLS port gets no HTTP answer.
        with self.assertRaises(requests.exceptions.RequestException):
            r = requests.get("http://127.0.0.1:%d/healthz" % self.server.port, timeout=10)
            if r.status_code == 200:
                raise AssertionError("plain HTTP served on the TLS port")
            raise requests.exceptions.ConnectionError("refused as expected")

    def serve_exit_code(self, cert, key):
        """Runs `tessera serve` with these TLS files; returns its exit code."""
        data = os.path.join(self.tmp.name, "data-%d" % random.randrange(1 << 30))
        cmd = [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
               "--tls-cert", cert, "--tls-key", key]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()  # our own child, by its pid
            proc.communicate()
            self.fail("tessera serve kept running with bad TLS files")
        return proc.returncode, err.decode(errors="replace")

    def test_bad_tls_files_refuse_to_start(self):
        code, err = self.serve_exit_code(os.path.join(self.tmp.name, "missing.pem"), self.key)
        self.assertNotEqual(code, 0)
        self.assertIn("TLS", err)
        other_dir = os.path.join(self.tmp.name, "other")
        os.makedirs(other_dir, exist_ok=True)
        _, other_key = make_self_signed(other_dir)
        code, err = self.serve_exit_code(self.cert, other_key)  # key of another certificate
        self.assertNotEqual(code, 0)
        with open(self.key) as f:
            key_text = f.read()
        self.assertNotIn(key_text.splitlines()[1], err)  # the key is never logged

if __name__ == "__main__":
    unittest.main()
