"""Expiry for every stored token kind (issue 14): `expires_at` on create and
update through the Mapbox API (whose own `expires` makes a temporary token),
the bounds (in the future, within max_token_days, within
token_max_lifetime_days when that is set, which also gives tokens created
without an expiry one), `expiring_soon` in listings, and expired tokens
refused as TokenExpired.
"""
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import Server, ServerTestCase


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ahead(**kw):
    return iso(datetime.now(timezone.utc) + timedelta(**kw))


def parse(ts):
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


class ExpiryTest(ServerTestCase):
    settings = {"token-api-rate": 0}

    def setUp(self):
        _, self.pair = self.server.new_account()
        self.user = self.server.get("/api/v1/account/me",
                                    token=self.pair["access"]).json()["username"]

    def create(self, scopes, **fields):
        body = {"scopes": scopes, "note": "expiry"}
        body.update(fields)
        return self.server.post("/tokens/v2/" + self.user, body, token=self.pair["access"])

    def patch(self, token_id, **fields):
        return self.server.request("PATCH", "/tokens/v2/%s/%s" % (self.user, token_id),
                                   token=self.pair["access"], json=fields)

    def listed(self, token_id):
        r = self.server.get("/tokens/v2/" + self.user, token=self.pair["access"])
        return next(t for t in r.json() if t["id"] == token_id)

    def test_pk_and_sk_with_an_expiry(self):
        for scopes, usage in ((["styles:read"], "pk"), (["stac"], "sk")):
            when = ahead(days=30)
            r = self.create(scopes, expires_at=when)
            self.assertEqual(r.status_code, 200, r.text)
            t = r.json()
            self.assertEqual(t["usage"], usage)
            self.assertLess(abs((parse(t["expires"]) - parse(when)).total_seconds()), 1)
            self.assertIs(t["expiring_soon"], False)
            self.assertEqual(self.server.get("/tokens/v2", token=t["token"]).json()["code"],
                             "TokenValid")
            cm = next(x for x in self.server.get("/api/v1/account/tokens",
                                                 token=self.pair["access"]).json()
                      if x["id"] == t["id"])
            self.assertEqual(cm["expires"], t["expires"])
            self.assertIs(cm["expiring_soon"], False)

    def test_expiring_soon_and_update(self):
        t = self.create(["stac"], expires_at=ahead(days=3)).json()
        self.assertIs(t["expiring_soon"], True)
        self.assertIs(self.listed(t["id"])["expiring_soon"], True)
        r = self.patch(t["id"], expires_at=ahead(days=60))
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIs(r.json()["expiring_soon"], False)
        self.assertIs(self.listed(t["id"])["expiring_soon"], False)
        # null removes the expiry; absent leaves it alone.
        r = self.patch(t["id"], expires_at=None)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertNotIn("expires", r.json())
        r = self.patch(t["id"], note="renamed")
        self.assertNotIn("expires", r.json())
        self.assertEqual(r.json()["note"], "renamed")

    def test_bounds(self):
        for when, msg in ((ahead(minutes=-1), "expires_at is in the past"),
                          (ahead(days=400), "expires_at is more than 365 days in the future"),
                          ("not a time", "expires_at must be an RFC 3339 time or null"),
                          (12345, "expires_at must be an RFC 3339 time or null")):
            r = self.create(["stac"], expires_at=when)
            self.assertEqual(r.status_code, 422, r.text)
            self.assertEqual(r.json(), {"message": msg})
        t = self.create(["stac"]).json()
        r = self.patch(t["id"], expires_at=ahead(days=-2))
        self.assertEqual(r.status_code, 422, r.text)
        self.assertNotIn("expires", self.listed(t["id"]))

    def test_expired_token_is_refused(self):
        t = self.create(["stac", "tokens:read"], expires_at=ahead(seconds=2)).json()
        self.assertEqual(self.server.get("/tokens/v2", token=t["token"]).json()["code"],
                         "TokenValid")
        time.sleep(2.2)
        self.assertEqual(self.server.get("/tokens/v2", token=t["token"]).json()["code"],
                         "TokenExpired")
        r = self.server.get("/api/v1/stac/search", token=t["token"])
        self.assertEqual(r.status_code, 401, r.text)


class MaximumLifetimeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(settings={"token-max-lifetime-days": "30"})
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_every_new_token_expires_within_the_lifetime(self):
        _, pair = self.server.new_account()
        user = self.server.get("/api/v1/account/me", token=pair["access"]).json()["username"]
        # The account's default public token is exempt (as on Mapbox).
        tokens = self.server.get("/tokens/v2/" + user, token=pair["access"]).json()
        self.assertNotIn("expires", tokens[0])
        # Without an expiry: exactly the lifetime.
        r = self.server.post("/tokens/v2/" + user, {"scopes": ["stac"]}, token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        left = parse(r.json()["expires"]) - datetime.now(timezone.utc)
        self.assertTrue(timedelta(days=29, hours=23) < left <= timedelta(days=30), left)
        # Beyond it: refused, naming the lifetime.
        r = self.server.post("/tokens/v2/" + user, {"scopes": ["stac"],
                                                    "expires_at": ahead(days=45)},
                             token=pair["access"])
        self.assertEqual(r.status_code, 422, r.text)
        self.assertEqual(r.json(), {"message": "expires_at is more than 30 days in the future"})
        # create-stac too.
        date = (datetime.now(timezone.utc) + timedelta(days=100)).strftime("%Y-%m-%d")
        r = self.server.post("/api/v1/account/tokens/create-stac",
                             {"expiration_date": date, "name": "long"}, token=pair["access"])
        self.assertEqual(r.status_code, 422, r.text)


if __name__ == "__main__":
    unittest.main()
