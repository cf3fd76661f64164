"""A real server's size limit: Dovecot's quota plugin with
quota_max_mail_size (Dovecot 2.3, https://doc.dovecot.org/2.3/settings/plugin/quota-plugin/#quota-max-mail-size)
refuses an APPEND over the limit with
"NO [LIMIT] Mail size is larger than the maximum size allowed by server
configuration" and announces no APPENDLIMIT, so the refusal is only seen
as the server's answer. A migrate into it copies every other message, names
the refused one with the server's words (text and JSON, exit 1), and a
second run adds nothing and names it again, with the count of runs in a
row the target refused it (kept in the push state)."""

import json
import os
import random
import tempfile
import unittest

from mfharness import Dovecot, make_message, run_mailferry

PASSWORD = "Size-Limit-Pw-4e1"
LIMIT = 4096
QUOTA = f"""
mail_plugins = $mail_plugins quota
plugin {{
  quota = maildir:User quota
  quota_max_mail_size = {LIMIT}
}}
"""
WORDS = "Mail size is larger than the maximum size allowed by server configuration"


class SizeLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src, cls.dst = Dovecot().start(), Dovecot(extra_config=QUOTA).start()
        cls.addClassCleanup(cls.src.stop)
        cls.addClassCleanup(cls.dst.stop)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        n = random.randrange(10**9)
        self.user, self.target = f"s{n}", f"t{n}"
        self.src.add_user(self.user, PASSWORD)
        self.dst.add_user(self.target, PASSWORD)

    def migrate(self, *extra):
        args = ["migrate", self.src.url("imaps", self.user), self.dst.url("imaps", self.target),
                "--source-cacert", self.src.cacert, "--target-cacert", self.dst.cacert,
                "--source-password-env", "MF_TEST_PASSWORD", "--target-password-env", "MF_TEST_PASSWORD",
                "--state", os.path.join(self.tmp.name, "state.db"), *extra]
        return run_mailferry(args, password=PASSWORD, timeout=60)

    def test_a_message_over_the_limit_fails_alone_on_every_run(self):
        small = [make_message(i, subject=f"small {i}") for i in range(5)]
        big = make_message(99, subject="big", size=LIMIT * 3)
        self.src.save_many(self.user, "INBOX", small[:2] + [big] + small[2:])
        self.src.save_many(self.user, "Work", [make_message(50, subject="work")])
        for run in (1, 2):
            with self.subTest(run=run):
                r = self.migrate("--json")
                self.assertEqual(r.returncode, 1, r.stderr)
                report = json.loads(r.stdout)
                inbox = next(f for f in report["folders"] if f["folder"] == "INBOX")
                failed = inbox.get("failed_messages", [])
                self.assertEqual(len(failed), 1, r.stdout)
                self.assertIn("[LIMIT] " + WORDS, failed[0]["error"])
                # The state keeps the refusal: from the second run on, its count.
                self.assertEqual("(refused in 2 runs)" in failed[0]["error"], run == 2, failed[0]["error"])
                self.assertEqual(inbox["fetched"], 5 if run == 1 else 0, r.stdout)
                self.assertEqual(sorted(self.dst.fetch_all(self.target, "INBOX").values()), sorted(small))
                self.assertEqual(list(self.dst.fetch_all(self.target, "Work").values()),
                                 [make_message(50, subject="work")])
                self.assertEqual(report.get("reconnects", 0), 0, "a size refusal was taken for throttling")
        text = self.migrate()
        self.assertEqual(text.returncode, 1, text.stderr)
        self.assertIn(WORDS, text.stdout + text.stderr)
        self.assertIn("refused in 3 runs", text.stdout + text.stderr)


if __name__ == "__main__":
    unittest.main()
