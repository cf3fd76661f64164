"""`mailferry status` and `mailferry verify` on archives, including ones
damaged by hand."""

import json
import os
import unittest

from archive import folder_dirs
from mfharness import DovecotTestCase, make_message, run_mailferry, sample_mailbox

PASSWORD = "Verify-Canary-e41"


class StatusVerifyTest(DovecotTestCase):
    PASSWORD = PASSWORD
    USER_PREFIX = "v"

    def setUp(self):
        super().setUp()
        sample_mailbox(self.dovecot, self.user)
        r = self.mf("backup")
        self.assertEqual(r.returncode, 0, r.stderr)

    def mf(self, command, *extra):
        d = self.dovecot
        return run_mailferry([command, d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                              "--password-env", "MF_TEST_PASSWORD", *extra], password=PASSWORD)

    def verify(self, *extra):
        r = self.mf("verify", "--json", *extra)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        return r.returncode, {f["folder"]: f for f in json.loads(r.stdout)["folders"]}

    def test_status_lists_folders_with_counts_and_last_success(self):
        r = run_mailferry(["status", self.archive, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["source"], f"imap://{self.user}@127.0.0.1")
        by = {f["folder"]: f for f in doc["folders"]}
        self.assertEqual(by["INBOX"]["messages"], self.dovecot.count(self.user, "INBOX"))
        self.assertEqual(by["日本語"]["messages"], 1)
        self.assertGreater(by["INBOX"]["last_success"], 0)
        self.assertEqual(by["INBOX"]["last_error"], "")
        text = run_mailferry(["status", self.archive])
        self.assertIn("Work/Projects", text.stdout)

    def test_status_of_a_non_archive_is_a_usage_error(self):
        r = run_mailferry(["status", self.tmp.name])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a mailferry archive", r.stderr)

    def test_verify_matches_after_a_backup(self):
        code, folders = self.verify()
        self.assertEqual(code, 0)
        self.assertTrue(all(f["matches"] for f in folders.values()))
        code, _ = self.verify("--deep")
        self.assertEqual(code, 0)

    def test_verify_finds_removed_extra_and_changed_messages(self):
        inbox = folder_dirs(self.archive)["INBOX"]
        victim = sorted(os.listdir(os.path.join(inbox, "cur")))[0]
        os.unlink(os.path.join(inbox, "cur", victim))
        self.dovecot.save(self.user, "Work", make_message(500))
        uid = min(self.dovecot.fetch_all(self.user, "Work"))
        self.dovecot.add_flags(self.user, "Work", uid, "\\Flagged")
        code, folders = self.verify()
        self.assertEqual(code, 1)
        self.assertEqual(len(folders["INBOX"]["missing"]), 1)
        self.assertEqual(len(folders["Work"]["missing"]), 1)
        self.assertEqual(folders["Work"]["flags_differ"], [str(uid)])
        # verify changes nothing: a backup afterwards still has the work to do.
        r = self.mf("backup", "--json")
        report = json.loads(r.stdout)
        self.assertEqual(report["totals"]["fetched"], 2)

    def test_deep_verify_finds_corrupted_content(self):
        work = folder_dirs(self.archive)["Work"]
        name = sorted(os.listdir(os.path.join(work, "cur")))[0]
        path = os.path.join(work, "cur", name)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data[-3] ^= 0x20  # same size, other content
        with open(path, "wb") as f:
            f.write(data)
        code, _ = self.verify()
        self.assertEqual(code, 0, "a shallow verify cannot see content changes")
        code, folders = self.verify("--deep")
        self.assertEqual(code, 1)
        self.assertEqual(len(folders["Work"]["content_differ"]), 1)


if __name__ == "__main__":
    unittest.main()
