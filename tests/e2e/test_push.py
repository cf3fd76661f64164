"""migrate, restore and mirror into a real Dovecot: each message exactly
once, byte for byte, with flags and INTERNALDATE; the source untouched;
reruns add only what is missing; mirror deletions behind a guard."""

import collections
import json
import os
import random
import signal
import subprocess
import tempfile
import time
import unittest

from mfharness import Dovecot, make_message, mailferry_path, run_mailferry, sample_mailbox

PASSWORD = "Push-Canary-5d2"


def content(dovecot, user, folder, with_flags=True):
    """Multiset of (bytes, flags, date) of a folder: what must be equal."""
    msgs = dovecot.messages(user, folder)
    return collections.Counter((m.data, frozenset(m.flags) if with_flags else None, m.date) for m in msgs.values())


class PushTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src = Dovecot().start()
        cls.dst = Dovecot(separator=".").start()  # a different hierarchy separator

    @classmethod
    def tearDownClass(cls):
        cls.src.stop()
        cls.dst.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.state = os.path.join(self.tmp.name, "state.db")
        n = random.randrange(10**9)
        self.user, self.target_user = f"s{n}", f"t{n}"
        self.src.add_user(self.user, PASSWORD)
        self.dst.add_user(self.target_user, PASSWORD)

    def tearDown(self):
        self.tmp.cleanup()

    def push(self, command, source_url, *extra, expect=0):
        args = [command, source_url, self.dst.url("imaps", self.target_user),
                "--source-cacert", self.src.cacert, "--target-cacert", self.dst.cacert,
                "--target-password-env", "MF_TEST_PASSWORD", "--json", *extra]
        if "://" in source_url:
            args += ["--source-password-env", "MF_TEST_PASSWORD", "--state", self.state]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, expect, r.stderr + r.stdout)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def target_name(self, folder):
        return folder.replace("/", ".")

    def assert_same(self, folders, with_flags=True):
        for f in folders:
            self.assertEqual(content(self.src, self.user, f, with_flags),
                             content(self.dst, self.target_user, self.target_name(f), with_flags), f)

    def backup(self, *extra):
        archive = os.path.join(self.tmp.name, "archive")
        r = run_mailferry(["backup", self.src.url("imaps", self.user), archive, "--cacert", self.src.cacert,
                           "--password-env", "MF_TEST_PASSWORD", *extra], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        return archive

    def test_restore_is_exact_and_rerun_adds_nothing(self):
        sample_mailbox(self.src, self.user)
        archive = self.backup()
        report = self.push("restore", archive)
        self.assertEqual(report["totals"]["fetched"], report["totals"]["found"])
        self.assert_same(self.src.folders(self.user))
        self.assertIn("Empty", self.dst.folders(self.target_user))
        again = self.push("restore", archive)
        self.assertEqual(again["totals"]["fetched"], 0)
        self.assert_same(self.src.folders(self.user))

    def test_restore_from_an_mbox_archive_is_exact(self):
        sample_mailbox(self.src, self.user)
        self.src.save(self.user, "INBOX", make_message(90, body_lines=["From x", ">From y", ">>From z", "."]))
        archive = self.backup("--format", "mbox")
        report = self.push("restore", archive)
        self.assertEqual(report["totals"]["fetched"], report["totals"]["found"])
        self.assert_same(self.src.folders(self.user))
        self.assertEqual(self.push("restore", archive)["totals"]["fetched"], 0)

    def test_restore_into_a_partly_filled_target_copies_only_what_is_missing(self):
        for i in range(6):
            self.src.save(self.user, "INBOX", make_message(i), flags="\\Seen")
        # A message without Message-ID is recognised by size and date.
        raw = b"Subject: no id\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nhello\r\n"
        self.src.save(self.user, "INBOX", raw)
        archive = self.backup()
        # Another tool already copied three of them, with the same date.
        for uid, m in list(self.src.messages(self.user, "INBOX").items())[::2]:
            self.dst.save(self.target_user, "INBOX", m.data, flags=m.flags, date=m.date)
        report = self.push("restore", archive)
        self.assertEqual(report["totals"]["fetched"], 3)
        self.assert_same(["INBOX"])

    def test_migrate_pop3_into_imap_with_map_leaves_the_source_alone(self):
        sample_mailbox(self.src, self.user)
        before = (self.src.count(self.user, "INBOX"), self.src.unseen(self.user, "INBOX"))
        report = self.push("migrate", self.src.url("pop3s", self.user), "--map", "INBOX=Archive/Old-POP")
        self.assertEqual(report["totals"]["fetched"], before[0])
        self.assertEqual((self.src.count(self.user, "INBOX"), self.src.unseen(self.user, "INBOX")), before)
        got = content(self.dst, self.target_user, "Archive.Old-POP", with_flags=False)
        want = content(self.src, self.user, "INBOX", with_flags=False)
        # POP3 has no INTERNALDATE: the date comes from the Date header, which
        # the sample mailbox sets equal to the INTERNALDATE.
        self.assertEqual(got, want)
        self.assertEqual(self.push("migrate", self.src.url("pop3s", self.user), "--map",
                                   "INBOX=Archive/Old-POP")["totals"]["fetched"], 0)

    def test_migrate_imap_to_imap_across_separators(self):
        sample_mailbox(self.src, self.user)
        self.src.add_flags(self.user, "Work", 1, "$Important")
        unseen = {f: self.src.unseen(self.user, f) for f in self.src.folders(self.user)}
        self.push("migrate", self.src.url("imaps", self.user))
        self.assert_same(self.src.folders(self.user))
        self.assertEqual({f: self.src.unseen(self.user, f) for f in self.src.folders(self.user)}, unseen)
        self.assertIn("Work.Projects", self.dst.folders(self.target_user))

    def test_dry_run_changes_nothing(self):
        sample_mailbox(self.src, self.user)
        report = self.push("migrate", self.src.url("imaps", self.user), "--dry-run")
        self.assertGreater(sum(f["planned"] for f in report["folders"]), 0)
        self.assertEqual(self.dst.folders(self.target_user), ["INBOX"])
        self.assertEqual(self.dst.count(self.target_user, "INBOX"), 0)

    def test_kill_9_during_migrate_then_rerun_gives_each_message_once(self):
        bodies = [make_message(i, size=random.Random(i).randrange(2000, 40000)) for i in range(800)]
        bodies.append(b"Subject: no id\r\n\r\nsame body\r\n")
        self.src.save_many(self.user, "INBOX", bodies)
        # A second folder, so that kills also land while two folders are
        # pushed at once on two pairs of connections.
        self.src.create_folder(self.user, "Work")
        self.src.save_many(self.user, "Work", [make_message(2000 + i, size=random.Random(i).randrange(2000, 40000))
                                               for i in range(300)])
        args = [mailferry_path(), "migrate", self.src.url("imaps", self.user), self.dst.url("imaps", self.target_user),
                "--source-cacert", self.src.cacert, "--target-cacert", self.dst.cacert,
                "--source-password-env", "MF_TEST_PASSWORD", "--target-password-env", "MF_TEST_PASSWORD",
                "--state", self.state, "--quiet"]
        env = dict(os.environ, MF_TEST_PASSWORD=PASSWORD)
        rng = random.Random(3)
        for _ in range(5):
            p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.1, 0.8))
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.push("migrate", self.src.url("imaps", self.user))
        self.assert_same(["INBOX", "Work"])
        # Also after the state is lost: recognised by content, nothing copied twice.
        os.unlink(self.state)
        self.assertEqual(self.push("migrate", self.src.url("imaps", self.user))["totals"]["fetched"], 0)
        self.assert_same(["INBOX", "Work"])

    def test_several_folders_at_once_on_several_connections(self):
        folders = ["INBOX", "Work", "Work/Projects", "Sent"]
        for k, folder in enumerate(folders):
            if folder != "INBOX":
                self.src.create_folder(self.user, folder)
            self.src.save_many(self.user, folder, [make_message(1000 * k + i) for i in range(80)])
            self.src.add_flags(self.user, folder, 3, "\\Seen \\Flagged")
        url = self.src.url("imaps", self.user)
        report = self.push("migrate", url, "--connections", "3", "--debug")
        self.assertEqual(report["totals"]["fetched"], 320)
        self.assert_same(folders)
        archive = self.backup("--format", "mbox", "--connections", "3")
        self.dst.add_user("r" + self.target_user, PASSWORD)
        r = run_mailferry(["restore", archive, self.dst.url("imaps", "r" + self.target_user),
                           "--cacert", self.dst.cacert, "--target-password-env", "MF_TEST_PASSWORD",
                           "--connections", "3", "--debug", "--json"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], 320)
        self.assertGreaterEqual(r.stderr.count("Connected to"), 2, "the restore used one connection only")
        for f in folders:
            self.assertEqual(content(self.src, self.user, f),
                             content(self.dst, "r" + self.target_user, self.target_name(f)), f)
        self.assertEqual(self.push("migrate", url, "--connections", "3")["totals"]["fetched"], 0)

    def test_mirror_follows_deletions_and_flags_behind_a_guard(self):
        for i in range(20):
            self.src.save(self.user, "Work", make_message(i))
        url = self.src.url("imaps", self.user)
        self.push("mirror", url)
        uids = sorted(self.src.fetch_all(self.user, "Work"))
        self.src.expunge(self.user, "Work", uids[:3])
        self.src.add_flags(self.user, "Work", uids[5], "\\Flagged")
        report = self.push("mirror", url)
        work = next(f for f in report["folders"] if f["folder"] == "Work")
        self.assertEqual(work["deleted_from_target"], 3)
        self.assertEqual(work["flags_updated"], 1)
        self.assert_same(["Work"])
        # More than half would go: refused, nothing deleted, unless forced.
        self.src.expunge(self.user, "Work", uids[3:15])
        refused = self.push("mirror", url, expect=1)
        self.assertIn("--force", " ".join(refused["errors"]))
        self.assertEqual(self.dst.count(self.target_user, "Work"), 17)
        self.push("mirror", url, "--force")
        self.assert_same(["Work"])

    def test_mirror_into_a_maildir_archive(self):
        for i in range(20):
            self.src.save(self.user, "Work", make_message(i))
        archive = os.path.join(self.tmp.name, "mirror")
        base = ["mirror", self.src.url("imaps", self.user), archive, "--source-cacert", self.src.cacert,
                "--source-password-env", "MF_TEST_PASSWORD", "--json"]

        def mirror(*extra, expect=0):
            r = run_mailferry(base + list(extra), password=PASSWORD)
            self.assertEqual(r.returncode, expect, r.stderr)
            return json.loads(r.stdout)

        def held():
            from archive import folder_dirs, read_maildir
            return sorted(m["data"] for m in read_maildir(folder_dirs(archive)["Work"]).values())

        mirror()
        uids = sorted(self.src.fetch_all(self.user, "Work"))
        self.src.expunge(self.user, "Work", uids[:3])
        report = mirror()
        work = next(f for f in report["folders"] if f["folder"] == "Work")
        self.assertEqual(work["deleted_from_target"], 3)
        self.assertEqual(held(), sorted(self.src.fetch_all(self.user, "Work").values()))
        self.src.expunge(self.user, "Work", uids[3:15])
        mirror(expect=1)
        self.assertEqual(len(held()), 17, "the guard let a mass deletion through")
        mirror("--force")
        self.assertEqual(held(), sorted(self.src.fetch_all(self.user, "Work").values()))

    def test_mirror_refuses_to_empty_a_folder_whose_source_is_empty(self):
        for i in range(3):
            self.src.save(self.user, "Work", make_message(i))
        url = self.src.url("imaps", self.user)
        self.push("mirror", url)
        self.src.expunge(self.user, "Work", "1:*")
        self.push("mirror", url, expect=1)
        self.assertEqual(self.dst.count(self.target_user, "Work"), 3)


if __name__ == "__main__":
    unittest.main()
