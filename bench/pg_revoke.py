"""Revocation propagation across nodes (bench/pg.sh step 2).

For each of COUNT tokens: one poller per node asks GET /tokens/v2 with the
token in a tight loop; the token is deleted through one node (round robin);
each poller notes when its node first refuses it. Reported, as p50/p99/max:
  - commit → every node refuses: from the revoke's change_log entry (written
    by the revoking transaction just before it commits; the database clock,
    the same host clock as ours) to the last node's first refusal;
  - DELETE round trip, which includes the commit and the wait for every node.
"""
import argparse
import concurrent.futures
import http.client
import json
import statistics
import subprocess
import threading
import time
from urllib.parse import urlparse


def conn_for(url):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def call(conn, method, path, token, body=None):
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


class Poller(threading.Thread):
    """Polls its node with the current token until the node refuses it."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.conn = conn_for(url)
        self.go = threading.Event()
        self.done = threading.Event()
        self.token = None
        self.refused_at = None
        self.valid_after_ack = 0
        self.ack_at = None
        self.stop = False

    def run(self):
        while True:
            self.go.wait()
            self.go.clear()
            if self.stop:
                return
            while True:
                asked = time.time()
                status, data = call(self.conn, "GET", "/tokens/v2", self.token)
                code = json.loads(data).get("code") if status == 200 else status
                if code != "TokenValid":
                    self.refused_at = time.time()
                    break
                # Asked after the DELETE was acknowledged and still valid:
                # must never happen.
                if self.ack_at is not None and asked > self.ack_at:
                    self.valid_after_ack += 1
            self.done.set()


def percentiles(values):
    v = sorted(values)
    return (statistics.median(v), v[min(len(v) - 1, int(len(v) * 0.99))], v[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", nargs="+", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--access", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--count", type=int, default=1000)
    a = ap.parse_args()

    def mint(i):
        c = conn_for(a.nodes[i % len(a.nodes)])
        status, data = call(c, "POST", "/tokens/v2/" + a.user, a.access,
                            {"scopes": ["stac"], "note": "revoke bench %d" % i})
        c.close()
        if status != 200:
            raise SystemExit("mint failed: %d %s" % (status, data[:200]))
        return json.loads(data)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(mint, range(a.count)))

    pollers = [Poller(u) for u in a.nodes]
    for p in pollers:
        p.start()
    deleters = [conn_for(u) for u in a.nodes]
    rows = []
    for i, tok in enumerate(tokens):
        for p in pollers:
            p.token, p.refused_at, p.ack_at = tok["token"], None, None
            p.done.clear()
            p.go.set()
        sent = time.time()
        status, data = call(deleters[i % len(deleters)], "DELETE",
                            "/tokens/v2/%s/%s" % (a.user, tok["id"]), a.access)
        acked = time.time()
        if status != 204:
            raise SystemExit("delete failed: %d %s" % (status, data[:200]))
        for p in pollers:
            p.ack_at = acked
        for p in pollers:
            p.done.wait(30)
        rows.append((tok["id"], sent, acked, max(p.refused_at for p in pollers)))
    for p in pollers:
        p.stop = True
        p.go.set()

    ids = ",".join("'%s'" % r[0] for r in rows)
    out = subprocess.run(["psql", "-X", "-A", "-t", "-F", " ", a.db, "-c",
                          "SELECT token_id, max(at) FROM change_log WHERE kind = 2"
                          " AND token_id IN (%s) GROUP BY token_id" % ids],
                         check=True, capture_output=True, text=True).stdout
    committed = {k: int(v) / 1000.0 for k, v in (l.split() for l in out.splitlines() if l)}
    to_all = [(r[3] - committed[r[0]]) * 1000 for r in rows]
    rtt = [(r[2] - r[1]) * 1000 for r in rows]
    stale = sum(p.valid_after_ack for p in pollers)
    print("revocations: %d through %d nodes (round robin), polled on every node"
          % (len(rows), len(a.nodes)))
    print("  commit -> every node refuses   p50 %6.2f ms   p99 %6.2f ms   max %6.2f ms"
          % percentiles(to_all))
    print("  DELETE round trip (2xx)        p50 %6.2f ms   p99 %6.2f ms   max %6.2f ms"
          % percentiles(rtt))
    print("  token seen valid after its DELETE returned: %d times" % stale)


if __name__ == "__main__":
    main()
