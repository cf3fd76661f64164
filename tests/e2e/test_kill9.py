"""kill -9 at random moments, again and again on the same archive or target,
then a run to the end: nothing lost, nothing twice, no partial message, and a
further run copies nothing. IMAP backup into Maildir and mbox, POP3 backup
with --delete-after-download, IMAP-to-IMAP migrate.

A few kills per scenario normally; MAILFERRY_LONG=1 kills 100 times for the
Maildir backup and 40 times for each of the others (the crash-at-every-step
suite, test_crash_steps, covers each durable step deterministically)."""

import collections
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from mfharness import Dovecot, mailferry_path, make_message
from mfrun import LONG, mbox_messages

PASSWORD = "Kill9-Canary-71d"


class Kill9Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src = Dovecot().start()
        cls.dst = Dovecot().start()

    @classmethod
    def tearDownClass(cls):
        cls.src.stop()
        cls.dst.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.user = f"k{random.randrange(10**9)}"
        self.src.add_user(self.user, PASSWORD)
        self.rng = random.Random(self.user)

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, count):
        rng = random.Random(count)
        self.src.save_many(self.user, "INBOX", [make_message(i, size=rng.randrange(2_000, 30_000))
                                                for i in range(count)])
        self.src.create_folder(self.user, "Work")
        self.src.save_many(self.user, "Work", [make_message(1000 + i) for i in range(count // 4)])

    def run_mf(self, args, json_report=False):
        r = subprocess.run([mailferry_path(), *args, *(["--json"] if json_report else ["--quiet"])],
                           env=dict(os.environ, MF_TEST_PASSWORD=PASSWORD), capture_output=True,
                           text=True, timeout=300)
        self.assertNotIn("Sanitizer", r.stderr)
        return r

    def kill_once(self, args):
        """Starts mailferry and SIGKILLs it at a random moment of what a
        whole run takes (measured by kill_rounds); False if it finished first."""
        p = subprocess.Popen([mailferry_path(), *args, "--quiet"], env=dict(os.environ, MF_TEST_PASSWORD=PASSWORD),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            p.wait(self.rng.uniform(0.01, self.window))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            return True
        finally:
            err = p.stderr.read().decode(errors="replace")
            p.stderr.close()
        self.assertIn(p.returncode, (0, 1, 3, 6), err)
        return False

    def kill_rounds(self, args, fresh, verify, kills):
        """Rounds of: a fresh start, up to 5 kills on the same archive or
        target (fewer if a run finishes first), a run to the end and the
        check; until `kills` runs were killed in mid-flight."""
        fresh()
        start = time.monotonic()
        r = self.run_mf(args)
        self.window = max(0.05, 0.9 * (time.monotonic() - start))   # what a whole run takes
        self.assertEqual(r.returncode, 0, r.stderr)
        verify()
        killed = rounds = 0
        while killed < kills:
            fresh()
            rounds += 1
            for _ in range(5):
                if not self.kill_once(args):
                    break
                killed += 1
            self.complete(args)
            verify()
            self.assertLess(rounds, 4 * kills + 10, "runs end before they can be killed: the test proves nothing")

    def complete(self, args):
        r = self.run_mf(args)
        self.assertEqual(r.returncode, 0, r.stderr)
        again = self.run_mf(args, json_report=True)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(json.loads(again.stdout)["totals"]["fetched"], 0, "a run after completion still copied")

    @staticmethod
    def kills(long_kills, normal_kills=3):
        return long_kills if LONG else normal_kills

    def test_imap_backup_maildir(self):
        self.load(400 if LONG else 150)
        archive = os.path.join(self.tmp.name, "maildir")
        args = ["backup", self.src.url("imaps", self.user), archive, "--cacert", self.src.cacert,
                "--password-env", "MF_TEST_PASSWORD"]
        want = {f: self.src.fetch_all(self.user, f) for f in ("INBOX", "Work")}

        def verify():
            self.assertEqual(tmp_files(archive), [])
            dirs = folder_dirs(archive)
            for folder, msgs in want.items():
                held = {uid: m["data"] for uid, m in read_maildir(dirs[folder]).items()}   # fails on a UID twice
                self.assertEqual(held, msgs, folder)
        self.kill_rounds(args, lambda: shutil.rmtree(archive, ignore_errors=True), verify, self.kills(100))

    def test_imap_backup_mbox(self):
        self.load(400 if LONG else 150)
        archive = os.path.join(self.tmp.name, "mbox")
        args = ["backup", self.src.url("imaps", self.user), archive, "--cacert", self.src.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--format", "mbox"]
        want = {f: self.src.fetch_all(self.user, f) for f in ("INBOX", "Work")}

        def verify():
            for folder, msgs in want.items():
                path = os.path.join(archive, folder + ".mbox")
                held, end = mbox_messages(path)
                self.assertEqual(os.path.getsize(path), end, "bytes after the last indexed message")
                self.assertEqual(held, msgs, folder)
        self.kill_rounds(args, lambda: shutil.rmtree(archive, ignore_errors=True), verify, self.kills(40))

    def test_pop3_backup_with_delete_after_download(self):
        self.load(400 if LONG else 150)
        bodies = list(self.src.fetch_all(self.user, "INBOX").values())
        want = collections.Counter(bodies)
        archive = os.path.join(self.tmp.name, "pop3")
        args = ["backup", self.src.url("pop3s", self.user), archive, "--cacert", self.src.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--delete-after-download"]

        def held():
            dirs = folder_dirs(archive)
            return collections.Counter(m["data"] for m in read_maildir(dirs["INBOX"]).values()) \
                if "INBOX" in dirs else collections.Counter()

        def fresh():
            shutil.rmtree(archive, ignore_errors=True)
            if self.src.count(self.user, "INBOX"):
                self.src.expunge(self.user, "INBOX", "1:*")
            self.src.save_many(self.user, "INBOX", bodies)

        def verify():
            self.assertEqual(held(), want)
            self.assertEqual(self.src.count(self.user, "INBOX"), 0)

        original = self.kill_once

        def kill_and_check(a):
            # After every kill: whatever is gone from the server is archived.
            killed = original(a)
            on_server = collections.Counter(self.src.fetch_all(self.user, "INBOX").values())
            have = held()
            for body in want:
                self.assertGreaterEqual(have[body] + on_server[body], 1, "a message was lost")
            return killed
        self.kill_once = kill_and_check
        self.kill_rounds(args, fresh, verify, self.kills(40))

    def test_migrate(self):
        self.load(300 if LONG else 120)
        want = {f: collections.Counter(self.src.fetch_all(self.user, f).values()) for f in ("INBOX", "Work")}
        state = os.path.join(self.tmp.name, "state.db")
        args = []

        def fresh():
            target = f"t{random.randrange(10**9)}"
            self.dst.add_user(target, PASSWORD)
            for name in os.listdir(self.tmp.name):
                if name.startswith("state.db"):
                    os.unlink(os.path.join(self.tmp.name, name))
            args[:] = ["migrate", self.src.url("imaps", self.user), self.dst.url("imaps", target),
                       "--source-cacert", self.src.cacert, "--target-cacert", self.dst.cacert,
                       "--source-password-env", "MF_TEST_PASSWORD", "--target-password-env", "MF_TEST_PASSWORD",
                       "--state", state]
            self.target = target

        def verify():
            for folder, bodies in want.items():
                self.assertEqual(collections.Counter(self.dst.fetch_all(self.target, folder).values()), bodies, folder)
        self.kill_rounds(args, fresh, verify, self.kills(40))


if __name__ == "__main__":
    unittest.main()
