"""The `tessera` command line (SPEC §7): every command and its --help, run
against the same data directory as a live server so that each effect is
checked over HTTP, plus exit codes and configuration precedence
(file < TESSERA_* environment < flags)."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime, timedelta, timezone

from harness import BIN, SOURCE_DIR, Server, ServerTestCase, unique_email

STAC = "/api/v1/stac/collections"
ME = "/api/v1/account/me"


def run(*args, env=None, input=None, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")
                or k in ("TESSERA_BIN", "TESSERA_SOURCE_DIR", "TESSERA_SANITIZED")}
    full_env.update(env or {})
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, env=full_env,
                          input=input, cwd=cwd, timeout=120)


class HelpTest(unittest.TestCase):
    def test_main_help(self):
        for args in (["--help"], ["help"]):
            r = run(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("usage: tessera", r.stdout)
            for cmd in ("serve", "migrate", "user", "token", "scope", "group", "stac"):
                self.assertIn(cmd, r.stdout)

    def test_no_command(self):
        r = run()
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: tessera", r.stderr)

    def test_unknown_command(self):
        r = run("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command", r.stderr)
        self.assertIn("usage: tessera", r.stderr)

    def test_command_help(self):
        for args in (["serve"], ["migrate"], ["user"], ["user", "add"], ["user", "list"],
                     ["user", "set"], ["user", "disable"], ["token"], ["token", "create"],
                     ["token", "list"], ["token", "revoke"], ["scope"], ["scope", "add"],
                     ["scope", "list"], ["group"], ["group", "add"], ["group", "list"],
                     ["stac"], ["stac", "import"]):
            with self.subTest(args=args):
                r = run(*(args + ["--help"]))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.startswith("usage: tessera " + args[0]), r.stdout)
        r = run("serve", "--help")
        for opt in ("--listen", "--data-dir", "--config", "--tls-cert", "--tls-key"):
            self.assertIn(opt, r.stdout)

    def test_bad_usage_exit_2(self):
        with tempfile.TemporaryDirectory() as d:
            for args in (["user"], ["user", "add"], ["token"], ["token", "create", "a@b.co"],
                         ["token", "bogus", "x"], ["scope", "add"], ["group", "bogus"],
                         ["stac", "import", "x"], ["user", "list", "--no-such-setting", "1"],
                         ["user", "list", "--threads", "0"]):
                with self.subTest(args=args):
                    r = run(*(args + ["--data-dir", os.path.join(d, "data")]))
                    self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
                    self.assertTrue(r.stderr.strip())
            # A missing value does not swallow the next option.
            for args in (["user", "list", "--data-dir"], ["user", "list", "--data-dir", "--threads",
                                                          "4"]):
                with self.subTest(args=args):
                    r = run(*args, cwd=d)
                    self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
                    self.assertIn("needs a value", r.stderr)
                    self.assertEqual(os.listdir(d), [])
            # An unknown flag is named as unknown, with or without a value.
            for args in (["user", "list", "--bogus"], ["user", "list", "--bogus", "x"],
                         ["--bogus=1", "user", "list"]):
                with self.subTest(args=args):
                    r = run(*args, cwd=d)
                    self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
                    self.assertIn("unknown option --bogus", r.stderr)

    def test_version(self):
        for args in (["--version"], ["version"]):
            r = run(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"^tessera \d+\.\d+\.\d+\n$")

    def test_unknown_scopes_and_groups_are_refused(self):
        sample = os.path.join(SOURCE_DIR, "catalog", "sample", "public")
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "data")
            for args, name in ((["--scopes", "stac,nosuchscope"], 'scope "nosuchscope"'),
                               (["--groups", "Public,NoSuchGroup"], 'group "NoSuchGroup"')):
                r = run("user", "add", "x@example.com", "--password-stdin", *args,
                        "--data-dir", data, input="correct horse battery\n")
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("unknown " + name, r.stderr)
            r = run("user", "list", "--json", "--data-dir", data)
            self.assertEqual(json.loads(r.stdout), [], "a refused account was created anyway")
            r = run("stac", "import", sample, "--visibility", "NoSuchGroup", "--data-dir", data)
            self.assertEqual(r.returncode, 1)
            self.assertIn('unknown group "NoSuchGroup"', r.stderr)
            r = run("group", "add", "Analysts", "--data-dir", data)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run("stac", "import", sample, "--visibility", "Analysts", "--data-dir", data)
            self.assertEqual(r.returncode, 0, r.stderr)


class CliAgainstServerTest(ServerTestCase):
    def cli(self, *args, **kw):
        return self.server.cli(*args, **kw)

    def test_migrate_prints_version(self):
        r = self.cli("migrate")
        self.assertRegex(r.stdout, r"^schema version [1-9][0-9]*\n$")
        again = self.cli("migrate")
        self.assertEqual(again.stdout, r.stdout)

    def test_user_add_list_and_login(self):
        email = unique_email("cli")
        r = self.cli("user", "add", email, "--password", "cli password one")
        header, row = r.stdout.rstrip("\n").split("\n")
        self.assertEqual(header.split("\t"), ["ID", "USERNAME", "EMAIL", "GROUPS", "SCOPES",
                                               "STATUS", "STAFF", "SERVICE"])
        fields = row.split("\t")
        self.assertEqual(fields[2], email)
        self.assertEqual(fields[3], "Public")
        self.assertIn("stac", fields[4].split(","))
        self.assertEqual(fields[5], "active")
        pair = self.server.login(email, "cli password one")
        me = self.server.get(ME, token=pair["access"]).json()
        self.assertEqual(me["id"], int(fields[0]))
        self.assertEqual(me["username"], fields[1])
        # The default public token exists for CLI-made accounts too.
        tokens = self.server.get("/api/v1/account/tokens", token=pair["access"]).json()
        self.assertEqual([t["usage"] for t in tokens if t["default"]], ["pk"])
        listing = self.cli("user", "list").stdout
        self.assertIn("\t%s\t" % email, listing)
        # Duplicate and weak password are refused.
        r = self.cli("user", "add", email.upper(), "--password", "cli password one", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("email", r.stderr)
        r = self.cli("user", "add", unique_email(), "--password", "short", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("password", r.stderr)
        r = self.cli("user", "add", unique_email(), check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_user_add_with_options_and_stdin(self):
        email = unique_email("opt")
        self.cli("group", "add", "Opt%d" % os.getpid(), check=False)
        r = self.cli("user", "add", email, "--password-stdin", "--username", "opt-%d" % os.getpid(),
                     "--groups", "Public,Opt%d" % os.getpid(), "--scopes", "stac,catalog:read",
                     "--staff", input="stdin password 1\n")
        fields = r.stdout.rstrip("\n").split("\n")[1].split("\t")
        self.assertEqual(fields[1], "opt-%d" % os.getpid())
        self.assertEqual(fields[3], "Public,Opt%d" % os.getpid())
        self.assertEqual(fields[4], "stac,catalog:read")
        self.assertEqual(fields[6], "staff")
        pair = self.server.login(email, "stdin password 1")
        me = self.server.get(ME, token=pair["access"]).json()
        self.assertIs(me["is_staff"], True)
        self.assertEqual(me["groups"], ["Public", "Opt%d" % os.getpid()])
        self.assertEqual(me["scopes"], ["stac", "catalog:read"])
        self.assertEqual(pair["groups"], "Public Opt%d" % os.getpid())

    def test_user_set(self):
        email, pair = self.server.new_account()
        sk = self.server.create_stac_token(pair["access"])["token_value"]
        self.assertEqual(self.server.get(STAC, token=sk).status_code, 200)
        self.cli("user", "set", email, "--scopes", "catalog:read,tokens:read", "--staff", "true",
                 "--groups", "Public,Partners")
        me = self.server.get(ME, token=pair["access"])
        self.assertEqual(me.status_code, 200, me.text)
        self.assertEqual(me.json()["scopes"], ["catalog:read", "tokens:read"])
        self.assertEqual(me.json()["groups"], ["Public", "Partners"])
        self.assertIs(me.json()["is_staff"], True)
        # Removing stac from the account takes effect on its sk at once.
        r = self.server.get(STAC, token=sk)
        self.assertEqual(r.status_code, 403, r.text)
        self.assertIn("insufficient_scope", r.headers["WWW-Authenticate"])
        self.cli("user", "set", email, "--scopes", "stac,catalog:read", "--staff", "false")
        self.assertEqual(self.server.get(STAC, token=sk).status_code, 200)
        self.assertIs(self.server.get(ME, token=pair["access"]).json()["is_staff"], False)
        # --active false disables (ending the tokens), --active true re-enables.
        self.cli("user", "set", email, "--active", "false")
        self.assertEqual(self.server.get(STAC, token=sk).status_code, 401)
        self.assertIn("disabled", self.cli("user", "list").stdout.split(email)[1].split("\n")[0])
        self.cli("user", "set", email, "--active", "true")
        self.assertEqual(self.server.get(STAC, token=sk).status_code, 401)  # ended stays ended
        self.assertEqual(self.server.get(ME, token=pair["access"]).status_code, 401)
        # Bad values and unknown accounts.
        r = self.cli("user", "set", email, "--active", "maybe", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.cli("user", "set", unique_email("ghost"), "--staff", "true", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no account", r.stderr)

    def test_user_disable(self):
        email, pair = self.server.new_account()
        sk = self.server.create_stac_token(pair["access"])["token_value"]
        self.cli("user", "disable", email)
        self.assertEqual(self.server.get(ME, token=pair["access"]).status_code, 401)
        self.assertEqual(self.server.get(STAC, token=sk).status_code, 401)
        r = self.server.post("/api/v1/token/pair", {"email": email,
                                                    "password": "correct horse battery"})
        self.assertEqual(r.status_code, 401)
        r = self.cli("user", "disable", unique_email("ghost"), check=False)
        self.assertEqual(r.returncode, 1)

    def test_token_create_list_revoke(self):
        email, pair = self.server.new_account()
        pk = self.cli("token", "create", email, "--scopes", "styles:tiles,styles:read",
                      "--note", "public one").stdout.strip()
        sk = self.cli("token", "create", email, "--scopes", "stac,catalog:read",
                      "--note", "secret one", "--expires-days", "3").stdout.strip()
        self.assertTrue(pk.startswith("pk."), pk)
        self.assertTrue(sk.startswith("sk."), sk)
        self.assertEqual(self.server.get(STAC, token=sk).status_code, 200)
        lines = self.cli("token", "list", email).stdout.strip().split("\n")
        rows = {l.split("\t")[0]: l.split("\t") for l in lines}
        import base64, json
        sk_id = json.loads(base64.urlsafe_b64decode(sk.split(".")[1] + "=="))["a"]
        pk_id = json.loads(base64.urlsafe_b64decode(pk.split(".")[1] + "=="))["a"]
        self.assertEqual(rows[sk_id][1], "sk")
        self.assertEqual(rows[sk_id][3], "stac,catalog:read")
        self.assertEqual(rows[sk_id][4], "secret one")
        self.assertEqual(rows[pk_id][1], "pk")
        self.assertNotIn(sk.split(".")[2], "\n".join(lines))
        listed = {t["id"]: t for t in self.server.get("/api/v1/account/tokens",
                                                      token=pair["access"]).json()}
        self.assertIn(sk_id, listed)
        expires = datetime.strptime(listed[sk_id]["expires"], "%Y-%m-%dT%H:%M:%S.%fZ")
        delta = expires.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc)
        self.assertLess(abs(delta - timedelta(days=3)).total_seconds(), 120)
        # Revoke: 0, then the token fails at once; a second revoke fails.
        self.cli("token", "revoke", sk_id)
        r = self.server.get(STAC, token=sk)
        self.assertEqual(r.status_code, 401, r.text)
        r = self.cli("token", "revoke", sk_id, check=False)
        self.assertEqual(r.returncode, 1)
        r = self.cli("token", "revoke", "nosuchtoken00000000000000", check=False)
        self.assertEqual(r.returncode, 1)
        # Unknown or ungranted scopes are refused.
        r = self.cli("token", "create", email, "--scopes", "no:such", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown scope", r.stderr)
        self.cli("scope", "add", "ops:x%d" % os.getpid(), check=False)
        r = self.cli("token", "create", email, "--scopes", "ops:x%d" % os.getpid(), check=False)
        self.assertEqual(r.returncode, 1)
        r = self.cli("token", "create", unique_email("ghost"), "--scopes", "stac", check=False)
        self.assertEqual(r.returncode, 1)
        r = self.cli("token", "create", email, "--scopes", "stac", "--expires-days", "0",
                     check=False)
        self.assertEqual(r.returncode, 2)

    def test_token_resources(self):
        """create --resources binds a token, set replaces the bounds ("" lifts
        them), list shows them, and bad bounds are refused before anything is
        written."""
        email = unique_email("bounds")
        self.cli("user", "add", email, "--password", "cli password one")
        self.cli("token", "create", email, "--scopes", "stac",
                 "--resources", "collection:b,asset:a/2023/,collection:b")
        made = next(t for t in json.loads(self.cli("token", "list", email, "--json").stdout)
                    if not t["default"])
        self.assertEqual(made["resources"], ["asset:a/2023/", "collection:b"])
        row = next(l for l in self.cli("token", "list", email).stdout.split("\n")
                   if l.startswith(made["id"]))
        self.assertEqual(row.split("\t")[5], "asset:a/2023/,collection:b")
        self.cli("token", "set", made["id"], "--resources", "collection:c")
        again = next(t for t in json.loads(self.cli("token", "list", email, "--json").stdout)
                     if t["id"] == made["id"])
        self.assertEqual(again["resources"], ["collection:c"])
        self.cli("token", "set", made["id"], "--resources", "")
        again = next(t for t in json.loads(self.cli("token", "list", email, "--json").stdout)
                     if t["id"] == made["id"])
        self.assertNotIn("resources", again)
        for bad in ("asset:../x", "collection:a/b", "bucket:x"):
            r = self.cli("token", "set", made["id"], "--resources", bad, check=False)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("invalid entry", r.stderr)
        r = self.cli("token", "set", "nosuchtokennosuchtokennos", "--resources", "collection:a",
                     check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no live token", r.stderr)

    def test_lists_have_headers_and_json(self):
        """Every list prints a header over tab-separated rows, and with --json
        the same rows as a JSON array; an empty value prints as "-"."""
        email = unique_email("lists")
        self.cli("user", "add", email, "--password", "cli password one")
        sk = self.cli("token", "create", email, "--scopes", "stac").stdout.strip()
        headers = {
            ("user", "list"): "ID USERNAME EMAIL GROUPS SCOPES STATUS STAFF SERVICE",
            ("token", "list", email): "ID USAGE CREATED SCOPES NOTE RESOURCES LAST_USED EXPIRES EXPIRING_SOON",
            ("scope", "list"): "ID KIND DESCRIPTION",
            ("group", "list"): "NAME DESCRIPTION",
            ("audit", "--account", email): "ID AT KIND ACTOR ACCOUNT TOKEN CLIENT DETAIL",
        }
        for args, header in headers.items():
            lines = self.cli(*args).stdout.rstrip("\n").split("\n")
            self.assertEqual(lines[0].split("\t"), header.split(), args)
            width = len(header.split())
            for line in lines[1:]:
                self.assertEqual(len(line.split("\t")), width, (args, line))
            rows = json.loads(self.cli(*args, "--json").stdout)
            self.assertIsInstance(rows, list, args)
            self.assertEqual(len(rows), len(lines) - 1, args)
        users = json.loads(self.cli("user", "list", "--json").stdout)
        mine = next(u for u in users if u["email"] == email)
        self.assertIs(mine["is_active"], True)
        self.assertIn("stac", mine["scopes"])
        tokens = json.loads(self.cli("token", "list", email, "--json").stdout)
        made = next(t for t in tokens if not t["default"])
        self.assertEqual((made["usage"], made["scopes"], made["note"]), ("sk", ["stac"], ""))
        self.assertIsNone(made["last_used"])
        self.assertNotIn(sk.split(".")[2], json.dumps(tokens))
        row = next(l for l in self.cli("token", "list", email).stdout.split("\n")
                   if l.startswith(made["id"]))
        self.assertEqual(row.split("\t")[4:], ["-", "any", "never", "never", "-"])
        scopes = {s["id"]: s for s in json.loads(self.cli("scope", "list", "--json").stdout)}
        self.assertIs(scopes["stac"]["public"], False)
        self.assertIs(scopes["styles:tiles"]["public"], True)
        groups = [g["name"] for g in json.loads(self.cli("group", "list", "--json").stdout)]
        self.assertIn("Public", groups)

    def test_every_help_has_an_example(self):
        for command in ("serve", "migrate", "user", "token", "scope", "group", "stac", "audit"):
            r = self.cli(command, "--help", check=False)
            self.assertEqual(r.returncode, 0, command)
            self.assertIn("Example", r.stdout, command)

    def test_scopes(self):
        out = self.cli("scope", "list").stdout
        rows = {l.split("\t")[0]: l.split("\t") for l in out.strip().split("\n")}
        for s in ("stac", "catalog:read", "tokens:read", "tokens:write", "scopes:list"):
            self.assertEqual(rows[s][1], "secret", s)
        for s in ("styles:tiles", "styles:read", "fonts:read", "datasets:read", "vision:read"):
            self.assertEqual(rows[s][1], "public", s)
        name = "custom:read%d" % os.getpid()
        self.cli("scope", "add", name, "--description", "Custom reads", "--public")
        rows = {l.split("\t")[0]: l.split("\t")
                for l in self.cli("scope", "list").stdout.strip().split("\n")}
        self.assertEqual(rows[name], [name, "public", "Custom reads"])
        r = self.cli("scope", "add", name, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists", r.stderr)
        secret = "custom:write%d" % os.getpid()
        self.cli("scope", "add", secret)
        rows = {l.split("\t")[0]: l.split("\t")
                for l in self.cli("scope", "list").stdout.strip().split("\n")}
        self.assertEqual(rows[secret][1], "secret")

    def test_groups(self):
        rows = {l.split("\t")[0] for l in self.cli("group", "list").stdout.strip().split("\n")}
        self.assertIn("Public", rows)
        name = "Team%d" % os.getpid()
        self.cli("group", "add", name, "--description", "A team")
        rows = {l.split("\t")[0]: l.split("\t")
                for l in self.cli("group", "list").stdout.strip().split("\n")}
        self.assertEqual(rows[name], [name, "A team"])
        r = self.cli("group", "add", name, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists", r.stderr)

    def test_scope_and_group_names_must_be_words(self):
        """Names travel in tokens, space-separated claims and comma-separated
        lists: anything that would break one of those is refused up front
        (nothing silently truncated), and nothing is stored."""
        bad = ["", "two words", "a,b", 'quo"te', "back\\slash", "tab\tbed", "caf\u00e9",
               "x" * 65]
        for kind in ("scope", "group"):
            for name in bad:
                r = self.cli(kind, "add", name, check=False)
                self.assertEqual(r.returncode, 2, (kind, name, r.stderr))
                self.assertIn("invalid %s" % ("scope id" if kind == "scope" else "group name"),
                              r.stderr)
            r = self.cli(kind, "add", "ok-%s-%d" % (kind, os.getpid()), "--description",
                         "line\nbreak", check=False)
            self.assertEqual(r.returncode, 2)
            self.assertIn("description", r.stderr)
            r = self.cli(kind, "add", "ok-%s-%d" % (kind, os.getpid()), "--description",
                         "d" * 257, check=False)
            self.assertEqual(r.returncode, 2)
            listed = self.cli(kind, "list").stdout
            for name in bad[1:]:
                self.assertNotIn("\n%s\t" % name, "\n" + listed)
            self.assertNotIn("ok-%s-%d" % (kind, os.getpid()), listed)
        longest = "s" * 64
        self.cli("scope", "add", longest, "--description", "Grüße, 64 bytes")
        self.assertIn(longest + "\tsecret\tGrüße, 64 bytes", self.cli("scope", "list").stdout)


class CliAgainstPostgresTest(CliAgainstServerTest):
    """Every command above again, with the server and the CLI on PostgreSQL
    (database_url): the CLI writes the database directly and the server
    honours it on the next request."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "pg"))
        from pgcluster import PgCluster
        cls.pg = PgCluster().start()
        try:
            cls.server = Server(settings=cls.settings, database_url=cls.pg.createdb("cli"))
            cls.server.start()
        except Exception:
            cls.pg.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            cls.pg.destroy()


class ImportProgressTest(unittest.TestCase):
    def test_progress_line_on_a_terminal_only(self):
        sample = os.path.join(SOURCE_DIR, "catalog", "sample", "public")
        with tempfile.TemporaryDirectory() as d:
            # On a terminal (script(1) gives the command one): a progress line.
            cmd = "%s stac import %s --visibility Public --data-dir %s/a" % (BIN, sample, d)
            r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("importing: ", r.stdout)
            self.assertIn("; committing ...", r.stdout)
            self.assertIn("imported ", r.stdout)
            # Not on a pipe: only the summary, nothing to scroll through logs.
            r = run("stac", "import", sample, "--visibility", "Public", "--data-dir", d + "/b")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("importing:", r.stdout + r.stderr)
            self.assertIn("imported ", r.stdout)


class ConfigPrecedenceTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="tessera-cfg-")
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, *p):
        return os.path.join(self.d, *p)

    def write_config(self, text):
        with open(self.path("tessera.conf"), "w") as f:
            f.write(text)
        return self.path("tessera.conf")

    def test_data_dir_file_env_flag(self):
        conf = self.write_config("# comment\n\ndata_dir = %s\n" % self.path("from-file"))
        r = run("--config", conf, "migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(self.path("from-file")))
        r = run("--config", conf, "migrate", env={"TESSERA_DATA_DIR": self.path("from-env")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(self.path("from-env")))
        r = run("migrate", "--config", conf, "--data-dir", self.path("from-flag"),
                env={"TESSERA_DATA_DIR": self.path("from-env2")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(self.path("from-flag")))
        self.assertFalse(os.path.exists(self.path("from-env2")))
        # Default: ./var relative to the working directory.
        r = run("migrate", cwd=self.d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(self.path("var")))
        # Each source acts on the same store: a user added with the file's
        # data_dir is listed with the flag pointing there.
        self.assertEqual(run("--config", conf, "user", "add", "p@example.com", "--password",
                             "precedence pw").returncode, 0)
        r = run("user", "list", "--data-dir", self.path("from-file"))
        self.assertIn("p@example.com", r.stdout)

    def test_listen_file_env_flag(self):
        port_file = self.path("port")
        conf = self.write_config("listen = 127.0.0.1:1\ndata_dir = %s\nport_file = %s\n"
                                 % (self.path("data"), self.path("port-from-file")))
        # The file says port 1 (not bindable); the environment overrides it
        # with 0, and the flag overrides the file's port_file.
        env = {"TESSERA_LISTEN": "127.0.0.1:0", "TESSERA_LOGIN_RATE_ACCOUNT": "1000"}
        proc = subprocess.Popen([BIN, "serve", "--config", conf, "--port-file", port_file],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=dict(os.environ, **env))
        try:
            deadline = time.time() + 30
            while time.time() < deadline and not os.path.exists(port_file):
                self.assertIsNone(proc.poll(), proc.stderr.read().decode() if proc.poll() else "")
                time.sleep(0.05)
            self.assertTrue(os.path.exists(port_file))
            self.assertFalse(os.path.exists(self.path("port-from-file")))
            import requests
            with open(port_file) as f:
                port = int(f.read())
            self.assertNotEqual(port, 1)
            self.assertEqual(requests.get("http://127.0.0.1:%d/healthz" % port,
                                          timeout=10).status_code, 200)
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(30), 0)
            proc.stderr.close()

    def test_config_file_errors(self):
        conf = self.write_config("data_dir = %s\n\nthis line is wrong\n" % self.path("x"))
        r = run("--config", conf, "migrate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("tessera.conf:3:", r.stderr)
        conf = self.write_config("threads = lots\n")
        r = run("--config", conf, "migrate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("tessera.conf:1:", r.stderr)
        self.assertIn("threads", r.stderr)
        conf = self.write_config("no_such_key = 1\n")
        r = run("--config", conf, "migrate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no_such_key", r.stderr)
        r = run("--config", self.path("missing.conf"), "migrate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.conf", r.stderr)
        r = run("migrate", "--data-dir", self.path("y"), env={"TESSERA_THREADS": "-4"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("TESSERA_THREADS", r.stderr)


if __name__ == "__main__":
    unittest.main()
