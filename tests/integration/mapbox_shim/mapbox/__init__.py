"""A minimal stand-in for the Mapbox Python SDK (mapbox-sdk-py), Tokens only.

Debian packages no Mapbox SDK and the test machines cannot reach PyPI, so the
seed-003 test drives Tessera through this shim instead. It reproduces, on the
wire, what mapbox-sdk-py's `Tokens` service sends (written from reading that
project, not copied from it):

* the access token comes from the `access_token` argument, else the
  `MapboxAccessToken` or `MAPBOX_ACCESS_TOKEN` environment variable, and is
  sent as the `access_token` query parameter of every request;
* the host comes from the `host` argument, else `MAPBOX_HOST`, else
  api.mapbox.com, and every URL is `https://<host>/...`;
* the username of `/tokens/v2/{username}` paths is read from the `u` field of
  the token's second dot-separated part (base64url JSON), unless given;
* `create` sends `{"scopes", "note"}` with note "SDK generated note" when none
  is given; `create_temp_token` sends `{"scopes", "expires"}` with expires =
  naive UTC now + seconds in ISO format (microseconds), refusing 0 or > 3600;
  `update` sends only the given `scopes` / `note` (at least one);
* responses are returned as `requests.Response` objects, HTTP errors are not
  raised.
"""
import base64
import json
import os
from datetime import datetime, timedelta
from urllib.parse import quote

import requests

__version__ = "0.18.1-tessera-shim"

__all__ = ["Tokens", "ValidationError", "TokenError", "HTTPError"]


class ValidationError(ValueError):
    """Invalid arguments, refused before any request is made."""


class TokenError(ValueError):
    """The access token is missing or carries no username."""


class HTTPError(Exception):
    pass


def _session(access_token=None, env=None):
    env = os.environ if env is None else env
    token = access_token or env.get("MapboxAccessToken") or env.get("MAPBOX_ACCESS_TOKEN")
    s = requests.Session()
    s.params.update(access_token=token)
    s.headers["User-Agent"] = "mapbox-sdk-py/%s %s" % (__version__,
                                                       requests.utils.default_user_agent())
    return s


def _segment(value):
    """One URI-template path segment: everything reserved is escaped."""
    return quote(str(value), safe="")


class Service(object):
    default_host = "api.mapbox.com"

    def __init__(self, access_token=None, host=None, cache=None):
        self.session = _session(access_token)
        self.host = host or os.environ.get("MAPBOX_HOST", self.default_host)

    @property
    def username(self):
        token = self.session.params.get("access_token")
        if not token:
            raise TokenError("session does not have a valid access_token param")
        parts = token.split(".")
        if len(parts) < 2:
            raise TokenError("access_token does not contain username")
        data = parts[1].replace("-", "+").replace("_", "/") + "==="
        try:
            return json.loads(base64.b64decode(data).decode("utf-8"))["u"]
        except (ValueError, KeyError, TypeError):
            raise TokenError("access_token does not contain username")

    def handle_http_error(self, response, custom_messages=None, raise_for_status=False):
        custom_messages = custom_messages or {}
        if response.status_code in custom_messages:
            raise HTTPError(custom_messages[response.status_code])
        if raise_for_status:
            response.raise_for_status()


class Tokens(Service):
    """The Mapbox Tokens API (/tokens/v2, /scopes/v1)."""

    @property
    def baseuri(self):
        return "https://%s/tokens/v2" % self.host

    def _user_uri(self, username, *rest):
        if username is None:
            username = self.username
        return "/".join([self.baseuri, _segment(username)] + [_segment(x) for x in rest])

    def create(self, scopes, note=None, username=None):
        uri = self._user_uri(username)
        payload = {"scopes": scopes, "note": note or "SDK generated note"}
        res = self.session.post(uri, json=payload)
        self.handle_http_error(res)
        return res

    def list_tokens(self, limit=None, username=None):
        uri = self._user_uri(username)
        params = {"limit": int(limit)} if limit else {}
        res = self.session.get(uri, params=params)
        self.handle_http_error(res)
        return res

    def create_temp_token(self, scopes, expires=3600, username=None):
        uri = self._user_uri(username)
        if expires <= 0 or expires > 3600:
            raise ValidationError("Expiry should be within 1 hour from now")
        when = datetime.utcnow() + timedelta(seconds=expires)
        res = self.session.post(uri, json={"scopes": scopes, "expires": when.isoformat()})
        self.handle_http_error(res)
        return res

    def update(self, authorization_id, scopes=None, note=None, username=None):
        uri = self._user_uri(username, authorization_id)
        if not scopes and not note:
            raise ValidationError("Provide either scopes or a note to update token")
        payload = {}
        if scopes:
            payload["scopes"] = scopes
        if note:
            payload["note"] = note
        res = self.session.patch(uri, json=payload)
        self.handle_http_error(res)
        return res

    def delete(self, authorization_id, username=None):
        res = self.session.delete(self._user_uri(username, authorization_id))
        self.handle_http_error(res)
        return res

    def check_validity(self):
        res = self.session.get(self.baseuri)
        self.handle_http_error(res)
        return res

    def list_scopes(self, username=None):
        if username is None:
            username = self.username
        res = self.session.get("https://%s/scopes/v1/%s" % (self.host, _segment(username)))
        self.handle_http_error(res)
        return res
