"""Self-signed TLS material for the HTTPS integration tests: a certificate for
127.0.0.1 / localhost generated with the openssl command line at test time, so
no key is ever committed."""
import os
import shutil
import subprocess
import unittest


def make_self_signed(directory, cn="127.0.0.1"):
    """Writes cert.pem and key.pem into directory; returns (cert, key)."""
    if not shutil.which("openssl"):
        raise unittest.SkipTest("openssl command not found")
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                    "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=120)
    os.chmod(key, 0o600)
    return cert, key
