#!/usr/bin/env python3
"""A deterministic STAC catalog shaped like the Carbon Mapper platform's
(../shared/CARBONMAPPER.md): collections l2b-ch4-mfa-v3a, l2b-co2,
l3a-ch4-mfa-v3a, l4a-ch4-mfa-v3a, l4a-ch4 and a restricted partner collection;
scenes, plumes and emission estimates over real places; `cm:` properties;
asset hrefs in the platform's layout.

    scripts/gen_catalog.py OUT                     # the sample: ~200 items, real assets
    scripts/gen_catalog.py OUT --items 100000 --no-assets --years 2016-2025   # benchmarks

OUT receives public/ (import with --visibility Public), partners/ (import with
--visibility Partners: the restricted collection and embargoed records) and,
with assets, assets/ (serve with --asset-dir). The same seed gives the same
bytes. Assets are small real files: Cloud-Optimized GeoTIFFs written by GDAL's
own gdal_translate (Debian's gdal-bin), PNGs and GeoJSON outlines.
Items are written as ItemCollections of up to 1,000 features per file.
"""
import argparse
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
import zlib
from datetime import datetime, timedelta, timezone

# Places over which scenes and plumes are generated: (name, lon, lat, sectors).
PLACES = [
    ("sanjoaquin", -119.45, 35.75, ["1B2", "4B", "6A"]),          # California
    ("losangeles", -118.25, 34.05, ["6A", "1B2", "1A1"]),         # California
    ("permian", -103.45, 32.10, ["1B2", "1B1a"]),
    ("turkmenistan", 54.20, 39.30, ["1B2", "1B1a"]),
    ("algeria", 5.95, 31.75, ["1B2"]),
    ("fourcorners", -108.45, 36.70, ["1B1a", "1A1"]),
    ("delhi", 77.32, 28.62, ["6A", "4B"]),
    ("buenosaires", -58.45, -34.65, ["6A"]),
    ("kuwait", 47.95, 29.10, ["1B2", "1A1"]),
    ("shanxi", 112.55, 37.85, ["1B1a", "1A1"]),
]
INSTRUMENTS = [("tan", "tanager-1", "tanager"), ("emi", "iss", "emit"), ("GAO", "gao", "gao"),
               ("ang", "ang", "avirisng"), ("av3", "av3", "aviris3")]
QUALITIES = ["good", "good", "good", "questionable", "bad"]

# Collections: id -> (level, gas, algorithm description, asset keys).
COLLECTIONS = {
    "l2b-ch4-mfa-v3a": ("L2B", "CH4", "Methane concentration (matched filter, v3a) per scene",
                        ["cmf.tif", "uncertainty.tif", "rgb.tif"]),
    "l2b-co2": ("L2B", "CO2", "Carbon dioxide concentration per scene",
                ["cmf.tif", "rgb.tif"]),
    "l3a-ch4-mfa-v3a": ("L3A", "CH4", "Methane plume rasters (matched filter, v3a)",
                        ["plume.tif", "plume.png", "plume-rgb.png", "rgb.png",
                         "plume-outline.geojson"]),
    "l4a-ch4-mfa-v3a": ("L4A", "CH4", "Methane emission estimates (matched filter, v3a)",
                        ["plume-outline.geojson"]),
    "l4a-ch4": ("L4A", "CH4", "Methane emission estimates", []),
}
# An emission estimate (L4A) also links its plume's rasters, which live with
# the L3A item of the same name: the platform's plume_tif, plume_png,
# plume_rgb_png and rgb_png.
PLUME_RASTERS = ["plume.tif", "plume.png", "plume-rgb.png", "rgb.png"]
# Plume statuses: most are published; a few wait in review.
STATUSES = ["published"] * 11 + ["in_review"]
PARTNER_COLLECTION = "l3a-ch4-mfa-v3a-partner"
PARTNER_GROUP = "Partners"
LETTERS = "ABCDEFGH"
FACILITIES_PER_PLACE = 3
FACILITY_JITTER = 0.0003  # degrees (~30 m): repeated plumes of one emitter
RASTER_SIZE = 32  # pixels a side of every generated GeoTIFF
PROJECTION_EXT = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Gen:
    def __init__(self, seed, years, assets):
        self.rnd = random.Random(seed)
        self.seed = seed
        self.sites = {}  # place name -> [(lon, lat, sector)]
        self.first_year, self.last_year = years
        self.assets = assets
        self.items = {}  # (collection, visibility) -> [item]
        self.linked = set()  # hrefs items link to but another item owns

    def when(self):
        start = datetime(self.first_year, 1, 1, tzinfo=timezone.utc)
        end = datetime(self.last_year, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
        span = int((end - start).total_seconds())
        return start + timedelta(seconds=self.rnd.randrange(span))

    def scene(self, place):
        code, platform, instrument = self.rnd.choice(INSTRUMENTS)
        t = self.when()
        suffix = "c%02ds%04d" % (self.rnd.randrange(100), self.rnd.randrange(10000))
        sid = "%s%st%s%s" % (code, t.strftime("%Y%m%d"), t.strftime("%H%M%S"), suffix)
        name, lon, lat, sectors = place
        # A footprint of roughly 10 x 8 km over one of the place's
        # facilities, which emits again and again (an emission source).
        flon, flat, fsector = self.rnd.choice(self.facilities(place))
        w, h = 0.05 + self.rnd.uniform(0, 0.05), 0.04 + self.rnd.uniform(0, 0.04)
        clon = flon + self.rnd.uniform(-w, w) * 0.6
        clat = flat + self.rnd.uniform(-h, h) * 0.6
        return {"id": sid, "t": t, "code": code, "platform": platform, "instrument": instrument,
                "place": name, "sectors": sectors, "lon": clon, "lat": clat, "w": w, "h": h,
                "facility": (flon, flat, fsector)}

    def facilities(self, place):
        """A place's emitters, drawn once per place from their own seeded
        generator (so the catalog's size does not move them)."""
        name, lon, lat, sectors = place
        if name not in self.sites:
            rnd = random.Random("%s-%s" % (self.seed, name))
            self.sites[name] = [(lon + rnd.uniform(-0.6, 0.6), lat + rnd.uniform(-0.4, 0.4),
                                 rnd.choice(sectors)) for _ in range(FACILITIES_PER_PLACE)]
        return self.sites[name]

    @staticmethod
    def polygon(lon, lat, w, h):
        ring = [[round(lon - w, 5), round(lat - h, 5)], [round(lon + w, 5), round(lat - h, 5)],
                [round(lon + w, 5), round(lat + h, 5)], [round(lon - w, 5), round(lat + h, 5)],
                [round(lon - w, 5), round(lat - h, 5)]]
        return {"type": "Polygon", "coordinates": [ring]}

    def emission(self):
        # Log-uniform from 50 to 20,000 kg/hr: both sides of 1,000 and 3,000.
        e = math.exp(self.rnd.uniform(math.log(50), math.log(20000)))
        return round(e, 1), round(e * self.rnd.uniform(0.1, 0.4), 1)

    def href(self, coll, item_id, t, key):
        return "%s/%s/%s_%s_%s" % (coll, t.strftime("%Y/%m/%d") + "/" + item_id, item_id, coll,
                                   key)

    def item(self, coll, item_id, geometry, t, props, asset_keys, visibility, linked=None):
        """An item with its own assets (asset_keys, files under its own
        path) and linked ones (key -> href of a file another item owns)."""
        xs = [p[0] for p in geometry["coordinates"][0]] if geometry["type"] == "Polygon" \
            else [geometry["coordinates"][0]]
        ys = [p[1] for p in geometry["coordinates"][0]] if geometry["type"] == "Polygon" \
            else [geometry["coordinates"][1]]
        assets = {}
        bbox = [min(xs), min(ys), max(xs), max(ys)]
        for key in list(asset_keys) + list(linked or {}):
            media = {"tif": "image/tiff; application=geotiff; profile=cloud-optimized",
                     "png": "image/png", "geojson": "application/geo+json"}[key.rsplit(".", 1)[1]]
            href = (linked or {}).get(key) or self.href(coll, item_id, t, key)
            assets[key] = {"href": href, "type": media,
                           "roles": ["thumbnail"] if key.endswith(".png") else ["data"]}
            if key.endswith(".tif") and key not in (linked or {}):
                # The projection extension: what GDAL's STACIT driver needs
                # to place the raster without opening it.
                cell = raster_cell(bbox)
                assets[key]["proj:shape"] = [RASTER_SIZE, RASTER_SIZE]
                assets[key]["proj:transform"] = [cell, 0, bbox[0], 0, -cell,
                                                 round(bbox[1] + RASTER_SIZE * cell, 9)]
        if any(k.endswith(".tif") for k in asset_keys):
            props = dict(props, **{"proj:epsg": 4326})
        doc = {
            "type": "Feature", "stac_version": "1.0.0",
            "stac_extensions": [PROJECTION_EXT] if "proj:epsg" in props else [],
            "id": item_id, "collection": coll, "geometry": geometry,
            "bbox": bbox,
            "properties": dict({"datetime": iso(t)}, **props),
            "links": [{"rel": "license", "href": "https://creativecommons.org/licenses/by/4.0/"}],
            "assets": assets,
        }
        self.items.setdefault((coll, visibility), []).append(doc)
        return doc

    def common(self, s, version="v3a"):
        return {"platform": s["platform"], "instruments": [s["instrument"]], "version": version,
                "created": iso(s["t"] + timedelta(days=2)),
                "processing:datetime": iso(s["t"] + timedelta(days=1)),
                "cm:scene_id": s["id"], "cm:instrument": s["code"]}

    def uuid(self):
        return str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))

    def add_scene_and_plumes(self, place, embargoed):
        s = self.scene(place)
        vis = "partners" if embargoed else "public"
        footprint = self.polygon(s["lon"], s["lat"], s["w"], s["h"])
        gas_coll = "l2b-co2" if self.rnd.random() < 0.2 else "l2b-ch4-mfa-v3a"
        props = self.common(s, "v3a" if gas_coll != "l2b-co2" else "v1")
        props.update({"cm:visibility": "embargoed" if embargoed else "public",
                      "cm:scene_uuid": self.uuid(),
                      "eo:cloud_cover": round(self.rnd.uniform(0, 60), 1)})
        scene = self.item(gas_coll, s["id"], footprint, s["t"], props,
                          COLLECTIONS[gas_coll][3], vis)
        if gas_coll == "l2b-co2" and not embargoed:
            scene["properties"]["cm:plume_count"] = 0
            return 1
        count = 1
        plumes = max(self.rnd.choice([0, 1, 1, 2, 3]), 1 if embargoed else 0)
        scene["properties"]["cm:plume_count"] = plumes
        for k in range(plumes):
            pname = "%s-%s" % (s["id"], LETTERS[k])
            if k == 0:  # the facility the scene was taken over
                flon, flat, sector = s["facility"]
                plon = flon + self.rnd.uniform(-FACILITY_JITTER, FACILITY_JITTER)
                plat = flat + self.rnd.uniform(-FACILITY_JITTER, FACILITY_JITTER)
            else:  # elsewhere in the scene
                plon = s["lon"] + self.rnd.uniform(-s["w"], s["w"]) * 0.8
                plat = s["lat"] + self.rnd.uniform(-s["h"], s["h"]) * 0.8
                sector = self.rnd.choice(s["sectors"])
            e, u = self.emission()
            outline = self.polygon(plon, plat, 0.004 + self.rnd.uniform(0, 0.006),
                                   0.003 + self.rnd.uniform(0, 0.005))
            ring = outline["coordinates"][0]
            status = self.rnd.choice(STATUSES)
            pprops = self.common(s)
            pprops.update({
                "cm:emission": e, "cm:emission_uncertainty": u,
                "cm:plume_latitude": round(plat, 5), "cm:plume_longitude": round(plon, 5),
                "cm:plume:sector": sector, "cm:plume:quality": self.rnd.choice(QUALITIES),
                "cm:gas": "CH4", "cm:visibility": "embargoed" if embargoed else "public",
                "cm:plume_uuid": self.uuid(), "cm:status": status,
                "cm:plume_bounds": [ring[0][0], ring[0][1], ring[2][0], ring[2][1]],
                "cm:wind_speed_avg_auto": round(self.rnd.uniform(0.5, 9), 2),
                "cm:wind_direction_avg_auto": round(self.rnd.uniform(0, 360), 1),
            })
            if status == "published":
                pprops["cm:published_at"] = iso(s["t"] + timedelta(days=self.rnd.randrange(3, 40)))
            # An embargoed scene's first plume always goes to the partner
            # collection, so even a small catalog has both kinds of secret.
            to_partner = embargoed and (k == 0 or self.rnd.random() < 0.5)
            l3 = PARTNER_COLLECTION if to_partner else "l3a-ch4-mfa-v3a"
            self.item(l3, pname, outline, s["t"], pprops, COLLECTIONS["l3a-ch4-mfa-v3a"][3],
                      "partners" if embargoed else "public")
            point = {"type": "Point", "coordinates": [round(plon, 5), round(plat, 5)]}
            l4 = "l4a-ch4" if self.rnd.random() < 0.3 else "l4a-ch4-mfa-v3a"
            linked = {key: self.href(l3, pname, s["t"], key) for key in PLUME_RASTERS}
            self.linked.update(linked.values())
            self.item(l4, pname, point, s["t"], pprops, COLLECTIONS[l4][3], vis, linked)
            count += 2
        return count

    def generate(self, target):
        n = 0
        round_ = 0
        while n < target:
            # Every place in every round, so every collection covers several
            # places, California among them.
            place = PLACES[round_ % len(PLACES)]
            # One scene in eight is under embargo (partners only), from the
            # fourth on, whatever the size; the phase shifts each pass over
            # the places, so every place gets some.
            embargoed = (round_ + round_ // len(PLACES)) % 8 == 3
            n += self.add_scene_and_plumes(place, embargoed)
            round_ += 1

    # -- output ---------------------------------------------------------------
    def collection_doc(self, cid, items):
        level, gas, title = (COLLECTIONS[cid][:3] if cid in COLLECTIONS
                             else ("L3A", "CH4", "Methane plume rasters for partners (embargoed)"))
        xs = [i["bbox"][0] for i in items] + [i["bbox"][2] for i in items]
        ys = [i["bbox"][1] for i in items] + [i["bbox"][3] for i in items]
        times = sorted(i["properties"]["datetime"] for i in items)
        return {
            "type": "Collection", "stac_version": "1.0.0", "id": cid, "title": title,
            "description": "%s. Generated sample data shaped like the Carbon Mapper platform's "
                           "(%s, %s); not real measurements." % (title, level, gas),
            "license": "CC-BY-4.0", "keywords": [gas, level, "emissions"],
            "providers": [{"name": "Tessera sample data", "roles": ["producer", "host"]}],
            "extent": {"spatial": {"bbox": [[min(xs), min(ys), max(xs), max(ys)]]},
                       "temporal": {"interval": [[times[0], times[-1]]]}},
            "summaries": {"cm:gas": [gas]},
            "links": [],
        }

    def write(self, out):
        for (cid, vis), items in sorted(self.items.items()):
            items.sort(key=lambda i: (i["properties"]["datetime"], i["id"]))
            base = os.path.join(out, vis, cid)
            os.makedirs(base, exist_ok=True)
            # A collection lives once: with the public tree unless all of it
            # is for partners.
            if vis == "public" or cid == PARTNER_COLLECTION:
                allitems = items + self.items.get((cid, "partners"), []) if vis == "public" \
                    else items
                dump(os.path.join(base, "collection.json"), self.collection_doc(cid, allitems))
            for k in range(0, len(items), 1000):
                dump(os.path.join(base, "items-%04d.json" % (k // 1000)),
                     {"type": "FeatureCollection", "features": items[k:k + 1000]})
        if self.assets:
            self.write_assets(os.path.join(out, "assets"))
            # A file no item references: the asset endpoint must not serve it.
            with open(os.path.join(out, "assets", "README.txt"), "w") as f:
                f.write("Assets of the sample catalog, written by scripts/gen_catalog.py.\n"
                        "Served only through the items that reference them.\n")

    def write_assets(self, root):
        tmp = tempfile.mkdtemp(prefix="gen-catalog-")
        try:
            for items in self.items.values():
                for doc in items:
                    for key, a in doc["assets"].items():
                        if a["href"] in self.linked and not a["href"].startswith(doc["collection"] + "/"):
                            continue  # written by the item that owns it
                        path = os.path.join(root, a["href"])
                        os.makedirs(os.path.dirname(path), exist_ok=True)
                        if key.endswith(".tif"):
                            write_cog(path, doc, 3 if key == "rgb.tif" else 1, self.rnd, tmp)
                        elif key.endswith(".png"):
                            write_png(path, 32, 32, self.rnd)
                        else:
                            dump(path, {"type": "Feature", "geometry": doc["geometry"],
                                        "properties": {"id": doc["id"]}})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


def write_png(path, w, h, rnd):
    """A small RGB PNG (stdlib only: zlib and struct): a gradient."""
    tint = rnd.randrange(256)
    rows = b"".join(b"\x00" + bytes(v for x in range(w) for v in ((x * 8) % 256, (y * 8) % 256,
                                                                  tint)) for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def raster_cell(bbox):
    """The pixel size of a generated raster over bbox (square pixels)."""
    return round(max(bbox[2] - bbox[0], bbox[3] - bbox[1]) / RASTER_SIZE, 9) or 0.0001


def write_cog(path, doc, bands, rnd, tmp, size=RASTER_SIZE):
    """A size x size Cloud-Optimized GeoTIFF over the item's bbox, EPSG:4326,
    written by gdal_translate from ASCII grids (one per band): a gradient
    with a little noise, which compresses to a few kilobytes."""
    w, s = doc["bbox"][0], doc["bbox"][1]
    cell = raster_cell(doc["bbox"])
    grids = []
    for b in range(bands):
        g = os.path.join(tmp, "band%d.asc" % b)
        with open(g, "w") as f:
            f.write("ncols %d\nnrows %d\nxllcorner %.6f\nyllcorner %.6f\ncellsize %.8f\n"
                    "NODATA_value -9999\n" % (size, size, w, s, cell))
            for y in range(size):
                f.write(" ".join(str((x * 5 + y * 3 + 40 * b + rnd.randrange(8)) % 256)
                                 for x in range(size)) + "\n")
        grids.append(g)
    src = grids[0]
    if bands > 1:
        src = os.path.join(tmp, "bands.vrt")
        run(["gdalbuildvrt", "-q", "-separate", src] + grids)
    run(["gdal_translate", "-q", "-of", "COG", "-a_srs", "EPSG:4326", "-ot", "Byte",
         "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=256", src, path])


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("%s failed: %s" % (cmd[0], r.stderr.strip()))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--items", type=int, default=200, help="about how many items (default 200)")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--years", default="2020-2025", help="first-last year (default 2020-2025)")
    ap.add_argument("--no-assets", action="store_true", help="items only (benchmarks)")
    a = ap.parse_args(argv)
    first, last = (int(y) for y in a.years.split("-"))
    if not a.no_assets and not shutil.which("gdal_translate"):
        raise SystemExit("gen_catalog: gdal_translate not found (apt-get install gdal-bin), "
                         "or use --no-assets")
    g = Gen(a.seed, (first, last), not a.no_assets)
    g.generate(a.items)
    g.write(a.out)
    total = sum(len(v) for v in g.items.values())
    print("gen_catalog: %d items in %d collections -> %s" % (
        total, len({c for c, _ in g.items}), a.out), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
