"""First contact: a URL with the wrong protocol or TLS mode for its port is
diagnosed in seconds, not after --timeout; a mistyped command or option gets
"did you mean"; without a --password-* option a terminal is asked for the
password, and nothing else is."""

import json
import os
import pty
import select
import signal
import socket
import tempfile
import time
import unittest

from archive import folder_dirs, read_maildir
from mfharness import Dovecot, make_message, mailferry_path, run_mailferry

USER = "alice"
PASSWORD = "First-Contact-7d1"
FAST = 5.0  # seconds: the diagnosis is due within 2 s of connecting


class SilentPort:
    """A port that accepts connections and says nothing, as a TLS server does
    while it waits for the client's ClientHello."""

    def __init__(self, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)  # the kernel completes the handshakes; nobody reads
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


DOVECOT: Dovecot | None = None  # one for the module: its tests only read


def setUpModule():
    global DOVECOT
    DOVECOT = Dovecot().start()
    DOVECOT.add_user(USER, PASSWORD)
    DOVECOT.save_many(USER, "INBOX", [make_message(i) for i in range(3)])


def tearDownModule():
    DOVECOT.stop()


class WrongPortTest(unittest.TestCase):
    def backup(self, url, *extra, timeout="60"):
        """Runs a backup that must fail fast; returns its stderr."""
        with tempfile.TemporaryDirectory() as tmp:
            start = time.monotonic()
            r = run_mailferry(["backup", url, os.path.join(tmp, "a"), "--cacert",
                               DOVECOT.cacert, "--password-env", "MF_TEST_PASSWORD",
                               "--timeout", timeout], password=PASSWORD, timeout=20)
            took = time.monotonic() - start
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        return r.stderr, took

    def url(self, scheme, port):
        return f"{scheme}://{USER}@127.0.0.1:{port}"

    def test_the_other_protocols_greeting_is_named_at_once(self):
        d = DOVECOT
        for scheme, port, said in (("imap", d.pop3_port, "POP3 (+OK), not IMAP"),
                                   ("imaps", d.pop3s_port, "POP3 (+OK), not IMAP"),
                                   ("pop3", d.imap_port, "IMAP (* OK), not POP3"),
                                   ("pop3s", d.imaps_port, "IMAP (* OK), not POP3")):
            with self.subTest(scheme=scheme):
                err, took = self.backup(self.url(scheme, port))
                self.assertIn(f"port {port} speaks {said}", err)
                self.assertLess(took, FAST)

    def test_tls_at_a_plain_port_says_plain_text(self):
        d = DOVECOT
        err, _ = self.backup(self.url("imaps", d.imap_port))
        self.assertIn(f"port {d.imap_port} answered in plain text, not TLS; "
                      "use imap:// (STARTTLS)", err)
        err, _ = self.backup(self.url("pop3s", d.pop3_port))
        self.assertIn(f"port {d.pop3_port} answered in plain text, not TLS; "
                      "use pop3:// (STLS)", err)

    def test_plain_at_the_imaps_port_gives_up_after_two_silent_seconds(self):
        # 993 is IMAPS's registered port: silence there means TLS. Binding
        # it needs root and a free port 993.
        try:
            silent = SilentPort(993)
        except OSError as e:
            self.skipTest(f"cannot listen on 127.0.0.1:993: {e}")
        try:
            err, took = self.backup(self.url("imap", 993))
        finally:
            silent.close()
        self.assertIn("port 993 sent no greeting in 2 s; it may expect TLS: use imaps://", err)
        self.assertLess(took, FAST)
        self.assertGreater(took, 1.5)

    def test_plain_at_another_silent_port_waits_the_timeout_and_names_tls(self):
        # Elsewhere a slow server may still greet, so the wait is --timeout's.
        silent = SilentPort()
        try:
            err, took = self.backup(self.url("imap", silent.port), timeout="3")
        finally:
            silent.close()
        self.assertIn(f"port {silent.port} sent no greeting in 3 s; it may expect TLS: "
                      "use imaps://", err)
        self.assertGreater(took, 2.5)


def run_on_terminal(args, typed: bytes, timeout=30.0):
    """Runs mailferry with a pseudo-terminal as stdin, stdout and stderr;
    types `typed` once "Password for" shows. Returns (exit status, all the
    terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(mailferry_path(), [mailferry_path(), *args])
    shown, sent = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if not sent and b"Password for " in shown:
                os.write(fd, typed)
                sent = True
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


class PasswordPromptTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")

    def tearDown(self):
        self.tmp.cleanup()

    def args(self):
        return ["backup", DOVECOT.url("imaps", USER), self.archive,
                "--cacert", DOVECOT.cacert]

    def test_a_terminal_is_asked_and_the_password_is_not_echoed(self):
        # --debug: the protocol trace shows the login, redacted.
        code, shown = run_on_terminal([*self.args(), "--debug"], PASSWORD.encode() + b"\n")
        self.assertEqual(code, 0, shown)
        self.assertIn("LOGIN", shown.upper())
        self.assertIn(f"Password for {USER}@127.0.0.1: ", shown)
        self.assertNotIn(PASSWORD, shown)
        self.assertEqual(len(read_maildir(folder_dirs(self.archive)["INBOX"])), 3)
        for root, _, files in os.walk(self.archive):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(PASSWORD.encode(), f.read(), name)

    def test_nothing_typed_is_a_usage_error(self):
        code, shown = run_on_terminal(self.args(), b"\n")
        self.assertEqual(code, 2, shown)
        self.assertIn("no password typed", shown)

    def test_run_never_asks_even_from_a_terminal(self):
        # A job without credentials is refused before it starts; were it not,
        # its child's standard input is /dev/null (job_children.cpp), so it
        # could not ask either, though it has a controlling terminal here.
        jobs = os.path.join(self.tmp.name, "jobs.json")
        with open(jobs, "w") as f:
            json.dump({"jobs": [{"name": "nopw", "kind": "backup",
                                 "source": DOVECOT.url("imaps", USER),
                                 "archive": self.archive, "cacert": DOVECOT.cacert}]}, f)
        os.chmod(jobs, 0o600)
        code, shown = run_on_terminal(["run", jobs], PASSWORD.encode() + b"\n")
        self.assertNotIn("Password for", shown)
        self.assertNotEqual(code, 0, shown)
        self.assertIn("needs credentials", shown)

    def test_without_a_terminal_nothing_is_asked(self):
        r = run_mailferry(self.args(), input="")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNotIn("Password for", r.stderr + r.stdout)
        self.assertIn("no password given", r.stderr)


class DidYouMeanTest(unittest.TestCase):
    def run_usage_error(self, *args):
        r = run_mailferry(list(args))
        self.assertEqual(r.returncode, 2, r.stderr)
        return r.stderr

    def test_a_mistyped_command(self):
        err = self.run_usage_error("bakup", "imaps://a@example.invalid", "/nonexistent")
        self.assertIn("unknown command 'bakup'; did you mean 'backup'?", err)

    def test_a_mistyped_option(self):
        err = self.run_usage_error("backup", "--pasword-env", "X", "imaps://a@example.invalid",
                                   "/nonexistent")
        self.assertIn("unknown option --pasword-env; did you mean --password-env?", err)

    def test_a_word_far_from_every_command_gets_no_guess(self):
        err = self.run_usage_error("frobnicate")
        self.assertIn("unknown command 'frobnicate'", err)
        self.assertNotIn("did you mean", err)


if __name__ == "__main__":
    unittest.main()
