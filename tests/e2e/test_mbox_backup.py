"""`mailferry backup --format mbox`: one mboxrd file per folder, byte for
byte after unquoting, flags in the sidecar index, crash-safe."""

import collections
import json
import os
import re
import random
import signal
import subprocess
import time
import unittest

from archive import mbox_files, read_mboxrd
from mfharness import DovecotTestCase, make_message, mailferry_path, run_mailferry, sample_mailbox

PASSWORD = "Mbox-Canary-77"


class MboxBackupTest(DovecotTestCase):
    PASSWORD = PASSWORD
    USER_PREFIX = "m"

    def args(self):
        d = self.dovecot
        return ["backup", d.url("imaps", self.user), self.archive, "--format", "mbox", "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD"]

    def backup(self, *extra):
        r = run_mailferry(self.args() + ["--json", *extra], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def assert_equal_to_server(self):
        files = mbox_files(self.archive)
        for folder in self.dovecot.folders(self.user):
            want = collections.Counter(self.dovecot.fetch_all(self.user, folder).values())
            got = collections.Counter(read_mboxrd(files[folder])) if folder in files else collections.Counter()
            self.assertEqual(got, want, folder)

    def test_full_backup_rerun_and_flags(self):
        sample_mailbox(self.dovecot, self.user)
        unseen = self.dovecot.unseen(self.user, "INBOX")
        self.backup()
        self.assert_equal_to_server()
        self.assertEqual(self.dovecot.unseen(self.user, "INBOX"), unseen)
        inbox = mbox_files(self.archive)["INBOX"]
        with open(inbox, "rb") as f:
            before = f.read()
        self.assertEqual(self.backup()["totals"]["fetched"], 0)
        uid = min(self.dovecot.fetch_all(self.user, "INBOX"))
        self.dovecot.add_flags(self.user, "INBOX", uid, "\\Flagged")
        self.assertEqual(self.backup()["totals"]["flags_updated"], 1)
        with open(inbox, "rb") as f:
            self.assertEqual(f.read(), before, "flag changes must not rewrite the mbox")
        with open(inbox + ".mfindex") as f:
            self.assertIn("F ", f.read())

    def test_unchanged_folders_are_skipped_until_the_server_or_the_files_change(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()

        def debug_run():
            r = run_mailferry(self.args() + ["--json", "--debug"], password=PASSWORD)
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout), r.stderr

        report, trace = debug_run()
        self.assertTrue(all(f["unchanged"] for f in report["folders"]), report["folders"])
        self.assertNotIn("UID FETCH", trace)
        # A flag change on the server: that folder alone is listed and updated.
        uid = min(self.dovecot.fetch_all(self.user, "Work"))
        self.dovecot.add_flags(self.user, "Work", uid, "\\Flagged")
        report, _ = debug_run()
        by_name = {f["folder"]: f for f in report["folders"]}
        self.assertFalse(by_name["Work"]["unchanged"])
        self.assertEqual(by_name["Work"]["flags_updated"], 1)
        self.assertTrue(by_name["INBOX"]["unchanged"])
        # A mail reader rewrote the mbox (same server state): the folder is
        # checked again instead of trusting the token, and nothing is lost.
        inbox = mbox_files(self.archive)["INBOX"]
        os.utime(inbox, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
        report, trace = debug_run()
        by_name = {f["folder"]: f for f in report["folders"]}
        self.assertFalse(by_name["INBOX"]["unchanged"])
        self.assertEqual(by_name["INBOX"]["fetched"], 0)
        self.assertIn("UID FETCH", trace)
        # ...and that check recorded a fresh token: the next run skips it again.
        report, _ = debug_run()
        self.assertTrue(all(f["unchanged"] for f in report["folders"]), report["folders"])
        self.assert_equal_to_server()

    def test_new_mail_and_flag_changes_from_a_partial_listing(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        self.dovecot.save(self.user, "Work", make_message(7001))
        uid = min(self.dovecot.fetch_all(self.user, "INBOX"))
        self.dovecot.add_flags(self.user, "INBOX", uid, "\\Flagged")
        r = run_mailferry(self.args() + ["--json", "--debug"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        # never a whole folder: every listing asks only for what changed
        listings = re.findall(r"C: M\d+ (UID FETCH \S+ \(UID FLAGS RFC822\.SIZE.*)", r.stderr)
        self.assertTrue(listings)
        for listing in listings:
            self.assertIn("(CHANGEDSINCE ", listing)
        report = json.loads(r.stdout)
        self.assertEqual(report["totals"]["fetched"], 1)
        self.assertEqual(report["totals"]["flags_updated"], 1)
        self.assert_equal_to_server()
        # The flag is recorded: a full check (the token made stale by touching
        # the mbox) finds nothing more to change.
        inbox = mbox_files(self.archive)["INBOX"]
        os.utime(inbox, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
        report = self.backup()
        self.assertEqual(report["totals"]["flags_updated"], 0)
        self.assertEqual(report["totals"]["fetched"], 0)

    def test_kill_9_then_rerun(self):
        bodies = [make_message(i, size=random.Random(i).randrange(2000, 50000),
                               body_lines=["From here", ">From there", "."]) for i in range(1200)]
        self.dovecot.save_many(self.user, "INBOX", bodies)
        env = dict(os.environ, MF_TEST_PASSWORD=PASSWORD)
        rng = random.Random(11)
        for _ in range(5):
            p = subprocess.Popen([mailferry_path()] + self.args() + ["--quiet"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 0.5))
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.backup()
        self.assert_equal_to_server()
        self.assertEqual(self.backup()["totals"]["fetched"], 0)


if __name__ == "__main__":
    unittest.main()
