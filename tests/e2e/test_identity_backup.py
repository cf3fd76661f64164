"""Backups that know a message by its identity (issue 20, the backup side).

A message moved on the server from one folder to another is already in the
archive: the backup links the held file into the new folder (a hard link,
one inode) instead of downloading it again, and the report counts it as
linked, apart from what was fetched. A dry run after a move or a restore
counts what would be linked or re-matched, and changes nothing. A crash at
any step of a run that links leaves an archive the next run completes.
verify takes a size the server misreports (the Message-ID matches) for a
warning, not a difference; with --deep the content decides."""

import json
import os
import shutil
import tempfile
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from mfharness import DovecotTestCase, imap_mailbox, make_message, run_mailferry
from providers import HMailServerImap, delivered

PASSWORD = "Identity-Canary-7e2"


class IdentityBackupTest(DovecotTestCase):
    PASSWORD = PASSWORD
    USER_PREFIX = "i"

    def run_backup(self, *extra, env=None):
        d = self.dovecot
        return run_mailferry(["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                              "--password-env", "MF_TEST_PASSWORD", *extra], password=PASSWORD, env=env)

    def backup(self, *extra):
        r = self.run_backup("--json", *extra)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        return json.loads(r.stdout)

    @staticmethod
    def folder(report, name):
        return next(f for f in report["folders"] if f["folder"] == name)

    def move(self, uids, to):
        with self.dovecot.imap_session(self.user) as imap:
            imap.select("INBOX")
            typ, data = imap.uid("MOVE", uids, imap_mailbox(to))
            self.assertEqual(typ, "OK", data)

    def load(self):
        """INBOX with 4 messages, Archive with 1; backed up."""
        d = self.dovecot
        d.create_folder(self.user, "Archive")
        for i in range(4):
            d.save(self.user, "INBOX", make_message(i), flags="\\Seen" if i % 2 else None)
        d.save(self.user, "Archive", make_message(40))
        self.assertEqual(self.backup()["totals"]["fetched"], 5)

    def files(self, folder):
        path = folder_dirs(self.archive)[folder]
        return {uid: os.stat(os.path.join(path, "cur", m["name"])) for uid, m in read_maildir(path).items()}

    def assert_linked(self, folder, count):
        """`count` files of `folder` are hard links to files of INBOX."""
        inbox = {st.st_ino for st in self.files("INBOX").values()}
        linked = [st for st in self.files(folder).values() if st.st_ino in inbox]
        self.assertEqual(len(linked), count)
        self.assertTrue(all(st.st_nlink == 2 for st in linked))

    def test_moved_messages_are_linked_not_fetched(self):
        self.load()
        self.move("1:2", "Archive")
        report = self.backup()
        archive = self.folder(report, "Archive")
        self.assertEqual(archive["linked"], 2)
        self.assertEqual(archive["fetched"], 0)
        self.assertEqual(report["totals"]["fetched"], 0, "a moved message was downloaded again")
        self.assertEqual(report["totals"]["bytes"], 0)
        self.assert_linked("Archive", 2)
        # The archive holds what the server has, with the moved messages' flags.
        held = read_maildir(folder_dirs(self.archive)["Archive"])
        server = self.dovecot.messages(self.user, "Archive")
        self.assertEqual({m["data"] for m in held.values()}, {m.data for m in server.values()})
        self.assertEqual({u: m["flags"] for u, m in held.items()},
                         {u: set(m.flags) for u, m in server.items()})
        again = self.backup()
        self.assertEqual(again["totals"]["fetched"], 0)
        self.assertEqual(self.folder(again, "Archive")["linked"], 0)

    def test_a_new_folder_of_moved_messages_is_linked(self):
        # A folder the archive holds nothing of is listed in parts.
        self.load()
        self.dovecot.create_folder(self.user, "Later")
        self.move("2:4", "Later")
        report = self.backup()
        later = self.folder(report, "Later")
        self.assertEqual((later["linked"], later["fetched"], later["planned"]), (3, 0, 0))
        self.assertEqual(later.get("error"), None)
        self.assert_linked("Later", 3)

    def test_the_text_report_counts_linked_messages(self):
        self.load()
        self.move("1", "Archive")
        r = self.run_backup()
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertIn("fetched 0 ", r.stdout)
        self.assertIn("0 re-matched, 1 linked", r.stdout)

    def test_a_message_changed_on_the_way_is_fetched(self):
        # The same Message-ID with another size is another message.
        self.load()
        self.dovecot.save(self.user, "Archive", make_message(0, subject="edited, same Message-ID"))
        report = self.backup()
        archive = self.folder(report, "Archive")
        self.assertEqual((archive["linked"], archive["fetched"]), (0, 1))

    def test_dry_run_counts_what_would_be_linked(self):
        self.load()
        self.move("1:2", "Archive")
        before = {f: sorted(os.listdir(os.path.join(p, "cur"))) for f, p in folder_dirs(self.archive).items()}
        report = self.backup("--dry-run")
        archive = self.folder(report, "Archive")
        self.assertEqual((archive["linked"], archive["planned"]), (2, 0))
        after = {f: sorted(os.listdir(os.path.join(p, "cur"))) for f, p in folder_dirs(self.archive).items()}
        self.assertEqual(after, before, "a dry run changed the archive")
        self.assertEqual(self.folder(self.backup(), "Archive")["linked"], 2)

    def test_dry_run_after_a_restore_counts_what_would_be_rematched(self):
        self.load()
        self.dovecot.expunge(self.user, "INBOX", "1:*")
        d = self.dovecot
        r = run_mailferry(["restore", self.archive, d.url("imaps", self.user), "--target-cacert", d.cacert,
                           "--target-password-env", "MF_TEST_PASSWORD", "--json"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        dry = self.folder(self.backup("--dry-run"), "INBOX")
        self.assertEqual((dry["rematched"], dry["planned"], dry["gone_from_source"]), (4, 0, 0))
        real = self.folder(self.backup(), "INBOX")
        self.assertEqual((real["rematched"], real["fetched"]), (4, 0))

    def test_a_crash_at_any_step_of_a_linking_run(self):
        self.load()
        self.move("1:2", "Archive")
        want = {m.data for m in self.dovecot.messages(self.user, "Archive").values()}
        saved = os.path.join(self.tmp.name, "saved")
        shutil.copytree(self.archive, saved)
        steps = os.path.join(self.tmp.name, "steps")
        # Only the folder that links: its steps are the ones to crash at.
        only = ("--folder", "Archive")
        r = self.run_backup("--quiet", *only, env={"MAILFERRY_TEST_STEPS_FILE": steps})
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(steps) as f:
            kinds = [line.split(" ", 1)[1].strip() for line in f]
        self.assertIn("maildir file linked from another folder", kinds, kinds)
        for n in range(1, len(kinds) + 1):
            with self.subTest(step=n, what=kinds[n - 1]):
                shutil.rmtree(self.archive)
                shutil.copytree(saved, self.archive)
                r = self.run_backup("--quiet", *only, env={"MAILFERRY_TEST_CRASH_AT": str(n)})
                self.assertEqual(r.returncode, 86, f"did not crash at step {n}: {r.stderr}")
                rerun = self.backup(*only)
                self.assertEqual(rerun["totals"]["fetched"], 0, f"a moved message fetched after a crash at {n}")
                held = read_maildir(folder_dirs(self.archive)["Archive"])
                self.assertEqual(sorted(m["data"] for m in held.values()), sorted(want))
                self.assertEqual(tmp_files(self.archive), [])
                self.assertEqual(self.backup(*only)["totals"]["fetched"], 0)


class LateHMailServer(HMailServerImap):
    """hMailServer that starts misreporting sizes only when told (after the
    backup): as if the archive had been made from a server that counts right."""
    misreport = False

    def reported_size(self, folder, uid, body):
        return super().reported_size(folder, uid, body) if self.misreport else len(body)


class VerifyMisreportedSizeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")
        self.bodies = [delivered(make_message(i)) for i in range(3)]

    def tearDown(self):
        self.tmp.cleanup()

    def mf(self, srv, command, *extra):
        args = [command, f"imap://u@127.0.0.1:{srv.port}", self.archive, "--allow-plaintext",
                "--password-env", "MF_TEST_PASSWORD", "--timeout", "10", "--json", *extra]
        r = run_mailferry(args, password=PASSWORD)
        return r.returncode, json.loads(r.stdout) if r.stdout.strip() else r.stderr

    def verify(self, srv, *extra):
        code, report = self.mf(srv, "verify", *extra)
        inbox = next(f for f in report["folders"] if f["folder"] == "INBOX")
        return code, inbox

    def backed_up(self, srv):
        code, report = self.mf(srv, "backup")
        self.assertEqual(code, 0, report)
        srv.misreport = True

    def test_a_misreported_size_is_a_warning(self):
        with LateHMailServer({"INBOX": list(self.bodies)}) as srv:
            self.backed_up(srv)
            code, inbox = self.verify(srv)
        self.assertEqual(code, 0, inbox)
        self.assertEqual((inbox["size_differ"], len(inbox["size_misreported"])), ([], 3))
        self.assertTrue(inbox["matches"])

    def test_with_deep_the_content_decides(self):
        with LateHMailServer({"INBOX": list(self.bodies)}) as srv:
            self.backed_up(srv)
            code, inbox = self.verify(srv, "--deep")
            self.assertEqual(code, 0, inbox)
            self.assertEqual(len(inbox["size_misreported"]), 3)
            # The same Message-ID over other bytes: a difference, with --deep only.
            srv.folders[b"INBOX"][0] = delivered(make_message(0, subject="changed on the server"))
            code, shallow = self.verify(srv)
            code_deep, deep = self.verify(srv, "--deep")
        self.assertEqual((code, shallow["size_differ"]), (0, []))
        self.assertEqual(code_deep, 1, deep)
        self.assertEqual((deep["content_differ"], deep["size_differ"]), (["1"], []))
        self.assertEqual(len(deep["size_misreported"]), 2)


if __name__ == "__main__":
    unittest.main()
