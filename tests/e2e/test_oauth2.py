"""OAuth2 login (SASL OAUTHBEARER and XOAUTH2) with --oauth2-token-command,
against a Dovecot whose ``passdb oauth2`` validates tokens with a small HTTP
server that the test runs on 127.0.0.1 (token info by GET, introspection by
POST, as an identity provider would answer them)."""

import json
import os
import random
import re
import shlex
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from archive import folder_dirs, read_maildir
from mfharness import Dovecot, HarnessError, make_message, run_mailferry, sample_mailbox


class TokenServer:
    """Knows which token belongs to which user; answers Dovecot's token-info
    GET (?access_token=...) and introspection POST (token=...)."""

    def __init__(self):
        self.tokens = {}
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = urllib.parse.urlparse(self.path).query
                self.answer(urllib.parse.parse_qs(query).get("access_token", [""])[0])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                self.answer(urllib.parse.parse_qs(body).get("token", [""])[0])

            def answer(self, token):
                owner.requests += 1
                user = owner.tokens.get(token)
                data = json.dumps({"active": True, "username": user} if user else
                                  {"active": False, "error": "invalid_token"}).encode()
                self.send_response(200 if user else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def oauth2_config(tmp, port, mechanisms):
    """Dovecot's oauth2 passdb, pointed at the token server. The file must be
    readable by Dovecot's auth process (it runs as the dovecot user)."""
    os.chmod(tmp, 0o755)
    conf = os.path.join(tmp, "dovecot-oauth2.conf.ext")
    with open(conf, "w") as f:
        f.write(f"tokeninfo_url = http://127.0.0.1:{port}/tokeninfo?access_token=\n"
                f"introspection_url = http://127.0.0.1:{port}/introspect\n"
                "introspection_mode = post\n"
                "force_introspection = yes\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n")
    os.chmod(conf, 0o644)
    return f"""
auth_mechanisms = plain login {mechanisms}
passdb {{
  driver = oauth2
  mechanisms = {mechanisms}
  args = {conf}
}}
"""


class OAuth2Base(unittest.TestCase):
    MECHANISMS = "xoauth2 oauthbearer"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mfoauth-")
        cls.tokens = TokenServer().start()
        try:
            cls.dc = Dovecot(extra_config=oauth2_config(cls.tmp, cls.tokens.port, cls.MECHANISMS)).start()
        except HarnessError as e:
            cls.tokens.stop()
            raise unittest.SkipTest(f"Dovecot would not start with passdb oauth2: {e}")

    @classmethod
    def tearDownClass(cls):
        cls.dc.stop()
        cls.tokens.stop()
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self._work = tempfile.TemporaryDirectory()
        self.work = self._work.name
        self.user = f"oa{random.randrange(10**9)}"
        self.token = f"tok-{self.user}-{random.randrange(10**12)}"
        self.tokens.tokens[self.token] = self.user
        self.add_account(self.user)

    def tearDown(self):
        self._work.cleanup()

    def add_account(self, user):
        """The harness loads mail as the user through Dovecot's user lookup,
        which wants the user in the passwd-file as well; its password is
        never used here (and a token is never compared with it)."""
        self.dc.add_user(user, f"unused-{random.randrange(10**12)}")
        self.dc.create_folder(user, "INBOX")

    def token_command(self, token, name="runs"):
        """A command that prints `token` and counts its own runs in a file."""
        runs = os.path.join(self.work, name)
        return f"echo run >> {shlex.quote(runs)}; echo {shlex.quote(token)}", runs

    @staticmethod
    def count_lines(path):
        if not os.path.exists(path):
            return 0
        with open(path) as f:
            return len(f.read().splitlines())

    def logins(self, user, mechanism=None):
        """Successful logins of `user` in the Dovecot log, with their SASL mechanism."""
        found = re.findall(rf"Login: user=<{re.escape(user)}>, method=([A-Z0-9-]+)", self.dc.log())
        return [m for m in found if mechanism is None or m == mechanism]

    def wait_logins(self, user, count):
        deadline = time.monotonic() + 3
        while len(self.logins(user)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.logins(user)


class OAuthBearerTest(OAuth2Base):
    def test_check_logs_in_with_a_good_token(self):
        command, runs = self.token_command(self.token)
        r = run_mailferry(["check", self.dc.url("imaps", self.user), "--cacert", self.dc.cacert,
                           "--oauth2-token-command", command])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"ok as {self.user}", r.stdout)
        self.assertNotIn(self.token, r.stdout + r.stderr)
        self.assertEqual(self.count_lines(runs), 1)
        self.assertEqual(self.wait_logins(self.user, 1), ["OAUTHBEARER"])

    def test_a_wrong_token_is_an_authentication_failure(self):
        command, runs = self.token_command("tok-nobody-knows")
        archive = os.path.join(self.work, "archive")
        for args in (["check", self.dc.url("imaps", self.user)],
                     ["backup", self.dc.url("imaps", self.user), archive]):
            with self.subTest(args[0]):
                r = run_mailferry([*args, "--cacert", self.dc.cacert, "--oauth2-token-command", command])
                self.assertEqual(r.returncode, 5, r.stderr)
                self.assertIn("refused", r.stderr)
        self.assertEqual(self.logins(self.user), [])

    def test_a_token_of_another_user_is_refused(self):
        other = f"tok-other-{random.randrange(10**9)}"
        self.tokens.tokens[other] = "someone-else"
        command, _ = self.token_command(other)
        r = run_mailferry(["check", self.dc.url("imaps", self.user), "--cacert", self.dc.cacert,
                           "--oauth2-token-command", command])
        self.assertEqual(r.returncode, 5, r.stderr)

    def test_backup_with_a_token_runs_the_command_once_per_connection(self):
        sample_mailbox(self.dc, self.user)
        command, runs = self.token_command(self.token)
        archive = os.path.join(self.work, "archive")
        for round_ in (1, 2):
            r = run_mailferry(["backup", self.dc.url("imaps", self.user), archive, "--cacert", self.dc.cacert,
                               "--oauth2-token-command", command, "--json"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(json.loads(r.stdout)["ok"])
            logins = self.wait_logins(self.user, round_)
            self.assertEqual(self.count_lines(runs), len(logins), "one token per connection, no more, no fewer")
        self.assertEqual(set(logins), {"OAUTHBEARER"})
        held = read_maildir(folder_dirs(archive)["INBOX"])
        self.assertEqual(sorted(held), sorted(self.dc.messages(self.user, "INBOX", bodies=False)))

    def test_each_side_of_a_migration_gets_its_own_token(self):
        target = f"oa{random.randrange(10**9)}"
        target_token = f"tok-{target}"
        self.tokens.tokens[target_token] = target
        self.add_account(target)
        self.dc.save(self.user, "INBOX", make_message(1))
        source_command, source_runs = self.token_command(self.token, "source-runs")
        target_command, target_runs = self.token_command(target_token, "target-runs")
        r = run_mailferry(["migrate", self.dc.url("imaps", self.user), self.dc.url("imaps", target),
                           "--cacert", self.dc.cacert, "--state", os.path.join(self.work, "state.db"),
                           "--source-oauth2-token-command", source_command,
                           "--target-oauth2-token-command", target_command],
                          env={"HOME": self.work})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.dc.count(target, "INBOX"), 1)
        self.assertEqual(self.count_lines(source_runs), len(self.wait_logins(self.user, 1)))
        self.assertEqual(self.count_lines(target_runs), len(self.wait_logins(target, 1)))

    def test_a_failing_token_command_names_itself(self):
        r = run_mailferry(["check", self.dc.url("imaps", self.user), "--cacert", self.dc.cacert,
                           "--oauth2-token-command", "echo 'no refresh token' >&2; exit 3"])
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("OAuth2 token command exited with status 3", r.stderr)
        self.assertIn("no refresh token", r.stderr)
        self.assertEqual(self.logins(self.user), [])

    def test_run_jobs_with_tokens(self):
        command, runs = self.token_command(self.token)
        jobs = {"defaults": {"cacert": self.dc.cacert, "oauth2_token_command": command},
                "jobs": [{"name": f"oauth-{i}", "kind": "backup", "source": self.dc.url("imaps", self.user),
                          "archive": f"archive-{i}"} for i in range(2)]}
        path = os.path.join(self.work, "jobs.json")
        with open(path, "w") as f:
            json.dump(jobs, f)
        os.chmod(path, 0o600)
        r = run_mailferry(["run", path, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([j["exit_code"] for j in json.loads(r.stdout)["jobs"]], [0, 0])
        self.assertEqual(self.count_lines(runs), len(self.wait_logins(self.user, 2)))
        self.assertGreaterEqual(self.count_lines(runs), 2)


class XOAuth2Test(OAuth2Base):
    """A server that offers only XOAUTH2 (Gmail's and Microsoft's older mechanism)."""
    MECHANISMS = "xoauth2"

    def test_check_and_wrong_token(self):
        command, runs = self.token_command(self.token)
        r = run_mailferry(["check", self.dc.url("imaps", self.user), "--cacert", self.dc.cacert,
                           "--oauth2-token-command", command])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.wait_logins(self.user, 1), ["XOAUTH2"])
        self.assertEqual(self.count_lines(runs), 1)
        r = run_mailferry(["check", self.dc.url("imaps", self.user), "--cacert", self.dc.cacert,
                           "--oauth2-token-command", "echo wrong-token"])
        self.assertEqual(r.returncode, 5, r.stderr)


if __name__ == "__main__":
    unittest.main()
