"""A folder whose name is too long for a directory is kept under a shortened
one (archive/folder_path.h), and its full name in the state database: a
restore gives it back under that name with every message, an export finds
every message, status shows the name. An archive written before names were
kept still gives its messages back, under the shortened name, with a
warning. fakeimap serves the 1 000-byte name, which Dovecot refuses; Dovecot
serves one of 240 bytes, which is still longer than a directory name may be
(k_max_component, 200)."""

import os
import random
import sqlite3
import tempfile
import unittest

from fakeimap import FakeImap
from mfharness import Dovecot, imap_utf7_encode, run_mailferry

LONG = "L" * 500 + "\u00e9" * 250  # 1 000 bytes of UTF-8
WIRE = imap_utf7_encode(LONG)  # as IMAP sends it
NESTED = "Parent/" + "n" * 300
PASSWORD = "Long-Names-Canary-7"
MSGS = [b"Subject: m%d\r\nMessage-ID: <long%d@x>\r\n\r\nbody %d\r\n" % (i, i, i) for i in range(3)]


def imap(port: int) -> str:
    return f"imap://u@127.0.0.1:{port}"


class LongFolderNamesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.archive = os.path.join(self.tmp.name, "archive")

    def mf(self, *args, ok=(0,)):
        r = run_mailferry(args, password=PASSWORD)
        self.assertIn(r.returncode, ok, r.stdout + r.stderr)
        return r

    def backup(self, fmt: str):
        folders = {"INBOX": MSGS[:1], WIRE: MSGS, NESTED: MSGS[1:]}
        with FakeImap(folders) as srv:
            self.mf("backup", imap(srv.port), self.archive, "--allow-plaintext", "--format", fmt,
                    "--timeout", "10", "--password-env", "MF_TEST_PASSWORD")

    def restore(self) -> tuple[dict, str]:
        with FakeImap({"INBOX": []}) as target:
            r = self.mf("restore", self.archive, imap(target.port), "--allow-plaintext",
                        "--timeout", "10", "--target-password-env", "MF_TEST_PASSWORD")
            return {k.decode("utf-8", "replace"): v for k, v in target.folders.items()}, r.stderr

    def export_count(self) -> int:
        dest = os.path.join(self.tmp.name, "export")
        self.mf("export", self.archive, dest)
        return sum(len(files) for _, _, files in os.walk(dest))

    def check_full_names(self, fmt: str):
        self.backup(fmt)
        restored, _ = self.restore()
        self.assertEqual(sorted(restored.get(WIRE, [])), sorted(MSGS), sorted(restored))
        self.assertEqual(sorted(restored.get(NESTED, [])), sorted(MSGS[1:]), sorted(restored))
        self.assertEqual(self.export_count(), 1 + len(MSGS) + len(MSGS[1:]))
        r = self.mf("status", self.archive)
        self.assertIn(LONG, r.stdout)
        self.assertNotIn("%~", r.stdout)

    def test_maildir_folder_keeps_its_full_name(self):
        self.check_full_names("maildir")

    def test_mbox_folder_keeps_its_full_name(self):
        self.check_full_names("mbox")

    def check_without_names(self, fmt: str):
        self.backup(fmt)
        # As a backup made before the names were kept left it.
        db = sqlite3.connect(os.path.join(self.archive, ".mailferry", "state.db"))
        db.execute("DROP TABLE IF EXISTS folder_names")
        db.commit()
        db.close()
        restored, stderr = self.restore()
        shortened = [name for name in restored if "%~" in name]
        self.assertEqual(len(shortened), 2, sorted(restored))
        self.assertEqual(sorted(m for n in shortened for m in restored[n]), sorted(MSGS + MSGS[1:]))
        self.assertIn("warning:", stderr)
        self.assertIn("full name", stderr)
        self.assertEqual(self.export_count(), 1 + len(MSGS) + len(MSGS[1:]))
        # The next backup, which finds the folders unchanged, records the names.
        self.backup(fmt)
        restored, stderr = self.restore()
        self.assertEqual(sorted(restored.get(WIRE, [])), sorted(MSGS), sorted(restored))
        self.assertNotIn("warning:", stderr)

    def test_maildir_archive_without_the_names_gives_its_messages_back(self):
        self.check_without_names("maildir")

    def test_mbox_archive_without_the_names_gives_its_messages_back(self):
        self.check_without_names("mbox")


class DovecotLongFolderNameTest(unittest.TestCase):
    NAME = "D" * 240

    def test_backup_and_restore_to_another_account(self):
        d = Dovecot().start()
        self.addCleanup(d.stop)
        users = [f"l{random.randrange(10**9)}" for _ in range(2)]
        for user in users:
            d.add_user(user, PASSWORD)
        d.create_folder(users[0], self.NAME)
        d.save_many(users[0], self.NAME, MSGS)
        with tempfile.TemporaryDirectory() as tmp:
            archive = os.path.join(tmp, "archive")
            for args in (["backup", d.url("imaps", users[0]), archive, "--cacert", d.cacert,
                          "--password-env", "MF_TEST_PASSWORD"],
                         ["restore", archive, d.url("imaps", users[1]), "--target-cacert", d.cacert,
                          "--target-password-env", "MF_TEST_PASSWORD"]):
                r = run_mailferry(args, password=PASSWORD)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(self.NAME, d.folders(users[1]))
        self.assertEqual(sorted(d.fetch_all(users[1], self.NAME).values()), sorted(MSGS))


if __name__ == "__main__":
    unittest.main()
