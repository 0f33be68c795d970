"""A real nginx in front of a static upstream, guarded by tessera's forward-auth
(GET /api/v1/auth/check via nginx `auth_request`). Proves allowed, denied,
insufficient-scope and revoked-on-the-next-request behaviour end to end.

nginx runs as the current user with its own temporary prefix, config, pid
file and logs on a free loopback port, and is stopped by its pid. The
upstream is a tiny Python HTTP server that answers a fixed body and reports
the identity headers nginx forwarded to it."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from harness import Server

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
     if os.access(p, os.X_OK)), None)
RULES = "/=stac /public=- /admin=tokens:introspect"
UPSTREAM_BODY = "hello from the upstream"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream(BaseHTTPRequestHandler):
    """Fixed body plus the identity headers it received, as JSON."""

    def do_GET(self):
        body = json.dumps({
            "body": UPSTREAM_BODY,
            "path": self.path,
            "x_auth_user": self.headers.get("X-Auth-User"),
            "x_auth_scopes": self.headers.get("X-Auth-Scopes"),
            "x_auth_groups": self.headers.get("X-Auth-Groups"),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # keep test output quiet
        pass


NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    server {{
        listen 127.0.0.1:{port};

        location / {{
            auth_request /_auth;
            # Identity from tessera's answer, passed upstream and to the client.
            auth_request_set $auth_user $upstream_http_x_auth_user;
            auth_request_set $auth_scopes $upstream_http_x_auth_scopes;
            auth_request_set $auth_groups $upstream_http_x_auth_groups;
            proxy_set_header X-Auth-User $auth_user;
            proxy_set_header X-Auth-Scopes $auth_scopes;
            proxy_set_header X-Auth-Groups $auth_groups;
            add_header X-Auth-User $auth_user always;
            proxy_pass http://127.0.0.1:{upstream};
        }}

        location = /_auth {{
            internal;
            proxy_pass http://127.0.0.1:{tessera}/api/v1/auth/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
        }}
    }}
}}
"""


@unittest.skipIf(NGINX is None, "nginx binary not found (install Debian's nginx-light; "
                                "scripts/deps.sh does)")
class NginxForwardAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tessera = Server(settings={"auth-rules": RULES})
        cls.tessera.start()
        cls.upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
        cls.upstream_thread = threading.Thread(target=cls.upstream.serve_forever, daemon=True)
        cls.upstream_thread.start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="tessera-nginx-")
        cls.nginx = None
        try:
            cls.start_nginx()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def start_nginx(cls):
        tmp = cls.tmp.name
        cls.port = free_port()
        # As root, nginx would switch its workers to "nobody"; keep them as
        # the current user so they can use the temporary prefix.
        user = ""
        if os.geteuid() == 0:
            user = "user %s;" % pwd.getpwuid(os.geteuid()).pw_name
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(user=user, tmp=tmp, port=cls.port,
                                      upstream=cls.upstream.server_address[1],
                                      tessera=cls.tessera.port))
        cls.nginx_log = open(os.path.join(tmp, "stderr.log"), "ab")
        cls.nginx = subprocess.Popen([NGINX, "-p", tmp, "-c", conf, "-e", tmp + "/error.log"],
                                     stdout=cls.nginx_log, stderr=cls.nginx_log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            if cls.nginx.poll() is not None:
                raise AssertionError("nginx exited early:\n" + cls.nginx_logs())
            try:
                with socket.create_connection(("127.0.0.1", cls.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not start:\n" + cls.nginx_logs())

    @classmethod
    def nginx_logs(cls):
        out = []
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(cls.tmp.name, name), errors="replace") as f:
                    out.append(f.read()[-4000:])
            except FileNotFoundError:
                pass
        return "\n".join(out)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.nginx and cls.nginx.poll() is None:
                cls.nginx.send_signal(signal.SIGTERM)  # by pid: fast shutdown
                try:
                    cls.nginx.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    cls.nginx.kill()
                    cls.nginx.wait()
            if getattr(cls, "nginx_log", None):
                cls.nginx_log.close()
            cls.upstream.shutdown()
            cls.upstream.server_close()
        finally:
            try:
                cls.tessera.close()
            finally:
                cls.tmp.cleanup()

    # -- helpers ---------------------------------------------------------------
    def via_nginx(self, path, token=None):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return requests.get("http://127.0.0.1:%d%s" % (self.port, path), headers=headers,
                            timeout=30)

    def account(self):
        email, pair = self.tessera.new_account()
        me = self.tessera.get("/api/v1/account/me", token=pair["access"]).json()
        sk = self.tessera.create_stac_token(pair["access"])
        return me["username"], pair, sk

    def assert_upstream(self, r, username):
        self.assertEqual(r.status_code, 200, r.text)
        body = r.json()
        self.assertEqual(body["body"], UPSTREAM_BODY)
        self.assertEqual(body["x_auth_user"], username)
        self.assertEqual(r.headers.get("X-Auth-User"), username)
        return body

    # -- tests -----------------------------------------------------------------
    def test_allowed_with_bearer(self):
        username, _, sk = self.account()
        body = self.assert_upstream(self.via_nginx("/maps/tile.png", sk["token_value"]), username)
        self.assertEqual(set(body["x_auth_scopes"].split()), {"stac", "catalog:read"})
        self.assertEqual(body["x_auth_groups"], "Public")
        self.assertEqual(body["path"], "/maps/tile.png")

    def test_allowed_with_access_token_in_url(self):
        username, _, sk = self.account()
        self.assert_upstream(self.via_nginx("/maps?access_token=" + sk["token_value"]), username)

    def test_public_path_without_token(self):
        r = self.via_nginx("/public/readme.txt")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["body"], UPSTREAM_BODY)
        self.assertFalse(r.json()["x_auth_user"])

    def test_denied_without_token(self):
        r = self.via_nginx("/maps/tile.png")
        self.assertEqual(r.status_code, 401, r.text)
        self.assertNotIn(UPSTREAM_BODY, r.text)
        self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))

    def test_denied_with_garbage_token(self):
        r = self.via_nginx("/maps", "sk.garbage.token")
        self.assertEqual(r.status_code, 401, r.text)

    def test_dot_segments_do_not_reach_protected_paths(self):
        # nginx routes the normalized path while $request_uri stays raw;
        # tessera normalizes too, so /public/../maps is judged as /maps.
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            s.sendall(b"GET /public/../maps HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 401"), data[:200])

    def test_insufficient_scope_403(self):
        _, _, sk = self.account()
        r = self.via_nginx("/admin/users", sk["token_value"])
        self.assertEqual(r.status_code, 403, r.text)
        self.assertNotIn(UPSTREAM_BODY, r.text)

    def test_revoked_denied_on_next_request(self):
        username, pair, sk = self.account()
        tok = sk["token_value"]
        self.assert_upstream(self.via_nginx("/maps", tok), username)
        r = self.tessera.post("/api/v1/oauth/revoke", token=pair["access"], data={"token": tok})
        self.assertEqual(r.status_code, 200, r.text)
        r = self.via_nginx("/maps", tok)
        self.assertEqual(r.status_code, 401, r.text)
        self.assertNotIn(UPSTREAM_BODY, r.text)

    def test_deleted_token_denied_on_next_request(self):
        username, pair, sk = self.account()
        tok = sk["token_value"]
        self.assert_upstream(self.via_nginx("/maps", tok), username)
        r = self.tessera.request("DELETE", "/api/v1/account/tokens/" + sk["id"],
                                 token=pair["access"])
        self.assertEqual(r.status_code, 204, r.text)
        self.assertEqual(self.via_nginx("/maps", tok).status_code, 401)


if __name__ == "__main__":
    unittest.main()
