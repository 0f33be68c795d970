"""STAC API extensions over real HTTP: query, filter (CQL2 text and JSON),
sort and fields, on GET and POST /search and GET /collections/{id}/items,
plus the queryables resources and the conformance classes.

The server imports its own fixture (not the sample catalog): a Public
collection whose items carry numbers, strings, booleans, nulls and missing
values, four items in it that only Partners may see, and a Partners-only
collection. Every expected answer is computed here from the fixture with the
semantics the server documents (src/catalog/filter.h), in the server's order,
so the tests check exact results: for a Public caller (who must never see a
Partners item, whatever the filter) and for a Partners caller, page by page
through the next links, GET and POST alike.
"""
import json
import os
import tempfile
import unittest
from datetime import datetime, timedelta, timezone

import harness
from harness import Server

BASE = "/api/v1/stac"
PUBLIC_COLL = "ext-public"
PARTNER_COLL = "ext-partner"
SECTORS = ["1B2", "6A", "6B", "4B", "other"]
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def collection(cid):
    return {"type": "Collection", "stac_version": "1.0.0", "id": cid, "description": "fixture",
            "license": "CC-BY-4.0", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [[None, None]]}}}


def item(iid, coll, when, lon, lat, props):
    p = {"datetime": iso(when)}
    p.update(props)
    return {"type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": coll,
            "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": p,
            "links": [{"rel": "license", "href": "https://example.com/license"}],
            "assets": {"data": {"href": "ext/%s.json" % iid, "type": "application/json"}}}


def public_items():
    out = []
    for i in range(24):
        props = {"cm:sector": SECTORS[i % 5], "cm:gas": "CH4" if i % 3 else "CO2",
                 "flag": i % 2 == 0, "rank": i}
        if i % 5 != 4:
            props["cm:emission"] = float(i * 10)
        if i == 3:
            props["cm:emission"] = None
        if i == 7:
            props["cm:emission"] = "70"  # a string: never equal to or ordered with numbers
        if i % 4 == 0:
            props["note"] = "n%02d%%" % i
        # Pairs share a datetime, so order ties are broken by id.
        out.append(item("i%02d" % i, PUBLIC_COLL, T0 + timedelta(days=i // 2), -100 + i,
                        30 + i % 4, props))
    return out


def hidden_items():
    """Partners only: four in the Public collection, three in their own."""
    out = [item("s%d" % i, PUBLIC_COLL, T0 + timedelta(days=3 * i, hours=5), -100 + 2 * i, 31,
                {"cm:sector": "1B2", "cm:gas": "CH4", "cm:emission": 5000.0 + i,
                 "secret": "x%d" % i, "flag": True, "rank": 100 + i}) for i in range(4)]
    out += [item("z%d" % i, PARTNER_COLL, T0 + timedelta(days=5 * i, hours=1), -90, 40,
                 {"cm:sector": "6A", "cm:gas": "CO2", "cm:emission": 100.0 * (i + 1),
                  "secret": "z", "rank": 200 + i}) for i in range(3)]
    return out


PUBLIC = public_items()
HIDDEN = hidden_items()
ALL = PUBLIC + HIDDEN
HIDDEN_IDS = {it["id"] for it in HIDDEN}


def ms(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def default_key(it):
    return (-ms(it["properties"]["datetime"]).timestamp(), it["collection"], it["id"])


def num(p, k):
    v = p.get(k)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def sort_value(v):
    """The server's order of kinds: booleans, numbers, strings, then missing."""
    if v is None:
        return None
    if isinstance(v, bool):
        return (1, float(v), "")
    if isinstance(v, (int, float)):
        return (2, float(v), "")
    return (3, 0.0, v)


class StacExtensionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="tessera-ext-")
        d = cls.tmp.name
        for name, docs in (("public", [collection(PUBLIC_COLL)] + PUBLIC),
                           ("hidden", [it for it in HIDDEN if it["collection"] == PUBLIC_COLL]),
                           ("partner", [collection(PARTNER_COLL)] +
                            [it for it in HIDDEN if it["collection"] == PARTNER_COLL])):
            os.makedirs(os.path.join(d, name))
            for doc in docs:
                with open(os.path.join(d, name, doc["id"] + ".json"), "w") as f:
                    json.dump(doc, f)
        cls.server = s = Server()
        s.cli("migrate")
        s.cli("stac", "import", os.path.join(d, "public"), "--visibility", "Public")
        s.cli("stac", "import", os.path.join(d, "hidden"), "--visibility", "Partners")
        s.cli("stac", "import", os.path.join(d, "partner"), "--visibility", "Partners")
        s.start()
        _, pair = s.new_account()
        cls.public_token = s.create_stac_token(pair["access"])["token_value"]
        partner_email, _ = s.new_account()
        s.cli("group", "add", "Partners", check=False)
        s.cli("user", "set", partner_email, "--groups", "Public,Partners")
        cls.partner_token = s.create_stac_token(s.login(partner_email)["access"])["token_value"]

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.tmp.cleanup()

    # -- helpers ---------------------------------------------------------------
    def visible(self, token):
        return PUBLIC if token != self.partner_token else ALL

    def expect(self, pred, token=None, key=None, reverse=False, coll=None):
        items = [it for it in self.visible(token) if pred(it["properties"], it)
                 and (coll is None or it["collection"] == coll)]
        if key is None:
            return [it["id"] for it in sorted(items, key=default_key)]
        return [it["id"] for it in sorted(items, key=key, reverse=reverse)]

    def get(self, path, token=None, **params):
        return self.server.get(BASE + path, token=token, params=params)

    def post(self, body, token=None):
        return self.server.post(BASE + "/search", body, token=token)

    def ok(self, r):
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["Content-Type"].startswith("application/geo+json"))
        return r.json()

    def bad(self, r, *words):
        self.assertEqual(r.status_code, 400, r.text)
        body = r.json()
        self.assertEqual(body["code"], "invalid_parameter", body)
        for w in words:
            self.assertIn(w, body["detail"])
        return body["detail"]

    def walk(self, token, first):
        """Follows next links from a first response; returns (ids, numberMatched)."""
        headers = {"Authorization": "Bearer " + token} if token else {}
        doc = self.ok(first)
        ids, matched = [], doc["numberMatched"]
        for _ in range(100):
            self.assertEqual(doc["numberReturned"], len(doc["features"]))
            self.assertEqual(doc["numberMatched"], matched)
            ids += [f["id"] for f in doc["features"]]
            nxt = [l for l in doc["links"] if l["rel"] == "next"]
            if not nxt:
                break
            l = nxt[0]
            if l.get("method") == "POST":
                r = harness.requests.post(l["href"], json=l["body"], headers=headers, timeout=30)
            else:
                r = harness.requests.get(l["href"], headers=headers, timeout=30)
            doc = self.ok(r)
        self.assertEqual(len(ids), len(set(ids)), "an item came twice")
        return ids, matched

    def search_ids(self, token, get_params=None, body=None, limit=5):
        """GET and POST (each paged through next links) must agree; returns the ids."""
        results = []
        if get_params is not None:
            p = dict(get_params, limit=limit)
            results.append(self.walk(token, self.get("/search", token, **p)))
        if body is not None:
            results.append(self.walk(token, self.post(dict(body, limit=limit), token)))
        for ids, matched in results:
            self.assertEqual(matched, len(ids))
            self.assertEqual(ids, results[0][0])
        return results[0][0]

    def check_both(self, text, cql2_json, pred, tokens=None):
        """A CQL2 filter as text (GET) and JSON (POST, and GET with
        filter-lang=cql2-json), for the Public and the Partners caller."""
        for token in tokens or (self.public_token, self.partner_token):
            want = self.expect(pred, token)
            with self.subTest(filter=text, partner=token == self.partner_token):
                got = self.search_ids(token, {"filter": text}, {"filter": cql2_json})
                self.assertEqual(got, want)
                g2 = self.ok(self.get("/search", token, filter=json.dumps(cql2_json),
                                      **{"filter-lang": "cql2-json", "limit": 100}))
                self.assertEqual([f["id"] for f in g2["features"]], want)
                if token != self.partner_token:
                    self.assertFalse(HIDDEN_IDS & set(got))

    # -- conformance and queryables ----------------------------------------------
    def test_conformance_classes(self):
        landing = self.ok_json(self.server.get(BASE + "/"))
        conf = self.ok_json(self.server.get(BASE + "/conformance"))["conformsTo"]
        self.assertEqual(conf, landing["conformsTo"])
        for c in ("https://api.stacspec.org/v1.0.0/item-search#query",
                  "https://api.stacspec.org/v1.0.0/item-search#filter",
                  "https://api.stacspec.org/v1.0.0/item-search#sort",
                  "https://api.stacspec.org/v1.0.0/item-search#fields",
                  "https://api.stacspec.org/v1.0.0/ogcapi-features#query",
                  "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
                  "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
                  "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
                  "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
                  "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
                  "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
                  "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
                  "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
                  "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
                  "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json"):
            self.assertIn(c, conf)
        # What is not implemented is not claimed.
        for c in ("temporal-functions", "spatial-functions", "property-property",
                  "case-insensitive-comparison", "arithmetic", "array-functions"):
            self.assertFalse([x for x in conf if x.endswith("/conf/" + c)], c)
        rel = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
        self.assertTrue([l for l in landing["links"] if l["rel"] == rel])
        coll = self.ok_json(self.server.get(BASE + "/collections/" + PUBLIC_COLL))
        self.assertTrue([l for l in coll["links"] if l["rel"] == rel and
                         l["href"].endswith("/collections/%s/queryables" % PUBLIC_COLL)])

    def ok_json(self, r):
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def test_queryables(self):
        r = self.server.get(BASE + "/queryables")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["Content-Type"], "application/schema+json")
        q = r.json()
        self.assertEqual(q["type"], "object")
        self.assertIs(q["additionalProperties"], False)
        self.assertTrue(q["$id"].endswith("/api/v1/stac/queryables"))
        props = q["properties"]
        self.assertEqual(props["cm:sector"], {"type": "string"})
        self.assertEqual(sorted(props["cm:emission"]["type"]), ["number", "string"])
        self.assertEqual(props["flag"], {"type": "boolean"})
        self.assertEqual(props["rank"], {"type": "number"})
        self.assertEqual(props["datetime"]["format"], "date-time")
        for k in ("id", "collection", "geometry", "note", "cm:gas"):
            self.assertIn(k, props)
        # Partners-only properties are not listed for a Public caller.
        self.assertNotIn("secret", props)
        self.assertEqual(q, self.server.get(BASE + "/queryables", token=self.public_token).json())
        partner = self.server.get(BASE + "/queryables", token=self.partner_token).json()
        self.assertEqual(partner["properties"]["secret"], {"type": "string"})
        c = self.server.get(BASE + "/collections/%s/queryables" % PARTNER_COLL,
                            token=self.partner_token)
        self.assertEqual(c.status_code, 200)
        self.assertNotIn("note", c.json()["properties"])
        self.assertTrue(c.json()["$id"].endswith("/collections/%s/queryables" % PARTNER_COLL))
        for token in (None, self.public_token):
            r = self.server.get(BASE + "/collections/%s/queryables" % PARTNER_COLL, token=token)
            self.assertEqual(r.status_code, 404)
        self.assertEqual(self.server.get(BASE + "/queryables", token="sk.bad.token").status_code,
                         401)

    # -- the query extension --------------------------------------------------------
    def test_query_extension_operators(self):
        E = "cm:emission"
        cases = [
            ({E: {"eq": 50}}, lambda p, it: num(p, E) == 50),
            ({E: {"neq": 50}}, lambda p, it: E in p and p[E] is not None and p[E] != 50),
            ({E: {"lt": 60}}, lambda p, it: num(p, E) is not None and num(p, E) < 60),
            ({E: {"lte": 60}}, lambda p, it: num(p, E) is not None and num(p, E) <= 60),
            ({E: {"gt": 150}}, lambda p, it: num(p, E) is not None and num(p, E) > 150),
            ({E: {"gte": 150, "lt": 5002}},
             lambda p, it: num(p, E) is not None and 150 <= num(p, E) < 5002),
            ({"cm:sector": {"startsWith": "6"}}, lambda p, it: p["cm:sector"].startswith("6")),
            ({"cm:sector": {"endsWith": "B"}}, lambda p, it: p["cm:sector"].endswith("B")),
            ({"cm:sector": {"contains": "th"}}, lambda p, it: "th" in p["cm:sector"]),
            ({"note": {"endsWith": "%"}}, lambda p, it: p.get("note", "").endswith("%")),
            ({"cm:sector": {"in": ["1B2", "4B"]}}, lambda p, it: p["cm:sector"] in ("1B2", "4B")),
            ({"flag": {"eq": True}, "cm:gas": {"eq": "CO2"}},
             lambda p, it: p.get("flag") is True and p["cm:gas"] == "CO2"),
            ({"datetime": {"gte": "2024-01-05T00:00:00Z"}},
             lambda p, it: ms(p["datetime"]) >= ms("2024-01-05T00:00:00Z")),
            ({"id": {"in": ["i01", "s1", "z2"]}}, lambda p, it: it["id"] in ("i01", "s1", "z2")),
            ({E: {"eq": "70"}}, lambda p, it: p.get(E) == "70"),
        ]
        for query, pred in cases:
            for token in (self.public_token, self.partner_token):
                with self.subTest(query=query, partner=token == self.partner_token):
                    want = self.expect(pred, token)
                    got = self.search_ids(token, {"query": json.dumps(query)}, {"query": query})
                    self.assertEqual(got, want)

    # -- CQL2 ----------------------------------------------------------------------
    def test_filter_comparisons(self):
        E = "cm:emission"
        P = {"property": E}
        self.check_both("\"cm:emission\" = 50", {"op": "=", "args": [P, 50]},
                        lambda p, it: num(p, E) == 50)
        # <> and NOT: unknown (null or missing) is neither; the string "70" is not 50.
        self.check_both("cm:emission <> 50", {"op": "<>", "args": [P, 50]},
                        lambda p, it: p.get(E) is not None and p.get(E) != 50)
        self.check_both("NOT cm:emission < 100", {"op": "not", "args": [
            {"op": "<", "args": [P, 100]}]},
            lambda p, it: p.get(E) is not None and not (num(p, E) is not None and num(p, E) < 100))
        self.check_both("cm:emission <= 30 OR cm:emission >= 5002",
                        {"op": "or", "args": [{"op": "<=", "args": [P, 30]},
                                              {"op": ">=", "args": [P, 5002]}]},
                        lambda p, it: num(p, E) is not None and (num(p, E) <= 30 or
                                                                 num(p, E) >= 5002))
        self.check_both("cm:emission > 40 AND cm:gas = 'CO2'",
                        {"op": "and", "args": [{"op": ">", "args": [P, 40]},
                                               {"op": "=", "args": [{"property": "cm:gas"},
                                                                    "CO2"]}]},
                        lambda p, it: (num(p, E) or 0) > 40 and p["cm:gas"] == "CO2")
        self.check_both("cm:emission IS NULL", {"op": "isNull", "args": [P]},
                        lambda p, it: p.get(E) is None)
        self.check_both("note IS NOT NULL", {"op": "not", "args": [
            {"op": "isNull", "args": [{"property": "note"}]}]}, lambda p, it: "note" in p)
        self.check_both("flag = false", {"op": "=", "args": [{"property": "flag"}, False]},
                        lambda p, it: p.get("flag") is False)
        self.check_both("rank IN (1, 2, 100, 201)",
                        {"op": "in", "args": [{"property": "rank"}, [1, 2, 100, 201]]},
                        lambda p, it: p["rank"] in (1, 2, 100, 201))
        self.check_both("rank BETWEEN 5 AND 9", {"op": "between", "args": [
            {"property": "rank"}, 5, 9]}, lambda p, it: 5 <= p["rank"] <= 9)
        self.check_both("cm:sector LIKE '6_'", {"op": "like", "args": [
            {"property": "cm:sector"}, "6_"]}, lambda p, it: p["cm:sector"] in ("6A", "6B"))
        self.check_both("note LIKE 'n_0\\%'", {"op": "like", "args": [
            {"property": "note"}, "n_0\\%"]},
            lambda p, it: p.get("note") in ("n00%", "n20%"))
        self.check_both("datetime < TIMESTAMP('2024-01-03T00:00:00Z')",
                        {"op": "<", "args": [{"property": "datetime"},
                                             {"timestamp": "2024-01-03T00:00:00Z"}]},
                        lambda p, it: ms(p["datetime"]) < ms("2024-01-03T00:00:00Z"))
        self.check_both("collection = 'ext-partner' OR id = 's2'",
                        {"op": "or", "args": [
                            {"op": "=", "args": [{"property": "collection"}, PARTNER_COLL]},
                            {"op": "=", "args": [{"property": "id"}, "s2"]}]},
                        lambda p, it: it["collection"] == PARTNER_COLL or it["id"] == "s2")

    def test_filter_spatial_and_temporal(self):
        poly = {"type": "Polygon", "coordinates": [[[-95.5, 29], [-85, 29], [-85, 45],
                                                    [-95.5, 45], [-95.5, 29]]]}
        inside = lambda p, it: -95.5 <= it["geometry"]["coordinates"][0] <= -85
        self.check_both("S_INTERSECTS(geometry, POLYGON((-95.5 29, -85 29, -85 45, -95.5 45, "
                        "-95.5 29)))",
                        {"op": "s_intersects", "args": [{"property": "geometry"}, poly]}, inside)
        self.check_both("NOT S_INTERSECTS(geometry, BBOX(-95.5, 29, -85, 45))",
                        {"op": "not", "args": [{"op": "s_intersects", "args": [
                            {"property": "geometry"}, {"bbox": [-95.5, 29, -85, 45]}]}]},
                        lambda p, it: not inside(p, it))
        self.check_both("S_INTERSECTS(geometry, POINT(-90 40)) OR rank = 0",
                        {"op": "or", "args": [
                            {"op": "s_intersects", "args": [
                                {"property": "geometry"},
                                {"type": "Point", "coordinates": [-90, 40]}]},
                            {"op": "=", "args": [{"property": "rank"}, 0]}]},
                        lambda p, it: it["geometry"]["coordinates"] == [-90, 40] or
                        p["rank"] == 0)
        lo, hi = ms("2024-01-04T00:00:00Z"), ms("2024-01-06T23:59:59Z")
        self.check_both("T_INTERSECTS(datetime, INTERVAL('2024-01-04', '2024-01-06'))",
                        {"op": "t_intersects", "args": [{"property": "datetime"},
                                                        {"interval": ["2024-01-04",
                                                                      "2024-01-06"]}]},
                        lambda p, it: lo <= ms(p["datetime"]) <= hi)
        self.check_both("T_INTERSECTS(datetime, INTERVAL('2024-01-10T00:00:00Z', '..'))",
                        {"op": "t_intersects", "args": [{"property": "datetime"},
                                                        {"interval": ["2024-01-10T00:00:00Z",
                                                                      ".."]}]},
                        lambda p, it: ms(p["datetime"]) >= ms("2024-01-10T00:00:00Z"))

    def test_filter_with_core_parameters_and_items_endpoint(self):
        E = "cm:emission"
        pred = lambda p, it: (num(p, E) or 0) > 20 and it["geometry"]["coordinates"][0] <= -90
        for token in (self.public_token, self.partner_token):
            want = self.expect(lambda p, it: pred(p, it) and
                               ms(p["datetime"]) >= ms("2024-01-02T00:00:00Z"), token)
            got = self.search_ids(token, {"filter": "cm:emission > 20",
                                          "bbox": "-101,0,-90,50",
                                          "datetime": "2024-01-02T00:00:00Z/.."},
                                  {"filter": {"op": ">", "args": [{"property": E}, 20]},
                                   "bbox": [-101, 0, -90, 50],
                                   "datetime": "2024-01-02T00:00:00Z/.."})
            self.assertEqual(got, want)
            # /collections/{id}/items takes the same parameters.
            ids, matched = self.walk(token, self.get(
                "/collections/%s/items" % PUBLIC_COLL, token, filter="cm:emission > 20",
                sortby="-cm:emission", limit=3))
            want = self.expect(lambda p, it: (num(p, E) or 0) > 20, token,
                               key=lambda it: (-it["properties"][E], it["id"]), coll=PUBLIC_COLL)
            self.assertEqual(ids, want)
            self.assertEqual(matched, len(want))

    # -- sort --------------------------------------------------------------------------
    def sort_key(self, fields):
        def key(it):
            k = []
            for name, desc in fields:
                if name == "id":
                    v = (3, 0.0, it["id"])
                elif name == "datetime":
                    v = (2, ms(it["properties"]["datetime"]).timestamp(), "")
                else:
                    v = sort_value(it["properties"].get(name))
                missing = v is None
                v = v or (0, 0.0, "")
                if desc:  # negate numbers; strings reversed by a byte complement
                    v = (-v[0], -v[1], tuple(255 - b for b in v[2].encode()) + (256,))
                else:
                    v = (v[0], v[1], tuple(v[2].encode()))
                k.append((missing, v))
            return (k, it["collection"], it["id"])
        return key

    def test_sortby(self):
        cases = [("-cm:emission", [("cm:emission", True)]),
                 ("cm:emission", [("cm:emission", False)]),
                 ("+cm:sector,-rank", [("cm:sector", False), ("rank", True)]),
                 ("-flag,datetime", [("flag", True), ("datetime", False)]),
                 ("note", [("note", False)]),
                 ("-datetime", [("datetime", True)]),
                 ("-id", [("id", True)])]
        for text, fields in cases:
            body = [{"field": ("properties." + n) if n not in ("id", "datetime") else n,
                     "direction": "desc" if d else "asc"} for n, d in fields]
            for token in (self.public_token, self.partner_token):
                with self.subTest(sortby=text, partner=token == self.partner_token):
                    want = [it["id"] for it in sorted(self.visible(token),
                                                      key=self.sort_key(fields))]
                    got = self.search_ids(token, {"sortby": text}, {"sortby": body}, limit=7)
                    self.assertEqual(got, want)

    def test_sort_and_filter_paging_is_exact(self):
        """Every visible match exactly once, in order, at several page sizes
        and deep offsets, for a filtered and sorted search."""
        E = "cm:emission"
        fields = [("cm:gas", False), ("cm:emission", True)]
        for token in (self.public_token, self.partner_token):
            want = [it["id"] for it in sorted(
                [it for it in self.visible(token) if it["properties"]["rank"] not in
                 (1, 4, 7, 10, 13, 16, 19, 22, 101, 201)],
                key=self.sort_key(fields))]
            for limit in (1, 4, 100):
                got = self.search_ids(token, {"filter": "NOT rank IN (1,4,7,10,13,16,19,22,"
                                                        "101,201)",
                                              "sortby": "cm:gas,-cm:emission"},
                                      {"filter": "NOT rank IN (1,4,7,10,13,16,19,22,101,201)",
                                       "filter-lang": "cql2-text",
                                       "sortby": [{"field": "cm:gas"},
                                                  {"field": E, "direction": "desc"}]},
                                      limit=limit)
                self.assertEqual(got, want)
            for offset in range(0, len(want) + 2, 3):
                doc = self.ok(self.get("/search", token, filter="NOT rank IN (1,4,7,10,13,16,19,"
                                       "22,101,201)", sortby="cm:gas,-cm:emission", limit=3,
                                       offset=offset))
                self.assertEqual([f["id"] for f in doc["features"]], want[offset:offset + 3])
                self.assertEqual(doc["numberMatched"], len(want))

    # -- fields --------------------------------------------------------------------------
    def test_fields(self):
        doc = self.ok(self.get("/search", None, fields="", limit=1))
        f = doc["features"][0]
        self.assertEqual(sorted(f), sorted(["type", "stac_version", "id", "collection",
                                            "geometry", "bbox", "properties", "links",
                                            "assets"]))
        self.assertEqual(list(f["properties"]), ["datetime"])
        # Links and asset hrefs are still the absolute ones.
        self.assertTrue(f["assets"]["data"]["href"].startswith(
            self.server.url("/api/v1/catalog/asset/")))
        self.assertTrue([l for l in f["links"] if l["rel"] == "self"])
        for get, body in ((dict(fields="cm:emission,-geometry,-links,-assets.data.type"),
                           {"fields": {"include": ["properties.cm:emission"],
                                       "exclude": ["geometry", "links", "assets.data.type"]}}),):
            g = self.ok(self.get("/search", None, limit=3, filter="cm:emission >= 0", **get))
            p = self.ok(self.post(dict(body, limit=3, filter={"op": ">=", "args": [
                {"property": "cm:emission"}, 0]})))
            self.assertEqual(g["features"], p["features"])
            for f in g["features"]:
                self.assertNotIn("geometry", f)
                self.assertNotIn("links", f)
                self.assertEqual(sorted(f["properties"]), ["cm:emission", "datetime"])
                self.assertEqual(list(f["assets"]["data"]), ["href", "auth:refs"])
        # Excluding a default member; including a whole object but not one of its members.
        g = self.ok(self.get("/search", None, limit=2, fields="properties,-properties.rank,-bbox"))
        for f in g["features"]:
            self.assertNotIn("bbox", f)
            self.assertNotIn("rank", f["properties"])
            self.assertIn("cm:gas", f["properties"])
        # The page's own links and counts are untouched.
        self.assertEqual(g["numberReturned"], 2)
        self.assertTrue([l for l in g["links"] if l["rel"] == "next"])
        items = self.ok(self.get("/collections/%s/items" % PUBLIC_COLL, None, fields="-geometry",
                                 limit=2))
        self.assertNotIn("geometry", items["features"][0])

    # -- errors ----------------------------------------------------------------------------
    def test_errors_name_the_culprit(self):
        gets = [
            ({"query": '{"cm:gas":{"like":"C%"}}'}, "unknown operator \"like\""),
            ({"query": "{not json"}, "query must be a JSON object"),
            ({"query": '{"cm:gas":"CO2"}'}, "needs a non-empty object of operators"),
            ({"filter": "cm:gas = 'CO2'", "filter-lang": "cql-text"},
             "filter-lang \"cql-text\" is not supported"),
            ({"filter": "cm:gas = 'CO2'", "filter-crs": "EPSG:4326"},
             "filter-crs \"EPSG:4326\" is not supported"),
            ({"filter-lang": "sql"}, "filter-lang \"sql\""),
            ({"filter": "CASEI(cm:gas) = 'co2'"}, "CASEI is not supported"),
            ({"filter": "S_WITHIN(geometry, POINT(0 0))"}, "S_WITHIN is not supported"),
            ({"filter": "T_BEFORE(datetime, TIMESTAMP('2024-01-01T00:00:00Z'))"},
             "T_BEFORE is not supported"),
            ({"filter": "cm:gas = "}, "expected a property name or a literal"),
            ({"filter": "cm:emission = rank"}, "comparing two properties"),
            ({"filter": "{}", "filter-lang": "cql2-json"}, "expected an expression object"),
            ({"filter": "nosuchprop > 1"}, "\"nosuchprop\" is not queryable"),
            ({"query": '{"nosuchprop":{"eq":1}}'}, "\"nosuchprop\" is not queryable"),
            ({"sortby": "nosuchprop"}, "\"nosuchprop\" is not queryable"),
            ({"sortby": "-rank,rank"}, "given twice"),
            ({"fields": "assets[0]"}, "unsupported path \"assets[0]\""),
            ({"fields": "properties.*"}, "unsupported path"),
        ]
        for params, words in gets:
            with self.subTest(params=params):
                self.bad(self.get("/search", None, **params), words)
        posts = [
            ({"filter": "cm:gas = 'CO2'"}, "expected an expression object"),  # not CQL2 JSON
            ({"filter": {"op": "casei", "args": []}}, "casei is not supported"),
            ({"filter": {"op": "=", "args": [{"property": "x"}, 1]}, "filter-lang": "cql3"},
             "filter-lang \"cql3\""),
            ({"filter": {"op": "=", "args": [{"property": "x"}, 1]}, "filter-lang": "cql2-text"},
             "filter must be a string"),
            ({"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}, "filter-crs"),
            ({"sortby": "-rank"}, "sortby must be a non-empty array"),
            ({"sortby": [{"field": "rank", "direction": "up"}]}, "direction must be"),
            ({"fields": {"includes": ["id"]}}, "unknown member \"includes\""),
            ({"query": {"rank": {"between": [1, 2]}}}, "unknown operator \"between\""),
        ]
        for body, words in posts:
            with self.subTest(body=body):
                self.bad(self.post(body), words)
        # The CRS84 default is accepted explicitly.
        crs = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        self.ok(self.get("/search", None, filter="rank = 1", **{"filter-crs": crs}))
        self.ok(self.post({"filter": {"op": "=", "args": [{"property": "rank"}, 1]},
                           "filter-crs": crs, "filter-lang": "cql2-json"}))

    def test_hidden_property_looks_like_a_missing_one(self):
        """A Public caller naming a Partners-only property gets the same 400
        as for a property that exists nowhere; a Partners caller gets results."""
        for params in ({"filter": "secret = 'x1'"}, {"sortby": "secret"},
                       {"query": '{"secret":{"eq":"x1"}}'}):
            with self.subTest(params=params):
                a = self.bad(self.get("/search", self.public_token, **params))
                self.assertEqual(a, self.bad(self.get("/search", None, **params)))
                other = {k: v.replace("secret", "nosuchprop") for k, v in params.items()}
                self.assertEqual(a.replace("secret", "nosuchprop"),
                                 self.bad(self.get("/search", None, **other)))
                self.ok(self.get("/search", self.partner_token, **params))
        r = self.ok(self.get("/search", self.partner_token, filter="secret = 'x1'"))
        self.assertEqual([f["id"] for f in r["features"]], ["s1"])
        # Per collection: a property of another collection is not queryable there.
        self.bad(self.get("/collections/%s/items" % PARTNER_COLL, self.partner_token,
                          filter="note IS NULL"), "\"note\" is not queryable in this collection")

    def test_public_caller_never_sees_hidden_items(self):
        filters = ["cm:emission > 1000", "NOT rank < 50", "rank >= 100",
                   "collection = 'ext-partner'", "id IN ('s0', 'z1', 'i03')",
                   "cm:sector = '1B2' OR cm:gas = 'CO2'", "NOT cm:emission IS NULL",
                   "S_INTERSECTS(geometry, BBOX(-180, -90, 180, 90))", "TRUE"]
        for text in filters:
            for token in (None, self.public_token):
                with self.subTest(filter=text, token=bool(token)):
                    r = self.get("/search", token, filter=text, limit=100,
                                 sortby="-cm:emission")
                    doc = self.ok(r)
                    ids = {f["id"] for f in doc["features"]}
                    self.assertFalse(ids & HIDDEN_IDS, text)
                    self.assertEqual(doc["numberMatched"], len(ids))
                    self.assertNotIn("secret", r.text)

    # -- parameters are never ignored -----------------------------------------------------
    def test_every_documented_parameter_acts(self):
        """Each search parameter changes the result when valid and is a 400
        when invalid; unknown parameters are ignored, as before this change."""
        base = self.ok(self.get("/search", None, limit=100))
        base_ids = [f["id"] for f in base["features"]]
        valid = {"bbox": "-101,0,-95,50", "datetime": "2024-01-05T00:00:00Z/..",
                 "ids": "i01,i02", "collections": PUBLIC_COLL + "x",
                 "intersects": json.dumps({"type": "Point", "coordinates": [-100, 30]}),
                 "limit": "3", "offset": "2", "query": '{"rank":{"lt":3}}',
                 "filter": "rank < 3", "sortby": "rank", "fields": "-geometry"}
        invalid = {"bbox": "1,2", "datetime": "soon", "limit": "0", "offset": "-1",
                   "query": "[]", "filter": "rank <", "sortby": ",", "fields": "a..b",
                   "intersects": "{}", "filter-lang": "x", "filter-crs": "x"}
        for name, value in valid.items():
            with self.subTest(param=name):
                r = self.get("/search", None, **{name: value, "limit": value if name == "limit"
                                                 else 100})
                if name == "collections":  # an unknown collection is a 400 that names it
                    self.bad(r, PUBLIC_COLL + "x")
                    continue
                doc = self.ok(r)
                ids = [f["id"] for f in doc["features"]]
                if name == "fields":
                    self.assertEqual(ids, base_ids)
                    self.assertNotIn("geometry", doc["features"][0])
                else:
                    self.assertNotEqual(ids, base_ids, name)
        for name, value in invalid.items():
            with self.subTest(param=name, invalid=True):
                self.bad(self.get("/search", None, **{name: value}),
                         name.split("-")[0] if name != "intersects" else "intersects")
        # Unknown parameters are refused by name, never silently ignored;
        # so is a parameter given twice (which value would count?).
        self.bad(self.get("/search", None, limit=100, foo="bar"), "foo")
        self.bad(self.post({"limit": 100, "colour": "x"}), "colour")
        self.bad(self.post({"limit": 100, "access_token": "x"}), "access_token")
        r = self.server.get(BASE + "/search?limit=5&limit=6")
        self.bad(r, "limit")

    def test_every_documented_member_and_items_parameter_acts(self):
        """The same for the members of a POST /search body and for the
        parameters of GET /collections/{id}/items."""
        base = [f["id"] for f in self.ok(self.post({"limit": 100}))["features"]]
        valid = {"bbox": [-101, 0, -95, 50], "datetime": "2024-01-05T00:00:00Z/..",
                 "ids": ["i01", "i02"], "collections": [PARTNER_COLL],
                 "intersects": {"type": "Point", "coordinates": [-100, 30]},
                 "limit": 3, "offset": 2, "query": {"rank": {"lt": 3}},
                 "filter": {"op": "<", "args": [{"property": "rank"}, 3]},
                 "sortby": [{"field": "properties.rank"}], "fields": {"exclude": ["geometry"]}}
        invalid = {"bbox": [1, 2], "datetime": "soon", "ids": "i01", "collections": 5,
                   "intersects": {}, "limit": 0, "offset": -1, "query": [],
                   "filter": {"op": "<"}, "sortby": [], "fields": {"include": "id"},
                   "filter-lang": "x", "filter-crs": "x"}
        for name, value in valid.items():
            with self.subTest(member=name):
                doc = self.ok(self.post({name: value, "limit": value if name == "limit"
                                         else 100}, self.partner_token if
                                        name == "collections" else None))
                ids = [f["id"] for f in doc["features"]]
                if name == "fields":
                    self.assertEqual(ids, base)
                    self.assertNotIn("geometry", doc["features"][0])
                else:
                    self.assertNotEqual(ids, base, name)
        for name, value in invalid.items():
            with self.subTest(member=name, invalid=True):
                self.bad(self.post({name: value}), name.split("-")[0])
        path = "/collections/%s/items" % PUBLIC_COLL
        base = [f["id"] for f in self.ok(self.get(path, None, limit=100))["features"]]
        valid = {"bbox": "-101,0,-95,50", "datetime": "2024-01-05T00:00:00Z/..",
                 "limit": "3", "offset": "2", "query": '{"rank":{"lt":3}}',
                 "filter": "rank < 3", "sortby": "rank", "fields": "-geometry"}
        invalid = {"bbox": "1,2", "datetime": "soon", "limit": "0", "offset": "-1",
                   "query": "[]", "filter": "rank <", "sortby": ",", "fields": "a..b",
                   "filter-lang": "x", "filter-crs": "x"}
        for name, value in valid.items():
            with self.subTest(items_param=name):
                doc = self.ok(self.get(path, None, **{name: value, "limit": value if
                                                      name == "limit" else 100}))
                ids = [f["id"] for f in doc["features"]]
                if name == "fields":
                    self.assertEqual(ids, base)
                    self.assertNotIn("geometry", doc["features"][0])
                else:
                    self.assertNotEqual(ids, base, name)
        for name, value in invalid.items():
            with self.subTest(items_param=name, invalid=True):
                self.bad(self.get(path, None, **{name: value}), name.split("-")[0])

    def test_cached_pages_follow_the_extension_parameters(self):
        """The page cache keys on the whole query and body: pages that differ
        only in an extension parameter are never mixed up."""
        for _ in range(2):  # the second round may come from the cache
            seen = set()
            for params in ({"filter": "rank < 3"}, {"filter": "rank < 4"},
                           {"sortby": "rank"}, {"sortby": "-rank"}, {"fields": "-bbox"},
                           {"query": '{"rank":{"lt":2}}'}):
                doc = self.ok(self.get("/search", None, limit=5, **params))
                key = json.dumps(doc, sort_keys=True)
                self.assertNotIn(key, seen, params)
                seen.add(key)
            for body in ({"filter": {"op": "<", "args": [{"property": "rank"}, 3]}},
                         {"filter": {"op": "<", "args": [{"property": "rank"}, 4]}},
                         {"sortby": [{"field": "rank", "direction": "desc"}]}):
                doc = self.ok(self.post(dict(body, limit=5)))
                key = json.dumps(doc, sort_keys=True)
                self.assertNotIn(key, seen, body)
                seen.add(key)


if __name__ == "__main__":
    unittest.main()
