#!/usr/bin/env python3
"""Writes the hand-made seed corpora under fuzz/corpus/<target>/.

Each seed is the exact byte layout its target expects (see the comment at the
top of each fuzz/fuzz_*.c: most begin with a mode/selector byte). Re-running
this script rewrites the same files; libFuzzer-found inputs are not committed.
"""
import base64
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


SECRET = b"A" * 32 + b"0bXq2Z"   # right shape; checksum deliberately wrong
TOKEN_ID = b"0123456789abcdefghijklmno"

# --- fuzz_token: mode 0 raw, 1 tk payload (signed), 2 pk/sk payload (valid secret)
stored = b64(json.dumps({"u": "alice", "a": TOKEN_ID.decode()}).encode())
write("fuzz_token", "raw_pk", b"\x00pk." + stored + b"." + SECRET)
write("fuzz_token", "raw_sk", b"\x00sk." + stored + b"." + SECRET)
write("fuzz_token", "raw_tk", b"\x00tk." + stored + b"." + b"A" * 43)
write("fuzz_token", "raw_jwt", b"\x00eyJhbGciOiJIUzI1NiJ9.e30.sig")
write("fuzz_token", "tk_claims", b"\x01" + json.dumps(
    {"u": "alice", "exp": 1795000000, "iat": 1794996400, "scopes": ["styles:tiles", "stac"],
     "client": "api", "p": TOKEN_ID.decode()}).encode())
write("fuzz_token", "tk_session", b"\x01" + json.dumps(
    {"u": "bob_1", "exp": 1795000000, "iat": 1794996400, "scopes": [], "p": ""}).encode())
write("fuzz_token", "pk_payload", b"\x02" + json.dumps({"u": "alice", "a": TOKEN_ID.decode()}).encode())
write("fuzz_token", "sk_payload", b"\x02" + json.dumps({"u": "a", "a": TOKEN_ID.decode(), "x": 1}).encode() + b" ")
# Payloads with the instance marker "i" (last member), in the exact compact
# form token_format_stored writes, and a marker that is too short.
COMPACT = (",", ":")
marked = json.dumps({"u": "alice", "a": TOKEN_ID.decode(), "i": "k3v9x2m8q4w7"},
                    separators=COMPACT).encode()
write("fuzz_token", "raw_pk_marked", b"\x00pk." + b64(marked) + b"." + SECRET)
write("fuzz_token", "pk_payload_marked", b"\x02" + marked)
write("fuzz_token", "pk_payload_short_marker", b"\x02" + json.dumps(
    {"u": "alice", "a": TOKEN_ID.decode(), "i": "k3v"}, separators=COMPACT).encode())
write("fuzz_token", "tk_claims_marked", b"\x01" + json.dumps(
    {"u": "alice", "exp": 1795000000, "iat": 1794996400, "scopes": ["stac"],
     "client": "api", "p": TOKEN_ID.decode(), "i": "k3v9x2m8q4w7"}, separators=COMPACT).encode())

# --- fuzz_jwt: mode 0 raw, 1 payload under HS256 header, 2 header 0xff payload
claims = {"token_type": "access", "exp": 1795000000, "iat": 1794996400,
          "jti": "0123456789abcdef0123456789abcdef", "scope": "stac catalog:read",
          "groups": "Public Partners", "user_id": 7, "u": "alice"}
refresh = dict(claims, token_type="refresh", fam="fedcba9876543210fedcba9876543210")
hdr = b'{"alg":"HS256","typ":"JWT"}'
write("fuzz_jwt", "raw", b"\x00" + b64(hdr) + b"." + b64(json.dumps(claims).encode()) + b"." + b"A" * 43)
write("fuzz_jwt", "access", b"\x01" + json.dumps(claims).encode())
write("fuzz_jwt", "refresh", b"\x01" + json.dumps(refresh).encode())
write("fuzz_jwt", "hdr_payload", b"\x02" + hdr + b"\xff" + json.dumps(claims).encode())
write("fuzz_jwt", "hdr_none", b"\x02" + b'{"alg":"none"}' + b"\xff" + json.dumps(claims).encode())
write("fuzz_jwt", "hdr_crit", b"\x02" + b'{"alg":"HS256","crit":["b64"]}' + b"\xff{}")

# --- fuzz_time: plain strings for both parsers
for i, s in enumerate(["2026-11-23T12:00:00.000Z", "2026-11-23T12:12:24.577133",
                       "2024-02-29 23:59:59+05:30", "1970-01-01T00:00:00-00:00",
                       "9999-12-31T23:59:59.999999Z", "2026-11-23", "0001-01-01",
                       "2023-02-29", "2026-13-01T25:61:61Z",
                       # the wide flavour (STAC): before 1970, year 0000, 7-9 digits
                       "1900-01-01T00:00:00Z", "0000-01-01T00:00:00-00:01",
                       "1969-12-31T23:59:59.999999999Z", "2001-02-03T04:05:06.1234567+01:00",
                       "1850-06-01"]):
    write("fuzz_time", "t%02d" % i, s)

# --- fuzz_stac_query: 0 bbox text, 1 datetime, 2 bbox JSON, 3 geometry JSON
write("fuzz_stac_query", "bbox4", b"\x00-180,-90,180,90")
write("fuzz_stac_query", "bbox6", b"\x00170,-10,0,-170,10,100")
write("fuzz_stac_query", "dt_instant", b"\x012026-11-23T12:00:00Z")
write("fuzz_stac_query", "dt_day", b"\x012026-11-23")
write("fuzz_stac_query", "dt_open", b"\x01../2026-11-23T12:00:00.5+01:00")
write("fuzz_stac_query", "dt_interval", b"\x012020-01-01T00:00:00Z/2021-01-01")
write("fuzz_stac_query", "dt_old", b"\x010001-01-01T00:00:00Z/1969-12-31T23:59:59.123456789Z")
write("fuzz_stac_query", "dt_both_open", b"\x01../..")
write("fuzz_stac_query", "bbox_json", b"\x02[-10.5, -5, 10, 5.25]")
write("fuzz_stac_query", "point", b'\x03{"type":"Point","coordinates":[1.5,2.5]}')
write("fuzz_stac_query", "polygon", b'\x03{"type":"Polygon","coordinates":[[[0,0],[20,0],[20,20],[0,20],[0,0]],[[5,5],[6,5],[6,6],[5,5]]]}')
write("fuzz_stac_query", "multi", b'\x03{"type":"GeometryCollection","geometries":[{"type":"LineString","coordinates":[[-20,0],[20,1]]},{"type":"MultiPoint","coordinates":[[179,1],[-179,1]]}]}')

# --- fuzz_cql2: 0 CQL2 text, 1 CQL2 JSON, 2 query JSON, 3 sortby text,
# 4 sortby JSON, 5 fields text, 6 fields JSON
write("fuzz_cql2", "text_logic", b"\x00n > 1 AND (s LIKE 'a%' OR NOT x IS NULL) AND y IN (1, 'b', TRUE)")
write("fuzz_cql2", "text_spatial", b"\x00S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0))) OR "
      b"S_INTERSECTS(geometry, BBOX(170, -1, -170, 1))")
write("fuzz_cql2", "text_temporal", b"\x00T_INTERSECTS(datetime, INTERVAL('1900-01-01', '..')) AND "
      b"\"cm:emission\" BETWEEN 1 AND 2e3 AND d < TIMESTAMP('2020-01-01T00:00:00.123456789Z')")
write("fuzz_cql2", "json_logic", b'\x01{"op":"and","args":[{"op":">","args":[{"property":"n"},1]},'
      b'{"op":"not","args":[{"op":"isNull","args":[{"property":"s"}]}]},'
      b'{"op":"in","args":[{"property":"s"},["a","b"]]}]}')
write("fuzz_cql2", "json_spatial", b'\x01{"op":"s_intersects","args":[{"property":"geometry"},'
      b'{"type":"Point","coordinates":[1,2]}]}')
write("fuzz_cql2", "json_temporal", b'\x01{"op":"t_intersects","args":[{"property":"datetime"},'
      b'{"interval":["0001-01-01","2020-01-01T00:00:00Z"]}]}')
write("fuzz_cql2", "query", b'\x02{"n":{"gt":1,"lte":5},"s":{"startsWith":"a","in":["a","b"]}}')
write("fuzz_cql2", "sort_text", b"\x03-properties.n,+id, datetime")
write("fuzz_cql2", "sort_json", b'\x04[{"field":"n","direction":"desc"},{"field":"id"}]')
write("fuzz_cql2", "fields_text", b"\x05id,properties.n,-geometry,-assets.d.type")
write("fuzz_cql2", "fields_json", b'\x06{"include":["properties.o.a"],"exclude":["links"]}')

# --- fuzz_forwarded: 0 Forwarded / X-Forwarded-* value, 1 CIDR list, 2 HTTP-date, 3 etags
write("fuzz_forwarded", "fwd_simple", b"\x00for=192.0.2.60;proto=https;host=example.org")
write("fuzz_forwarded", "fwd_chain", b'\x00host=evil, for="[2001:db8::5]:4711";host="a.example:8443", '
      b'for=10.0.0.1;proto=http;host=b.example')
write("fuzz_forwarded", "fwd_quoted", b'\x00host="a\\"b";proto="HTTPS";;by=_x, host=[::1]:80')
write("fuzz_forwarded", "prefix", b"\x00/tessera/v1/")
write("fuzz_forwarded", "cidr", b"\x01127.0.0.1/32, 10.0.0.0/8 ::1 fd00::/8 ::ffff:192.168.0.0/112")
write("fuzz_forwarded", "date_imf", b"\x02Sun, 06 Nov 1994 08:49:37 GMT")
write("fuzz_forwarded", "date_850", b"\x02Sunday, 06-Nov-94 08:49:37 GMT")
write("fuzz_forwarded", "date_asc", b"\x02Sun Nov  6 08:49:37 1994")
write("fuzz_forwarded", "etags", b'\x03"x", W/"a1-2b" ,"y"|"a1-2b"')

# --- fuzz_json_body: route byte, credential byte, body
# routes: 0 register 1 pair 2 refresh 3 verify 4 blacklist 5 create-stac
#         6 stac search 7 tokens/v2 create 8 tokens/v2 patch 9 introspect 10 revoke
# credential: 0 none 1 access 2 sk 3 pk 4 refresh 5/6 forged 7 empty
jb = [
    (0, 0, {"email": "new@example.com", "password1": "pw", "password2": "pw2", "username": "Bad Name"}),
    (1, 0, {"email": "fuzz@example.com", "password": "wrong"}),
    (1, 0, {"email": 5, "password": None}),
    (2, 0, {"refresh": "eyJhbGciOiJIUzI1NiJ9.e30.x"}),
    (3, 0, {"token": "x.y.z"}),
    (4, 0, {"refresh": ""}),
    (5, 1, {"expiration_date": "2099-12-31", "name": "n"}),
    (5, 1, {"expiration_date": "2001-02-29", "name": ["x"]}),
    (6, 0, {"bbox": [-180, -90, 180, 90], "datetime": "2020-01-01T00:00:00Z/..", "limit": 5,
            "collections": ["a"], "ids": ["x"]}),
    (6, 1, {"intersects": {"type": "Point", "coordinates": [0, 0]}, "offset": 1e300}),
    (7, 1, {"scopes": ["styles:tiles"], "note": "n", "allowedUrls": ["https://x.example"]}),
    (7, 2, {"scopes": ["stac"], "expires": "2026-11-23T12:12:24.577133"}),
    (8, 1, {"note": "renamed", "scopes": ["tokens:read"]}),
    (9, 2, {"token": "sk.x.y"}),
    (10, 1, {"token": "pk.x.y", "token_type_hint": "access_token"}),
]
for i, (rt, cred, body) in enumerate(jb):
    write("fuzz_json_body", "b%02d" % i, bytes([rt, cred]) + json.dumps(body).encode())
write("fuzz_json_body", "not_object", b"\x03\x00[1,2,3]")
write("fuzz_json_body", "bad_utf8", b"\x01\x00{\"email\":\"\xc3\x28\"}")
write("fuzz_json_body", "deep", b"\x06\x00" + b"[" * 200 + b"]" * 200)

# --- fuzz_http: mode 0 raw; mode 1 structured:
#   method byte, route byte, credential byte (bit 3: in the query), then
#   param0 \0 param1 \0 query \0 header lines \0 body
raw = [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/v1/stac/search?bbox=-10,-10,10,10&datetime=2020-01-01/..&limit=2 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /api/v1/token/pair HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n{\"email\":\"a@b.c\",\"password\":\"nopenope\"}",
    b"POST /api/v1/token/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"tok\r\n0\r\n\r\n",
    b"GET /tokens/v2?access_token=pk.e30.x HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    b"DELETE /api/v1/account/tokens/%2e%2e%2F HTTP/1.0\r\nAuthorization: Bearer \r\n\r\n",
    b"GET /api/v1/catalog/asset/../../etc/passwd HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,5-\r\n\r\n",
    b"POST /api/v1/stac/search HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
    # issue 13's probe vectors: smuggling, framing, versions, garbage
    b"POST /api/v1/token/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 47\r\n\r\n"
    b"GET /api/v1/account/me HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /api/v1/token/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /api/v1/token/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
    b"POST /api/v1/token/verify HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)),
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n",
    b"GET /api/v1/account/tokens/a%00b HTTP/1.1\r\nHost: x\r\n\r\n",
]
for i, r in enumerate(raw):
    write("fuzz_http", "raw%02d" % i, b"\x00" + r)
# methods: 0 GET 1 POST 2 DELETE 3 PATCH 4 PUT 5 HEAD 6 OPTIONS 7 get
# routes (index into fuzz_http.c's table)
st = [
    (0, 4, 1, b"", b"", b"", b"", b""),                       # GET me with access
    (0, 10, 9, b"", b"", b"", b"", b""),                      # GET tokens, access in query
    (2, 11, 1, b"", b"", b"", b"", b""),                      # DELETE own sk
    (0, 15, 2, b"l4a-ch4-mfa-v3a", b"", b"", b"", b""),      # collection with sk
    (0, 17, 0, b"c", b"i", b"", b"", b""),
    (0, 18, 0, b"", b"", b"bbox=1,2,3&datetime=..%2F..&ids=a,b&limit=0&offset=-1", b"", b""),
    (0, 19, 2, b"a/b.png", b"", b"", b"Range: bytes=10-5\n", b""),
    (0, 20, 2, b"", b"", b"", b"X-Original-Method: GET\nX-Original-URI: /api/v1/stac\n", b""),
    (0, 25, 2, b"", b"", b"", b"", b""),                      # GET /tokens/v2 with sk
    (0, 26, 1, b"", b"", b"limit=1&sortby=modified&usage=sk&default=true", b"", b""),
    (1, 26, 1, b"", b"", b"", b"", b'{"scopes":["styles:tiles"],"note":"x"}'),
    (3, 27, 1, b"", b"", b"", b"", b'{"note":"y"}'),
    (0, 28, 3, b"", b"", b"", b"", b""),
    (1, 21, 2, b"", b"", b"", b"Content-Type: application/x-www-form-urlencoded\n", b"token=abc"),
    (1, 9, 1, b"", b"", b"", b"", b'{"expiration_date":"2026-13-40","name":""}'),
    (1, 6, 4, b"", b"", b"", b"", b'{"refresh":"x"}'),
]
for i, (m, rt, cred, p0, p1, q, h, body) in enumerate(st):
    write("fuzz_http", "st%02d" % i, b"\x01" + bytes([m, rt, cred]) + p0 + b"\0" + p1 + b"\0" + q
          + b"\0" + h + b"\0" + body)
