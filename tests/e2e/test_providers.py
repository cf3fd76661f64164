"""mailferry against the provider emulators of providers.py (issues 18 and
19): Gmail, Office 365 / Exchange, iCloud and hMailServer as they are
documented to behave (each behaviour's source is cited in providers.py and
tests/README.md). Each test asserts what the man page or the issue says
mailferry must do there. What mailferry does not do yet is marked
expectedFailure with the issue and what is missing, and asserts the
specific outcome, so that it fails for that reason and no other.

Behaviours another suite already covers are not repeated here: the login
order against Exchange's NTLM/GSSAPI/PLAIN (test_login_methods), a BYE with
a suggested back-off and NO [THROTTLED] to a FETCH (test_hostile_imap's
SessionScopeTest and ThrottledFetchTest), NO [TOOBIG] to an APPEND
(PushMessageScopeTest), capabilities in the login's answer
(LoginCapabilityTest), Yahoo's listing window (test_listing_window)."""

import imaplib
import json
import os
import re
import shutil
import tempfile
import time
import unittest

from archive import folder_dirs, read_maildir
from fakeimap import FakeImap, Hangup
from mfrun import assert_sane_exit, run_measured
from providers import (EXCHANGE_CLOSED, GMAIL_OVERQUOTA, GMAIL_SESSION_EXPIRED, GMAIL_TOO_MANY, O365_CAPABILITY,
                       O365_THROTTLED,
                       ExchangeImap, GmailMessage, HMailServerImap, ICloudImap, YahooImap, delivered, gmail)

PASSWORD = "Providers-Canary-3f8a"


def message(n: int, size: int = 0) -> bytes:
    """A small message; padded to `size` octets if given."""
    out = b"Subject: m%d\r\nMessage-ID: <m%d@providers>\r\n\r\nbody %d\r\n" % (n, n, n)
    return out + b"x" * (size - len(out) - 2) + b"\r\n" if size else out


def body_fetch_once(answer):
    """An override of the first UID FETCH ... BODY.PEEK[] only: `answer(tag)`."""
    state = {"done": False}

    def hook(server, tag, rest, selected):
        if state["done"] or b"BODY.PEEK[]" not in rest.upper():
            return None
        state["done"] = True
        return answer(tag)
    return hook


class _Provider(unittest.TestCase):
    def setUp(self):
        self.outer = tempfile.mkdtemp(prefix="mfproviders-")
        self.archive = os.path.join(self.outer, "archive")
        self.state = os.path.join(self.outer, "state.db")
        self.env = {"HOME": self.outer, "XDG_STATE_HOME": os.path.join(self.outer, "xdg-state")}

    def tearDown(self):
        shutil.rmtree(self.outer, ignore_errors=True)

    def run_mf(self, *args, timeout=90):
        r = run_measured(list(args), password=PASSWORD, env=self.env, timeout=timeout)
        assert_sane_exit(self, r)
        self.assertNotIn(PASSWORD, r.output)
        return r

    def backup(self, srv, *extra):
        return self.run_mf("backup", f"imap://u@127.0.0.1:{srv.port}", self.archive, "--allow-plaintext",
                           "--password-env", "MF_TEST_PASSWORD", "--timeout", "10", *extra)

    def migrate(self, src, dst, *extra, state=None):
        return self.run_mf("migrate", f"imap://u@127.0.0.1:{src.port}", f"imap://u@127.0.0.1:{dst.port}",
                           "--allow-plaintext", "--source-password-env", "MF_TEST_PASSWORD",
                           "--target-password-env", "MF_TEST_PASSWORD", "--state", state or self.state,
                           "--timeout", "10", *extra)

    def held(self):
        """folder -> UID -> {data, flags...}."""
        return {f: read_maildir(p) for f, p in folder_dirs(self.archive).items()}

    def held_bytes(self):
        return {f: sorted(m["data"] for m in msgs.values()) for f, msgs in self.held().items()}

    @staticmethod
    def report(r):
        return json.loads(r.stdout)


class EmulatorTest(unittest.TestCase):
    """The emulators themselves, through Python's imaplib: they do what
    providers.py cites, so that the tests below test mailferry, not them."""

    def login(self, srv):
        c = imaplib.IMAP4("127.0.0.1", srv.port)
        c.login("u", PASSWORD)
        return c

    def test_yahoo_refuses_an_append_without_a_final_crlf(self):
        with YahooImap({"INBOX": []}) as srv:
            c = self.login(srv)
            with self.assertRaisesRegex(imaplib.IMAP4.error, "CLIENTBUG"):
                c.append("INBOX", None, None, UNENDED)
            self.assertEqual(c.append("INBOX", None, None, UNENDED + b"\r\n")[0], "OK")
            c.logout()
        self.assertEqual(srv.folders[b"INBOX"], [UNENDED + b"\r\n"])

    def test_gmail_labels_all_mail_and_limits(self):
        with gmail(gmail_account(), user_labels=["Work"]) as srv:
            c = self.login(srv)
            caps = c.capability()[1][0].split()
            self.assertIn(b"X-GM-EXT-1", caps)
            self.assertIn(b"APPENDLIMIT=35651584", caps)
            listed = b"\n".join(b"".join(i) if isinstance(i, tuple) else i for i in c.list()[1])
            self.assertIn(b"\\All", listed)
            self.assertIn(b"\\Noselect", listed)

            def fetch(folder):
                c.select('"' + folder + '"', readonly=True)
                return [i for i in c.uid("FETCH", "1:*", "(X-GM-MSGID X-GM-LABELS)")[1] if i]
            work = fetch("Work")
            all_mail = [line for line in fetch("[Gmail]/All Mail") if b"Work" in line]
            self.assertEqual(len(work), 1)
            # The same message, its own UID in each folder, the same X-GM-MSGID and labels.
            self.assertEqual(work[0].split(b"X-GM-MSGID")[1], all_mail[0].split(b"X-GM-MSGID")[1])
            self.assertRegex(work[0], rb'X-GM-MSGID \d+ X-GM-LABELS \("Work" \\Inbox\)')
            c.logout()
            srv.other_sessions = 14            # 15 in use with ours: the 16th is refused
            held = self.login(srv)
            extra = imaplib.IMAP4("127.0.0.1", srv.port)
            with self.assertRaisesRegex(imaplib.IMAP4.error, re.escape(GMAIL_TOO_MANY[3:].decode())):
                extra.login("u", PASSWORD)
            extra.shutdown()
            held.logout()

    def test_exchange_login_answer_and_case_insensitive_names(self):
        with ExchangeImap({"INBOX": [], "SWEET": [message(1)]}) as srv:
            c = self.login(srv)
            self.assertNotIn(b"CONDSTORE", c.capability()[1][0].split())
            with self.assertRaisesRegex(Exception, "Command Error. 10"):
                c._simple_command("ENABLE", "CONDSTORE")
            self.assertEqual(c.select("sweet", readonly=True), ("OK", [b"1"]))
            self.assertEqual(c.create("Sweet")[0], "NO")
            for n in range(9):      # ten errors in a row, then silence
                self.assertEqual(c.select(f"Missing{n}", readonly=True)[0], "NO")
            c.sock.settimeout(1)
            with self.assertRaises(OSError):
                c.noop()
            self.assertEqual(len(srv.ignored), 1)
            c.shutdown()


# -- Gmail --------------------------------------------------------------------

def gmail_account():
    """Six messages, ten places: in INBOX, Important, Sent, Starred and the
    user label Work, and every one in All Mail."""
    labels = [{"\\Inbox"}, {"\\Inbox", "\\Important"}, {"\\Sent"}, {"\\Inbox", "Work"}, set(), {"\\Starred"}]
    return [GmailMessage(message(n), labels=set(l)) for n, l in enumerate(labels, 1)]


class GmailTest(_Provider):
    def server_view(self, srv):
        """folder -> sorted bodies, for the selectable folders."""
        return {name.decode(): sorted(msgs) for name, msgs in srv.folders.items() if name != b"[Gmail]"}

    def test_check_names_each_folder_by_its_special_use(self):
        with gmail(gmail_account(), user_labels=["Work"]) as srv:
            r = self.run_mf("check", f"imap://u@127.0.0.1:{srv.port}", "--allow-plaintext",
                            "--password-env", "MF_TEST_PASSWORD")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn("X-GM-EXT-1", r.stdout)
        for folder, use in (("[Gmail]/All Mail", "\\All"), ("[Gmail]/Sent Mail", "\\Sent"),
                            ("[Gmail]/Spam", "\\Junk"), ("[Gmail]/Starred", "\\Flagged"),
                            ("[Gmail]/Important", "\\Important"), ("[Gmail]/Trash", "\\Trash")):
            line = next(l for l in r.stdout.splitlines() if l.strip().startswith(folder + " "))
            self.assertIn("[" + use + "]", line)
        self.assertRegex(r.stdout, r"\[Gmail\]\s+\(not a mailbox")

    # A label folder's copy of a message held in another folder has its
    # X-GM-MSGID: linked, not downloaded again (issue 19; more in
    # test_gmail_labels).
    def test_each_message_downloaded_once_every_label_folder_complete(self):
        with gmail(gmail_account(), user_labels=["Work"]) as srv:
            r = self.backup(srv, "--json")
            view = self.server_view(srv)
        self.assertEqual(r.returncode, 0, r.output)
        held = self.held_bytes()
        for folder, bodies in view.items():     # every label folder browsable and complete
            self.assertEqual(held.get(folder, []), bodies, folder)
        self.assertEqual(len(srv.bodies_sent), 6, f"{len(srv.bodies_sent)} bodies downloaded for 6 messages")

    # Issue 19: the listing asks Gmail for each message's identity and labels.
    def test_labels_are_read_with_x_gm_labels(self):
        with gmail(gmail_account(), user_labels=["Work"]) as srv:
            r = self.backup(srv)
            listings = [c.upper() for c in srv.commands if b" UID FETCH " in c.upper()]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertTrue(any(b"X-GM-MSGID" in c and b"X-GM-LABELS" in c for c in listings), listings)

    def test_session_expired_bye_then_a_new_session_completes(self):
        # Issue 19: Gmail's "BYE ... Session expired" ends only that session.
        with gmail(gmail_account(), user_labels=["Work"]) as srv:
            srv.overrides["UID"] = body_fetch_once(lambda tag: Hangup(GMAIL_SESSION_EXPIRED))
            r = self.backup(srv, "--json", "--connections", "1")
            view = self.server_view(srv)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(self.report(r)["reconnects"], 1)
        held = self.held_bytes()
        self.assertEqual({f: b for f, b in view.items() if b}, {f: b for f, b in held.items() if b})

    def test_bandwidth_limit_is_backed_off_not_narrowed_down(self):
        # Issue 19: Gmail's "Account exceeded command or bandwidth limits",
        # with [OVERQUOTA] and without it, is throttling: a new session after
        # a wait, the refused FETCH sent once more, never split up.
        for answer in (GMAIL_OVERQUOTA, GMAIL_OVERQUOTA.replace(b"[OVERQUOTA] ", b"")):
            with self.subTest(answer=answer), gmail(gmail_account()) as srv:
                shutil.rmtree(self.archive, ignore_errors=True)
                srv.overrides["UID"] = body_fetch_once(lambda tag, a=answer: tag + b" " + a + b"\r\n")
                r = self.backup(srv, "--json", "--connections", "1")
                sets = [c.split(b" ")[3] for c in srv.commands if b"BODY.PEEK[]" in c.upper()]
                # The refused set asked for again whole on the new session, and
                # never in pieces (the later sets are other messages).
                self.assertEqual(sets[0], sets[1], sets)
                self.assertEqual(sets.count(sets[0]), 2, sets)
                self.assertFalse([s for s in sets[2:] if set(s.split(b",")) & set(sets[0].split(b","))], sets)
                report = self.report(r)
                self.assertEqual(report["reconnects"], 1, r.stdout)
                self.assertGreater(report["backoff_seconds"], 0)
                self.assertEqual(r.returncode, 0, r.output)

    def test_the_sixteenth_connection_is_refused_and_the_run_goes_on_with_fewer(self):
        # 13 sessions held by the user's other clients: the third connection
        # mailferry opens is the account's sixteenth.
        folders = {f"F{i}": [message(100 * i + n) for n in range(70)] for i in range(4)}
        msgs = []
        for name, bodies in folders.items():
            msgs += [GmailMessage(b, labels={name}) for b in bodies]
        with gmail(msgs, user_labels=list(folders)) as srv:
            srv.other_sessions = 13
            # Without All Mail, which runs first on one connection and
            # leaves the label folders only links (issue 19).
            r = self.backup(srv, "--connections", "4", "--exclude", "[[]Gmail]/All Mail")
            view = self.server_view(srv)
            del view["[Gmail]/All Mail"]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(srv.peak_sessions, 2)
        # The extra connections may be opened together, and each is refused
        # once; none is tried again: fewer connections for the rest of the run.
        self.assertGreaterEqual(srv.refused_logins, 1)
        self.assertLessEqual(len(srv.connect_log), 4, "a refused connection was tried again")
        self.assertIn("went on with fewer", r.stderr)
        held = self.held_bytes()
        self.assertEqual({f: b for f, b in view.items() if b}, {f: b for f, b in held.items() if b})

    def test_no_more_than_fifteen_connections_whatever_is_asked(self):
        # Gmail's limit (providers.py, GMAIL_MAX_CONNECTIONS): --connections 20
        # opens 15 at most, none is refused, and stderr says why.
        labels = [f"L{i}" for i in range(18)]
        msgs = [GmailMessage(message(n), labels={labels[n % len(labels)]}) for n in range(70)]
        with gmail(msgs, user_labels=labels) as srv:
            r = self.backup(srv, "--connections", "20")
            view = self.server_view(srv)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(srv.refused_logins, 0)
        self.assertLessEqual(len(srv.connect_log), 15)
        self.assertEqual(r.stderr.count("allows 15 connections per account at once; using 15, not 20"), 1,
                         r.stderr)
        held = self.held_bytes()
        self.assertEqual({f: b for f, b in view.items() if b}, {f: b for f, b in held.items() if b})

    def test_appendlimit_is_honoured(self):
        limit = 64 * 1024      # Gmail's is 35651584 (providers.GMAIL_APPENDLIMIT), scaled down
        big = message(2, size=limit + 1)
        src = FakeImap({"INBOX": [message(1), big, message(3)]})
        dst = gmail([], capability=b"IMAP4rev1 UNSELECT ID CHILDREN X-GM-EXT-1 UIDPLUS LITERAL- SPECIAL-USE "
                                  b"APPENDLIMIT=%d" % limit)
        announced = []
        dst.before_continuation = announced.append
        with src, dst:
            for run in (1, 2):      # the second adds nothing and names the message again
                r = self.migrate(src, dst, "--json", "--connections", "1")
                self.assertFalse([n for n in announced if n > limit],
                                 f"APPEND of {announced} octets sent, limit {limit}")
                self.assertEqual(r.returncode, 1, r.output)
                self.assertEqual(sorted(dst.folders[b"INBOX"]), sorted([message(1), message(3)]), f"run {run}")
                inbox = next(f for f in self.report(r)["folders"] if f["folder"] == "INBOX")
                self.assertEqual([m["id"] for m in inbox["failed_messages"]], ["2"], f"run {run}")
                self.assertIn("larger than the server's APPENDLIMIT of %d bytes" % limit,
                              inbox["failed_messages"][0]["error"])

    def test_small_appends_use_literal_minus_and_a_large_one_waits(self):
        # Gmail offers LITERAL-, not LITERAL+ (its capability list in
        # providers.py): RFC 7888 lets a literal of up to 4096 octets go
        # without the server's "+", so small messages need no round trip
        # each; a larger one must wait for "+".
        small, edge, large = message(1, size=1000), message(2, size=4096), message(3, size=4097)
        src = FakeImap({"INBOX": [small, edge, large, message(4)]})
        dst = gmail([], capability=b"IMAP4rev1 UNSELECT ID CHILDREN X-GM-EXT-1 UIDPLUS LITERAL- "
                                  b"SPECIAL-USE APPENDLIMIT=35651584")
        announced = []
        dst.before_continuation = announced.append
        with src, dst:
            r = self.migrate(src, dst, "--json", "--connections", "1")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(announced, [4097], "only the message over 4096 octets should wait for +")
        self.assertEqual(sorted(dst.folders[b"INBOX"]), sorted([small, edge, large, message(4)]))

    def test_a_mailbox_appendlimit_from_status_is_honoured(self):
        # A bare APPENDLIMIT capability: each mailbox names its own limit in
        # STATUS (RFC 7889 section 4), which is asked for before the folder
        # is written to.
        limit = 16 * 1024
        big = message(2, size=limit + 1)

        def status(server, tag, rest, selected):
            if b"APPENDLIMIT" not in rest.upper():
                return None
            return b"* STATUS INBOX (APPENDLIMIT %d)\r\n" % limit + tag + b" OK STATUS completed\r\n"
        src = FakeImap({"INBOX": [message(1), big, message(3)]})
        dst = FakeImap({"INBOX": []}, capability=b"IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ UIDPLUS APPENDLIMIT",
                       overrides={"STATUS": status})
        with src, dst:
            r = self.migrate(src, dst, "--json", "--connections", "1")
            appended = [m for _, m in dst.appended]
        self.assertEqual(r.returncode, 1, r.output)
        self.assertNotIn(big, appended)
        self.assertEqual(sorted(dst.folders[b"INBOX"]), sorted([message(1), message(3)]))
        inbox = next(f for f in self.report(r)["folders"] if f["folder"] == "INBOX")
        self.assertEqual([m["id"] for m in inbox["failed_messages"]], ["2"])
        self.assertIn("APPENDLIMIT of %d bytes" % limit, inbox["failed_messages"][0]["error"])


# -- Office 365 / Exchange ----------------------------------------------------

class ExchangeTest(_Provider):
    def test_backup_uses_only_what_office365_offers(self):
        with ExchangeImap({"INBOX": [message(1), message(2)], "Sent Items": [message(3)]}) as srv:
            r = self.backup(srv)
            after_login = srv.commands[[i for i, c in enumerate(srv.commands)
                                        if b" AUTHENTICATE " in c.upper() or b" LOGIN " in c.upper()][-1] + 1:]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(self.held_bytes(), {"INBOX": [message(1), message(2)], "Sent Items": [message(3)]})
        self.assertEqual(srv.bad_answers, 0, [c for c in srv.commands])
        # The login's OK listed no capabilities: they are asked for again.
        self.assertIn(b"CAPABILITY", [c.split(b" ")[1].upper() for c in after_login])

    def test_rerun_without_condstore_lists_known_uids_by_flags_only(self):
        # mbsync's cheap rerun: known UIDs with UID FLAGS only, new ones from
        # the recorded UIDNEXT with sizes and dates.
        with ExchangeImap({"INBOX": [message(n) for n in range(1, 6)]}) as srv:
            self.assertEqual(self.backup(srv).returncode, 0)
            srv.folders[b"INBOX"].append(message(6))
            srv.flags_of(b"INBOX", 2).add(b"\\Flagged")
            first = len(srv.commands)
            r = self.backup(srv, "--json")
            rerun = [c.upper() for c in srv.commands[first:] if b" UID FETCH " in c.upper()]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(len(self.held()["INBOX"]), 6)
        sized = [c for c in rerun if b"RFC822.SIZE" in c]
        self.assertTrue(sized and all(c.split(b" ")[3] == b"6:*" for c in sized), rerun)
        self.assertIn(b"UID FETCH 1:5 (UID FLAGS)", [c.split(b" ", 1)[1] for c in rerun])
        self.assertEqual(self.held()["INBOX"][2]["flags"], {"\\Flagged"})
        inbox = self.report(r)["folders"][0]
        self.assertEqual((inbox["found"], inbox["fetched"], inbox["flags_updated"]), (6, 1, 1))

    def test_rerun_without_condstore_and_no_new_mail_lists_flags_only(self):
        with ExchangeImap({"INBOX": [message(n) for n in range(1, 4)]}) as srv:
            self.assertEqual(self.backup(srv).returncode, 0)
            first = len(srv.commands)
            r = self.backup(srv, "--json")
            rerun = [c.upper().split(b" ", 1)[1] for c in srv.commands[first:] if b" UID FETCH " in c.upper()]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(rerun, [b"UID FETCH 1:3 (UID FLAGS)"])
        self.assertEqual(self.report(r)["folders"][0]["found"], 3)

    def test_rerun_without_condstore_lists_whole_when_the_count_disagrees(self):
        # A server whose UIDNEXT did not move although mail arrived breaks
        # RFC 3501 2.3.1.1: the known UIDs then fall short of EXISTS, and the
        # folder is listed whole, new message included.
        with ExchangeImap({"INBOX": [message(n) for n in range(1, 4)]}) as srv:
            self.assertEqual(self.backup(srv).returncode, 0)
            srv.folders[b"INBOX"].append(message(4))
            real = srv._answer

            def stale_uidnext(tag, rest, selected):
                out, now = real(tag, rest, selected)
                return (out.replace(b"[UIDNEXT 5]", b"[UIDNEXT 4]") if isinstance(out, bytes) else out), now
            srv._answer = stale_uidnext
            first = len(srv.commands)
            r = self.backup(srv, "--json")
            rerun = [c.upper().split(b" ", 1)[1] for c in srv.commands[first:] if b" UID FETCH " in c.upper()]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(rerun[:2], [b"UID FETCH 1:3 (UID FLAGS)", b"UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"])
        self.assertEqual(len(self.held()["INBOX"]), 4)

    def test_a_throttled_append_is_backed_off_then_copied(self):
        # Office 365's words to an APPEND it will not take now (providers.py,
        # O365_THROTTLED: imapsync issue 198): the run waits as asked, logs
        # in again and copies the message; nothing is named as failed.
        state = {"throttled": False}

        def append(server, tag, rest, selected):
            if state["throttled"]:
                return None
            state["throttled"] = True
            return tag + b" NO " + O365_THROTTLED % 1200 + b"\r\n"
        src = FakeImap({"INBOX": [message(1), message(2), message(3)]})
        dst = ExchangeImap({"INBOX": []}, overrides={"APPEND": append})
        with src, dst:
            started = time.monotonic()
            r = self.migrate(src, dst, "--json", "--connections", "1")
            took = time.monotonic() - started
        self.assertFalse([f for f in self.report(r)["folders"] if f.get("failed_messages")], r.stdout)
        self.assertEqual(sorted(dst.folders[b"INBOX"]), [message(1), message(2), message(3)])
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(self.report(r)["reconnects"], 1)
        self.assertNotIn("not sent", r.stderr)
        self.assertGreaterEqual(took, 1.2)

    def backed_off_then_complete(self, overrides):
        """A backup of three messages where `overrides` throttle one command
        once, asking for 1200 ms: waited out, then a new session completes."""
        with ExchangeImap({"INBOX": [message(1), message(2)], "Sent Items": [message(3)]},
                          overrides=overrides) as srv:
            started = time.monotonic()
            r = self.backup(srv, "--json", "--connections", "1")
            took = time.monotonic() - started
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(self.held_bytes(), {"INBOX": [message(1), message(2)], "Sent Items": [message(3)]})
        self.assertEqual(self.report(r)["reconnects"], 1)
        self.assertGreaterEqual(took, 1.2)

    def test_a_throttled_fetch_closed_with_bye_then_a_new_session_completes(self):
        throttled = body_fetch_once(lambda tag: Hangup(tag + b" BAD " + O365_THROTTLED % 1200 + b"\r\n"
                                                       + EXCHANGE_CLOSED))
        self.backed_off_then_complete({"UID": throttled})

    def test_a_throttled_examine_is_backed_off_not_a_folder_failure(self):
        # Office 365's throttling words may answer any command (providers.py,
        # O365_THROTTLED): to the EXAMINE of a folder they ask for a wait and
        # a new session, as to a FETCH, and the folder is then backed up.
        state = {"throttled": False}

        def examine(server, tag, rest, selected):
            if state["throttled"] or b"Sent" not in rest:
                return None
            state["throttled"] = True
            return tag + b" NO " + O365_THROTTLED % 1200 + b"\r\n"
        self.backed_off_then_complete({"EXAMINE": examine})

    def test_no_more_than_twenty_connections_to_exchange_online(self):
        # Exchange Online (known by the capabilities it lists after login,
        # O365_CAPABILITY) takes 20 IMAP connections per mailbox (the
        # citation is at ImapSource::max_connections); an Exchange without
        # them is not capped.
        folders = {"INBOX": [message(n) for n in range(70)], "Work": [message(100)], "Old": [message(101)]}
        elsewhere = O365_CAPABILITY.replace(b"CLIENTACCESSRULES CLIENTNETWORKPRESENCELOCATION ", b"")
        for online in (True, False):
            caps = {} if online else {"capability": elsewhere}
            with self.subTest(online=online), ExchangeImap(folders, **caps) as srv:
                shutil.rmtree(self.archive, ignore_errors=True)
                r = self.backup(srv, "--connections", "30")
                self.assertEqual(r.returncode, 0, r.output)
                if online:
                    self.assertIn("allows 20 connections per account at once; using 20, not 30", r.stderr)
                else:
                    self.assertNotIn("connections per account", r.stderr)
                self.assertEqual(len(self.held()), 3)

    def test_access_token_expired_bye_runs_the_token_command_again(self):
        # Exchange Online ends an OAuth2 session whose token expired with
        # "* BYE Session invalidated - AccessTokenExpired" (iroco-co/aioimaplib
        # issue 83, https://github.com/iroco-co/aioimaplib/issues/83); the man
        # page: a new login runs --oauth2-token-command again.
        count = os.path.join(self.outer, "tokens")
        token = os.path.join(self.outer, "token.sh")
        with open(token, "w") as f:
            f.write(f"#!/bin/sh\necho x >> {count}\necho Token-Canary-5e1d\n")
        os.chmod(token, 0o700)
        expired = body_fetch_once(lambda tag: Hangup(b"* BYE Session invalidated - AccessTokenExpired\r\n"))
        with ExchangeImap({"INBOX": [message(1), message(2)]}, overrides={"UID": expired}) as srv:
            r = self.run_mf("backup", f"imap://u@127.0.0.1:{srv.port}", self.archive, "--allow-plaintext",
                            "--oauth2-token-command", token, "--timeout", "10", "--json", "--connections", "1")
            logins = [c.split(b" ")[2] for c in srv.commands if b" AUTHENTICATE " in c.upper()]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertNotIn("Token-Canary-5e1d", r.output)
        self.assertEqual(self.held_bytes(), {"INBOX": [message(1), message(2)]})
        self.assertEqual(logins, [b"XOAUTH2", b"XOAUTH2"])
        with open(count) as f:
            self.assertEqual(len(f.readlines()), 2, "the token command ran once per login")

    def test_a_message_over_the_size_limit_fails_alone_and_a_rerun_adds_nothing(self):
        # Exchange's "* BYE Connection closed. 14" and "BAD Command Argument
        # Error. 11" to an APPEND over its size limit (providers.py,
        # EXCHANGE_TOO_LARGE: imapsync issue 5): that message fails alone,
        # is not sent again on the new session, and the rest is copied.
        big = message(2, size=40 * 1024)
        src = FakeImap({"INBOX": [message(1), big, message(3)], "Work": [message(4)]})
        dst = ExchangeImap({"INBOX": []}, max_append=32 * 1024)
        with src, dst:
            for run in (1, 2):
                r = self.migrate(src, dst, "--json", "--connections", "1")
                self.assertEqual(r.returncode, 1, f"run {run}: {r.output}")
                self.assertEqual(sorted(dst.folders[b"INBOX"]), [message(1), message(3)], f"run {run}")
                self.assertEqual(dst.folders.get(b"Work"), [message(4)], f"run {run}")
                inbox = next(f for f in self.report(r)["folders"] if f["folder"] == "INBOX")
                self.assertEqual([m["id"] for m in inbox["failed_messages"]], ["2"], f"run {run}")
                self.assertIn("Command Argument Error. 11", inbox["failed_messages"][0]["error"])

    def test_folder_names_differing_only_in_case_are_one_folder(self):
        src = FakeImap({"INBOX": [], "Archive": [message(1), message(2), message(3)]})
        dst = ExchangeImap({"INBOX": [], "ARCHIVE": [message(1), message(2)]})
        with src, dst:
            r = self.migrate(src, dst, "--connections", "1")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(sorted(dst.folders), [b"ARCHIVE", b"INBOX"])
        self.assertEqual(sorted(dst.folders[b"ARCHIVE"]), [message(1), message(2), message(3)])


# -- Yahoo --------------------------------------------------------------------

# A message whose last line has no line end: what a source may hold
# (imapsync issue 267: a server serving bodies without a final line end).
UNENDED = b"Subject: m2\r\nMessage-ID: <m2@providers>\r\n\r\nno line end"


class YahooTest(_Provider):
    """Yahoo refuses an APPEND whose message does not end in CRLF
    (providers.YAHOO_NO_FINAL_CRLF). mailferry changes no message unasked;
    with --append-final-crlf it adds the CRLF and names each message so
    changed."""

    def target(self):
        # UIDPLUS, so that a rerun knows what it copied (a changed message
        # is two octets longer than its source).
        return YahooImap({"INBOX": []}, capability=b"IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ UIDPLUS")

    def test_without_the_option_the_message_is_sent_as_it_is_and_refused_alone(self):
        src = FakeImap({"INBOX": [message(1), UNENDED, message(3)]})
        with src, self.target() as dst:
            r = self.migrate(src, dst, "--json", "--connections", "1")
            appended = [m for _, m in dst.appended]
        self.assertEqual(r.returncode, 1, r.output)
        self.assertEqual(sorted(appended), sorted([message(1), message(3)]))
        inbox = next(f for f in self.report(r)["folders"] if f["folder"] == "INBOX")
        self.assertEqual([m["id"] for m in inbox["failed_messages"]], ["2"])
        self.assertIn("CLIENTBUG", inbox["failed_messages"][0]["error"])
        self.assertNotIn("changed_messages", inbox)

    def test_append_final_crlf_adds_it_names_the_message_and_changes_nothing_else(self):
        src = FakeImap({"INBOX": [message(1), UNENDED, message(3)], "Work": [message(4)]})
        with src, self.target() as dst:
            r = self.migrate(src, dst, "--json", "--connections", "1", "--append-final-crlf")
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(dst.folders[b"INBOX"], [message(1), UNENDED + b"\r\n", message(3)])
            self.assertEqual(dst.folders[b"Work"], [message(4)])
            by_name = {f["folder"]: f for f in self.report(r)["folders"]}
            self.assertEqual(by_name["INBOX"]["changed_messages"], [{"id": "2", "change": "a final CRLF was added"}])
            self.assertNotIn("changed_messages", by_name["Work"])
            again = self.migrate(src, dst, "--connections", "1", "--append-final-crlf")
            self.assertEqual(again.returncode, 0, again.output)
            self.assertEqual(len(dst.folders[b"INBOX"]), 3, "a rerun copied again")
        src = FakeImap({"INBOX": [message(1), UNENDED]})
        with src, self.target() as dst:
            text = self.migrate(src, dst, "--connections", "1", "--append-final-crlf",
                                state=os.path.join(self.outer, "text.db"))
        self.assertEqual(text.returncode, 0, text.output)
        self.assertIn("note: INBOX: a final CRLF was added to 1 message: id 2", text.stdout)

    def test_restore_with_append_final_crlf_adds_it_to_an_archived_message(self):
        src = FakeImap({"INBOX": [message(1), UNENDED]})
        with src:
            self.assertEqual(self.backup(src).returncode, 0)
        with self.target() as dst:
            r = self.run_mf("restore", self.archive, f"imap://u@127.0.0.1:{dst.port}", "--allow-plaintext",
                            "--target-password-env", "MF_TEST_PASSWORD", "--timeout", "10", "--json",
                            "--append-final-crlf")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(sorted(dst.folders[b"INBOX"]), sorted([message(1), UNENDED + b"\r\n"]))
        inbox = next(f for f in self.report(r)["folders"] if f["folder"] == "INBOX")
        self.assertEqual(len(inbox["changed_messages"]), 1, inbox)


# -- iCloud -------------------------------------------------------------------

class ICloudTest(_Provider):
    def fetch_unread(self, *extra):
        with ICloudImap({"INBOX": [message(1), message(2)]}) as srv:
            srv.flags[b"INBOX"][1].add(b"\\Seen")       # read by the user
            r = self.backup(srv, *extra)
            seen_now = [b"\\Seen" in f for f in srv.flags[b"INBOX"]]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(seen_now, [True, True])        # what iCloud did
        return r

    def test_seen_set_by_the_fetch_is_not_archived(self):
        self.fetch_unread()
        flags = {uid: m["flags"] for uid, m in self.held()["INBOX"].items()}
        self.assertEqual(flags, {1: set(), 2: {"\\Seen"}})

    def test_the_run_says_the_server_marked_messages_read(self):
        r = self.fetch_unread()
        self.assertRegex(r.output, r"warning: INBOX: the server marked 1 messages? read.*--undo-server-seen")

    def test_the_json_report_counts_what_the_server_marked_read(self):
        r = self.fetch_unread("--json")
        inbox = self.report(r)["folders"][0]
        self.assertEqual((inbox["marked_read_by_server"], inbox["marked_unread_again"]), (1, 0))

    def test_undo_server_seen_takes_back_only_what_the_run_caused(self):
        with ICloudImap({"INBOX": [message(1), message(2), message(3)], "Work": [message(4)]}) as srv:
            srv.flags[b"INBOX"][1].add(b"\\Seen")       # read by the user
            srv.flags[b"INBOX"][2].add(b"\\Flagged")
            r = self.backup(srv, "--json", "--undo-server-seen", "--connections", "1")
            seen_now = {f: [b"\\Seen" in x for x in srv.flags[f]] for f in (b"INBOX", b"Work")}
            commands = [c.split(b" ", 1)[1] for c in srv.commands]
            stores = list(srv.stores)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(seen_now, {b"INBOX": [False, True, False], b"Work": [False]})
        self.assertEqual(sorted(stores), [(b"INBOX", [1, 3], b"-FLAGS.SILENT", {b"\\Seen"}),
                                          (b"Work", [1], b"-FLAGS.SILENT", {b"\\Seen"})])
        # SELECT only to take the marks back: right before the STORE.
        for i, c in enumerate(commands):
            if c.upper().startswith(b"UID STORE"):
                self.assertTrue(commands[i - 1].upper().startswith(b"SELECT "), commands)
        self.assertEqual(len([c for c in commands if c.upper().startswith(b"SELECT ")]), 2, commands)
        flags = {uid: m["flags"] for uid, m in self.held()["INBOX"].items()}
        self.assertEqual(flags, {1: set(), 2: {"\\Seen"}, 3: {"\\Flagged"}})
        inbox = next(f for f in self.report(r)["folders"] if f["folder"] == "INBOX")
        self.assertEqual((inbox["marked_read_by_server"], inbox["marked_unread_again"]), (2, 2))

    def test_undo_server_seen_says_what_it_did(self):
        with ICloudImap({"INBOX": [message(1), message(2)]}) as srv:
            r = self.backup(srv, "--undo-server-seen")
            seen_now = [b"\\Seen" in f for f in srv.flags[b"INBOX"]]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(seen_now, [False, False])
        self.assertRegex(r.output, r"note: INBOX: the server marked 2 messages read.*marked unread again")
        self.assertNotIn("warning", r.output)

    def test_undo_server_seen_writes_nothing_to_a_server_that_keeps_peek(self):
        with ExchangeImap({"INBOX": [message(1), message(2)]}) as srv:
            r = self.backup(srv, "--undo-server-seen")
            sent = [c.split(b" ", 1)[1].split(b" ", 2) for c in srv.commands]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertFalse([c for c in sent if c[0].upper() == b"SELECT" or b"STORE" in [w.upper() for w in c]])


# -- hMailServer --------------------------------------------------------------

class HMailServerTest(_Provider):
    def test_the_bytes_served_are_kept_and_a_rerun_fetches_nothing(self):
        bodies = [delivered(message(n)) for n in (1, 2, 3)]
        with HMailServerImap({"INBOX": list(bodies)}) as srv:
            first = self.backup(srv)
            again = self.backup(srv, "--json")
        self.assertEqual(first.returncode, 0, first.output)
        self.assertEqual(self.held_bytes(), {"INBOX": sorted(bodies)})
        self.assertEqual(again.returncode, 0, again.output)
        self.assertEqual(len(srv.bodies_sent), 3, "a rerun downloaded again")
        self.assertEqual(self.report(again)["folders"][0]["fetched"], 0)

    def test_a_rerun_of_migrate_from_hmailserver_adds_nothing(self):
        src = HMailServerImap({"INBOX": [delivered(message(n)) for n in (1, 2, 3)]})
        dst = FakeImap({"INBOX": []}, capability=b"IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ UIDPLUS")
        with src, dst:
            for run in (1, 2):
                r = self.migrate(src, dst)
                self.assertEqual(r.returncode, 0, r.output)
                self.assertEqual(sorted(dst.folders[b"INBOX"]), sorted(src.folders[b"INBOX"]), f"run {run}")

    def test_a_partly_filled_hmailserver_target_gets_only_what_is_missing(self):
        # Issue 20: its sizes differ, so Message-ID and INTERNALDATE tell
        # what it already holds.
        bodies = [delivered(message(n)) for n in (1, 2, 3)]
        src = FakeImap({"INBOX": list(bodies)})
        dst = HMailServerImap({"INBOX": bodies[:2]}, capability=b"IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ UIDPLUS")
        with src, dst:
            r = self.migrate(src, dst)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(sorted(dst.folders[b"INBOX"]), sorted(bodies))

    def test_without_uidplus_appended_uids_are_searched_for_and_reruns_add_nothing(self):
        # Issue 20: no APPENDUID, so the UIDs are learnt with UID SEARCH
        # HEADER Message-ID (NOT HEADER Message-ID "" for the one without);
        # with the mapping recorded, the second and third runs neither copy
        # nor have to match by content (the sizes would not tell).
        bodies = [delivered(message(n)) for n in (1, 2, 3)]
        bodies.append(delivered(b"Subject: no id\r\n\r\nbody\r\n"))
        src = FakeImap({"INBOX": list(bodies)})
        dst = HMailServerImap({"INBOX": []}, capability=b"IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+", appenduid=False)
        with src, dst:
            for run in (1, 2, 3):
                before = len(dst.commands)
                r = self.migrate(src, dst)
                self.assertEqual(r.returncode, 0, r.output)
                self.assertEqual(sorted(dst.folders[b"INBOX"]), sorted(bodies), f"run {run}")
                if run > 1:
                    matched = [c for c in dst.commands[before:] if b"MESSAGE-ID" in c.upper()]
                    self.assertEqual(matched, [], f"run {run} matched by content")
        self.assertEqual(len(dst.searches), 4, dst.searches)


if __name__ == "__main__":
    unittest.main()
