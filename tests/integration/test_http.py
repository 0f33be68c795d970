"""HTTP conventions (SPEC §3, §4.4) and server life cycle: 404/405 in both
error dialects, X-Request-Id, ops endpoints, the access log (never a
credential), graceful SIGTERM, durability across kill -9, HEAD, trailing
slashes."""
import re
import signal
import socket
import time
import shutil
import subprocess
import unittest

import requests

from harness import Server, ServerTestCase, unique_email


class HttpTest(ServerTestCase):
    def test_unknown_route_ninja_dialect(self):
        for path in ("/api/v1/nope", "/api/v1/account/nope/deeper", "/favicon.ico.x",
                     "/tokens/v20", "/scopes/v1x/a"):
            with self.subTest(path=path):
                r = self.server.get(path)
                self.assertEqual(r.status_code, 404, r.text)
                self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
                body = r.json()
                self.assertEqual(body["detail"], "Not Found")
                self.assertNotIn("message", body)

    def test_unknown_route_mapbox_dialect(self):
        for path in ("/tokens/v2/someone/x/y/z", "/scopes/v1/a/b/c", "/tokens/v2/a/b/c/d/e"):
            with self.subTest(path=path):
                r = self.server.get(path)
                self.assertEqual(r.status_code, 404, r.text)
                self.assertEqual(r.json(), {"message": "Not Found"})

    def test_wrong_method(self):
        for method, path in (("GET", "/api/v1/token/pair"), ("DELETE", "/api/v1/account/register"),
                             ("PUT", "/api/v1/account/me"), ("POST", "/healthz"),
                             ("PATCH", "/api/v1/account/tokens")):
            with self.subTest(method=method, path=path):
                r = self.server.request(method, path)
                self.assertEqual(r.status_code, 405, r.text)
                self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
                self.assertIsInstance(r.json()["detail"], str)
                self.assertIn("Allow", r.headers)

    def test_request_id_on_every_response(self):
        seen = set()
        _, pair = self.server.new_account()
        for method, path, kw in (("GET", "/healthz", {}), ("GET", "/nope", {}),
                                 ("POST", "/api/v1/token/pair", {"data": "{"}),
                                 ("GET", "/api/v1/account/me", {}),
                                 ("GET", "/api/v1/account/me", {"token": pair["access"]}),
                                 ("DELETE", "/api/v1/account/tokens/x", {"token": pair["access"]}),
                                 ("POST", "/api/v1/account/register",
                                  {"data": "x" * (70 * 1024)})):
            with self.subTest(method=method, path=path):
                r = self.server.request(method, path, **kw)
                rid = r.headers.get("X-Request-Id")
                self.assertTrue(rid, (r.status_code, r.headers))
                self.assertRegex(rid, r"^[A-Za-z0-9._-]{1,64}$")
                self.assertNotIn(rid, seen)
                seen.add(rid)

    def test_caller_request_id_echoed_when_safe(self):
        r = self.server.get("/healthz", headers={"X-Request-Id": "trace-abc.123_X"})
        self.assertEqual(r.headers["X-Request-Id"], "trace-abc.123_X")
        for bad in ("has space", "x" * 65, "semi;colon", "quote\"d"):
            with self.subTest(bad=bad):
                r = self.server.get("/healthz", headers={"X-Request-Id": bad})
                self.assertEqual(r.status_code, 200)
                self.assertNotEqual(r.headers["X-Request-Id"], bad)
                self.assertRegex(r.headers["X-Request-Id"], r"^[A-Za-z0-9._-]{1,64}$")

    def test_ops_endpoints(self):
        r = self.server.get("/healthz")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"status": "ok"})
        r = self.server.get("/readyz")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"status": "ready"})
        # Produce a verification or two and some tokens, then read the metrics.
        self.server.get("/api/v1/account/me", token="garbage")
        _, pair = self.server.new_account()  # brings its default pk
        self.server.create_stac_token(pair["access"])  # an sk
        r = self.server.get("/metrics")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
        self.assertIn("tessera_http_requests_total", r.text)
        self.assertIn("tessera_verifications_total", r.text)
        self.assertIn("tessera_http_request_duration_seconds", r.text)
        self.assertRegex(r.text, r'tessera_tokens\{kind="pk"\} [1-9]')
        self.assertRegex(r.text, r'tessera_tokens\{kind="sk"\} [1-9]')
        self.assertRegex(r.text, r'tessera_accounts [1-9]')
        self.assertRegex(r.text, r'tessera_http_requests_total\{[^}]*route="/healthz"[^}]*'
                                 r'status="200"[^}]*\} [1-9]')

    def metric(self, text, name):
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        self.fail("metric %s missing" % name)

    def test_metrics_cover_every_outcome(self):
        before = self.server.get("/metrics").text
        missing = self.metric(before, 'tessera_verifications_total{outcome="TokenMissing"}')
        r = self.server.get("/api/v1/account/me")  # no credential: 401
        self.assertEqual(r.status_code, 401)
        r = self.server.post("/api/v1/account/register", data=b"x" * (70 * 1024),
                             headers={"Content-Type": "application/json"})
        self.assertEqual(r.status_code, 413)
        text = self.server.get("/metrics").text
        self.assertEqual(self.metric(text, 'tessera_verifications_total{outcome="TokenMissing"}'),
                         missing + 1)
        # A 413 is counted under the route it was sent to, not "(unmatched)".
        self.assertRegex(text, r'tessera_http_requests_total\{method="POST",'
                               r'route="/api/v1/account/register",status="413"\} [1-9]')
        # The latency histogram reaches 10 s; the process and build metrics.
        self.assertIn('le="10"}', text)
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_virtual_memory_bytes", "process_start_time_seconds",
                     "process_open_fds", "process_max_fds", "tessera_worker_queue_depth",
                     "tessera_worker_rejected_total"):
            self.assertGreaterEqual(self.metric(text, name), 0, name)
        self.assertGreater(self.metric(text, "process_resident_memory_bytes"), 1e6)
        self.assertGreater(self.metric(text, "process_open_fds"), 2)
        self.assertRegex(text, r'tessera_build_info\{version="\d+\.\d+\.\d+"\} 1')
        self.assertIn('tessera_throttled_total{reason="login_account"}', text)
        start = self.metric(text, "process_start_time_seconds")
        self.assertLess(abs(start - time.time()), 3600)

    @unittest.skipIf(shutil.which("promtool") is None,
                     "promtool not installed (scripts/deps.sh test installs prometheus)")
    def test_metrics_pass_promtool(self):
        text = self.server.get("/metrics").text
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_head_and_trailing_slash(self):
        r = self.server.request("HEAD", "/healthz")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.content, b"")
        self.assertIn("X-Request-Id", r.headers)
        r = self.server.get("/healthz/")
        self.assertEqual(r.status_code, 200, r.text)
        _, pair = self.server.new_account()
        a = self.server.get("/api/v1/account/me", token=pair["access"])
        b = self.server.get("/api/v1/account/me/", token=pair["access"])
        self.assertEqual(b.status_code, 200, b.text)
        self.assertEqual(a.json(), b.json())
        r = self.server.request("HEAD", "/api/v1/account/me", token=pair["access"])
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.content, b"")
        r = self.server.post("/api/v1/token/pair/", {"email": "x@example.com",
                                                     "password": "some password"})
        self.assertEqual(r.status_code, 401, r.text)

    def test_json_content_type_on_errors_and_success(self):
        r = self.server.post("/api/v1/token/verify", {"token": "x"})
        self.assertEqual(r.headers["Content-Type"], "application/json")

    def test_malformed_http_does_not_hurt(self):
        # Raw garbage and a truncated request, then the server still answers.
        for payload in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
                        b"POST /api/v1/token/pair HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 99999999\r\n\r\n{"):
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                try:
                    s.recv(4096)
                except socket.timeout:
                    pass
            finally:
                s.close()
        self.assertEqual(self.server.get("/healthz").status_code, 200)

    def test_content_length_over_limit_refused_early(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            s.sendall(b"POST /api/v1/account/register HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n")
            s.sendall(b"x" * 70000)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        finally:
            s.close()


class AccessLogTest(unittest.TestCase):
    def test_log_has_request_id_and_no_credentials(self):
        srv = Server()
        srv.start()
        try:
            email, pair = srv.new_account()
            sk = srv.create_stac_token(pair["access"])["token_value"]
            ids = []
            for cred in (pair["access"], sk, "not-a-token-secret-value"):
                r = srv.get("/api/v1/account/me", params={"access_token": cred, "x": "1"})
                ids.append(r.headers["X-Request-Id"])
                r = srv.get("/api/v1/stac/collections", params={"access_token": cred})
                ids.append(r.headers["X-Request-Id"])
            r = srv.get("/healthz", headers={"X-Request-Id": "my-trace-42"})
            ids.append("my-trace-42")
            srv.post("/api/v1/token/refresh", {"refresh": pair["refresh"]})
            time.sleep(0.3)
            log = srv.read_log()
        finally:
            srv.stop()
        log = srv.read_log()
        srv.close()
        access_lines = [l for l in log.splitlines() if " access " in l]
        self.assertTrue(access_lines, log)
        for rid in ids:
            self.assertTrue(any("id=%s " % rid in l for l in access_lines), (rid, log[-3000:]))
        for secret in (pair["access"], pair["refresh"], sk, sk.split(".")[2],
                       pair["access"].split(".")[2], "not-a-token-secret-value",
                       "correct horse battery"):
            self.assertNotIn(secret, log)
        self.assertNotIn("access_token", log)
        # The access line has method, path and status.
        self.assertTrue(any(re.search(r"GET /api/v1/account/me 200 ", l) for l in access_lines),
                        access_lines)


class LifecycleTest(unittest.TestCase):
    def test_sigterm_clean_exit(self):
        srv = Server()
        srv.start()
        try:
            self.assertEqual(srv.get("/healthz").status_code, 200)
            pid = srv.proc.pid
            srv.stop()  # asserts exit 0 and no sanitizer report
            log = srv.read_log()
            self.assertIn("SIGTERM", log)
            with self.assertRaises(ProcessLookupError):
                import os
                os.kill(pid, 0)
        finally:
            srv.close()

    def test_sigterm_during_slow_requests(self):
        """Requests on the worker pool when SIGTERM arrives still get answers
        or a closed connection, and the server exits cleanly."""
        import threading
        srv = Server()
        srv.start()
        results = []

        def reg():
            try:
                results.append(srv.register().status_code)
            except Exception as e:  # connection closed by shutdown is fine
                results.append(type(e).__name__)

        try:
            threads = [threading.Thread(target=reg) for _ in range(6)]
            for t in threads:
                t.start()
            time.sleep(0.05)
            srv.stop()
            for t in threads:
                t.join(30)
            self.assertEqual(len(results), 6)
        finally:
            srv.close()

    def test_sigterm_refuses_new_connections_while_draining(self):
        """After SIGTERM the listen socket refuses new connections at once,
        while registrations already queued on the one worker still finish."""
        import threading
        srv = Server(extra_args=["--workers", "1", "--threads", "4"])
        srv.start()
        results = []

        def reg():
            try:
                results.append(srv.register().status_code)
            except requests.ConnectionError:  # sent after the listen socket closed
                results.append("refused")

        try:
            threads = [threading.Thread(target=reg) for _ in range(12)]
            for t in threads:
                t.start()
            # One registration done means the others are queued behind it
            # (one Argon2id hash each on the one worker).
            deadline = time.time() + 30
            while " 201 " not in srv.read_log() and time.time() < deadline:
                time.sleep(0.005)
            proc = srv.proc
            proc.send_signal(signal.SIGTERM)
            refused_while_running = False
            while time.time() < deadline and proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
                except (ConnectionRefusedError, ConnectionResetError):
                    # Reset: the connection sat in the backlog when the
                    # listen socket was shut down; refused all the same.
                    refused_while_running = proc.poll() is None
                    break
                time.sleep(0.002)
            self.assertTrue(refused_while_running, "no refusal seen while the queue drained")
            for t in threads:
                t.join(30)
            srv.stop()  # the signal was sent already; asserts a clean exit
            self.assertEqual(len(results), 12)
            self.assertTrue(set(results) <= {201, "refused"}, results)
            log = srv.read_log()
            after = log[log.index("received SIGTERM"):]
            self.assertGreaterEqual(after.count(" 201 "), 1, "nothing finished while draining")
            self.assertNotIn("accepting", log)
        finally:
            srv.close()

    def test_acknowledged_write_survives_kill_9(self):
        srv = Server()
        srv.start()
        try:
            email = unique_email("durable")
            r = srv.register(email, "durable password")
            self.assertEqual(r.status_code, 201, r.text)
            pair = srv.login(email, "durable password")
            tok = srv.create_stac_token(pair["access"])
            srv.kill()
            srv.start()
            pair2 = srv.login(email, "durable password")
            me = srv.get("/api/v1/account/me", token=pair2["access"])
            self.assertEqual(me.status_code, 200, me.text)
            self.assertEqual(me.json()["email"], email)
            # The session and the token issued before the crash still work
            # (the signing keys persist in the data directory).
            self.assertEqual(srv.get("/api/v1/account/me", token=pair["access"]).status_code, 200)
            self.assertEqual(srv.get("/api/v1/stac/collections",
                                     token=tok["token_value"]).status_code, 200)
            ids = [t["id"] for t in srv.get("/api/v1/account/tokens",
                                            token=pair2["access"]).json()]
            self.assertIn(tok["id"], ids)
        finally:
            srv.close()


class OverloadTest(unittest.TestCase):
    def test_full_worker_queue_answers_503(self):
        """With one worker and a queue of one, a burst of registrations gets
        fast 503s with Retry-After instead of piling up; the server keeps
        working and still stops cleanly."""
        import threading
        srv = Server(extra_args=["--workers", "1", "--worker-queue", "1"])
        srv.start()
        results = []
        lock = threading.Lock()

        def reg():
            r = srv.register()
            with lock:
                results.append(r)

        try:
            threads = [threading.Thread(target=reg) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            codes = sorted(r.status_code for r in results)
            self.assertEqual(len(codes), 16)
            self.assertTrue(set(codes) <= {201, 503}, codes)
            self.assertIn(201, codes)
            self.assertIn(503, codes)
            for r in results:
                self.assertIn("X-Request-Id", r.headers)
                if r.status_code == 503:
                    self.assertEqual(r.headers["Retry-After"], "1")
                    self.assertEqual(r.json()["code"], "server_busy")
            self.assertEqual(srv.get("/healthz").status_code, 200)
            self.assertEqual(srv.register().status_code, 201)
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main()
