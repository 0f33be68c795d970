#!/usr/bin/env python3
"""Regenerates the sample STAC catalog (public/, restricted/, assets/).

The data are illustrative methane and CO2 plume detections in the style of the
Carbon Mapper open data portal: realistic places, sectors and magnitudes, but
not real measurements. Run from anywhere; it writes next to this file.
"""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
STAC = "1.0.0"
LICENSE = "CC-BY-4.0"


def png(width, height, rgb):
    """A tiny but valid RGB PNG with a plume-like gradient."""
    rows = b""
    for y in range(height):
        row = b"\x00"
        for x in range(width):
            d = ((x - width / 2) ** 2 + (y - height / 2) ** 2) ** 0.5
            k = max(0.0, 1.0 - d / (width / 2))
            row += bytes(int(c * k + 20 * (1 - k)) for c in rgb)
        rows += row

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def footprint(lon, lat, dx=0.012, dy=0.008):
    ring = [[round(lon - dx, 5), round(lat - dy, 5)], [round(lon + dx, 5), round(lat - dy, 5)],
            [round(lon + dx * 1.4, 5), round(lat + dy, 5)], [round(lon - dx * 0.6, 5), round(lat + dy, 5)],
            [round(lon - dx, 5), round(lat - dy, 5)]]
    return {"type": "Polygon", "coordinates": [ring]}


def collection(cid, title, desc, keywords, bbox, interval, gas):
    return {
        "type": "Collection", "stac_version": STAC, "id": cid, "title": title,
        "description": desc, "license": LICENSE, "keywords": keywords,
        "providers": [{"name": "Tessera sample data", "roles": ["producer", "processor", "host"]}],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [interval]}},
        "summaries": {"gas": [gas]},
        "links": [{"rel": "license", "href": "https://creativecommons.org/licenses/by/4.0/",
                   "type": "text/html", "title": "CC-BY-4.0"}],
    }


def item(coll, iid, lon, lat, when, platform, sector, rate, unc, gas, asset_dir, color):
    geom = footprint(lon, lat)
    xs = [p[0] for p in geom["coordinates"][0]]
    ys = [p[1] for p in geom["coordinates"][0]]
    os.makedirs(os.path.join(HERE, "assets", asset_dir, iid), exist_ok=True)
    with open(os.path.join(HERE, "assets", asset_dir, iid, "rgb.png"), "wb") as f:
        f.write(png(8, 8, color))
    outline = {"type": "Feature", "properties": {"plume_id": iid, "gas": gas,
               "emission_auto": rate}, "geometry": geom}
    with open(os.path.join(HERE, "assets", asset_dir, iid, "plume.geojson"), "w") as f:
        json.dump(outline, f, indent=1)
        f.write("\n")
    return {
        "type": "Feature", "stac_version": STAC,
        "stac_extensions": [],
        "id": iid, "collection": coll,
        "geometry": geom,
        "bbox": [min(xs), min(ys), max(xs), max(ys)],
        "properties": {
            "datetime": when, "platform": platform, "instruments": ["imaging-spectrometer"],
            "gsd": 30 if platform == "tanager-1" else 5,
            "cm:gas": gas, "cm:sector": sector,
            "cm:emission_rate_kg_hr": rate, "cm:emission_uncertainty_kg_hr": unc,
            "cm:plume_latitude": lat, "cm:plume_longitude": lon,
        },
        "links": [{"rel": "license", "href": "https://creativecommons.org/licenses/by/4.0/"}],
        "assets": {
            "rgb": {"href": f"{asset_dir}/{iid}/rgb.png", "type": "image/png",
                    "title": "RGB quicklook", "roles": ["thumbnail"]},
            "plume": {"href": f"{asset_dir}/{iid}/plume.geojson", "type": "application/geo+json",
                      "title": "Plume outline", "roles": ["data"]},
        },
    }


def write(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


CH4 = [  # id, lon, lat, datetime, platform, sector, rate, uncertainty
    ("ch4-permian-20230614a", -103.612, 31.874, "2023-06-14T17:42:10Z", "av3", "oil-and-gas", 812.0, 190.0),
    ("ch4-permian-20240322b", -103.288, 32.141, "2024-03-22T18:05:44Z", "tanager-1", "oil-and-gas", 1540.0, 310.0),
    ("ch4-fourcorners-20230921", -108.412, 36.793, "2023-09-21T17:15:02Z", "av3", "coal-mining", 2210.0, 480.0),
    ("ch4-turkmenistan-20240805", 54.021, 39.488, "2024-08-05T07:31:55Z", "tanager-1", "oil-and-gas", 6320.0, 1200.0),
    ("ch4-algeria-20241112", 6.074, 31.695, "2024-11-12T10:12:37Z", "tanager-1", "oil-and-gas", 3890.0, 820.0),
    ("ch4-sanjoaquin-20230502", -119.284, 36.214, "2023-05-02T19:47:21Z", "av3", "livestock", 410.0, 95.0),
    ("ch4-delhi-ghazipur-20250118", 77.329, 28.623, "2025-01-18T05:58:09Z", "tanager-1", "waste", 1730.0, 420.0),
    ("ch4-buenosaires-20250304", -58.531, -34.706, "2025-03-04T14:22:40Z", "tanager-1", "waste", 2480.0, 560.0),
]
CO2 = [
    ("co2-belchatow-20240610", 19.331, 51.266, "2024-06-10T09:40:12Z", "tanager-1", "power", 4.1e6, 0.6e6),
    ("co2-fourcorners-pp-20230921", -108.481, 36.689, "2023-09-21T17:16:40Z", "av3", "power", 1.9e6, 0.3e6),
    ("co2-taichung-20241029", 120.481, 24.213, "2024-10-29T02:11:05Z", "tanager-1", "power", 3.3e6, 0.5e6),
    ("co2-kendal-20250211", 28.969, -26.088, "2025-02-11T08:03:27Z", "tanager-1", "power", 2.7e6, 0.4e6),
]
PARTNER = [
    ("ch4-partner-permian-20250420", -103.951, 31.402, "2025-04-20T17:58:12Z", "oil-and-gas", 960.0, 230.0),
    ("ch4-partner-permian-20250421", -103.702, 31.655, "2025-04-21T18:01:33Z", "oil-and-gas", 1275.0, 300.0),
    ("ch4-partner-bakken-20250502", -103.214, 47.981, "2025-05-02T18:20:49Z", "oil-and-gas", 705.0, 180.0),
    ("ch4-partner-appalachia-20250515", -80.412, 39.871, "2025-05-15T16:44:05Z", "coal-mining", 1890.0, 410.0),
    ("ch4-partner-northsea-20250607", 2.281, 56.512, "2025-06-07T11:09:58Z", "oil-and-gas", 540.0, 150.0),
]


def main():
    write(os.path.join(HERE, "public", "methane-plumes", "collection.json"), collection(
        "methane-plumes", "Methane plumes (sample)",
        "Methane (CH4) point-source plume detections from airborne and satellite imaging "
        "spectrometers, with emission-rate estimates. Illustrative sample data.",
        ["methane", "CH4", "emissions", "plumes"], [-120, -35, 78, 40],
        ["2023-05-01T00:00:00Z", None], "CH4"))
    for i in CH4:
        write(os.path.join(HERE, "public", "methane-plumes", "items", i[0] + ".json"),
              item("methane-plumes", *i, "CH4", "methane", (255, 140, 0)))
    write(os.path.join(HERE, "public", "co2-plumes", "collection.json"), collection(
        "co2-plumes", "Carbon dioxide plumes (sample)",
        "Carbon dioxide (CO2) plumes from power plants, with emission-rate estimates. "
        "Illustrative sample data.",
        ["carbon dioxide", "CO2", "emissions", "plumes"], [-109, -27, 121, 52],
        ["2023-09-01T00:00:00Z", None], "CO2"))
    write(os.path.join(HERE, "public", "co2-plumes", "items.json"), {
        "type": "FeatureCollection",
        "features": [item("co2-plumes", *i, "CO2", "co2", (60, 120, 255)) for i in CO2]})
    write(os.path.join(HERE, "restricted", "collection.json"), collection(
        "methane-plumes-partner-preview", "Methane plumes: partner preview (sample)",
        "Recent methane plume detections shared with partner organisations before public "
        "release. Illustrative sample data.",
        ["methane", "CH4", "preview"], [-104, 31, 3, 57], ["2025-04-01T00:00:00Z", None], "CH4"))
    write(os.path.join(HERE, "restricted", "items.json"), {
        "type": "FeatureCollection",
        "features": [item("methane-plumes-partner-preview", p[0], p[1], p[2], p[3], "tanager-1",
                          p[4], p[5], p[6], "CH4", "partner", (220, 30, 30)) for p in PARTNER]})
    with open(os.path.join(HERE, "assets", "README.txt"), "w") as f:
        f.write("Sample assets for the Tessera STAC catalog: 8x8 RGB quicklooks and plume\n"
                "outlines (GeoJSON). Illustrative data, CC-BY-4.0.\n")


if __name__ == "__main__":
    main()
