"""The Carbon Mapper platform's catalog endpoints (CARBONMAPPER.md) over real
HTTP against the sample catalog, as three kinds of caller: anonymous, an
account in Public, and a partner account (Public and Partners). Expected
answers are computed from the sample's files (sample.py): plumes are the
items of the l4a-* collections, scenes those of the l2b-* ones."""
import csv
import io
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

import harness
import sample
from harness import Server, import_sample

OGRINFO = shutil.which("ogrinfo")

PARTNER = "partner"
PUBLIC = "public"
ANONYMOUS = "anonymous"
CALLERS = (ANONYMOUS, PUBLIC, PARTNER)
BASE = "/api/v1/catalog/"


def plumes(who, published_only=True, where=None):
    """The expected plume items of a caller, by name."""
    return {i["id"]: i for i in sample.visible(who == PARTNER)
            if i["collection"].startswith("l4a-") and
            (not published_only or i["properties"].get("cm:status") == "published") and
            (where is None or where(i))}


def scenes(who, where=None):
    return {i["id"]: i for i in sample.visible(who == PARTNER)
            if i["collection"].startswith("l2b-") and (where is None or where(i))}


def cjson_number(v):
    """A number as cJSON prints it inside JSON: an int as an int, else %1.15g
    unless that reads back further than an epsilon, then %1.17g."""
    if v == int(v) and -2**31 <= v < 2**31:
        return "%d" % v
    s = "%1.15g" % v
    return s if abs(float(s) - v) <= max(abs(float(s)), abs(v)) * 2.220446049250313e-16 \
        else "%1.17g" % v


def csv_number(v):
    """A number as the CSV writes it: the shortest of %.15g and %.17g that
    reads back exactly."""
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return "%d" % v
    s = "%.15g" % v
    return s if float(s) == v else "%.17g" % v


CSV_PROPS = {"id": "cm:plume_uuid", "gas": "cm:gas", "scene_id": "cm:scene_id",
             "scene_timestamp": "datetime", "instrument": "cm:instrument",
             "platform": "platform", "emission_auto": "cm:emission",
             "emission_uncertainty_auto": "cm:emission_uncertainty",
             "plume_bounds": "cm:plume_bounds", "plume_quality": "cm:plume:quality",
             "wind_speed_avg_auto": "cm:wind_speed_avg_auto",
             "wind_direction_avg_auto": "cm:wind_direction_avg_auto",
             "sector": "cm:plume:sector", "status": "cm:status",
             "published_at": "cm:published_at"}
CSV_ASSETS = {"plume_png": "plume.png", "plume_rgb_png": "plume-rgb.png",
              "plume_tif": "plume.tif", "rgb_png": "rgb.png"}


def csv_row(item, url):
    """The plume-csv row of a STAC item, field by field, derived from the
    item alone; url(path) is the server's absolute URL of a path."""
    def text(v):
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return csv_number(v)
        if isinstance(v, list):
            return "[" + ",".join(cjson_number(x) for x in v) + "]"
        return v
    props = item["properties"]
    row = {col: text(props.get(key)) for col, key in CSV_PROPS.items()}
    lon, lat = item["geometry"]["coordinates"][:2]
    row.update(plume_id=item["id"], collection=item["collection"],
               plume_latitude=csv_number(lat), plume_longitude=csv_number(lon))
    for col, key in CSV_ASSETS.items():
        row[col] = url(BASE + "asset/" + sample.asset_key(item, key)) \
            if key in item.get("assets", {}) else ""
    return row


def distance_m(a, b):
    """Haversine on a 6,371 km sphere, as the server measures."""
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2 +
         math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371008.8 * math.asin(math.sqrt(min(1, h)))


def expected_sources(who, eps, minpoints):
    """Single-linkage clusters within eps metres, per gas and sector: a
    list of (gas, sector, [plume names], (lon, lat) centroid)."""
    groups = {}
    for name, i in plumes(who).items():
        p = i["properties"]
        groups.setdefault((p.get("cm:gas") or "NULL", p.get("cm:plume:sector") or "NULL"),
                          []).append((name, tuple(i["geometry"]["coordinates"])))
    out = []
    for (gas, sector), members in groups.items():
        parent = list(range(len(members)))

        def root(k):
            while parent[k] != k:
                k = parent[k]
            return k
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                if distance_m(members[a][1], members[b][1]) <= eps:
                    parent[root(b)] = root(a)
        clusters = {}
        for k, m in enumerate(members):
            clusters.setdefault(root(k), []).append(m)
        for c in clusters.values():
            if len(c) >= minpoints:
                lon = sum(pt[0] for _, pt in c) / len(c)
                lat = sum(pt[1] for _, pt in c) / len(c)
                out.append((gas, sector, sorted(n for n, _ in c), (lon, lat)))
    return out


class CatalogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.load(Server())

    @classmethod
    def load(cls, server):
        """The sample into server, which it starts; three callers' tokens."""
        s = cls.server = server
        s.cli("migrate")
        import_sample(s)
        s.start()
        _, pair = s.new_account()
        partner_email, _ = s.new_account()
        s.cli("user", "set", partner_email, "--groups", "Public,Partners")
        partner = s.login(partner_email)
        cls.tokens = {ANONYMOUS: None,
                      PUBLIC: s.create_stac_token(pair["access"])["token_value"],
                      PARTNER: s.create_stac_token(partner["access"])["token_value"]}
        email, _ = s.new_account()
        res = s.cli("token", "create", email, "--scopes", "tokens:read")
        cls.no_catalog_token = res.stdout.strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def get(self, path, who=ANONYMOUS, params=None, token=None):
        return self.server.get(BASE + path, token=token or self.tokens[who], params=params)

    def annotated(self, who, **params):
        params.setdefault("limit", 1000)
        r = self.get("plumes/annotated", who, params)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def names(self, who, **params):
        return {p["plume_id"] for p in self.annotated(who, **params)["items"]}

    def assert_422(self, resp, param):
        self.assertEqual(resp.status_code, 422, resp.text)
        detail = resp.json()["detail"]
        self.assertEqual(detail[0]["loc"], ["query", param], detail)
        self.assertTrue(detail[0]["msg"] and detail[0]["type"], detail)

    # -- plumes/annotated ------------------------------------------------------
    def test_annotated_lists_the_callers_plumes(self):
        for who in CALLERS:
            with self.subTest(who=who):
                want = plumes(who)
                doc = self.annotated(who)
                self.assertEqual(doc["total_count"], len(want))
                self.assertEqual(doc["bbox_count"], len(want))
                self.assertEqual((doc["limit"], doc["offset"]), (1000, 0))
                self.assertEqual({p["plume_id"] for p in doc["items"]}, set(want))
                self.assertEqual(doc["nearby_items"], [])
        self.assertLess(len(plumes(PUBLIC)), len(plumes(PARTNER)))

    def test_plume_fields(self):
        item = next(iter(plumes(PUBLIC).values()))
        p = self.get("plume/" + item["id"]).json()
        props = item["properties"]
        self.assertEqual(p["id"], props["cm:plume_uuid"])
        self.assertEqual(p["plume_id"], item["id"])
        self.assertEqual(p["geometry_json"], item["geometry"])
        self.assertEqual(p["emission_auto"], props["cm:emission"])
        self.assertEqual(p["emission_uncertainty_auto"], props["cm:emission_uncertainty"])
        self.assertEqual(p["scene_id"], props["cm:scene_id"])
        self.assertEqual(p["scene_timestamp"], props["datetime"])
        self.assertEqual(p["instrument"], item["id"][:3])
        self.assertEqual(p["sector"], props["cm:plume:sector"])
        self.assertEqual(p["plume_quality"], props["cm:plume:quality"])
        self.assertEqual(p["plume_bounds"], props["cm:plume_bounds"])
        self.assertEqual(p["collection"], item["collection"])
        self.assertEqual(p["status"], "published")
        for field, key in (("plume_tif", "plume.tif"), ("plume_png", "plume.png"),
                           ("plume_rgb_png", "plume-rgb.png"), ("rgb_png", "rgb.png")):
            self.assertEqual(p[field], self.server.url(BASE + "asset/" +
                                                       sample.asset_key(item, key)))

    def test_asset_links_follow_visibility(self):
        """Every asset link a caller is given opens for that caller; a
        partner's embargoed plume rasters stay 404 for a Public token."""
        public = self.annotated(PUBLIC)["items"][:5]
        embargoed = [p for p in self.annotated(PARTNER)["items"]
                     if p["plume_id"] not in plumes(PUBLIC)][:3]
        self.assertTrue(embargoed)
        for p in public + embargoed:
            r = self.server.request("GET", p["plume_tif"].split(str(self.server.port), 1)[1],
                                    self.tokens[PARTNER])
            self.assertEqual(r.status_code, 200, p["plume_tif"])
            self.assertTrue(r.content.startswith(b"II*\x00") or r.content.startswith(b"MM\x00*"))
        for p in embargoed:
            r = self.server.request("GET", p["plume_tif"].split(str(self.server.port), 1)[1],
                                    self.tokens[PUBLIC])
            self.assertEqual(r.status_code, 404)

    def test_filters(self):
        cases = [
            ({"emission_min": 1000}, lambda i: i["properties"]["cm:emission"] >= 1000),
            ({"emission_max": 3000}, lambda i: i["properties"]["cm:emission"] <= 3000),
            ({"emission_min": 1000, "emission_max": 3000},
             lambda i: 1000 <= i["properties"]["cm:emission"] <= 3000),
            ({"sectors": ["1B2", "6A"]}, lambda i: i["properties"]["cm:plume:sector"] in
             ("1B2", "6A")),
            ({"instruments": ["tan", "GAO"]}, lambda i: i["id"][:3] in ("tan", "GAO")),
            ({"qualities": "good"}, lambda i: i["properties"]["cm:plume:quality"] == "good"),
            ({"plume_gas": "CH4"}, lambda i: True),
            ({"plume_gas": "CO2"}, lambda i: False),
            ({"datetime": "2023-01-01/2023-12-31"},
             lambda i: "2023-01-01" <= i["properties"]["datetime"] < "2024-01-01"),
            ({"datetime": "2024-06-01T00:00:00Z/.."},
             lambda i: i["properties"]["datetime"] >= "2024-06-01T00:00:00Z"),
        ]
        for who in (PUBLIC, PARTNER):
            for params, pred in cases:
                with self.subTest(who=who, params=params):
                    want = set(plumes(who, where=pred))
                    got = self.annotated(who, **params)
                    self.assertEqual({p["plume_id"] for p in got["items"]}, want)
                    self.assertEqual(got["total_count"], len(want))
        self.assertTrue(plumes(PUBLIC, where=cases[0][1]))
        self.assertTrue(set(plumes(PUBLIC)) - set(plumes(PUBLIC, where=cases[0][1])))

    def test_names_ids_scene_and_status(self):
        some = sorted(plumes(PARTNER))[:3]
        hidden = [n for n in some if n not in plumes(PUBLIC)] or \
            [n for n in plumes(PARTNER) if n not in plumes(PUBLIC)][:1]
        names = some + hidden
        self.assertEqual(self.names(PARTNER, plume_names=names), set(names))
        self.assertEqual(self.names(PUBLIC, plume_names=names),
                         {n for n in names if n in plumes(PUBLIC)})
        item = plumes(PUBLIC)[some[0]] if some[0] in plumes(PUBLIC) else \
            next(iter(plumes(PUBLIC).values()))
        uuid = item["properties"]["cm:plume_uuid"]
        self.assertEqual(self.names(PUBLIC, plume_ids=[uuid]), {item["id"]})
        scene = item["properties"]["cm:scene_id"]
        self.assertEqual(self.names(PUBLIC, scene_id=scene),
                         set(plumes(PUBLIC, where=lambda i: i["properties"]["cm:scene_id"] ==
                                    scene)))
        in_review = set(plumes(PARTNER, published_only=False,
                               where=lambda i: i["properties"]["cm:status"] == "in_review"))
        self.assertTrue(in_review)
        self.assertEqual(self.names(PARTNER, status="in_review"), in_review)
        self.assertFalse(in_review & self.names(PARTNER))

    def test_bbox_counts_and_nearby(self):
        item = next(iter(plumes(PUBLIC).values()))
        x, y = item["geometry"]["coordinates"]
        bbox = [x - 0.05, y - 0.05, x + 0.05, y + 0.05]
        doc = self.annotated(PUBLIC, bbox=bbox)
        inside = set(plumes(PUBLIC, where=lambda i: sample.in_bbox(i, bbox)))
        self.assertIn(item["id"], inside)
        self.assertEqual({p["plume_id"] for p in doc["items"]}, inside)
        self.assertEqual(doc["bbox_count"], len(inside))
        self.assertEqual(doc["total_count"], len(plumes(PUBLIC)))
        # Nearby: in the bbox grown by half its size each way, not inside.
        grown = [x - 0.1, y - 0.1, x + 0.1, y + 0.1]
        near = set(plumes(PUBLIC, where=lambda i: sample.in_bbox(i, grown))) - inside
        self.assertEqual({p["plume_id"] for p in doc["nearby_items"]}, near)
        # intersects is the same test with a geometry.
        poly = {"type": "Polygon", "coordinates": [[[bbox[0], bbox[1]], [bbox[2], bbox[1]],
                                                    [bbox[2], bbox[3]], [bbox[0], bbox[3]],
                                                    [bbox[0], bbox[1]]]]}
        self.assertEqual(self.names(PUBLIC, intersects=json.dumps(poly)), inside)

    def test_sort_and_paging(self):
        want = plumes(PARTNER)
        emission = lambda i: i["properties"]["cm:emission"]
        got = [p["plume_id"] for p in self.annotated(PARTNER, sort="emissions_desc")["items"]]
        self.assertEqual([emission(want[n]) for n in got],
                         sorted((emission(i) for i in want.values()), reverse=True))
        got = [p["emission_auto"] for p in self.annotated(PARTNER, sort="emissions_asc")["items"]]
        self.assertEqual(got, sorted(got))
        got = [p["scene_timestamp"] for p in self.annotated(PARTNER, sort="asc")["items"]]
        self.assertEqual(got, sorted(got))
        got = [p["scene_timestamp"] for p in self.annotated(PARTNER)["items"]]
        self.assertEqual(got, sorted(got, reverse=True))  # newest first by default
        got = [p["published_at"] for p in self.annotated(PARTNER, sort="published_desc")["items"]]
        self.assertEqual(got, sorted(got, reverse=True))
        # Pages of 7 by offset: every plume exactly once.
        seen, offset = [], 0
        while True:
            doc = self.annotated(PARTNER, limit=7, offset=offset, sort="emissions_desc")
            seen += [p["plume_id"] for p in doc["items"]]
            offset += 7
            if offset >= doc["total_count"]:
                break
        self.assertEqual(sorted(seen), sorted(want))

    def test_bad_parameters_are_422(self):
        cases = [
            ({"bbox": "-124,32,-114,42"}, "bbox"), ({"bbox": [1, 2, 3]}, "bbox"),
            ({"bbox": [1, 2, 3, "x"]}, "bbox"), ({"bbox": [0, 10, 1, 5]}, "bbox"),
            ({"limit": 1001}, "limit"), ({"limit": "ten"}, "limit"), ({"offset": -1}, "offset"),
            ({"emission_min": "lots"}, "emission_min"), ({"sectors": "9Z"}, "sectors"),
            ({"instruments": "TAN"}, "instruments"), ({"qualities": "great"}, "qualities"),
            ({"plume_gas": "N2O"}, "plume_gas"), ({"sort": "name"}, "sort"),
            ({"intersects": "{not json"}, "intersects"), ({"datetime": "soon"}, "datetime"),
        ]
        for params, name in cases:
            with self.subTest(params=params):
                self.assert_422(self.get("plumes/annotated", PUBLIC, params), name)
        # Unknown parameters are ignored, as on the platform.
        self.assertEqual(self.get("plumes/annotated", PUBLIC, {"colour": "blue"}).status_code,
                         200)

    # -- plume/{id} ------------------------------------------------------------------
    def test_one_plume_by_name_or_uuid(self):
        hidden = next(n for n in plumes(PARTNER) if n not in plumes(PUBLIC))
        item = plumes(PARTNER)[hidden]
        for key in (hidden, item["properties"]["cm:plume_uuid"]):
            with self.subTest(key=key):
                r = self.get("plume/" + key, PARTNER)
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.json()["plume_id"], hidden)
                for who in (ANONYMOUS, PUBLIC):
                    missing = self.get("plume/no-such-plume", who)
                    r = self.get("plume/" + key, who)
                    self.assertEqual(r.status_code, 404)
                    self.assertEqual(r.json(), missing.json())
        # Credentials: an invalid one is 401 even here; one without
        # catalog:read is 403.
        self.assertEqual(self.get("plume/" + hidden, token="sk.bad.token").status_code, 401)
        self.assertEqual(self.get("plumes/annotated", token="sk.bad.token").status_code, 401)
        self.assertEqual(self.get("plumes/annotated",
                                  token=self.no_catalog_token).status_code, 403)

    # -- plume-csv -------------------------------------------------------------------
    def csv_pages(self, who, limit, **params):
        rows, offset, pages = [], 0, 0
        while True:
            r = self.get("plume-csv", who, dict(params, limit=limit, offset=offset))
            self.assertEqual(r.status_code, 200, r.text)
            self.assertTrue(r.headers["Content-Type"].startswith("text/csv"))
            self.assertEqual(int(r.headers["pagination-limit"]), limit)
            self.assertEqual(int(r.headers["pagination-offset"]), offset)
            count = int(r.headers["pagination-count"])
            text = r.content.decode()
            self.assertTrue(text.endswith("\r\n"))
            self.assertNotIn("\n", text.replace("\r\n", ""))
            page = list(csv.DictReader(io.StringIO(text, newline="")))
            header = text.split("\r\n", 1)[0].split(",")
            rows += page
            pages += 1
            offset += limit
            if offset >= count:
                return header, rows, count, pages

    def test_csv_pages_by_offset(self):
        for who in (PUBLIC, PARTNER):
            with self.subTest(who=who):
                header, rows, count, pages = self.csv_pages(who, 9)
                want = plumes(who)
                self.assertEqual(count, len(want))
                self.assertEqual(pages, (len(want) + 8) // 9)
                self.assertEqual(sorted(r["plume_id"] for r in rows), sorted(want))
                self.assertIn("plume_latitude", header)
                self.assertNotIn("geometry_json", header)
                row = rows[0]
                item = want[row["plume_id"]]
                self.assertAlmostEqual(float(row["plume_longitude"]),
                                       item["geometry"]["coordinates"][0])
                self.assertAlmostEqual(float(row["plume_latitude"]),
                                       item["geometry"]["coordinates"][1])
                self.assertAlmostEqual(float(row["emission_auto"]),
                                       item["properties"]["cm:emission"])
                self.assertEqual(json.loads(row["plume_bounds"]),
                                 item["properties"]["cm:plume_bounds"])

    def test_csv_filters_columns_and_access(self):
        _, rows, count, _ = self.csv_pages(PUBLIC, 1000, emission_min=3000,
                                           exclude_columns=["plume_tif", "rgb_png"])
        self.assertEqual(sorted(r["plume_id"] for r in rows),
                         sorted(plumes(PUBLIC, where=lambda i: i["properties"]["cm:emission"]
                                       >= 3000)))
        self.assertNotIn("plume_tif", rows[0])
        self.assertNotIn("rgb_png", rows[0])
        self.assertIn("plume_png", rows[0])
        self.assertEqual(self.get("plume-csv").status_code, 401)
        self.assertEqual(self.get("plume-csv", token=self.no_catalog_token).status_code, 403)
        self.assert_422(self.get("plume-csv", PUBLIC, {"exclude_columns": "nope"}),
                        "exclude_columns")
        self.assert_422(self.get("plume-csv", PUBLIC, {"limit": 0}), "limit")
        self.assert_422(self.get("plume-csv", PUBLIC, {"limit": 1001}), "limit")
        r = self.get("plume-csv", PUBLIC, {"limit": 5})
        self.assertEqual(r.headers["pagination-limit"], "5")
        self.assertEqual(len(r.content.decode().split("\r\n")), 5 + 2)  # header, rows, ""

    def test_csv_values_are_the_items(self):
        """Every column of every row is the item's value as the platform
        writes it (strings as they are, numbers and arrays as JSON, assets as
        URLs), derived here from the STAC items alone."""
        for who in (PUBLIC, PARTNER):
            with self.subTest(who=who):
                header, rows, _, _ = self.csv_pages(who, 1000)
                want = plumes(who)
                self.assertEqual(len(rows), len(want))
                for row in rows:
                    expected = csv_row(want[row["plume_id"]], self.server.url)
                    self.assertEqual(sorted(header), sorted(expected))
                    self.assertEqual(row, expected)

    # -- scenes ----------------------------------------------------------------------
    def test_scenes(self):
        self.assertEqual(self.get("scenes").status_code, 401)
        self.assertEqual(self.get("scenes", token=self.no_catalog_token).status_code, 403)
        for who in (PUBLIC, PARTNER):
            with self.subTest(who=who):
                want = scenes(who)
                r = self.get("scenes", who, {"limit": 1000})
                self.assertEqual(r.status_code, 200, r.text)
                doc = r.json()
                self.assertEqual(doc["count"], len(want))
                self.assertEqual({s["name"] for s in doc["items"]}, set(want))
                s = doc["items"][0]
                item = want[s["name"]]
                self.assertEqual(s["id"], item["properties"]["cm:scene_uuid"])
                self.assertEqual(s["geometry"], item["geometry"])
                self.assertEqual(s["timestamp"], item["properties"]["datetime"])
                self.assertEqual(s["cloud_cover_pct"], item["properties"]["eo:cloud_cover"])
                self.assertEqual(s["plume_count"], item["properties"]["cm:plume_count"])
                self.assertEqual(s["instrument"], s["name"][:3])
                got = self.get("scenes", who, {"instruments": ["emi", "tan"], "limit": 1000,
                                               "datetime": "2022-01-01/2024-12-31"}).json()
                pred = lambda i: i["id"][:3] in ("emi", "tan") and \
                    "2022-01-01" <= i["properties"]["datetime"] < "2025-01-01"
                self.assertEqual({s["name"] for s in got["items"]}, set(scenes(who, pred)))
                page = self.get("scenes", who, {"limit": 3, "offset": 3}).json()
                self.assertEqual((len(page["items"]), page["count"]), (3, len(want)))
        self.assertLess(len(scenes(PUBLIC)), len(scenes(PARTNER)))
        self.assert_422(self.get("scenes", PUBLIC, {"instruments": "xyz"}), "instruments")
        # ids: scene names or UUIDs, either matching; hidden ones stay hidden.
        a, b = sorted(scenes(PUBLIC))[:2]
        ids = [a, scenes(PUBLIC)[b]["properties"]["cm:scene_uuid"]]
        got = self.get("scenes", PUBLIC, {"ids": ids}).json()
        self.assertEqual(sorted(s["name"] for s in got["items"]), [a, b])
        self.assertEqual(got["count"], 2)
        hidden = next(n for n in scenes(PARTNER) if n not in scenes(PUBLIC))
        self.assertEqual(self.get("scenes", PUBLIC, {"ids": hidden}).json()["count"], 0)
        self.assertEqual(self.get("scenes", PARTNER, {"ids": hidden}).json()["count"], 1)


    # -- emission sources ------------------------------------------------------------
    def sources(self, who, **params):
        r = self.get("sources.geojson", who, params)
        self.assertEqual(r.status_code, 200, r.text)
        doc = r.json()
        self.assertEqual(doc["type"], "FeatureCollection")
        return doc["features"]

    def assert_same_sources(self, got, want, eps):
        self.assertEqual(len(got), len(want))
        for gas, sector, names, (lon, lat) in want:
            match = [f for f in got if f["properties"]["gas"] == gas and
                     f["properties"]["sector"] == sector and
                     f["properties"]["plume_count"] == len(names) and
                     abs(f["geometry"]["coordinates"][0] - lon) < 2e-5 and
                     abs(f["geometry"]["coordinates"][1] - lat) < 2e-5]
            self.assertEqual(len(match), 1, (gas, sector, names))
            name = match[0]["properties"]["source_name"]
            self.assertRegex(name, r"^%s_%s_%gm_-?\d+\.\d{5}_-?\d+\.\d{5}$" % (gas, sector, eps))

    def test_sources_cluster_what_the_caller_sees(self):
        for who in CALLERS:
            for eps, minpoints in ((100, 1), (100, 2), (5000, 2)):
                with self.subTest(who=who, eps=eps, minpoints=minpoints):
                    want = expected_sources(who, eps, minpoints)
                    got = self.sources(who, eps=eps, minpoints=minpoints)
                    self.assert_same_sources(got, want, eps)
                    counts = [f["properties"]["plume_count"] for f in got]
                    self.assertEqual(counts, sorted(counts, reverse=True))
        self.assertTrue(any(len(names) >= 3 for _, _, names, _ in
                            expected_sources(PUBLIC, 100, 2)), "the sample has no recurring emitter")
        # Every plume is in exactly one source with minpoints=1.
        total = sum(f["properties"]["plume_count"] for f in self.sources(PARTNER))
        self.assertEqual(total, len(plumes(PARTNER)))
        # The plume filters apply before clustering.
        got = self.sources(PUBLIC, emission_min=3000)
        self.assertEqual(sum(f["properties"]["plume_count"] for f in got),
                         len(plumes(PUBLIC, where=lambda i: i["properties"]["cm:emission"] >= 3000)))
        for params, name in (({"eps": 0}, "eps"), ({"eps": "far"}, "eps"),
                             ({"eps": 1e9}, "eps"), ({"minpoints": 0}, "minpoints"),
                             ({"minpoints": "two"}, "minpoints"), ({"bbox": "1,2,3,4"}, "bbox")):
            self.assert_422(self.get("sources.geojson", PUBLIC, params), name)

    def test_one_source(self):
        feature = self.sources(PUBLIC, minpoints=2)[0]
        name = feature["properties"]["source_name"]
        r = self.get("source/" + name, PUBLIC)
        self.assertEqual(r.status_code, 200, r.text)
        doc = r.json()
        self.assertEqual(doc["source_name"], name)
        self.assertEqual(doc["point"], feature["geometry"])
        members = [p["plume_id"] for p in doc["plumes"]]
        self.assertEqual(len(members), feature["properties"]["plume_count"])
        want = [n for _, _, n, _ in expected_sources(PUBLIC, 100, 2) if set(n) == set(members)]
        self.assertEqual(len(want), 1, members)
        items = plumes(PUBLIC)
        self.assertEqual(doc["detection_dates"], sorted({items[n]["properties"]["datetime"][:10]
                                                         for n in members}))
        lon, lat = doc["point"]["coordinates"]
        over = scenes(PUBLIC, where=lambda i: sample.in_bbox(i, [lon, lat, lon, lat]))
        self.assertTrue(over)
        self.assertEqual({s["name"] for s in doc["scenes"]}, set(over))
        self.assertEqual(doc["observation_dates"],
                         sorted({i["properties"]["datetime"][:10] for i in over.values()}))
        # The scenes that saw the plumes are among the observations.
        for n in members:
            self.assertIn(items[n]["properties"]["cm:scene_id"], over)
        for bogus in ("nope", "CH4_1B2_100m_0.00000_0.00000", "CH4__100m_1_2", "CH4_1B2_xm_1_2"):
            r = self.get("source/" + bogus, PUBLIC)
            self.assertEqual(r.status_code, 404, bogus)
        # A source only partners see is missing for everyone else.
        public_names = {f["properties"]["source_name"] for f in self.sources(PUBLIC)}
        hidden = [f["properties"]["source_name"] for f in self.sources(PARTNER)
                  if f["properties"]["source_name"] not in public_names]
        self.assertTrue(hidden)
        self.assertEqual(self.get("source/" + hidden[0], PARTNER).status_code, 200)
        self.assertEqual(self.get("source/" + hidden[0], PUBLIC).status_code, 404)
        self.assertEqual(self.get("source/" + hidden[0], ANONYMOUS).status_code, 404)


    # -- scenes.gpkg -------------------------------------------------------------------
    def gpkg(self, who, **params):
        r = self.get("download/scenes.gpkg", who, params)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["Content-Type"], "application/geopackage+sqlite3")
        self.assertTrue(r.content.startswith(b"SQLite format 3\x00"))
        return r

    def open_gpkg(self, content):
        tmp = tempfile.TemporaryDirectory(prefix="tessera-gpkg-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "scenes.gpkg")
        with open(path, "wb") as f:
            f.write(content)
        return path

    def rows(self, path):
        db = sqlite3.connect(path)
        try:
            return [r[0] for r in db.execute("SELECT name FROM scenes ORDER BY fid")]
        finally:
            db.close()

    @unittest.skipIf(OGRINFO is None, "gdal-bin not installed (scripts/deps.sh test installs it)")
    def test_scenes_geopackage_opens_in_ogrinfo(self):
        self.assertEqual(self.get("download/scenes.gpkg").status_code, 401)
        self.assertEqual(self.get("download/scenes.gpkg",
                                  token=self.no_catalog_token).status_code, 403)
        for who in (PUBLIC, PARTNER):
            with self.subTest(who=who):
                want = scenes(who)
                r = self.gpkg(who, limit=1000)
                self.assertEqual(int(r.headers["pagination-count"]), len(want))
                path = self.open_gpkg(r.content)
                info = subprocess.run([OGRINFO, "-so", path, "scenes"], capture_output=True,
                                      text=True, timeout=60)
                self.assertEqual(info.returncode, 0, info.stderr)
                self.assertIn("Layer name: scenes", info.stdout)
                self.assertIn("Geometry: Polygon", info.stdout)
                self.assertIn("Feature Count: %d" % len(want), info.stdout)
                self.assertIn('ID["EPSG",4326]', info.stdout)
                for field in ("name: String", "timestamp: DateTime", "plume_count: Integer",
                              "cloud_cover_pct: Real"):
                    self.assertIn(field, info.stdout)
                self.assertNotIn("Warning", info.stderr)
                self.assertEqual(set(self.rows(path)), set(want))
        # limit=0: no rows, the schema all the same.
        r = self.gpkg(PUBLIC, limit=0)
        self.assertEqual(r.headers["pagination-limit"], "0")
        self.assertEqual(int(r.headers["pagination-count"]), len(scenes(PUBLIC)))
        info = subprocess.run([OGRINFO, "-so", self.open_gpkg(r.content), "scenes"],
                              capture_output=True, text=True, timeout=60)
        self.assertIn("Feature Count: 0", info.stdout)
        self.assertIn("name: String", info.stdout)
        # A page, and ids as UUIDs or names.
        page = self.gpkg(PUBLIC, limit=4, offset=4)
        self.assertEqual((page.headers["pagination-limit"], page.headers["pagination-offset"]),
                         ("4", "4"))
        self.assertEqual(len(self.rows(self.open_gpkg(page.content))), 4)
        a, b = sorted(scenes(PUBLIC))[:2]
        ids = [a, scenes(PUBLIC)[b]["properties"]["cm:scene_uuid"]]
        got = self.rows(self.open_gpkg(self.gpkg(PUBLIC, ids=ids).content))
        self.assertEqual(sorted(got), [a, b])
        hidden = next(n for n in scenes(PARTNER) if n not in scenes(PUBLIC))
        self.assertEqual(self.rows(self.open_gpkg(self.gpkg(PUBLIC, ids=[hidden]).content)), [])
        self.assertEqual(self.rows(self.open_gpkg(self.gpkg(PARTNER, ids=[hidden]).content)),
                         [hidden])
        self.assert_422(self.get("download/scenes.gpkg", PUBLIC, {"limit": -1}), "limit")


    # -- one visibility rule -------------------------------------------------------------
    def stac_all(self, who, collections, query=None):
        body = {"collections": collections, "limit": 100}
        if query:
            body["query"] = query
        names, url = set(), self.server.url("/api/v1/stac/search")
        headers = {"Authorization": "Bearer " + self.tokens[who]} if self.tokens[who] else {}
        while url:
            r = harness.requests.post(url, json=body, headers=headers, timeout=30)
            self.assertEqual(r.status_code, 200, r.text)
            doc = r.json()
            names |= {f["id"] for f in doc["features"]}
            nxt = [l for l in doc["links"] if l["rel"] == "next"]
            url, body = (nxt[0]["href"], nxt[0].get("body", body)) if nxt else (None, None)
        return names

    def test_one_rule_everywhere(self):
        """For each caller, the plumes of plumes/annotated, of every page of
        plume-csv, of the sources and of a STAC search over the L4A
        collections are one set; so are the scenes of catalog/scenes, of the
        GeoPackage and of a STAC search over the L2B collections."""
        for who in CALLERS:
            with self.subTest(who=who):
                l4a = sorted(c for c in sample.collections(who == PARTNER) if c.startswith("l4a-"))
                l2b = sorted(c for c in sample.collections(who == PARTNER) if c.startswith("l2b-"))
                from_stac = self.stac_all(who, l4a, {"cm:status": {"eq": "published"}})
                from_list = self.names(who)
                self.assertEqual(from_list, from_stac)
                self.assertEqual(from_list, set(plumes(who)))
                if who == ANONYMOUS:
                    continue  # the downloads need a token
                _, rows, _, _ = self.csv_pages(who, 13)
                self.assertEqual({r["plume_id"] for r in rows}, from_stac)
                scene_names = {s["name"] for s in
                               self.get("scenes", who, {"limit": 1000}).json()["items"]}
                gpkg = self.rows(self.open_gpkg(self.gpkg(who, limit=1000).content))
                self.assertEqual(scene_names, self.stac_all(who, l2b))
                self.assertEqual(set(gpkg), scene_names)
                total = sum(f["properties"]["plume_count"] for f in self.sources(who))
                self.assertEqual(total, len(from_stac))


class CatalogOnPostgresTest(CatalogTest):
    """Every test above again with the catalog (and store) on PostgreSQL."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, os.path.join(harness.SOURCE_DIR, "tests", "pg"))
        from pgcluster import PgCluster
        cls.pg = PgCluster().start()
        try:
            cls.load(Server(database_url=cls.pg.createdb("catalog_cm")))
        except Exception:
            cls.pg.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.pg.destroy()


class PlatformScriptTest(unittest.TestCase):
    """A user's script written the way the platform's tutorials write
    them (requests, a Bearer token_value, the CSV paged by offset until
    pagination-count, a pystac-style STAC search with query on cm:emission),
    run with only base_url pointing at a local Tessera."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.cli("migrate")
        import_sample(cls.server)
        cls.server.start()
        cls.email, _ = cls.server.new_account()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_tutorial_style_script(self):
        requests = harness.requests
        base_url = self.server.url("/api/v1/")
        # Sign in and mint a STAC token, as seed 000 does.
        r = requests.post(f"{base_url}token/pair",
                          json={"email": self.email, "password": "correct horse battery"})
        r.raise_for_status()
        access = r.json()["access"]
        r = requests.post(f"{base_url}account/tokens/create-stac",
                          headers={"Authorization": f"Bearer {access}"},
                          json={"expiration_date": "2099-12-31", "name": "notebook"})
        if r.status_code == 422:  # beyond the maximum lifetime: a year from now
            import datetime
            day = (datetime.date.today() + datetime.timedelta(days=300)).isoformat()
            r = requests.post(f"{base_url}account/tokens/create-stac",
                              headers={"Authorization": f"Bearer {access}"},
                              json={"expiration_date": day, "name": "notebook"})
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['token_value']}"}

        # Every methane plume above 1,000 kg/hr as CSV, page by page.
        params = {"plume_gas": "CH4", "emission_min": 1000, "limit": 25, "offset": 0}
        lines = []
        while True:
            r = requests.get(f"{base_url}catalog/plume-csv", headers=headers, params=params)
            r.raise_for_status()
            page = list(csv.DictReader(io.StringIO(r.text)))
            lines.extend(page)
            params["offset"] += params["limit"]
            if params["offset"] >= int(r.headers["pagination-count"]):
                break
        csv_names = {row["plume_id"] for row in lines}

        # The same plumes through the STAC API, as pystac-client searches.
        search = {"collections": ["l4a-ch4-mfa-v3a", "l4a-ch4"], "limit": 50,
                  "query": {"cm:emission": {"gte": 1000}, "cm:status": {"eq": "published"}}}
        stac_names, url = set(), f"{base_url}stac/search"
        while url:
            r = requests.post(url, json=search, headers=headers)
            r.raise_for_status()
            page = r.json()
            stac_names |= {f["id"] for f in page["features"]}
            nxt = next((l for l in page["links"] if l["rel"] == "next"), None)
            url, search = (nxt["href"], nxt.get("body", search)) if nxt else (None, None)

        self.assertTrue(csv_names)
        self.assertEqual(csv_names, stac_names)
        self.assertEqual(csv_names, set(plumes(PUBLIC, where=lambda i:
                                               i["properties"]["cm:emission"] >= 1000)))
        self.assertTrue(all(float(row["emission_auto"]) >= 1000 for row in lines))


if __name__ == "__main__":
    unittest.main()
