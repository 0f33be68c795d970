"""Throttling (SPEC §3 "Rate limits", §8 "Security"; issue 6 item 3).

Sign-in attempts are limited per account and per client address; the token
API per account. Each limit answers 429 with Retry-After, and an unknown
e-mail is throttled exactly like a known one (same status, body and headers,
no timing gap), so the limit cannot be used to find accounts. Each limit
resets after its window (`rate_window`, shortened here to keep the test fast).
Every server runs on loopback and is stopped by pid.
"""
import http.client
import json
import statistics
import time
import unittest

from harness import Server, unique_email, within_one_window

PASSWORD = "correct horse battery"


def attempt(srv, email, password="wrong password!"):
    return srv.post("/api/v1/token/pair", {"email": email, "password": password})


class ThrottleServer(unittest.TestCase):
    settings = {}

    def setUp(self):
        self.srv = Server(settings=self.settings)
        self.srv.start()

    def tearDown(self):
        self.srv.close()

    def assert_throttled(self, r, window):
        self.assertEqual(r.status_code, 429, r.text)
        self.assertEqual(r.json().get("code"), "throttled", r.text)
        self.assertIn("Retry-After", r.headers)
        retry = int(r.headers["Retry-After"])
        self.assertGreaterEqual(retry, 1)
        self.assertLessEqual(retry, window)
        return retry


class LoginPerAccount(ThrottleServer):
    settings = {"login-rate-account": "3", "login-rate-addr": "1000", "rate-window": "60"}

    def test_account_limit_and_no_enumeration(self):
        known = unique_email("known")
        self.assertEqual(self.srv.register(known, PASSWORD).status_code, 201)
        within_one_window(60)
        unknown = unique_email("nobody")
        known_401, unknown_401 = [], []
        for _ in range(3):
            a, b = attempt(self.srv, known), attempt(self.srv, unknown)
            self.assertEqual(a.status_code, 401, a.text)
            self.assertEqual(b.status_code, 401, b.text)
            self.assertEqual(a.json(), b.json())
            known_401.append(a)
            unknown_401.append(b)
        # Fourth attempt on each: throttled, and indistinguishable.
        a, b = attempt(self.srv, known), attempt(self.srv, unknown)
        self.assert_throttled(a, 60)
        self.assert_throttled(b, 60)
        self.assertEqual(a.json(), b.json())
        self.assertEqual(sorted(k for k in a.headers if k.lower() not in ("date", "x-request-id")),
                         sorted(k for k in b.headers if k.lower() not in ("date", "x-request-id")))
        # Even the right password is refused while throttled (no oracle).
        self.assert_throttled(attempt(self.srv, known, PASSWORD), 60)
        # The per-account key ignores case (e-mails compare case-insensitively).
        self.assert_throttled(attempt(self.srv, known.upper(), PASSWORD), 60)
        # Another account is not affected.
        other = unique_email("other")
        self.assertEqual(self.srv.register(other, PASSWORD).status_code, 201)
        self.assertEqual(attempt(self.srv, other, PASSWORD).status_code, 200)
        # Every 429 above is counted under the limit that gave it.
        metrics = self.srv.get("/metrics").text
        self.assertIn('tessera_throttled_total{reason="login_account"} 4\n', metrics)
        self.assertIn('tessera_throttled_total{reason="login_addr"} 0\n', metrics)

    def test_unknown_email_pays_a_hash(self):
        """No timing oracle: a failed sign-in for an unknown e-mail costs about
        as much as one for a known e-mail (both run Argon2id)."""
        known = unique_email("t-known")
        self.assertEqual(self.srv.register(known, PASSWORD).status_code, 201)

        def timed(email):
            t = time.perf_counter()
            r = attempt(self.srv, email)
            self.assertEqual(r.status_code, 401, r.text)
            return time.perf_counter() - t

        # 3 per account per window: use fresh unknown e-mails, and the known
        # one three times.
        tk = [timed(known) for _ in range(3)]
        tu = [timed(unique_email("t-nobody")) for _ in range(3)]
        mk, mu = statistics.median(tk), statistics.median(tu)
        # A password hash costs >= ~10 ms here; an early return would be
        # ~100x faster. Generous bounds: the machine is shared and noisy
        # (ctest -j2 runs other servers at the same time).
        self.assertGreater(mu, mk / 6, "unknown e-mail answered much faster: %r vs %r" % (tu, tk))
        self.assertLess(mu, mk * 6, "unknown e-mail answered much slower: %r vs %r" % (tu, tk))


def attempt_from(srv, source, email, password="wrong password!"):
    """A sign-in from another loopback address (127.0.0.x)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30,
                                      source_address=(source, 0))
    conn.request("POST", "/api/v1/token/pair", json.dumps({"email": email, "password": password}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    status = r.status
    r.read()
    conn.close()
    return status


class LoginPerPairAndCeiling(ThrottleServer):
    """Someone guessing from one address does not lock the owner out from
    another; the slower per-account ceiling still stops guessing from many."""
    settings = {"login-rate-account": "3", "login-rate-account-hourly": "8",
                "login-rate-addr": "1000", "rate-window": "60"}

    def test_owner_elsewhere_still_signs_in(self):
        email = unique_email("pair")
        self.assertEqual(self.srv.register(email, PASSWORD).status_code, 201)
        # The ceiling's window is a clock-aligned hour: room for the minute's
        # wait below and the test, or the next hour.
        within_one_window(3600, need=90)
        within_one_window(60)
        for _ in range(3):
            self.assertEqual(attempt_from(self.srv, "127.0.0.2", email), 401)
        self.assertEqual(attempt_from(self.srv, "127.0.0.2", email), 429)
        # The owner, from elsewhere, with the right password.
        self.assertEqual(attempt_from(self.srv, "127.0.0.3", email, PASSWORD), 200)
        # Guessing from many addresses runs into the account's ceiling (8).
        statuses = [attempt_from(self.srv, "127.0.0.%d" % (10 + i), email) for i in range(4)]
        self.assertEqual(statuses[:3], [401, 401, 401])
        self.assertEqual(statuses[3], 429)


class RegisterPerAddress(ThrottleServer):
    settings = {"register-rate-addr": "2", "rate-window": "60"}

    def test_registration_limit(self):
        within_one_window(60)
        for _ in range(2):
            self.assertEqual(self.srv.register(unique_email("reg")).status_code, 201)
        r = self.srv.register(unique_email("reg"))
        self.assert_throttled(r, 60)
        self.assertIn("registrations", r.json()["detail"])
        metrics = self.srv.get("/metrics").text
        self.assertTrue('tessera_throttled_total{reason="register_addr"} 1' in metrics)


class LoginPerAddress(ThrottleServer):
    settings = {"login-rate-account": "1000", "login-rate-addr": "5", "rate-window": "60"}

    def test_address_limit(self):
        known = unique_email("addr")
        self.assertEqual(self.srv.register(known, PASSWORD).status_code, 201)
        within_one_window(60)
        # Five attempts from 127.0.0.1, each for a different e-mail.
        for i in range(5):
            r = attempt(self.srv, unique_email("spray%d" % i))
            self.assertEqual(r.status_code, 401, r.text)
        # The sixth, for any e-mail, known or not, is throttled.
        self.assert_throttled(attempt(self.srv, unique_email("spray-late")), 60)
        self.assert_throttled(attempt(self.srv, known, PASSWORD), 60)
        # A forwarded-for header does not buy a fresh address.
        r = self.srv.post("/api/v1/token/pair", {"email": known, "password": PASSWORD},
                          headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"})
        self.assert_throttled(r, 60)
        # Other endpoints are not throttled by the sign-in limit.
        self.assertEqual(self.srv.get("/healthz").status_code, 200)


class LoginReset(ThrottleServer):
    settings = {"login-rate-account": "2", "login-rate-addr": "1000", "rate-window": "2"}

    def test_reset_after_window(self):
        email = unique_email("reset")
        self.assertEqual(self.srv.register(email, PASSWORD).status_code, 201)
        deadline = time.time() + 20
        # Windows are aligned to the clock; retry until two failures and a
        # 429 land in one window (at most a few tries).
        while True:
            codes = [attempt(self.srv, email).status_code for _ in range(3)]
            if codes == [401, 401, 429] or time.time() > deadline:
                break
            time.sleep(2.1)
        self.assertEqual(codes, [401, 401, 429])
        r = attempt(self.srv, email, PASSWORD)
        retry = self.assert_throttled(r, 2)
        time.sleep(retry + 0.2)
        r = attempt(self.srv, email, PASSWORD)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("access", r.json())


class TokenApiPerAccount(ThrottleServer):
    settings = {"token-api-rate": "5", "rate-window": "3"}

    def test_token_api_limit_and_reset(self):
        email, pair = self.srv.new_account()
        me = self.srv.get("/api/v1/account/me", token=pair["access"])
        self.assertEqual(me.status_code, 200, me.text)
        username = me.json()["username"]
        path = "/tokens/v2/" + username
        first = self.srv.get(path, token=pair["access"])
        if first.status_code == 404:
            self.skipTest("Mapbox token API (/tokens/v2/{username}) not available in this build")
        # Windows are aligned to the clock: start right after a boundary so
        # that the whole burst falls into one window.
        time.sleep(3 - time.time() % 3 + 0.05)
        codes = [self.srv.get(path, token=pair["access"]).status_code for _ in range(6)]
        self.assertEqual(codes, [200] * 5 + [429], codes)
        r = self.srv.get(path, token=pair["access"])
        self.assertEqual(r.status_code, 429)
        self.assertEqual(r.json(), {"message": r.json().get("message")})  # Mapbox-style body
        retry = int(r.headers["Retry-After"])
        self.assertTrue(1 <= retry <= 3, retry)
        # Writes count too.
        w = self.srv.post(path, {"scopes": ["styles:tiles"], "note": "x"}, token=pair["access"])
        self.assertEqual(w.status_code, 429, w.text)
        # Another account has its own budget.
        _, pair2 = self.srv.new_account()
        me2 = self.srv.get("/api/v1/account/me", token=pair2["access"]).json()
        self.assertEqual(self.srv.get("/tokens/v2/" + me2["username"],
                                      token=pair2["access"]).status_code, 200)
        # The token check endpoint and the Carbon Mapper API are not part of it.
        self.assertEqual(self.srv.get("/api/v1/account/tokens", token=pair["access"]).status_code, 200)
        # Reset after the window.
        time.sleep(retry + 0.2)
        self.assertEqual(self.srv.get(path, token=pair["access"]).status_code, 200)


if __name__ == "__main__":
    unittest.main()
