"""`mailferry export ARCHIVE DEST`: an archive's folders as .eml files or
mboxrd files, the bytes those the archive holds, with the folder and date
and size filters; nothing written outside DEST whatever the archive's
folder names and subjects; the archive only read, and not locked."""

import datetime
import fcntl
import hashlib
import os
import re
import tempfile
import unittest

from archive import folder_dirs, mbox_files, read_mboxrd
from fakeimap import FakeImap
from mfharness import DovecotTestCase, make_message, run_mailferry

PASSWORD = "Export-Canary-31"
EML_NAME = re.compile(r"^(\d{4}-\d\d-\d\d_\d{4}|undated)_([^/]*_)?[0-9a-f]{10}(~\d+)?\.eml$")


def day(y, m, d):
    return datetime.datetime(y, m, d, 12, 0, tzinfo=datetime.timezone.utc)


def archive_files(maildir):
    """The bytes of every message file of a Maildir folder of the archive (LF line ends)."""
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(maildir, sub)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read())
    return sorted(out)


def eml_files(folder_dir):
    out = []
    for name in os.listdir(folder_dir):
        path = os.path.join(folder_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out.append((name, f.read()))
    return sorted(out)


def tree_digest(root):
    """A digest of every file name and content below root, but SQLite's
    shared-memory files, which a read-only reader of a WAL database makes."""
    h = hashlib.sha256()
    for dirpath, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            if name in ("state.db-shm", "state.db-wal"):
                continue
            path = os.path.join(dirpath, name)
            h.update(path.encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class ExportTest(DovecotTestCase):
    PASSWORD = PASSWORD
    USER_PREFIX = "x"

    def setUp(self):
        super().setUp()
        self.dest = os.path.join(self.tmp.name, "dest")

    def fill(self):
        d = self.dovecot
        d.save(self.user, "INBOX", make_message(1, subject="Quarterly report"), date=day(2024, 1, 10))
        d.save(self.user, "INBOX", make_message(2, subject="../../etc/passwd " + "y" * 300,
                                                body_lines=["From the start", ">From quoted", "x"]),
               date=day(2024, 2, 10))
        d.save(self.user, "INBOX", make_message(3, size=5000), date=day(2024, 3, 10))
        d.create_folder(self.user, "Work/Projects")
        d.save(self.user, "Work/Projects", make_message(4, subject="Plans"), date=day(2024, 2, 20))

    def backup(self, *extra):
        d = self.dovecot
        r = run_mailferry(["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD", *extra], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)

    def export(self, *extra, expect=0):
        r = run_mailferry(["export", self.archive, self.dest, *extra])
        self.assertEqual(r.returncode, expect, r.stderr + r.stdout)
        return r

    def test_eml_files_hold_the_archives_bytes_named_by_date_and_subject(self):
        self.fill()
        self.backup()
        before = tree_digest(self.archive)
        r = self.export()
        self.assertIn("4 messages exported", r.stdout)
        for folder, maildir in folder_dirs(self.archive).items():
            got = eml_files(os.path.join(self.dest, folder))
            self.assertEqual(sorted(data for _, data in got), archive_files(maildir), folder)
            for name, _ in got:
                self.assertRegex(name, EML_NAME)
                self.assertLessEqual(len(name.encode()), 100)
        names = [n for n, _ in eml_files(os.path.join(self.dest, "INBOX"))]
        self.assertTrue(any(n.startswith("2024-01-10_1200_Quarterly-report_") for n in names), names)
        self.assertTrue(any("_etc-passwd-yyy" in n for n in names), names)
        # A second export into the same DEST replaces the same files.
        self.export()
        self.assertEqual([n for n, _ in eml_files(os.path.join(self.dest, "INBOX"))], names)
        self.assertEqual(tree_digest(self.archive), before, "the archive was changed")

    def test_mbox_files_hold_the_archives_messages(self):
        self.fill()
        self.backup()
        self.export("--as", "mbox")
        self.assertEqual(sorted(mbox_files(self.dest)), sorted(folder_dirs(self.archive)))
        for folder, maildir in folder_dirs(self.archive).items():
            path = os.path.join(self.dest, folder + ".mbox")
            got = sorted(m.replace(b"\r\n", b"\n") for m in read_mboxrd(path))
            self.assertEqual(got, archive_files(maildir), folder)
        with open(os.path.join(self.dest, "Work", "Projects.mbox"), "rb") as f:
            self.assertTrue(f.readline().startswith(b"From MAILER-DAEMON Tue Feb 20 12:00:00 2024"))
        with open(os.path.join(self.dest, "INBOX.mbox"), "rb") as f:
            self.assertIn(b"\n>From the start\n>>From quoted\n", f.read())

    def test_folder_date_and_size_filters(self):
        self.fill()
        self.backup()
        r = self.export("--folder", "INBOX", "--since", "2024-02-01", "--before", "2024-03-10")
        self.assertEqual(os.listdir(self.dest), ["INBOX"])
        names = os.listdir(os.path.join(self.dest, "INBOX"))
        self.assertEqual(len(names), 1, names)
        self.assertTrue(names[0].startswith("2024-02-10_"), names)
        self.assertIn("2 left out by the filters", r.stdout)
        self.dest = os.path.join(self.tmp.name, "small")
        self.export("--exclude", "Work*", "--max-size", "4K")
        self.assertEqual(len(os.listdir(os.path.join(self.dest, "INBOX"))), 2)
        self.assertFalse(os.path.exists(os.path.join(self.dest, "Work")))
        for bad in (["--since", "2024-02-30"], ["--before", "yesterday"], ["--max-size", "10Q"],
                    ["--as", "pdf"]):
            r = self.export(*bad, expect=2)
            self.assertTrue(r.stderr.strip(), bad)

    def test_mbox_archive_exports_what_its_mbox_holds(self):
        self.fill()
        self.backup("--format", "mbox")
        self.export()
        for folder, path in mbox_files(self.archive).items():
            want = sorted(m.replace(b"\r\n", b"\n") for m in read_mboxrd(path))
            got = sorted(data for _, data in eml_files(os.path.join(self.dest, folder)))
            self.assertEqual(got, want, folder)
        self.dest = os.path.join(self.tmp.name, "as-mbox")
        self.export("--as", "mbox")
        for folder, path in mbox_files(self.archive).items():
            self.assertEqual(sorted(read_mboxrd(os.path.join(self.dest, folder + ".mbox"))),
                             sorted(read_mboxrd(path)), folder)

    def test_a_locked_archive_is_exported_and_left_unchanged(self):
        # A backup holds the lock; an export neither waits for it nor takes it.
        self.fill()
        for fmt in ("maildir", "mbox"):
            with self.subTest(fmt):
                self.archive = os.path.join(self.tmp.name, "archive-" + fmt)
                self.dest = os.path.join(self.tmp.name, "dest-" + fmt)
                self.backup("--format", fmt)
                before = tree_digest(self.archive)
                with open(os.path.join(self.archive, ".mailferry", "lock"), "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self.export()
                self.assertEqual(tree_digest(self.archive), before)
                self.assertEqual(len(os.listdir(os.path.join(self.dest, "INBOX"))), 3)

    def test_refusals(self):
        self.fill()
        self.backup()
        empty = os.path.join(self.tmp.name, "empty")
        os.mkdir(empty)
        r = run_mailferry(["export", empty, self.dest])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a mailferry archive", r.stderr)
        r = run_mailferry(["export", self.archive, os.path.join(self.archive, "out")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.archive, "out")))


HOSTILE = ["../x", "a/../../b", ".", "..", "/abs", ".mailferry", b"ctl\x01\x1b[31mred", "x" * 1000,
           "Case", "case", "INBOX"]
SUBJECTS = [b"../../../escape", b"/etc/passwd", b"a\x00b", b"\x1b[2J clear", b"x" * 5000,
            "\u202egnp.exe".encode(), b""]


class HostileExportTest(unittest.TestCase):
    def test_nothing_is_written_outside_dest(self):
        msgs = [b"Subject: " + s + b"\r\nMessage-ID: <h%d@x>\r\n\r\nbody\r\n" % i
                for i, s in enumerate(SUBJECTS)]
        folders = {name: msgs for name in HOSTILE}
        with tempfile.TemporaryDirectory() as outer, FakeImap(folders) as srv:
            archive = os.path.join(outer, "archive")
            dest = os.path.join(outer, "in", "dest")
            r = run_mailferry(["backup", f"imap://u@127.0.0.1:{srv.port}", archive, "--allow-plaintext",
                               "--password-env", "MF_TEST_PASSWORD", "--timeout", "10"], password="Export-Names-Canary-2b7")
            self.assertIn(r.returncode, (0, 1), r.stderr)
            # A link planted in DEST where a folder goes is not followed.
            outside = os.path.join(outer, "outside")
            os.makedirs(os.path.join(dest))
            os.makedirs(outside)
            os.symlink(outside, os.path.join(dest, "Case"))
            r = run_mailferry(["export", archive, dest])
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("Case", r.stderr)
            self.assertNotIn("\x1b", r.stdout + r.stderr)
            self.assertEqual(os.listdir(outside), [])
            real_dest = os.path.realpath(dest) + os.sep
            count = 0
            for root, dirs, files in os.walk(outer):
                if root.startswith(archive):
                    continue
                for name in files:
                    path = os.path.join(root, name)
                    self.assertTrue(os.path.realpath(path).startswith(real_dest), path)
                    self.assertRegex(name, EML_NAME)
                    self.assertNotIn("\x00", name)
                    count += 1
            self.assertFalse(os.path.exists(os.path.join(outer, "x")))
            self.assertFalse(os.path.exists(os.path.join(outer, "in", "x")))
            # Every folder but the one behind the planted link, every message
            # (the 1 000-character one too: its full name is in the state).
            self.assertGreaterEqual(count, (len(HOSTILE) - 1) * len(SUBJECTS))
            for entry in os.listdir(dest):
                self.assertFalse(entry.startswith("."), entry)


if __name__ == "__main__":
    unittest.main()
