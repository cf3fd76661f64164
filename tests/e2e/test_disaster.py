"""The story mailferry exists for (issue 20): the server loses the mail, the
archive brings it back, and backups go on, each message once.

Back up an account; lose its mail (every message expunged, so the folders
keep their UIDVALIDITY and the restored messages get new UIDs); restore
into the same account; back up again; restore again; back up again.
Afterwards the account holds each message once, with its flags and date,
and the archive holds each message once per folder: the backups after the
restore match the returned messages to the held ones (by Message-ID and
size) instead of downloading them again."""

import collections
import os
import random
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from mfharness import Dovecot, make_message, run_mailferry

PASSWORD = "Disaster-Canary-31c"


class DisasterCycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot().start()

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")
        self.user = f"d{random.randrange(10**9)}"
        self.dovecot.add_user(self.user, PASSWORD)

    def tearDown(self):
        self.tmp.cleanup()

    def mf(self, *args):
        d = self.dovecot
        r = run_mailferry([*args, "--json"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        import json
        return json.loads(r.stdout)

    def backup(self):
        d = self.dovecot
        return self.mf("backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                       "--password-env", "MF_TEST_PASSWORD")

    def restore(self):
        d = self.dovecot
        return self.mf("restore", self.archive, d.url("imaps", self.user), "--target-cacert", d.cacert,
                       "--target-password-env", "MF_TEST_PASSWORD")

    def account(self):
        d = self.dovecot
        return {f: collections.Counter((m.data, frozenset(m.flags), m.date)
                                       for m in d.messages(self.user, f).values())
                for f in d.folders(self.user)}

    def archived(self):
        return {f: collections.Counter(m["data"] for m in read_maildir(path).values())
                for f, path in folder_dirs(self.archive).items()}

    def load(self):
        d = self.dovecot
        d.create_folder(self.user, "Work")
        for i in range(6):
            d.save(self.user, "INBOX", make_message(i), flags="\\Seen" if i % 2 else None)
        twin = make_message(50, subject="twice")
        d.save(self.user, "INBOX", twin)
        d.save(self.user, "INBOX", twin)  # two identical messages that are really two
        for i in range(3):
            d.save(self.user, "Work", make_message(100 + i), flags="\\Flagged")

    def lose_everything(self):
        for f in ("INBOX", "Work"):
            self.dovecot.expunge(self.user, f, "1:*")

    def test_backup_lose_restore_backup_restore_backup(self):
        self.load()
        before_account = self.account()
        first = self.backup()
        self.assertEqual(first["totals"]["fetched"], 11)
        before_archive = self.archived()
        self.lose_everything()
        self.restore()
        self.assertEqual(self.account(), before_account)
        again = self.backup()
        self.assertEqual(again["totals"]["fetched"], 0, "restored messages downloaded again")
        self.assertEqual(sum(f["rematched"] for f in again["folders"] if "rematched" in f), 11)
        self.assertEqual(self.archived(), before_archive)
        self.restore()
        self.assertEqual(self.account(), before_account, "a second restore added messages")
        third = self.backup()
        self.assertEqual(third["totals"]["fetched"], 0)
        self.assertEqual(self.archived(), before_archive)

    def test_a_message_without_message_id_comes_back_once(self):
        # Without a Message-ID the header block's digest (and the size) tell
        # it; the two that differ only in their body stay apart.
        for body in (b"hello", b"world"):
            raw = b"Subject: no id\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n" + body + b"\r\n"
            self.dovecot.save(self.user, "INBOX", raw)
        self.dovecot.save(self.user, "INBOX", raw)  # the second "world" is a real second message
        self.backup()
        before = self.archived()
        self.lose_everything_inbox_only()
        self.restore()
        self.assertEqual(self.backup()["totals"]["fetched"], 0)
        self.assertEqual(self.archived(), before)

    def test_a_uidvalidity_change_keeps_messages_without_message_id_once(self):
        raw = b"Subject: no id\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nhello\r\n"
        self.dovecot.save(self.user, "INBOX", raw)
        self.dovecot.save(self.user, "INBOX", make_message(1))
        self.backup()
        before = self.archived()
        self.dovecot.set_uidvalidity(self.user, "INBOX")
        report = self.backup()
        inbox = next(f for f in report["folders"] if f["folder"] == "INBOX")
        self.assertTrue(inbox["uidvalidity_changed"])
        self.assertEqual(inbox["rematched"], 2)
        self.assertEqual(inbox["fetched"], 0)
        self.assertEqual(self.archived(), before)

    def lose_everything_inbox_only(self):
        self.dovecot.expunge(self.user, "INBOX", "1:*")


if __name__ == "__main__":
    unittest.main()
