"""Signed asset URLs (issue 15) over real HTTP against the sample catalog:
POST and GET /api/v1/catalog/sign, signed URLs opened with no header (GET,
HEAD, Range, and GDAL's own gdalinfo from Debian's gdal-bin), expiry,
tampering with the path, expiry, signer and signature, revocation of the
signing token and deactivation of its account, prefixes, resource bounds,
?sign=true on STAC item and search requests, and the STAC Authentication
extension's auth:schemes and auth:refs."""
import shutil
import time
import unittest
from urllib.parse import parse_qsl, urlencode, urlsplit

from harness import Server, import_sample
from test_gdal import gdal

GDALINFO = shutil.which("gdalinfo")
STAC = "/api/v1/stac"
SIGN = "/api/v1/catalog/sign"
SCENES = "l2b-ch4-mfa-v3a"
AUTH_EXT = "https://stac-extensions.github.io/authentication/v1.1.0/schema.json"


def path_of(url):
    """The path and query of an absolute URL, for the harness's requests."""
    u = urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def with_params(url, **changes):
    """url with its query parameters changed (None drops one)."""
    u = urlsplit(url)
    q = dict(parse_qsl(u.query, keep_blank_values=True))
    for k, v in changes.items():
        if v is None:
            q.pop(k, None)
        else:
            q[k] = v
    return u.path + "?" + urlencode(q)


class SignedUrlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        s = cls.server = Server()
        import_sample(s)
        s.start()
        cls.email, pair = s.new_account()
        cls.access = pair["access"]
        cls.username = s.get("/api/v1/account/me", token=cls.access).json()["username"]
        cls.sk = s.create_stac_token(cls.access)["token_value"]
        page = s.get(STAC + "/search", token=cls.sk,
                     params={"collections": SCENES, "limit": 2}).json()
        cls.hrefs = [f["assets"]["cmf.tif"]["href"] for f in page["features"]]

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def sign(self, token=None, expect=200, method="POST", **body):
        token = token or self.sk
        if method == "POST":
            r = self.server.post(SIGN, body, token=token)
        else:
            r = self.server.get(SIGN, token=token, params=body)
        self.assertEqual(r.status_code, expect, r.text)
        return r.json()

    def open(self, url, **kw):
        return self.server.get(path_of(url), **kw)

    def mint(self, **extra):
        body = {"scopes": ["stac", "catalog:read"], "note": "signer"}
        body.update(extra)
        r = self.server.post("/tokens/v2/" + self.username, body, token=self.access)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def test_sign_one_asset_and_open_it_without_a_header(self):
        for method in ("POST", "GET"):
            signed = self.sign(method=method, href=self.hrefs[0], expires_in=600)
            self.assertTrue(signed["href"].startswith(self.hrefs[0] + "?"))
            self.assertTrue(590 <= signed["expires_in"] <= 600)
            r = self.open(signed["href"])
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(r.content[:4], b"II*\x00")  # a TIFF
            head = self.server.request("HEAD", path_of(signed["href"]))
            self.assertEqual(head.status_code, 200)
            part = self.open(signed["href"], headers={"Range": "bytes=0-15"})
            self.assertEqual(part.status_code, 206)
            self.assertEqual(len(part.content), 16)
        # A key rather than a URL signs the same asset.
        key = self.hrefs[0].split("/api/v1/catalog/asset/", 1)[1]
        self.assertEqual(self.open(self.sign(href=key)["href"]).status_code, 200)

    @unittest.skipIf(GDALINFO is None, "gdal-bin not installed (scripts/deps.sh test installs it)")
    def test_gdalinfo_opens_a_signed_url(self):
        signed = self.sign(href=self.hrefs[0])
        r = gdal("gdalinfo", "/vsicurl/" + signed["href"])
        self.assertIn("Size is 32, 32", r.stdout)
        self.assertIn("LAYOUT=COG", r.stdout)
        # Tampered: GDAL gets the refusal.
        bad = self.server.url(with_params(signed["href"], expires=str(int(time.time()) + 60)))
        r = gdal("gdalinfo", "/vsicurl/" + bad, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("403", r.stderr + r.stdout)

    def test_tampering_is_refused(self):
        signed = self.sign(href=self.hrefs[0])["href"]
        query = urlsplit(signed).query
        other = urlsplit(self.hrefs[1]).path + "?" + query
        cases = {
            "another path": other,
            "a later expiry": with_params(signed, expires=str(int(time.time()) + 3000)),
            "another signer": with_params(signed, signer="a" * 25),
            "another signature": with_params(
                signed, signature=("A" if dict(parse_qsl(query))["signature"][0] != "A"
                                   else "B") + dict(parse_qsl(query))["signature"][1:]),
            "a prefix added": with_params(signed, prefix=SCENES + "/"),
        }
        for what, url in cases.items():
            r = self.server.get(url)
            self.assertEqual(r.status_code, 403, what)
            self.assertEqual(r.json()["code"], "signature_invalid", what)
        for what, url in {"no signature": with_params(signed, signature=None),
                          "a bad expiry": with_params(signed, expires="soon"),
                          "twice": path_of(signed) + "&signer=" + "b" * 25}.items():
            self.assertEqual(self.server.get(url).status_code, 400, what)
        r = self.open(signed, token=self.sk)  # a signature and a credential
        self.assertEqual(r.status_code, 400)

    def test_expiry(self):
        signed = self.sign(href=self.hrefs[0], expires_in=1)["href"]
        time.sleep(2.1)
        r = self.open(signed)
        self.assertEqual(r.status_code, 403)
        self.assertEqual(r.json()["code"], "signature_expired")
        for bad in (0, 3601, "x", 1.5):
            self.sign(href=self.hrefs[0], expires_in=bad, expect=422)
        # Never past the signing token's own expiry.
        parent = self.mint(scopes=["catalog:read", "tokens:write"])["token"]
        r = self.server.post("/tokens/v2/" + self.username, {
            "scopes": ["catalog:read"],
            "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))},
            token=parent)
        self.assertEqual(r.status_code, 200, r.text)
        tk = r.json()["token"]
        signed = self.sign(token=tk, href=self.hrefs[0])
        self.assertLessEqual(signed["expires_in"], 121)
        self.assertEqual(self.open(signed["href"]).status_code, 200)

    def test_revoking_the_signer_or_disabling_the_account_kills_its_urls(self):
        made = self.mint()
        signed = self.sign(token=made["token"], href=self.hrefs[0])["href"]
        self.assertEqual(self.open(signed).status_code, 200)
        r = self.server.request("DELETE", "/tokens/v2/%s/%s" % (self.username, made["id"]),
                                token=self.access)
        self.assertEqual(r.status_code, 204, r.text)
        r = self.open(signed)
        self.assertEqual(r.status_code, 403)
        self.assertEqual(r.json()["code"], "signer_revoked")
        email, pair = self.server.new_account()
        sk = self.server.create_stac_token(pair["access"])["token_value"]
        signed = self.sign(token=sk, href=self.hrefs[0])["href"]
        self.assertEqual(self.open(signed).status_code, 200)
        self.server.cli("user", "set", email, "--active", "false")
        self.assertEqual(self.open(signed).status_code, 403)

    def test_prefix(self):
        key = self.hrefs[0].split("/api/v1/catalog/asset/", 1)[1]
        prefix = key.rsplit("/", 1)[0] + "/"
        signed = self.sign(prefix=prefix)
        self.assertEqual(signed["prefix"], prefix)
        r = self.server.get(urlsplit(self.hrefs[0]).path + "?" + signed["query"])
        self.assertEqual(r.status_code, 200, r.text)
        rgb = urlsplit(self.hrefs[0]).path.replace("_cmf.tif", "_rgb.tif")
        self.assertEqual(self.server.get(rgb + "?" + signed["query"]).status_code, 200)
        r = self.server.get(urlsplit(self.hrefs[1]).path + "?" + signed["query"])
        self.assertEqual(r.status_code, 403)
        for bad in ("../x", "/abs", "a//b"):
            self.sign(prefix=bad, expect=422)
        self.sign(expect=422)  # neither
        self.sign(href=self.hrefs[0], prefix=prefix, expect=422)  # both

    def test_who_may_sign(self):
        self.sign(token=self.access, href=self.hrefs[0], expect=403)  # a session
        r = self.server.post(SIGN, {"href": self.hrefs[0]})
        self.assertEqual(r.status_code, 401)
        no_catalog = self.server.post("/tokens/v2/" + self.username,
                                      {"scopes": ["stac"], "note": "x"},
                                      token=self.access).json()["token"]
        self.sign(token=no_catalog, href=self.hrefs[0], expect=403)
        self.sign(href="/api/v1/catalog/asset/nope/none.tif", expect=404)
        self.sign(href="https://elsewhere.example/x.tif", expect=422)
        # A bound token signs only within its bounds.
        bound = self.mint(resources=["collection:l2b-co2"])["token"]
        self.sign(token=bound, href=self.hrefs[0], expect=404)
        self.sign(token=bound, prefix=SCENES + "/", expect=403)
        self.sign(token=bound, prefix="l2b-co2/2020/")

    def test_sign_true_on_search_and_item(self):
        made = self.mint()
        page = self.server.get(STAC + "/search", token=made["token"],
                               params={"collections": SCENES, "limit": 2, "sign": "true"}).json()
        for f in page["features"]:
            for asset in f["assets"].values():
                self.assertIn("signature=", asset["href"])
                self.assertIn("signer=" + made["id"], asset["href"])
                self.assertEqual(asset["auth:refs"], ["bearer", "signed_url"])
            self.assertEqual(self.open(f["assets"]["cmf.tif"]["href"]).status_code, 200)
        # Another token's signed page is its own, never a cached one.
        other = self.mint()
        again = self.server.get(STAC + "/search", token=other["token"],
                                params={"collections": SCENES, "limit": 2, "sign": "true"})
        self.assertIn("signer=" + other["id"], again.text)
        post = self.server.post(STAC + "/search", {"collections": [SCENES], "limit": 1,
                                                   "sign": True}, token=made["token"]).json()
        self.assertIn("signature=", post["features"][0]["assets"]["cmf.tif"]["href"])
        item = page["features"][0]
        r = self.server.get("%s/collections/%s/items/%s" % (STAC, SCENES, item["id"]),
                            token=made["token"], params={"sign": "true"})
        self.assertIn("signature=", r.json()["assets"]["cmf.tif"]["href"])
        plain = self.server.get(STAC + "/search", token=made["token"],
                                params={"collections": SCENES, "limit": 2}).json()
        self.assertNotIn("signature=", plain["features"][0]["assets"]["cmf.tif"]["href"])
        r = self.server.get(STAC + "/search", params={"sign": "true"})
        self.assertEqual(r.status_code, 401)
        r = self.server.get(STAC + "/search", token=made["token"], params={"sign": "yes"})
        self.assertEqual(r.status_code, 400)
        r = self.server.get(STAC + "/search", token=self.access, params={"sign": "true"})
        self.assertEqual(r.status_code, 403)

    def test_authentication_extension(self):
        landing = self.server.get(STAC + "/").json()
        self.assertIn(AUTH_EXT, landing["stac_extensions"])
        schemes = landing["auth:schemes"]
        self.assertEqual(schemes["bearer"], {"type": "http", "scheme": "bearer",
                                             "description": schemes["bearer"]["description"]})
        self.assertEqual(schemes["signed_url"]["type"], "signedUrl")
        self.assertTrue(schemes["signed_url"]["authorizationApi"].endswith(SIGN))
        for c in self.server.get(STAC + "/collections").json()["collections"]:
            self.assertIn("signed_url", c["auth:schemes"], c["id"])
            self.assertIn(AUTH_EXT, c["stac_extensions"])
        # The advertised API signs what its parameter names.
        api = urlsplit(schemes["signed_url"]["authorizationApi"]).path
        r = self.server.get(api, token=self.sk, params={"href": self.hrefs[0]})
        self.assertEqual(self.open(r.json()[schemes["signed_url"]["responseField"]]).status_code,
                         200)


if __name__ == "__main__":
    unittest.main()
