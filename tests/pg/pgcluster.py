"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary
directory (as the unprivileged user `nobody` when run as root, since
PostgreSQL refuses to run as root), a postmaster on a free loopback port with
its Unix socket inside that directory, trust authentication for the user
`tessera`, and a stop by the postmaster's pid.

Importable (integration tests: PgCluster) and a command line for the ctest
fixture that the unit tests share:
    python3 pgcluster.py start STATE_DIR   # writes STATE_DIR/url, prints it
    python3 pgcluster.py stop STATE_DIR
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_USER = "tessera"


def pg_bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd):
    """Runs cmd as the cluster's owner: `nobody` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--"] + cmd
    return cmd


class PgCluster:
    def __init__(self, base=None, port=None):
        self.base = base or tempfile.mkdtemp(prefix="tessera-pg-")
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        self.log = os.path.join(self.base, "postgres.log")
        self.port = port or free_port()
        self.bindir = pg_bindir()
        self.proc = None

    @property
    def url(self):
        return self.url_for("postgres")

    def url_for(self, dbname):
        return "postgresql://%s@127.0.0.1:%d/%s" % (PG_USER, self.port, dbname)

    def init(self):
        os.makedirs(self.sock, exist_ok=True)
        if os.geteuid() == 0:
            os.chmod(self.base, 0o755)
            shutil.chown(self.sock, "nobody")
            os.makedirs(self.data, exist_ok=True)
            shutil.chown(self.data, "nobody")
            open(self.log, "a").close()
            shutil.chown(self.log, "nobody")
        subprocess.run(_as_owner([os.path.join(self.bindir, "initdb"), "-D", self.data,
                                  "-U", PG_USER, "--auth=trust", "-E", "UTF8",
                                  "--no-sync", "--locale=C"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def start(self, timeout=30):
        """Starts the postmaster and waits until it accepts connections."""
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self.init()
        cmd = _as_owner([os.path.join(self.bindir, "postgres"), "-D", self.data,
                         "-p", str(self.port), "-h", "127.0.0.1", "-k", self.sock,
                         "-c", "max_connections=200", "-c", "fsync=on",
                         "-c", "shared_buffers=64MB", "-c", "log_min_messages=warning"])
        logf = open(self.log, "ab")
        # Its own session, so a ctest timeout's kill of the test does not take
        # the cluster down before the cleanup fixture runs.
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: " + self.tail_log())
            if self.ready():
                return self
            time.sleep(0.1)
        raise RuntimeError("postgres did not become ready: " + self.tail_log())

    def ready(self):
        r = subprocess.run([os.path.join(self.bindir, "pg_isready"), "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", PG_USER, "-d", "postgres"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def stop(self, mode=signal.SIGINT, timeout=30):
        """Stops the postmaster by its pid (SIGINT = fast shutdown)."""
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, mode)
            except ProcessLookupError:
                pass
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def psql(self, sql, dbname="postgres"):
        """Runs sql and returns its unaligned output."""
        r = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-A", "-t", "-q",
                            "-v", "ON_ERROR_STOP=1", self.url_for(dbname), "-c", sql],
                           check=True, capture_output=True, text=True)
        return r.stdout.strip()

    def createdb(self, name):
        self.psql('CREATE DATABASE "%s"' % name)
        return self.url_for(name)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def tail_log(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    state = os.path.abspath(argv[2])
    base_file = os.path.join(state, "base")
    # The cluster itself lives under /tmp: `nobody` may not be able to reach
    # the build directory.
    if os.path.exists(base_file):  # left by an interrupted run, or stop
        with open(base_file) as f:
            PgCluster(f.read().strip()).destroy()
        os.unlink(base_file)
    if argv[1] == "stop":
        return 0
    os.makedirs(state, exist_ok=True)
    c = PgCluster().start()
    with open(base_file, "w") as f:
        f.write(c.base + "\n")
    with open(os.path.join(state, "url"), "w") as f:
        f.write(c.url + "\n")
    print(c.url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
