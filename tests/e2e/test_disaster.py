"""The story mailferry exists for (issue 20): the server loses the mail, the
archive brings it back, and backups go on, each message once.

Back up an account with torture-style messages (identical twins, two
different messages sharing a Message-ID, messages without one); lose its
mail both ways: every message of INBOX expunged (the folder keeps its
UIDVALIDITY, the restored messages get new UIDs) and the folder Work
deleted and made again (a new UIDVALIDITY); restore into the same account;
back up again; restore again; back up again. Afterwards the account holds
each message once, with its flags and date, and the archive holds each
message once per folder: the backups after the restore match the returned
messages to the held ones instead of downloading them again.

The cycle runs on Dovecot and on Courier (no CONDSTORE, no LITERAL+, no
MULTIAPPEND, the "INBOX." namespace): one test body, a class per server."""

import collections
import json
import os
import random
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from mfharness import Dovecot, make_message, run_mailferry
from servers import Courier

PASSWORD = "Disaster-Canary-31c"
NO_ID = b"Subject: no id\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _DisasterCycle:
    """The tests, against cls.srv: a Dovecot or a servers.py server."""

    @classmethod
    def make_server(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.make_server().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")
        self.user = f"d{random.randrange(10**9)}"
        self.srv.add_user(self.user, PASSWORD)

    def tearDown(self):
        self.tmp.cleanup()

    # -- what differs between servers ------------------------------------------

    def expunge_all(self, folder):
        with self.srv.session(self.user) as c:
            c.select(_quote(self.srv.server_name(folder)))
            c.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)")
            c.expunge()

    def delete_folder(self, folder):
        with self.srv.session(self.user) as c:
            typ, data = c.delete(_quote(self.srv.server_name(folder)))
        self.assertEqual(typ, "OK", data)

    # -- running mailferry -------------------------------------------------------

    def mf(self, *args):
        r = run_mailferry([*args, "--json"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        return json.loads(r.stdout)

    def backup(self):
        s = self.srv
        return self.mf("backup", s.url("imaps", self.user), self.archive, "--cacert", s.cacert,
                       "--password-env", "MF_TEST_PASSWORD")

    def restore(self):
        s = self.srv
        return self.mf("restore", self.archive, s.url("imaps", self.user), "--target-cacert", s.cacert,
                       "--target-password-env", "MF_TEST_PASSWORD")

    def account(self):
        return {f: collections.Counter((m.data, frozenset(m.flags), m.date)
                                       for m in self.srv.messages(self.user, f).values())
                for f in self.srv.folders(self.user)}

    def archived(self):
        return {f: collections.Counter(m["data"] for m in read_maildir(path).values())
                for f, path in folder_dirs(self.archive).items()}

    def load(self):
        s, u = self.srv, self.user
        s.create_folder(u, "Work")
        for i in range(6):
            s.save(u, "INBOX", make_message(i), flags="\\Seen" if i % 2 else None)
        twin = make_message(50, subject="twice")
        s.save(u, "INBOX", twin)
        s.save(u, "INBOX", twin)  # two identical messages that are really two
        for i, lines in ((60, ["one"]), (61, ["another", "body"])):  # one Message-ID, two messages
            s.save(u, "INBOX", make_message(i, message_id="<shared@mailferry.test>", body_lines=lines))
        s.save(u, "INBOX", NO_ID + b"hello\r\n")
        for i in range(3):
            s.save(u, "Work", make_message(100 + i), flags="\\Flagged")
        s.save(u, "Work", NO_ID + b"work\r\n", flags="\\Seen")

    def lose_everything(self):
        self.expunge_all("INBOX")
        self.delete_folder("Work")
        self.srv.create_folder(self.user, "Work")

    # -- the tests -----------------------------------------------------------------

    def test_backup_lose_restore_backup_restore_backup(self):
        self.load()
        before_account = self.account()
        first = self.backup()
        self.assertEqual(first["totals"]["fetched"], 15)
        before_archive = self.archived()
        self.lose_everything()
        self.restore()
        self.assertEqual(self.account(), before_account)
        again = self.backup()
        self.assertEqual(again["totals"]["fetched"], 0, "restored messages downloaded again")
        self.assertEqual(sum(f.get("rematched", 0) for f in again["folders"]), 15)
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
            raw = NO_ID + body + b"\r\n"
            self.srv.save(self.user, "INBOX", raw)
        self.srv.save(self.user, "INBOX", raw)  # the second "world" is a real second message
        self.backup()
        before = self.archived()
        self.expunge_all("INBOX")
        self.restore()
        self.assertEqual(self.backup()["totals"]["fetched"], 0)
        self.assertEqual(self.archived(), before)


class DovecotDisasterTest(_DisasterCycle, unittest.TestCase):
    @classmethod
    def make_server(cls):
        return Dovecot()

    def expunge_all(self, folder):
        self.srv.expunge(self.user, folder, "1:*")

    def delete_folder(self, folder):
        self.srv.delete_folder(self.user, folder)

    def test_a_uidvalidity_change_keeps_messages_without_message_id_once(self):
        raw = NO_ID + b"hello\r\n"
        self.srv.save(self.user, "INBOX", raw)
        self.srv.save(self.user, "INBOX", make_message(1))
        self.backup()
        before = self.archived()
        self.srv.set_uidvalidity(self.user, "INBOX")
        report = self.backup()
        inbox = next(f for f in report["folders"] if f["folder"] == "INBOX")
        self.assertTrue(inbox["uidvalidity_changed"])
        self.assertEqual(inbox["rematched"], 2)
        self.assertEqual(inbox["fetched"], 0)
        self.assertEqual(self.archived(), before)


class CourierDisasterTest(_DisasterCycle, unittest.TestCase):
    @classmethod
    def make_server(cls):
        return Courier()


if __name__ == "__main__":
    unittest.main()
