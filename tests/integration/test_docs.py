"""The API reference (SPEC §4.4, issue 14 item 7) over real HTTP: /api/v1/docs
is Swagger UI from npm's swagger-ui-dist (pinned in web/vendor/), served by
Tessera itself from an allow-list under /static/swagger/, with a
Content-Security-Policy that allows nothing but this origin; and in Debian's
chromium (tests/web/docs.test.mjs) it renders every operation of
/api/v1/openapi.json with no request leaving the server, and "Try it out"
works with a Bearer token given to Authorize.

Needs node (>= 18) and /usr/bin/chromium, like test_pages. A missing tool
fails this test rather than skipping it.
"""
import json
import os
import shutil
import subprocess
import unittest

from harness import SOURCE_DIR, ServerTestCase

WEB_DIR = os.path.join(SOURCE_DIR, "tests", "web")
VENDOR_DIR = os.path.join(SOURCE_DIR, "web", "vendor")
SWAGGER_DIR = os.path.join(VENDOR_DIR, "node_modules", "swagger-ui-dist")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# What the page loads, and the licence texts that travel with it.
SERVED = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
}
# In the npm package, but not served: nothing beyond the allow-list.
NOT_SERVED = ["index.html", "swagger-initializer.js", "package.json", "swagger-ui.js",
              "swagger-ui-bundle.js.map", "swagger-ui-es-bundle.js", "oauth2-redirect.html",
              "swagger-ui-standalone-preset.js", "README.md", "favicon-32x32.png"]


def tail(text, n=20000):
    return text if len(text) <= n else "...\n" + text[-n:]


class DocsPageTest(ServerTestCase):
    def test_page_is_swagger_ui_with_strict_headers(self):
        r = self.server.get("/api/v1/docs")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(r.headers["X-Frame-Options"], "DENY")
        self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
        csp = dict(d.strip().split(" ", 1) for d in r.headers["Content-Security-Policy"].split(";"))
        self.assertEqual(csp["default-src"], "'none'")
        for directive in ("script-src", "style-src", "connect-src"):
            self.assertEqual(csp[directive], "'self'", directive)
        self.assertEqual(csp["img-src"], "'self' data:")
        self.assertEqual(csp["frame-ancestors"], "'none'")
        for src in ('href="/static/swagger/swagger-ui.css"',
                    'src="/static/swagger/swagger-ui-bundle.js"', 'src="/static/docs.js"'):
            self.assertIn(src, r.text)
        # Offline: the page names no other server.
        self.assertNotIn("http://", r.text)
        self.assertNotIn("https://", r.text)
        # The router ignores a trailing slash; the page still finds its document.
        self.assertEqual(self.server.get("/api/v1/docs/").status_code, 200)

    def test_swagger_files_are_served_as_installed_from_npm(self):
        with open(os.path.join(VENDOR_DIR, "package-lock.json")) as f:
            pinned = json.load(f)["packages"]["node_modules/swagger-ui-dist"]["version"]
        with open(os.path.join(SWAGGER_DIR, "package.json")) as f:
            self.assertEqual(json.load(f)["version"], pinned, "node_modules is not the pinned "
                             "version: rebuild (cmake runs npm ci in web/vendor)")
        for name, ctype in SERVED.items():
            with self.subTest(name=name):
                r = self.server.get("/static/swagger/" + name)
                self.assertEqual(r.status_code, 200)
                self.assertEqual(r.headers["Content-Type"], ctype)
                self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
                with open(os.path.join(SWAGGER_DIR, name), "rb") as f:
                    self.assertEqual(r.content, f.read(), "differs from the npm package's file")
        r = self.server.request("HEAD", "/static/swagger/swagger-ui-bundle.js")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(int(r.headers["Content-Length"]),
                         os.path.getsize(os.path.join(SWAGGER_DIR, "swagger-ui-bundle.js")))

    def test_nothing_beyond_the_allow_list(self):
        for name in NOT_SERVED + ["..%2Fapp.css", "%2e%2e", "", "x" * 300]:
            with self.subTest(name=name):
                r = self.server.get("/static/swagger/" + name)
                self.assertEqual(r.status_code, 404, r.text)
                self.assertEqual(r.json()["code"], "not_found")
        self.assertEqual(self.server.get("/static/swagger/a/b").status_code, 404)

    def test_our_init_script_points_at_this_servers_document(self):
        r = self.server.get("/static/docs.js")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["Content-Type"], "text/javascript; charset=utf-8")
        self.assertIn("openapi.json", r.text)
        self.assertIn("validatorUrl: null", r.text)

    def test_document_names_this_server(self):
        r = self.server.get("/api/v1/openapi.json")
        self.assertEqual(r.status_code, 200)
        doc = r.json()
        self.assertTrue(doc["openapi"].startswith("3.1."))
        self.assertEqual(doc["servers"][0]["url"], "/", "Try it out must call this server")


class DocsInBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = shutil.which("node")
        if not cls.node:
            raise AssertionError("node is not installed: the browser test of the docs page needs "
                                 "Node.js (>= 18) and npm")
        if not os.access(CHROMIUM, os.X_OK):
            raise AssertionError("%s is missing: install Debian's chromium (scripts/deps.sh "
                                 "does)" % CHROMIUM)
        marker = os.path.join(WEB_DIR, "node_modules", "playwright-core", "package.json")
        if not os.path.exists(marker):
            npm = shutil.which("npm")
            if not npm:
                raise AssertionError("npm is not installed: needed for tests/web's playwright-core")
            res = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB_DIR,
                                 capture_output=True, text=True, timeout=600)
            if res.returncode != 0 or not os.path.exists(marker):
                raise AssertionError("npm ci in tests/web failed (%d):\n%s\n%s"
                                     % (res.returncode, tail(res.stdout), tail(res.stderr)))

    def setUp(self):
        from harness import Server
        self.server = Server()
        self.addCleanup(self.server.close)
        self.server.start()

    def test_swagger_ui_renders_offline_and_tries_it_out(self):
        env = dict(os.environ, TESSERA_URL=self.server.url(""), CHROMIUM=CHROMIUM)
        cmd = [self.node, "--test", "--test-reporter=spec", "docs.test.mjs"]
        try:
            res = subprocess.run(cmd, cwd=WEB_DIR, env=env, capture_output=True, text=True,
                                 timeout=600)
        except subprocess.TimeoutExpired as e:
            self.fail("browser test timed out after 600 s:\n%s\n%s" % (e.stdout or "",
                                                                      e.stderr or ""))
        if res.returncode != 0:
            self.fail("browser test failed (exit %d):\n%s\n%s\nserver log (tail):\n%s"
                      % (res.returncode, tail(res.stdout), tail(res.stderr),
                         tail(self.server.read_log(), 4000)))
        self.assertIn("pass 3", res.stdout)


if __name__ == "__main__":
    unittest.main()
