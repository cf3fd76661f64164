"""COMPRESS=DEFLATE (RFC 4978) against Dovecot with imap_zlib: used by
default where the server offers it, in both directions (backup downloads,
restore uploads), and turned off by --no-compress or the job key
"compress": false. A byte-counting relay (faultproxy.py, no faults) between
mailferry and Dovecot measures the bytes on the wire; the messages are
text, which deflate shrinks to a fraction, so the bounds below cannot be
met uncompressed. The archive is compared with the server byte for byte.
The other suites' Dovecot has no imap_zlib, so everything else runs
uncompressed (their relays must see the protocol)."""

import json
import os
import random
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from faultproxy import FaultProxy
from mfharness import Dovecot, make_message, run_mailferry

PASSWORD = "Zlib-Canary-71c3"
# Dovecot 2.3: the zlib plugin and, for IMAP, imap_zlib, which offers
# COMPRESS=DEFLATE after login (doc.dovecot.org, "Zlib plugin").
ZLIB_CONFIG = """
mail_plugins = $mail_plugins zlib
protocol imap {
  mail_plugins = $mail_plugins imap_zlib
}
"""
MESSAGES = 20
SIZE = 20_000


class CompressTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dc = Dovecot(extra_config=ZLIB_CONFIG).start()

    @classmethod
    def tearDownClass(cls):
        cls.dc.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")
        self.user = f"z{random.randrange(10**9)}"
        self.dc.add_user(self.user, PASSWORD)
        self.dc.save_many(self.user, "INBOX", [make_message(i, size=SIZE) for i in range(MESSAGES)])
        self.corpus = MESSAGES * SIZE

    def tearDown(self):
        self.tmp.cleanup()

    def through_relay(self, command, source, *extra):
        """Runs a command whose IMAP account is reached through the relay
        (the plain port, STARTTLS hidden, so the relay counts IMAP's own
        bytes); returns (result, bytes server to client, client to server)."""
        with FaultProxy(self.dc.imap_port, hide_starttls=True) as relay:
            url = f"imap://{{user}}@127.0.0.1:{relay.port}"
            if command == "backup":
                args = ["backup", url.format(user=self.user), self.archive,
                        "--password-env", "MF_TEST_PASSWORD"]
            else:
                args = [command, source, url.format(user=self.target),
                        "--target-password-env", "MF_TEST_PASSWORD"]
            r = run_mailferry([*args, "--allow-plaintext", "--debug", "--json", *extra], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        return r, relay.bytes["s2c"], relay.bytes["c2s"]

    def assert_archive_equals_server(self):
        held = read_maildir(folder_dirs(self.archive)["INBOX"])
        server = self.dc.fetch_all(self.user, "INBOX")
        self.assertEqual({u: m["data"] for u, m in held.items()}, server)

    def test_backup_is_compressed_where_offered(self):
        r, down, _ = self.through_relay("backup", None)
        self.assertIn("COMPRESS DEFLATE", r.stderr)
        self.assert_archive_equals_server()
        self.assertLess(down, self.corpus * 0.3, f"{down} bytes on the wire for a {self.corpus}-byte corpus")

    def test_no_compress_turns_it_off(self):
        r, down, _ = self.through_relay("backup", None, "--no-compress")
        self.assertNotIn("COMPRESS DEFLATE", r.stderr)
        self.assert_archive_equals_server()
        self.assertGreater(down, self.corpus)

    def test_restore_uploads_compressed_and_the_rerun_adds_nothing(self):
        r = run_mailferry(["backup", self.dc.url("imaps", self.user), self.archive, "--cacert", self.dc.cacert,
                           "--password-env", "MF_TEST_PASSWORD", "--no-compress"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.target = f"r{random.randrange(10**9)}"
        self.dc.add_user(self.target, PASSWORD)
        r, _, up = self.through_relay("restore", self.archive)
        self.assertIn("COMPRESS DEFLATE", r.stderr)
        self.assertLess(up, self.corpus * 0.3, f"{up} bytes uploaded for a {self.corpus}-byte corpus")
        self.assertEqual(sorted(self.dc.fetch_all(self.target, "INBOX").values()),
                         sorted(self.dc.fetch_all(self.user, "INBOX").values()))
        r, _, _ = self.through_relay("restore", self.archive)
        self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], 0, "a rerun uploads nothing")
        self.assertEqual(self.dc.count(self.target, "INBOX"), MESSAGES)

    def test_job_key_compress_false_runs_uncompressed(self):
        with FaultProxy(self.dc.imap_port, hide_starttls=True) as relay:
            jobs = os.path.join(self.tmp.name, "jobs.json")
            with open(jobs, "w") as f:
                json.dump({"jobs": [{"name": "z", "kind": "backup", "allow_plaintext": True, "compress": False,
                                     "source": f"imap://{self.user}@127.0.0.1:{relay.port}",
                                     "archive": self.archive, "password_env": "MF_TEST_PASSWORD"}]}, f)
            r = run_mailferry(["run", jobs], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assert_archive_equals_server()
        self.assertGreater(relay.bytes["s2c"], self.corpus)


if __name__ == "__main__":
    unittest.main()
