"""First contact: a URL with the wrong protocol or TLS mode for its port is
diagnosed in seconds, not after --timeout; a mistyped command or option gets
"did you mean"."""

import os
import socket
import tempfile
import time
import unittest

from mfharness import Dovecot, run_mailferry

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


class WrongPortTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot().start()
        cls.dovecot.add_user(USER, PASSWORD)

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def backup(self, url, *extra, timeout="60"):
        """Runs a backup that must fail fast; returns its stderr."""
        with tempfile.TemporaryDirectory() as tmp:
            start = time.monotonic()
            r = run_mailferry(["backup", url, os.path.join(tmp, "a"), "--cacert",
                               self.dovecot.cacert, "--password-env", "MF_TEST_PASSWORD",
                               "--timeout", timeout], password=PASSWORD, timeout=20)
            took = time.monotonic() - start
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        return r.stderr, took

    def url(self, scheme, port):
        return f"{scheme}://{USER}@127.0.0.1:{port}"

    def test_imap_at_a_pop3_port_names_pop3_at_once(self):
        d = self.dovecot
        for scheme, port in (("imap", d.pop3_port), ("imaps", d.pop3s_port)):
            err, took = self.backup(self.url(scheme, port))
            self.assertIn(f"port {port} speaks POP3 (+OK), not IMAP", err)
            self.assertLess(took, FAST)

    def test_pop3_at_an_imap_port_names_imap_at_once(self):
        d = self.dovecot
        for scheme, port in (("pop3", d.imap_port), ("pop3s", d.imaps_port)):
            err, took = self.backup(self.url(scheme, port))
            self.assertIn(f"port {port} speaks IMAP (* OK), not POP3", err)
            self.assertLess(took, FAST)

    def test_tls_at_a_plain_port_says_plain_text(self):
        d = self.dovecot
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
