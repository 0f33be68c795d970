"""Seed 003 as written: the Mapbox SDK "Tokens" document's doctest blocks,
extracted from the seed file and run unchanged with the doctest module
(ELLIPSIS, as the document's `[...]` outputs need) against a Tessera serving
HTTPS itself with a self-signed certificate. The only things set are what the
document leaves to the environment: MAPBOX_HOST (the client always speaks
https:// to that host), MAPBOX_ACCESS_TOKEN (an sk with tokens:read,
tokens:write, scopes:list, styles:read, datasets:read made with the CLI) and
REQUESTS_CA_BUNDLE (trust the test certificate). The Mapbox client is the
wire-faithful shim in mapbox_shim/ (see its docstring)."""
import doctest
import os
import re
import sys
import tempfile
import unittest
from unittest import mock

import requests

from harness import SOURCE_DIR, Server, unique_email
from tlsutil import make_self_signed

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_NAME = "003_4934ca8232451d82.txt"
SEED = os.path.join(os.environ.get("TESSERA_SHARED_DIR", os.path.join(SOURCE_DIR, "..", "shared")),
                    "seeds", SEED_NAME)
# A copy kept in the repository so the test runs on a fresh clone too.
SEED_COPY = os.path.join(HERE, "seeds", SEED_NAME)
SHIM = os.path.join(HERE, "mapbox_shim")
SEED_SCOPES = "tokens:read,tokens:write,scopes:list,styles:read,datasets:read"


def seed_text():
    for path in (SEED, SEED_COPY):
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return f.read()
    raise unittest.SkipTest("seed 003 not found at %s or %s" % (SEED, SEED_COPY))


def python_blocks(text):
    """The ```python fenced blocks, in document order, unchanged."""
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", text, re.S | re.M)


class Seed003Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="tessera-seed003-")
        cls.cert, cls.key = make_self_signed(cls.tmp.name)
        cls.server = Server(tls=(cls.cert, cls.key))
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.tmp.cleanup()

    def https(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        return requests.request(method, self.server.url(path), verify=self.cert, **kw)

    def make_initial_token(self):
        email = unique_email("seed3")
        r = self.server.register(email)
        self.assertEqual(r.status_code, 201, r.text)
        res = self.server.cli("token", "create", email, "--scopes", SEED_SCOPES,
                              "--note", "seed 003 initial token")
        token = res.stdout.strip().split()[-1]
        self.assertTrue(token.startswith("sk."), res.stdout)
        return token

    def run_seed(self, token):
        blocks = python_blocks(seed_text())
        # List, temporary, permanent, update, validity, new instance, scopes, delete.
        self.assertEqual(len(blocks), 9, blocks)
        source = "\n".join(blocks)
        globs = {"__name__": "seed003"}
        test = doctest.DocTestParser().get_doctest(source, globs, "seed003", SEED_NAME, 0)
        self.assertGreaterEqual(len(test.examples), 20)
        env = {"MAPBOX_HOST": "127.0.0.1:%d" % self.server.port,
               "MAPBOX_ACCESS_TOKEN": token,
               "REQUESTS_CA_BUNDLE": self.cert}
        out = []
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
        sys.path.insert(0, SHIM)
        try:
            with mock.patch.dict(os.environ, env):
                os.environ.pop("MapboxAccessToken", None)
                for name in [m for m in sys.modules if m == "mapbox" or m.startswith("mapbox.")]:
                    del sys.modules[name]
                result = runner.run(test, out=out.append, clear_globs=False)
        finally:
            sys.path.remove(SHIM)
        self.assertEqual(result.failed, 0, "".join(out))
        self.assertEqual(result.attempted, len(test.examples))
        return test.globs

    def test_seed_document_as_written(self):
        token = self.make_initial_token()
        globs = self.run_seed(token)

        # What the document did really happened on the server.
        service = globs["service"]
        self.assertTrue(service.baseuri.startswith("https://127.0.0.1:"))
        auth = globs["auth"]
        self.assertEqual(auth["scopes"], ["styles:read", "datasets:read"])
        self.assertEqual(auth["note"], "updated")
        self.assertTrue(auth["token"].startswith("pk."))
        # Deleted: the permanent token is now revoked, the caller still valid.
        check = self.https("GET", "/tokens/v2", params={"access_token": auth["token"]}).json()
        self.assertEqual(check["code"], "TokenRevoked")
        check = self.https("GET", "/tokens/v2", params={"access_token": token}).json()
        self.assertEqual(check["code"], "TokenValid")
        self.assertEqual(check["token"]["usage"], "sk")
        # The listing, the scope list and the temporary token as the document got them.
        new_service = globs["new_service"]
        self.assertEqual(new_service.session.params["access_token"], auth["token"])

    def test_temporary_token_from_the_seed_flow_works(self):
        token = self.make_initial_token()
        sys.path.insert(0, SHIM)
        try:
            for name in [m for m in sys.modules if m == "mapbox" or m.startswith("mapbox.")]:
                del sys.modules[name]
            import mapbox
        finally:
            sys.path.remove(SHIM)
        env = {"MAPBOX_HOST": "127.0.0.1:%d" % self.server.port, "MAPBOX_ACCESS_TOKEN": token,
               "REQUESTS_CA_BUNDLE": self.cert}
        with mock.patch.dict(os.environ, env):
            service = mapbox.Tokens()
            r = service.create_temp_token(scopes=["styles:read"], expires=60)
            self.assertEqual(r.status_code, 200, r.text)
            body = r.json()
            self.assertEqual(set(body), {"token", "issued_at", "expires", "expires_in"})
            self.assertTrue(60 <= body["expires_in"] <= 62, body)
            tk = body["token"]
            check = mapbox.Tokens(access_token=tk).check_validity().json()
            self.assertEqual(check["code"], "TokenValid")
            self.assertEqual(check["token"]["usage"], "tk")
            self.assertEqual(check["token"]["scopes"], ["styles:read"])
            # The username the client reads from a tk is the account's.
            self.assertEqual(mapbox.Tokens(access_token=tk).username, service.username)
            # Scopes beyond the initial token's are refused.
            r = service.create_temp_token(scopes=["stac"], expires=60)
            self.assertEqual(r.status_code, 422)
            self.assertEqual(r.json(), {"message": "scopes are invalid"})
            # The full hour the client allows is accepted.
            r = service.create_temp_token(scopes=["styles:read"], expires=3600)
            self.assertEqual(r.status_code, 200, r.text)
            # Permanent token without a note: the client's default note.
            r = service.create(scopes=["styles:read"])
            self.assertEqual(r.json()["note"], "SDK generated note")
            self.assertEqual(service.list_tokens(limit=1).status_code, 200)
            self.assertEqual(len(service.list_tokens(limit=1).json()), 1)


if __name__ == "__main__":
    unittest.main()
