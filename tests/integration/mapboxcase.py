"""Shared by the Mapbox Tokens API tests (test_mapbox*.py): the scopes an
account is granted, the fields of a token, token payload helpers, and
MapboxCase, a ServerTestCase with the calls those tests make."""
import base64
import datetime
import json
import re

from harness import ServerTestCase

PUBLIC = ["datasets:read", "fonts:read", "styles:read", "styles:tiles", "vision:read"]
ALL_GRANTED = ["stac", "catalog:read", "tokens:read", "tokens:write", "scopes:list"] + PUBLIC
# Mapbox's fields, plus Tessera's last_used (null until first use) and
# expiring_soon (issue 14).
TOKEN_FIELDS = {"id", "usage", "client", "default", "scopes", "note", "created", "modified",
                "last_used", "expiring_soon"}
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
INVALID_401 = {"message": "Not Authorized - Invalid Token"}


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def payload_of(token):
    return json.loads(b64url_decode(token.split(".")[1]))


def with_payload(token, payload):
    parts = token.split(".")
    parts[1] = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    return ".".join(parts)


def flip_char(s, index):
    """s with the character at index replaced by a different one of the same
    alphabet (never a padding-only change: callers pick a middle position)."""
    c = s[index]
    repl = "B" if c != "B" else "C"
    return s[:index] + repl + s[index + 1:]


def naive_utc_in(seconds):
    """What the Mapbox Python client sends: naive UTC ISO with microseconds."""
    return (datetime.datetime.utcnow() + datetime.timedelta(seconds=seconds)).isoformat()


class MapboxCase(ServerTestCase):
    """Helpers shared by the test classes."""

    def account(self):
        """A fresh account: (email, session access JWT, username)."""
        email, pair = self.server.new_account()
        me = self.server.get("/api/v1/account/me", token=pair["access"])
        self.assertEqual(me.status_code, 200, me.text)
        return email, pair["access"], me.json()["username"]

    def call(self, method, path, token=None, **kw):
        return self.server.request(method, path, token, **kw)

    def create(self, user, auth, scopes, note=None, expect=200, **extra):
        body = {"scopes": scopes}
        if note is not None:
            body["note"] = note
        body.update(extra)
        r = self.call("POST", "/tokens/v2/" + user, auth, json=body)
        self.assertEqual(r.status_code, expect, r.text)
        return r.json() if r.content else None

    def temp(self, user, auth, scopes, seconds=60, expect=200, expires=None):
        body = {"scopes": scopes, "expires": expires or naive_utc_in(seconds)}
        r = self.call("POST", "/tokens/v2/" + user, auth, json=body)
        self.assertEqual(r.status_code, expect, r.text)
        return r.json()

    def check(self, token=None, **kw):
        r = self.server.get("/tokens/v2", token, **kw)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def list_ids(self, user, auth, **params):
        r = self.call("GET", "/tokens/v2/" + user, auth, params=params)
        self.assertEqual(r.status_code, 200, r.text)
        return [t["id"] for t in r.json()]

    def assertMessage(self, resp, status, message):
        self.assertEqual(resp.status_code, status, resp.text)
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"))
        self.assertEqual(resp.json(), {"message": message})

    def assert422(self, resp, message):
        self.assertMessage(resp, 422, message)
