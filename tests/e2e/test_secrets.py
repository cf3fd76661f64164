"""Secrets: a canary password (and a wrong one) goes through check, backup
(IMAP, POP3, Maildir and mbox), migrate, restore and mirror at --debug, the
most verbose level, with --json where there is a report. It must appear in
no stdout, stderr, JSON report, state database, archive file or anything
else the runs leave behind, neither as it is nor inside base64 (SASL PLAIN).
Archives and state are private: directories 0700, files 0600.

The same for OAuth2 (OAuth2SecretsTest): every access token, refresh token,
device code and the client secret that the mock authorization server
(mock_oauth.py) handed out or was given, through login, check, backup,
migrate, restore and mirror with --oauth2 at --debug, a rotation and a
revoked login. Only the stored login itself holds a refresh token."""

import os
import re
import random
import shutil
import stat
import tempfile
import unittest

from faultproxy import Fault, FaultProxy
from mfharness import Dovecot, HarnessError, mailferry_path, sample_mailbox
from mock_oauth import MockOAuth, device_login
from mfrun import assert_sane_exit, run_measured, secret_forms

CANARY = f"Canary-Secret-{random.randrange(10**9)}-x"
WRONG = f"Wrong-Canary-{random.randrange(10**9)}-y"
FORMS = secret_forms(CANARY) + secret_forms(WRONG)


class SecretsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src = Dovecot().start()
        cls.dst = Dovecot().start()
        cls.user, cls.target, cls.mirror_target = "keeper", "t1", "t2"
        cls.src.add_user(cls.user, CANARY)
        cls.dst.add_user(cls.target, CANARY)
        cls.dst.add_user(cls.mirror_target, CANARY)
        sample_mailbox(cls.src, cls.user)
        cls.tmp = tempfile.mkdtemp(prefix="mfsecrets-")
        cls.home = os.path.join(cls.tmp, "home")
        os.mkdir(cls.home, 0o700)
        cls.runs = []       # (name, Run)
        cls.paths = []      # what the runs made, to be scanned
        cls.run_all()

    @classmethod
    def tearDownClass(cls):
        cls.src.stop()
        cls.dst.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def mf(cls, name, args, password=CANARY):
        env = {"HOME": cls.home, "XDG_STATE_HOME": os.path.join(cls.home, ".local", "state"),
               "XDG_CONFIG_HOME": os.path.join(cls.home, ".config"),
               "XDG_CACHE_HOME": os.path.join(cls.home, ".cache")}
        r = run_measured([*args, "--debug"], password=password, env=env, cwd=cls.home, timeout=120)
        cls.runs.append((name, r))
        return r

    @classmethod
    def path(cls, name):
        p = os.path.join(cls.tmp, name)
        cls.paths.append(p)
        return p

    @classmethod
    def run_all(cls):
        s, d = cls.src, cls.dst
        src_tls = ["--cacert", s.cacert]
        for pw, tag in ((CANARY, "right"), (WRONG, "wrong")):
            for scheme in ("imaps", "imap", "pop3s", "pop3"):
                cls.mf(f"check {scheme} {tag}", ["check", s.url(scheme, cls.user), *src_tls,
                                                  "--password-env", "MF_TEST_PASSWORD", "--json"], pw)
            for scheme, fmt in (("imaps", "maildir"), ("imap", "mbox"), ("pop3s", "maildir"), ("pop3", "mbox")):
                archive = cls.path(f"backup-{scheme}-{fmt}-{tag}")
                cls.mf(f"backup {scheme} {fmt} {tag}",
                       ["backup", s.url(scheme, cls.user), archive, "--format", fmt, *src_tls,
                        "--password-env", "MF_TEST_PASSWORD", "--json"], pw)
            cls.mf(f"migrate imap {tag}",
                   ["migrate", s.url("imaps", cls.user), d.url("imaps", cls.target),
                    "--source-cacert", s.cacert, "--target-cacert", d.cacert,
                    "--source-password-env", "MF_TEST_PASSWORD", "--target-password-env", "MF_TEST_PASSWORD",
                    "--state", cls.path(f"migrate-{tag}.db"), "--json"], pw)
            cls.mf(f"migrate pop3 {tag}",
                   ["migrate", s.url("pop3s", cls.user), d.url("imaps", cls.target),
                    "--source-cacert", s.cacert, "--target-cacert", d.cacert, "--map", "INBOX=FromPop",
                    "--source-password-env", "MF_TEST_PASSWORD", "--target-password-env", "MF_TEST_PASSWORD",
                    "--state", cls.path(f"migrate-pop3-{tag}.db"), "--json"], pw)
            cls.mf(f"restore {tag}",
                   ["restore", os.path.join(cls.tmp, "backup-imaps-maildir-right"), d.url("imaps", cls.target),
                    "--target-cacert", d.cacert, "--target-password-env", "MF_TEST_PASSWORD", "--json"], pw)
            cls.mf(f"mirror {tag}",
                   ["mirror", s.url("imaps", cls.user), d.url("imaps", cls.mirror_target),
                    "--source-cacert", s.cacert, "--target-cacert", d.cacert,
                    "--source-password-env", "MF_TEST_PASSWORD", "--target-password-env", "MF_TEST_PASSWORD",
                    "--json"], pw)       # no --state: the default place, under XDG_STATE_HOME
        # The password from a file, not the environment.
        pwfile = os.path.join(cls.tmp, "pwfile")
        with open(pwfile, "w") as f:
            f.write(CANARY + "\n")
        os.chmod(pwfile, 0o600)
        cls.mf("backup password file", ["backup", s.url("imaps", cls.user), cls.path("backup-pwfile"),
                                        *src_tls, "--password-file", pwfile, "--json"], None)
        # A connection cut in the middle of a message: the run logs in again
        # (issue 18), so the password goes out twice, in clear text here.
        with FaultProxy(s.imap_port, Fault("s2c", "cut", pattern=b"BODY[] {", offset=40), hide_starttls=True,
                        connections={0}) as proxy:
            cls.reconnected = cls.mf("backup after a lost connection",
                                     ["backup", f"imap://{cls.user}@127.0.0.1:{proxy.port}",
                                      cls.path("backup-reconnect"), "--allow-plaintext", "--connections", "1",
                                      "--password-env", "MF_TEST_PASSWORD", "--json"])

    # -- the checks ----------------------------------------------------------

    def test_runs_did_what_they_should(self):
        """Control: the right password worked and the wrong one failed as
        an authentication error, so the scans below saw real runs."""
        for name, r in self.runs:
            with self.subTest(name):
                assert_sane_exit(self, r)
                if name.endswith("wrong"):
                    self.assertEqual(r.returncode, 5, r.output[-1500:])
                else:
                    self.assertEqual(r.returncode, 0, r.output[-1500:])
        traces = "".join(r.stderr for _, r in self.runs)
        self.assertRegex(traces, r"AUTHENTICATE PLAIN <redacted>|AUTH PLAIN <redacted>|LOGIN .*<redacted>")
        import json
        self.assertGreaterEqual(json.loads(self.reconnected.stdout)["reconnects"], 1)
        self.assertGreaterEqual(len(re.findall(r"(AUTHENTICATE|LOGIN) .*<redacted>", self.reconnected.stderr)), 2)

    def test_no_secret_in_any_output(self):
        for name, r in self.runs:
            for form in FORMS:
                with self.subTest(name, form=form):
                    text = form.decode()
                    self.assertNotIn(text, r.stdout, "in stdout / the JSON report")
                    self.assertNotIn(text, r.stderr, "in stderr / the debug trace")

    def test_no_secret_in_any_file_left_behind(self):
        scanned = 0
        for root in [self.home, *self.paths]:
            for path in self.files_under(root):
                scanned += 1
                with open(path, "rb") as f:
                    data = f.read()
                for form in FORMS:
                    self.assertNotIn(form, data, f"{form!r} in {path}")
        self.assertGreater(scanned, 20)

    def test_archives_and_state_are_private(self):
        checked = 0
        roots = [p for p in self.paths if os.path.exists(p)]
        roots.append(os.path.join(self.home, ".local", "state", "mailferry"))
        for root in roots:
            for path in self.entries_under(root):
                mode = stat.S_IMODE(os.lstat(path).st_mode)
                want = 0o700 if os.path.isdir(path) else 0o600
                checked += 1
                self.assertEqual(mode, want, f"{path} is {mode:o}, not {want:o}")
        self.assertGreater(checked, 30)

    def test_nothing_written_to_home_but_the_default_state(self):
        self.assertTrue(os.path.isdir(os.path.join(self.home, ".local", "state", "mailferry")),
                        "mirror without --state did not use $XDG_STATE_HOME/mailferry")
        for path in self.entries_under(self.home):
            rel = os.path.relpath(path, self.home)
            self.assertTrue(rel in (".", ".local", os.path.join(".local", "state"))
                            or rel.startswith(os.path.join(".local", "state", "mailferry")), rel)

    @staticmethod
    def entries_under(root):
        if os.path.isfile(root):
            yield root
            for suffix in ("-wal", "-shm", "-journal", ".lock"):
                if os.path.exists(root + suffix):
                    yield root + suffix
            return
        for dirpath, dirs, files in os.walk(root):
            yield dirpath
            for name in files:
                yield os.path.join(dirpath, name)

    def files_under(self, root):
        return [p for p in self.entries_under(root) if os.path.isfile(p)]


class OAuth2SecretsTest(unittest.TestCase):
    CLIENT_SECRET = f"Canary-Client-Secret-{random.randrange(10**9)}-z"

    @classmethod
    def setUpClass(cls):
        from test_oauth2 import oauth2_config
        cls.tmp = tempfile.mkdtemp(prefix="mfsecrets-oauth-")
        cls.mock = MockOAuth(client_secret=cls.CLIENT_SECRET).start()
        try:
            cls.dc = Dovecot(extra_config=oauth2_config(cls.tmp, cls.mock.port, "xoauth2 oauthbearer")).start()
        except HarnessError as e:
            cls.mock.stop()
            raise unittest.SkipTest(f"Dovecot would not start with passdb oauth2: {e}")
        cls.home = os.path.join(cls.tmp, "home")
        os.mkdir(cls.home, 0o700)
        cls.env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        cls.env.update({"HOME": cls.home, "XDG_CONFIG_HOME": os.path.join(cls.home, ".config"),
                        "XDG_STATE_HOME": os.path.join(cls.home, ".local", "state")})
        cls.secret_file = os.path.join(cls.tmp, "client-secret")
        with open(cls.secret_file, "w") as f:
            f.write(cls.CLIENT_SECRET + "\n")
        os.chmod(cls.secret_file, 0o600)
        cls.user, cls.target, cls.revoked = "oauth-keeper@example.com", "oauth-t1@example.com", "oauth-r@example.com"
        for u in (cls.user, cls.target, cls.revoked):
            cls.dc.add_user(u, f"unused-{random.randrange(10**12)}")
            cls.dc.create_folder(u, "INBOX")
        sample_mailbox(cls.dc, cls.user)
        cls.runs = []
        try:
            cls.run_all()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.dc.stop()
        cls.mock.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def settings(cls):
        return ["--oauth2-token-url", f"{cls.mock.url}/token", "--oauth2-client-secret-file", cls.secret_file]

    @classmethod
    def mf(cls, name, args, expect=0):
        r = run_measured([*args, "--debug"], env=cls.env, cwd=cls.home, timeout=120)
        cls.runs.append((name, r, expect))
        return r

    @classmethod
    def run_all(cls):
        for u in (cls.user, cls.target, cls.revoked):
            rc, out, err = device_login(cls.mock, mailferry_path(), u, cls.env,
                                        ["--oauth2-client-secret-file", cls.secret_file])
            cls.runs.append((f"login {u}", Done(rc, out, err), 0))
        d, tls = cls.dc, ["--cacert", cls.dc.cacert]
        cls.mock.rotate = True
        cls.mf("check", ["check", d.url("imaps", cls.user), *tls, "--oauth2", "microsoft", *cls.settings(), "--json"])
        cls.mf("backup", ["backup", d.url("imaps", cls.user), os.path.join(cls.tmp, "a1"), *tls,
                          "--oauth2", "microsoft", *cls.settings(), "--json", "--connections", "3"])
        cls.mf("backup mbox", ["backup", d.url("imap", cls.user), os.path.join(cls.tmp, "a2"), *tls,
                               "--format", "mbox", "--oauth2", "microsoft", *cls.settings(), "--json"])
        cls.mf("migrate", ["migrate", d.url("imaps", cls.user), d.url("imaps", cls.target), *tls,
                           "--source-oauth2", "microsoft", "--target-oauth2", "microsoft", *cls.settings(),
                           "--state", os.path.join(cls.tmp, "m.db"), "--json"])
        cls.mf("restore", ["restore", os.path.join(cls.tmp, "a1"), d.url("imaps", cls.target), *tls,
                           "--target-oauth2", "microsoft", *cls.settings(), "--json"])
        cls.mf("mirror", ["mirror", d.url("imaps", cls.user), d.url("imaps", cls.target), *tls,
                          "--source-oauth2", "microsoft", "--target-oauth2", "microsoft", *cls.settings(),
                          "--json", "--force"])
        cls.mock.revoke(cls.revoked)
        cls.mf("revoked", ["backup", d.url("imaps", cls.revoked), os.path.join(cls.tmp, "a3"), *tls,
                           "--oauth2", "microsoft", *cls.settings(), "--json"], expect=5)

    def forms(self):
        secrets = [*self.mock.issued, self.CLIENT_SECRET]
        return [f for s in secrets for f in secret_forms(s)]

    def test_runs_did_what_they_should(self):
        for name, r, expect in self.runs:
            with self.subTest(name):
                self.assertEqual(r.returncode, expect, (r.stdout + r.stderr)[-1500:])
        self.assertGreater(self.mock.refreshes, 6)
        self.assertGreater(len(self.mock.issued), 10)

    def test_no_token_in_any_output(self):
        forms = self.forms()
        for name, r, _ in self.runs:
            for form in forms:
                text = form.decode()
                self.assertNotIn(text, r.stdout, f"{name}: in stdout / the JSON report")
                self.assertNotIn(text, r.stderr, f"{name}: in stderr / the debug trace")

    def test_only_the_stored_logins_hold_a_refresh_token(self):
        logins = os.path.join(self.home, ".config", "mailferry", "oauth2")
        stored = sorted(os.listdir(logins))
        self.assertEqual(stored, sorted(f"microsoft-{u}.json" for u in (self.user, self.target, self.revoked)))
        self.assertEqual(stat.S_IMODE(os.stat(logins).st_mode), 0o700)
        forms = self.forms()
        scanned = 0
        for root in (self.tmp,):
            for path in SecretsTest.entries_under(root):
                if path.startswith(logins + os.sep):
                    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)
                    continue
                if path == self.secret_file or not os.path.isfile(path):
                    continue
                scanned += 1
                with open(path, "rb") as f:
                    data = f.read()
                for form in forms:
                    self.assertNotIn(form, data, f"{form!r} in {path}")
        self.assertGreater(scanned, 10)


class Done:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


if __name__ == "__main__":
    unittest.main()
