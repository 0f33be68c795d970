"""STAC API, group-dependent results and the asset endpoint over real HTTP.

The sample catalog is loaded with the CLI (public/ as Public, restricted/ as
Partners) into a fresh server. Two accounts, one only in Public and one also
in Partners, walk the catalog from the landing page and search it; the tests
check counts, 404s for hidden documents, 401/403 rules, clear 400s for
malformed parameters, Range downloads and path traversal refusal.
"""
import http.client
import json
import os
import tempfile
import unittest

import harness
from harness import SAMPLE_CATALOG, Server

PUBLIC_COLLECTIONS = {"methane-plumes", "co2-plumes"}
RESTRICTED_COLLECTION = "methane-plumes-partner-preview"
RESTRICTED_ITEM = "ch4-partner-bakken-20250502"
PERMIAN_BBOX = "-104.5,31,-103,32.5"
PUBLIC_ASSET = "methane/ch4-permian-20230614a/plume.geojson"
RESTRICTED_ASSET = "partner/ch4-partner-bakken-20250502/rgb.png"


def load_json(path):
    with open(path) as f:
        return json.load(f)


def import_sample(server):
    server.cli("stac", "import", os.path.join(SAMPLE_CATALOG, "public"), "--visibility", "Public")
    server.cli("stac", "import", os.path.join(SAMPLE_CATALOG, "restricted"),
               "--visibility", "Partners")


class StacTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        s = cls.server
        s.cli("migrate")
        import_sample(s)
        s.start()
        # A Public-only account and a partner account, each with a create-stac token.
        cls.public_email, pair = s.new_account()
        cls.public_token = s.create_stac_token(pair["access"])["token_value"]
        cls.partner_email, _ = s.new_account()
        s.cli("group", "add", "Partners", check=False)
        s.cli("user", "set", cls.partner_email, "--groups", "Public,Partners")
        pair = s.login(cls.partner_email)
        cls.partner_access = pair["access"]
        cls.partner_token = s.create_stac_token(pair["access"])["token_value"]
        # A valid token of the public account without `stac` / `catalog:read`.
        res = s.cli("token", "create", cls.public_email, "--scopes", "tokens:read")
        cls.no_stac_token = res.stdout.strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    # -- helpers -------------------------------------------------------------
    def get(self, path, token=None, **kw):
        return self.server.get(path, token=token, **kw)

    def get_url(self, url, token=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return harness.requests.get(url, headers=headers, timeout=30)

    def link(self, doc, rel, method=None):
        for l in doc["links"]:
            if l["rel"] == rel and (method is None or l.get("method", "GET") == method):
                return l
        return None

    def assert_bad_param(self, resp, word):
        self.assertEqual(resp.status_code, 400, resp.text)
        body = resp.json()
        self.assertEqual(body["code"], "invalid_parameter", body)
        self.assertIn(word, body["detail"])

    def page_through(self, first_url, token, post_body=None):
        """Follows next links (GET or POST); returns (ids, numberMatched, pages)."""
        ids, pages, matched = [], 0, None
        if post_body is None:
            resp = self.get_url(first_url, token)
        else:
            resp = harness.requests.post(first_url, json=post_body, timeout=30, headers=(
                {"Authorization": "Bearer " + token} if token else {}))
        while True:
            self.assertEqual(resp.status_code, 200, resp.text)
            self.assertTrue(resp.headers["Content-Type"].startswith("application/geo+json"))
            doc = resp.json()
            self.assertEqual(doc["type"], "FeatureCollection")
            self.assertEqual(doc["numberReturned"], len(doc["features"]))
            if matched is None:
                matched = doc["numberMatched"]
            self.assertEqual(doc["numberMatched"], matched)
            ids += [f["id"] for f in doc["features"]]
            pages += 1
            self.assertLess(pages, 50, "next links loop")
            nxt = self.link(doc, "next")
            if not nxt:
                break
            self.assertTrue(nxt["href"].startswith(self.server.url("/")), nxt)
            headers = {"Authorization": "Bearer " + token} if token else {}
            if nxt.get("method") == "POST":
                resp = harness.requests.post(nxt["href"], json=nxt["body"], headers=headers,
                                             timeout=30)
            else:
                resp = harness.requests.get(nxt["href"], headers=headers, timeout=30)
        self.assertEqual(len(ids), len(set(ids)), "an item appeared on two pages")
        return ids, matched, pages

    def walk(self, token):
        """Landing → data → every collection's items (paged); and search → paged."""
        resp = self.get("/api/v1/stac/", token)
        self.assertEqual(resp.status_code, 200, resp.text)
        landing = resp.json()
        self.assertEqual(landing["type"], "Catalog")
        for c in ("core", "collections", "ogcapi-features", "item-search"):
            self.assertIn("https://api.stacspec.org/v1.0.0/" + c, landing["conformsTo"])
        self.assertIn("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                      landing["conformsTo"])
        for rel in ("self", "root", "conformance", "data", "service-desc"):
            l = self.link(landing, rel)
            self.assertIsNotNone(l, rel)
            self.assertTrue(l["href"].startswith("http://127.0.0.1:%d/" % self.server.port), l)
        self.assertTrue(self.link(landing, "service-desc")["href"].endswith("/api/v1/openapi.json"))
        self.assertIsNotNone(self.link(landing, "search", "GET"))
        self.assertIsNotNone(self.link(landing, "search", "POST"))
        conf = self.get_url(self.link(landing, "conformance")["href"], token)
        self.assertEqual(conf.json()["conformsTo"], landing["conformsTo"])

        colls = self.get_url(self.link(landing, "data")["href"], token).json()["collections"]
        collection_ids = {c["id"] for c in colls}
        item_ids = []
        for c in colls:
            items = self.link(c, "items")
            self.assertIsNotNone(items, c["id"])
            ids, matched, _ = self.page_through(items["href"] + "?limit=3", token)
            self.assertEqual(matched, len(ids))
            item_ids += ids
            # Every item can be fetched through its own self link.
        search = self.link(landing, "search", "GET")["href"]
        sids, smatched, spages = self.page_through(search + "?limit=5", token)
        self.assertEqual(sorted(sids), sorted(item_ids))
        self.assertEqual(smatched, len(sids))
        self.assertEqual(spages, (len(sids) + 4) // 5)
        post = self.link(landing, "search", "POST")["href"]
        pids, _, _ = self.page_through(post, token, post_body={"limit": 4})
        self.assertEqual(sorted(pids), sorted(item_ids))
        return collection_ids, item_ids

    # -- walks ----------------------------------------------------------------
    def test_anonymous_walk_sees_public_view(self):
        colls, items = self.walk(None)
        self.assertEqual(colls, PUBLIC_COLLECTIONS)
        self.assertEqual(len(items), 12)

    def test_public_account_walk_equals_public_view(self):
        colls, items = self.walk(self.public_token)
        self.assertEqual(colls, PUBLIC_COLLECTIONS)
        self.assertEqual(len(items), 12)

    def test_partner_walk_sees_more(self):
        colls, items = self.walk(self.partner_token)
        self.assertEqual(colls, PUBLIC_COLLECTIONS | {RESTRICTED_COLLECTION})
        self.assertEqual(len(items), 17)
        self.assertIn(RESTRICTED_ITEM, items)
        # The session access JWT works as well.
        r = self.get("/api/v1/stac/search?limit=1", self.partner_access)
        self.assertEqual(r.json()["numberMatched"], 17)

    def test_item_links_and_assets_are_absolute(self):
        r = self.get("/api/v1/stac/collections/methane-plumes/items/ch4-permian-20230614a")
        self.assertEqual(r.status_code, 200, r.text)
        item = r.json()
        base = self.server.url("/api/v1/")
        self.assertEqual(self.link(item, "self")["href"],
                         base + "stac/collections/methane-plumes/items/ch4-permian-20230614a")
        self.assertEqual(self.link(item, "collection")["href"],
                         base + "stac/collections/methane-plumes")
        self.assertEqual(self.link(item, "license")["href"],
                         "https://creativecommons.org/licenses/by/4.0/")
        self.assertEqual(item["assets"]["plume"]["href"], base + "catalog/asset/" + PUBLIC_ASSET)
        coll = self.get_url(self.link(item, "collection")["href"]).json()
        self.assertEqual(coll["id"], "methane-plumes")
        self.assertEqual(coll["license"], "CC-BY-4.0")

    # -- group-dependent results ---------------------------------------------
    def test_two_accounts_get_different_results(self):
        path = "/api/v1/stac/search?bbox=" + PERMIAN_BBOX
        pub = self.get(path, self.public_token).json()
        par = self.get(path, self.partner_token).json()
        self.assertEqual(pub["numberMatched"], 2)
        self.assertEqual(par["numberMatched"], 4)
        self.assertLess(set(f["id"] for f in pub["features"]),
                        set(f["id"] for f in par["features"]))
        body = {"collections": [RESTRICTED_COLLECTION], "limit": 100}
        self.assertEqual(self.server.post("/api/v1/stac/search", body,
                                          token=self.partner_token).json()["numberMatched"], 5)
        r = self.server.post("/api/v1/stac/search", body, token=self.public_token)
        self.assert_bad_param(r, RESTRICTED_COLLECTION)
        ids = "ids=%s,ch4-algeria-20241112" % RESTRICTED_ITEM
        self.assertEqual(self.get("/api/v1/stac/search?" + ids,
                                  self.public_token).json()["numberMatched"], 1)
        self.assertEqual(self.get("/api/v1/stac/search?" + ids,
                                  self.partner_token).json()["numberMatched"], 2)

    def test_hidden_documents_are_404_like_missing_ones(self):
        coll = "/api/v1/stac/collections/" + RESTRICTED_COLLECTION
        item = coll + "/items/" + RESTRICTED_ITEM
        for token in (None, self.public_token):
            for path in (coll, coll + "/items", item):
                r = self.get(path, token)
                self.assertEqual(r.status_code, 404, (path, r.text))
            missing = self.get("/api/v1/stac/collections/no-such-collection", token)
            self.assertEqual(self.get(coll, token).json(), missing.json())
            missing_item = self.get("/api/v1/stac/collections/co2-plumes/items/no-such-item",
                                    token)
            self.assertEqual(missing_item.status_code, 404)
        for path in (coll, item):
            self.assertEqual(self.get(path, self.partner_token).status_code, 200, path)
        r = self.get(coll + "/items", self.partner_token)
        self.assertEqual(r.json()["numberMatched"], 5)
        # An item asked for under the wrong collection is not found either.
        r = self.get("/api/v1/stac/collections/co2-plumes/items/" + RESTRICTED_ITEM,
                     self.partner_token)
        self.assertEqual(r.status_code, 404)

    # -- credentials -----------------------------------------------------------
    def test_invalid_token_is_401_even_on_public_endpoints(self):
        for path in ("/api/v1/stac/", "/api/v1/stac/collections", "/api/v1/stac/search"):
            r = self.get(path, "sk.bm90LWEtdG9rZW4.garbage")
            self.assertEqual(r.status_code, 401, r.text)
            self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))
            r = self.get(path + "?access_token=pk.nonsense")
            self.assertEqual(r.status_code, 401, r.text)
        r = self.get("/api/v1/stac/", headers={"Authorization": "Basic Zm9vOmJhcg=="})
        self.assertEqual(r.status_code, 401)

    def test_token_without_stac_scope_is_403(self):
        r = self.get("/api/v1/stac/search", self.no_stac_token)
        self.assertEqual(r.status_code, 403, r.text)
        self.assertEqual(r.json()["code"], "insufficient_scope")
        self.assertIn('error="insufficient_scope"', r.headers.get("WWW-Authenticate", ""))
        r = self.server.post("/api/v1/stac/search", {}, token=self.no_stac_token)
        self.assertEqual(r.status_code, 403)

    def test_access_token_query_parameter_is_kept_in_next_links(self):
        r = self.get("/api/v1/stac/search?limit=10&access_token=" + self.partner_token)
        doc = r.json()
        self.assertEqual(doc["numberMatched"], 17)
        nxt = self.link(doc, "next")["href"]
        self.assertIn("offset=10", nxt)
        doc2 = self.get_url(nxt).json()
        self.assertEqual(doc2["numberReturned"], 7)
        self.assertIsNotNone(self.link(doc2, "prev"))

    # -- search parameters -----------------------------------------------------
    def test_malformed_parameters_are_clear_400s(self):
        cases = [
            ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=0,10,1,5", "bbox"),
            ("bbox=-200,0,0,1", "bbox"), ("datetime=yesterday", "datetime"),
            ("datetime=2024-13-01T00:00:00Z", "datetime"),
            ("datetime=2025-01-01T00:00:00Z/2024-01-01T00:00:00Z", "datetime"),
            ("limit=", "limit"), ("limit=0", "limit"), ("limit=ten", "limit"),
            ("limit=-5", "limit"), ("offset=-1", "offset"), ("offset=x", "offset"),
            ("collections=no-such-collection", "no-such-collection"),
            ("intersects=notjson", "intersects"),
            ('intersects={"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}', "intersects"),
            ('bbox=0,0,1,1&intersects={"type":"Point","coordinates":[0,0]}', "intersects"),
        ]
        for query, word in cases:
            with self.subTest(query=query):
                self.assert_bad_param(self.get("/api/v1/stac/search?" + query), word)
        self.assert_bad_param(self.get("/api/v1/stac/collections/co2-plumes/items?limit=0"),
                              "limit")
        self.assertEqual(self.get("/api/v1/stac/collections/nope/items").status_code, 404)
        self.assertEqual(self.get("/api/v1/stac/collections/nope").json()["code"], "not_found")
        bodies = [({"limit": 0}, "limit"), ({"limit": "5"}, "limit"), ({"limit": 2.5}, "limit"),
                  ({"bbox": "1,2,3,4"}, "bbox"), ({"bbox": [1, 2, 3]}, "bbox"),
                  ({"datetime": 5}, "datetime"), ({"ids": "a"}, "ids"),
                  ({"collections": [1]}, "collections"), ({"intersects": {"type": "Blob"}},
                                                          "intersects"),
                  ({"collections": ["nope"]}, "nope")]
        for body, word in bodies:
            with self.subTest(body=body):
                self.assert_bad_param(self.server.post("/api/v1/stac/search", body), word)
        r = self.server.request("POST", "/api/v1/stac/search", data=b"{not json",
                                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status_code, 400)

    def test_datetime_filters(self):
        def count(q):
            r = self.get("/api/v1/stac/search?limit=100&datetime=" + q)
            self.assertEqual(r.status_code, 200, r.text)
            return r.json()["numberMatched"]
        self.assertEqual(count("2023-09-21T17:15:02Z"), 1)
        self.assertEqual(count("2024-01-01T00:00:00Z/2024-12-31T23:59:59Z"), 5)
        self.assertEqual(count("../2023-12-31T23:59:59Z"), 4)
        self.assertEqual(count("2025-01-01T00:00:00Z/.."), 3)
        self.assertEqual(count("2025-01-01T00:00:00Z/"), 3)
        self.assertEqual(count("2024-01-01T02:00:00%2B02:00/.."), 8)
        r = self.server.post("/api/v1/stac/search", {"datetime": "2025-01-01T00:00:00Z/..",
                                                     "limit": 100}, token=self.partner_token)
        self.assertEqual(r.json()["numberMatched"], 8)

    def test_intersects_point_and_polygon(self):
        point = {"type": "Point", "coordinates": [-103.612, 31.874]}
        r = self.get("/api/v1/stac/search", params={"intersects": json.dumps(point)})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual([f["id"] for f in r.json()["features"]], ["ch4-permian-20230614a"])
        # In the footprint's bounding box, outside the footprint itself.
        outside = {"type": "Point", "coordinates": [-103.6235, 31.8815]}
        r = self.server.post("/api/v1/stac/search", {"intersects": outside})
        self.assertEqual(r.json()["numberMatched"], 0)
        poly = {"type": "Polygon", "coordinates": [[[-104.5, 31], [-103, 31], [-103, 32.5],
                                                    [-104.5, 32.5], [-104.5, 31]]]}
        self.assertEqual(self.server.post("/api/v1/stac/search", {"intersects": poly}).json()
                         ["numberMatched"], 2)
        self.assertEqual(self.server.post("/api/v1/stac/search", {"intersects": poly},
                                          token=self.partner_token).json()["numberMatched"], 4)

    # -- assets ----------------------------------------------------------------
    def asset_path(self, key):
        return "/api/v1/catalog/asset/" + key

    def test_asset_download_and_ranges(self):
        with open(os.path.join(SAMPLE_CATALOG, "assets", PUBLIC_ASSET), "rb") as f:
            data = f.read()
        path = self.asset_path(PUBLIC_ASSET)
        r = self.get(path, self.public_token)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.content, data)
        self.assertEqual(r.headers["Content-Type"], "application/geo+json")
        self.assertEqual(r.headers.get("Accept-Ranges"), "bytes")
        r = self.get(path, self.public_token, headers={"Range": "bytes=0-9"})
        self.assertEqual(r.status_code, 206)
        self.assertEqual(r.content, data[:10])
        self.assertEqual(r.headers["Content-Range"], "bytes 0-9/%d" % len(data))
        r = self.get(path, self.public_token, headers={"Range": "bytes=-7"})
        self.assertEqual((r.status_code, r.content), (206, data[-7:]))
        r = self.get(path, self.public_token, headers={"Range": "bytes=100-"})
        self.assertEqual((r.status_code, r.content), (206, data[100:]))
        r = self.get(path, self.public_token, headers={"Range": "bytes=5-100000"})
        self.assertEqual((r.status_code, r.content), (206, data[5:]))
        r = self.get(path, self.public_token, headers={"Range": "bytes=%d-" % len(data)})
        self.assertEqual(r.status_code, 416)
        self.assertEqual(r.headers["Content-Range"], "bytes */%d" % len(data))
        r = self.get(self.asset_path("methane/ch4-permian-20230614a/rgb.png"), self.public_token)
        self.assertEqual(r.headers["Content-Type"], "image/png")
        self.assertTrue(r.content.startswith(b"\x89PNG"))
        # The absolute href in the item document is the URL that works.
        item = self.get("/api/v1/stac/collections/methane-plumes/items/ch4-permian-20230614a")
        href = item.json()["assets"]["plume"]["href"]
        self.assertEqual(self.get_url(href, self.public_token).content, data)

    def test_asset_access_rules(self):
        path = self.asset_path(PUBLIC_ASSET)
        self.assertEqual(self.get(path).status_code, 401)
        self.assertEqual(self.get(path, "sk.bad.token").status_code, 401)
        r = self.get(path, self.no_stac_token)
        self.assertEqual(r.status_code, 403)
        self.assertEqual(r.json()["code"], "insufficient_scope")
        self.assertEqual(self.get(self.asset_path(RESTRICTED_ASSET), self.public_token).status_code,
                         404)
        r = self.get(self.asset_path(RESTRICTED_ASSET), self.partner_token)
        self.assertEqual(r.status_code, 200)
        # A file in the asset directory that no item references is not served.
        self.assertEqual(self.get(self.asset_path("README.txt"), self.public_token).status_code,
                         404)
        self.assertEqual(self.get(self.asset_path("nope.png"), self.public_token).status_code,
                         404)

    def raw_get(self, raw_path, token):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request("GET", raw_path, headers={"Authorization": "Bearer " + token})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def test_asset_path_traversal_is_refused(self):
        for raw in ("/api/v1/catalog/asset/../../../../etc/passwd",
                    "/api/v1/catalog/asset/methane/../../../etc/passwd",
                    "/api/v1/catalog/asset/%2e%2e/%2e%2e/etc/passwd",
                    "/api/v1/catalog/asset/methane%2F..%2F..%2F..%2Fetc%2Fpasswd",
                    "/api/v1/catalog/asset/./methane/ch4-permian-20230614a/rgb.png",
                    "/api/v1/catalog/asset/%2Fetc%2Fpasswd",
                    "/api/v1/catalog/asset/methane\\..\\..\\etc\\passwd"):
            with self.subTest(path=raw):
                status, body = self.raw_get(raw, self.partner_token)
                self.assertIn(status, (400, 404), body)
                self.assertNotIn(b"root:", body)

    # -- import through the CLI -------------------------------------------------
    def test_cli_import_rejects_bad_documents_and_loads_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            coll = load_json(os.path.join(SAMPLE_CATALOG, "public", "co2-plumes",
                                          "collection.json"))
            coll["id"] = "half-imported"
            with open(os.path.join(d, "a.json"), "w") as f:
                json.dump(coll, f)
            with open(os.path.join(d, "b.json"), "w") as f:
                json.dump({"type": "Feature", "stac_version": "1.0.0", "id": "x",
                           "collection": "half-imported", "geometry": None,
                           "properties": {}, "links": [], "assets": {}}, f)
            res = self.server.cli("stac", "import", d, "--visibility", "Public", check=False)
            self.assertNotEqual(res.returncode, 0)
            self.assertIn("b.json", res.stderr)
            self.assertIn("datetime", res.stderr)
        self.assertEqual(self.get("/api/v1/stac/collections/half-imported").status_code, 404)
        self.assertEqual(self.get("/api/v1/stac/search").json()["numberMatched"], 12)


class SearchPageCacheTest(unittest.TestCase):
    """Search pages are cached (stac_cache_mb); a cached page must be exactly
    what the server would build now: the same as a server without the cache,
    per caller's groups, Host and query, and never older than the catalog."""

    QUERIES = [
        ("GET", "/api/v1/stac/search", None),
        ("GET", "/api/v1/stac/search?limit=3&offset=3", None),
        ("GET", "/api/v1/stac/search?offset=3&limit=3", None),
        ("GET", "/api/v1/stac/search?bbox=" + PERMIAN_BBOX, None),
        ("GET", "/api/v1/stac/search?limit", None),
        ("GET", "/api/v1/stac/collections/methane-plumes/items?limit=2", None),
        ("GET", "/api/v1/stac/collections/%s/items" % RESTRICTED_COLLECTION, None),
        ("POST", "/api/v1/stac/search", {"limit": 4}),
        ("POST", "/api/v1/stac/search", {"limit": 4, "offset": 4}),
        ("POST", "/api/v1/stac/search", {"limit": 4, "collections": [RESTRICTED_COLLECTION]}),
    ]

    @classmethod
    def setUpClass(cls):
        cls.cached = Server()
        cls.plain = Server(settings={"stac-cache-mb": "0"})
        cls.tokens = {}
        for s in (cls.cached, cls.plain):
            s.cli("migrate")
            import_sample(s)
            s.cli("group", "add", "Partners", check=False)
            s.start()
            public_email, pair = s.new_account()
            partner_email, _ = s.new_account()
            s.cli("user", "set", partner_email, "--groups", "Public,Partners")
            partner = s.login(partner_email)
            cls.tokens[s] = {
                "anonymous": None,
                "public": s.create_stac_token(pair["access"])["token_value"],
                "partner": s.create_stac_token(partner["access"])["token_value"],
                "partner_email": partner_email,
            }

    @classmethod
    def tearDownClass(cls):
        cls.cached.close()
        cls.plain.close()

    def ask(self, server, method, path, body, who, host=None):
        headers = {"Host": host} if host else {}
        if method == "GET":
            return server.get(path, token=self.tokens[server][who], headers=headers)
        return server.post(path, body, token=self.tokens[server][who], headers=headers)

    def normalized(self, server, resp):
        text = resp.text.replace("127.0.0.1:%d" % server.port, "HOST")
        return resp.status_code, text

    def cache_hits(self):
        text = self.cached.get("/metrics").text
        for line in text.splitlines():
            if line.startswith('tessera_stac_page_cache_lookups_total{result="hit"}'):
                return int(line.split()[-1])
        self.fail("no cache metrics:\n" + text)

    def test_cached_pages_equal_uncached_ones(self):
        before = self.cache_hits()
        for round_ in range(2):  # the second round is served from the cache
            for who in ("anonymous", "public", "partner"):
                for method, path, body in self.QUERIES:
                    want = self.normalized(self.plain, self.ask(self.plain, method, path, body, who))
                    got = self.normalized(self.cached,
                                          self.ask(self.cached, method, path, body, who))
                    self.assertEqual(got, want, (round_, who, method, path, body))
        self.assertGreaterEqual(self.cache_hits() - before, 3 * len(self.QUERIES) - 6)

    def test_host_is_part_of_the_key(self):
        path = "/api/v1/stac/search?limit=1"
        a = self.ask(self.cached, "GET", path, None, "public", host="one.example").json()
        b = self.ask(self.cached, "GET", path, None, "public", host="two.example").json()
        self.assertTrue(all("//one.example/" in l["href"] for l in a["links"]), a["links"])
        self.assertTrue(all("//two.example/" in l["href"] for l in b["links"]), b["links"])

    def test_a_page_never_carries_another_callers_token(self):
        """Next links keep the caller's access_token; two accounts of the same
        groups asking the same page must each get their own token back."""
        s = self.cached
        tokens = []
        for _ in range(2):
            _, pair = s.new_account()
            tokens.append(s.create_stac_token(pair["access"])["token_value"])
        for _ in range(2):  # the second round comes from the cache
            for mine, other in (tokens, tokens[::-1]):
                r = s.get("/api/v1/stac/search?limit=2&access_token=" + mine)
                self.assertEqual(r.status_code, 200, r.text)
                self.assertIn(mine, r.text)
                self.assertNotIn(other, r.text)

    def test_catalog_changes_show_on_the_next_request(self):
        """A `tessera stac import` by another process while serving: the very
        next request sees it, cached page or not."""
        path = "/api/v1/stac/search?collections=co2-plumes&limit=100"
        first = self.ask(self.cached, "GET", path, None, "anonymous").json()
        again = self.ask(self.cached, "GET", path, None, "anonymous").json()
        self.assertEqual(first, again)
        items = load_json(os.path.join(SAMPLE_CATALOG, "public", "co2-plumes", "items.json"))
        added = dict(items["features"][0])
        added["id"] = "co2-cache-test-new-item"
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "item.json"), "w") as f:
                json.dump(added, f)
            self.cached.cli("stac", "import", d, "--visibility", "Public")
        after = self.ask(self.cached, "GET", path, None, "anonymous").json()
        self.assertEqual(after["numberMatched"], first["numberMatched"] + 1)
        self.assertIn("co2-cache-test-new-item", [f["id"] for f in after["features"]])
        # Visibility is part of the catalog too: re-importing the restricted
        # collection as Public shows it to anonymous callers at once.
        restricted = "/api/v1/stac/collections/%s/items" % RESTRICTED_COLLECTION
        self.assertEqual(self.ask(self.cached, "GET", restricted, None, "anonymous").status_code,
                         404)
        self.cached.cli("stac", "import", os.path.join(SAMPLE_CATALOG, "restricted"),
                        "--visibility", "Public")
        try:
            r = self.ask(self.cached, "GET", restricted, None, "anonymous")
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(r.json()["numberMatched"], 5)
        finally:
            self.cached.cli("stac", "import", os.path.join(SAMPLE_CATALOG, "restricted"),
                            "--visibility", "Partners")
        self.assertEqual(self.ask(self.cached, "GET", restricted, None, "anonymous").status_code,
                         404)

    def test_group_change_shows_on_the_next_request(self):
        path = "/api/v1/stac/search?limit=100"
        email = self.tokens[self.cached]["partner_email"]
        full = self.ask(self.cached, "GET", path, None, "partner").json()["numberMatched"]
        public = self.ask(self.cached, "GET", path, None, "public").json()["numberMatched"]
        self.assertGreater(full, public)
        self.cached.cli("user", "set", email, "--groups", "Public")
        try:
            self.assertEqual(self.ask(self.cached, "GET", path, None,
                                      "partner").json()["numberMatched"], public)
        finally:
            self.cached.cli("user", "set", email, "--groups", "Public,Partners")
        self.assertEqual(self.ask(self.cached, "GET", path, None,
                                  "partner").json()["numberMatched"], full)

    def test_revoked_token_is_refused_even_for_a_cached_page(self):
        s = self.cached
        _, pair = s.new_account()
        tok = s.create_stac_token(pair["access"])
        path = "/api/v1/stac/search?limit=2"
        self.assertEqual(s.get(path, token=tok["token_value"]).status_code, 200)
        self.assertEqual(s.get(path, token=tok["token_value"]).status_code, 200)
        r = s.request("DELETE", "/api/v1/account/tokens/%s" % tok["id"], pair["access"])
        self.assertIn(r.status_code, (200, 204), r.text)
        self.assertEqual(s.get(path, token=tok["token_value"]).status_code, 401)


class AssetSymlinkTest(unittest.TestCase):
    """A symlink inside the asset directory that points outside it is not followed."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="tessera-assets-")
        assets = os.path.join(cls.tmp.name, "assets")
        os.makedirs(os.path.join(assets, "d"))
        outside = os.path.join(cls.tmp.name, "secret.txt")
        with open(outside, "w") as f:
            f.write("top secret\n")
        with open(os.path.join(assets, "d", "ok.txt"), "w") as f:
            f.write("hello asset\n")
        os.symlink(outside, os.path.join(assets, "d", "escape.txt"))
        os.symlink(os.path.join(assets, "d", "ok.txt"), os.path.join(assets, "d", "inside.txt"))
        cat = os.path.join(cls.tmp.name, "cat")
        os.makedirs(cat)
        coll = load_json(os.path.join(SAMPLE_CATALOG, "public", "co2-plumes",
                                      "collection.json"))
        coll["id"] = "links"
        item = {"type": "Feature", "stac_version": "1.0.0", "id": "i", "collection": "links",
                "geometry": {"type": "Point", "coordinates": [0, 0]},
                "properties": {"datetime": "2024-01-01T00:00:00Z"}, "links": [],
                "assets": {k: {"href": "d/%s.txt" % k} for k in ("ok", "escape", "inside")}}
        with open(os.path.join(cat, "c.json"), "w") as f:
            json.dump(coll, f)
        with open(os.path.join(cat, "i.json"), "w") as f:
            json.dump(item, f)
        cls.server = Server(asset_dir=assets)
        cls.server.cli("migrate")
        cls.server.cli("stac", "import", cat, "--visibility", "Public")
        cls.server.start()
        email, pair = cls.server.new_account()
        cls.token = cls.server.create_stac_token(pair["access"])["token_value"]

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.tmp.cleanup()

    def test_symlinks(self):
        r = self.server.get("/api/v1/catalog/asset/d/ok.txt", token=self.token)
        self.assertEqual((r.status_code, r.text), (200, "hello asset\n"))
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
        r = self.server.get("/api/v1/catalog/asset/d/inside.txt", token=self.token)
        self.assertEqual(r.status_code, 200)
        r = self.server.get("/api/v1/catalog/asset/d/escape.txt", token=self.token)
        self.assertEqual(r.status_code, 404)
        self.assertNotIn("secret", r.text)


if __name__ == "__main__":
    unittest.main()
