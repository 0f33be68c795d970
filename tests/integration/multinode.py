"""Several Tessera nodes on one PostgreSQL, behind a real nginx.

A throwaway PostgreSQL cluster (tests/pg/pgcluster.py), one database, three
`tessera serve` nodes on it (each with its own data directory, node name and
application_name, so a test can find a node's connections in
pg_stat_activity), and nginx with an `upstream` of the three in round robin.
Everything runs on loopback and is stopped by its pid.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

from harness import Server, SOURCE_DIR

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "pg"))
from pgcluster import PgCluster  # noqa: E402

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)

# Shorter than the default so fault tests wait less; the same mechanism.
LEASE_MS = 1500

NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream tessera {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tessera;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            # Every answer comes from the node that was asked: a test must
            # see a refusal, never have it retried away on another node.
            proxy_next_upstream off;
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, upstream_ports):
        self.tmp = tempfile.TemporaryDirectory(prefix="tessera-nginx-")
        self.port = free_port()
        self.upstream_ports = upstream_ports
        self.proc = None

    def start(self):
        tmp = self.tmp.name
        # As root nginx would switch its workers to nobody; keep the current
        # user so they can use the temporary prefix.
        user = "user %s;" % pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else ""
        servers = "\n".join("        server 127.0.0.1:%d;" % p for p in self.upstream_ports)
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(user=user, tmp=tmp, port=self.port, servers=servers))
        self.log = open(os.path.join(tmp, "stderr.log"), "ab")
        self.proc = subprocess.Popen([NGINX, "-p", tmp, "-c", conf, "-e", tmp + "/error.log"],
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError("nginx exited:\n" + self.error_log())
                time.sleep(0.05)
        raise AssertionError("nginx did not start:\n" + self.error_log())

    def error_log(self):
        try:
            with open(os.path.join(self.tmp.name, "error.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGQUIT)  # graceful, by pid
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()
        self.tmp.cleanup()


class Nodes:
    """A PostgreSQL cluster, three nodes on one database, nginx in front."""

    NAMES = ("A", "B", "C")

    def __init__(self, settings=None):
        self.pg = PgCluster().start()
        self.url = self.pg.createdb("tessera")
        self.settings = dict(settings or {})
        self.nodes = []
        self.nginx = None

    def node_url(self, name):
        # Each node's pooled connections carry its name, so a test can end
        # exactly one node's sessions.
        return "%s?application_name=tessera-node-%s" % (self.url, name)

    def start(self):
        try:
            first = Server(database_url=self.node_url("A"))
            first.cli("migrate")  # the CLI on PostgreSQL, and nodes start migrated
            first.close()
            for name in self.NAMES:
                settings = dict(self.settings)
                settings.update({"node-name": "node-" + name, "node-lease-ms": str(LEASE_MS)})
                node = Server(settings=settings, database_url=self.node_url(name))
                node.name = name
                self.nodes.append(node)
                node.start()
            keys = self.pg.psql("SELECT encode(key, 'hex') FROM shared_keys", "tessera")
            shared = [bytes.fromhex(k) for k in keys.split() if k]
            for node in self.nodes:
                node.shared_keys = shared
            if NGINX:
                self.nginx = Nginx([n.port for n in self.nodes]).start()
        except Exception:
            self.close()
            raise
        return self

    def __getitem__(self, name):
        return self.nodes[self.NAMES.index(name)]

    def sql(self, query):
        return self.pg.psql(query, "tessera")

    def terminate(self, application_names):
        """pg_terminate_backend of every session with one of these names;
        returns how many were ended."""
        names = ",".join("'%s'" % n for n in application_names)
        out = self.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE application_name IN (%s)" % names)
        return int(out or 0)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        pending = list(self.nodes)
        while pending and time.time() < deadline:
            pending = [n for n in pending if n.proc and self._ready(n) != 200]
            if pending:
                time.sleep(0.1)
        if pending:
            raise AssertionError("nodes not ready again: %s" % [n.name for n in pending])

    @staticmethod
    def _ready(node):
        try:
            return requests.get(node.url("/readyz"), timeout=5).status_code
        except requests.RequestException:
            return None

    def close(self):
        errors = []
        if self.nginx:
            self.nginx.stop()
        for node in self.nodes:
            try:
                node.close()
            except AssertionError as e:  # a sanitizer report or a leaked secret
                errors.append(str(e))
        self.pg.destroy()
        if errors:
            raise AssertionError("\n".join(errors))
