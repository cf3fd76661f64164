"""`mailferry check` against a real Dovecot and against scripted servers that
misbehave in ways a real one will not (no STARTTLS)."""

import json
import os
import socket
import stat
import tempfile
import threading
import unittest

from mfharness import Dovecot, free_port, run_mailferry, sample_mailbox

USER = "alice"
PASSWORD = "Canary-9f3e-Secret!"  # must never appear in any output


class FakeImapWithoutStarttls:
    """Greets, answers CAPABILITY without STARTTLS, and records what it got."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(20)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n")
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    self.received += data
                    for line in data.split(b"\r\n"):
                        tag = line.split(b" ", 1)[0]
                        if b"CAPABILITY" in line.upper():
                            conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                        elif line:
                            conn.sendall(tag + b" BAD no\r\n")
            except OSError:
                pass

    def close(self):
        self.sock.close()


class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot().start()
        cls.dovecot.add_user(USER, PASSWORD)
        sample_mailbox(cls.dovecot, USER)

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def check(self, scheme, *extra, password=PASSWORD, cacert=True):
        d = self.dovecot
        args = ["check", d.url(scheme, USER), "--password-env", "MF_TEST_PASSWORD", *extra]
        if cacert:
            args += ["--cacert", d.cacert]
        r = run_mailferry(args, password=password)
        for stream in (r.stdout, r.stderr):
            self.assertNotIn(PASSWORD, stream)
        return r

    def test_imaps_lists_folders_with_counts(self):
        r = self.check("imaps")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("certificate verified", r.stdout)
        self.assertIn("TLSv1.", r.stdout)
        for folder in ("INBOX", "Work/Projects", "Reçus", "日本語"):
            self.assertIn(folder, r.stdout)
        inbox = self.dovecot.status(USER, "INBOX")
        self.assertRegex(r.stdout, rf"INBOX\s+{inbox['messages']} messages, {inbox['unseen']} unseen")

    def test_json_matches_server_status(self):
        r = self.check("imaps", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["separator"], "/")
        self.assertTrue(doc["tls"]["verified"])
        self.assertIn("IMAP4REV1", doc["capabilities"])
        by_name = {f["name"]: f for f in doc["folders"]}
        for name in self.dovecot.folders(USER):
            st = self.dovecot.status(USER, name)
            self.assertEqual(by_name[name]["messages"], st["messages"], name)
            self.assertEqual(by_name[name]["unseen"], st["unseen"], name)

    def test_starttls(self):
        r = self.check("imap")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("via STARTTLS", r.stdout)

    def test_pop3s_and_pop3_stls(self):
        count = self.dovecot.count(USER, "INBOX")
        for scheme in ("pop3s", "pop3"):
            r = self.check(scheme, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            doc = json.loads(r.stdout)
            self.assertEqual(doc["messages"], count)
            self.assertTrue(doc["uidl"])
            self.assertTrue(doc["tls"]["active"])
            self.assertEqual(doc["tls"]["starttls"], scheme == "pop3")

    def test_wrong_password_is_exit_5(self):
        for scheme in ("imaps", "pop3s"):
            r = self.check(scheme, password="wrong-password")
            self.assertEqual(r.returncode, 5, r.stderr)
            self.assertIn("refused", r.stderr)

    def test_untrusted_certificate_is_exit_4(self):
        r = self.check("imaps", cacert=False)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("not trusted", r.stderr)
        self.assertIn("--cacert", r.stderr)

    def test_insecure_skips_verification_and_says_so(self):
        r = self.check("imaps", "--insecure", cacert=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("NOT verified", r.stdout)

    def test_tls_to_a_plain_port_is_exit_4(self):
        d = self.dovecot
        r = run_mailferry(["check", f"imaps://{USER}@127.0.0.1:{d.imap_port}", "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD", "--timeout", "5"], password=PASSWORD)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("answered in plain text, not TLS", r.stderr)

    def test_connection_refused_is_exit_3_and_names_the_port(self):
        port = free_port()
        r = run_mailferry(["check", f"imaps://{USER}@127.0.0.1:{port}", "--password-env", "MF_TEST_PASSWORD"],
                          password=PASSWORD)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(str(port), r.stderr)

    def test_debug_trace_never_shows_the_password(self):
        for scheme in ("imaps", "imap", "pop3s", "pop3"):
            r = self.check(scheme, "--debug")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("C: ", r.stderr)  # the trace is there...
            self.assertIn("<redacted>", r.stderr)  # ...and the login in it is hidden
            import base64
            for form in (PASSWORD, base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()):
                self.assertNotIn(form, r.stderr)

    def test_password_file_must_be_private(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "pw")
            with open(path, "w") as f:
                f.write(PASSWORD + "\n")
            os.chmod(path, 0o644)
            d = self.dovecot
            args = ["check", d.url("imaps", USER), "--cacert", d.cacert, "--password-file", path]
            r = run_mailferry(args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("chmod 600", r.stderr)
            os.chmod(path, 0o600)
            r = run_mailferry(args)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_password_command(self):
        d = self.dovecot
        base = ["check", d.url("imaps", USER), "--cacert", d.cacert]
        r = run_mailferry(base + ["--password-command", "printf '%s\\nignored\\n' \"$MF_TEST_PASSWORD\""],
                          password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_mailferry(base + ["--password-command", "exit 3"])
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("exited with status 3", r.stderr)
        r = run_mailferry(base + ["--password-command", "true"])
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("printed nothing", r.stderr)

    def test_password_in_url_is_refused(self):
        r = run_mailferry(["check", f"imaps://{USER}:{PASSWORD}@127.0.0.1:1"])
        self.assertEqual(r.returncode, 2)
        self.assertNotIn(PASSWORD, r.stderr + r.stdout)

    def test_no_password_source_is_a_usage_error(self):
        r = run_mailferry(["check", self.dovecot.url("imaps", USER)])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--password-env", r.stderr)

    def test_server_without_starttls_is_refused_before_the_password_is_sent(self):
        fake = FakeImapWithoutStarttls()
        try:
            r = run_mailferry(["check", f"imap://{USER}@127.0.0.1:{fake.port}", "--password-env",
                               "MF_TEST_PASSWORD", "--timeout", "5"], password=PASSWORD)
        finally:
            fake.close()
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("STARTTLS", r.stderr)
        self.assertIn("--allow-plaintext", r.stderr)
        self.assertNotIn(b"LOGIN", fake.received.upper())
        self.assertNotIn(b"AUTHENTICATE", fake.received.upper())

    def test_special_use_attributes_are_shown(self):
        # The harness's Dovecot marks Drafts, Sent, Trash and Junk (RFC 6154);
        # a user of its own, so the shared one's folders stay as they are.
        d = self.dovecot
        d.add_user("sue", PASSWORD)
        for folder in ("Sent", "Trash", "Drafts", "Junk", "Plain"):
            d.create_folder("sue", folder)
        args = ["check", d.url("imaps", "sue"), "--password-env", "MF_TEST_PASSWORD", "--cacert", d.cacert]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        for folder in ("Sent", "Trash", "Drafts", "Junk"):
            self.assertRegex(r.stdout, rf"(?m)^  {folder}\s.*\[\\{folder}\]$")
        self.assertRegex(r.stdout, r"(?m)^  Plain\s+0 messages, 0 unseen$")
        doc = json.loads(run_mailferry(args + ["--json"], password=PASSWORD).stdout)
        by_name = {f["name"]: f for f in doc["folders"]}
        self.assertEqual(by_name["Sent"]["special_use"], "\\Sent")
        self.assertEqual(by_name["Junk"]["special_use"], "\\Junk")
        self.assertNotIn("special_use", by_name["Plain"])


if __name__ == "__main__":
    unittest.main()
