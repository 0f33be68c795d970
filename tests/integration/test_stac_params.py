"""STAC API parameters and deployment over real HTTP (issue 11, item 3).

A generated catalog (a bulk collection of 120 items, historical items from
before 1970 and from year 0001, items whose datetimes carry 7-9 fractional
digits, and assets of the types in use) is imported into fresh servers, which
are then asked about: limit clamping, the full RFC 3339 datetime range,
malformed intervals, CORS preflight and actual responses, forwarded headers
from trusted and untrusted peers (hostile values included), the service-desc
content type, and conditional / ranged / HEAD asset downloads.
"""
import json
import os
import socket
import tempfile
import unittest

import harness
from harness import Server

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
        self.assertEqual(desc["type"], "application/vnd.oai.openapi+json;version=3.0")
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
