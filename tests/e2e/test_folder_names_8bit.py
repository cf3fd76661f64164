"""Folder names with raw 8-bit bytes (issue 18). Some servers list names in
8-bit rather than modified UTF-7; a quoted string carries only 7-bit text
(RFC 3501 section 9, QUOTED-CHAR), so mailferry must send such a name back as
a literal: {n+} with LITERAL+ (or LITERAL- up to 4096 octets, RFC 7888),
else {n} and the octets after the server's "+". Where the server offers
UTF8=ACCEPT (RFC 6855) mailferry enables it and reads names as UTF-8."""

import os
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from fakeimap import FakeImap
from mfharness import run_mailferry

MSG = b"Subject: hello\r\nMessage-ID: <h@x>\r\n\r\nbody line\r\n"
MSG2 = b"Subject: two\r\nMessage-ID: <two@x>\r\n\r\nsecond message\r\n"
LATIN1 = b"Entw\xfcrfe"            # ISO-8859-1, as some servers keep names
UTF8 = "Reçus".encode()            # UTF-8 bytes, not modified UTF-7
FOLDERS = {"INBOX": [MSG], LATIN1: [MSG, MSG2], UTF8: [MSG2], "After": [MSG]}
NO_LITERAL_PLUS = b"IMAP4rev1 AUTH=PLAIN SASL-IR"


class EightBitNamesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")

    def tearDown(self):
        self.tmp.cleanup()

    def backup(self, srv):
        return run_mailferry(["backup", f"imap://u@127.0.0.1:{srv.port}", self.archive, "--allow-plaintext",
                              "--password-env", "MF_TEST_PASSWORD", "--timeout", "10"], password="Canary-8bit-7c1d")

    def held(self):
        return {name: len(read_maildir(path)) for name, path in folder_dirs(self.archive).items()}

    def examined(self, srv, name):
        """The EXAMINE commands mailferry sent for `name` (mailferry's tags start with M)."""
        return [c for c in srv.commands if c.startswith(b"M") and b" EXAMINE " in c and name in c]

    def assert_all_held(self, r):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        held = self.held()
        self.assertEqual(sum(held.values()), 5, held)
        self.assertEqual(sorted(held.values()), [1, 1, 1, 2], held)

    def test_8bit_names_go_as_literals_with_literal_plus(self):
        with FakeImap(FOLDERS, bad_8bit_quoted=True) as srv:
            r = self.backup(srv)
        self.assert_all_held(r)
        for name in (LATIN1, UTF8):
            sent = self.examined(srv, name)
            self.assertTrue(sent, srv.commands)
            self.assertIn(b"EXAMINE {%d+}\r\n" % len(name) + name, sent[0])
        # 7-bit names stay quoted strings.
        self.assertTrue(any(b'EXAMINE "After"' in c for c in srv.commands), srv.commands)

    def test_synchronizing_literal_waits_for_the_continuation(self):
        continued = []
        with FakeImap(FOLDERS, bad_8bit_quoted=True, capability=NO_LITERAL_PLUS) as srv:
            srv.before_continuation = continued.append
            r = self.backup(srv)
        self.assert_all_held(r)
        sent = self.examined(srv, LATIN1)
        self.assertIn(b"EXAMINE {%d}\r\n" % len(LATIN1) + LATIN1, sent[0])
        self.assertIn(len(LATIN1), continued)

    def test_literal_minus_is_non_synchronizing_up_to_4096_octets(self):
        with FakeImap(FOLDERS, bad_8bit_quoted=True, capability=NO_LITERAL_PLUS + b" LITERAL-") as srv:
            r = self.backup(srv)
        self.assert_all_held(r)
        self.assertIn(b"EXAMINE {%d+}\r\n" % len(UTF8) + UTF8, self.examined(srv, UTF8)[0])

    def test_utf8_accept_is_enabled_and_names_are_utf8(self):
        def enable(server, tag, rest, selected):
            return b"* ENABLED UTF8=ACCEPT\r\n" + tag + b" OK enabled\r\n"
        # "a&AOk-b" is "aéb" in modified UTF-7, but plain text in UTF-8.
        folders = dict(FOLDERS)
        folders["a&AOk-b"] = [MSG]
        with FakeImap(folders, bad_8bit_quoted=True, capability=b"IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ ENABLE UTF8=ACCEPT",
                      overrides={"ENABLE": enable}) as srv:
            r = self.backup(srv)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        verbs = [c.split(b" ")[1] for c in srv.commands if c.startswith(b"M")]
        self.assertIn(b"ENABLE", verbs)
        self.assertLess(verbs.index(b"ENABLE"), verbs.index(b"LIST"), verbs)   # names are UTF-8 from LIST on
        self.assertTrue(any(c.endswith(b" ENABLE UTF8=ACCEPT") for c in srv.commands), srv.commands)
        held = self.held()
        self.assertEqual(held.get("a&AOk-b"), 1, held)
        self.assertEqual(held.get("Reçus"), 1, held)
        self.assertNotIn("aéb", held)


if __name__ == "__main__":
    unittest.main()
