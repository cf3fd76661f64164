"""Tests of the test harness itself (mfharness): the throwaway Dovecot starts,
speaks IMAP/POP3 over TLS and STARTTLS, holds the sample mailbox, and goes
away without a trace.  Run: python3 -m unittest -v test_harness
"""

import datetime as dt
import imaplib
import os
import poplib
import re
import ssl
import time
import unittest

import mfharness as h

USER, PASSWORD = "alice", "correct horse battery"


class SampleServerTest(unittest.TestCase):
    """One server with the sample mailbox, shared by read-only tests."""

    @classmethod
    def setUpClass(cls):
        cls.dc = h.Dovecot()
        cls.dc.start()
        cls.addClassCleanup(cls.dc.stop)
        cls.dc.add_user(USER, PASSWORD)
        cls.sample = h.sample_mailbox(cls.dc, USER)

    # -- what the sample holds ------------------------------------------

    def test_folders(self):
        self.assertEqual(sorted(h.SAMPLE_FOLDERS), self.dc.folders(USER))

    def test_counts_and_unseen(self):
        expected = {"INBOX": (6, 2), "Work": (3, 0), "Work/Projects": (2, 1),
                    "Reçus": (2, 1), "日本語": (1, 0), "Empty": (0, 0)}
        for folder, (count, unseen) in expected.items():
            with self.subTest(folder=folder):
                self.assertEqual(count, self.dc.count(USER, folder))
                self.assertEqual(unseen, self.dc.unseen(USER, folder))
                self.assertEqual(count, len(self.sample[folder]))

    def test_bodies_flags_dates_round_trip(self):
        for folder, msgs in self.sample.items():
            with self.subTest(folder=folder):
                stored = self.dc.messages(USER, folder)
                self.assertEqual([m.uid for m in msgs], list(stored))
                for m in msgs:
                    self.assertEqual(m.data, stored[m.uid].data)
                    self.assertEqual(set(m.flags), stored[m.uid].flags)
                    self.assertEqual(m.date, stored[m.uid].date)

    def test_tricky_lines_survive(self):
        body = self.dc.fetch_all(USER, "INBOX")[3]
        for line in h.TRICKY_LINES:
            self.assertIn(b"\r\n" + line.encode() + b"\r\n", body)

    def test_reading_changes_nothing(self):
        before = self.dc.flags_of(USER, "INBOX")
        self.dc.fetch_all(USER, "INBOX")
        self.assertEqual(before, self.dc.flags_of(USER, "INBOX"))
        self.assertEqual(2, self.dc.unseen(USER, "INBOX"))

    def test_folder_names_on_the_wire(self):
        with self.dc.imap_client("imaps") as imap:
            imap.login(USER, PASSWORD)
            typ, lines = imap.list()
        self.assertEqual("OK", typ)
        names = {h.imap_utf7_decode(re.match(rb'\(.*?\) "(.)" "?(.*?)"?$', l).group(2).decode())
                 for l in lines}
        self.assertEqual(set(h.SAMPLE_FOLDERS), names)
        self.assertTrue(all(b'"/"' in l for l in lines))
        self.assertTrue(any(b"Re&AOc-us" in l for l in lines))

    # -- logging in ---------------------------------------------------

    def test_imaps_login(self):
        with self.dc.imap_client("imaps") as imap:
            imap.login(USER, PASSWORD)
            typ, data = imap.select("INBOX", readonly=True)
            self.assertEqual(("OK", [b"6"]), (typ, data))
            typ, data = imap.uid("FETCH", "1", "(BODY.PEEK[])")
            self.assertEqual(self.sample["INBOX"][0].data, data[0][1])

    def test_starttls_login(self):
        with self.dc.imap_client("starttls") as imap:
            self.assertNotIn("LOGINDISABLED", imap.capabilities)
            imap.login(USER, PASSWORD)
            self.assertEqual("OK", imap.select(h.imap_mailbox("日本語"), readonly=True)[0])

    def test_plaintext_login_refused_before_starttls(self):
        with self.dc.imap_client("plain", source=h.INSECURE_SOURCE) as imap:
            self.assertIn("LOGINDISABLED", imap.capabilities)
            with self.assertRaisesRegex(imaplib.IMAP4.error, "PRIVACYREQUIRED"):
                imap.login(USER, PASSWORD)

    def test_localhost_counts_as_secure(self):
        """Dovecot's own rule (remote IP == local IP means secured), pinned
        here so that nobody writes a test expecting otherwise."""
        with self.dc.imap_client("plain") as imap:
            self.assertNotIn("LOGINDISABLED", imap.capabilities)
            self.assertEqual("OK", imap.login(USER, PASSWORD)[0])

    def test_wrong_password(self):
        with self.dc.imap_client("imaps") as imap:
            with self.assertRaisesRegex(imaplib.IMAP4.error, "AUTHENTICATIONFAILED"):
                imap.login(USER, "wrong")
        pop = self.dc.pop3_client("pop3s")
        pop.user(USER)
        with self.assertRaises(poplib.error_proto):
            pop.pass_("wrong")
        pop.quit()

    def test_certificate_is_checked(self):
        """Without the harness CA the server's certificate is not trusted, so
        --cacert tests mean something; with it, name and IP both verify."""
        with self.assertRaises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL(h.HOST, self.dc.imaps_port, ssl_context=ssl.create_default_context(),
                              timeout=5)
        for name in ("localhost", "127.0.0.1"):
            with self.dc.ssl_context().wrap_socket(
                    __import__("socket").create_connection((h.HOST, self.dc.imaps_port), 5),
                    server_hostname=name) as s:
                self.assertTrue(s.recv(100).startswith(b"* OK"))

    def test_pop3s(self):
        pop = self.dc.pop3_client("pop3s")
        pop.user(USER)
        pop.pass_(PASSWORD)
        self.assertEqual(6, pop.stat()[0])
        uidls = [l.split()[1] for l in pop.uidl()[1]]
        self.assertTrue(all(re.fullmatch(rb"[0-9a-fA-F]{16}", u) for u in uidls), uidls)
        # TOP with a huge line count returns the message and leaves it unread.
        lines = pop.top(3, 1_000_000)[1]
        self.assertEqual(self.sample["INBOX"][2].data, b"".join(l + b"\r\n" for l in lines))
        pop.quit()
        self.assertEqual(2, self.dc.unseen(USER, "INBOX"))

    def test_pop3_stls(self):
        pop = self.dc.pop3_client("stls")
        pop.user(USER)
        pop.pass_(PASSWORD)
        self.assertEqual(6, pop.stat()[0])
        pop.quit()

    def test_pop3_plaintext_refused_before_stls(self):
        pop = self.dc.pop3_client("plain", source=h.INSECURE_SOURCE)
        with self.assertRaisesRegex(poplib.error_proto, "Plaintext authentication disallowed"):
            pop.user(USER)
            pop.pass_(PASSWORD)
        pop.close()

    def test_config_settings(self):
        def conf(key):
            return self.dc.doveadm("config", "-h", key).stdout.decode().strip()
        self.assertEqual("20", conf("mail_max_userip_connections"))
        self.assertEqual("%08Xu%08Xv", conf("pop3_uidl_format"))
        self.assertEqual(f"imaps://alice@127.0.0.1:{self.dc.imaps_port}", self.dc.url("imaps", "alice"))


class MutationTest(unittest.TestCase):
    """Changes to a mailbox, each test on a fresh user of one server."""

    @classmethod
    def setUpClass(cls):
        cls.dc = h.Dovecot()
        cls.dc.start()
        cls.addClassCleanup(cls.dc.stop)

    def setUp(self):
        self.user = self.id().rsplit(".", 1)[-1].replace("_", "-")
        self.dc.add_user(self.user, "pw")

    def test_save_with_flags_and_date(self):
        when = dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        uid = self.dc.save(self.user, "New/Deep", h.make_message(1), flags="\\Seen $Todo", date=when)
        self.assertEqual(1, uid)
        m = self.dc.messages(self.user, "New/Deep")[1]
        self.assertEqual({"\\Seen", "$Todo"}, m.flags)
        self.assertEqual(when, m.date)
        self.assertIn("New/Deep", self.dc.folders(self.user))

    def test_bulk_load_2000(self):
        start = time.monotonic()
        msgs = [h.make_message(i) for i in range(2000)]
        uids = self.dc.save_many(self.user, "INBOX", msgs, flags=["\\Seen"])
        elapsed = time.monotonic() - start
        self.assertEqual(list(range(1, 2001)), uids)
        self.assertEqual(2000, self.dc.count(self.user, "INBOX"))
        self.assertEqual(0, self.dc.unseen(self.user, "INBOX"))
        self.assertLess(elapsed, 20, "loading 2000 messages should take seconds")
        self.assertEqual(msgs[1999], self.dc.fetch_all(self.user, "INBOX")[2000])

    def test_flags_and_expunge(self):
        uids = self.dc.save_many(self.user, "INBOX", [h.make_message(i) for i in range(4)])
        self.dc.add_flags(self.user, "INBOX", uids[0], "\\Flagged")
        self.dc.add_flags(self.user, "INBOX", [uids[1], uids[2]], ["\\Seen", "$Label2"])
        self.dc.remove_flags(self.user, "INBOX", uids[2], "$Label2")
        self.dc.expunge(self.user, "INBOX", uids[3])
        self.assertEqual({1: {"\\Flagged"}, 2: {"\\Seen", "$Label2"}, 3: {"\\Seen"}},
                         self.dc.flags_of(self.user, "INBOX"))
        self.assertEqual(1, self.dc.unseen(self.user, "INBOX"))

    def test_set_uidvalidity(self):
        self.dc.save_many(self.user, "Box", [h.make_message(i) for i in range(3)])
        before = self.dc.uidvalidity(self.user, "Box")
        new = self.dc.set_uidvalidity(self.user, "Box")
        self.assertNotEqual(before, new)
        self.assertEqual([1, 2, 3], list(self.dc.fetch_all(self.user, "Box")))
        self.assertEqual(777, self.dc.set_uidvalidity(self.user, "Box", 777))

    def test_recreate_folder(self):
        msgs = [h.Message(h.make_message(i), frozenset({"\\Seen"} if i % 2 else ()),
                          dt.datetime(2020, 1, 1 + i, tzinfo=dt.timezone.utc)) for i in range(3)]
        self.dc.save_many(self.user, "Box", msgs)
        self.dc.expunge(self.user, "Box", 1)
        before = self.dc.messages(self.user, "Box")
        validity = self.dc.uidvalidity(self.user, "Box")
        mapping = self.dc.recreate_folder(self.user, "Box", first_uid=100)
        self.assertEqual({2: 100, 3: 101}, mapping)
        self.assertNotEqual(validity, self.dc.uidvalidity(self.user, "Box"))
        after = self.dc.messages(self.user, "Box")
        for old, new in mapping.items():
            self.assertEqual((before[old].data, before[old].flags, before[old].date),
                             (after[new].data, after[new].flags, after[new].date))

    def test_imap_session_is_preauthenticated(self):
        self.dc.save(self.user, "INBOX", h.make_message(1))
        with self.dc.imap_session(self.user) as imap:
            self.assertEqual("AUTH", imap.state)
            imap.select("INBOX")
            imap.uid("STORE", "1", "+FLAGS", "(\\Seen)")
        self.assertEqual(0, self.dc.unseen(self.user, "INBOX"))

    def test_kick(self):
        imap = self.dc.imap_client("imaps")
        self.addCleanup(imap.shutdown)
        imap.login(self.user, "pw")
        imap.select("INBOX")
        self.dc.kick(self.user)
        time.sleep(0.2)
        with self.assertRaisesRegex(imaplib.IMAP4.abort, "shutting down"):
            imap.noop()

    def test_rawlog_needs_opt_in(self):
        with self.assertRaises(h.HarnessError):
            self.dc.rawlog(self.user)


class LifecycleTest(unittest.TestCase):

    def test_stop_leaves_nothing(self):
        dc = h.Dovecot()
        dc.start()
        self.addCleanup(dc.stop)
        pid, tmp, port = dc.pid, dc.tmp, dc.imaps_port
        self.assertTrue(os.path.exists(f"/proc/{pid}"))
        self.assertTrue(h._group_members(pid))
        dc.stop()
        self.assertFalse(os.path.exists(f"/proc/{pid}"))
        self.assertEqual([], h._group_members(pid))
        self.assertFalse(os.path.exists(tmp))
        with self.assertRaises(OSError):
            __import__("socket").create_connection((h.HOST, port), 1).close()
        dc.stop()   # idempotent
        with self.assertRaises(h.HarnessError):
            dc.start()

    def test_two_servers_side_by_side(self):
        with h.Dovecot() as a, h.Dovecot(separator=".", rawlog=True) as b:
            ports_a = {a.imap_port, a.imaps_port, a.pop3_port, a.pop3s_port}
            ports_b = {b.imap_port, b.imaps_port, b.pop3_port, b.pop3s_port}
            self.assertFalse(ports_a & ports_b)
            self.assertNotEqual(a.tmp, b.tmp)
            for dc in (a, b):
                dc.add_user("u", "p")
                dc.save("u", "INBOX", h.make_message(1))
            b.save("u", "Work.Projects", h.make_message(2))
            self.assertEqual(["INBOX"], a.folders("u"))
            self.assertIn("Work.Projects", b.folders("u"))
            with b.imap_client("imaps") as imap:
                imap.login("u", "p")
                self.assertIn(b'"." Work.Projects', b"".join(imap.list()[1]))
                imap.select("INBOX", readonly=True)
                imap.uid("FETCH", "1", "(BODY.PEEK[])")
            self.assertIn(b"UID FETCH 1 (BODY.PEEK[])", b.rawlog("u"))
            self.assertNotIn(b"LOGIN", b.rawlog("u"))   # passwords are not recorded

    def test_port_taken_meanwhile_is_retried(self):
        """Another run may grab a port between free_port() and Dovecot's bind."""
        import socket
        from unittest import mock
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind((h.HOST, 0))
        taken.listen()
        real = h.free_port
        ports = iter([taken.getsockname()[1]])
        picker = mock.Mock(side_effect=lambda: next(ports, None) or real())
        with mock.patch.object(h, "free_port", picker):
            with h.Dovecot() as dc:
                self.assertNotIn(taken.getsockname()[1],
                                 {dc.imap_port, dc.imaps_port, dc.pop3_port, dc.pop3s_port})
        self.assertGreaterEqual(picker.call_count, 8)   # a second set of ports was picked

    def test_start_failure_shows_log_and_cleans_up(self):
        dc = h.Dovecot(extra_config="this_setting_does_not_exist = 1\n")
        with self.assertRaisesRegex(h.HarnessError, "this_setting_does_not_exist"):
            dc.start()
        self.assertFalse(os.path.exists(dc.tmp))
        self.assertFalse(dc.running)


class HelperTest(unittest.TestCase):

    def test_make_message_is_deterministic_crlf(self):
        a = h.make_message(7)
        self.assertEqual(a, h.make_message(7))
        self.assertNotEqual(a, h.make_message(8))
        self.assertNotIn(b"\n", a.replace(b"\r\n", b""))
        self.assertTrue(a.endswith(b"\r\n"))
        self.assertIn(b"Message-ID: <mf-test-7@mailferry.test>\r\n", a)

    def test_make_message_exact_size(self):
        base = len(h.make_message(1))
        for size in [*range(base, base + 200), 10_000, 1_000_001]:
            with self.subTest(size=size):
                m = h.make_message(1, size=size)
                self.assertEqual(size, len(m))
                self.assertNotIn(b"\n", m.replace(b"\r\n", b""))
                self.assertTrue(m.endswith(b"\r\n"))
        with self.assertRaises(ValueError):
            h.make_message(1, size=10)

    def test_make_message_options(self):
        m = h.make_message(1, subject="Grüße", body_lines=["ünïcode", b"raw"], message_id="<x@y>",
                           date=dt.datetime(2020, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc))
        self.assertIn(b"Subject: =?utf-8?b?", m)
        self.assertIn(b"Date: Mon, 03 Feb 2020 04:05:06 +0000\r\n", m)
        self.assertIn(b"charset=utf-8", m)
        self.assertTrue(m.endswith("ünïcode\r\nraw\r\n".encode()))

    def test_modified_utf7(self):
        for plain, wire in (("Reçus", "Re&AOc-us"), ("日本語", "&ZeVnLIqe-"), ("a&b", "a&-b"),
                            ("INBOX", "INBOX"), ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-")):
            self.assertEqual(wire, h.imap_utf7_encode(plain))
            self.assertEqual(plain, h.imap_utf7_decode(wire))

    def test_free_port(self):
        port = h.free_port()
        self.assertTrue(1024 <= port <= 65535)

    def test_run_mailferry(self):
        if not os.access(h.mailferry_path(), os.X_OK):
            self.skipTest(f"{h.mailferry_path()} not built")
        r = h.run_mailferry(["--help"])
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("mailferry", r.stdout)
        with self.assertRaises(ValueError):
            h.run_mailferry(["--password", "s3cret"], password="s3cret")


if __name__ == "__main__":
    unittest.main()
