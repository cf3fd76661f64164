"""A new user's first runs (issue 21): a first backup that fails before its
login leaves an archive the corrected command adopts; `status` tells such an
archive from a healthy one; an mbox archive needs --format only once; an
archive another user made is diagnosed by owner, mode and user; and the
files written outside the archive (report, metrics, --state) never replace
a device, a FIFO or a symlink with a regular file.

Scripted servers only (fakeimap.py) and refused ports: every test takes a
second or two."""

import json
import os
import stat
import subprocess
import tempfile
import threading
import unittest

from fakeimap import FakeImap
from mfharness import free_port, mailferry_path, run_mailferry

MSG = b"From: a@example.org\r\nSubject: first\r\nMessage-ID: <first@example.org>\r\n\r\nbody\r\n"
NOBODY = 65534
PASSWORD = "Canary-Pass-7d1e"


def refuse_login(server, tag, rest, selected):
    return tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"


def backup(url, archive, *extra, user=None):
    args = ["backup", url, archive, "--allow-plaintext", "--password-env", "MF_TEST_PASSWORD",
            "--timeout", "10", *extra]
    if user is None:
        return run_mailferry(args, password=PASSWORD)
    return as_user(user, args, password=PASSWORD)


def as_user(uid, args, password=None):
    """mailferry run by another user (uid and gid `uid`), as a cron job of
    that user would be."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    if password is not None:
        env["MF_TEST_PASSWORD"] = password

    # user= and group= switch in the child without running Python there
    # (preexec_fn is not safe beside the fake server's threads).
    return subprocess.run([mailferry_path(), *args], env=env, user=uid, group=uid, extra_groups=[],
                          capture_output=True, text=True, errors="replace", timeout=60, cwd="/")


def status(archive, user=None):
    args = ["status", archive, "--json"]
    r = run_mailferry(args) if user is None else as_user(user, args)
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.archive = os.path.join(self.tmp, "archive")

    def tearDown(self):
        self._tmp.cleanup()


class FirstRunTest(TempDirTest):
    def test_a_refused_login_leaves_an_archive_the_corrected_command_adopts(self):
        with FakeImap({"INBOX": [MSG]}, overrides={"AUTHENTICATE": refuse_login,
                                                   "LOGIN": refuse_login}) as bad:
            r = backup(f"imap://alcie@127.0.0.1:{bad.port}", self.archive)
        self.assertEqual(r.returncode, 5, r.stderr)
        r, doc = status(self.archive)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(doc["state"], "empty")
        self.assertEqual(doc["source"], "")
        text = run_mailferry(["status", self.archive])
        self.assertIn("empty: no backup has logged in yet", text.stdout)
        with FakeImap({"INBOX": [MSG]}) as good:
            r = backup(f"imap://alice@127.0.0.1:{good.port}", self.archive)
        self.assertEqual(r.returncode, 0, r.stderr)
        r, doc = status(self.archive)
        self.assertEqual((r.returncode, doc["state"], doc["source"]),
                         (0, "ok", "imap://alice@127.0.0.1"), r.stderr)

    def test_a_refused_port_binds_nothing(self):
        r = backup(f"imap://alice@localhost:{free_port()}", self.archive)
        self.assertEqual(r.returncode, 3, r.stderr)
        with FakeImap({"INBOX": [MSG]}) as good:
            r = backup(f"imap://alice@127.0.0.1:{good.port}", self.archive)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_bound_archive_is_still_refused_to_another_account(self):
        with FakeImap({"INBOX": [MSG]}) as good:
            self.assertEqual(backup(f"imap://alice@127.0.0.1:{good.port}", self.archive).returncode, 0)
            r = backup(f"imap://bob@127.0.0.1:{good.port}", self.archive)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("holds a backup of imap://alice@127.0.0.1", r.stderr)

    def test_status_tells_a_never_completed_archive(self):
        def fail_examine(server, tag, rest, selected):
            return tag + b" NO [UNAVAILABLE] try later\r\n"
        with FakeImap({"INBOX": [MSG]}, overrides={"EXAMINE": fail_examine, "SELECT": fail_examine}) as srv:
            backup(f"imap://alice@127.0.0.1:{srv.port}", self.archive)
        r, doc = status(self.archive)
        self.assertEqual((r.returncode, doc["state"]), (1, "never_completed"), r.stdout + r.stderr)
        self.assertIn("never completed", run_mailferry(["status", self.archive]).stdout)


class FormatTest(TempDirTest):
    def test_an_mbox_archive_needs_format_only_to_be_created(self):
        with FakeImap({"INBOX": [MSG]}) as srv:
            url = f"imap://alice@127.0.0.1:{srv.port}"
            self.assertEqual(backup(url, self.archive, "--format", "mbox").returncode, 0)
            srv.folders[b"INBOX"] = [MSG, MSG.replace(b"first", b"second")]
            r = backup(url, self.archive)
            self.assertEqual(r.returncode, 0, r.stderr)
            r2 = backup(url, self.archive, "--format", "maildir")
        _, doc = status(self.archive)
        self.assertEqual(doc["format"], "mbox")
        self.assertEqual(doc["folders"][0]["messages"], 2)
        self.assertFalse(os.path.isdir(os.path.join(self.archive, "INBOX", "cur")))
        self.assertEqual(r2.returncode, 2, r2.stderr)
        self.assertIn("is in mbox format, not maildir", r2.stderr)

    def test_a_new_archive_is_maildir_without_format(self):
        with FakeImap({"INBOX": [MSG]}) as srv:
            self.assertEqual(backup(f"imap://alice@127.0.0.1:{srv.port}", self.archive).returncode, 0)
        self.assertEqual(status(self.archive)[1]["format"], "maildir")


@unittest.skipUnless(os.geteuid() == 0, "needs root to make an archive another user cannot read")
class PermissionTest(TempDirTest):
    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)  # the way in is open; the archive itself is not
        with FakeImap({"INBOX": [MSG]}) as srv:
            self.port = srv.port
            self.assertEqual(backup(f"imap://alice@127.0.0.1:{srv.port}", self.archive).returncode, 0)

    def assert_diagnosed(self, r, blamed, mode):
        self.assertNotIn("not a mailferry archive", r.stderr)
        self.assertIn(f"{blamed} is owned by root (uid 0), mode {mode}", r.stderr)
        self.assertRegex(r.stderr, rf"running as uid {NOBODY} \(nobody\)")

    def test_status_and_backup_of_an_archive_root_made(self):
        r, _ = status(self.archive, user=NOBODY)
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assert_diagnosed(r, self.archive, "0700")
        with FakeImap({"INBOX": [MSG]}) as srv:
            r = backup(f"imap://alice@127.0.0.1:{srv.port}", self.archive, user=NOBODY)
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assert_diagnosed(r, self.archive, "0700")
        self.assertNotIn("cannot create directory", r.stderr)

    def test_a_state_database_others_may_only_read(self):
        meta = os.path.join(self.archive, ".mailferry")
        for d in (self.archive, meta):
            os.chmod(d, 0o755)
        db = os.path.join(meta, "state.db")
        os.chmod(db, 0o644)
        with FakeImap({"INBOX": [MSG]}) as srv:
            r = backup(f"imap://alice@127.0.0.1:{srv.port}", self.archive, user=NOBODY)
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(f"cannot write {db}", r.stderr)
        self.assert_diagnosed(r, db, "0644")


class OutputFileTest(TempDirTest):
    """--report-file and --metrics-file of `run`, --state of a migration."""

    def run_jobs(self, *extra):
        jobs = os.path.join(self.tmp, "jobs.json")
        with open(jobs, "w") as f:
            json.dump({"jobs": [{"name": "dead", "kind": "backup", "archive": "a",
                                 "source": f"imap://alice@127.0.0.1:{free_port()}",
                                 "allow_plaintext": True, "password_env": "MF_TEST_PASSWORD"}]}, f)
        os.chmod(jobs, 0o600)
        return run_mailferry(["run", jobs, *extra], password=PASSWORD)

    def make_null(self, name):
        path = os.path.join(self.tmp, name)
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            self.skipTest("mknod needs root")
        return path

    def assert_null(self, path):
        st = os.lstat(path)
        self.assertTrue(stat.S_ISCHR(st.st_mode), f"{path} is no longer a character device")
        self.assertEqual(st.st_rdev, os.makedev(1, 3))

    def test_devices_are_written_into_not_replaced(self):
        null, null2 = self.make_null("null"), self.make_null("null2")
        r = self.run_jobs("--report-file", null, "--metrics-file", null2)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assert_null(null)
        self.assert_null(null2)
        self.assertEqual(sorted(n for n in os.listdir(self.tmp) if n.startswith("null")), ["null", "null2"])

    def test_a_fifo_gets_the_report(self):
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        got = []

        def read():
            with open(fifo) as f:
                got.append(f.read())
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        r = self.run_jobs("--report-file", fifo)
        reader.join(timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertEqual(json.loads(got[0])["jobs"][0]["name"], "dead")

    def test_a_symlink_is_followed_and_its_target_replaced(self):
        os.mkdir(os.path.join(self.tmp, "node_exporter"))
        target = os.path.join(self.tmp, "node_exporter", "mailferry.prom")
        with open(target, "w") as f:
            f.write("old\n")
        link = os.path.join(self.tmp, "metrics.prom")
        os.symlink("node_exporter/mailferry.prom", link)
        r = self.run_jobs("--metrics-file", link)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(os.path.islink(link))
        with open(target) as f:
            self.assertIn('mailferry_job_success{job="dead"} 0', f.read())
        self.assertEqual(os.listdir(os.path.join(self.tmp, "node_exporter")), ["mailferry.prom"])

    def test_a_device_is_refused_as_the_push_state(self):
        null = self.make_null("null")
        r = run_mailferry(["migrate", f"imap://a@127.0.0.1:{free_port()}", f"imap://b@127.0.0.1:{free_port()}",
                           "--allow-plaintext", "--source-password-env", "MF_TEST_PASSWORD",
                           "--target-password-env", "MF_TEST_PASSWORD", "--state", null], password=PASSWORD)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cannot hold the state database", r.stderr)
        self.assert_null(null)
        self.assertEqual(os.listdir(self.tmp), ["null"])


if __name__ == "__main__":
    unittest.main()
