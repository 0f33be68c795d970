"""Carbon Mapper scoped tokens (SPEC §4.1, §2, §5): create-stac, list and
delete under /api/v1/account/tokens, and revocation on the very next request
(checked on the STAC API, which verifies sk tokens)."""
import base64
import json
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import ServerTestCase

CREATE = "/api/v1/account/tokens/create-stac"
LIST = "/api/v1/account/tokens"
STAC = "/api/v1/stac/collections"
RFC3339_MS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def utc_date(days):
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%d")


class TokensCmTest(ServerTestCase):
    def create(self, access, body):
        return self.server.post(CREATE, body, token=access)

    def assert_422(self, resp, field):
        self.assertEqual(resp.status_code, 422, resp.text)
        body = resp.json()
        self.assertIsInstance(body["detail"], list, body)
        self.assertEqual(len(body["detail"]), 1, body)
        item = body["detail"][0]
        self.assertEqual(set(item), {"loc", "msg", "type"})
        self.assertEqual(item["loc"], ["body", field])
        self.assertIsInstance(item["msg"], str)
        self.assertTrue(item["msg"])
        self.assertIsInstance(item["type"], str)
        return item

    # -- create ---------------------------------------------------------------
    def test_create_success_fields(self):
        email, pair = self.server.new_account()
        date = utc_date(7)
        r = self.create(pair["access"], {"expiration_date": date, "name": "ci token"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        t = r.json()
        self.assertEqual(set(t), {"id", "name", "token_value", "scopes", "expiration_date",
                                  "created", "usage"})
        self.assertRegex(t["id"], r"^[a-z0-9]{25}$")
        self.assertEqual(t["name"], "ci token")
        self.assertEqual(t["scopes"], ["stac", "catalog:read"])
        self.assertEqual(t["expiration_date"], date)
        self.assertEqual(t["usage"], "sk")
        self.assertRegex(t["created"], RFC3339_MS)
        prefix, payload, secret = t["token_value"].split(".")
        self.assertEqual(prefix, "sk")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        self.assertEqual(claims["a"], t["id"])
        me = self.server.get("/api/v1/account/me", token=pair["access"]).json()
        self.assertEqual(claims["u"], me["username"])
        self.assertGreaterEqual(len(secret), 22)
        # The token works where sk tokens are verified.
        r = self.server.get(STAC, token=t["token_value"])
        self.assertEqual(r.status_code, 200, r.text)
        r = self.server.get(STAC, params={"access_token": t["token_value"]})
        self.assertEqual(r.status_code, 200, r.text)

    def test_valid_through_end_of_date(self):
        _, pair = self.server.new_account()
        today = utc_date(0)
        r = self.create(pair["access"], {"expiration_date": today, "name": "today"})
        self.assertEqual(r.status_code, 200, r.text)
        t = r.json()
        self.assertEqual(self.server.get(STAC, token=t["token_value"]).status_code, 200)
        listed = {x["id"]: x for x in self.server.get(LIST, token=pair["access"]).json()}
        tomorrow = utc_date(1)
        self.assertEqual(listed[t["id"]]["expires"], tomorrow + "T00:00:00.000Z")

    def test_lifetime_limits(self):
        _, pair = self.server.new_account()
        self.assert_422(self.create(pair["access"], {"expiration_date": utc_date(-1),
                                                     "name": "past"}), "expiration_date")
        self.assert_422(self.create(pair["access"], {"expiration_date": "2001-01-01",
                                                     "name": "past"}), "expiration_date")
        self.assert_422(self.create(pair["access"], {"expiration_date": utc_date(366),
                                                     "name": "too far"}), "expiration_date")
        self.assert_422(self.create(pair["access"], {"expiration_date": "9999-12-31",
                                                     "name": "too far"}), "expiration_date")
        r = self.create(pair["access"], {"expiration_date": utc_date(365), "name": "max"})
        self.assertEqual(r.status_code, 200, r.text)

    def test_malformed_dates(self):
        _, pair = self.server.new_account()
        for date in ("tomorrow", "2026-13-01", "2027-02-30", "2027-1-5", "2027-01-05T00:00:00",
                     "", "2027/01/05", " 2027-01-05", "２０２７-01-05"):
            with self.subTest(date=date):
                self.assert_422(self.create(pair["access"], {"expiration_date": date,
                                                             "name": "x"}), "expiration_date")
        for date in (20270105, ["2027-01-05"], True, {"d": 1}):
            with self.subTest(date=date):
                self.assert_422(self.create(pair["access"], {"expiration_date": date,
                                                             "name": "x"}), "expiration_date")

    def test_missing_and_bad_fields(self):
        _, pair = self.server.new_account()
        item = self.assert_422(self.create(pair["access"], {"name": "x"}), "expiration_date")
        self.assertEqual(item["type"], "missing")
        item = self.assert_422(self.create(pair["access"], {"expiration_date": utc_date(3)}),
                               "name")
        self.assertEqual(item["type"], "missing")
        self.assert_422(self.create(pair["access"], {"expiration_date": utc_date(3), "name": 7}),
                        "name")
        self.assert_422(self.create(pair["access"], {"expiration_date": utc_date(3), "name": ""}),
                        "name")
        item = self.assert_422(self.create(pair["access"], {"expiration_date": utc_date(3),
                                                            "name": "n" * 257}), "name")
        self.assertEqual(item["msg"], "Name must be 1 to 256 bytes of UTF-8")
        r = self.create(pair["access"], {"expiration_date": utc_date(3), "name": "n" * 256})
        self.assertEqual(r.status_code, 200, r.text)
        # The limit is in bytes: 128 two-byte characters fit, 129 do not.
        self.assert_422(self.create(pair["access"], {"expiration_date": utc_date(3),
                                                     "name": "\u00e9" * 129}), "name")
        r = self.create(pair["access"], {"expiration_date": utc_date(3), "name": "\u00e9" * 128})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["name"], "\u00e9" * 128)
        # Body-level problems.
        r = self.server.request("POST", CREATE, token=pair["access"], data="{bad")
        self.assertEqual(r.status_code, 400, r.text)
        r = self.server.request("POST", CREATE, token=pair["access"], data="[]")
        self.assertEqual(r.status_code, 422, r.text)
        r = self.server.request("POST", CREATE, token=pair["access"], data=b"")
        self.assertEqual(r.status_code, 400, r.text)

    def test_auth_required(self):
        r = self.server.post(CREATE, {"expiration_date": utc_date(3), "name": "x"})
        self.assertEqual(r.status_code, 401, r.text)
        self.assertTrue(r.headers["WWW-Authenticate"].startswith("Bearer"))
        self.assertIsInstance(r.json()["detail"], str)
        r = self.server.post(CREATE, {"expiration_date": utc_date(3), "name": "x"},
                             token="garbage")
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(r.json(), {"detail": "Token is invalid or expired",
                                    "code": "token_not_valid"})

    def test_sk_token_cannot_replace_session(self):
        _, pair = self.server.new_account()
        sk = self.server.create_stac_token(pair["access"])["token_value"]
        for method, path, body in (("POST", CREATE, {"expiration_date": utc_date(3),
                                                     "name": "x"}),
                                   ("GET", LIST, None), ("DELETE", LIST + "/whatever", None)):
            with self.subTest(path=path, method=method):
                r = self.server.request(method, path, token=sk, json=body)
                self.assertEqual(r.status_code, 401, r.text)
                self.assertEqual(r.json()["code"], "token_not_valid")
                self.assertTrue(r.headers["WWW-Authenticate"].startswith("Bearer"))
        r = self.server.post(CREATE, {"expiration_date": utc_date(3), "name": "x"},
                             token=pair["refresh"])
        self.assertEqual(r.status_code, 401, r.text)

    # -- list ---------------------------------------------------------------
    def test_list_without_secrets(self):
        _, pair = self.server.new_account()
        made = [self.server.create_stac_token(pair["access"], days=d, name="tok %d" % d)
                for d in (1, 2, 3)]
        r = self.server.get(LIST, token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        listed = r.json()
        self.assertIsInstance(listed, list)
        by_id = {t["id"]: t for t in listed}
        for m in made:
            self.assertIn(m["id"], by_id)
            t = by_id[m["id"]]
            self.assertEqual(t["name"], m["name"])
            self.assertEqual(t["usage"], "sk")
            self.assertEqual(t["scopes"], ["stac", "catalog:read"])
            self.assertNotIn("token_value", t)
            self.assertNotIn("token", t)
            self.assertNotIn(m["token_value"].split(".")[2], r.text)
            self.assertRegex(t["created"], RFC3339_MS)
        for t in listed:
            for key in t:
                self.assertNotIn("hash", key.lower())
                self.assertNotIn("secret", key.lower())
        # The default public token of every new account is listed too.
        defaults = [t for t in listed if t.get("default")]
        self.assertEqual(len(defaults), 1, listed)
        self.assertEqual(defaults[0]["usage"], "pk")
        # Only this account's tokens.
        _, other = self.server.new_account()
        other_ids = {t["id"] for t in self.server.get(LIST, token=other["access"]).json()}
        self.assertFalse(other_ids & set(by_id))

    def test_list_requires_session(self):
        r = self.server.get(LIST)
        self.assertEqual(r.status_code, 401, r.text)
        self.assertTrue(r.headers["WWW-Authenticate"].startswith("Bearer"))

    # -- delete ---------------------------------------------------------------
    def test_delete_and_revocation_next_request(self):
        _, pair = self.server.new_account()
        t = self.server.create_stac_token(pair["access"])
        sk = t["token_value"]
        self.assertEqual(self.server.get(STAC, token=sk).status_code, 200)
        r = self.server.request("DELETE", LIST + "/" + t["id"], token=pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        self.assertEqual(r.content, b"")
        self.assertIn("X-Request-Id", r.headers)
        # Revoked on the very next request.
        r = self.server.get(STAC, token=sk)
        self.assertEqual(r.status_code, 401, r.text)
        self.assertTrue(r.headers["WWW-Authenticate"].startswith("Bearer"))
        # Same answer as an unknown token (SPEC §5 rule 4).
        forged = "sk.%s.%s" % (sk.split(".")[1], "A" * len(sk.split(".")[2]))
        unknown = self.server.get(STAC, token=forged)
        self.assertEqual(unknown.status_code, 401)
        self.assertEqual(unknown.json(), r.json())
        # Gone from the list; a second delete is 404.
        ids = [x["id"] for x in self.server.get(LIST, token=pair["access"]).json()]
        self.assertNotIn(t["id"], ids)
        r = self.server.request("DELETE", LIST + "/" + t["id"], token=pair["access"])
        self.assertEqual(r.status_code, 404, r.text)
        self.assertEqual(r.json()["code"], "not_found")
        self.assertIsInstance(r.json()["detail"], str)

    def test_delete_other_accounts_token(self):
        _, alice = self.server.new_account()
        _, mallory = self.server.new_account()
        t = self.server.create_stac_token(alice["access"])
        r = self.server.request("DELETE", LIST + "/" + t["id"], token=mallory["access"])
        self.assertEqual(r.status_code, 404, r.text)
        self.assertEqual(self.server.get(STAC, token=t["token_value"]).status_code, 200)
        r = self.server.request("DELETE", LIST + "/doesnotexist0000000000000",
                                token=alice["access"])
        self.assertEqual(r.status_code, 404, r.text)
        r = self.server.request("DELETE", LIST + "/" + t["id"])
        self.assertEqual(r.status_code, 401, r.text)
        self.assertEqual(self.server.get(STAC, token=t["token_value"]).status_code, 200)


if __name__ == "__main__":
    unittest.main()
