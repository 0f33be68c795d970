"""Resource-bound tokens (issue 15) over real HTTP against the sample catalog:
a token bound to collections or asset prefixes sees exactly that, on every
route that reaches a resource (STAC, the platform's catalog endpoints and
downloads, assets, forward-auth), for three kinds of caller; and the
narrowing rules of minting and updating bound tokens in both dialects.
Expectations are computed from the sample's files (sample.py)."""
import csv
import io
import os
import sys
import time
import unittest

import harness
import sample
from harness import Server, import_sample

STAC = "/api/v1/stac"
CATALOG = "/api/v1/catalog/"
CHECK = "/api/v1/auth/check"
SCOPES = ["stac", "catalog:read", "tokens:read", "tokens:write"]
L4A = "l4a-ch4-mfa-v3a"
L2B = "l2b-ch4-mfa-v3a"
PREFIX = L2B + "/2023/"
RULES = "/=stac /data=catalog:read /open=-"


def has_asset_under(item, prefix):
    return any(a["href"].startswith(prefix) for a in item["assets"].values())


def expected(partner, bounds):
    """(collection, id) of the items a caller sees within bounds."""
    out = set()
    for i in sample.visible(partner):
        for b in bounds:
            kind, _, value = b.partition(":")
            if (kind == "collection" and i["collection"] == value) or \
                    (kind == "asset" and has_asset_under(i, value)):
                out.add((i["collection"], i["id"]))
    return out


def published_plumes(items):
    return {iid for (c, iid), i in items.items()
            if c.startswith("l4a-") and i["properties"].get("cm:status") == "published"}


class BoundsTestBase(unittest.TestCase):
    @classmethod
    def make_server(cls, **kw):
        return Server(settings={"auth-rules": RULES}, **kw)

    @classmethod
    def setUpClass(cls):
        s = cls.server = cls.make_server()
        s.cli("migrate")
        import_sample(s)
        s.start()
        cls.accounts = {}
        for who in ("public", "partner"):
            email, pair = s.new_account()
            if who == "partner":
                s.cli("user", "set", email, "--groups", "Public,Partners")
                pair = s.login(email)
            me = s.get("/api/v1/account/me", token=pair["access"]).json()
            cls.accounts[who] = (me["username"], pair["access"])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    @classmethod
    def mint(cls, who, resources=None, token=None, expect=200, **extra):
        """A permanent token of who's account, minted with the session (or
        token), through the Mapbox API; the reply, which must be expect."""
        username, access = cls.accounts[who]
        body = {"scopes": SCOPES, "note": "bound"}
        body.update(extra)
        if resources is not None:
            body["resources"] = resources
        r = cls.server.post("/tokens/v2/" + username, body, token=token or access)
        if r.status_code != expect:
            raise AssertionError("expected %d: %d %s" % (expect, r.status_code, r.text))
        return r.json()

    def get(self, path, token, **params):
        return self.server.get(path, token=token, params=params or None)


class BoundRoutesTest(BoundsTestBase):
    """One collection, one asset prefix, and a partner-only collection, each
    against every resource route."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        mint = cls.mint
        cls.tokens = {
            "l4a": mint("public", ["collection:" + L4A])["token"],
            "prefix": mint("public", ["asset:" + PREFIX])["token"],
            "partner": mint("partner", ["collection:" + sample.PARTNER_COLLECTION])["token"],
            "partner-public-bound": mint("public",
                                         ["collection:" + sample.PARTNER_COLLECTION])["token"],
        }
        cls.cases = {  # token -> (partner?, bounds)
            "l4a": (False, ["collection:" + L4A]),
            "prefix": (False, ["asset:" + PREFIX]),
            "partner": (True, ["collection:" + sample.PARTNER_COLLECTION]),
            "partner-public-bound": (False, ["collection:" + sample.PARTNER_COLLECTION]),
        }

    def items_of(self, case):
        partner, bounds = self.cases[case]
        ids = expected(partner, bounds)
        return {(i["collection"], i["id"]): i for i in sample.visible(partner)
                if (i["collection"], i["id"]) in ids}

    def search_all(self, token, **params):
        """Every page of a GET search: the (collection, id) seen, and the
        first page's numberMatched."""
        seen, matched, url, first = [], None, STAC + "/search", dict(limit=7, **params)
        while url:
            r = self.server.get(url, token=token, params=first)
            self.assertEqual(r.status_code, 200, r.text)
            body = r.json()
            if matched is None:
                matched = body["numberMatched"]
            seen += [(f["collection"], f["id"]) for f in body["features"]]
            nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
            url = nxt[0].split("127.0.0.1", 1)[1].split("/", 1)[1] if nxt else None
            url = "/" + url if url else None
            first = None
        return seen, matched

    def test_sample_has_what_the_tests_need(self):
        for case in self.cases:
            if case != "partner-public-bound":
                self.assertTrue(self.items_of(case), case)
        self.assertFalse(self.items_of("partner-public-bound"))

    def test_stac_collections_and_landing(self):
        for case, token in self.tokens.items():
            partner, bounds = self.cases[case]
            want = {c for c, _ in expected(partner, bounds)}
            r = self.get(STAC + "/collections", token)
            self.assertEqual({c["id"] for c in r.json()["collections"]}, want, case)
            landing = self.get(STAC + "/", token).json()
            children = {link["href"].rsplit("/", 1)[1] for link in landing["links"]
                        if link["rel"] == "child"}
            self.assertEqual(children, want, case)
            for c in sample.collections(True) - want:
                self.assertEqual(self.get(STAC + "/collections/" + c, token).status_code, 404)
                self.assertEqual(self.get(STAC + "/collections/" + c + "/items",
                                          token).status_code, 404)
                self.assertEqual(self.get(STAC + "/collections/" + c + "/queryables",
                                          token).status_code, 404)
            for c in want:
                self.assertEqual(self.get(STAC + "/collections/" + c, token).status_code, 200)

    def test_stac_search_counts_and_pages(self):
        for case, token in self.tokens.items():
            want = set(self.items_of(case))
            seen, matched = self.search_all(token)
            self.assertEqual(matched, len(want), case)
            self.assertEqual(len(seen), len(set(seen)), case)  # each exactly once
            self.assertEqual(set(seen), want, case)
        # A filter inside the bounds still applies; asking for a collection
        # outside them is asking for one that does not exist.
        seen, matched = self.search_all(self.tokens["prefix"], datetime="2023-06-01T00:00:00Z/..")
        want = {k for k, i in self.items_of("prefix").items()
                if i["properties"]["datetime"] >= "2023-06-01T00:00:00Z"}
        self.assertEqual((set(seen), matched), (want, len(want)))
        r = self.get(STAC + "/search", self.tokens["l4a"], collections="l2b-co2")
        self.assertEqual(r.status_code, 400)
        self.assertIn("unknown collection", r.json()["detail"])
        r = self.server.post(STAC + "/search", {"collections": [L4A], "limit": 100},
                             token=self.tokens["l4a"])
        self.assertEqual(r.json()["numberMatched"], len(self.items_of("l4a")))

    def test_stac_items_and_item(self):
        token = self.tokens["prefix"]
        inside = self.items_of("prefix")
        r = self.get(STAC + "/collections/" + L2B + "/items", token, limit=100)
        self.assertEqual(r.json()["numberMatched"], len(inside))
        (c, iid), _ = next(iter(inside.items()))
        self.assertEqual(self.get("%s/collections/%s/items/%s" % (STAC, c, iid),
                                  token).status_code, 200)
        outside = next(i for i in sample.PUBLIC_ITEMS
                       if i["collection"] == L2B and not has_asset_under(i, PREFIX))
        r = self.get("%s/collections/%s/items/%s" % (STAC, L2B, outside["id"]), token)
        self.assertEqual(r.status_code, 404)
        other = next(i for i in sample.PUBLIC_ITEMS if i["collection"] == "l2b-co2")
        r = self.get("%s/collections/l2b-co2/items/%s" % (STAC, other["id"]), self.tokens["l4a"])
        self.assertEqual(r.status_code, 404)

    def test_catalog_plumes_csv_and_plume(self):
        for case, token in self.tokens.items():
            want = published_plumes(self.items_of(case))
            body = self.get(CATALOG + "plumes/annotated", token, limit=1000).json()
            self.assertEqual({p["plume_id"] for p in body["items"]}, want, case)
            self.assertEqual(body["total_count"], len(want), case)
            names, offset = set(), 0
            while True:
                r = self.get(CATALOG + "plume-csv", token, limit=5, offset=offset)
                self.assertEqual(r.status_code, 200, r.text)
                rows = list(csv.DictReader(io.StringIO(r.text)))
                names |= {row["plume_id"] for row in rows}
                offset += 5
                if offset >= int(r.headers["pagination-count"]):
                    break
            self.assertEqual(names, want, case)
        token = self.tokens["l4a"]
        inside = sorted(published_plumes(self.items_of("l4a")))[0]
        self.assertEqual(self.get(CATALOG + "plume/" + inside, token).status_code, 200)
        elsewhere = next(i["id"] for i in sample.PUBLIC_ITEMS
                         if i["collection"] == "l4a-ch4" and
                         i["properties"].get("cm:status") == "published" and
                         (L4A, i["id"]) not in self.items_of("l4a"))
        self.assertEqual(self.get(CATALOG + "plume/" + elsewhere, token).status_code, 404)

    def test_catalog_scenes_gpkg_and_sources(self):
        for case, token in self.tokens.items():
            items = self.items_of(case)
            scenes = {iid for (c, iid) in items if c.startswith("l2b-")}
            r = self.get(CATALOG + "scenes", token, limit=1000)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(r.json()["count"], len(scenes), case)
            r = self.get(CATALOG + "download/scenes.gpkg", token, limit=0)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(int(r.headers["pagination-count"]), len(scenes), case)
            r = self.get(CATALOG + "sources.geojson", token, minpoints=1)
            self.assertEqual(r.status_code, 200, r.text)
            total = sum(f["properties"]["plume_count"] for f in r.json()["features"])
            self.assertEqual(total, len(published_plumes(items)), case)

    def test_assets(self):
        token = self.tokens["l4a"]
        plume = next(iter(self.items_of("l4a").values()))
        # An L4A plume's raster lives under the L3A collection's keys.
        key = sample.asset_key(plume, "plume.tif")
        self.assertFalse(key.startswith(L4A + "/"))
        r = self.get(CATALOG + "asset/" + key, token)
        self.assertEqual(r.status_code, 200, r.text)
        scene = next(i for i in sample.PUBLIC_ITEMS if i["collection"] == L2B)
        r = self.get(CATALOG + "asset/" + sample.asset_key(scene, "cmf.tif"), token)
        self.assertEqual(r.status_code, 404)
        token = self.tokens["prefix"]
        (_, _), inside = next(iter(self.items_of("prefix").items()))
        key = sample.asset_key(inside, "cmf.tif")
        self.assertEqual(self.get(CATALOG + "asset/" + key, token).status_code, 200)
        outside = next(i for i in sample.PUBLIC_ITEMS
                       if i["collection"] == L2B and not has_asset_under(i, PREFIX))
        r = self.get(CATALOG + "asset/" + sample.asset_key(outside, "cmf.tif"), token)
        self.assertEqual(r.status_code, 404)

    def test_forward_auth(self):
        def check(uri, token):
            return self.server.get(CHECK, token=token, headers={"X-Original-URI": uri})
        token = self.tokens["l4a"]
        plume = next(iter(self.items_of("l4a").values()))
        r = check("/data/" + sample.asset_key(plume, "plume.tif"), token)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers.get("X-Auth-Resources"), "collection:" + L4A)
        scene = next(i for i in sample.PUBLIC_ITEMS if i["collection"] == L2B)
        r = check("/data/" + sample.asset_key(scene, "cmf.tif"), token)
        self.assertEqual(r.status_code, 403)
        self.assertEqual(r.json()["code"], "resource_not_allowed")
        self.assertEqual(check("/stac/collections/%s/items" % L4A, token).status_code, 200)
        self.assertEqual(check("/stac/collections/l2b-co2", token).status_code, 403)
        self.assertEqual(check("/stac/search", token).status_code, 403)
        self.assertEqual(check("/open/anything", token).status_code, 200)  # public stays public
        unbound = self.mint("public")["token"]
        r = check("/stac/search", unbound)
        self.assertEqual(r.status_code, 200)
        self.assertIsNone(r.headers.get("X-Auth-Resources"))


class BoundRoutesOnPostgresTest(BoundRoutesTest):
    """The same routes with the catalog and the store on PostgreSQL."""
    pg = None

    @classmethod
    def make_server(cls, **kw):
        sys.path.insert(0, os.path.join(harness.SOURCE_DIR, "tests", "pg"))
        from pgcluster import PgCluster
        cls.pg = PgCluster().start()
        return super().make_server(database_url=cls.pg.createdb("bounds"), **kw)

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
        except Exception:
            if cls.pg:
                cls.pg.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.pg.destroy()


class NarrowingTest(BoundsTestBase):
    def test_bound_token_mints_only_within_its_bounds(self):
        parent = self.mint("public", ["collection:" + L4A, "asset:" + PREFIX])
        self.assertEqual(parent["resources"], ["asset:" + PREFIX, "collection:" + L4A])
        tok = parent["token"]
        # Without the field the child inherits; narrower is fine; wider or
        # unrestricted is refused.
        self.assertEqual(self.mint("public", token=tok)["resources"], parent["resources"])
        child = self.mint("public", ["asset:" + L4A + "/2024/"], token=tok)
        self.assertEqual(child["resources"], ["asset:" + L4A + "/2024/"])
        self.mint("public", ["asset:" + PREFIX + "05/"], token=tok)
        for wider in (["collection:l2b-co2"], [], ["asset:" + L2B + "/"],
                      ["collection:" + L2B]):
            r = self.mint("public", wider, token=tok, expect=422)
            self.assertIn("resources", r["message"])
        for bad in (["bucket:x"], ["asset:../x"], "collection:x", [1], ["collection:"]):
            self.mint("public", bad, expect=422)

    def test_temporary_tokens_inherit_and_narrow(self):
        username, _ = self.accounts["public"]
        parent = self.mint("public", ["collection:" + L4A])["token"]

        def temp(body):
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
            body = dict({"scopes": ["stac"], "expires": expires}, **body)
            return self.server.post("/tokens/v2/" + username, body, token=parent)
        r = temp({})
        self.assertEqual(r.status_code, 200, r.text)
        tk = r.json()["token"]
        self.assertEqual(r.json()["resources"], ["collection:" + L4A])
        info = self.server.get("/tokens/v2", token=tk).json()
        self.assertEqual(info["token"]["resources"], ["collection:" + L4A])
        body = self.get(STAC + "/search", tk, limit=1).json()
        self.assertEqual(body["numberMatched"], len(expected(False, ["collection:" + L4A])))
        r = temp({"resources": ["asset:" + L4A + "/2023/"]})
        self.assertEqual(r.status_code, 200, r.text)
        body = self.get(STAC + "/search", r.json()["token"], limit=1).json()
        self.assertEqual(body["numberMatched"],
                         len(expected(False, ["asset:" + L4A + "/2023/"])))
        self.assertEqual(temp({"resources": ["collection:l2b-co2"]}).status_code, 422)

    def test_update_listing_and_introspection(self):
        username, access = self.accounts["public"]
        made = self.mint("public", ["collection:" + L4A])
        tok, tid = made["token"], made["id"]
        listed = self.server.get("/tokens/v2/" + username, token=access).json()
        self.assertEqual(next(t for t in listed if t["id"] == tid)["resources"],
                         ["collection:" + L4A])
        cm = self.server.get("/api/v1/account/tokens", token=access).json()
        rows = cm if isinstance(cm, list) else cm.get("items", cm.get("tokens", []))
        self.assertEqual(next(t for t in rows if t["id"] == tid)["resources"],
                         ["collection:" + L4A])
        # The token may narrow itself, not widen itself; the session may do both.
        path = "/tokens/v2/%s/%s" % (username, tid)
        r = self.server.request("PATCH", path, token=tok, json={"resources": ["collection:x"]})
        self.assertEqual(r.status_code, 422, r.text)
        r = self.server.request("PATCH", path, token=tok,
                                json={"resources": ["asset:" + L4A + "/2021/"]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["resources"], ["asset:" + L4A + "/2021/"])
        info = self.server.get("/tokens/v2", token=tok).json()
        self.assertEqual(info["token"]["resources"], ["asset:" + L4A + "/2021/"])
        r = self.server.request("PATCH", path, token=access, json={"resources": []})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertNotIn("resources", r.json())
        # An unbound token cannot be edited by a bound one.
        bound = self.mint("public", ["collection:" + L4A])["token"]
        r = self.server.request("PATCH", path, token=bound, json={"note": "x"})
        self.assertEqual(r.status_code, 404)
        # RFC 7662: an operator sees a bound token's resources.
        op_email, _ = self.server.new_account()
        self.server.cli("user", "set", op_email, "--scopes", "stac,tokens:introspect")
        op = self.server.login(op_email)["access"]
        r = self.server.post("/api/v1/oauth/introspect", token=op, data={"token": bound})
        self.assertEqual(r.json()["resources"], ["collection:" + L4A])

    def test_create_stac_accepts_resources(self):
        _, access = self.accounts["public"]
        date = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
        r = self.server.post("/api/v1/account/tokens/create-stac",
                             {"expiration_date": date, "name": "bound",
                              "resources": ["collection:" + L4A]}, token=access)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["resources"], ["collection:" + L4A])
        body = self.get(STAC + "/search", r.json()["token_value"], limit=1).json()
        self.assertEqual(body["numberMatched"], len(expected(False, ["collection:" + L4A])))
        r = self.server.post("/api/v1/account/tokens/create-stac",
                             {"expiration_date": date, "name": "bad",
                              "resources": ["nope"]}, token=access)
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "resources"])


if __name__ == "__main__":
    unittest.main()
