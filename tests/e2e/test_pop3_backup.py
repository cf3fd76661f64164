"""`mailferry backup pop3s://…`: UIDL-tracked, read with TOP so nothing turns
read, deletes only on request and only what is safely stored, and notices
messages that another client took away."""

import datetime
import json
import os
import random
import signal
import subprocess
import time
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from mfharness import DovecotTestCase, make_message, mailferry_path, run_mailferry, sample_mailbox

PASSWORD = "Pop3-Canary-31c"


class Pop3BackupTest(DovecotTestCase):
    PASSWORD = PASSWORD
    USER_PREFIX = "p"

    def backup(self, *extra, scheme="pop3s", expect=0):
        d = self.dovecot
        r = run_mailferry(["backup", d.url(scheme, self.user), self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD", "--json", *extra], password=PASSWORD)
        self.assertEqual(r.returncode, expect, r.stderr + r.stdout)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        return json.loads(r.stdout)

    def held(self):
        dirs = folder_dirs(self.archive)
        return read_maildir(dirs["INBOX"]) if "INBOX" in dirs else {}

    def held_bodies(self):
        return sorted(m["data"] for m in self.held().values())

    def server_bodies(self):
        return sorted(self.dovecot.fetch_all(self.user, "INBOX").values())

    def test_full_backup_is_exact_and_leaves_messages_unread(self):
        sample_mailbox(self.dovecot, self.user)
        unseen = self.dovecot.unseen(self.user, "INBOX")
        self.assertGreater(unseen, 0)
        report = self.backup()
        self.assertEqual(report["totals"]["fetched"], self.dovecot.count(self.user, "INBOX"))
        self.assertEqual(self.held_bodies(), self.server_bodies())
        self.assertEqual(self.dovecot.unseen(self.user, "INBOX"), unseen, "TOP must not mark messages read")
        self.assertEqual(self.dovecot.count(self.user, "INBOX"), report["totals"]["found"], "nothing deleted")
        self.assertEqual(tmp_files(self.archive), [])

    def test_starttls_and_message_dates_from_headers(self):
        when = datetime.datetime(2021, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
        self.dovecot.save(self.user, "INBOX", make_message(1, date=when))
        self.backup(scheme="pop3")
        (msg,) = self.held().values()
        self.assertEqual(msg["mtime"], int(when.timestamp()))

    def test_bodies_with_dots_and_from_lines(self):
        lines = [".", "..", "...", ".hidden", "From me", ">From x", "", "."]
        self.dovecot.save(self.user, "INBOX", make_message(1, body_lines=lines))
        self.backup()
        self.assertEqual(self.held_bodies(), self.server_bodies())

    def test_rerun_fetches_only_new_mail(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        self.assertEqual(self.backup()["totals"]["fetched"], 0)
        self.dovecot.save(self.user, "INBOX", make_message(77))
        self.assertEqual(self.backup()["totals"]["fetched"], 1)
        self.assertEqual(self.held_bodies(), self.server_bodies())

    def test_unchanged_or_grown_mailboxes_are_not_compared_whole(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        d = self.dovecot
        args = ["backup", d.url("pop3s", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--json", "--debug"]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        inbox = json.loads(r.stdout)["folders"][0]
        self.assertTrue(inbox["unchanged"], inbox)
        self.assertNotIn("TOP ", r.stderr)
        count = d.count(self.user, "INBOX")
        self.assertEqual(inbox["found"], count)
        # Grown only: the new message is fetched, nothing else is touched.
        d.save(self.user, "INBOX", make_message(78))
        inbox = self.backup()["folders"][0]
        self.assertFalse(inbox["unchanged"])
        self.assertEqual(inbox["fetched"], 1)
        self.assertEqual((inbox["found"], inbox["held"]), (count + 1, count))
        self.assertEqual(self.held_bodies(), self.server_bodies())

    def test_a_removal_policy_looks_again_at_an_unchanged_mailbox(self):
        # The mailbox does not change, but a cutoff moves past its messages:
        # the token of the plain run before must not make the next one skip.
        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=40)
        self.dovecot.save(self.user, "INBOX", make_message(1, date=old))
        self.backup()
        self.assertTrue(self.backup()["folders"][0]["unchanged"])
        report = self.backup("--delete-older-than", "30")
        self.assertEqual(report["folders"][0]["deleted_from_source"], 1)
        self.assertEqual(self.dovecot.count(self.user, "INBOX"), 0)

    def test_a_first_backup_of_a_large_mailbox_is_stored_in_parts(self):
        d = self.dovecot
        d.save_many(self.user, "INBOX", [make_message(i) for i in range(1, 4301)])
        r = run_mailferry(["backup", d.url("pop3s", self.user), self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        # One progress line for the whole folder, its size estimated from
        # the first part; a note says it goes in parts.
        self.assertIn("INBOX: listed and copied in parts of 1024 messages", r.stderr)
        self.assertEqual(r.stderr.count("INBOX: fetching"), 1, r.stderr[-2000:])
        self.assertRegex(r.stderr, r"INBOX: fetching 4300 messages \(about [0-9.]+ [kKM]B\)")
        self.assertEqual(len(self.held()), 4300)
        report = self.backup()
        self.assertEqual((report["totals"]["found"], report["totals"]["fetched"]), (4300, 0))

    def test_delete_after_download(self):
        sample_mailbox(self.dovecot, self.user)
        before = self.server_bodies()
        dry = self.backup("--delete-after-download", "--dry-run")
        self.assertEqual(dry["folders"][0]["planned_deletions"], len(before))
        self.assertEqual(self.dovecot.count(self.user, "INBOX"), len(before), "a dry run deleted mail")
        report = self.backup("--delete-after-download")
        self.assertEqual(report["folders"][0]["deleted_from_source"], len(before))
        self.assertEqual(self.dovecot.count(self.user, "INBOX"), 0)
        self.assertEqual(self.held_bodies(), before)
        # Messages mailferry deleted are not reported as taken by someone else.
        self.assertEqual(self.backup()["folders"][0]["removed_by_others"], 0)

    def test_delete_older_than(self):
        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=40)
        new = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
        self.dovecot.save(self.user, "INBOX", make_message(1, date=old))
        self.dovecot.save(self.user, "INBOX", make_message(2, date=new))
        report = self.backup("--delete-older-than", "30")
        self.assertEqual(report["folders"][0]["deleted_from_source"], 1)
        remaining = self.server_bodies()
        self.assertEqual(len(remaining), 1)
        self.assertIn(b"Test message 2", remaining[0])
        self.assertEqual(len(self.held()), 2)

    def test_messages_removed_by_another_client_are_reported_once(self):
        for i in range(4):
            self.dovecot.save(self.user, "INBOX", make_message(i))
        self.backup()
        uids = sorted(self.dovecot.fetch_all(self.user, "INBOX"))
        self.dovecot.expunge(self.user, "INBOX", uids[:2])
        report = self.backup()
        self.assertEqual(report["folders"][0]["removed_by_others"], 2)
        self.assertEqual(len(self.held()), 4, "a backup keeps what the server lost")
        self.assertEqual(self.backup()["folders"][0]["removed_by_others"], 0)

    def test_delete_options_are_refused_for_imap(self):
        d = self.dovecot
        r = run_mailferry(["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD", "--delete-after-download"], password=PASSWORD)
        self.assertEqual(r.returncode, 2)
        self.assertFalse(os.path.exists(self.archive))

    def test_kill_9_then_rerun_keeps_each_message_once(self):
        bodies = [make_message(i, size=random.Random(i).randrange(2000, 50000)) for i in range(1500)]
        self.dovecot.save_many(self.user, "INBOX", bodies)
        d = self.dovecot
        args = [mailferry_path(), "backup", d.url("pop3s", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--quiet", "--delete-after-download"]
        env = dict(os.environ, MF_TEST_PASSWORD=PASSWORD)
        rng = random.Random(7)
        for _ in range(5):
            p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 0.5))
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.backup("--delete-after-download")
        held = self.held_bodies()
        self.assertEqual(len(held), len(bodies), "lost or duplicated messages")
        self.assertEqual(held, sorted(bodies))
        self.assertEqual(self.dovecot.count(self.user, "INBOX"), 0)


if __name__ == "__main__":
    unittest.main()
