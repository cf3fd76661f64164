"""Hostile POP3 servers (the scripted fakepop3.FakePop3): duplicated UIDLs,
UIDLs with spaces, over 70 characters or too long to spell out in a file
name (also after a crash and with the state database lost), answers without their "."
terminator, LIST sizes that lie, lines of 1 GiB, escape sequences in -ERR
texts, and STLS missing, refused or followed by injected bytes.

Every case: no crash, bounded memory, a clear error where the server is
wrong, nothing written outside the archive, no partial message stored, and
with --delete-after-download nothing deleted that is not safely archived."""

import glob
import json
import os
import shutil
import tempfile
import time
import unittest

from archive import folder_dirs, mbox_files, read_maildir, read_mboxrd, tmp_files
from fakepop3 import FakePop3
from mfrun import assert_sane_exit, rss_limit_kb, run_measured, secret_forms, server_tls

PASSWORD = "Hostile-Pop3-Canary-2d9c"
GIB = 1 << 30


def message(i: int, body: bytes = b"") -> bytes:
    return (b"Subject: pop %d\r\nMessage-ID: <pop-%d@x>\r\n\r\nbody %d\r\n.leading dot\r\n" % (i, i, i)) + body


MSGS = [message(i) for i in range(1, 4)]


def gib_line(prefix: bytes):
    def answer(*_):
        yield prefix
        chunk = b"a" * 65536
        for _ in range(GIB // len(chunk)):
            yield chunk
    return answer


class _Pop3(unittest.TestCase):
    def setUp(self):
        self.outer = tempfile.mkdtemp(prefix="mfhostile-pop3-")
        self.archive = os.path.join(self.outer, "archive")
        self.home = os.path.join(self.outer, "home")
        os.mkdir(self.home)

    def tearDown(self):
        shutil.rmtree(self.outer, ignore_errors=True)

    def backup(self, server, *extra, timeout_s=3, url=None, env=None):
        env = {"HOME": self.home, "XDG_STATE_HOME": os.path.join(self.home, "state"), **(env or {})}
        r = run_measured(["backup", url or f"pop3://u@127.0.0.1:{server.port}", self.archive,
                          *(["--allow-plaintext"] if url is None else []),
                          "--password-env", "MF_TEST_PASSWORD", "--timeout", timeout_s, *extra],
                         password=PASSWORD, env=env, timeout=60, cwd=self.home)
        assert_sane_exit(self, r)
        self.assertLess(r.maxrss_kb, rss_limit_kb(), f"peak memory {r.maxrss_kb} kB")
        self.assertEqual(os.listdir(self.home), [], "written outside the archive")
        self.assertEqual(sorted(os.listdir(self.outer)), ["archive", "home"] if os.path.exists(self.archive)
                         else ["home"])
        return r

    def held(self):
        """UIDL -> bytes; checks that no message is partial."""
        if not os.path.isdir(self.archive):
            return {}
        self.assertEqual(tmp_files(self.archive), [], "tmp/ files left behind")
        dirs = folder_dirs(self.archive)
        held = {uid: m["data"] for uid, m in read_maildir(dirs["INBOX"]).items()} if "INBOX" in dirs else {}
        return held

    def assert_failed(self, r, pattern, codes=(1, 3, 7)):
        self.assertIn(r.returncode, codes, r.output[-2000:])
        self.assertRegex(r.stderr, pattern)


class UidlTest(_Pop3):
    def test_duplicated_uidls_are_reported_and_the_duplicate_is_kept_on_the_server(self):
        with FakePop3(MSGS, uidls=["same", "same", "c"]) as srv:
            r = self.backup(srv, "--delete-after-download", "--json")
            self.assertIn(r.returncode, (0, 1), r.output)
            self.assertRegex(json.loads(r.stdout).get("caveat", "") + r.stderr, r"share a UIDL")
            self.assertEqual(sorted(self.held().values()), sorted([MSGS[0], MSGS[2]]))
            self.assertEqual(sorted(srv.deleted), sorted([MSGS[0], MSGS[2]]))
            self.assertEqual(srv.messages, [MSGS[1]], "the message that was not archived was deleted")

    def test_uidls_with_spaces_are_kept_distinct_and_stable(self):
        uidls = ["a b", "a  b", "a\tb "]
        with FakePop3(MSGS, uidls=uidls) as srv:
            r = self.backup(srv)
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(sorted(self.held().values()), sorted(MSGS))
            r = self.backup(srv, "--json")
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], 0, "a rerun fetched again")

    def test_uidls_that_look_like_paths_or_names(self):
        with FakePop3(MSGS, uidls=["../../x", "/abs", "a,U=9:2,S\x01"]) as srv:
            r = self.backup(srv, "--delete-after-download")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(sorted(self.held().values()), sorted(MSGS))
        self.assertEqual(len(srv.deleted), 3)

    def test_uidl_of_71_characters(self):
        with FakePop3(MSGS, uidls=["u" * 71, "v", "w"]) as srv:
            r = self.backup(srv)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(sorted(self.held().values()), sorted(MSGS))

    # A UIDL that RFC 1939 allows (70 characters of 0x21-0x7E) but that is
    # mostly '/', ',' or ':' (3 bytes each escaped) would make a name over
    # 255 bytes: past 100 escaped bytes the name carries the UIDL's SHA-256
    # ("U=%sha256-<hex>", backends/maildir/names.h) and the full UIDL is in
    # the state database.
    def test_rfc_legal_uidl_that_escapes_long(self):
        with FakePop3(MSGS, uidls=["/" * 70, ",:" * 35, "w"]) as srv:
            r = self.backup(srv)
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(sorted(self.held().values()), sorted(MSGS))
            r = self.backup(srv, "--json")
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], 0, "a rerun fetched again")

    # A UIDL over 70 characters (a server's fault) is archived like any
    # other, and never blocks the rest of its batch.
    def test_uidl_over_70_characters_does_not_block_the_others(self):
        with FakePop3(MSGS, uidls=["L" * 300, "M" * 1000, "n"]) as srv:
            r = self.backup(srv)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(sorted(self.held().values()), sorted(MSGS))
        self.assertEqual(tmp_files(self.archive), [])

    # Defect (backends/pop3/source.cpp, list_uidls/list_sizes): every line
    # of a UIDL (or LIST) answer is kept, whatever its message number, so a
    # server that never ends the listing grows memory without bound (650 MB
    # after 8 s here). Fix: accept UIDL lines only for message numbers that
    # LIST gave, each once, in order; anything else is a protocol error.
    def test_endless_uidl_listing_is_refused(self):
        def endless(server, args):
            def stream():
                yield b"+OK\r\n"
                n, start = 1, time.monotonic()
                while time.monotonic() - start < 8:
                    yield b"".join(b"%d uid-%d\r\n" % (i, i) for i in range(n, n + 1000))
                    n += 1000
            return stream()
        with FakePop3(MSGS, overrides={"UIDL": endless}) as srv:
            r = self.backup(srv)
        self.assertLess(r.maxrss_kb, rss_limit_kb())  # 64 MB; more under ASan (quarantine)
        self.assert_failed(r, r"UIDL|protocol|malformed")


class LongUidlTest(_Pop3):
    """UIDLs named in the archive by their digest (too long to spell out in a
    file name) are found again without the state database's help: after a
    crash between the rename into cur/ and the state commit, and after the
    state database is lost. Such a file's UIDL is known only once the server
    lists it again, so the message is downloaded again, but it is recorded
    against the file already there: never stored twice."""

    UIDLS = ["/" * 70, ",:" * 35, "L" * 300, "short"]
    MSGS = [message(i) for i in range(1, 5)]

    def names(self):
        cur = os.path.join(self.archive, "INBOX", "cur")
        return sorted(os.listdir(cur))

    def fetched(self, srv, *extra):
        r = self.backup(srv, "--json", *extra)
        self.assertEqual(r.returncode, 0, r.output)
        return json.loads(r.stdout)["totals"]["fetched"]

    def test_names_carry_a_digest_and_stay_short(self):
        with FakePop3(self.MSGS, uidls=self.UIDLS) as srv:
            self.assertEqual(self.fetched(srv), 4)
        names = self.names()
        self.assertEqual(len(names), 4)
        self.assertTrue(all(len(n) <= 255 for n in names), names)
        self.assertEqual(sum(",U=%sha256-" in n for n in names), 3, names)
        self.assertEqual(sum(",U=short," in n for n in names), 1, names)

    def test_crash_at_every_step_then_rerun_keeps_each_message_once(self):
        steps_dir = tempfile.mkdtemp(prefix="mfsteps-")
        self.addCleanup(shutil.rmtree, steps_dir, True)
        steps_file = os.path.join(steps_dir, "steps")
        for options in ((), ("--delete-after-download",)):
            shutil.rmtree(self.archive, ignore_errors=True)
            with FakePop3(self.MSGS, uidls=self.UIDLS) as srv:
                r = self.backup(srv, *options, env={"MAILFERRY_TEST_STEPS_FILE": steps_file})
            self.assertEqual(r.returncode, 0, r.output)
            with open(steps_file) as f:
                kinds = [line.split(" ", 1)[1].strip() for line in f]
            os.unlink(steps_file)
            self.assertTrue({"maildir file linked into cur", "maildir file renamed into cur"} & set(kinds), kinds)
            for n in range(1, len(kinds) + 1):
                with self.subTest(options=options, step=n, what=kinds[n - 1]):
                    shutil.rmtree(self.archive, ignore_errors=True)
                    with FakePop3(self.MSGS, uidls=self.UIDLS) as srv:
                        r = self.backup(srv, *options, env={"MAILFERRY_TEST_CRASH_AT": str(n)})
                        self.assertEqual(r.returncode, 86, f"did not crash at step {n}: {r.output}")
                        self.fetched(srv, *options)
                        self.assertEqual(self.fetched(srv, *options), 0, "a third run still copied")
                        self.assertEqual(sorted(srv.deleted if options else srv.messages), sorted(self.MSGS))
                    # read_maildir refuses a UIDL (or digest) held twice.
                    self.assertEqual(sorted(self.held().values()), sorted(self.MSGS))
                    self.assertEqual(len(self.names()), 4)

    def test_lost_state_database_stores_nothing_twice(self):
        with FakePop3(self.MSGS, uidls=self.UIDLS) as srv:
            self.assertEqual(self.fetched(srv), 4)
            before = self.names()
            for path in glob.glob(os.path.join(self.archive, ".mailferry", "state.db*")):
                os.unlink(path)
            # The short UIDL is adopted from its name; the three named by
            # digest are downloaded again and matched to their files.
            self.assertEqual(self.fetched(srv), 3)
            self.assertEqual(self.names(), before, "a message was stored twice")
            self.assertEqual(self.fetched(srv), 0)
            r = self.backup(srv, "--delete-after-download")
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(sorted(srv.deleted), sorted(self.MSGS))
        self.assertEqual(self.names(), before)
        self.assertEqual(sorted(self.held().values()), sorted(self.MSGS))

    # Past 16 KiB a UIDL is replaced by a hash of it (backends/pop3/source.h):
    # an mbox index line holds 64 KiB, and a longer one was dropped, so the
    # message was cut from the mbox at the next run, after
    # --delete-after-download had removed it from the server.
    def test_uidls_of_many_kib_stay_archived_after_deletion(self):
        uidls = ["a", "/" * 30_000, "L" * 100_000, "b"]
        for fmt in ("maildir", "mbox"):
            with self.subTest(format=fmt):
                shutil.rmtree(self.archive, ignore_errors=True)
                with FakePop3(self.MSGS, uidls=uidls) as srv:
                    r = self.backup(srv, "--format", fmt, "--delete-after-download", "--json")
                    self.assertEqual(r.returncode, 0, r.output)
                    self.assertRegex(json.loads(r.stdout).get("caveat", ""), r"2 UIDLs were longer than 16384")
                    self.assertEqual(sorted(srv.deleted), sorted(self.MSGS))
                    self.assertEqual(self.fetched(srv, "--format", fmt), 0)
                if fmt == "maildir":
                    held = list(self.held().values())
                else:
                    held = read_mboxrd(mbox_files(self.archive)["INBOX"])
                self.assertEqual(sorted(held), sorted(self.MSGS))


class AnswersTest(_Pop3):
    def test_top_answer_without_terminator_is_a_timeout(self):
        def top(server, args):
            yield b"+OK here\r\n" + MSGS[0]
            server.hang(20)
        with FakePop3(MSGS, overrides={"TOP": top}) as srv:
            # One session: how soon a stall is seen, not the new sessions after it.
            r = self.backup(srv, "--delete-after-download", "--reconnects", "0", timeout_s=2)
            self.assert_failed(r, r"sent nothing for 2 s")
            self.assertLess(r.seconds, 8)
            self.assertEqual(srv.deleted, [])
        self.assertEqual(self.held(), {})

    def test_uidl_answer_without_terminator_is_a_timeout(self):
        def uidl(server, args):
            yield b"+OK\r\n1 a\r\n2 b\r\n"
            server.hang(20)
        with FakePop3(MSGS, overrides={"UIDL": uidl}) as srv:
            r = self.backup(srv, "--reconnects", "0", timeout_s=2)
        self.assert_failed(r, r"sent nothing for 2 s")
        self.assertLess(r.seconds, 8)

    def test_server_hangs_up_inside_a_message(self):
        with FakePop3(MSGS, overrides={"TOP": lambda s, a: self._cut(b"+OK\r\n" + MSGS[0][:30])}) as srv:
            r = self.backup(srv, "--delete-after-download")
            # A close with commands still unread by the server is a reset.
            self.assert_failed(r, r"closed the connection|reset by peer|Broken pipe")
            self.assertEqual(srv.deleted, [])
        self.assertEqual(self.held(), {})

    @staticmethod
    def _cut(data):
        yield data
        raise OSError("hang up")     # ends the fake's connection

    def test_list_size_larger_than_the_message_refuses_it_as_truncated(self):
        with FakePop3(MSGS, sizes=[len(MSGS[0]) + 500, len(MSGS[1]), len(MSGS[2])]) as srv:
            r = self.backup(srv, "--delete-after-download")
            self.assert_failed(r, r"message 1 came back with \d+ bytes, but LIST announced \d+")
            self.assertNotIn(MSGS[0], srv.deleted, "a refused message was deleted")
        self.assertEqual(sorted(self.held().values()), sorted(MSGS[1:]))

    def test_list_size_smaller_than_the_message_keeps_it(self):
        with FakePop3(MSGS, sizes=[3, len(MSGS[1]), len(MSGS[2])]) as srv:
            r = self.backup(srv, "--delete-after-download")
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(len(srv.deleted), 3)
        self.assertEqual(sorted(self.held().values()), sorted(MSGS))

    def test_err_for_one_message_keeps_the_others(self):
        def top(server, args):
            return b"-ERR cannot read that one\r\n" if args.startswith(b"2 ") else None
        with FakePop3(MSGS, overrides={"TOP": top}) as srv:
            r = self.backup(srv, "--delete-after-download")
            self.assert_failed(r, r"cannot read that one")
            self.assertNotIn(MSGS[1], srv.deleted)
        self.assertEqual(sorted(self.held().values()), sorted([MSGS[0], MSGS[2]]))

    def test_body_lines_longer_than_64_kib_are_kept(self):
        # HTML on one line, base64 without breaks: over RFC 5322's 998, common.
        long = [message(1, b"<p>" + b"x" * 100_000 + b"</p>\r\n"), message(2, b"y" * 5_000_000 + b"\r\n"), MSGS[2]]
        with FakePop3(long) as srv:
            r = self.backup(srv)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(sorted(self.held().values()), sorted(long))

    def test_one_gib_lines_without_crlf(self):
        for verb, prefix in (("UIDL", b"+OK\r\n1 "), ("TOP", b"+OK\r\nSubject: x\r\n\r\n"), ("LIST", b"+OK ")):
            with self.subTest(verb=verb), FakePop3(MSGS, overrides={verb: gib_line(prefix)}) as srv:
                shutil.rmtree(self.archive, ignore_errors=True)
                r = self.backup(srv, "--delete-after-download")
                print(f"\n  POP3 1 GiB line in {verb}: peak RSS {r.maxrss_kb / 1024:.1f} MB, {r.seconds:.2f} s")
                self.assert_failed(r, r"line longer than 8388608 bytes")
                self.assertEqual(srv.deleted, [])
                self.assertEqual(self.held(), {})

    def test_escape_sequences_in_err_text(self):
        evil = b"\x1b[2J\x1b]0;owned\x07\x08 fake prompt"
        with FakePop3(MSGS, overrides={"TOP": lambda s, a: b"-ERR " + evil + b"\r\n"}) as srv:
            r = self.backup(srv, "--debug")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("\\x1B", r.stderr)


class StlsTest(_Pop3):
    """pop3:// without --allow-plaintext requires STLS (RFC 2595)."""

    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="mftls-")
        cls.tls, cls.cacert = server_tls(cls.certdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def attempt(self, srv):
        return self.backup(srv, "--cacert", self.cacert, "--debug", url=f"pop3://u@127.0.0.1:{srv.port}")

    def assert_refused(self, r, srv):
        self.assertIn(r.returncode, (4, 7), r.output[-2000:])
        clear = bytes(srv.plain_received)
        for form in secret_forms(PASSWORD):
            self.assertNotIn(form, clear, "the password went out in clear")
        for c in srv.commands:
            if c in srv.tls_commands:
                continue
            self.assertIn(c.split(b" ")[0].upper(), (b"CAPA", b"STLS", b"QUIT"), f"sent in clear: {c[:60]!r}")
        self.assertEqual(srv.tls_commands, [])
        self.assertEqual(self.held(), {})

    def test_control_good_stls_works(self):
        with FakePop3(MSGS, tls_context=self.tls) as srv:
            r = self.attempt(srv)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertTrue(any(c.upper().startswith((b"AUTH", b"USER", b"PASS")) for c in srv.tls_commands))
        self.assertEqual(sorted(self.held().values()), sorted(MSGS))

    def test_stls_capability_missing(self):
        with FakePop3(MSGS, tls_context=self.tls, capa=["TOP", "UIDL", "USER", "SASL PLAIN"]) as srv:
            r = self.attempt(srv)
        self.assert_refused(r, srv)

    def test_err_to_stls(self):
        with FakePop3(MSGS, tls_context=self.tls, stls_reply=b"-ERR not now\r\n") as srv:
            r = self.attempt(srv)
        self.assert_refused(r, srv)

    def test_answers_injected_after_stls_ok(self):
        for injected in (b"+OK injected\r\n", b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"):
            with self.subTest(injected=injected), \
                    FakePop3(MSGS, tls_context=self.tls, stls_reply=b"+OK begin TLS\r\n" + injected) as srv:
                r = self.attempt(srv)
                self.assert_refused(r, srv)


if __name__ == "__main__":
    unittest.main()
