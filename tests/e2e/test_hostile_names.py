"""Folder names from a hostile server never create anything outside the
archive: each becomes an escaped, harmless directory below it."""

import os
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from fakeimap import FakeImap
from mfharness import run_mailferry

MSG = b"Subject: hello\r\nMessage-ID: <h@x>\r\n\r\nbody line\r\n"

HOSTILE = [
    "../x", "a/../../b", ".", "..", "/abs", "a//b", "cur", "tmp", "new", ".mailferry",
    b"ctl\x01\x1b[31mred", b"nl\r\nname", "x" * 10000, "Case", "case", "INBOX", "%2E%2E",
]


class HostileNamesTest(unittest.TestCase):
    def test_names_stay_inside_the_archive(self):
        folders = {name: [MSG] for name in HOSTILE}
        with tempfile.TemporaryDirectory() as outer, FakeImap(folders) as srv:
            archive = os.path.join(outer, "inner", "archive")
            r = run_mailferry(["backup", f"imap://u@127.0.0.1:{srv.port}", archive, "--allow-plaintext",
                               "--password-env", "MF_TEST_PASSWORD", "--timeout", "10"], password="Hostile-Names-Canary-5d1")
            # Every path created is below the archive.
            for root, dirs, files in os.walk(outer):
                for name in dirs + files:
                    path = os.path.realpath(os.path.join(root, name))
                    if path in (os.path.realpath(os.path.join(outer, "inner")), os.path.realpath(archive)):
                        continue
                    self.assertTrue(path.startswith(os.path.realpath(archive) + os.sep), path)
            self.assertIn(r.returncode, (0, 1), r.stderr)
            # The terminal never sees raw control characters from the server.
            self.assertNotIn("\x1b", r.stdout + r.stderr)
            dirs = folder_dirs(archive)
            # Each name that can be sent in a command was backed up, distinctly.
            stored = sum(len(read_maildir(p)) for p in dirs.values())
            self.assertGreaterEqual(stored, len(HOSTILE) - 1)  # the CR/LF name cannot be named in EXAMINE
            self.assertFalse(os.path.exists(os.path.join(archive, "..", "x")))
            self.assertFalse(os.path.exists(os.path.join(outer, "b")))
            self.assertFalse(os.path.exists("/abs"))
            self.assertFalse(os.path.isdir(os.path.join(archive, ".mailferry", "cur")))


if __name__ == "__main__":
    unittest.main()
