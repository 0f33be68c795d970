"""Helpers for the leaked-token tests (test_leak.py, test_instance.py,
test_multinode.py): the fixture keys of tests/fixtures/leak/, report
signatures made with the openssl command line as a scanner makes them, and
reading or rewriting a token's payload part."""
import base64
import json
import os
import subprocess

from harness import SOURCE_DIR

FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "leak")
KEYS = os.path.join(FIXTURES, "public_keys.json")
SCANNER_KEY = os.path.join(FIXTURES, "scanner_key.pem")
FORGER_KEY = os.path.join(FIXTURES, "forger_key.pem")
with open(KEYS) as f:
    KEY_ID = json.load(f)["public_keys"][0]["key_identifier"]


def sign(body, key=SCANNER_KEY):
    """Base64 of the DER ECDSA P-256 / SHA-256 signature of body."""
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=body,
                         capture_output=True, check=True).stdout
    return base64.b64encode(der).decode()


def payload_of(token):
    """The decoded JSON of a token's second part."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def with_payload(token, payload):
    """The token with its payload part replaced (compact JSON, as Tessera
    writes it): pk/sk payloads are not signed, so the id and secret still
    name the same stored token."""
    kind, _, secret = token.split(".")
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return "%s.%s.%s" % (kind, base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), secret)
