"""Every command has a deadline a trickling reply cannot extend, and every
connection has TCP keepalive (issue 18).

--timeout bounds a stall (nothing for that long) and sets a minimum rate:
over every --timeout seconds spent waiting for the server it must deliver
128 bytes a second times that (man/mailferry.1, --timeout). Before, the
timer restarted with every byte, so a reply arriving one byte every half
second never ended. A slow but real transfer is not a timeout: that is
test_network_faults' "trickle is slow but not a timeout" (1 byte a
millisecond with --timeout 1), which must keep passing."""

import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from fakeimap import FakeImap
from mfrun import assert_sane_exit, run_measured

PASSWORD = "Deadline-Canary-3a9f"
MSG = b"Subject: slow\r\nMessage-ID: <slow@x>\r\n\r\n" + b"x" * 200 + b"\r\n"
TIMEOUT = 2
# Three sessions for the folder (the engine's recovery), each ending after
# about one --timeout window, with back-offs between: well under this.
BOUND = 45


def trickle_forever(first: bytes, stop: threading.Event):
    """`first`, then one byte every half second until the client hangs up."""
    yield first
    while not stop.is_set():
        time.sleep(0.5)
        yield b"x"


class DeadlineTest(unittest.TestCase):
    def setUp(self):
        self.outer = tempfile.mkdtemp(prefix="mfdeadline-")
        self.archive = os.path.join(self.outer, "archive")
        self.stop = threading.Event()

    def tearDown(self):
        self.stop.set()
        shutil.rmtree(self.outer, ignore_errors=True)

    def backup(self, srv, *extra, timeout=BOUND * 2):
        env = {"HOME": self.outer, "XDG_STATE_HOME": os.path.join(self.outer, "state")}
        try:
            r = run_measured(["backup", f"imap://u@127.0.0.1:{srv.port}", self.archive, "--allow-plaintext",
                              "--password-env", "MF_TEST_PASSWORD", *extra],
                             password=PASSWORD, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"mailferry still running after {timeout} s: a trickle kept it alive")
        assert_sane_exit(self, r)
        return r

    def test_a_body_trickling_forever_is_a_timeout(self):
        def body(server, tag, rest, selected):
            if b"BODY.PEEK[]" not in rest.upper():
                return None
            head = b'* 1 FETCH (UID 1 FLAGS () INTERNALDATE "01-Jan-2024 00:00:00 +0000" RFC822.SIZE %d BODY[] {%d}\r\n'
            return trickle_forever(head % (len(MSG), len(MSG)), self.stop)
        with FakeImap({"INBOX": [MSG]}, overrides={"UID": body}) as srv:
            r = self.backup(srv, "--timeout", TIMEOUT)
        self.assertLess(r.seconds, BOUND, r.output)
        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertRegex(r.stderr, r"timed out reading from 127\.0\.0\.1: \d+ bytes in 2 s, below the minimum")

    def test_a_listing_trickling_forever_is_a_timeout(self):
        # Not only literals: a reply of lines, one byte at a time.
        def listing(server, tag, rest, selected):
            if b"BODY.PEEK[" in rest.upper():
                return None
            return trickle_forever(b"* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 10 ", self.stop)
        with FakeImap({"INBOX": [MSG]}, overrides={"UID": listing}) as srv:
            r = self.backup(srv, "--timeout", TIMEOUT)
        self.assertLess(r.seconds, BOUND, r.output)
        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertRegex(r.stderr, r"timed out reading from .*below the minimum")

    def test_keepalive_is_on(self):
        # While the server thinks about EXAMINE, mailferry's socket must
        # carry the keepalive timer (/proc/net/tcp: "tr" 2).
        seen = {}

        def slow_examine(server, tag, rest, selected):
            def answer():
                time.sleep(0.5)
                seen["timers"] = client_timers(server.port)
                yield b"* 1 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n" + tag + b" OK done\r\n"
            return answer(), b"INBOX"
        with FakeImap({"INBOX": [MSG]}, overrides={"EXAMINE": slow_examine}) as srv:
            r = self.backup(srv, "--timeout", "30")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertTrue(seen.get("timers"), "no connection to the server found in /proc/net/tcp")
        self.assertTrue(all(t == 2 for t in seen["timers"]), f"timers {seen['timers']}: not keepalive")


def client_timers(server_port: int) -> list:
    """The 'tr' field (0 none, 1 retransmit, 2 keepalive...) of each
    established TCP socket connected to 127.0.0.1:server_port."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            remote, state, timer = fields[2], fields[3], fields[5]
            if state == "01" and int(remote.split(":")[1], 16) == server_port:
                out.append(int(timer.split(":")[0], 16))
    return out


if __name__ == "__main__":
    unittest.main()
