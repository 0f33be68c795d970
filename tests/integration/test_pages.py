"""The web pages for people (SPEC §4.4, issue 14 item 6), end to end in a real
browser: tests/web/pages.test.mjs drives Debian's chromium through
playwright-core against a fresh server (register and sign in with errors at
their fields; the tokens page: default public token, create with expiry
presets, the secret reveal with copy and dismiss, filter, sort, edit, rotate,
revoke, the expiry notices banner; settings: profile, password, revoke all,
sign out everywhere; the audit log with paging; keyboard use; 390 px wide) and
checks the results through the API.

With TESSERA_SCREENSHOT_DIR set, the run writes the README's screenshots
there (docs/screenshots; see the README's "Web pages").

Needs node (>= 18) and /usr/bin/chromium; scripts/deps.sh installs chromium.
A missing tool fails this test rather than skipping it. `npm ci` runs in
tests/web when its node_modules is missing (playwright-core is pinned in
package-lock.json; no browser is ever downloaded).
"""
import os
import shutil
import subprocess
import unittest

from harness import SOURCE_DIR, Server

WEB_DIR = os.path.join(SOURCE_DIR, "tests", "web")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def tail(text, n=20000):
    return text if len(text) <= n else "...\n" + text[-n:]


class PagesTest(unittest.TestCase):
    def setUp(self):
        self.node = shutil.which("node")
        if not self.node:
            self.fail("node is not installed: the browser tests of the web pages need Node.js "
                      "(>= 18) and npm")
        if not os.access(CHROMIUM, os.X_OK):
            self.fail("%s is missing: install Debian's chromium (scripts/deps.sh does)" % CHROMIUM)
        self.ensure_node_modules()
        # Expiry notices are looked for every second, so the banner step
        # does not wait a minute for the scan.
        self.server = Server(settings={"notice-scan-interval": "1"})
        self.addCleanup(self.server.close)
        self.server.start()

    def ensure_node_modules(self):
        marker = os.path.join(WEB_DIR, "node_modules", "playwright-core", "package.json")
        if os.path.exists(marker):
            return
        npm = shutil.which("npm")
        if not npm:
            self.fail("npm is not installed: needed to install tests/web's playwright-core")
        res = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB_DIR,
                             capture_output=True, text=True, timeout=600)
        if res.returncode != 0 or not os.path.exists(marker):
            self.fail("npm ci in tests/web failed (%d):\n%s\n%s"
                      % (res.returncode, tail(res.stdout), tail(res.stderr)))

    def test_pages_in_browser(self):
        env = dict(os.environ, TESSERA_URL=self.server.url(""), CHROMIUM=CHROMIUM,
                   TESSERA_OUTBOX=os.path.join(self.server.data_dir, "outbox"))
        # On failure the script leaves screenshots in a temporary directory
        # (its path is in the output). TESSERA_SCREENSHOT_DIR asks for the
        # README's screenshots; a relative one is taken from the source tree,
        # since ctest runs this from tests/integration. Without it a passing
        # run leaves nothing behind.
        shots = env.get("TESSERA_SCREENSHOT_DIR")
        if shots:
            env["TESSERA_SCREENSHOT_DIR"] = os.path.join(SOURCE_DIR, shots)
        cmd = [self.node, "--test", "--test-reporter=spec", "pages.test.mjs"]
        try:
            res = subprocess.run(cmd, cwd=WEB_DIR, env=env, capture_output=True, text=True,
                                 timeout=600)
        except subprocess.TimeoutExpired as e:
            self.fail("browser test timed out after 600 s:\n%s\n%s\nserver log:\n%s"
                      % (e.stdout or "", e.stderr or "", tail(self.server.read_log(), 4000)))
        if res.returncode != 0:
            self.fail("browser test failed (exit %d):\n%s\n%s\nserver log (tail):\n%s"
                      % (res.returncode, tail(res.stdout), tail(res.stderr),
                         tail(self.server.read_log(), 4000)))
        self.assertIn("pass", res.stdout)


if __name__ == "__main__":
    unittest.main()
