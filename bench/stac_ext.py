#!/usr/bin/env python3
"""STAC search latency at catalog scale, with the query, filter and sort
extensions. Never part of the test suite.

Generates a platform-shaped catalog (Carbon Mapper collection names and
properties; items clustered around emission hot spots, datetimes over nine
years; a tenth of them in a Partners-only collection), imports it into a
fresh data directory (SQLite, or PostgreSQL with --database-url), starts the
release binary with the page cache off, and times searches one at a time
over a kept-alive connection, every URL new. Prints p50/p99/max per family,
measured by the client and by the server's own access log, and the server's
CPU time per request (user + system, from /proc: the figure least moved by
other load on a shared machine).

    bench/stac_ext.py                       # 100,000 items, SQLite
    bench/stac_ext.py --items 20000 --requests 200
    bench/stac_ext.py --database-url postgresql://tessera@127.0.0.1:5432/bench
"""
import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HOTSPOTS = [(-103.5, 31.9), (-108.2, 36.8), (-119.5, 35.4), (-103.0, 48.0), (54.0, 38.5),
            (6.0, 31.0), (77.3, 28.6), (-58.5, -34.7), (19.3, 51.3), (120.5, 24.2),
            (110.7, -26.6), (-80.0, 40.0), (58.0, 52.0), (113.0, 38.0), (48.0, 29.0)]
SECTORS = ["1B2", "6A", "6B", "4B", "1B1a", "1A1", "other", "NA"]
INSTRUMENTS = ["tan", "emi", "av3", "GAO", "ang"]
COLLECTIONS = ["l2b-ch4-mfa-v3a", "l3a-ch4-mfa-v3a", "l4a-ch4-mfa-v3a", "l2b-co2", "l4a-ch4"]
PARTNER = "l4a-ch4-partner"
T0 = datetime(2016, 1, 1, tzinfo=timezone.utc)
SPAN = 9 * 365 * 86400


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def collection(cid):
    return {"type": "Collection", "stac_version": "1.0.0", "id": cid, "description": cid,
            "license": "CC-BY-4.0", "links": [],
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [["2016-01-01T00:00:00Z", None]]}}}


def make_item(rnd, i, coll):
    if rnd.random() < 0.7:
        lon0, lat0 = rnd.choice(HOTSPOTS)
        lon, lat = rnd.gauss(lon0, 1.0), rnd.gauss(lat0, 0.8)
    else:
        lon, lat = rnd.uniform(-170, 170), rnd.uniform(-55, 65)
    lon, lat = max(-179.9, min(179.9, lon)), max(-89, min(89, lat))
    t = T0 + timedelta(seconds=rnd.randrange(SPAN))
    inst = rnd.choice(INSTRUMENTS)
    scene = "%s%st%s" % (inst, t.strftime("%Y%m%d"), t.strftime("%H%M%S"))
    emission = round(rnd.lognormvariate(6.5, 1.3), 1)
    d = 0.01
    geom = ({"type": "Point", "coordinates": [lon, lat]} if coll.startswith("l4a")
            else {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                      [lon + d, lat + d], [lon - d, lat + d],
                                                      [lon - d, lat - d]]]})
    iid = "%s-%s-%06d" % (coll.split("-")[0], scene, i)
    props = {"datetime": iso(t), "platform": "tanager-1" if inst == "tan" else inst,
             "instruments": [inst], "version": "v3a", "created": iso(t + timedelta(days=2)),
             "processing:datetime": iso(t + timedelta(days=1)), "cm:emission": emission,
             "cm:emission_uncertainty": round(emission * 0.2, 1),
             "cm:plume_latitude": round(lat, 5), "cm:plume_longitude": round(lon, 5),
             "cm:plume:sector": rnd.choice(SECTORS), "cm:scene_id": scene,
             "cm:visibility": "partner" if coll == PARTNER else "public"}
    return {"type": "Feature", "stac_version": "1.0.0", "id": iid, "collection": coll,
            "geometry": geom, "properties": props, "links": [],
            "assets": {"plume.tif": {"href": "%s/%s/%s.tif" % (coll, t.year, iid),
                                     "type": "image/tiff; application=geotiff"}}}


def generate(d, n, seed):
    rnd = random.Random(seed)
    for part in ("public", "partner"):
        os.makedirs(os.path.join(d, part), exist_ok=True)
    for c in COLLECTIONS:
        with open(os.path.join(d, "public", c + ".json"), "w") as f:
            json.dump(collection(c), f)
    with open(os.path.join(d, "partner", PARTNER + ".json"), "w") as f:
        json.dump(collection(PARTNER), f)
    batch = {"public": [], "partner": []}
    for i in range(n):
        part = "partner" if i % 10 == 9 else "public"
        coll = PARTNER if part == "partner" else COLLECTIONS[i % len(COLLECTIONS)]
        batch[part].append(make_item(rnd, i, coll))
        if len(batch[part]) == 2000 or i == n - 1:
            for p, items in batch.items():
                if items:
                    with open(os.path.join(d, p, "items-%07d.json" % i), "w") as f:
                        json.dump({"type": "FeatureCollection", "features": items}, f)
                    batch[p] = []


def percentile(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100000)
    ap.add_argument("--requests", type=int, default=500, help="per family")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "tessera"))
    ap.add_argument("--database-url")
    ap.add_argument("--keep", help="reuse/keep the generated catalog in this directory")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-import", action="store_true",
                    help="PostgreSQL: search the catalog already in the database")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="tessera-stacbench-")
    cat_dir = args.keep or os.path.join(tmp, "catalog")
    data = os.path.join(tmp, "data")
    proc = None
    try:
        if not os.path.isdir(os.path.join(cat_dir, "public")):
            t = time.time()
            generate(cat_dir, args.items, args.seed)
            print("generated %d items in %.1f s" % (args.items, time.time() - t))
        base = [args.bin]
        tail = ["--data-dir", data] + (["--database-url", args.database_url]
                                       if args.database_url else [])
        subprocess.run(base + ["migrate"] + tail, check=True, capture_output=True)
        for part, vis in () if args.no_import else (("public", "Public"),
                                                    ("partner", "Partners")):
            t = time.time()
            subprocess.run(base + ["stac", "import", os.path.join(cat_dir, part),
                                   "--visibility", vis] + tail, check=True)
            print("imported %s in %.1f s" % (part, time.time() - t))
        port_file = os.path.join(tmp, "port")
        log = open(os.path.join(tmp, "server.log"), "w")
        proc = subprocess.Popen(base + ["serve", "--listen", "127.0.0.1:0", "--port-file",
                                        port_file, "--stac-cache-mb", "0"] + tail,
                                stdout=log, stderr=log)
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        port = int(open(port_file).read())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        rnd = random.Random(args.seed + 1)
        seen = set()

        def bbox():
            lon0, lat0 = rnd.choice(HOTSPOTS)
            w = rnd.uniform(1, 4)
            return [round(lon0 - w + rnd.uniform(-1, 1), 4), round(lat0 - w / 2, 4),
                    round(lon0 + w, 4), round(lat0 + w / 2, 4)]

        def year():
            t = T0 + timedelta(seconds=rnd.randrange(SPAN - 365 * 86400))
            return iso(t), iso(t + timedelta(days=365))

        families = {
            "plain page": lambda: ("GET", {"limit": 10, "offset": rnd.randrange(0, 2000)}),
            "bbox+datetime+query": lambda: ("GET", (lambda b, y: {
                "bbox": ",".join(map(str, b)), "datetime": "%s/%s" % y,
                "query": json.dumps({"cm:emission": {"gt": rnd.randrange(100, 3000)}}),
                "limit": 10})(bbox(), year())),
            "cql2 text filter": lambda: ("GET", (lambda b, y: {
                "filter": "S_INTERSECTS(geometry, BBOX(%s)) AND T_INTERSECTS(datetime, "
                          "INTERVAL('%s', '%s')) AND \"cm:emission\" > %d AND "
                          "\"cm:plume:sector\" IN ('1B2', '6A')" % (
                              ", ".join(map(str, b)), y[0], y[1], rnd.randrange(100, 3000)),
                "limit": 10})(bbox(), year())),
            "cql2 json filter (POST), catalog-wide": lambda: ("POST", {
                "filter": {"op": "and", "args": [
                    {"op": ">", "args": [{"property": "cm:emission"},
                                         rnd.randrange(2000, 20000)]},
                    {"op": "=", "args": [{"property": "cm:plume:sector"},
                                         rnd.choice(SECTORS)]}]},
                "limit": 10}),
            "sortby -cm:emission (whole catalog)": lambda: ("GET", {
                "sortby": "-cm:emission", "limit": 10, "offset": rnd.randrange(0, 5000)}),
            "sortby cm:emission + bbox": lambda: ("GET", {
                "sortby": "cm:emission", "bbox": ",".join(map(str, bbox())), "limit": 10}),
            "deep page offset 5000": lambda: ("GET", {
                "limit": 10, "offset": 5000 + rnd.randrange(0, 1000)}),
            "deep page offset 5000 + filter": lambda: ("GET", {
                "filter": "\"cm:emission\" > %d" % rnd.randrange(50, 200),
                "limit": 10, "offset": 5000 + rnd.randrange(0, 1000)}),
        }
        token_re = re.compile(r" (\d+)us(?: |$)")  # the duration, before route= and bytes=

        def cpu_secs():  # the server's user + system CPU, immune to others' load
            f = open("/proc/%d/stat" % proc.pid).read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

        print("%-40s %8s %8s %8s %8s %10s %8s" % ("family (ms)", "p50", "p99", "max", "srv p99",
                                                    "matched~", "cpu us"))
        for name, make in families.items():
            lat, matched = [], []
            log.flush()
            start = os.path.getsize(log.name)
            done = tries = 0
            cpu0 = cpu_secs()
            while done < args.requests and tries < 100 * args.requests:
                tries += 1
                method, params = make()
                key = json.dumps([method, params], sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                t = time.perf_counter()
                if method == "GET":
                    conn.request("GET", "/api/v1/stac/search?" + urllib.parse.urlencode(params))
                else:
                    conn.request("POST", "/api/v1/stac/search", body=json.dumps(params),
                                 headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
                lat.append((time.perf_counter() - t) * 1000)
                if r.status != 200:
                    sys.exit("%s: %d %s" % (name, r.status, body[:300]))
                matched.append(json.loads(body)["numberMatched"])
                done += 1
            cpu = (cpu_secs() - cpu0) * 1e6 / max(done, 1)
            time.sleep(0.3)
            with open(log.name) as f:
                f.seek(start)
                srv = [int(m.group(1)) / 1000 for line in f if "/stac/search" in line
                       for m in [token_re.search(line.strip())] if m]
            print("%-40s %8.2f %8.2f %8.2f %8.2f %10d %8.0f" % (
                name, percentile(lat, 50), percentile(lat, 99), max(lat),
                percentile(srv, 99) if srv else float("nan"), sorted(matched)[len(matched) // 2],
                cpu))
        conn.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
