"""A listing is checked against EXISTS and against STATUS MESSAGES (issue 18).
Yahoo shows only the newest 10 000 messages of a larger folder unless UIDONLY
is enabled (its "Limited mode"; see fakeimap.py's ``window``). Emulated here
at a small scale: a window of 10 over a folder of 30. Where asking by UID
range reaches the older messages, mailferry pages down and holds all 30;
where nothing reaches them, the folder fails naming both counts, and the run
never exits 0."""

import os
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from fakeimap import FakeImap
from mfharness import run_mailferry

MESSAGES = [b"Subject: m%d\r\nMessage-ID: <m%d@x>\r\n\r\nbody %d\r\n" % (i, i, i) for i in range(1, 31)]
AFTER = [b"Subject: after\r\nMessage-ID: <after@x>\r\n\r\nafter\r\n"]


class ListingWindowTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")

    def tearDown(self):
        self.tmp.cleanup()

    def backup(self, srv):
        return run_mailferry(["backup", f"imap://u@127.0.0.1:{srv.port}", self.archive, "--allow-plaintext",
                              "--password-env", "MF_TEST_PASSWORD", "--timeout", "10"], password="Canary-window-4e2a")

    def held(self):
        return {name: sorted(read_maildir(path)) for name, path in folder_dirs(self.archive).items()}

    def listings(self, srv):
        return [c.split(b" ")[3] for c in srv.commands
                if c.startswith(b"M") and b" UID FETCH " in c and b"RFC822.SIZE" in c and b"BODY" not in c]

    def test_a_window_per_command_is_paged_through(self):
        with FakeImap({"INBOX": MESSAGES, "After": AFTER}, window=10) as srv:
            r = self.backup(srv)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.held()["INBOX"], list(range(1, 31)))
        self.assertEqual(self.held()["After"], [1])
        self.assertEqual(self.listings(srv)[:3], [b"1:*", b"1:20", b"1:10"])

    def test_a_window_nothing_reaches_past_fails_the_folder(self):
        with FakeImap({"INBOX": MESSAGES, "After": AFTER}, window=10, window_scope="folder") as srv:
            r = self.backup(srv)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout + r.stderr, r"listed 10 of the 30 EXISTS announced messages of INBOX")
        self.assertNotIn("INBOX", self.held())          # never a partial folder taken for the whole
        self.assertEqual(self.held()["After"], [1])     # and the folders after it are done

    def test_a_window_hidden_from_exists_is_caught_by_status(self):
        with FakeImap({"INBOX": MESSAGES, "After": AFTER}, window=10, window_scope="folder", window_exists=True,
                      list_status=True, capability=b"IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ LIST-STATUS") as srv:
            r = self.backup(srv)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout + r.stderr, r"listed 10 of the 30 STATUS gives messages of INBOX")
        self.assertEqual(self.held()["After"], [1])


if __name__ == "__main__":
    unittest.main()
