"""Every status the integration suite saw the server answer must be documented
in web/openapi.json for that operation.

tests/integration/harness.py records, for each integration test (one file per
test process, TESSERA_OBSERVED_DIR/<test>.jsonl), every (method, path,
status) its servers wrote to their access logs, so requests from raw
sockets, nginx, GDAL and the browser count too. This test maps each concrete
path to its OpenAPI path template the way the router does (empty segments and
a trailing slash ignored, HEAD answered by GET) and fails listing every
observed (operation, status) the document lacks, and every request to an API
path that no documented operation covers. Documented statuses that no test
produced are reported, not failed: some need a fault (a full worker queue, a
database away) that not every run provokes.

Run by ctest after all integration tests (DEPENDS in CMakeLists.txt):
    ctest --test-dir build/debug -L 'integration|docs'
Run alone (`ctest --test-dir build/debug -R docs.openapi_statuses`) it reads
each test's latest record, and fails naming the tests whose record is missing
or older than the tessera binary: rerun those, e.g.
    ctest --test-dir build/debug -R 'integration\\.(test_stac|test_mapbox)$'
"""
import collections
import json
import os
import unittest

SOURCE_DIR = os.environ.get("TESSERA_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
OPENAPI = os.path.join(SOURCE_DIR, "web", "openapi.json")
OBSERVED_DIR = os.environ.get("TESSERA_OBSERVED_DIR",
                              os.path.join(SOURCE_DIR, "build", "debug", "observed"))
BIN = os.environ.get("TESSERA_BIN", os.path.join(SOURCE_DIR, "build", "debug", "tessera"))
TESTS = [t for t in os.environ.get("TESSERA_INTEGRATION_TESTS", "").split(",") if t]

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# Requests outside the API contract, with the reason they are not compared.
EXCLUDED_PATHS = [
    ("exact", "/", "the start page for people (web/index.html)"),
    ("prefix", "/account/", "pages for people (web/*.html); the account API is under "
                            "/api/v1/account/"),
    ("prefix", "/static/", "the files of the pages and of the docs page (web/, Swagger UI)"),
]
EXCLUDED_METHODS = {
    "OPTIONS": "CORS preflights, answered by the HTTP layer (src/api/cors.c) on every CORS "
               "path, not API operations",
}
# The asset route's last parameter spans segments (the router's {*}).
TAIL_TEMPLATES = {"/api/v1/catalog/asset/{key}"}


def segments(path):
    """The router's view of a path: split on '/', empty segments dropped."""
    return [s for s in path.split("/") if s]


class Operation:
    def __init__(self, method, template, op):
        self.method = method.upper()
        self.template = template
        self.op_id = op.get("operationId") or "%s %s" % (self.method, template)
        self.statuses = {int(code) for code in op.get("responses", {}) if code.isdigit()}
        self.segs = segments(template)
        self.tail = template in TAIL_TEMPLATES
        self.literals = sum(1 for s in self.segs if not s.startswith("{"))

    def matches(self, segs):
        if self.tail:
            if len(segs) < len(self.segs):
                return False
        elif len(segs) != len(self.segs):
            return False
        return all(t.startswith("{") or t == s for t, s in zip(self.segs, segs))

    def __str__(self):
        return "%s %s (%s)" % (self.method, self.template, self.op_id)


def load_operations(doc):
    ops = []
    for template, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                ops.append(Operation(method, template, op))
    return ops


def excluded(method, path):
    if method in EXCLUDED_METHODS:
        return EXCLUDED_METHODS[method]
    for kind, p, reason in EXCLUDED_PATHS:
        if (kind == "exact" and segments(path) == segments(p)) or \
                (kind == "prefix" and (path + "/").startswith(p)):
            return reason
    return None


def classify(ops, method, path, status):
    """(verdict, subject): verdict is "ok", "excluded", "undocumented-status"
    (subject: the Operation) or "undocumented-route" (subject: a text)."""
    reason = excluded(method, path)
    if reason:
        return "excluded", reason
    segs = segments(path)
    lookup = "GET" if method == "HEAD" else method
    on_path = [o for o in ops if o.matches(segs)]
    with_method = [o for o in on_path if o.method == lookup]
    if with_method:
        # Literal segments win over parameters, as in OpenAPI path matching.
        op = max(with_method, key=lambda o: o.literals)
        return ("ok" if status in op.statuses else "undocumented-status"), op
    if not on_path and status == 404:
        return "ok", "404 from the router: no route has this path"
    if on_path and status == 405:
        return "ok", "405 from the router: the path has no operation for this method"
    if on_path:
        return "undocumented-route", "%s on %s answers %d but is not documented" % (
            method, on_path[0].template, status)
    return "undocumented-route", "%s %s answers %d but no documented path matches" % (
        method, path, status)


def read_observed():
    """{(method, path, status): set of test names} from every record."""
    seen = collections.defaultdict(set)
    for name in sorted(os.listdir(OBSERVED_DIR)) if os.path.isdir(OBSERVED_DIR) else []:
        if not name.endswith(".jsonl"):
            continue
        with open(os.path.join(OBSERVED_DIR, name)) as f:
            for line in f:
                method, path, status = json.loads(line)
                seen[(method, path, status)].add(name[:-len(".jsonl")])
    return seen


class OpenApiStatusesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(OPENAPI) as f:
            cls.ops = load_operations(json.load(f))
        cls.seen = read_observed()

    def test_every_integration_test_left_a_fresh_record(self):
        self.assertTrue(TESTS, "TESSERA_INTEGRATION_TESTS is empty: run this through ctest")
        built = os.path.getmtime(BIN) if os.path.exists(BIN) else 0
        missing, stale = [], []
        for test in TESTS:
            path = os.path.join(OBSERVED_DIR, test + ".jsonl")
            if not os.path.exists(path):
                missing.append(test)
            elif os.path.getmtime(path) < built:
                stale.append(test)
        if missing or stale:
            build = os.path.dirname(OBSERVED_DIR)
            what = []
            if missing:
                what.append("no record from " + ", ".join(missing))
            if stale:
                what.append("older than %s: %s" % (BIN, ", ".join(stale)))
            if len(missing) + len(stale) == len(TESTS):
                rerun = "ctest --test-dir %s -L 'integration|docs'" % build
            else:
                rerun = "ctest --test-dir %s -R 'integration\\.(%s)$|docs\\.openapi_statuses'" % (
                    build, "|".join(missing + stale))
            self.fail("the observed statuses are incomplete (%s).\nThis check compares what the "
                      "last run of each integration test saw; run them first:\n    %s"
                      % ("; ".join(what), rerun))

    def test_observed_statuses_are_documented(self):
        self.assertTrue(self.seen, "no observed statuses in %s: run the integration tests "
                        "through ctest first" % OBSERVED_DIR)
        missing = collections.defaultdict(lambda: collections.defaultdict(set))
        routes = collections.defaultdict(set)
        excluded_counts = collections.Counter()
        for (method, path, status), tests in sorted(self.seen.items()):
            verdict, subject = classify(self.ops, method, path, status)
            if verdict == "excluded":
                excluded_counts[subject] += 1
            elif verdict == "undocumented-status":
                missing[(str(subject), status)][path] |= tests
            elif verdict == "undocumented-route":
                routes[subject] |= tests
        print("\nNot compared (outside the API contract):")
        for reason, n in sorted(excluded_counts.items()):
            print("  %5d distinct (method, path, status): %s" % (n, reason))
        problems = []
        for (op, status), paths in sorted(missing.items()):
            examples = sorted(paths.items())[:3]
            problems.append("%s answered %d, not documented; e.g. %s" % (
                op, status, "; ".join("%s (%s)" % (p, ", ".join(sorted(t))) for p, t in examples)))
        for text, tests in sorted(routes.items()):
            problems.append("%s (seen in %s)" % (text, ", ".join(sorted(tests))))
        if problems:
            self.fail("%d observed statuses are not in web/openapi.json:\n  %s"
                      % (len(problems), "\n  ".join(problems)))

    def test_report_documented_but_never_seen(self):
        """Not a failure: a documented status no integration test produced."""
        seen_ops = collections.defaultdict(set)
        for (method, path, status) in self.seen:
            verdict, op = classify(self.ops, method, path, status)
            if verdict == "ok" and isinstance(op, Operation):
                seen_ops[str(op)].add(status)
        lines = []
        for op in self.ops:
            unseen = sorted(op.statuses - seen_ops.get(str(op), set()))
            if unseen:
                lines.append("  %s: %s" % (op, ", ".join(map(str, unseen))))
        print("\nDocumented but not produced by any integration test (%d operations):"
              % len(lines))
        print("\n".join(lines) if lines else "  none")


if __name__ == "__main__":
    unittest.main()
