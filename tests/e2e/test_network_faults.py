"""Networks that fail: a proxy between mailferry and Dovecot cuts, stalls or
trickles the connection at chosen points (inside the greeting, the login, a
message literal, a POP3 TOP answer, between an APPEND and its OK...).

Every case must end with a clear error and a non-zero exit within a bounded
time; no partial message may become visible (nothing left in tmp/, every
file in cur/ equal to the server's message); and the next run, without the
proxy, must complete with nothing lost and nothing duplicated: for
migrations, an APPEND whose OK never arrived must not leave two copies.

Pattern-based faults need to see the protocol, so those runs use the plain
ports with --allow-plaintext (the proxy hides STARTTLS); byte-count faults
also run through TLS. MAILFERRY_LONG=1 adds cuts at many byte offsets.

A run through the proxy is given --reconnects 0: what a broken run leaves
behind is what these cases look at, and a run that logs in again (the
default) would not be broken.
test_a_cut_inside_a_literal_is_recovered_in_the_same_run shows that with
the default the same run completes."""

import collections
import json
import os
import random
import re
import shutil
import tempfile
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from faultproxy import Fault, FaultProxy
from mfharness import Dovecot, make_message
from mfrun import LONG, assert_sane_exit, run_measured

PASSWORD = "Net-Canary-4e1f"
TIMEOUT = 2                    # --timeout for stall cases
STALL_BOUND = 3 * TIMEOUT + 3  # seconds a stalled run may take, at most
CUT_ERROR = re.compile(r"closed the connection|failed|timed out|sent nothing|refused|unexpected", re.I)
STALL_ERROR = re.compile(r"sent nothing for \d+ s|timed out", re.I)


def load_mailbox(dc, user):
    """INBOX: 6 messages, one of 40 kB and one without Message-ID; Work: 3."""
    inbox = [make_message(i, subject=f"Net message {i}") for i in range(1, 5)]
    inbox.append(make_message(5, subject="Net large", size=40_000))
    inbox.append(b"Subject: no id\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nno message-id here\r\n")
    dc.save_many(user, "INBOX", inbox)
    dc.create_folder(user, "Work")
    dc.save_many(user, "Work", [make_message(10 + i, subject=f"Work {i}") for i in range(3)])
    dc.add_flags(user, "INBOX", 2, "\\Seen \\Flagged")


class _Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src = Dovecot().start()

    @classmethod
    def tearDownClass(cls):
        cls.src.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")
        self.user = f"n{random.randrange(10**9)}"
        self.src.add_user(self.user, PASSWORD)

    def tearDown(self):
        self.tmp.cleanup()

    def server(self, dc=None, user=None):
        dc, user = dc or self.src, user or self.user
        return {f: dc.fetch_all(user, f) for f in dc.folders(user)}

    def assert_failed_cleanly(self, r, error=CUT_ERROR, bound=30):
        assert_sane_exit(self, r)
        self.assertNotEqual(r.returncode, 0, "a broken connection must not end in success:\n" + r.output)
        self.assertRegex(r.stderr, error)
        self.assertLess(r.seconds, bound, f"took {r.seconds:.1f} s")
        self.assertNotIn(PASSWORD, r.output)


class ImapBackupFaultsTest(_Base):
    def backup(self, port=None, scheme="imap", extra=(), timeout=60):
        if port is None:  # straight to the server, over TLS
            url, tls = self.src.url("imaps", self.user), ["--cacert", self.src.cacert]
        elif scheme == "imaps":
            url, tls = f"imaps://{self.user}@127.0.0.1:{port}", ["--cacert", self.src.cacert]
        else:
            url, tls = f"imap://{self.user}@127.0.0.1:{port}", ["--allow-plaintext"]
        # One connection unless a test asks for more: the proxy faults the
        # first connection, and the fault must meet the folder it aims at.
        if "--connections" not in extra:
            extra = ("--connections", "1", *extra)
        if port is not None and "--reconnects" not in extra:
            extra = ("--reconnects", "0", *extra)
        return run_measured(["backup", url, self.archive, *tls, "--password-env", "MF_TEST_PASSWORD",
                             *extra], password=PASSWORD, timeout=timeout)

    def assert_nothing_partial(self, server):
        """Every file in the archive is a whole server message, once."""
        self.assertEqual(tmp_files(self.archive), [])
        for folder, path in folder_dirs(self.archive).items():
            for uid, m in read_maildir(path).items():   # read_maildir fails on a UID held twice
                self.assertIn(uid, server.get(folder, {}), f"{folder}: UID {uid} is not on the server")
                self.assertEqual(m["data"], server[folder][uid], f"{folder} UID {uid} is partial or wrong")
                self.assertEqual(m["size"], len(server[folder][uid]))

    def assert_complete(self, server):
        self.assert_nothing_partial(server)
        dirs = folder_dirs(self.archive)
        for folder, msgs in server.items():
            if msgs:
                self.assertEqual(sorted(read_maildir(dirs[folder])), sorted(msgs), folder)

    def fault_then_rerun(self, *faults, scheme="imap", port=None, error=CUT_ERROR, bound=30, extra=()):
        load_mailbox(self.src, self.user)
        server = self.server()
        port = port or (self.src.imaps_port if scheme == "imaps" else self.src.imap_port)
        with FaultProxy(port, *faults, hide_starttls=scheme == "imap", connections={0}) as proxy:
            r = self.backup(proxy.port, scheme, extra)
            self.assertTrue(proxy.fired, "the fault never fired: the test proves nothing")
        self.assert_failed_cleanly(r, error, bound)
        self.assert_nothing_partial(server)
        again = self.backup()
        self.assertEqual(again.returncode, 0, again.output)
        self.assert_complete(server)
        return r

    def add_bulk(self, folder, n=70):
        self.src.save_many(self.user, folder, [make_message(1000 + i, subject=f"Bulk {i}") for i in range(n)])

    def test_no_extra_connection_when_there_is_little_to_do(self):
        load_mailbox(self.src, self.user)
        with FaultProxy(self.src.imap_port, hide_starttls=True) as proxy:
            r = self.backup(proxy.port, "imap", ("--connections", "4"))
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(proxy.accepted, 1, "9 messages do not need a second login")
        self.add_bulk("INBOX")
        self.add_bulk("Work")
        with FaultProxy(self.src.imap_port, hide_starttls=True) as proxy:
            r = self.backup(proxy.port, "imap", ("--connections", "4"))
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(proxy.accepted, 2, "70 new messages in each of 2 folders: a second connection")
        self.assert_complete(self.server())

    def test_a_lost_extra_connection_leaves_the_other_folders_done(self):
        # Two folders on two connections; the second connection is cut inside
        # a message: its folder fails, the first connection's is complete.
        # The first connection trickles its first folder's messages, so the
        # second one surely gets a folder to lose. Extra connections open
        # only for a folder with work enough (64 messages): INBOX gets 70.
        load_mailbox(self.src, self.user)
        self.add_bulk("INBOX")
        self.add_bulk("Work")
        server = self.server()
        with FaultProxy(self.src.imap_port, Fault("s2c", "trickle", pattern=b"BODY[] {", delay=0.0005, connection=0),
                        Fault("s2c", "cut", pattern=b"BODY[] {", offset=100, connection=1),
                        hide_starttls=True) as proxy:
            # The trickled connection takes about 55 s on an idle machine
            # (before this session too); a busy one needs more than 60.
            r = self.backup(proxy.port, "imap", ("--connections", "2", "--json"), timeout=180)
            self.assertIn(1, [index for index, _ in proxy.fired], "the cut never fired: the test proves nothing")
        self.assertEqual(r.returncode, 1, r.output)  # partial
        folders = {f["folder"]: f for f in json.loads(r.stdout)["folders"]}
        self.assertEqual(sorted(folders), ["INBOX", "Work"])
        failed = [name for name, f in folders.items() if f.get("error")]
        self.assertEqual(len(failed), 1, folders)
        done = "Work" if failed == ["INBOX"] else "INBOX"
        self.assertEqual(folders[done]["fetched"], len(server[done]))
        self.assert_nothing_partial(server)
        again = self.backup(extra=("--connections", "2"))
        self.assertEqual(again.returncode, 0, again.output)
        self.assert_complete(server)

    def test_an_extra_connection_that_cannot_open_is_not_a_failure(self):
        load_mailbox(self.src, self.user)
        self.add_bulk("INBOX")
        self.add_bulk("Work")
        server = self.server()
        with FaultProxy(self.src.imap_port, Fault("s2c", "cut", at=10), hide_starttls=True,
                        connections={1}) as proxy:
            r = self.backup(proxy.port, "imap", ("--connections", "2"))
            self.assertTrue(proxy.fired, "the fault never fired: the test proves nothing")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn("one more connection could not be opened", r.stderr)
        self.assert_complete(server)

    def test_cut_inside_the_greeting(self):
        self.fault_then_rerun(Fault("s2c", "cut", at=10))

    def test_cut_during_login(self):
        self.fault_then_rerun(Fault("c2s", "cut", pattern=b"AUTHENTICATE", offset=16))

    def test_a_cut_inside_a_literal_is_recovered_in_the_same_run(self):
        # Issue 18: a session failure means a new session. With --reconnects
        # (default 5) a cut inside a message literal is followed by a new
        # login, and the same run completes, each message once.
        load_mailbox(self.src, self.user)
        server = self.server()
        with FaultProxy(self.src.imap_port, Fault("s2c", "cut", pattern=b"BODY[] {", offset=50),
                        hide_starttls=True, connections={0}) as proxy:
            r = self.backup(proxy.port, "imap", ("--json", "--reconnects", "5"))
            self.assertTrue(proxy.fired, "the fault never fired: the test proves nothing")
            self.assertEqual(proxy.accepted, 2, "one new login after the cut")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(json.loads(r.stdout)["reconnects"], 1)
        self.assert_complete(server)
        again = self.backup()
        self.assertEqual(again.returncode, 0, again.output)
        self.assertIn("fetched 0", again.stdout)

    def test_cut_inside_a_message_literal(self):
        self.fault_then_rerun(Fault("s2c", "cut", pattern=b"BODY[] {", offset=200))

    def test_cut_inside_a_later_literal_keeps_the_earlier_messages(self):
        r = self.fault_then_rerun(Fault("s2c", "cut", pattern=b"BODY[] {", occurrence=3, offset=100))
        self.assertRegex(r.stderr, CUT_ERROR)

    def test_cut_inside_the_large_literal(self):
        self.fault_then_rerun(Fault("s2c", "cut", pattern=b"Net large", offset=20_000))

    def test_cut_after_the_literal_before_the_closing_parenthesis(self):
        # The body arrived whole but its FETCH response did not end: it must
        # not be kept as if it had.
        self.fault_then_rerun(Fault("s2c", "cut", pattern=b"no message-id here\r\n", offset=20))

    def test_cut_before_the_tagged_ok_of_a_fetch(self):
        self.fault_then_rerun(Fault("s2c", "cut", pattern=b"OK Fetch completed", occurrence=3))

    def test_cut_inside_a_command(self):
        self.fault_then_rerun(Fault("c2s", "cut", pattern=b"BODY.PEEK[]", offset=4))

    def test_cut_through_tls_in_the_handshake(self):
        self.fault_then_rerun(Fault("s2c", "cut", at=700), scheme="imaps")

    def test_cut_through_tls_mid_stream(self):
        self.fault_then_rerun(Fault("s2c", "cut", at=12_000), scheme="imaps")

    def test_stall_inside_a_literal_is_a_timeout(self):
        r = self.fault_then_rerun(Fault("s2c", "stall", pattern=b"Net large", offset=10_000),
                                  error=STALL_ERROR, bound=STALL_BOUND, extra=["--timeout", TIMEOUT])
        print(f"\n  stall inside a literal detected after {r.seconds:.2f} s (--timeout {TIMEOUT})")

    def test_stall_in_the_greeting_is_a_timeout(self):
        r = self.fault_then_rerun(Fault("s2c", "stall", at=0), error=STALL_ERROR, bound=STALL_BOUND,
                                  extra=["--timeout", TIMEOUT])
        print(f"\n  stall in the greeting detected after {r.seconds:.2f} s (--timeout {TIMEOUT})")

    def test_stall_in_the_tls_handshake_is_a_timeout(self):
        self.fault_then_rerun(Fault("s2c", "stall", at=100), scheme="imaps", error=STALL_ERROR,
                              bound=STALL_BOUND, extra=["--timeout", TIMEOUT])

    def test_stall_of_the_client_side_is_a_timeout(self):
        # The server never sees the FETCH, so it never answers.
        self.fault_then_rerun(Fault("c2s", "stall", pattern=b"UID FETCH"), error=STALL_ERROR,
                              bound=STALL_BOUND, extra=["--timeout", TIMEOUT])

    def test_trickle_is_slow_but_not_a_timeout(self):
        # One byte per millisecond from the first body on: the run lasts
        # longer than --timeout in total, but never goes --timeout without a byte.
        load_mailbox(self.src, self.user)
        self.src.expunge(self.user, "INBOX", 5)   # the 40 kB message would take 40 s
        server = self.server()
        with FaultProxy(self.src.imap_port, Fault("s2c", "trickle", pattern=b"BODY[] {", delay=0.001),
                        hide_starttls=True) as proxy:
            r = self.backup(proxy.port, extra=["--timeout", "1"])
            self.assertTrue(proxy.fired)
        assert_sane_exit(self, r, allowed=[0])
        self.assertGreater(r.seconds, 1.5)
        self.assert_complete(server)

    @unittest.skipUnless(LONG, "MAILFERRY_LONG=1 cuts at many offsets")
    def test_cut_at_many_offsets(self):
        load_mailbox(self.src, self.user)
        server = self.server()
        with FaultProxy(self.src.imap_port, hide_starttls=True) as probe:
            r = self.backup(probe.port)
            total = {d: probe.bytes[d] for d in ("s2c", "c2s")}
        self.assertEqual(r.returncode, 0, r.output)
        rng = random.Random(7)
        cuts = [("s2c", at) for at in rng.sample(range(1, total["s2c"]), 120)]
        cuts += [("c2s", at) for at in rng.sample(range(1, total["c2s"]), 30)]
        for direction, at in cuts:
            with self.subTest(direction=direction, at=at):
                shutil.rmtree(self.archive, ignore_errors=True)
                with FaultProxy(self.src.imap_port, Fault(direction, "cut", at=at), hide_starttls=True) as proxy:
                    r = self.backup(proxy.port)
                assert_sane_exit(self, r)
                self.assert_nothing_partial(server)
                self.assertEqual(self.backup().returncode, 0)
                self.assert_complete(server)


class Pop3BackupFaultsTest(_Base):
    """With --delete-after-download: a broken run deletes nothing that is not
    safely in the archive, and the rerun finishes the job."""

    def backup(self, port=None, extra=(), timeout=60):
        if port is None:
            url, tls = self.src.url("pop3s", self.user), ["--cacert", self.src.cacert]
        else:
            url, tls = f"pop3://{self.user}@127.0.0.1:{port}", ["--allow-plaintext", "--reconnects", "0"]
        return run_measured(["backup", url, self.archive, *tls, "--password-env", "MF_TEST_PASSWORD",
                             "--delete-after-download", *extra], password=PASSWORD, timeout=timeout)

    def held(self):
        dirs = folder_dirs(self.archive)
        return collections.Counter(m["data"] for m in read_maildir(dirs["INBOX"]).values()) \
            if "INBOX" in dirs else collections.Counter()

    def setUp(self):
        super().setUp()
        self.msgs = [make_message(i, subject=f"Pop message {i}") for i in range(1, 6)]
        self.msgs.append(make_message(9, subject="Pop large", size=30_000))
        self.src.save_many(self.user, "INBOX", self.msgs)

    def fault(self, *faults, error=CUT_ERROR, bound=30, extra=()):
        with FaultProxy(self.src.pop3_port, *faults, hide_starttls=True, connections={0}) as proxy:
            r = self.backup(proxy.port, extra)
            self.assertTrue(proxy.fired, "the fault never fired")
        self.assert_failed_cleanly(r, error, bound)
        self.assertEqual(tmp_files(self.archive), [])
        held = self.held()
        # Whatever is held is whole and held once.
        self.assertLessEqual(held, collections.Counter(self.msgs))
        # What is gone from the server is in the archive.
        on_server = collections.Counter(self.src.fetch_all(self.user, "INBOX").values())
        for body in self.msgs:
            self.assertGreaterEqual(on_server[body] + held[body], 1, "a message was lost")
        return r, on_server

    def rerun_finishes(self):
        r = self.backup()
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(self.held(), collections.Counter(self.msgs))
        self.assertEqual(self.src.count(self.user, "INBOX"), 0)
        self.assertEqual(tmp_files(self.archive), [])

    def test_cut_inside_a_top_answer_deletes_nothing(self):
        _, on_server = self.fault(Fault("s2c", "cut", pattern=b"Pop message 3", offset=40))
        self.assertEqual(sum(on_server.values()), len(self.msgs), "deleted after a failed fetch")
        self.rerun_finishes()

    def test_cut_inside_the_large_message(self):
        _, on_server = self.fault(Fault("s2c", "cut", pattern=b"Pop large", offset=15_000))
        self.assertEqual(sum(on_server.values()), len(self.msgs))
        self.rerun_finishes()

    def test_cut_inside_the_uidl_list(self):
        self.fault(Fault("s2c", "cut", pattern=b"\r\n3 ", offset=4))
        self.rerun_finishes()

    def test_cut_before_quit_reaches_the_server_deletes_nothing(self):
        # DELEs were sent but never committed (RFC 1939: only QUIT does).
        _, on_server = self.fault(Fault("c2s", "cut", pattern=b"QUIT"))
        self.assertEqual(sum(on_server.values()), len(self.msgs))
        self.assertEqual(self.held(), collections.Counter(self.msgs))
        self.rerun_finishes()

    def test_cut_after_quit_before_its_answer(self):
        # The server committed the deletions; the client never heard so.
        # Nothing may be lost: the archive already holds every message.
        self.fault(Fault("s2c", "cut", pattern=b"+OK Logging out"))
        self.assertEqual(self.held(), collections.Counter(self.msgs))
        self.rerun_finishes()

    def test_stall_inside_a_top_answer_is_a_timeout(self):
        r, on_server = self.fault(Fault("s2c", "stall", pattern=b"Pop message 2", offset=20), error=STALL_ERROR,
                                  bound=STALL_BOUND, extra=["--timeout", TIMEOUT])
        self.assertEqual(sum(on_server.values()), len(self.msgs))
        print(f"\n  POP3 stall detected after {r.seconds:.2f} s (--timeout {TIMEOUT})")
        self.rerun_finishes()

    @unittest.skipUnless(LONG, "MAILFERRY_LONG=1 cuts at many offsets")
    def test_cut_at_many_offsets(self):
        with FaultProxy(self.src.pop3_port, hide_starttls=True) as probe:
            r = self.backup(probe.port, extra=["--dry-run"])
            total = probe.bytes["s2c"]
        self.assertEqual(r.returncode, 0, r.output)
        for at in random.Random(8).sample(range(1, total + 2000), 60):
            with self.subTest(at=at):
                shutil.rmtree(self.archive, ignore_errors=True)
                if self.src.count(self.user, "INBOX"):
                    self.src.expunge(self.user, "INBOX", "1:*")
                self.src.save_many(self.user, "INBOX", self.msgs)
                with FaultProxy(self.src.pop3_port, Fault("s2c", "cut", at=at), hide_starttls=True) as proxy:
                    r = self.backup(proxy.port)
                assert_sane_exit(self, r)
                held = self.held()
                on_server = collections.Counter(self.src.fetch_all(self.user, "INBOX").values())
                self.assertLessEqual(held, collections.Counter(self.msgs))
                for body in self.msgs:
                    self.assertGreaterEqual(on_server[body] + held[body], 1, "a message was lost")
                self.rerun_finishes()


class PushFaultsTest(_Base):
    """migrate / restore / mirror with the target's (or the source's)
    connection broken."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dst = Dovecot().start()

    @classmethod
    def tearDownClass(cls):
        cls.dst.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.target = f"t{random.randrange(10**9)}"
        self.dst.add_user(self.target, PASSWORD)
        self.state = os.path.join(self.tmp.name, "state.db")

    def push(self, command="migrate", source=None, target_port=None, source_port=None, extra=(),
             source_scheme="imap"):
        if source is None and source_port is None:
            source, src_tls = self.src.url("imaps", self.user), ["--source-cacert", self.src.cacert]
        elif source is None:
            source, src_tls = f"{source_scheme}://{self.user}@127.0.0.1:{source_port}", []
        else:
            src_tls = []
        if target_port is None:
            target, dst_tls = self.dst.url("imaps", self.target), ["--target-cacert", self.dst.cacert]
        else:
            target, dst_tls = f"imap://{self.target}@127.0.0.1:{target_port}", []
        # Through the proxy: no new session in the run (see the docstring).
        plain = ["--allow-plaintext", "--reconnects", "0"] if (target_port or source_port) else []
        creds = ["--target-password-env", "MF_TEST_PASSWORD"]
        if "://" in source:
            creds += ["--source-password-env", "MF_TEST_PASSWORD", "--state", self.state]
        if "--connections" not in extra:  # see ImapBackupFaultsTest.backup
            extra = ("--connections", "1", *extra)
        return run_measured([command, source, target, *src_tls, *dst_tls, *plain, *creds, *extra],
                            password=PASSWORD)

    def target_bodies(self, folder="INBOX"):
        if folder not in self.dst.folders(self.target):
            return collections.Counter()
        return collections.Counter(self.dst.fetch_all(self.target, folder).values())

    def source_bodies(self, folder="INBOX"):
        return collections.Counter(self.src.fetch_all(self.user, folder).values())

    def assert_target_partial_ok(self):
        for folder in self.dst.folders(self.target):
            held = self.target_bodies(folder)
            self.assertLessEqual(held, self.source_bodies(folder) if folder in self.src.folders(self.user)
                                 else collections.Counter(), f"{folder}: a partial or extra message")

    def assert_target_equals_source(self):
        for folder in self.src.folders(self.user):
            self.assertEqual(self.target_bodies(folder), self.source_bodies(folder), folder)

    def target_fault(self, *faults, command="migrate", source=None, error=CUT_ERROR, bound=30, extra=(),
                     multiappend=False):
        # Without MULTIAPPEND by default: one APPEND per message, the path
        # for servers that lack it; the multiappend tests batch them.
        with FaultProxy(self.dst.imap_port, *faults, hide_starttls=True, connections={0},
                        hide_multiappend=not multiappend) as proxy:
            r = self.push(command, source=source, target_port=proxy.port, extra=extra)
            self.assertTrue(proxy.fired, "the fault never fired")
        self.assert_failed_cleanly(r, error, bound)
        return r

    def rerun_gives_each_message_once(self, command="migrate", source=None):
        r = self.push(command, source=source)
        self.assertEqual(r.returncode, 0, r.output)
        self.assert_target_equals_source()
        again = self.push(command, source=source, extra=["--json"])
        self.assertEqual(again.returncode, 0, again.output)
        self.assertEqual(json.loads(again.stdout)["totals"]["fetched"], 0, "a third run still copied")
        self.assert_target_equals_source()

    def test_append_whose_ok_never_arrived_is_not_duplicated(self):
        load_mailbox(self.src, self.user)
        self.target_fault(Fault("s2c", "cut", pattern=b"OK [APPENDUID", occurrence=2))
        # The second message is on the target although the client never heard
        # so (with LITERAL+ a third APPEND may already be on its way too).
        self.assertGreaterEqual(sum(sum(self.target_bodies(f).values()) for f in self.dst.folders(self.target)), 2)
        self.rerun_gives_each_message_once()

    def test_unanswered_append_of_a_message_without_message_id(self):
        load_mailbox(self.src, self.user)
        self.src.delete_folder(self.user, "Work")
        # INBOX's 6th message has no Message-ID: it must be recognised by size and date.
        self.target_fault(Fault("s2c", "cut", pattern=b"OK [APPENDUID", occurrence=6))
        self.assertEqual(sum(self.target_bodies().values()), 6, "the unanswered APPEND did not land")
        self.rerun_gives_each_message_once()

    def test_multiappend_whose_ok_never_arrived_is_not_duplicated(self):
        load_mailbox(self.src, self.user)
        self.src.delete_folder(self.user, "Work")
        # INBOX's 6 messages travel in one MULTIAPPEND; its answer is cut.
        # The batch is on the target (the 6th without a Message-ID), unknown
        # to the client: the rerun recognises all 6 by content.
        self.target_fault(Fault("s2c", "cut", pattern=b"OK [APPENDUID"), multiappend=True)
        self.assertEqual(sum(self.target_bodies().values()), 6, "the unanswered MULTIAPPEND did not land")
        self.rerun_gives_each_message_once()

    def test_cut_inside_a_multiappend_stores_none_of_its_messages(self):
        load_mailbox(self.src, self.user)
        # Cut while the 3rd message of the batch is on its way: the server
        # drops the whole command (RFC 3502 is all or nothing).
        self.target_fault(Fault("c2s", "cut", pattern=b"Net message 3", offset=30), multiappend=True)
        self.assertEqual(sum(self.target_bodies().values()), 0, "part of a MULTIAPPEND was stored")
        self.rerun_gives_each_message_once()

    def test_cut_inside_an_append_literal(self):
        load_mailbox(self.src, self.user)
        self.target_fault(Fault("c2s", "cut", pattern=b"Net message 3", offset=30))
        self.assert_target_partial_ok()
        self.rerun_gives_each_message_once()

    def test_stall_before_the_append_ok_is_a_timeout(self):
        load_mailbox(self.src, self.user)
        self.target_fault(Fault("s2c", "stall", pattern=b"OK [APPENDUID", occurrence=3), error=STALL_ERROR,
                          bound=STALL_BOUND, extra=["--timeout", TIMEOUT])
        self.assert_target_partial_ok()
        self.rerun_gives_each_message_once()

    def test_source_cut_inside_a_literal_appends_no_partial_message(self):
        load_mailbox(self.src, self.user)
        with FaultProxy(self.src.imap_port, Fault("s2c", "cut", pattern=b"Net large", offset=9_000),
                        hide_starttls=True, connections={0}) as proxy:
            r = self.push(source_port=proxy.port)
            self.assertTrue(proxy.fired)
        self.assert_failed_cleanly(r)
        self.assert_target_partial_ok()
        self.rerun_gives_each_message_once()

    def test_pop3_source_cut_inside_top_appends_no_partial_message(self):
        load_mailbox(self.src, self.user)
        with FaultProxy(self.src.pop3_port, Fault("s2c", "cut", pattern=b"Net message 4", offset=30),
                        hide_starttls=True, connections={0}) as proxy:
            r = self.push(source_port=proxy.port, source_scheme="pop3")
            self.assertTrue(proxy.fired)
        self.assert_failed_cleanly(r)
        self.assertLessEqual(self.target_bodies(), self.source_bodies())
        pop3 = f"pop3s://{self.user}@127.0.0.1:{self.src.pop3s_port}"
        r = self.push(source=pop3, extra=["--source-cacert", self.src.cacert])
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(self.target_bodies(), self.source_bodies())

    def test_restore_with_an_unanswered_append(self):
        load_mailbox(self.src, self.user)
        r = run_measured(["backup", self.src.url("imaps", self.user), self.archive, "--cacert", self.src.cacert,
                          "--password-env", "MF_TEST_PASSWORD"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.output)
        self.target_fault(Fault("s2c", "cut", pattern=b"OK [APPENDUID", occurrence=4),
                          command="restore", source=self.archive)
        self.rerun_gives_each_message_once(command="restore", source=self.archive)

    @unittest.skipUnless(LONG, "MAILFERRY_LONG=1 cuts at many offsets")
    def test_migrate_target_cut_at_many_offsets(self):
        load_mailbox(self.src, self.user)
        with FaultProxy(self.dst.imap_port, hide_starttls=True) as probe:
            r = self.push(target_port=probe.port)
            total = dict(probe.bytes)
        self.assertEqual(r.returncode, 0, r.output)
        rng = random.Random(9)
        cuts = [("s2c", at) for at in rng.sample(range(1, total["s2c"]), 25)]
        cuts += [("c2s", at) for at in rng.sample(range(1, total["c2s"]), 25)]
        for direction, at in cuts:
            with self.subTest(direction=direction, at=at):
                self.target = f"t{random.randrange(10**9)}"
                self.dst.add_user(self.target, PASSWORD)
                for name in os.listdir(self.tmp.name):
                    if name.startswith("state.db"):
                        os.unlink(os.path.join(self.tmp.name, name))
                with FaultProxy(self.dst.imap_port, Fault(direction, "cut", at=at), hide_starttls=True) as proxy:
                    r = self.push(target_port=proxy.port)
                assert_sane_exit(self, r)
                self.assert_target_partial_ok()
                self.rerun_gives_each_message_once()

    def test_mirror_cut_between_flagging_and_expunging(self):
        load_mailbox(self.src, self.user)
        r = self.push("mirror")
        self.assertEqual(r.returncode, 0, r.output)
        self.src.expunge(self.user, "INBOX", 3)
        self.target_fault(Fault("c2s", "cut", pattern=b"UID EXPUNGE"), command="mirror")
        r = self.push("mirror")
        self.assertEqual(r.returncode, 0, r.output)
        self.assert_target_equals_source()
        # The message flagged \Deleted by the broken run is gone, not left behind.
        self.assertEqual(self.dst.count(self.target, "INBOX"), self.src.count(self.user, "INBOX"))


if __name__ == "__main__":
    unittest.main()

