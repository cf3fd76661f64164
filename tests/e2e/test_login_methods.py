"""The login method is chosen, not guessed (issue 18).

Exchange on-premises announces NTLM and GSSAPI beside PLAIN. Left to
itself libcurl takes GSSAPI (a user name with a domain) or NTLM, which need
a Windows domain or a Kerberos ticket, and the login fails although PLAIN
over TLS works. What the scripted server does here is what peers have
logged from Exchange:

* after STARTTLS, ``* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=NTLM
  AUTH=GSSAPI UIDPLUS MOVE ID CHILDREN IDLE NAMESPACE LITERAL+`` and
  ``NO AUTHENTICATE failed.`` to an NTLM login (MailKit issue 269,
  https://github.com/jstedfast/MailKit/issues/269; the same list in
  imapsync issue 74, https://github.com/imapsync/imapsync/issues/74);
* ``NO LOGIN failed.`` to a refused LOGIN (imapsync issues 255 and 368).

Issue 18 lists NTLM and GSSAPI first; libcurl's choice does not depend on
the order, and the tests use the issue's.

mailferry asks for PLAIN, then LOGIN, with a password; OAUTHBEARER or
XOAUTH2 with a token; exactly MECH with --auth MECH (or the job key
``auth``). A mechanism the server does not offer fails before any
credential is sent, and an unknown one is a usage error."""

import json
import os
import shutil
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from fakeimap import FakeImap
from mfrun import assert_sane_exit, run_measured, server_tls

PASSWORD = "Login-Methods-Canary-71c2"
MSG = b"Subject: hello\r\nMessage-ID: <login@x>\r\n\r\nbody line\r\n"
# Exchange's capabilities after STARTTLS, in issue 18's order. No SASL-IR:
# PLAIN then goes through its continuation, as with Exchange.
EXCHANGE = b"IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=PLAIN UIDPLUS MOVE ID CHILDREN IDLE NAMESPACE LITERAL+"
EXIT_USAGE, EXIT_AUTH = 2, 5


class LoginMethodsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tls_dir = tempfile.mkdtemp(prefix="mflogin-tls-")
        cls.tls, cls.cert = server_tls(cls.tls_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tls_dir, ignore_errors=True)

    def setUp(self):
        self.outer = tempfile.mkdtemp(prefix="mflogin-")
        self.archive = os.path.join(self.outer, "archive")

    def tearDown(self):
        shutil.rmtree(self.outer, ignore_errors=True)

    def exchange(self, capability=EXCHANGE, accept=(b"PLAIN",)):
        """A STARTTLS server announcing `capability` that lets only `accept` in."""
        srv = FakeImap({"INBOX": [MSG]}, capability=capability + b" STARTTLS", tls_context=self.tls)
        srv.sasl_accept = list(accept)
        return srv

    def run_mf(self, *args, user="user@corp.example", credential=("--password-env", "MF_TEST_PASSWORD"), srv=None):
        url = f"imap://{user}@127.0.0.1:{srv.port}" if srv else "imap://user@127.0.0.1:1"
        env = {"HOME": self.outer, "XDG_STATE_HOME": os.path.join(self.outer, "state")}
        r = run_measured(["backup", url, self.archive, "--cacert", self.cert, "--timeout", "10",
                          *credential, *args], password=PASSWORD, env=env, timeout=60)
        assert_sane_exit(self, r)
        self.assertNotIn(PASSWORD, r.output)
        return r

    def held(self):
        return {f: sorted(m["data"] for m in read_maildir(p).values()) for f, p in folder_dirs(self.archive).items()}

    def test_default_login_is_plain_though_ntlm_and_gssapi_come_first(self):
        for user in ("user@corp.example", "user"):      # libcurl's own choice: GSSAPI, then NTLM
            with self.subTest(user=user), self.exchange() as srv:
                shutil.rmtree(self.archive, ignore_errors=True)
                r = self.run_mf(srv=srv, user=user)
                self.assertEqual(r.returncode, 0, r.output)
                self.assertEqual(self.held(), {"INBOX": [MSG]})
                # One login, PLAIN, after TLS: the password went out once.
                self.assertEqual(srv.logins, [b"PLAIN"])
                self.assertNotIn(b"AUTHENTICATE", srv.plain_received.upper())

    def test_login_mechanism_when_plain_is_not_offered(self):
        caps = b"IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=LOGIN LITERAL+"
        with self.exchange(caps, accept=(b"LOGIN",)) as srv:
            r = self.run_mf(srv=srv)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(srv.logins, [b"LOGIN"])

    def test_auth_login_sends_login(self):
        caps = EXCHANGE + b" AUTH=LOGIN"
        with self.exchange(caps, accept=(b"PLAIN", b"LOGIN")) as srv:
            r = self.run_mf("--auth", "login", srv=srv)    # any case
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(srv.logins, [b"LOGIN"])
        self.assertEqual(self.held(), {"INBOX": [MSG]})

    def test_auth_mechanism_not_offered_fails_before_any_credential(self):
        with self.exchange() as srv:
            r = self.run_mf("--auth", "LOGIN", srv=srv)
        self.assertEqual(r.returncode, EXIT_AUTH, r.output)
        self.assertRegex(r.stderr, r"does not offer LOGIN \(it offers NTLM GSSAPI PLAIN\).*--auth")
        self.assertEqual(srv.logins, [])

    def test_unknown_mechanism_is_a_usage_error_naming_it(self):
        for command in (["backup", "imap://u@127.0.0.1:1", self.archive], ["check", "imap://u@127.0.0.1:1"],
                        ["migrate", "imap://u@127.0.0.1:1", "imap://v@127.0.0.1:2"]):
            for option in (["--auth", "BOGUS-MECH"], ["--target-auth", "BOGUS-MECH"])[:1 + (command[0] == "migrate")]:
                with self.subTest(command=command[0], option=option[0]):
                    r = run_measured([*command, *option], timeout=30)
                    assert_sane_exit(self, r)
                    self.assertEqual(r.returncode, EXIT_USAGE, r.output)
                    self.assertIn("unknown login mechanism 'BOGUS-MECH'", r.stderr)

    def test_a_token_logs_in_with_xoauth2_not_ntlm(self):
        token = os.path.join(self.outer, "token.sh")
        with open(token, "w") as f:
            f.write("#!/bin/sh\necho Token-Canary-9d1e\n")
        os.chmod(token, 0o700)
        with self.exchange(EXCHANGE + b" AUTH=XOAUTH2", accept=(b"XOAUTH2",)) as srv:
            r = self.run_mf(srv=srv, credential=("--oauth2-token-command", token))
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(srv.logins, [b"XOAUTH2"])

    def test_a_token_where_no_oauth_mechanism_is_offered(self):
        token = os.path.join(self.outer, "token.sh")
        with open(token, "w") as f:
            f.write("#!/bin/sh\necho Token-Canary-9d1e\n")
        os.chmod(token, 0o700)
        with self.exchange() as srv:
            r = self.run_mf(srv=srv, credential=("--oauth2-token-command", token))
        self.assertEqual(r.returncode, EXIT_AUTH, r.output)
        self.assertRegex(r.stderr, r"does not offer OAUTHBEARER or XOAUTH2")
        self.assertEqual(srv.logins, [])

    def test_a_server_without_plain_or_login_gets_libcurls_choice_once(self):
        # No SASL at all: the IMAP LOGIN command, on a second connection;
        # the first sent no credential.
        with FakeImap({"INBOX": [MSG]}, capability=b"IMAP4rev1 LITERAL+") as srv:
            r = self.run_mf("--allow-plaintext", srv=srv)
            logins = [c for c in srv.commands if c.split(b" ")[1:2] in ([b"LOGIN"], [b"AUTHENTICATE"])]
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(len(logins), 1, logins)
        self.assertEqual(self.held(), {"INBOX": [MSG]})

    def test_job_key_auth(self):
        jobs = os.path.join(self.outer, "jobs.json")
        with self.exchange(EXCHANGE + b" AUTH=LOGIN", accept=(b"LOGIN",)) as srv:
            with open(jobs, "w") as f:
                json.dump({"jobs": [{"name": "exchange", "kind": "backup", "source": f"imap://user@127.0.0.1:{srv.port}",
                                     "archive": self.archive, "password_env": "MF_TEST_PASSWORD",
                                     "cacert": self.cert, "auth": "LOGIN"}]}, f)
            os.chmod(jobs, 0o600)
            r = run_measured(["run", jobs], password=PASSWORD, timeout=60,
                             env={"HOME": self.outer, "XDG_STATE_HOME": os.path.join(self.outer, "state")})
            assert_sane_exit(self, r)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(srv.logins, [b"LOGIN"])
        with open(jobs, "w") as f:
            json.dump({"jobs": [{"name": "bad", "kind": "backup", "source": "imap://user@127.0.0.1:1", "archive": self.archive,
                                 "password_env": "MF_TEST_PASSWORD", "auth": "BOGUS-MECH"}]}, f)
        r = run_measured(["run", "--check", jobs], timeout=30)
        assert_sane_exit(self, r)
        self.assertEqual(r.returncode, EXIT_USAGE, r.output)
        self.assertRegex(r.stderr, r"'auth'.*BOGUS-MECH")


if __name__ == "__main__":
    unittest.main()
