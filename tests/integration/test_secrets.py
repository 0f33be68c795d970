"""No secret in the logs, key files 0600, secrets hashed at rest (SPEC §2,
§8 "Security"; issue 6 item 6).

A representative flow runs against a server: sign-up (both password forms),
failed sign-ins (wrong password, unknown e-mail, throttled), sign-in, refresh
rotation, verify, logout, create-stac, tokens presented in the Authorization
header and in the access_token query parameter (valid, revoked, forged),
Mapbox pk/sk/tk creation and checks, forward-auth and OAuth introspection /
revocation where present, and malformed requests. Afterwards the server's
whole log (stderr: access log, errors, the HTTP layer's messages) must contain
none of: the passwords, any token or JWT (nor the secret or signature part on
its own), the signing keys (raw, hex or base64). The key files must be mode
0600 and no sk secret or password may appear in the data directory's files.
"""
import base64
import os
import stat
import time
import unittest

from harness import Server, unique_email

PASSWORD = "Tr0ub4dor&3-very-secret"
WRONG = "Wr0ng-but-still-secret!"
PASSWORD2 = "An0ther-pass-phrase-xyz"


def encodings(raw):
    """Text forms a key might leak in."""
    out = {raw.hex(), raw.hex().upper()}
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        s = enc(raw).decode()
        out.add(s)
        out.add(s.rstrip("="))
    return out


class Secrets(unittest.TestCase):
    def setUp(self):
        self.srv = Server(settings={"login-rate-account": "4", "login-rate-addr": "1000",
                                    "rate-window": "5"},
                          extra_args=["--connection-timeout", "5"])
        self.srv.start()
        self.secrets = set()  # every string that must never be logged

    def tearDown(self):
        self.srv.close()

    def keep(self, *values):
        for v in values:
            if isinstance(v, str) and v:
                self.secrets.add(v)
                parts = v.split(".")
                if len(parts) == 3 and v[:3] in ("sk.", "pk.", "tk."):
                    self.secrets.add(parts[2])   # the secret / MAC on its own
                elif len(parts) == 3:            # a JWT: its signature
                    self.secrets.add(parts[2])

    def flow(self):
        s = self.srv
        self.keep(PASSWORD, WRONG, PASSWORD2)
        email = unique_email("secret")
        r = s.register(email, PASSWORD)
        self.assertEqual(r.status_code, 201, r.text)
        r = s.post("/api/v1/account/register", {"email": unique_email("s2"),
                                                "password1": PASSWORD2, "password2": PASSWORD2})
        self.assertIn(r.status_code, (201, 400), r.text)
        r = s.post("/api/v1/account/register", {"email": email, "password": PASSWORD2})
        self.assertEqual(r.status_code, 400)  # duplicate
        # Failed sign-ins, then throttled ones (the limit is 4 per account).
        for _ in range(5):
            s.post("/api/v1/token/pair", {"email": email, "password": WRONG})
        s.post("/api/v1/token/pair", {"email": unique_email("nobody"), "password": WRONG})
        time.sleep(5.1 - time.time() % 5)  # next rate window
        pair = s.login(email, PASSWORD)
        self.keep(pair["access"], pair["refresh"])
        r = s.post("/api/v1/token/refresh", {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 200, r.text)
        rotated = r.json()
        self.keep(rotated["access"], rotated["refresh"])
        s.post("/api/v1/token/refresh", {"refresh": pair["refresh"]})  # re-use: family revoked
        pair = s.login(email, PASSWORD)
        self.keep(pair["access"], pair["refresh"])
        access = pair["access"]
        self.assertEqual(s.post("/api/v1/token/verify", {"token": access}).status_code, 200)
        s.post("/api/v1/token/verify", {"token": access[:-3] + "AAA"})
        me = s.get("/api/v1/account/me", token=access).json()
        username = me["username"]

        tok = s.create_stac_token(access, name="secret-scan")
        sk = tok["token_value"]
        self.keep(sk)
        s.get("/api/v1/stac/collections", token=sk)
        s.get("/api/v1/stac/collections", params={"access_token": sk})
        s.get("/api/v1/stac/search?limit=1&access_token=" + sk)
        forged = sk[:-6] + "AAAAAA"
        self.keep(forged)
        s.get("/api/v1/stac/collections", token=forged)
        s.get("/tokens/v2", params={"access_token": sk})
        s.get("/api/v1/account/tokens", token=access)
        for t in s.get("/api/v1/account/tokens", token=access).json():
            if t.get("token"):
                self.keep(t["token"])

        # Mapbox dialect, when present.
        r = s.post("/tokens/v2/" + username, {"scopes": ["styles:tiles"], "note": "pk"}, token=access)
        if r.status_code == 200:
            pk = r.json()["token"]
            self.keep(pk)
            r = s.post("/tokens/v2/" + username, {"scopes": ["stac", "tokens:read", "tokens:write"],
                                                   "note": "sk"},
                       token=access)
            self.assertEqual(r.status_code, 200, r.text)
            sk2 = r.json()["token"]
            self.keep(sk2)
            exp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 600))
            r = s.post("/tokens/v2/" + username, {"scopes": ["stac"], "expires": exp}, token=sk2)
            self.assertEqual(r.status_code, 200, r.text)
            tk = r.json()["token"]
            self.keep(tk)
            for t in (pk, sk2, tk):
                s.get("/tokens/v2", params={"access_token": t})
                s.get("/tokens/v2", token=t)
                s.get("/api/v1/stac/collections", token=t)
            s.get("/tokens/v2/" + username, token=sk2)
            s.get("/scopes/v1/" + username, params={"access_token": sk2})
            s.request("DELETE", "/tokens/v2/%s/%s" % (username, r.json().get("id", "x")), token=sk2)

        # Resource-server endpoints, when present.
        s.get("/api/v1/auth/check", token=sk, headers={"X-Original-URI": "/api/v1/stac/",
                                                       "X-Original-Method": "GET"})
        s.post("/api/v1/oauth/introspect", data={"token": sk}, token=access)
        s.post("/api/v1/oauth/introspect", {"token": sk}, token=sk)

        # Malformed requests carrying credentials.
        s.post("/api/v1/token/pair", data=b'{"email": "' + email.encode() + b'", "password": "'
               + PASSWORD.encode() + b'"', headers={"Content-Type": "application/json"})
        s.get("/nowhere?access_token=" + sk + "&password=" + PASSWORD)
        s.request("PATCH", "/api/v1/token/pair", token=sk)
        s.get("/api/v1/stac/collections", headers={"Authorization": "Basic " + base64.b64encode(
            (email + ":" + PASSWORD).encode()).decode()})

        # Revocation and logout.
        r = s.request("DELETE", "/api/v1/account/tokens/" + tok["id"], token=access)
        self.assertEqual(r.status_code, 204, r.text)
        s.get("/api/v1/stac/collections", token=sk)
        s.post("/api/v1/oauth/revoke", data={"token": sk}, token=access)
        self.assertEqual(s.post("/api/v1/token/blacklist", {"refresh": pair["refresh"]}).status_code, 200)
        s.post("/api/v1/token/refresh", {"refresh": pair["refresh"]})
        return email

    def test_no_secret_in_log_and_key_files_private(self):
        self.flow()
        self.assertGreater(len(self.secrets), 15)
        data_dir = self.srv.data_dir
        keys = {}
        for name in ("jwt.key", "token.key"):
            path = os.path.join(data_dir, name)
            st = os.stat(path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, "%s mode %o" % (name, st.st_mode))
            with open(path, "rb") as f:
                keys[name] = f.read()
            self.assertGreaterEqual(len(keys[name]), 32)
        self.srv.stop()  # flushes and closes the log; checks for sanitizer reports

        with open(self.srv.log_path, "rb") as f:
            raw_log = f.read()
        log = raw_log.decode("latin-1")
        self.assertIn("access", log)  # the scan is only meaningful if something was logged
        self.assertGreater(log.count("\n"), 40)
        leaks = [v[:12] + "..." for v in self.secrets if v in log]
        for name, key in keys.items():
            if key in raw_log:
                leaks.append(name + " (raw)")
            leaks += ["%s (%s...)" % (name, e[:8]) for e in encodings(key) if e in log]
            # A key file that stores text: its content as written.
            text = key.decode("latin-1").strip()
            if len(text) >= 16 and text in log:
                leaks.append(name + " (file text)")
        self.assertEqual(leaks, [], "secrets in the server log")

        # At rest: no sk secret, JWT signature or password in the data files.
        at_rest = []
        for root, _, files in os.walk(data_dir):
            for fn in files:
                if fn.endswith(".key"):
                    continue
                with open(os.path.join(root, fn), "rb") as f:
                    content = f.read()
                for v in (PASSWORD, WRONG, PASSWORD2):
                    if v.encode() in content:
                        at_rest.append("%s: a password" % fn)
                for v in self.secrets:
                    if v.startswith("sk.") and v.split(".")[2].encode() in content:
                        at_rest.append("%s: an sk secret" % fn)
        self.assertEqual(at_rest, [], "secrets stored in clear")


if __name__ == "__main__":
    unittest.main()
