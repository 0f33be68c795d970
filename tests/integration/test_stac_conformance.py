"""Each conformance class the STAC landing page declares, checked against
the behaviour it promises.

The test reads conformsTo from the landing page and runs, for every class
listed there, a check of what that class requires (on a small fixture whose
answers are known exactly, anonymous and with a Partners token). A class
declared without a check here fails the test, as does a declared class whose
behaviour is missing: so conformsTo can only list what works. The
conformance resource must list the same classes.
"""
import json
import os
import tempfile
import unittest
from datetime import datetime, timedelta, timezone

import harness
from harness import Server

BASE = "/api/v1/stac"
PUB, PART = "conf-pub", "conf-part"
T0 = datetime(2023, 6, 1, tzinfo=timezone.utc)
NAMES = ["alpha", "beta", "gamma", "delta", "alphabet", "beta"]


def collection(cid):
    return {"type": "Collection", "stac_version": "1.0.0", "id": cid, "description": "fixture",
            "license": "CC-BY-4.0", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [[None, None]]}}}


def item(iid, coll, i, props):
    p = {"datetime": (T0 + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    p.update(props)
    return {"type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": coll,
            "geometry": {"type": "Point", "coordinates": [10.0 * i, float(i)]},
            "bbox": [10.0 * i, float(i), 10.0 * i, float(i)], "properties": p, "links": [],
            "assets": {"data": {"href": "conf/%s.json" % iid, "type": "application/json"}}}


# Public: p0..p5, newest first by default (p5 first). p5 has a null n.
PUBLIC = [item("p%d" % i, PUB, i, {"n": None if i == 5 else i, "s": NAMES[i]}) for i in range(6)]
# Partners only: one in the Public collection, one in their own.
HIDDEN = [item("h0", PUB, 2, {"n": 2, "s": "alpha"}),
          item("h1", PART, 3, {"n": 3, "s": "beta"})]


def newest_first(items):
    return [it["id"] for it in sorted(items, key=lambda it: (
        -datetime.strptime(it["properties"]["datetime"], "%Y-%m-%dT%H:%M:%SZ").timestamp(),
        it["collection"], it["id"]))]


class StacConformanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="tessera-conf-")
        d = cls.tmp.name
        for name, docs in (("pub", [collection(PUB)] + PUBLIC), ("hid", HIDDEN[:1]),
                           ("part", [collection(PART)] + HIDDEN[1:])):
            os.makedirs(os.path.join(d, name))
            for doc in docs:
                with open(os.path.join(d, name, doc["id"] + ".json"), "w") as f:
                    json.dump(doc, f)
        cls.server = s = Server()
        s.cli("migrate")
        s.cli("stac", "import", os.path.join(d, "pub"), "--visibility", "Public")
        s.cli("group", "add", "Partners", check=False)
        s.cli("stac", "import", os.path.join(d, "hid"), "--visibility", "Partners")
        s.cli("stac", "import", os.path.join(d, "part"), "--visibility", "Partners")
        s.start()
        email, _ = s.new_account()
        s.cli("user", "set", email, "--groups", "Public,Partners")
        cls.partner = s.create_stac_token(s.login(email)["access"])["token_value"]

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.tmp.cleanup()

    # -- helpers ---------------------------------------------------------------
    def doc(self, path, token=None, media="application/json", **params):
        r = self.server.get(BASE + path, token=token, params=params)
        self.assertEqual(r.status_code, 200, "%s %s: %s" % (path, params, r.text))
        self.assertTrue(r.headers["Content-Type"].startswith(media), r.headers["Content-Type"])
        return r.json()

    def ids(self, path="/search", token=None, **params):
        params.setdefault("limit", 100)
        return [f["id"] for f in self.doc(path, token, "application/geo+json",
                                          **params)["features"]]

    def post_ids(self, body, token=None):
        r = self.server.post(BASE + "/search", dict({"limit": 100}, **body), token=token)
        self.assertEqual(r.status_code, 200, "%s: %s" % (body, r.text))
        return [f["id"] for f in r.json()["features"]]

    def visible(self, token, pred=lambda p: True, coll=None):
        items = PUBLIC + (HIDDEN if token else [])
        return newest_first([it for it in items if pred(it["properties"])
                             and (coll is None or it["collection"] == coll)])

    def cql(self, text, cql2_json, pred, path="/search", coll=None):
        """A filter as CQL2 text and CQL2 JSON, anonymous and as a partner."""
        for token in (None, self.partner):
            want = self.visible(token, pred, coll)
            self.assertEqual(self.ids(path, token, filter=text), want, text)
            self.assertEqual(self.ids(path, token, filter=json.dumps(cql2_json),
                                      **{"filter-lang": "cql2-json"}), want, text)
            if path == "/search":
                self.assertEqual(self.post_ids({"filter": cql2_json}, token), want, text)
                self.assertEqual(self.post_ids({"filter": text, "filter-lang": "cql2-text"},
                                               token), want, text)

    @staticmethod
    def prop(name):
        return {"property": name}

    # -- the checks, one per class ------------------------------------------------
    def check_core(self):
        landing = self.doc("/")
        self.assertEqual(landing["type"], "Catalog")
        self.assertEqual(landing["stac_version"], "1.0.0")
        rels = {l["rel"]: l for l in landing["links"]}
        for rel in ("self", "root", "conformance", "service-desc", "data", "search"):
            self.assertIn(rel, rels)
        r = harness.requests.get(rels["service-desc"]["href"], timeout=30)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["Content-Type"], rels["service-desc"]["type"])

    def check_collections(self):
        colls = self.doc("/collections")["collections"]
        self.assertEqual([c["id"] for c in colls], [PUB])
        self.assertEqual(sorted(c["id"] for c in self.doc("/collections", self.partner)
                                ["collections"]), [PART, PUB])
        c = self.doc("/collections/" + PUB)
        self.assertEqual((c["type"], c["id"]), ("Collection", PUB))
        self.assertTrue([l for l in c["links"] if l["rel"] == "items"])
        self.assertEqual(self.server.get(BASE + "/collections/" + PART).status_code, 404)

    def check_features(self):
        self.assertEqual(self.ids("/collections/%s/items" % PUB), self.visible(None))
        self.assertEqual(self.ids("/collections/%s/items" % PUB, self.partner),
                         self.visible(self.partner, coll=PUB))
        page = self.doc("/collections/%s/items" % PUB, None, "application/geo+json", limit=2,
                        bbox="15,0,45,10")
        self.assertEqual(page["type"], "FeatureCollection")
        self.assertEqual([f["id"] for f in page["features"]], ["p4", "p3"])
        self.assertEqual((page["numberMatched"], page["numberReturned"]), (3, 2))
        self.assertTrue([l for l in page["links"] if l["rel"] == "next"])
        one = self.doc("/collections/%s/items/p1" % PUB, None, "application/geo+json")
        self.assertEqual((one["type"], one["id"]), ("Feature", "p1"))
        r = self.server.get(BASE + "/collections/%s/items/h0" % PUB)
        self.assertEqual(r.status_code, 404)

    def check_geojson(self):
        page = self.doc("/collections/%s/items" % PUB, None, "application/geo+json")
        self.assertEqual(page["type"], "FeatureCollection")
        for f in page["features"]:
            self.assertEqual(f["type"], "Feature")
            self.assertEqual(f["geometry"]["type"], "Point")

    def check_item_search(self):
        self.assertEqual(self.ids(), self.visible(None))
        self.assertEqual(self.ids(token=self.partner), self.visible(self.partner))
        self.assertEqual(self.ids(bbox="15,0,45,10"), ["p4", "p3", "p2"])
        self.assertEqual(self.ids(datetime="2023-06-02T00:00:00Z/2023-06-03T00:00:00Z"),
                         ["p2", "p1"])
        self.assertEqual(self.ids(ids="p0,p5,h0"), ["p5", "p0"])
        self.assertEqual(self.ids(token=self.partner, collections=PART), ["h1"])
        self.assertEqual(self.post_ids({"bbox": [15, 0, 45, 10], "ids": ["p2", "p3", "h0"]}),
                         ["p3", "p2"])
        self.assertEqual(self.post_ids({"intersects": {"type": "Point", "coordinates": [20, 2]}},
                                       self.partner), ["h0", "p2"])
        page = self.doc("/search", None, "application/geo+json", limit=4)
        self.assertEqual((page["numberMatched"], page["numberReturned"]), (6, 4))
        nxt = [l for l in page["links"] if l["rel"] == "next"]
        self.assertTrue(nxt)

    def check_query(self, path="/search"):
        def q(expr, pred):
            for token in (None, self.partner):
                coll = PUB if path != "/search" else None
                want = self.visible(token, pred, coll)
                self.assertEqual(self.ids(path, token, query=json.dumps(expr)), want, expr)
                if path == "/search":
                    self.assertEqual(self.post_ids({"query": expr}, token), want, expr)
        num = lambda p: p["n"] if isinstance(p["n"], int) else None
        q({"n": {"eq": 2}}, lambda p: num(p) == 2)
        q({"n": {"neq": 2}}, lambda p: num(p) is not None and num(p) != 2)
        q({"n": {"lt": 2}}, lambda p: num(p) is not None and num(p) < 2)
        q({"n": {"lte": 2}}, lambda p: num(p) is not None and num(p) <= 2)
        q({"n": {"gt": 2}}, lambda p: num(p) is not None and num(p) > 2)
        q({"n": {"gte": 2, "lt": 4}}, lambda p: num(p) is not None and 2 <= num(p) < 4)
        q({"s": {"startsWith": "alp"}}, lambda p: p["s"].startswith("alp"))
        q({"s": {"endsWith": "ta"}}, lambda p: p["s"].endswith("ta"))
        q({"s": {"contains": "ph"}}, lambda p: "ph" in p["s"])
        q({"s": {"in": ["beta", "gamma"]}}, lambda p: p["s"] in ("beta", "gamma"))
        self.bad(path, query=json.dumps({"n": {"like": 1}}), word="like")

    def check_query_features(self):
        self.check_query("/collections/%s/items" % PUB)

    def bad(self, path, word, **params):
        r = self.server.get(BASE + path, params=params)
        self.assertEqual(r.status_code, 400, r.text)
        self.assertIn(word, r.json()["detail"])

    def check_filter(self, path="/search"):
        coll = PUB if path != "/search" else None
        self.cql("n > 2", {"op": ">", "args": [self.prop("n"), 2]},
                 lambda p: isinstance(p["n"], int) and p["n"] > 2, path, coll)
        self.bad(path, "nosuch", filter="nosuch = 1")

    def check_features_filter(self):
        self.check_filter("/collections/%s/items" % PUB)
        q = self.doc("/collections/%s/queryables" % PUB, media="application/schema+json")
        self.assertIn("n", q["properties"])

    def check_filter_queryables(self):
        self.check_filter()
        q = self.doc("/queryables", media="application/schema+json")
        self.assertEqual(q["type"], "object")
        for name in ("n", "s"):
            self.assertIn(name, q["properties"])

    def check_cql2_text(self):
        self.assertEqual(self.ids(filter="s = 'gamma'", **{"filter-lang": "cql2-text"}), ["p2"])

    def check_cql2_json(self):
        f = {"op": "=", "args": [self.prop("s"), "gamma"]}
        self.assertEqual(self.ids(filter=json.dumps(f), **{"filter-lang": "cql2-json"}), ["p2"])
        self.assertEqual(self.post_ids({"filter": f, "filter-lang": "cql2-json"}), ["p2"])

    def check_basic_cql2(self):
        n, s = self.prop("n"), self.prop("s")
        isnum = lambda p: isinstance(p["n"], int)
        self.cql("n = 1 OR s = 'delta'",
                 {"op": "or", "args": [{"op": "=", "args": [n, 1]},
                                       {"op": "=", "args": [s, "delta"]}]},
                 lambda p: p["n"] == 1 or p["s"] == "delta")
        self.cql("n >= 1 AND n <= 3 AND NOT s = 'beta'",
                 {"op": "and", "args": [{"op": ">=", "args": [n, 1]},
                                        {"op": "<=", "args": [n, 3]},
                                        {"op": "not", "args": [{"op": "=", "args": [s, "beta"]}]}]},
                 lambda p: isnum(p) and 1 <= p["n"] <= 3 and p["s"] != "beta")
        self.cql("n <> 2", {"op": "<>", "args": [n, 2]}, lambda p: isnum(p) and p["n"] != 2)
        self.cql("n < 2", {"op": "<", "args": [n, 2]}, lambda p: isnum(p) and p["n"] < 2)
        self.cql("n IS NULL", {"op": "isNull", "args": [n]}, lambda p: p["n"] is None)
        self.cql("s > 'beta'", {"op": ">", "args": [s, "beta"]}, lambda p: p["s"] > "beta")

    def check_advanced_comparison(self):
        n, s = self.prop("n"), self.prop("s")
        self.cql("s LIKE 'alpha%'", {"op": "like", "args": [s, "alpha%"]},
                 lambda p: p["s"].startswith("alpha"))
        self.cql("n BETWEEN 1 AND 3", {"op": "between", "args": [n, 1, 3]},
                 lambda p: isinstance(p["n"], int) and 1 <= p["n"] <= 3)
        self.cql("s IN ('beta', 'delta')", {"op": "in", "args": [s, ["beta", "delta"]]},
                 lambda p: p["s"] in ("beta", "delta"))

    def check_basic_spatial(self):
        g = self.prop("geometry")
        # Items sit at (10 i, i): the box holds i = 2, 3.
        self.cql("S_INTERSECTS(geometry, BBOX(15, 0, 35, 10))",
                 {"op": "s_intersects", "args": [g, {"bbox": [15, 0, 35, 10]}]},
                 lambda p: p["n"] in (2, 3))
        self.cql("S_INTERSECTS(geometry, POINT(40 4))",
                 {"op": "s_intersects", "args": [g, {"type": "Point", "coordinates": [40, 4]}]},
                 lambda p: p["n"] == 4)

    def check_basic_spatial_plus(self):
        g = self.prop("geometry")
        ring = [[-5, -1], [25, -1], [25, 2.5], [-5, 2.5], [-5, -1]]
        self.cql("S_INTERSECTS(geometry, POLYGON((-5 -1, 25 -1, 25 2.5, -5 2.5, -5 -1)))",
                 {"op": "s_intersects", "args": [g, {"type": "Polygon", "coordinates": [ring]}]},
                 lambda p: p["n"] in (0, 1, 2))
        self.cql("S_INTERSECTS(geometry, LINESTRING(0 0, 10 1))",
                 {"op": "s_intersects",
                  "args": [g, {"type": "LineString", "coordinates": [[0, 0], [10, 1]]}]},
                 lambda p: p["n"] in (0, 1))

    def check_sort(self, path="/search"):
        coll = PUB if path != "/search" else None
        for token in (None, self.partner):
            items = [it for it in PUBLIC + (HIDDEN if token else [])
                     if coll is None or it["collection"] == coll]
            # By s descending, ties by n ascending (the null n of p5 last).
            want = [it["id"] for it in sorted(
                sorted(items, key=lambda it: (it["properties"]["n"] is None,
                                              it["properties"]["n"] or 0, it["collection"],
                                              it["id"])),
                key=lambda it: it["properties"]["s"], reverse=True)]
            self.assertEqual(self.ids(path, token, sortby="-s,+n"), want)
            if path == "/search":
                self.assertEqual(self.post_ids({"sortby": [
                    {"field": "properties.s", "direction": "desc"},
                    {"field": "properties.n", "direction": "asc"}]}, token), want)
        self.bad(path, "nosuch", sortby="nosuch")

    def check_sort_features(self):
        self.check_sort("/collections/%s/items" % PUB)

    def check_fields(self, path="/search"):
        f = self.doc(path, None, "application/geo+json", fields="s,-geometry,-links",
                     limit=1)["features"][0]
        self.assertNotIn("geometry", f)
        self.assertNotIn("links", f)
        self.assertEqual(sorted(f["properties"]), ["datetime", "s"])
        if path == "/search":
            r = self.server.post(BASE + "/search", {"limit": 1, "fields": {
                "include": ["properties.n"], "exclude": ["assets"]}})
            f = r.json()["features"][0]
            self.assertNotIn("assets", f)
            self.assertEqual(sorted(f["properties"]), ["datetime", "n"])

    def check_fields_features(self):
        self.check_fields("/collections/%s/items" % PUB)

    CHECKS = {
        "https://api.stacspec.org/v1.0.0/core": check_core,
        "https://api.stacspec.org/v1.0.0/collections": check_collections,
        "https://api.stacspec.org/v1.0.0/ogcapi-features": check_features,
        "https://api.stacspec.org/v1.0.0/item-search": check_item_search,
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core": check_features,
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson": check_geojson,
        "https://api.stacspec.org/v1.0.0/item-search#query": check_query,
        "https://api.stacspec.org/v1.0.0/item-search#filter": check_filter,
        "https://api.stacspec.org/v1.0.0/item-search#sort": check_sort,
        "https://api.stacspec.org/v1.0.0/item-search#fields": check_fields,
        "https://api.stacspec.org/v1.0.0/ogcapi-features#query": check_query_features,
        "https://api.stacspec.org/v1.0.0/ogcapi-features#sort": check_sort_features,
        "https://api.stacspec.org/v1.0.0/ogcapi-features#fields": check_fields_features,
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter": check_filter_queryables,
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter":
            check_features_filter,
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text": check_cql2_text,
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json": check_cql2_json,
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2": check_basic_cql2,
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators":
            check_advanced_comparison,
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions": check_basic_spatial,
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus":
            check_basic_spatial_plus,
    }

    def test_every_declared_class_works(self):
        landing = self.doc("/")
        declared = landing["conformsTo"]
        self.assertEqual(self.doc("/conformance")["conformsTo"], declared)
        self.assertEqual(len(declared), len(set(declared)))
        for uri in declared:
            with self.subTest(conformance=uri):
                check = self.CHECKS.get(uri)
                self.assertIsNotNone(check, "declared without a check of its behaviour")
                check(self)


if __name__ == "__main__":
    unittest.main()
