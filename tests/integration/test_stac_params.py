"""STAC API parameters and deployment over real HTTP (issue 11, item 3).

A generated catalog (a bulk collection of 120 items, historical items from
before 1970 and from year 0001, items whose datetimes carry 7-9 fractional
digits, and assets of the types in use) is imported into fresh servers, which
are then asked about: limit clamping, the full RFC 3339 datetime range,
malformed intervals, CORS preflight and actual responses, forwarded headers
from trusted and untrusted peers (hostile values included), the service-desc
content type, conditional / ranged / HEAD asset downloads (GDAL's /vsicurl
included), and a real nginx serving Tessera under a path prefix.
"""
import email.utils as email_utils
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server

GDALINFO = shutil.which("gdalinfo")

BULK = 120  # more than the maximum page size (100)


def feature(coll, iid, props, assets=None):
    return {"type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": coll,
            "geometry": {"type": "Point", "coordinates": [10.0, 50.0]},
            "properties": props, "links": [], "assets": assets or {}}


def collection(cid, interval):
    return {"type": "Collection", "stac_version": "1.0.0", "id": cid,
            "description": "test collection " + cid, "license": "CC-BY-4.0",
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [interval]}},
            "links": []}


# Historical items: (id, properties); datetimes before 1970 and far back.
HISTORICAL = [
    ("h-1900", {"datetime": "1900-01-01T00:00:00Z"}),
    ("h-1969", {"datetime": "1969-12-31T23:59:59.999Z"}),
    ("h-0001", {"datetime": "0001-01-01T00:00:00Z"}),
    ("h-1850-range", {"datetime": None, "start_datetime": "1850-06-01T00:00:00+01:00",
                      "end_datetime": "1851-06-01T00:00:00-05:00"}),
    ("h-frac7", {"datetime": "1955-05-05T05:05:05.1234567Z"}),
    ("h-frac9", {"datetime": "2001-02-03T04:05:06.123456789+00:00"}),
]

# Asset files: name -> (bytes, declared type or None)
TIFF_BYTES = b"II*\x00" + bytes(range(256)) * 8
ASSETS = {
    "cog.tif": (TIFF_BYTES, "image/tiff; application=geotiff; profile=cloud-optimized"),
    "plain.tif": (TIFF_BYTES, None),
    "declared-plain.tiff": (TIFF_BYTES, "image/tiff; application=geotiff"),
    "pic.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
    "shape.geojson": (b'{"type":"FeatureCollection","features":[]}', None),
    "meta.json": (b'{"a":1}', None),
    "table.csv": (b"a,b\n1,2\n", None),
    "layers.gpkg": (b"SQLite format 3\x00" + b"\x00" * 100, None),
}
EXPECTED_TYPES = {
    "cog.tif": "image/tiff; application=geotiff; profile=cloud-optimized",
    "plain.tif": "image/tiff; application=geotiff",
    "declared-plain.tiff": "image/tiff; application=geotiff",
    "pic.png": "image/png",
    "shape.geojson": "application/geo+json",
    "meta.json": "application/json",
    "table.csv": "text/csv",
    "layers.gpkg": "application/geopackage+sqlite3",
}


def build_catalog(root):
    """Writes the test catalog under root/catalog and its assets under
    root/assets; returns (catalog_dir, asset_dir)."""
    cat = os.path.join(root, "catalog")
    assets = os.path.join(root, "assets")
    os.makedirs(cat)
    os.makedirs(os.path.join(assets, "files"))
    docs = [collection("bulk", ["2020-01-01T00:00:00Z", None]),
            collection("historical", ["0001-01-01T00:00:00Z", "2001-12-31T23:59:59.999999999Z"]),
            collection("files", ["1960-01-01T00:00:00Z", None])]
    feats = [feature("bulk", "b%03d" % i, {"datetime": "2020-01-01T00:%02d:%02dZ" % (i // 60, i % 60)})
             for i in range(BULK)]
    feats += [feature("historical", iid, props) for iid, props in HISTORICAL]
    file_assets = {}
    for name, (data, declared) in ASSETS.items():
        with open(os.path.join(assets, "files", name), "wb") as f:
            f.write(data)
        a = {"href": "./files/" + name}
        if declared:
            a["type"] = declared
        file_assets[name.replace(".", "_")] = a
    # Written by the GDAL test, when GDAL is there to make a real COG.
    file_assets["gdal_cog"] = {"href": "./files/gdal-cog.tif", "type": EXPECTED_TYPES["cog.tif"]}
    feats.append(feature("files", "f1", {"datetime": "1960-06-01T00:00:00Z"}, file_assets))
    for i, d in enumerate(docs):
        with open(os.path.join(cat, "c%d.json" % i), "w") as f:
            json.dump(d, f)
    with open(os.path.join(cat, "items.json"), "w") as f:
        json.dump({"type": "FeatureCollection", "features": feats}, f)
    return cat, assets


def start_server(settings=None):
    """A server with the test catalog imported as Public."""
    tmp = tempfile.TemporaryDirectory(prefix="tessera-params-")
    cat, assets = build_catalog(tmp.name)
    s = Server(settings=settings, asset_dir=assets)
    s.catalog_tmp = tmp
    s.cli("migrate")
    s.cli("stac", "import", cat, "--visibility", "Public")
    s.start()
    return s


def stop_server(s):
    try:
        s.close()
    finally:
        s.catalog_tmp.cleanup()


class ParamsTest(unittest.TestCase):
    """limit and datetime on a server with default settings."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_server()

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server)

    def search(self, query):
        r = self.server.get("/api/v1/stac/search?" + query)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def post_search(self, body):
        r = self.server.post("/api/v1/stac/search", body)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def assert_bad(self, r, word):
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json()["code"], "invalid_parameter")
        self.assertIn(word, r.json()["detail"])

    # -- limit -----------------------------------------------------------------
    def test_limit_above_maximum_is_served_as_maximum(self):
        doc = self.search("collections=bulk&limit=1000")
        self.assertEqual(doc["numberMatched"], BULK)
        self.assertEqual(doc["numberReturned"], 100)
        self.assertEqual(len(doc["features"]), 100)
        nxt = [l for l in doc["links"] if l["rel"] == "next"][0]
        r = harness.requests.get(nxt["href"], timeout=30)
        self.assertEqual(r.json()["numberReturned"], BULK - 100)
        doc = self.search("collections=bulk&limit=101")
        self.assertEqual(doc["numberReturned"], 100)
        r = self.server.get("/api/v1/stac/collections/bulk/items?limit=100000")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["numberReturned"], 100)
        doc = self.post_search({"collections": ["bulk"], "limit": 500})
        self.assertEqual(doc["numberReturned"], 100)
        nxt = [l for l in doc["links"] if l["rel"] == "next"][0]
        self.assertEqual(nxt["body"]["offset"], 100)

    def test_limit_below_one_or_not_a_number_is_400(self):
        for q in ("limit=0", "limit=-1", "limit=ten", "limit=", "limit=1.5"):
            with self.subTest(q=q):
                self.assert_bad(self.server.get("/api/v1/stac/search?" + q), "limit")
        for body in ({"limit": 0}, {"limit": "5"}, {"limit": 2.5}, {"limit": -3}):
            with self.subTest(body=body):
                self.assert_bad(self.server.post("/api/v1/stac/search", body), "limit")

    def test_openapi_advertises_the_maximum(self):
        doc = self.server.get("/api/v1/openapi.json").json()
        params = doc["paths"]["/api/v1/stac/search"]["get"]["parameters"]
        limit = [p for p in params if p["name"] == "limit"][0]
        self.assertEqual(limit["schema"]["maximum"], 100)

    # -- datetime --------------------------------------------------------------
    def ids(self, query):
        return [f["id"] for f in self.search("collections=historical&limit=100&" + query)["features"]]

    def test_items_before_1970_are_imported_and_found(self):
        self.assertEqual(self.ids("datetime=1900-01-01T00:00:00Z"), ["h-1900"])
        self.assertEqual(self.ids("datetime=1899-06-01/1900-06-01"), ["h-1900"])
        self.assertEqual(self.ids("datetime=0001-01-01T00:00:00Z"), ["h-0001"])
        self.assertEqual(self.ids("datetime=0001-01-01"), ["h-0001"])
        self.assertEqual(self.ids("datetime=../1969-12-31T23:59:59.999Z"),
                         ["h-1969", "h-frac7", "h-1900", "h-1850-range", "h-0001"])
        self.assertEqual(self.ids("datetime=1851-01-01T00:00:00Z"), ["h-1850-range"])
        # Newest first across the epoch.
        self.assertEqual(self.ids("datetime=0001-01-01T00:00:00Z/.."),
                         ["h-frac9", "h-1969", "h-frac7", "h-1900", "h-1850-range", "h-0001"])
        doc = self.post_search({"collections": ["historical"],
                                "datetime": "1800-01-01T00:00:00Z/1900-01-01T00:00:00Z"})
        self.assertEqual([f["id"] for f in doc["features"]], ["h-1900", "h-1850-range"])
        # Documents keep their datetimes as written.
        r = self.server.get("/api/v1/stac/collections/historical/items/h-1850-range")
        self.assertEqual(r.json()["properties"]["start_datetime"], "1850-06-01T00:00:00+01:00")

    def test_seven_to_nine_fractional_digits(self):
        self.assertEqual(self.ids("datetime=1955-05-05T05:05:05.1234567Z"), ["h-frac7"])
        self.assertEqual(self.ids("datetime=2001-02-03T04:05:06.123456789Z"), ["h-frac9"])
        self.assertEqual(self.ids("datetime=2001-02-03T04:05:06.12345678Z/"
                                  "2001-02-03T04:05:06.123999999Z"), ["h-frac9"])
        self.assertEqual(self.ids("datetime=2001-02-03T04:05:06.124000000Z/.."), [])
        doc = self.post_search({"collections": ["historical"],
                                "datetime": "1955-05-05T05:05:05.123999999Z"})
        self.assertEqual([f["id"] for f in doc["features"]], ["h-frac7"])
        self.assert_bad(self.server.get("/api/v1/stac/search?datetime="
                                        "2001-02-03T04:05:06.1234567890Z"), "datetime")

    def test_malformed_intervals_are_400(self):
        for value in ("/", "../..", "..", "", "/..", "../", "..%2F..", "2020-01-01T00:00:00Z/../",
                      "1900-01-01T00:00:00Z/1899-01-01T00:00:00Z", "-0001-01-01T00:00:00Z"):
            with self.subTest(value=value):
                self.assert_bad(self.server.get("/api/v1/stac/search?datetime=" + value),
                                "datetime")
                self.assert_bad(self.server.get(
                    "/api/v1/stac/collections/historical/items?datetime=" + value), "datetime")
        for value in ("/", "../..", "..", "", "/.."):
            with self.subTest(body=value):
                self.assert_bad(self.server.post("/api/v1/stac/search", {"datetime": value}),
                                "datetime")
        # One open end is fine, either spelling.
        self.assertEqual(self.ids("datetime=/1900-01-01"), ["h-1900", "h-1850-range", "h-0001"])
        self.assertEqual(self.ids("datetime=2000-01-01T00:00:00Z/"), ["h-frac9"])

    # -- service-desc ------------------------------------------------------------
    def test_service_desc_content_type(self):
        landing = self.server.get("/api/v1/stac/").json()
        desc = [l for l in landing["links"] if l["rel"] == "service-desc"][0]
        self.assertEqual(desc["type"], "application/vnd.oai.openapi+json;version=3.1")
        self.assertEqual(desc["href"], self.server.url("/api/v1/openapi.json"))
        r = harness.requests.get(desc["href"], timeout=30)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["Content-Type"], desc["type"])
        self.assertEqual(r.json()["openapi"][:2], "3.")
        doc = [l for l in landing["links"] if l["rel"] == "service-doc"][0]
        self.assertEqual(doc["type"], "text/html")
        self.assertEqual(doc["href"], self.server.url("/api/v1/docs"))
        r = harness.requests.get(doc["href"], timeout=30)
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/html"))


def raw_request(server, head):
    """Sends head (request line and headers, CRLF-terminated) over a plain
    socket and returns (status, headers dict lower-cased, body bytes): for
    header values no HTTP library would send."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(head.encode("latin-1") + b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def all_hrefs(doc):
    """Every href in a STAC document: links, features' links and assets."""
    hrefs = [l["href"] for l in doc.get("links", [])]
    for f in doc.get("features", []) + doc.get("collections", []):
        hrefs += [l["href"] for l in f.get("links", [])]
        hrefs += [a["href"] for a in f.get("assets", {}).values()]
    return hrefs


HOSTILE_HEADERS = [
    {"X-Forwarded-Host": "evil.example/path"},
    {"X-Forwarded-Host": 'evil.example"><script>'},
    {"X-Forwarded-Host": "evil.example?x=1"},
    {"X-Forwarded-Host": "user@evil.example"},
    {"X-Forwarded-Host": "evil example"},
    {"X-Forwarded-Proto": "javascript"},
    {"X-Forwarded-Proto": "https\"evil"},
    {"X-Forwarded-Prefix": "//evil.example"},
    {"X-Forwarded-Prefix": "/a/../evil"},
    {"X-Forwarded-Prefix": "/evil%0d%0aX-Injected:1"},
    {"X-Forwarded-Prefix": "evil"},
    {"X-Forwarded-Prefix": '/evil"quote'},
    {"Forwarded": 'host="evil.example/x";proto=gopher'},
    {"Forwarded": 'host="evil.example\\r\\nX-Injected: 1"'},
    {"Forwarded": 'host="evil.example'},
    {"Forwarded": "host=a.example;host=evil.example"},
]


class ForwardedTest(unittest.TestCase):
    """One server trusting 127.0.0.1 (the test client) and one trusting nobody."""

    @classmethod
    def setUpClass(cls):
        cls.trusting = start_server({"trusted-proxies": "127.0.0.1/32"})
        cls.plain = start_server()
        cls.accounts = {}
        for s in (cls.trusting, cls.plain):
            email, pair = s.new_account()
            me = s.get("/api/v1/account/me", token=pair["access"]).json()
            token = s.create_stac_token(pair["access"])["token_value"]
            s.cli("token", "create", email, "--scopes", "tokens:read")
            cls.accounts[s] = (me["username"], pair["access"], token)

    @classmethod
    def tearDownClass(cls):
        for s in (cls.trusting, cls.plain):
            stop_server(s)

    def hrefs(self, server, path, headers, token=None):
        r = server.get(path, token=token, headers=headers)
        self.assertEqual(r.status_code, 200, r.text)
        return all_hrefs(r.json())

    def stac_paths(self):
        return ["/api/v1/stac/", "/api/v1/stac/collections", "/api/v1/stac/collections/files",
                "/api/v1/stac/collections/files/items", "/api/v1/stac/search?limit=1",
                "/api/v1/stac/collections/bulk/items?limit=1&offset=3",
                "/api/v1/stac/collections/files/items/f1"]

    def mapbox_link(self, server, headers):
        username, access, _ = self.accounts[server]
        r = server.get("/tokens/v2/%s?limit=1" % username, token=access, headers=headers)
        self.assertEqual(r.status_code, 200, r.text)
        return r.headers["Link"]

    def test_x_forwarded_headers_from_a_trusted_peer(self):
        s = self.trusting
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example",
                   "X-Forwarded-Prefix": "/tessera/"}
        _, _, token = self.accounts[s]
        for path in self.stac_paths():
            with self.subTest(path=path):
                hrefs = self.hrefs(s, path, headers, token)
                ours = [h for h in hrefs if "creativecommons" not in h]
                self.assertTrue(ours)
                for h in ours:
                    self.assertTrue(h.startswith("https://public.example/tessera/api/v1/"), h)
        # Asset hrefs, next/prev links (GET and POST) all carry the prefix.
        r = s.get("/api/v1/stac/collections/files/items/f1", headers=headers)
        self.assertEqual(r.json()["assets"]["cog_tif"]["href"],
                         "https://public.example/tessera/api/v1/catalog/asset/files/cog.tif")
        doc = s.get("/api/v1/stac/search?collections=bulk&limit=2&offset=2",
                    headers=headers).json()
        rels = {l["rel"]: l["href"] for l in doc["links"]}
        self.assertTrue(rels["next"].startswith(
            "https://public.example/tessera/api/v1/stac/search?"), rels)
        self.assertIn("offset=4", rels["next"])
        self.assertIn("offset=0", rels["prev"])
        r = s.post("/api/v1/stac/search", {"collections": ["bulk"], "limit": 2}, headers=headers)
        nxt = [l for l in r.json()["links"] if l["rel"] == "next"][0]
        self.assertEqual(nxt["href"], "https://public.example/tessera/api/v1/stac/search")
        # The Mapbox Link header too.
        username = self.accounts[s][0]
        self.assertTrue(self.mapbox_link(s, headers).startswith(
            "<https://public.example/tessera/tokens/v2/%s?start=" % username))
        # A lone X-Forwarded-Proto keeps the Host header.
        hrefs = self.hrefs(s, "/api/v1/stac/", {"X-Forwarded-Proto": "https"})
        self.assertTrue(hrefs[0].startswith("https://127.0.0.1:%d/api/v1/stac/" % s.port))

    def test_forwarded_header_from_a_trusted_peer(self):
        s = self.trusting
        landing = lambda h: self.hrefs(s, "/api/v1/stac/", h)[0]
        self.assertEqual(landing({"Forwarded": 'for=198.51.100.7;proto=https;host="stac.example:8443"'}),
                         "https://stac.example:8443/api/v1/stac/")
        # Forwarded wins over X-Forwarded-*, field by field; the prefix only
        # comes from X-Forwarded-Prefix.
        self.assertEqual(landing({"Forwarded": "proto=https;host=fwd.example",
                                  "X-Forwarded-Host": "xfh.example",
                                  "X-Forwarded-Proto": "http",
                                  "X-Forwarded-Prefix": "/p"}),
                         "https://fwd.example/p/api/v1/stac/")
        self.assertEqual(landing({"Forwarded": "host=fwd.example",
                                  "X-Forwarded-Proto": "https"}),
                         "https://fwd.example/api/v1/stac/")
        # A client-supplied element to the left of the proxy's is not believed.
        self.assertEqual(landing({"Forwarded": "host=evil.example;proto=https, "
                                               "for=198.51.100.7;host=good.example"}),
                         "http://good.example/api/v1/stac/")
        # ...unless a trusted proxy vouches for the hop that wrote it.
        self.assertEqual(landing({"Forwarded": "for=198.51.100.7;host=outer.example;proto=https, "
                                               "for=127.0.0.1;host=inner.example"}),
                         "https://outer.example/api/v1/stac/")
        # Two Forwarded field lines are one list.
        status, headers, body = raw_request(
            s, "GET /api/v1/stac/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Forwarded: host=evil.example\r\nForwarded: for=198.51.100.7;host=good.example\r\n")
        self.assertEqual(status, 200)
        self.assertEqual(all_hrefs(json.loads(body))[0], "http://good.example/api/v1/stac/")

    def test_hostile_values_are_ignored(self):
        s = self.trusting
        direct = "http://127.0.0.1:%d/api/v1/" % s.port
        for headers in HOSTILE_HEADERS:
            with self.subTest(headers=headers):
                for path in ("/api/v1/stac/", "/api/v1/stac/search?limit=1&collections=bulk"):
                    r = s.get(path, headers=headers)
                    self.assertEqual(r.status_code, 200, r.text)
                    self.assertNotIn("evil", r.text)
                    self.assertNotIn("Injected", r.text)
                    for h in all_hrefs(r.json()):
                        if "creativecommons" not in h:
                            self.assertTrue(h.startswith(direct), h)
                self.assertNotIn("evil", self.mapbox_link(s, headers))
        # Values no HTTP library would send: CR/LF, obs-fold, NUL-free junk.
        for extra in ("X-Forwarded-Host: evil.example\r\n X-Injected: 1\r\n",
                      "X-Forwarded-Host: evil.example\rX-Injected: 1\r\n",
                      "X-Forwarded-Host: \"evil.example\r\n",
                      "Forwarded: host=\"evil.example\\\r\n\tX-Injected: 1\"\r\n",
                      "X-Forwarded-Prefix: /a\x7fb\r\n",
                      "X-Forwarded-Host: \xe9vil.example\r\n"):
            with self.subTest(raw=extra):
                status, headers, body = raw_request(
                    s, "GET /api/v1/stac/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s" % (s.port, extra))
                self.assertIn(status, (200, 400), body)
                self.assertNotIn(b"evil", body)
                self.assertNotIn("x-injected", headers)
                if status == 200:
                    for h in all_hrefs(json.loads(body)):
                        self.assertTrue(h.startswith(direct), h)

    def test_untrusted_peer_headers_are_ignored(self):
        s = self.plain
        direct = "http://127.0.0.1:%d/api/v1/" % s.port
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example",
                   "X-Forwarded-Prefix": "/tessera", "Forwarded": "proto=https;host=fwd.example"}
        _, _, token = self.accounts[s]
        for path in self.stac_paths():
            with self.subTest(path=path):
                for h in self.hrefs(s, path, headers, token):
                    if "creativecommons" not in h:
                        self.assertTrue(h.startswith(direct), h)
        self.assertTrue(self.mapbox_link(s, headers).startswith(
            "<http://127.0.0.1:%d/tokens/v2/" % s.port))

    def test_cached_pages_do_not_leak_between_bases(self):
        s = self.trusting
        path = "/api/v1/stac/search?collections=bulk&limit=3"
        a = s.get(path, headers={"X-Forwarded-Host": "a.example"}).json()
        b = s.get(path).json()
        c = s.get(path, headers={"X-Forwarded-Host": "a.example"}).json()
        self.assertTrue(all_hrefs(a)[0].startswith("http://a.example/"))
        self.assertTrue(all_hrefs(b)[0].startswith("http://127.0.0.1:%d/" % s.port))
        self.assertEqual(a, c)


ALLOWED = "https://app.example"
OTHER_ALLOWED = "http://localhost:5173"
DISALLOWED = "https://evil.example"
CORS_PATHS = ["/api/v1/stac/", "/api/v1/stac/search", "/api/v1/stac/collections/bulk/items",
              "/api/v1/catalog/asset/files/pic.png", "/tokens/v2"]


class CorsTest(unittest.TestCase):
    """cors_origins as "*" (the default, also written with separators around
    it), as a list, and off."""

    @classmethod
    def setUpClass(cls):
        cls.star = start_server()
        cls.star_spaced = start_server({"cors-origins": " * ,"})
        cls.listed = start_server({"cors-origins": "%s, %s" % (ALLOWED, OTHER_ALLOWED.upper())})
        cls.off = start_server({"cors-origins": ""})

    @classmethod
    def tearDownClass(cls):
        for s in (cls.star, cls.star_spaced, cls.listed, cls.off):
            stop_server(s)

    def preflight(self, server, path, origin, method="GET",
                  headers="authorization,range,if-none-match"):
        h = {"Access-Control-Request-Method": method}
        if origin:
            h["Origin"] = origin
        if headers:
            h["Access-Control-Request-Headers"] = headers
        return server.request("OPTIONS", path, headers=h)

    def assert_no_cors(self, r):
        for k in r.headers:
            self.assertFalse(k.lower().startswith("access-control-"), (k, r.headers))

    def test_preflight_allowed_origin(self):
        for server, origin, expect in ((self.star, ALLOWED, "*"),
                                       (self.listed, ALLOWED, ALLOWED),
                                       (self.listed, OTHER_ALLOWED, OTHER_ALLOWED.upper())):
            for path in CORS_PATHS:
                with self.subTest(server=server.port, origin=origin, path=path):
                    r = self.preflight(server, path, origin)
                    self.assertEqual(r.status_code, 204, r.text)
                    self.assertEqual(r.content, b"")
                    self.assertEqual(r.headers["Access-Control-Allow-Origin"], expect)
                    allowed = [m.strip() for m in
                               r.headers["Access-Control-Allow-Methods"].split(",")]
                    self.assertIn("GET", allowed)
                    hdrs = [h.strip().lower() for h in
                            r.headers["Access-Control-Allow-Headers"].split(",")]
                    for h in ("authorization", "content-type", "range", "if-none-match"):
                        self.assertIn(h, hdrs)
                    self.assertGreater(int(r.headers["Access-Control-Max-Age"]), 0)
                    self.assertNotIn("Access-Control-Allow-Credentials", r.headers)
                    if expect == "*":
                        self.assertNotIn("Origin", r.headers.get("Vary", ""))
                    else:
                        self.assertIn("Origin", r.headers["Vary"])
        r = self.preflight(self.star, "/api/v1/stac/search", ALLOWED, method="POST",
                           headers="content-type")
        self.assertIn("POST", r.headers["Access-Control-Allow-Methods"])

    def test_preflight_disallowed_or_off(self):
        for server, origin in ((self.listed, DISALLOWED), (self.listed, "null"),
                               (self.listed, ALLOWED + ".evil"), (self.off, ALLOWED)):
            for path in CORS_PATHS:
                with self.subTest(server=server.port, origin=origin, path=path):
                    r = self.preflight(server, path, origin)
                    self.assertEqual(r.status_code, 204)  # answered, but grants nothing
                    self.assert_no_cors(r)
        # Paths outside CORS keep their 405 for OPTIONS; unknown ones their 404.
        r = self.preflight(self.star, "/api/v1/account/me", ALLOWED)
        self.assertEqual(r.status_code, 405)
        self.assert_no_cors(r)
        self.assertEqual(self.preflight(self.star, "/tokens/v2/someone", ALLOWED).status_code, 405)
        self.assertEqual(self.star.get("/api/v1/stac/no-such-thing").status_code, 404)

    def test_actual_responses(self):
        expose_needed = ("x-request-id", "content-range", "etag", "link")
        cases = [
            ("/api/v1/stac/", 200, None),
            ("/api/v1/stac/search?limit=2", 200, None),
            ("/api/v1/stac/search?limit=0", 400, None),                   # handler error
            ("/api/v1/stac/collections/nope", 404, None),
            ("/api/v1/stac/nope/nope/nope", 404, None),                   # router error
            ("/api/v1/catalog/asset/files/pic.png", 401, None),           # no credential
            ("/api/v1/catalog/asset/files/pic.png", 401, "tk.bad.token"), # bad credential
            ("/tokens/v2", 401, None),
            ("/tokens/v2", 200, "pk.bad.token"),
            ("/api/v1/openapi.json", 200, None),
        ]
        for server, origin, expect in ((self.star, ALLOWED, "*"), (self.star, None, "*"),
                                       (self.star_spaced, ALLOWED, "*"),
                                       (self.listed, ALLOWED, ALLOWED)):
            for path, status, token in cases:
                with self.subTest(server=server.port, origin=origin, path=path, token=token):
                    headers = {"Origin": origin} if origin else {}
                    r = server.get(path, token=token, headers=headers)
                    self.assertEqual(r.status_code, status, r.text)
                    self.assertEqual(r.headers["Access-Control-Allow-Origin"], expect)
                    exposed = [h.strip().lower() for h in
                               r.headers["Access-Control-Expose-Headers"].split(",")]
                    for h in expose_needed:
                        self.assertIn(h, exposed)
                    self.assertNotIn("Access-Control-Allow-Credentials", r.headers)
                    vary = r.headers.get("Vary", "")
                    self.assertEqual("Origin" in vary, expect != "*", vary)
        # A method the route lacks (405 from the router) still gets CORS.
        r = self.listed.request("DELETE", "/api/v1/stac/", headers={"Origin": ALLOWED})
        self.assertEqual(r.status_code, 405)
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], ALLOWED)

    def test_actual_responses_disallowed_or_off(self):
        for server, origin in ((self.listed, DISALLOWED), (self.listed, None),
                               (self.off, ALLOWED), (self.off, None)):
            for path in ("/api/v1/stac/", "/api/v1/stac/collections/nope", "/tokens/v2",
                         "/api/v1/catalog/asset/files/pic.png"):
                with self.subTest(server=server.port, origin=origin, path=path):
                    r = server.get(path, headers={"Origin": origin} if origin else {})
                    self.assert_no_cors(r)
                    if server is self.listed:
                        self.assertIn("Origin", r.headers["Vary"])
        # Routes outside the CORS set never get it, even with "*".
        r = self.star.get("/api/v1/account/me", headers={"Origin": ALLOWED})
        self.assert_no_cors(r)
        r = self.star.get("/healthz", headers={"Origin": ALLOWED})
        self.assert_no_cors(r)


class AssetTest(unittest.TestCase):
    """Content types, validators, conditional and ranged requests, HEAD."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_server()
        email, pair = cls.server.new_account()
        cls.token = cls.server.create_stac_token(pair["access"])["token_value"]

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server)

    def path(self, name):
        return "/api/v1/catalog/asset/files/" + name

    def req(self, method, name, headers=None):
        return self.server.request(method, self.path(name), token=self.token,
                                   headers=dict(headers or {}))

    def test_content_types(self):
        for name, expected in EXPECTED_TYPES.items():
            with self.subTest(name=name):
                r = self.req("GET", name)
                self.assertEqual(r.status_code, 200, r.text)
                ctype = r.headers["Content-Type"]
                if expected == "text/csv":
                    self.assertEqual(ctype.split(";")[0], "text/csv")
                else:
                    self.assertEqual(ctype, expected)
                self.assertEqual(r.content, ASSETS[name][0])
                self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
        # The item's asset types are as declared in the STAC document.
        item = self.server.get("/api/v1/stac/collections/files/items/f1").json()
        self.assertEqual(item["assets"]["cog_tif"]["type"], EXPECTED_TYPES["cog.tif"])

    def test_validators_and_304(self):
        r = self.req("GET", "cog.tif")
        etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
        self.assertRegex(etag, r'^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$')  # strong
        self.assertTrue(modified.endswith(" GMT"))
        mtime = os.stat(os.path.join(self.server.asset_dir, "files", "cog.tif")).st_mtime
        self.assertEqual(email_utils.parsedate_to_datetime(modified).timestamp(), int(mtime))
        self.assertEqual(self.req("GET", "cog.tif").headers["ETag"], etag)  # stable
        self.assertNotEqual(self.req("GET", "plain.tif").headers["ETag"], etag)
        for inm in (etag, "W/" + etag, '"nope", ' + etag, "*", '%s ,"x"' % etag):
            with self.subTest(inm=inm):
                for method in ("GET", "HEAD"):
                    r = self.req(method, "cog.tif", {"If-None-Match": inm})
                    self.assertEqual(r.status_code, 304, r.text)
                    self.assertEqual(r.content, b"")
                    self.assertEqual(r.headers["ETag"], etag)
                    self.assertEqual(r.headers["Last-Modified"], modified)
                    # RFC 9110 §8.6: no Content-Length, or the size a 200 would have.
                    self.assertIn(r.headers.get("Content-Length", "absent"),
                                  ("absent", str(len(ASSETS["cog.tif"][0]))))
        for inm in ('"nope"', etag[:-2] + '"', "garbage", etag + " junk"):
            with self.subTest(inm=inm):
                self.assertEqual(self.req("GET", "cog.tif", {"If-None-Match": inm}).status_code,
                                 200)
        # If-Modified-Since, in all three HTTP-date forms; ignored next to If-None-Match.
        dt = email_utils.parsedate_to_datetime(modified)
        rfc850 = dt.strftime("%A, %d-%b-%y %H:%M:%S GMT")
        asctime = dt.strftime("%a %b ") + ("%2d" % dt.day) + dt.strftime(" %H:%M:%S %Y")
        for ims in (modified, rfc850, asctime, "Fri, 31 Dec 9999 23:59:59 GMT"):
            with self.subTest(ims=ims):
                self.assertEqual(self.req("GET", "cog.tif",
                                          {"If-Modified-Since": ims}).status_code, 304)
        for ims in ("Thu, 01 Jan 1970 00:00:00 GMT", "Mon, 01 Jan 1900 00:00:00 GMT", "garbage",
                    "Sun, 32 Nov 1994 08:49:37 GMT"):
            with self.subTest(ims=ims):
                self.assertEqual(self.req("GET", "cog.tif",
                                          {"If-Modified-Since": ims}).status_code, 200)
        self.assertEqual(self.req("GET", "cog.tif", {"If-None-Match": '"nope"',
                                                     "If-Modified-Since": modified}).status_code,
                         200)
        # Access rules come first: no 304 without a valid credential.
        r = self.server.request("GET", self.path("cog.tif"), headers={"If-None-Match": etag})
        self.assertEqual(r.status_code, 401)

    def test_304_keeps_the_connection_usable(self):
        """A 304 sends no body even though it states the file's length: the
        next reply on the same connection must parse."""
        etag = self.req("GET", "cog.tif").headers["ETag"]
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            auth = {"Authorization": "Bearer " + self.token}
            for inm, status in ((etag, 304), ('"x"', 200), (etag, 304), (None, 200)):
                headers = dict(auth)
                if inm:
                    headers["If-None-Match"] = inm
                conn.request("GET", self.path("cog.tif"), headers=headers)
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, status)
                self.assertEqual(body, b"" if status == 304 else ASSETS["cog.tif"][0])
        finally:
            conn.close()

    def test_ranges_and_if_range(self):
        data = ASSETS["cog.tif"][0]
        r = self.req("GET", "cog.tif")
        etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
        r = self.req("GET", "cog.tif", {"Range": "bytes=4-11"})
        self.assertEqual(r.status_code, 206)
        self.assertEqual(r.content, data[4:12])
        self.assertEqual(r.headers["Content-Range"], "bytes 4-11/%d" % len(data))
        self.assertEqual(r.headers["ETag"], etag)
        for ir in (etag, modified):
            with self.subTest(if_range=ir):
                r = self.req("GET", "cog.tif", {"Range": "bytes=0-3", "If-Range": ir})
                self.assertEqual(r.status_code, 206)
                self.assertEqual(r.content, data[:4])
        for ir in ("W/" + etag, '"other"', "Thu, 01 Jan 1970 00:00:00 GMT", "garbage"):
            with self.subTest(if_range=ir):
                r = self.req("GET", "cog.tif", {"Range": "bytes=0-3", "If-Range": ir})
                self.assertEqual(r.status_code, 200)
                self.assertEqual(r.content, data)
                self.assertNotIn("Content-Range", r.headers)
        r = self.req("GET", "cog.tif", {"Range": "bytes=%d-" % len(data)})
        self.assertEqual(r.status_code, 416)
        self.assertEqual(r.headers["Content-Range"], "bytes */%d" % len(data))

    def test_head_like_get_without_body(self):
        data = ASSETS["cog.tif"][0]
        get = self.req("GET", "cog.tif")
        # requests never reads a HEAD body; the raw socket shows none is sent.
        status, headers, body = raw_request(
            self.server, "HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                         % (self.path("cog.tif"), self.token))
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertEqual(int(headers["content-length"]), len(data))
        self.assertEqual(headers["accept-ranges"], "bytes")
        for h in ("ETag", "Last-Modified", "Content-Type"):
            self.assertEqual(headers[h.lower()], get.headers[h])
        status, headers, body = raw_request(
            self.server, "HEAD %s HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=10-19\r\n"
                         "Authorization: Bearer %s\r\n" % (self.path("cog.tif"), self.token))
        self.assertEqual(status, 206)
        self.assertEqual(body, b"")
        self.assertEqual(headers["content-range"], "bytes 10-19/%d" % len(data))

    def test_vsicurl_access_pattern(self):
        """What GDAL's /vsicurl does: HEAD for the size, then Range GETs of
        the header and of blocks further in, reassembling the file."""
        data = ASSETS["cog.tif"][0]
        r = self.req("HEAD", "cog.tif")
        self.assertEqual(r.status_code, 200)
        size = int(r.headers["Content-Length"])
        self.assertEqual(size, len(data))
        self.assertEqual(r.headers["Accept-Ranges"], "bytes")
        got, block = b"", 700
        for start in range(0, size, block):
            end = min(start + block, size) - 1
            r = self.req("GET", "cog.tif", {"Range": "bytes=%d-%d" % (start, end)})
            self.assertEqual(r.status_code, 206)
            self.assertEqual(r.headers["Content-Range"], "bytes %d-%d/%d" % (start, end, size))
            got += r.content
        self.assertEqual(got, data)

    @unittest.skipIf(GDALINFO is None, "gdalinfo not installed (scripts/deps.sh installs gdal-bin)")
    def test_gdal_reads_a_cog_over_vsicurl(self):
        """The real client: GDAL makes a COG, then reads it back through
        /vsicurl/ from the asset endpoint with the token in a header."""
        d = os.path.join(self.server.asset_dir, "files")
        src, cog = os.path.join(d, "gdal-src.tif"), os.path.join(d, "gdal-cog.tif")
        run = lambda *a: subprocess.run(a, capture_output=True, text=True, timeout=120,
                                        check=True)
        run("gdal_create", "-of", "GTiff", "-outsize", "600", "600", "-bands", "1", "-ot", "Byte",
            "-burn", "42", "-a_srs", "EPSG:4326", "-a_ullr", "10", "51", "11", "50", src)
        run("gdal_translate", "-q", "-of", "COG", "-co", "BLOCKSIZE=256",
            "-co", "COMPRESS=DEFLATE", src, cog)
        url = "/vsicurl/" + self.server.url(self.path("gdal-cog.tif"))
        env = dict(os.environ, GDAL_HTTP_HEADERS="Authorization: Bearer " + self.token,
                   GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", CPL_VSIL_CURL_USE_HEAD="YES",
                   GDAL_HTTP_MAX_RETRY="0", CPL_VSIL_CURL_CHUNK_SIZE="16384")
        log_start = len(self.server.read_log())
        res = subprocess.run(["gdalinfo", "-json", url], capture_output=True, text=True,
                             timeout=120, env=env)
        self.assertEqual(res.returncode, 0, res.stderr)
        info = json.loads(res.stdout)
        self.assertEqual(info["size"], [600, 600])
        self.assertEqual(info["metadata"]["IMAGE_STRUCTURE"].get("LAYOUT"), "COG")
        res = subprocess.run(["gdallocationinfo", "-valonly", url, "300", "300"],
                             capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout.strip(), "42")
        # It went HEAD first, then ranged GETs answered 206.
        log = self.server.read_log()[log_start:]
        lines = [l for l in log.splitlines() if "gdal-cog.tif" in l]
        self.assertTrue(any("HEAD" in l and " 200 " in l for l in lines), lines)
        self.assertTrue(any("GET" in l and " 206 " in l for l in lines), lines)
        r = self.req("GET", "gdal-cog.tif")
        self.assertEqual(r.headers["Content-Type"], EXPECTED_TYPES["cog.tif"])


NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)

NGINX_PREFIX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        # Tessera mounted under /tessera/, as README "Behind a reverse proxy" says.
        location /tessera/ {{
            proxy_pass http://127.0.0.1:{tessera}/;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Prefix /tessera;
        }}
    }}
}}
"""


@unittest.skipIf(NGINX is None, "nginx not installed (scripts/deps.sh installs nginx-light)")
class NginxPrefixTest(unittest.TestCase):
    """A real nginx serving Tessera under /tessera/: every link Tessera
    writes leads back through nginx, and following them walks the catalog
    down to an asset."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_server({"trusted-proxies": "127.0.0.1/32"})
        email, pair = cls.server.new_account()
        cls.token = cls.server.create_stac_token(pair["access"])["token_value"]
        cls.tmp = tempfile.TemporaryDirectory(prefix="tessera-nginx-prefix-")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            cls.port = sock.getsockname()[1]
        user = ""
        if os.geteuid() == 0:
            import pwd
            user = "user %s;" % pwd.getpwuid(os.geteuid()).pw_name
        conf = os.path.join(cls.tmp.name, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_PREFIX_CONF.format(user=user, tmp=cls.tmp.name, port=cls.port,
                                             tessera=cls.server.port))
        cls.nginx = subprocess.Popen([NGINX, "-p", cls.tmp.name, "-c", conf,
                                      "-e", cls.tmp.name + "/error.log"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", cls.port), timeout=0.5):
                    return
            except OSError:
                if cls.nginx.poll() is not None:
                    break
                time.sleep(0.05)
        cls.tearDownClass()
        raise AssertionError("nginx did not start")

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.nginx.poll() is None:
                cls.nginx.send_signal(signal.SIGTERM)  # by pid
                try:
                    cls.nginx.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    cls.nginx.kill()
                    cls.nginx.wait()
        finally:
            stop_server(cls.server)
            cls.tmp.cleanup()

    def get(self, url):
        r = harness.requests.get(url, headers={"Authorization": "Bearer " + self.token},
                                 timeout=30)
        self.assertEqual(r.status_code, 200, (url, r.text[:300]))
        return r

    def test_links_lead_back_through_the_prefix(self):
        base = "http://127.0.0.1:%d/tessera/" % self.port
        landing = self.get(base + "api/v1/stac/").json()
        for h in all_hrefs(landing):
            self.assertTrue(h.startswith(base + "api/v1/"), h)
        data = [l for l in landing["links"] if l["rel"] == "data"][0]["href"]
        colls = self.get(data).json()
        seen_asset = False
        for c in colls["collections"]:
            items_href = [l for l in c["links"] if l["rel"] == "items"][0]["href"]
            self.assertTrue(items_href.startswith(base), items_href)
            page = self.get(items_href + "?limit=2").json()
            nxt = [l for l in page["links"] if l["rel"] == "next"]
            if nxt:
                self.assertTrue(nxt[0]["href"].startswith(base + "api/v1/stac/collections/"))
                self.get(nxt[0]["href"])
            for f in page["features"]:
                self_href = [l for l in f["links"] if l["rel"] == "self"][0]["href"]
                self.assertEqual(self.get(self_href).json()["id"], f["id"])
                for a in f["assets"].values():
                    self.assertTrue(a["href"].startswith(base + "api/v1/catalog/asset/"), a)
                    if a["href"].endswith("/files/pic.png"):
                        self.assertEqual(self.get(a["href"]).content, ASSETS["pic.png"][0])
                        seen_asset = True
        self.assertTrue(seen_asset)
