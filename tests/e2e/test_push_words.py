"""migrate, restore and mirror report in their own words ("INBOX → Alice/INBOX:
uploading 2", "3 uploaded, 0 already on the target", JSON target_folder,
uploaded, already_on_target), and two accounts go into one under two
prefixes (--target-prefix, --special-folders) on a real Dovecot."""

import collections
import json
import os
import random
import tempfile
import unittest

from mfharness import Dovecot, make_message, run_mailferry

PASSWORD = "Words-Canary-81c"


def content(dovecot, user, folder):
    """Multiset of (bytes, flags, date) of a folder: what must be equal."""
    return collections.Counter((m.data, frozenset(m.flags), m.date)
                               for m in dovecot.messages(user, folder).values())


class PushWordsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.imap = Dovecot().start()  # both sources and the target: three users

    @classmethod
    def tearDownClass(cls):
        cls.imap.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        n = random.randrange(10**9)
        self.alice, self.bob, self.target = f"a{n}", f"b{n}", f"t{n}"
        for user in (self.alice, self.bob, self.target):
            self.imap.add_user(user, PASSWORD)
        # Both accounts have an INBOX, a Sent and a Work: they must not merge.
        self.fill(self.alice, {"INBOX": 2, "Sent": 1, "Work": 1})
        self.fill(self.bob, {"INBOX": 1, "Sent": 2, "Work/Deep": 1})

    def tearDown(self):
        self.tmp.cleanup()

    def fill(self, user, plan):
        base = 1000 * (1 + len(user) % 7) + random.randrange(100) * 10
        for folder, count in plan.items():
            self.imap.create_folder(user, folder)
            for i in range(count):
                base += 1
                self.imap.save(user, folder, make_message(base, subject=f"{user} {folder} {i}"),
                               flags="\\Seen")

    def migrate(self, user, *extra, command="migrate", expect=0):
        args = [command, self.imap.url("imaps", user), self.imap.url("imaps", self.target),
                "--cacert", self.imap.cacert, "--source-password-env", "MF_TEST_PASSWORD",
                "--target-password-env", "MF_TEST_PASSWORD",
                "--state", os.path.join(self.tmp.name, user + ".db"), *extra]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, expect, r.stderr + r.stdout)
        return r

    def migrate_json(self, user, *extra, **kw):
        return json.loads(self.migrate(user, "--json", *extra, **kw).stdout)

    def assert_copied(self, user, pairs):
        for source, target in pairs.items():
            self.assertEqual(content(self.imap, user, source), content(self.imap, self.target, target),
                             f"{user} {source} -> {target}")

    def test_two_accounts_go_under_two_prefixes(self):
        a = self.migrate_json(self.alice, "--target-prefix", "Alice")
        b = self.migrate_json(self.bob, "--target-prefix", "Old/Bob")
        self.assert_copied(self.alice, {"INBOX": "Alice/INBOX", "Sent": "Alice/Sent", "Work": "Alice/Work"})
        self.assert_copied(self.bob, {"INBOX": "Old/Bob/INBOX", "Sent": "Old/Bob/Sent",
                                      "Work/Deep": "Old/Bob/Work/Deep"})
        folders = set(self.imap.folders(self.target))
        self.assertLessEqual({"Alice/INBOX", "Alice/Sent", "Alice/Work", "Old/Bob/INBOX",
                              "Old/Bob/Sent", "Old/Bob/Work/Deep"}, folders)
        # Nothing of either account reached the target's own folders.
        self.assertEqual(self.imap.count(self.target, "INBOX"), 0)
        self.assertNotIn("Sent", folders)
        self.assertNotIn("Work", folders)
        targets = {f["folder"]: f["target_folder"] for f in a["folders"]}
        self.assertEqual(targets, {"INBOX": "Alice/INBOX", "Sent": "Alice/Sent", "Work": "Alice/Work"})
        self.assertEqual((a["totals"]["uploaded"], a["totals"]["already_on_target"]), (4, 0))
        self.assertEqual((b["totals"]["uploaded"], b["totals"]["already_on_target"]), (4, 0))
        inbox = next(f for f in a["folders"] if f["folder"] == "INBOX")
        self.assertEqual((inbox["uploaded"], inbox["already_on_target"]), (2, 0))
        # The old names stay, for scripts that read them.
        self.assertEqual((a["totals"]["fetched"], a["totals"]["held"]), (4, 0))
        again = self.migrate_json(self.alice, "--target-prefix", "Alice")
        self.assertEqual((again["totals"]["uploaded"], again["totals"]["already_on_target"]), (0, 4))

    def test_text_and_progress_speak_push_and_name_the_target_folder(self):
        # No new option: the words alone differ from a backup's.
        r = self.migrate(self.alice, "--map", "INBOX=Old/INBOX")
        self.assertIn("INBOX \u2192 Old/INBOX: uploading 2 (", r.stderr)
        self.assertIn("Sent \u2192 Sent: 1 uploaded, 0 flag updates, 0 already on the target", r.stderr)
        self.assertIn("4 uploaded (", r.stdout)
        self.assertIn("0 already on the target", r.stdout)
        for backup_word in ("fetch", "already held", "on the server"):
            self.assertNotIn(backup_word, r.stdout + r.stderr)
        # A dry run says what it would do.
        dry = self.migrate(self.bob, "--dry-run")
        self.assertIn("would upload 4", dry.stdout)
        again = self.migrate(self.alice, "--map", "INBOX=Old/INBOX", "-v")
        self.assertIn("0 uploaded (", again.stdout)
        self.assertIn("4 already on the target", again.stdout)
        self.assertIn("INBOX \u2192 Old/INBOX: 0 uploaded, 0 flag updates, 2 already on the target",
                      again.stderr)
        report = self.migrate_json(self.alice, "--map", "INBOX=Old/INBOX")
        inbox = next(f for f in report["folders"] if f["folder"] == "INBOX")
        self.assertEqual((inbox["target_folder"], inbox["uploaded"], inbox["already_on_target"]),
                         ("Old/INBOX", 0, 2))
        self.assertEqual((report["totals"]["uploaded"], report["totals"]["already_on_target"]), (0, 4))

    def test_merge_puts_inbox_and_special_folders_into_the_targets_own(self):
        self.imap.create_folder(self.target, "Sent")  # \Sent on this Dovecot
        self.migrate_json(self.alice, "--target-prefix", "Alice", "--special-folders", "merge")
        report = self.migrate_json(self.bob, "--target-prefix", "Bob", "--special-folders", "merge")
        self.assertEqual({f["folder"]: f["target_folder"] for f in report["folders"] if "left_out" not in f},
                         {"INBOX": "INBOX", "Sent": "Sent", "Work/Deep": "Bob/Work/Deep"})
        self.assertEqual(self.imap.count(self.target, "INBOX"), 3)
        self.assertEqual(self.imap.count(self.target, "Sent"), 3)
        self.assertEqual(content(self.imap, self.target, "INBOX"),
                         content(self.imap, self.alice, "INBOX") + content(self.imap, self.bob, "INBOX"))
        self.assert_copied(self.alice, {"Work": "Alice/Work"})
        self.assert_copied(self.bob, {"Work/Deep": "Bob/Work/Deep"})
        self.assertNotIn("Alice/INBOX", self.imap.folders(self.target))

    def test_mirror_stays_below_its_prefix_and_refuses_to_merge(self):
        self.migrate_json(self.bob, "--target-prefix", "Bob")
        self.imap.create_folder(self.target, "Alice/Gone")  # empty: a mirror removes it
        self.migrate_json(self.alice, "--target-prefix", "Alice", command="mirror")
        folders = set(self.imap.folders(self.target))
        self.assertNotIn("Alice/Gone", folders)
        self.assertLessEqual({"Bob/INBOX", "Bob/Sent", "Bob/Work/Deep", "Alice/INBOX"}, folders)
        self.assert_copied(self.bob, {"Sent": "Bob/Sent"})
        r = self.migrate(self.alice, "--target-prefix", "Alice", "--special-folders", "merge",
                         command="mirror", expect=2)
        self.assertIn("--special-folders prefix", r.stderr)

    def test_a_map_rule_names_the_target_folder_exactly(self):
        report = self.migrate_json(self.alice, "--target-prefix", "Alice", "--map", "INBOX=Alice")
        self.assertEqual({f["folder"]: f["target_folder"] for f in report["folders"]},
                         {"INBOX": "Alice", "Sent": "Alice/Sent", "Work": "Alice/Work"})
        self.assert_copied(self.alice, {"INBOX": "Alice"})

    def test_a_job_file_takes_target_prefix_and_special_folders(self):
        jobs = os.path.join(self.tmp.name, "jobs.json")
        job = {"name": "alice-in", "kind": "migrate", "source": self.imap.url("imaps", self.alice),
               "target": self.imap.url("imaps", self.target), "cacert": self.imap.cacert,
               "source_password_env": "MF_TEST_PASSWORD", "target_password_env": "MF_TEST_PASSWORD",
               "state": os.path.join(self.tmp.name, "job.db"), "target_prefix": "Alice",
               "special_folders": "prefix"}
        with open(jobs, "w") as f:
            json.dump({"jobs": [job]}, f)
        r = run_mailferry(["run", jobs, "--json"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assert_copied(self.alice, {"INBOX": "Alice/INBOX", "Sent": "Alice/Sent"})
        job["special_folders"] = "both"
        with open(jobs, "w") as f:
            json.dump({"jobs": [job]}, f)
        r = run_mailferry(["run", jobs], password=PASSWORD)
        self.assertEqual(r.returncode, 2, r.stderr + r.stdout)
        self.assertIn("special_folders", r.stderr)


if __name__ == "__main__":
    unittest.main()
