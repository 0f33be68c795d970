"""GIS tools read the catalog's assets directly (issue 11): GDAL's own
gdalinfo, gdal_translate and the STACIT driver from Debian's gdal-bin, against
a running server with a generated platform-shaped catalog whose rasters are
real Cloud-Optimized GeoTIFFs (scripts/gen_catalog.py).

Tokens reach GDAL the two ways GDAL users pass them: as a header
(GDAL_HTTP_HEADERS) and in the URL (?access_token=). Group visibility holds
here too: a Partners-only raster is not readable with a Public account's token.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import SOURCE_DIR, Server, unique_email

GDALINFO = shutil.which("gdalinfo")


def gdal(*args, token=None, check=True):
    env = dict(os.environ)
    env.pop("GDAL_HTTP_HEADERS", None)
    # Keep GDAL from caching answers between runs, and from probing sidecar
    # files (.aux.xml, .ovr) it would ask the server for.
    env.update({"CPL_VSIL_CURL_NON_CACHED": "/vsicurl/", "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
                "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff"})
    if token:
        env["GDAL_HTTP_HEADERS"] = "Authorization: Bearer " + token
    r = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return r


@unittest.skipIf(GDALINFO is None, "gdal-bin not installed (scripts/deps.sh test installs it)")
class GdalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="tessera-gdal-")
        cat = os.path.join(cls.tmp.name, "catalog")
        subprocess.run([sys.executable, os.path.join(SOURCE_DIR, "scripts", "gen_catalog.py"),
                        cat, "--items", "60", "--seed", "7"], check=True, capture_output=True)
        cls.server = Server(asset_dir=os.path.join(cat, "assets"))
        cls.server.cli("stac", "import", os.path.join(cat, "public"), "--visibility", "Public")
        cls.server.cli("stac", "import", os.path.join(cat, "partners"), "--visibility", "Partners")
        cls.server.start()
        _, pair = cls.server.new_account()
        cls.sk = cls.server.create_stac_token(pair["access"])["token_value"]
        email = unique_email("partner")
        cls.server.cli("user", "add", email, "--password-stdin", "--groups", "Public,Partners",
                       input="partner passphrase one\n")
        partner = cls.server.login(email, "partner passphrase one")
        cls.partner_sk = cls.server.create_stac_token(partner["access"])["token_value"]

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.tmp.cleanup()

    def features(self, token, **params):
        r = self.server.get("/api/v1/stac/search", token=token, params=params)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def cog_href(self, token, collection="l2b-ch4-mfa-v3a", key="cmf.tif"):
        page = self.features(token, collections=collection, limit=1)
        self.assertTrue(page["features"], "no item in " + collection)
        return page["features"][0]["assets"][key]["href"]

    def test_gdalinfo_reads_a_cog_with_a_bearer_header(self):
        href = self.cog_href(self.sk)
        r = gdal("gdalinfo", "/vsicurl/" + href, token=self.sk)
        self.assertIn("Driver: GTiff/GeoTIFF", r.stdout)
        self.assertIn("Size is 32, 32", r.stdout)
        self.assertIn("LAYOUT=COG", r.stdout)
        self.assertIn("WGS 84", r.stdout)

    def test_gdalinfo_with_the_token_in_the_url(self):
        href = self.cog_href(self.sk)
        r = gdal("gdalinfo", "/vsicurl/%s?access_token=%s" % (href, self.sk))
        self.assertIn("Size is 32, 32", r.stdout)

    def test_without_a_token_gdal_is_refused(self):
        href = self.cog_href(self.sk)
        r = gdal("gdalinfo", "/vsicurl/" + href, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("401", r.stderr + r.stdout)

    def test_pixels_read_over_http_match_the_file(self):
        href = self.cog_href(self.sk, key="rgb.tif")
        local = os.path.join(self.server.asset_dir, href.split("/api/v1/catalog/asset/", 1)[1])
        remote = gdal("gdalinfo", "-checksum", "/vsicurl/" + href, token=self.sk).stdout
        here = gdal("gdalinfo", "-checksum", local).stdout
        sums = [l.strip() for l in remote.splitlines() if "Checksum=" in l]
        self.assertEqual(len(sums), 3, remote)  # three bands, each read with Range requests
        self.assertEqual(sums, [l.strip() for l in here.splitlines() if "Checksum=" in l])
        out = os.path.join(self.tmp.name, "copy.tif")
        gdal("gdal_translate", "-q", "/vsicurl/" + href, out, token=self.sk)
        self.assertIn("Size is 32, 32", gdal("gdalinfo", out).stdout)

    def test_partner_raster_follows_group_visibility(self):
        page = self.features(self.partner_sk, collections="l3a-ch4-mfa-v3a-partner", limit=1)
        self.assertTrue(page["features"], "the partner collection is empty")
        href = page["features"][0]["assets"]["plume.tif"]["href"]
        self.assertIn("Size is 32, 32", gdal("gdalinfo", "/vsicurl/" + href,
                                             token=self.partner_sk).stdout)
        r = gdal("gdalinfo", "/vsicurl/" + href, token=self.sk, check=False)
        self.assertNotEqual(r.returncode, 0, "a Public token read a Partners-only raster")

    def test_stacit_mosaics_a_search(self):
        base = self.server.url("/api/v1/stac/search?collections=l2b-ch4-mfa-v3a&limit=10")
        r = gdal("gdalinfo", 'STACIT:"%s":asset=cmf.tif' % base, token=self.sk)
        self.assertIn("Driver: VRT/Virtual Raster", r.stdout)
        files = [l for l in r.stdout.splitlines() if "/vsicurl/" in l]
        # STACIT follows the next links: every visible item of the collection.
        matched = self.features(self.sk, collections="l2b-ch4-mfa-v3a", limit=1)["numberMatched"]
        self.assertEqual(len(files), matched, r.stdout[:2000])
        partner = gdal("gdalinfo", 'STACIT:"%s":asset=cmf.tif' % base, token=self.partner_sk)
        partner_files = [l for l in partner.stdout.splitlines() if "/vsicurl/" in l]
        self.assertGreaterEqual(len(partner_files), len(files))

    def test_stacit_item_assets_carry_projection(self):
        item = self.features(self.sk, collections="l2b-ch4-mfa-v3a", limit=1)["features"][0]
        self.assertEqual(item["properties"]["proj:epsg"], 4326)
        self.assertEqual(item["assets"]["cmf.tif"]["proj:shape"], [32, 32])
        json.dumps(item)  # well-formed through the template path


if __name__ == "__main__":
    unittest.main()
