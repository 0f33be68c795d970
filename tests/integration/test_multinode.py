"""Three nodes on one PostgreSQL behind nginx: a credential minted on one node
works on the others at once, and a revocation through any node holds on every
node from the very next request, whatever breaks in between.

Revocations covered: sk and pk deletion, a tk whose parent is deleted, a
password change and account deactivation (CLI on PostgreSQL), logout (the
refresh family), scope removal. Faults: the listener of a node terminated by
pg_terminate_backend, every connection of a node terminated, a PostgreSQL
restart, a node stopped (SIGSTOP) while others revoke, kill -9 of a node in
the middle of writes. Concurrent writes through all nodes lose nothing.
"""
import concurrent.futures
import json
import os
import signal
import threading
import time
import unittest

import requests

from harness import SAMPLE_CATALOG, Server, unique_email
from multinode import LEASE_MS, NGINX, Nodes
from leakutil import KEY_ID as LEAK_KEY_ID, KEYS as LEAK_KEYS, payload_of, \
    sign as leak_sign

PASSWORD = "correct horse battery"


class MultiNodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Nodes(settings={"login-rate-account": 0, "login-rate-addr": 0,
                                      "token-api-rate": 0, "last-used-interval": 1,
                                      "leak-report-keys": LEAK_KEYS}).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    # -- helpers ---------------------------------------------------------
    def node(self, name):
        return self.cluster[name]

    def account(self, on="A"):
        """Registers and signs in through one node: (email, username, pair)."""
        n = self.node(on)
        email = unique_email("multi")
        r = n.register(email, PASSWORD)
        self.assertEqual(r.status_code, 201, r.text)
        pair = n.login(email, PASSWORD)
        user = n.get("/api/v1/account/me", token=pair["access"]).json()["username"]
        return email, user, pair

    def mint(self, user, auth, scopes, on="A", **extra):
        body = {"scopes": scopes, "note": "multi-node"}
        body.update(extra)
        r = self.node(on).post("/tokens/v2/" + user, body, token=auth)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def code(self, token, on):
        r = self.node(on).get("/tokens/v2", token=token)
        if r.status_code != 200:
            return r.status_code
        return r.json()["code"]

    def assertEverywhere(self, token, code, nodes="ABC"):
        for name in nodes:
            self.assertEqual(self.code(token, name), code, "on node " + name)

    def delete(self, user, token_id, auth, on):
        r = self.node(on).request("DELETE", "/tokens/v2/%s/%s" % (user, token_id), token=auth)
        self.assertEqual(r.status_code, 204, r.text)

    # -- mint here, use there; revoke there, refused everywhere -------------
    def test_sk_minted_on_a_works_on_b_and_c_and_dies_everywhere(self):
        _, user, pair = self.account("A")
        sk = self.mint(user, pair["access"], ["stac", "tokens:read"], on="A")
        self.assertEverywhere(sk["token"], "TokenValid")
        for name in "BC":
            r = self.node(name).get("/api/v1/stac/search", token=sk["token"])
            self.assertEqual(r.status_code, 200, r.text)
        self.delete(user, sk["id"], pair["access"], on="B")
        # The very next request, on each node, with no pause in between.
        self.assertEverywhere(sk["token"], "TokenRevoked", "AC")
        for name in "AC":
            r = self.node(name).get("/api/v1/stac/search", token=sk["token"])
            self.assertEqual(r.status_code, 401, r.text)

    def test_pk_revoked_on_b_refused_on_a_and_c(self):
        _, user, pair = self.account("A")
        pk = self.mint(user, pair["access"], ["styles:read", "fonts:read"], on="A")
        self.assertEqual(pk["usage"], "pk")
        self.assertEverywhere(pk["token"], "TokenValid")
        self.delete(user, pk["id"], pair["access"], on="B")
        self.assertEverywhere(pk["token"], "TokenRevoked", "AC")

    def test_one_marker_and_self_or_leak_revocation_holds_on_every_node(self):
        _, user, pair = self.account("A")
        a = self.mint(user, pair["access"], ["stac"], on="A")["token"]
        b = self.mint(user, pair["access"], ["stac"], on="B")["token"]
        # One instance marker for the database, whichever node minted.
        marker = payload_of(a)["i"]
        self.assertEqual(payload_of(b)["i"], marker)
        self.assertIn("instance %s\n" % marker, self.node("C").cli("instance").stdout)
        # A token revoking itself through B is refused by A and C next.
        r = self.node("B").request("DELETE", "/api/v1/token/self", token=a)
        self.assertEqual(r.status_code, 204, r.text)
        self.assertEverywhere(a, "TokenRevoked", "ACB")
        # A leak reported to C is refused by A and B next.
        body = json.dumps([{"token": b, "type": "tessera_sk", "url": "https://example.com/x",
                            "source": "content"}]).encode()
        r = self.node("C").request("POST", "/api/v1/token/report-leak", data=body, headers={
            "Content-Type": "application/json", "Github-Public-Key-Identifier": LEAK_KEY_ID,
            "Github-Public-Key-Signature": leak_sign(body)})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()[0]["status"], "revoked")
        self.assertEverywhere(b, "TokenRevoked", "ABC")

    def test_tk_dies_with_its_parent_on_every_node(self):
        _, user, pair = self.account("A")
        parent = self.mint(user, pair["access"], ["stac", "tokens:write"], on="A")
        expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 600))
        r = self.node("C").post("/tokens/v2/" + user, {"scopes": ["stac"], "expires": expires},
                                token=parent["token"])
        self.assertEqual(r.status_code, 200, r.text)
        tk = r.json()["token"]
        self.assertEverywhere(tk, "TokenValid")
        self.delete(user, parent["id"], pair["access"], on="B")
        self.assertEverywhere(tk, "TokenRevoked", "AC")

    def test_tk_revoked_alone_on_every_node(self):
        """A tk revoking itself through one node (by its MAC's id) is refused
        by every node next, while its parent and its sibling live on."""
        _, user, pair = self.account("A")
        parent = self.mint(user, pair["access"], ["stac", "tokens:write"], on="A")

        def temp(seconds):
            expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + seconds))
            r = self.node("C").post("/tokens/v2/" + user, {"scopes": ["stac"],
                                    "expires": expires}, token=parent["token"])
            self.assertEqual(r.status_code, 200, r.text)
            return r.json()["token"]
        tk, sibling = temp(600), temp(900)
        r = self.node("B").request("DELETE", "/api/v1/token/self", token=tk)
        self.assertEqual(r.status_code, 204, r.text)
        self.assertEverywhere(tk, "TokenRevoked", "ACB")
        self.assertEverywhere(sibling, "TokenValid")
        self.assertEverywhere(parent["token"], "TokenValid")

    def test_rotation_without_grace_holds_on_every_node(self):
        _, user, pair = self.account("A")
        old = self.mint(user, pair["access"], ["stac", "tokens:read"], on="A")
        r = self.node("B").post("/api/v1/account/tokens/%s/rotate" % old["id"],
                                {"grace_seconds": 0}, token=pair["access"])
        self.assertEqual(r.status_code, 200, r.text)
        new = r.json()["token_value"]
        self.node("B").keep_credential(new)
        self.assertEverywhere(old["token"], "TokenRevoked", "AC")
        self.assertEverywhere(new, "TokenValid")

    def test_password_change_ends_sessions_on_every_node(self):
        email, user, pair = self.account("A")
        for name in "ABC":
            r = self.node(name).get("/api/v1/account/me", token=pair["access"])
            self.assertEqual(r.status_code, 200, r.text)
        # The CLI writes PostgreSQL directly and returns once every node has
        # applied the change.
        self.node("B").cli("user", "set", email, "--password-stdin",
                           input="a brand new passphrase\n")
        for name in "ABC":
            r = self.node(name).get("/api/v1/account/me", token=pair["access"])
            self.assertEqual(r.status_code, 401, "node %s: %s" % (name, r.text))
        r = self.node("C").post("/api/v1/token/refresh", {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 401, r.text)

    def test_logout_ends_the_refresh_family_on_every_node(self):
        _, _, pair = self.account("A")
        r = self.node("B").post("/api/v1/token/blacklist", {"refresh": pair["refresh"]})
        self.assertEqual(r.status_code, 200, r.text)
        for name in "AC":
            r = self.node(name).post("/api/v1/token/refresh", {"refresh": pair["refresh"]})
            self.assertEqual(r.status_code, 401, "node %s: %s" % (name, r.text))

    def test_account_disable_and_scope_removal_hold_on_every_node(self):
        email, user, pair = self.account("A")
        sk = self.mint(user, pair["access"], ["stac", "catalog:read", "tokens:read"], on="A")
        other_email, other_user, other_pair = self.account("C")
        other = self.mint(other_user, other_pair["access"], ["stac", "tokens:read"], on="C")
        # Scope removal: the account keeps tokens:read but loses stac.
        self.node("B").cli("user", "set", email, "--scopes",
                           "tokens:read,tokens:write,scopes:list,catalog:read")
        for name in "ABC":
            r = self.node(name).get("/api/v1/stac/search", token=sk["token"])
            self.assertEqual(r.status_code, 403, "node %s: %s" % (name, r.text))
        # Deactivation: every token and session of the account, everywhere.
        self.node("B").cli("user", "disable", other_email)
        self.assertEverywhere(other["token"], "TokenRevoked")
        for name in "ABC":
            r = self.node(name).get("/api/v1/account/me", token=other_pair["access"])
            self.assertEqual(r.status_code, 401, r.text)

    def test_last_use_on_one_node_is_listed_by_another(self):
        _, user, pair = self.account("A")
        sk = self.mint(user, pair["access"], ["stac", "tokens:read"], on="A")
        self.assertEqual(self.code(sk["token"], "B"), "TokenValid")
        deadline = time.time() + 5
        seen = None
        while time.time() < deadline and not seen:  # B writes within its interval (1 s)
            r = self.node("C").get("/tokens/v2/" + user, token=pair["access"])
            seen = next(t for t in r.json() if t["id"] == sk["id"])["last_used"]
            time.sleep(0.2)
        self.assertIsNotNone(seen, "node C never saw the use made on node B")

    @unittest.skipIf(NGINX is None, "nginx not installed (scripts/deps.sh installs it)")
    def test_round_robin_through_nginx(self):
        nginx = self.cluster.nginx
        _, user, pair = self.account("A")
        sk = self.mint(user, pair["access"], ["stac", "tokens:read"], on="B")
        session = requests.Session()
        seen = set()
        for _ in range(12):  # every node answers several of these
            r = session.get(nginx.url("/tokens/v2"), headers={"Authorization": "Bearer " +
                                                              sk["token"]}, timeout=10)
            self.assertEqual(r.status_code, 200, "%s %s" % (r.text, nginx.error_log()))
            self.assertEqual(r.json()["code"], "TokenValid")
            seen.add(r.headers.get("X-Request-Id", "")[:8])
        self.assertGreaterEqual(len(seen), 3, "nginx did not spread requests over the nodes")
        r = session.delete(nginx.url("/tokens/v2/%s/%s" % (user, sk["id"])),
                           headers={"Authorization": "Bearer " + pair["access"]}, timeout=10)
        self.assertEqual(r.status_code, 204, r.text)
        for _ in range(30):
            r = session.get(nginx.url("/tokens/v2"), headers={"Authorization": "Bearer " +
                                                              sk["token"]}, timeout=10)
            self.assertEqual(r.json()["code"], "TokenRevoked")

    # -- the catalog, schema and keys on PostgreSQL ----------------------------
    def test_catalog_import_through_the_cli_is_seen_by_every_node(self):
        search = "/api/v1/stac/search?limit=100"
        before = {n: self.node(n).get(search).json()["numberMatched"] for n in "ABC"}
        # Node C has that page in its cache now; an import by another
        # process must still show on C's very next request.
        self.node("A").cli("stac", "import", os.path.join(SAMPLE_CATALOG, "public"),
                           "--visibility", "Public")
        for name in "ABC":
            r = self.node(name).get(search)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertGreater(r.json()["numberMatched"], before[name], "node " + name)
        ids = {c["id"] for c in self.node("B").get("/api/v1/stac/collections").json()
               ["collections"]}
        self.assertTrue(ids, "no collection visible after the import")

    def test_node_refuses_a_schema_newer_than_it_knows(self):
        url = self.cluster.pg.createdb("newer_schema")
        node = Server(database_url=url)
        try:
            node.cli("migrate")
            self.cluster.pg.psql("INSERT INTO schema_migrations (track, version, applied_at)"
                                 " VALUES ('store', 9999, 0)", "newer_schema")
            with self.assertRaises(AssertionError):
                node.start()
            self.assertIn("newer than this binary", node.read_log())
            self.assertNotEqual(node.cli("migrate", check=False).returncode, 0)
        finally:
            node.close()

    def test_key_files_must_match_across_nodes(self):
        url = self.cluster.pg.createdb("key_files")
        nodes = []
        try:
            keys = []
            for i in range(2):
                path = os.path.join(self.cluster.nodes[0].tmp.name, "jwt%d.key" % i)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                    f.write(os.urandom(32))
                keys.append(path)
            first = Server(settings={"jwt-key-file": keys[0]}, database_url=url)
            nodes.append(first)
            # The CLI signs and hashes too: it is given the same key file.
            first.cli("migrate", "--jwt-key-file", keys[0])
            first.start()
            # Another node with the same file joins; one with another file,
            # or with none, refuses to start and says why.
            same = Server(settings={"jwt-key-file": keys[0]}, database_url=url)
            nodes.append(same)
            same.start()
            other = Server(settings={"jwt-key-file": keys[1]}, database_url=url)
            nodes.append(other)
            with self.assertRaises(AssertionError):
                other.start()
            self.assertIn("fingerprint differs", other.read_log())
            none = Server(database_url=url)
            nodes.append(none)
            with self.assertRaises(AssertionError):
                none.start()
            self.assertIn("from a key file", none.read_log())
            key_column = self.cluster.pg.psql("SELECT count(*) FROM shared_keys"
                                              " WHERE name = 'jwt.key' AND key IS NOT NULL",
                                              "key_files")
            self.assertEqual(key_column, "0", "a configured key was stored in the database")
        finally:
            for n in nodes:
                n.close()

    # -- faults ---------------------------------------------------------------
    def test_listener_terminated_then_revocation(self):
        _, user, pair = self.account("A")
        sk = self.mint(user, pair["access"], ["stac", "tokens:read"], on="A")
        self.assertEverywhere(sk["token"], "TokenValid")
        ended = self.cluster.terminate(["tessera-feed node-A"])
        self.assertEqual(ended, 1, "node A's listener not found in pg_stat_activity")
        self.delete(user, sk["id"], pair["access"], on="B")
        self.assertNotEqual(self.code(sk["token"], "A"), "TokenValid")
        self.assertEverywhere(sk["token"], "TokenRevoked", "BC")
        # A reconnects by itself and takes part in the next change again.
        self.cluster.wait_ready()
        fresh = self.mint(user, pair["access"], ["stac"], on="C")
        self.assertEverywhere(fresh["token"], "TokenValid")

    def test_every_connection_of_a_node_terminated(self):
        _, user, pair = self.account("B")
        sk = self.mint(user, pair["access"], ["stac", "tokens:read"], on="B")
        ended = self.cluster.terminate(["tessera-feed node-A", "tessera-node-A"])
        self.assertGreaterEqual(ended, 1)
        self.delete(user, sk["id"], pair["access"], on="C")
        self.assertNotEqual(self.code(sk["token"], "A"), "TokenValid")
        self.cluster.wait_ready()
        self.assertEverywhere(sk["token"], "TokenRevoked")
        # Node A writes again through fresh pool connections.
        again = self.mint(user, pair["access"], ["stac"], on="A")
        self.assertEverywhere(again["token"], "TokenValid")

    def test_postgres_restart(self):
        _, user, pair = self.account("A")
        sk = self.mint(user, pair["access"], ["stac", "tokens:read"], on="A")
        self.cluster.pg.stop()
        try:
            # Within one lease every node stops vouching for credentials:
            # 503 with Retry-After, never a stale 200, and /readyz says so.
            time.sleep(LEASE_MS / 1000 + 0.5)
            for name in "ABC":
                r = self.node(name).get("/tokens/v2", token=sk["token"])
                self.assertEqual(r.status_code, 503, r.text)
                self.assertIn("Retry-After", r.headers)
                self.assertIn("cannot verify", r.json()["message"])  # Mapbox dialect
                r = self.node(name).get("/api/v1/stac/search", token=sk["token"])
                self.assertEqual(r.status_code, 503, r.text)
                self.assertEqual(r.json().get("code"), "verification_unavailable")
                self.assertEqual(self.node(name).get("/readyz").status_code, 503)
                self.assertEqual(self.node(name).get("/healthz").status_code, 200)
        finally:
            self.cluster.pg.start()
        self.cluster.wait_ready()
        self.assertEverywhere(sk["token"], "TokenValid")
        self.delete(user, sk["id"], pair["access"], on="B")
        self.assertEverywhere(sk["token"], "TokenRevoked", "AC")

    def test_stopped_node_never_accepts_a_revoked_token(self):
        _, user, pair = self.account("A")
        sk = self.mint(user, pair["access"], ["stac", "tokens:read"], on="A")
        self.assertEverywhere(sk["token"], "TokenValid")
        c = self.node("C")
        os.kill(c.proc.pid, signal.SIGSTOP)
        try:
            started = time.time()
            self.delete(user, sk["id"], pair["access"], on="B")
            waited = time.time() - started
            # B waited for C's lease to run out, and no longer.
            self.assertLess(waited, LEASE_MS / 1000 + 5)
        finally:
            os.kill(c.proc.pid, signal.SIGCONT)
        # C's lease ran out while it was stopped: until it has caught up it
        # answers 503, after that "revoked"; never "valid".
        deadline = time.time() + 10
        codes = []
        while time.time() < deadline:
            codes.append(self.code(sk["token"], "C"))
            if codes[-1] == "TokenRevoked":
                break
            time.sleep(0.02)
        self.assertNotIn("TokenValid", codes)
        self.assertEqual(codes[-1], "TokenRevoked", codes)

    def test_concurrent_writes_through_all_nodes_lose_nothing(self):
        _, user, pair = self.account("A")
        made = []
        lock = threading.Lock()

        def create(i):
            name = "ABC"[i % 3]
            r = self.node(name).post("/tokens/v2/" + user,
                                     {"scopes": ["stac"], "note": "c%d" % i},
                                     token=pair["access"])
            if r.status_code == 200:
                with lock:
                    made.append(r.json())
            return r.status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(create, range(90)))
        self.assertEqual(codes.count(200), 90, codes)
        listed = set()
        start = None
        while True:  # page through the account's tokens on another node
            params = {"limit": 100}
            if start:
                params["start"] = start
            r = self.node("C").get("/tokens/v2/" + user, token=pair["access"], params=params)
            self.assertEqual(r.status_code, 200, r.text)
            page = r.json()
            listed |= {t["id"] for t in page}
            if "next" not in r.links:
                break
            start = page[-1]["id"]
        self.assertTrue({t["id"] for t in made} <= listed)
        for t in made[::10]:
            self.assertEverywhere(t["token"], "TokenValid")

    def test_kill_9_of_a_node_mid_write_loses_no_acknowledged_write(self):
        _, user, pair = self.account("B")
        a = self.node("A")
        acked = []
        stop = threading.Event()

        def writer():
            s = requests.Session()
            i = 0
            while not stop.is_set():
                try:
                    r = s.post(a.url("/tokens/v2/" + user), json={"scopes": ["stac"],
                                                                  "note": "k%d" % i},
                               headers={"Authorization": "Bearer " + pair["access"]}, timeout=10)
                except requests.RequestException:
                    return  # the node died under us
                if r.status_code == 200:
                    acked.append(r.json())
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.6)
        port = a.port
        a.kill()
        stop.set()
        t.join(30)
        self.assertGreater(len(acked), 0)
        for tok in acked:
            self.assertEqual(self.code(tok["token"], "B"), "TokenValid")
        # The survivors keep writing (they stop waiting for A once its lease
        # has run out), and A comes back by itself.
        again = self.mint(user, pair["access"], ["stac"], on="C")
        self.assertEverywhere(again["token"], "TokenValid", "BC")
        a.start(port=port)  # where nginx expects it
        self.assertEverywhere(again["token"], "TokenValid")
        self.assertEqual(self.code(acked[-1]["token"], "A"), "TokenValid")


if __name__ == "__main__":
    unittest.main()
