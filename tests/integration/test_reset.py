"""Password reset by a one-time link (issue 14, item 5): a request mails a
link (by default to the outbox directory, or through a real SMTP server on
loopback) without telling whether the address has an account; the link sets
a new password once, before it expires, ends every session and spends the
account's other links; bad input gets a clear 4xx.
"""
import email
import email.policy
import glob
import mailbox
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from harness import Server, ServerTestCase, unique_email, within_one_window

RESET = "/api/v1/account/password/reset"
CONFIRM = RESET + "/confirm"
LINK = re.compile(r"(https?://\S+)/account/reset#token=([A-Za-z0-9_-]{43})")


def outbox(server):
    return sorted(glob.glob(os.path.join(server.data_dir, "outbox", "*.eml")))


class ResetTest(ServerTestCase):
    def request_link(self, address):
        before = set(outbox(self.server))
        r = self.server.post(RESET, {"email": address})
        self.assertEqual(r.status_code, 202, r.text)
        self.assertIn("on its way", r.json()["detail"])
        return [p for p in outbox(self.server) if p not in before]

    def link_for(self, address):
        new = self.request_link(address)
        self.assertEqual(len(new), 1, new)
        self.assertEqual(os.stat(new[0]).st_mode & 0o777, 0o600)
        with open(new[0], "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        self.assertEqual(msg["To"], address)
        self.assertEqual(msg["Subject"], "Reset your Tessera password")
        self.assertTrue(msg["Message-ID"] and msg["Date"] and msg["From"])
        m = LINK.search(msg.get_content())
        self.assertIsNotNone(m, msg.get_content())
        self.server.keep_credential(m.group(2))  # the secret must not reach the log
        return m.group(1), m.group(2)

    def test_link_sets_the_password_once(self):
        address, pair = self.server.new_account()
        base, secret = self.link_for(address)
        self.assertEqual(base, "http://127.0.0.1:%d" % self.server.port)
        # The page the link opens.
        page = self.server.get("/account/reset/")
        self.assertEqual(page.status_code, 200)
        self.assertIn("new_password", page.text)
        # A weak password is refused at its field, and the link still works.
        r = self.server.post(CONFIRM, {"token": secret, "new_password": "short"})
        self.assertJsonError(r, 422)
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "new_password"])
        r = self.server.post(CONFIRM, {"token": secret, "new_password": "a brand new secret"})
        self.assertEqual(r.status_code, 200, r.text)
        # Every session ended; the old password is gone, the new one works.
        self.assertEqual(self.server.get("/api/v1/account/me", token=pair["access"]).status_code,
                         401)
        r = self.server.post("/api/v1/token/pair", {"email": address,
                                                    "password": "correct horse battery"})
        self.assertEqual(r.status_code, 401)
        fresh = self.server.login(address, "a brand new secret")
        # Once only.
        r = self.server.post(CONFIRM, {"token": secret, "new_password": "another new secret"})
        self.assertJsonError(r, 400, code="invalid_reset_link")
        # Audited: the request and the change, by the link.
        events = self.server.get("/api/v1/account/audit", token=fresh["access"]).json()["events"]
        kinds = [(e["kind"], e["actor"]) for e in events]
        self.assertIn(("account.password", "reset link"), kinds)
        self.assertIn("password.reset.request", [k for k, _ in kinds])

    def test_using_a_link_spends_the_others(self):
        address, _ = self.server.new_account()
        _, first = self.link_for(address)
        _, second = self.link_for(address)
        r = self.server.post(CONFIRM, {"token": second, "new_password": "a brand new secret"})
        self.assertEqual(r.status_code, 200, r.text)
        r = self.server.post(CONFIRM, {"token": first, "new_password": "another new secret"})
        self.assertJsonError(r, 400, code="invalid_reset_link")

    def test_no_mail_says_who_has_an_account(self):
        # Unknown, disabled and service accounts get the same answer, and no mail.
        self.assertEqual(self.request_link(unique_email("nobody")), [])
        disabled, _ = self.server.new_account()
        self.server.cli("user", "disable", disabled)
        self.assertEqual(self.request_link(disabled), [])
        service = unique_email("svc")
        self.server.cli("user", "add", service, "--service")
        self.assertEqual(self.request_link(service), [])

    def test_bad_input(self):
        for body in ({}, {"email": 7}, {"email": "not an address"}):
            r = self.server.post(RESET, body)
            self.assertJsonError(r, 422)
            self.assertEqual(r.json()["detail"][0]["loc"], ["body", "email"])
        r = self.server.post(RESET, data="{", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status_code, 400, r.text)
        for body in ({}, {"token": 5, "new_password": "a brand new secret"},
                     {"token": "x", "new_password": ["a"]}):
            r = self.server.post(CONFIRM, body)
            self.assertIn(r.status_code, (400, 422), r.text)
            self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        for token in ("", "x" * 43, "y" * 500):
            r = self.server.post(CONFIRM, {"token": token, "new_password": "a brand new secret"})
            self.assertJsonError(r, 400, code="invalid_reset_link")


class ResetExpiryAndThrottleTest(ServerTestCase):
    settings = {"password-reset-ttl": 1, "login-rate-account": 3,
                "public-url": "https://tokens.example.com"}

    def test_expired_link_and_public_url(self):
        address, _ = self.server.new_account()
        r = self.server.post(RESET, {"email": address})
        self.assertEqual(r.status_code, 202, r.text)
        (path,) = outbox(self.server)
        with open(path) as f:
            m = LINK.search(f.read())
        self.server.keep_credential(m.group(2))
        self.assertEqual(m.group(1), "https://tokens.example.com")
        time.sleep(1.5)
        r = self.server.post(CONFIRM, {"token": m.group(2), "new_password": "a brand new secret"})
        self.assertJsonError(r, 400, code="invalid_reset_link")

    def test_requests_are_throttled_per_address(self):
        within_one_window(60)  # the default rate_window: the burst must not straddle a reset
        target = unique_email("flood")
        codes = [self.server.post(RESET, {"email": target}).status_code for _ in range(5)]
        self.assertEqual(codes[:3], [202] * 3)
        self.assertEqual(codes[3], 429)
        r = self.server.post(RESET, {"email": target})
        self.assertEqual(r.status_code, 429)
        self.assertTrue(r.headers.get("Retry-After"))


def python_with(module):
    for exe in (sys.executable, "/usr/bin/python3"):
        if exe and subprocess.run([exe, "-c", "import " + module],
                                  capture_output=True).returncode == 0:
            return exe
    return None


class SmtpTest(unittest.TestCase):
    """mail_transport = smtp://: a real SMTP server (Debian's aiosmtpd) on
    loopback receives the message."""

    def test_link_through_smtp(self):
        exe = python_with("aiosmtpd")
        if not exe:
            self.fail("aiosmtpd is not installed (Debian: python3-aiosmtpd; scripts/deps.sh)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        tmp = tempfile.mkdtemp(prefix="tessera-smtp-")
        maildir = os.path.join(tmp, "Maildir")
        smtpd = subprocess.Popen([exe, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:%d" % port,
                                  "-c", "aiosmtpd.handlers.Mailbox", maildir],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = Server(settings={"mail-transport": "smtp://127.0.0.1:%d" % port,
                                  "mail-from": "Tessera Ops <ops@example.com>"})
        try:
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            server.start()
            address, _ = server.new_account()
            r = server.post(RESET, {"email": address})
            self.assertEqual(r.status_code, 202, r.text)
            self.assertFalse(os.path.exists(os.path.join(server.data_dir, "outbox")))
            box = mailbox.Maildir(maildir, create=False)
            messages = list(box)
            self.assertEqual(len(messages), 1)
            msg = email.message_from_bytes(bytes(messages[0]), policy=email.policy.default)
            self.assertEqual(msg["To"], address)
            self.assertEqual(msg["From"], "Tessera Ops <ops@example.com>")
            m = LINK.search(msg.get_content())
            self.assertIsNotNone(m)
            server.keep_credential(m.group(2))
            r = server.post(CONFIRM, {"token": m.group(2), "new_password": "a brand new secret"})
            self.assertEqual(r.status_code, 200, r.text)
            server.login(address, "a brand new secret")
        finally:
            server.close()
            smtpd.terminate()
            smtpd.wait(timeout=10)
            shutil.rmtree(tmp, ignore_errors=True)

    def test_smtp_down_is_a_503(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # nothing listens there
        server = Server(settings={"mail-transport": "smtp://127.0.0.1:%d" % port})
        try:
            server.start()
            address, _ = server.new_account()
            r = server.post(RESET, {"email": address})
            self.assertEqual(r.status_code, 503, r.text)
            self.assertEqual(r.json()["code"], "unavailable")
        finally:
            server.close()


if __name__ == "__main__":
    unittest.main()
