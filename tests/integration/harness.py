"""Shared harness for Tessera integration tests.

Each Server gets a fresh temporary data directory, runs the real `tessera`
binary (TESSERA_BIN) on a free loopback port (--listen 127.0.0.1:0, the bound
port read from --port-file), and is stopped by its pid with SIGTERM. The
server's stderr goes to a log file that tests can inspect; a sanitizer report
in it, or any password, credential or signing key that went through the
harness, fails the test that stops it.

When TESSERA_OBSERVED_FILE is set (CMake sets it for every integration test,
one file per test process), every request a server answered is recorded
there from its access log when the server is closed: the statuses check
(tests/docs/test_openapi_statuses.py) compares them with web/openapi.json.
"""
import atexit
import base64
import glob
import itertools
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

import requests

SOURCE_DIR = os.environ.get("TESSERA_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("TESSERA_BIN", os.path.join(SOURCE_DIR, "build", "debug", "tessera"))
SANITIZED = os.environ.get("TESSERA_SANITIZED", "0") in ("1", "ON", "TRUE", "true")
SAMPLE_CATALOG = os.path.join(SOURCE_DIR, "catalog", "sample")
PARTNER_GROUP = "Partners"  # the sample's partners/ tree is visible to it

# Throttles are generous by default so unrelated tests never trip them; the
# throttling tests lower them explicitly.
DEFAULT_SETTINGS = {
    "login-rate-account": "1000",
    "login-rate-account-hourly": "100000",
    "login-rate-addr": "100000",
    "register-rate-addr": "100000",
    "token-api-rate": "100000",
}

_counter = itertools.count(1)
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ThreadSanitizer")


def unique_email(prefix="user"):
    return "%s%d.%d@example.com" % (prefix, os.getpid(), next(_counter))


def within_one_window(window, need=30):
    """Rate limits count in fixed windows aligned to the clock (multiples of
    `window` seconds since the epoch). A test that counts hits up to a limit
    starts here: when fewer than `need` seconds are left in the current
    window, it waits for the next one, so its hits cannot straddle a reset
    (sign-ins run Argon2id, slow under ASan on a busy machine)."""
    left = window - time.time() % window
    if left < need:
        time.sleep(left + 0.05)


# JSON fields (in requests and replies) that carry a password or a credential.
CREDENTIAL_FIELDS = ("password", "new_password", "current_password", "token", "access",
                     "refresh", "access_token", "refresh_token")


def check_error_reply(r):
    """Issue 13: every error reply, from the HTTP layer or a handler, is JSON
    in its path's dialect and carries X-Request-Id. Checked on every request
    the tests make through Server.request."""
    if r.status_code < 400:
        return
    where = "%s %s -> %d" % (r.request.method, r.request.path_url, r.status_code)
    if not r.headers.get("X-Request-Id"):
        raise AssertionError("no X-Request-Id on " + where)
    if not r.headers.get("Content-Type", "").startswith("application/json"):
        raise AssertionError("%s is not JSON: %r" % (where, r.headers.get("Content-Type")))
    if r.request.method == "HEAD":
        return
    try:
        body = r.json()
    except ValueError:
        raise AssertionError("%s: body is not JSON: %r" % (where, r.content[:200]))
    mapbox = re.match(r"/(tokens/v2|scopes/v1)(/|\?|$)", r.request.path_url) is not None
    if not isinstance(body, dict) or ("message" if mapbox else "detail") not in body and \
            "errors" not in body and "error" not in body:
        raise AssertionError("%s: not an error in the path's dialect: %r" % (where, body))


# -- observed statuses -----------------------------------------------------
# Read from the server's own access log rather than from the client side, so
# that requests made by raw sockets, nginx, GDAL, the browser tests and the
# seeds' clients count too. Lines look like
#   2026-01-01T00:00:00.000Z access id=ID client=ADDR METHOD PATH STATUS 123us route=... bytes=N
# (every byte outside printable ASCII, and the space, escaped: PATH has no space)
OBSERVED_FILE = os.environ.get("TESSERA_OBSERVED_FILE")
ACCESS_LINE = re.compile(r" access id=\S+ client=\S* (\S+) (\S+) (\d+) \d+us(?: |$)")
_unrecorded = []  # servers whose log has not been recorded yet


def _observed_reset():
    """One file per test process: start it empty, so a rerun of a test module
    replaces what its previous run saw."""
    if not OBSERVED_FILE:
        return
    os.makedirs(os.path.dirname(OBSERVED_FILE), exist_ok=True)
    with open(OBSERVED_FILE, "w"):
        pass


def _record_all_at_exit():
    for srv in list(_unrecorded):
        srv.record_observed()


_observed_reset()


class Server:
    """A running tessera serve process with its own data directory."""

    def __init__(self, settings=None, tls=None, asset_dir=None, data_dir=None, extra_args=(),
                 database_url=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="tessera-it-")
        # PostgreSQL nodes share database_url; the data directory then holds
        # nothing but what a node writes locally.
        self.database_url = database_url
        self.shared_keys = []  # key bytes kept in the database, for the log scan
        self.data_dir = data_dir or os.path.join(self.tmp.name, "data")
        self.port_file = os.path.join(self.tmp.name, "port")
        self.log_path = os.path.join(self.tmp.name, "server.log")
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings.update(settings or {})
        self.tls = tls  # (cert_path, key_path) or None
        self.asset_dir = asset_dir or os.path.join(SAMPLE_CATALOG, "assets")
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.scheme = "https" if tls else "http"
        self.credentials = set()  # every credential that went through request()
        if OBSERVED_FILE:
            # Registered after the TemporaryDirectory's own exit hook, so it
            # runs first (atexit is last in, first out) for a server that a
            # test never closed.
            if not _unrecorded:
                atexit.register(_record_all_at_exit)
            _unrecorded.append(self)

    # -- command line ----------------------------------------------------
    def cli(self, *args, input=None, check=True):
        """Runs `tessera ARGS --data-dir D`; returns CompletedProcess."""
        cmd = [BIN] + list(args) + ["--data-dir", self.data_dir]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=120)
        if check and res.returncode != 0:
            raise AssertionError("tessera %s failed (%d): %s" % (" ".join(args), res.returncode,
                                                                 res.stderr))
        return res

    # -- life cycle --------------------------------------------------------
    def start(self, timeout=30, port=0):
        """Starts the server on a free port, or on port (a restart that a
        load balancer in front must find again)."""
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        cmd = [BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--data-dir", self.data_dir,
               "--port-file", self.port_file, "--asset-dir", self.asset_dir]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        for k, v in self.settings.items():
            cmd += ["--" + k, str(v)]
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        cmd += self.extra_args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                self.log.close()
                raise AssertionError("server exited early (%s):\n%s" % (code, self.read_log()))
            try:
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return self
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.02)
        self.kill()
        raise AssertionError("server did not start:\n" + self.read_log())

    def stop(self, timeout=30):
        """SIGTERM by pid; asserts a clean exit and no sanitizer report."""
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not stop on SIGTERM:\n" + self.read_log())
        finally:
            self.proc = None
            self.log.close()
        log = self.read_log()
        for marker in SANITIZER_MARKERS:
            if marker in log:
                raise AssertionError("sanitizer report in server log:\n" + log[-8000:])
        if code != 0:
            raise AssertionError("server exited with %d:\n%s" % (code, log[-4000:]))
        self.assert_no_secret_logged(log)

    def assert_no_secret_logged(self, log):
        """Every test that drives a server through this harness doubles as a
        secret scan (issue 6): no password, token, JWT (nor a token's secret
        or a JWT's signature alone) and no signing key may be in its log. The
        log is appended to across restarts, so killed runs are covered too."""
        def where(secret):  # the log line it is in, with the secret masked
            line = next(l for l in log.splitlines() if secret in l)
            return line.replace(secret, "<%s...>" % secret[:6])[:300]
        leaks = sorted("credential in: %s" % where(c) for c in self.credentials if c in log)
        keys = []
        for path in glob.glob(os.path.join(self.data_dir, "*.key")):
            with open(path, "rb") as f:
                keys.append((os.path.basename(path), f.read()))
        keys += [("shared key", k) for k in self.shared_keys]
        for name, key in keys:
            forms = {key.hex(), key.hex().upper()}
            for enc in (base64.b64encode, base64.urlsafe_b64encode):
                forms |= {enc(key).decode(), enc(key).decode().rstrip("=")}
            leaks += ["signing key %s" % name for f in forms if f in log]
        if leaks:
            raise AssertionError("secrets in the server log:\n  " + "\n  ".join(leaks))

    def keep_credential(self, value):
        """Remembers a credential (and its secret part) for the log scan."""
        if not isinstance(value, str) or len(value) < 12:
            return
        self.credentials.add(value)
        parts = value.split(".")
        if len(parts) == 3 and len(parts[2]) >= 12:
            self.credentials.add(parts[2])  # a token's secret or MAC, a JWT's signature

    def kill(self):
        """SIGKILL by pid (crash tests)."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.log.close()

    def close(self):
        try:
            if self.proc:
                self.stop()
        finally:
            self.record_observed()
            self.tmp.cleanup()

    def record_observed(self):
        """Appends every (method, path, status) this server answered to
        OBSERVED_FILE, once (the log is appended to across restarts)."""
        if not OBSERVED_FILE or self not in _unrecorded:
            return
        _unrecorded.remove(self)
        seen = set()
        for line in self.read_log().splitlines():
            m = ACCESS_LINE.search(line)
            if m and m.group(3) != "0":  # 0: the client left before a reply
                seen.add((m.group(1), m.group(2), int(m.group(3))))
        with open(OBSERVED_FILE, "a") as f:
            for row in sorted(seen):
                f.write(json.dumps(row) + "\n")

    def read_log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- HTTP helpers ------------------------------------------------------
    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def request(self, method, path, token=None, **kw):
        headers = kw.pop("headers", {}) or {}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        kw.setdefault("timeout", 30)
        if self.tls:
            kw.setdefault("verify", False)
        auth = headers.get("Authorization", "")
        self.keep_credential(auth.split(" ", 1)[1] if auth.startswith("Bearer ") else auth)
        params = kw.get("params")
        if isinstance(params, dict):
            self.keep_credential(params.get("access_token"))
        body = kw.get("json")
        if isinstance(body, dict):
            for k in CREDENTIAL_FIELDS:
                self.keep_credential(body.get(k))
        r = requests.request(method, self.url(path), headers=headers, **kw)
        check_error_reply(r)
        if "json" in r.headers.get("Content-Type", ""):
            try:
                answer = r.json()
            except ValueError:
                answer = None
            for item in answer if isinstance(answer, list) else [answer]:
                if isinstance(item, dict):
                    for k in CREDENTIAL_FIELDS:
                        self.keep_credential(item.get(k))
        return r

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token, **kw)

    def post(self, path, json_body=None, token=None, **kw):
        if json_body is not None:
            kw["json"] = json_body
        return self.request("POST", path, token, **kw)

    def register(self, email=None, password="correct horse battery", **extra):
        body = {"email": email or unique_email(), "password": password}
        body.update(extra)
        return self.post("/api/v1/account/register", body)

    def login(self, email, password="correct horse battery"):
        r = self.post("/api/v1/token/pair", {"email": email, "password": password})
        if r.status_code != 200:
            raise AssertionError("login failed: %d %s" % (r.status_code, r.text))
        return r.json()

    def new_account(self, password="correct horse battery", **extra):
        """Registers a fresh account and signs in; returns (email, pair)."""
        email = unique_email()
        r = self.register(email, password, **extra)
        if r.status_code != 201:
            raise AssertionError("register failed: %d %s" % (r.status_code, r.text))
        return email, self.login(email, password)

    def create_stac_token(self, access, days=7, name="test token"):
        date = time.strftime("%Y-%m-%d", time.gmtime(time.time() + days * 86400))
        r = self.post("/api/v1/account/tokens/create-stac",
                      {"expiration_date": date, "name": name}, token=access)
        if r.status_code != 200:
            raise AssertionError("create-stac failed: %d %s" % (r.status_code, r.text))
        return r.json()


class ServerTestCase(unittest.TestCase):
    """One server per test class, started in setUpClass."""

    settings = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(settings=cls.settings)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def assertJsonError(self, resp, status, **fields):
        self.assertEqual(resp.status_code, status, resp.text)
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"))
        body = resp.json()
        for k, v in fields.items():
            self.assertEqual(body.get(k), v, body)
        return body


def pretty(obj):
    return json.dumps(obj, indent=2, sort_keys=True)


def import_sample(server):
    """Loads the sample catalog as scripts/run.sh does: public/ for Public,
    partners/ (embargoed records, the partner collection) for Partners."""
    server.cli("stac", "import", os.path.join(SAMPLE_CATALOG, "public"), "--visibility", "Public")
    server.cli("group", "add", PARTNER_GROUP, check=False)
    server.cli("stac", "import", os.path.join(SAMPLE_CATALOG, "partners"),
               "--visibility", PARTNER_GROUP)
