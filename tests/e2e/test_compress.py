"""COMPRESS=DEFLATE (RFC 4978) on the suite's real servers that offer it:
used by default where the server offers it, in both directions (backup
downloads, restore uploads), and turned off by --no-compress or the job key
"compress": false. A byte-counting relay (faultproxy.py, no faults) between
mailferry and the server's IMAPS port measures the bytes on the wire (TLS
adds only its handshake and record framing; TLS itself does not compress);
the messages are text, which deflate shrinks to a fraction, so the bounds
below cannot be met uncompressed. The archive is compared with the server
byte for byte.

One test body, a class per server (as test_disaster.py does):

* Dovecot with imap_zlib. The other suites' Dovecot has no imap_zlib, so
  everything else runs uncompressed (their relays must see the protocol).
* Cyrus 3.6 offers COMPRESS=DEFLATE after login with its default imapd.conf:
  imapd built with zlib (Debian's is) always does; imapd.conf(5) has no
  option to turn it off for IMAP (only httpallowcompress, proxy_compress).
  It allows LOGIN only under TLS, hence the IMAPS port.
* Courier-IMAP 5 does not implement COMPRESS: its capability line after
  login is "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT
  THREAD=REFERENCES SORT QUOTA IDLE AUTH=PLAIN ACL ACL2=UNION ENABLE
  UTF8=ACCEPT", its imapd has no COMPRESS command and links no zlib, and its
  IMAP_CAPABILITY (imapd config) cannot add what imapd does not implement.
  The other Courier suites show that mailferry works uncompressed there."""

import json
import os
import random
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from faultproxy import FaultProxy
from mfharness import Dovecot, make_message, run_mailferry
from servers import Cyrus

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


class _CompressCases:
    """The tests, against cls.srv: a server offering COMPRESS=DEFLATE."""

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
        self.user = f"z{random.randrange(10**9)}"
        self.srv.add_user(self.user, PASSWORD)
        self.srv.save_many(self.user, "INBOX", [make_message(i, size=SIZE) for i in range(MESSAGES)])
        self.corpus = MESSAGES * SIZE

    def tearDown(self):
        self.tmp.cleanup()

    def relay(self):
        return FaultProxy(self.srv.imaps_port)

    def relay_url(self, relay, user):
        return f"imaps://{user}@127.0.0.1:{relay.port}"

    def through_relay(self, command, source, *extra):
        """Runs a command whose IMAP account is reached through the relay;
        returns (result, bytes server to client, client to server)."""
        with self.relay() as relay:
            if command == "backup":
                args = ["backup", self.relay_url(relay, self.user), self.archive,
                        "--password-env", "MF_TEST_PASSWORD"]
            else:
                args = [command, source, self.relay_url(relay, self.target),
                        "--target-password-env", "MF_TEST_PASSWORD"]
            r = run_mailferry([*args, "--cacert", self.srv.cacert, "--debug", "--json", *extra],
                              password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        return r, relay.bytes["s2c"], relay.bytes["c2s"]

    def assert_archive_equals_server(self):
        held = read_maildir(folder_dirs(self.archive)["INBOX"])
        server = self.srv.fetch_all(self.user, "INBOX")
        self.assertEqual({u: m["data"] for u, m in held.items()}, server)

    def test_backup_is_compressed_where_offered(self):
        r, down, _ = self.through_relay("backup", None)
        self.assertIn("COMPRESS DEFLATE", r.stderr)
        self.assert_archive_equals_server()
        self.assertLess(down, self.corpus * 0.3, f"{down} bytes on the wire for a {self.corpus}-byte corpus")

    def test_an_unchanged_account_costs_no_compress_round_trip(self):
        # COMPRESS is asked for before the first folder is opened, not at
        # login: a rerun that the folder list shows unchanged opens none.
        self.through_relay("backup", None)
        r, _, _ = self.through_relay("backup", None)
        self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], 0)
        self.assertNotIn("COMPRESS DEFLATE", r.stderr)

    def test_no_compress_turns_it_off(self):
        r, down, _ = self.through_relay("backup", None, "--no-compress")
        self.assertNotIn("COMPRESS DEFLATE", r.stderr)
        self.assert_archive_equals_server()
        self.assertGreater(down, self.corpus)

    def test_restore_uploads_compressed_and_the_rerun_adds_nothing(self):
        r = run_mailferry(["backup", self.srv.url("imaps", self.user), self.archive, "--cacert", self.srv.cacert,
                           "--password-env", "MF_TEST_PASSWORD", "--no-compress"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.target = f"r{random.randrange(10**9)}"
        self.srv.add_user(self.target, PASSWORD)
        r, _, up = self.through_relay("restore", self.archive)
        self.assertIn("COMPRESS DEFLATE", r.stderr)
        self.assertLess(up, self.corpus * 0.3, f"{up} bytes uploaded for a {self.corpus}-byte corpus")
        self.assertEqual(sorted(self.srv.fetch_all(self.target, "INBOX").values()),
                         sorted(self.srv.fetch_all(self.user, "INBOX").values()))
        r, _, _ = self.through_relay("restore", self.archive)
        self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], 0, "a rerun uploads nothing")
        self.assertEqual(self.srv.count(self.target, "INBOX"), MESSAGES)

    def test_job_key_compress_false_runs_uncompressed(self):
        with self.relay() as relay:
            jobs = os.path.join(self.tmp.name, "jobs.json")
            with open(jobs, "w") as f:
                json.dump({"jobs": [{"name": "z", "kind": "backup", "compress": False,
                                     "source": self.relay_url(relay, self.user), "cacert": self.srv.cacert,
                                     "archive": self.archive, "password_env": "MF_TEST_PASSWORD"}]}, f)
            r = run_mailferry(["run", jobs], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assert_archive_equals_server()
        self.assertGreater(relay.bytes["s2c"], self.corpus)


class DovecotCompressTest(_CompressCases, unittest.TestCase):
    @classmethod
    def make_server(cls):
        return Dovecot(extra_config=ZLIB_CONFIG)


class CyrusCompressTest(_CompressCases, unittest.TestCase):
    @classmethod
    def make_server(cls):
        return Cyrus()


if __name__ == "__main__":
    unittest.main()
