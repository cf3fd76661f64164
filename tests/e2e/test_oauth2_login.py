"""Built-in OAuth2 (`mailferry login` and --oauth2 PROVIDER) against the
local mock authorization server (mock_oauth.py) and a Dovecot whose
``passdb oauth2`` validates the mock's access tokens: the device flow with
its pending, slow_down, expired and denied answers; the PKCE code flow with
this test as the user's browser; the stored login (0600 in a 0700
directory); a backup with --oauth2 microsoft; refresh, rotation and
revocation."""

import base64
import json
import os
import random
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from archive import folder_dirs, read_maildir
from fakeimap import FakeImap
from mfharness import Dovecot, HarnessError, mailferry_path, run_mailferry, sample_mailbox
from mock_oauth import MockOAuth
from test_oauth2 import oauth2_config


class OAuth2LoginBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mfoauthlogin-")
        cls.mock = MockOAuth().start()
        try:
            cls.dc = Dovecot(extra_config=oauth2_config(cls.tmp, cls.mock.port, "xoauth2 oauthbearer")).start()
        except HarnessError as e:
            cls.mock.stop()
            raise unittest.SkipTest(f"Dovecot would not start with passdb oauth2: {e}")

    @classmethod
    def tearDownClass(cls):
        cls.dc.stop()
        cls.mock.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self._work = tempfile.TemporaryDirectory()
        self.work = self._work.name
        self.config = os.path.join(self.work, "config")
        self.user = f"ol{random.randrange(10**9)}@example.com"
        self.dc.add_user(self.user, f"unused-{random.randrange(10**12)}")
        self.dc.create_folder(self.user, "INBOX")
        self.mock.rotate = False
        self.mock.slow_downs = 0
        self.mock.expires_in = 3600
        self.mock.deny_browser = False
        self.mock.unavailable = 0

    def tearDown(self):
        self._work.cleanup()

    def env(self):
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update({"XDG_CONFIG_HOME": self.config, "HOME": self.work})
        return env

    def endpoints(self):
        return ["--oauth2-token-url", f"{self.mock.url}/token", "--oauth2-device-url", f"{self.mock.url}/devicecode",
                "--oauth2-auth-url", f"{self.mock.url}/authorize", "--oauth2-client-id", self.mock.client_id]

    def start_login(self, provider="microsoft", extra=()):
        return subprocess.Popen([mailferry_path(), "login", "--oauth2", provider, "--user", self.user,
                                 *self.endpoints(), *extra],
                                env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, proc, timeout=60):
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err

    def user_code(self, proc):
        line = proc.stdout.readline()
        m = re.search(r"open (\S+) in a browser and enter the code (\S+)", line)
        self.assertIsNotNone(m, line)
        self.assertEqual(m.group(1), f"{self.mock.url}/device")
        return m.group(2)

    def grant_file(self, provider="microsoft"):
        return os.path.join(self.config, "mailferry", "oauth2", f"{provider}-{self.user}.json")

    def device_login(self):
        proc = self.start_login()
        self.mock.approve(self.user_code(proc), self.user)
        code, out, err = self.finish(proc)
        self.assertEqual(code, 0, err)
        return out, err

    def stored_refresh_token(self, provider="microsoft"):
        with open(self.grant_file(provider)) as f:
            return json.load(f)["refresh_token"]

    def logins(self):
        return re.findall(rf"Login: user=<{re.escape(self.user)}>, method=([A-Z0-9-]+)", self.dc.log())

    def backup(self, archive, *extra):
        return run_mailferry(["backup", self.dc.url("imaps", self.user), archive, "--cacert", self.dc.cacert,
                              "--oauth2", "microsoft", "--oauth2-token-url", f"{self.mock.url}/token", *extra,
                              "--json"], env=self.env(), timeout=120)


class DeviceFlowTest(OAuth2LoginBase):
    def test_approved_after_pending_stores_the_login_privately(self):
        proc = self.start_login()
        code = self.user_code(proc)
        device = self.mock.device(code)
        deadline = time.monotonic() + 10
        while len(device["polls"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertGreaterEqual(len(device["polls"]), 2, "kept polling while authorization_pending")
        self.mock.approve(code, self.user)
        rc, out, err = self.finish(proc)
        self.assertEqual(rc, 0, err)
        self.assertIn(self.grant_file(), out)
        path = self.grant_file()
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
        token = self.stored_refresh_token()
        self.assertEqual(self.mock.user_of_refresh_token(token), self.user)
        self.assertEqual(device["scope"], "https://outlook.office.com/IMAP.AccessAsUser.All offline_access")
        gaps = [b - a for a, b in zip(device["polls"], device["polls"][1:])]
        self.assertTrue(all(g >= 0.9 for g in gaps), f"polled faster than the interval: {gaps}")
        for t in self.mock.issued:
            self.assertNotIn(t, out + err)

    def test_slow_down_adds_five_seconds(self):
        self.mock.slow_downs = 1
        proc = self.start_login()
        code = self.user_code(proc)
        device = self.mock.device(code)
        deadline = time.monotonic() + 15
        while len(device["polls"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.mock.approve(code, self.user)
        rc, _, err = self.finish(proc)
        self.assertEqual(rc, 0, err)
        polls = device["polls"]
        self.assertGreaterEqual(polls[1] - polls[0], 5.9, "slow_down: interval 1 s + 5 s")

    def test_denied_is_a_login_failure(self):
        proc = self.start_login()
        self.mock.deny(self.user_code(proc))
        rc, _, err = self.finish(proc)
        self.assertEqual(rc, 5, err)
        self.assertIn("declined", err)
        self.assertFalse(os.path.exists(self.grant_file()))

    def test_expired_code_says_so(self):
        proc = self.start_login()
        self.mock.expire(self.user_code(proc))
        rc, _, err = self.finish(proc)
        self.assertEqual(rc, 5, err)
        self.assertIn("expired", err)
        self.assertFalse(os.path.exists(self.grant_file()))

    def test_plain_http_only_to_loopback(self):
        r = run_mailferry(["login", "--oauth2", "microsoft", "--user", self.user,
                           "--oauth2-device-url", "http://login.example.com/devicecode"], env=self.env())
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("https://", r.stderr)


class CodeFlowTest(OAuth2LoginBase):
    def start_google(self):
        secret = os.path.join(self.work, "client-secret")
        with open(secret, "w") as f:
            f.write("mock-secret\n")
        os.chmod(secret, 0o600)
        self.mock.client_secret = "mock-secret"
        self.addCleanup(setattr, self.mock, "client_secret", None)
        proc = self.start_login("google", ["--oauth2-client-secret-file", secret])
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        url = lines[1].strip()
        self.assertTrue(url.startswith(f"{self.mock.url}/authorize?"), lines)
        return proc, url, dict(urllib.parse.parse_qsl(urllib.parse.urlparse(url).query))

    def test_pkce_login_with_the_test_as_browser(self):
        proc, url, query = self.start_google()
        self.assertEqual(query["code_challenge_method"], "S256")
        self.assertEqual(len(query["code_challenge"]), 43)
        self.assertEqual(query["scope"], "https://mail.google.com/")
        self.assertEqual(query["login_hint"], self.user)
        redirect = query["redirect_uri"]
        self.assertRegex(redirect, r"^http://127\.0\.0\.1:\d+/$")
        # A forged redirect (no, or another, state) is not taken for the answer.
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(redirect + "?code=forged&state=wrong", timeout=10)
        # The browser: the provider's page redirects to the loopback address.
        with urllib.request.urlopen(url, timeout=10) as page:
            self.assertIn("signed in", page.read().decode())
        rc, out, err = self.finish(proc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.mock.user_of_refresh_token(self.stored_refresh_token("google")), self.user)
        self.assertNotIn("mock-secret", out + err)

    def test_declined_in_the_browser(self):
        self.mock.deny_browser = True
        proc, url, _ = self.start_google()
        with urllib.request.urlopen(url, timeout=10) as page:
            page.read()
        rc, _, err = self.finish(proc)
        self.assertEqual(rc, 5, err)
        self.assertIn("declined", err)

    def test_google_needs_a_registered_client(self):
        r = run_mailferry(["login", "--oauth2", "google", "--user", self.user], env=self.env())
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--oauth2-client-id", r.stderr)


class RefreshTest(OAuth2LoginBase):
    def test_backup_with_oauth2_microsoft(self):
        sample_mailbox(self.dc, self.user)
        self.device_login()
        archive = os.path.join(self.work, "archive")
        before = self.mock.refreshes
        r = self.backup(archive, "--connections", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(json.loads(r.stdout)["ok"])
        held = read_maildir(folder_dirs(archive)["INBOX"])
        self.assertEqual(sorted(held), sorted(self.dc.messages(self.user, "INBOX", bodies=False)))
        self.assertTrue(self.logins())
        self.assertEqual(self.mock.refreshes - before, 1, "one access token, cached for every connection")

    def test_a_short_lived_token_is_refreshed_for_each_connection(self):
        self.mock.expires_in = 60  # inside the expiry margin: never reused
        sample_mailbox(self.dc, self.user)
        self.device_login()
        before = self.mock.refreshes
        r = self.backup(os.path.join(self.work, "archive"), "--connections", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.monotonic() + 3
        while len(self.logins()) < self.mock.refreshes - before - 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        # The first token is fetched when the command starts, one per login after it.
        self.assertEqual(self.mock.refreshes - before, len(self.logins()) + 1)

    def test_a_rotated_refresh_token_replaces_the_stored_one(self):
        self.dc.save(self.user, "INBOX", b"Subject: one\r\n\r\nbody\r\n")
        self.device_login()
        first = self.stored_refresh_token()
        self.mock.rotate = True
        archive = os.path.join(self.work, "archive")
        r = self.backup(archive)
        self.assertEqual(r.returncode, 0, r.stderr)
        second = self.stored_refresh_token()
        self.assertNotEqual(first, second)
        self.assertIsNone(self.mock.user_of_refresh_token(first))
        self.assertEqual(stat.S_IMODE(os.stat(self.grant_file()).st_mode), 0o600)
        self.assertEqual([n for n in os.listdir(os.path.dirname(self.grant_file())) if ".tmp" in n], [])
        r = self.backup(archive)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_revoked_login_names_the_account_and_the_command(self):
        self.dc.save(self.user, "INBOX", b"Subject: one\r\n\r\nbody\r\n")
        self.device_login()
        self.mock.revoke(self.user)
        archive = os.path.join(self.work, "archive")
        r = self.backup(archive)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(self.user, r.stderr)
        self.assertIn(f"mailferry login --oauth2 microsoft --user {self.user}", r.stderr)
        self.assertEqual(self.logins(), [])
        self.assertTrue(os.path.exists(self.grant_file()), "the stored login is kept")

    def test_a_token_server_in_trouble_is_a_connection_failure(self):
        self.device_login()
        self.mock.unavailable = 1
        r = self.backup(os.path.join(self.work, "archive"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("HTTP 503", r.stderr)

    def test_a_login_of_another_provider_is_refused(self):
        self.device_login()
        r = run_mailferry(["check", self.dc.url("imaps", self.user), "--cacert", self.dc.cacert,
                           "--oauth2", "google", "--oauth2-token-file", self.grant_file()], env=self.env())
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("holds a microsoft login", r.stderr)

    def test_no_stored_login(self):
        r = self.backup(os.path.join(self.work, "archive"))
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(f"mailferry login --oauth2 microsoft --user {self.user}", r.stderr)

    def test_job_key_oauth2_and_another_token_file(self):
        self.dc.save(self.user, "INBOX", b"Subject: one\r\n\r\nbody\r\n")
        token_file = os.path.join(self.work, "logins", "mine.json")
        proc = self.start_login(extra=["--oauth2-token-file", token_file])
        self.mock.approve(self.user_code(proc), self.user)
        rc, _, err = self.finish(proc)
        self.assertEqual(rc, 0, err)
        self.assertEqual(stat.S_IMODE(os.stat(token_file).st_mode), 0o600)
        jobs = {"defaults": {"cacert": self.dc.cacert, "oauth2_token_url": f"{self.mock.url}/token"},
                "jobs": [{"name": "ms", "kind": "backup", "source": self.dc.url("imaps", self.user),
                          "archive": "archive", "oauth2": "microsoft", "oauth2_token_file": token_file}]}
        path = os.path.join(self.work, "jobs.json")
        with open(path, "w") as f:
            json.dump(jobs, f)
        os.chmod(path, 0o600)
        r = run_mailferry(["run", path, "--json"], env=self.env(), timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([j["exit_code"] for j in json.loads(r.stdout)["jobs"]], [0])
        self.assertEqual(self.mock.refreshes > 0, True)


class AccessTokenExpiredTest(OAuth2LoginBase):
    """Exchange Online ends a session whose token ran out with
    "* BYE Session invalidated - AccessTokenExpired" (iroco-co/aioimaplib
    issue 83, as test_providers.py cites). That is a session failure: the engine logs
    in again, and the new login carries a token refreshed from the stored
    login, not the one the server refused."""

    def test_the_reconnect_gets_a_fresh_token(self):
        self.mock.expires_in = 300  # within the expiry margin: no token is reused
        self.backup_with_an_expired_session()

    def test_a_token_good_by_our_clock_is_not_reused_after_the_server_said_it_expired(self):
        # Issue 19: "refreshed again after AccessTokenExpired". The token has
        # an hour left by the token endpoint's expires_in, and would be
        # reused for the next connection were it not for the server's word.
        self.mock.expires_in = 3600
        self.backup_with_an_expired_session()

    def test_a_token_refused_at_login_is_replaced_once(self):
        # Issue 19: a token the server refuses at AUTHENTICATE, though it had
        # an hour left by its expires_in, is refreshed and the login tried
        # once more; a second refusal is the login's failure (exit 5).
        self.mock.expires_in = 3600
        self.device_login()
        for refusals, code, logins in ((1, 0, 2), (2, 5, 2)):
            tokens = []

            def authenticate(server, tag, rest, selected, tokens=tokens, refusals=refusals):
                tokens.append(base64.b64decode(rest.split(b" ")[2]))
                if len(tokens) <= refusals:
                    return tag + b" NO AUTHENTICATE failed.\r\n"
                return tag + b" OK AUTHENTICATE completed.\r\n"
            with self.subTest(refusals=refusals), \
                    FakeImap({"INBOX": [b"Subject: a\r\n\r\nbody\r\n"]},
                             capability=b"IMAP4rev1 AUTH=XOAUTH2 SASL-IR LITERAL+",
                             overrides={"AUTHENTICATE": authenticate}) as srv:
                r = run_mailferry(["backup", f"imap://{self.user}@127.0.0.1:{srv.port}",
                                   os.path.join(self.work, f"archive{refusals}"), "--allow-plaintext",
                                   "--oauth2", "microsoft", "--oauth2-token-url", f"{self.mock.url}/token",
                                   "--connections", "1"], env=self.env(), timeout=60)
                self.assertEqual(r.returncode, code, r.stdout + r.stderr)
                self.assertEqual(len(tokens), logins, tokens)
                self.assertNotEqual(tokens[0], tokens[1], "the second login carried a fresh token")

    def backup_with_an_expired_session(self):
        self.device_login()
        tokens = []

        def authenticate(server, tag, rest, selected):
            words = rest.split(b" ")
            if len(words) > 2:  # SASL-IR: user=...^Aauth=Bearer TOKEN^A^A
                fields = base64.b64decode(words[2]).split(b"\x01")
                tokens.append(next(f for f in fields if f.startswith(b"auth=")).split(b" ", 1)[1])
            return tag + b" OK AUTHENTICATE completed.\r\n"
        sent = {"bye": False}

        def examine(server, tag, rest, selected):
            if sent["bye"] or b"Sent" not in rest:
                return None
            sent["bye"] = True
            return b"* BYE Session invalidated - AccessTokenExpired\r\n"
        msg = b"Subject: a\r\nMessage-ID: <a@x>\r\n\r\nbody\r\n"
        with FakeImap({"INBOX": [msg], "Sent": [msg]}, capability=b"IMAP4rev1 AUTH=XOAUTH2 SASL-IR LITERAL+",
                      overrides={"AUTHENTICATE": authenticate, "EXAMINE": examine}) as srv:
            archive = os.path.join(self.work, "archive")
            r = run_mailferry(["backup", f"imap://{self.user}@127.0.0.1:{srv.port}", archive, "--allow-plaintext",
                               "--oauth2", "microsoft", "--oauth2-token-url", f"{self.mock.url}/token",
                               "--connections", "1", "--json"], env=self.env(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["reconnects"], 1)
        self.assertEqual(len(tokens), 2, tokens)
        self.assertNotEqual(tokens[0], tokens[1], "the new session logged in with a new token")
        self.assertTrue(all(t.decode() in self.mock.access_tokens for t in tokens))
        self.assertEqual(sorted(folder_dirs(archive)), ["INBOX", "Sent"])


if __name__ == "__main__":
    unittest.main()
