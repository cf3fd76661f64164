"""--since, --before and --max-size on every command that moves mail, the
job file keys of the same names, and `run --dry-run`, against Dovecot.

What a filter leaves out is counted in the report ("filtered"), is never a
failure, and is never deleted: not by a mirror (into an archive or into an
account) and not by the POP3 deletion policies.  IMAP searches on the
server (UID SEARCH), which the raw log shows."""

import datetime as dt
import json
import os
import random
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from mfharness import Dovecot, make_message, mailferry_path, run_mailferry

PASSWORD = "Filter-Canary-7d1"
UTC = dt.timezone.utc

# INTERNALDATE (and Date: header) of each test message, and its size.
MESSAGES = {
    1: (dt.datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC), 1000),  # older than --since
    2: (dt.datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC), 1000),  # exactly --since: in
    3: (dt.datetime(2024, 1, 5, 12, 0, 0, tzinfo=UTC), 6000),  # larger than --max-size
    4: (dt.datetime(2024, 1, 9, 23, 59, 59, tzinfo=UTC), 1000),  # just before --before: in
    5: (dt.datetime(2024, 1, 10, 0, 0, 0, tzinfo=UTC), 1000),  # exactly --before: out
}
FILTERS = ["--since", "2024-01-01", "--before", "2024-01-10", "--max-size", "4K"]
ADMITTED = {2, 4}


def message(i):
    date, size = MESSAGES[i]
    return make_message(i, size=size, date=date)


class FilterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dc = Dovecot(rawlog=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.dc.stop()

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.archive = os.path.join(self.tmp, "archive")
        self.user = f"f{random.randrange(10**9)}"
        self.dc.add_user(self.user, PASSWORD)
        for i, (date, _) in MESSAGES.items():
            self.dc.save(self.user, "INBOX", message(i), date=date)

    def tearDown(self):
        self._tmp.cleanup()

    def run_mf(self, *args, expect=0):
        r = run_mailferry(list(args), password=PASSWORD)
        self.assertEqual(r.returncode, expect, r.stderr + r.stdout)
        return r

    def backup(self, *extra, scheme="imaps", expect=0):
        r = self.run_mf("backup", self.dc.url(scheme, self.user), self.archive, "--cacert", self.dc.cacert,
                        "--password-env", "MF_TEST_PASSWORD", "--json", *extra, expect=expect)
        return json.loads(r.stdout)["folders"][0]

    def held(self, archive=None):
        dirs = folder_dirs(archive or self.archive)
        return sorted(m["data"] for m in read_maildir(dirs["INBOX"]).values()) if "INBOX" in dirs else []

    def bodies(self, numbers):
        return sorted(message(i) for i in numbers)

    def test_backup_takes_only_what_the_filters_admit_and_counts_the_rest(self):
        inbox = self.backup(*FILTERS)
        self.assertEqual(self.held(), self.bodies(ADMITTED))
        self.assertEqual((inbox["found"], inbox["fetched"], inbox["filtered"], inbox["failed"]), (5, 2, 3, 0))
        self.assertIn(b"UID SEARCH RETURN (ALL) SINCE 31-Dec-2023 BEFORE 11-Jan-2024 NOT LARGER 4096",
                      self.dc.rawlog(self.user))
        # Again: nothing new, and what the search did not show is not gone.
        again = self.backup(*FILTERS)
        self.assertEqual((again["fetched"], again["held"], again["filtered"]), (0, 2, 3))
        self.assertEqual((again["gone_from_source"], again["removed_by_others"]), (0, 0))
        # A run without filters takes the rest: the filtered runs recorded no
        # change token that would let it skip the folder.
        whole = self.backup()
        self.assertEqual((whole["fetched"], whole["filtered"], whole["removed_by_others"]), (3, 0, 0))
        self.assertEqual(self.held(), self.bodies(MESSAGES))

    def test_the_summary_names_the_filters(self):
        r = self.run_mf("backup", self.dc.url("imaps", self.user), self.archive, "--cacert", self.dc.cacert,
                        "--password-env", "MF_TEST_PASSWORD", "--max-size", "4K")
        self.assertIn("note: 1 message left out by --max-size 4K", r.stdout)
        bad = self.run_mf("backup", self.dc.url("imaps", self.user), self.archive, "--since", "2024-02-30",
                          expect=2)
        self.assertIn("--since", bad.stderr)
        bad = self.run_mf("backup", self.dc.url("imaps", self.user), self.archive, "--cacert", self.dc.cacert,
                          "--password-env", "MF_TEST_PASSWORD", "--since", "2024-02-01", "--before", "2024-01-01",
                          expect=2)
        self.assertIn("--before: must be later than --since", bad.stderr)

    def test_no_filter_sends_no_search(self):
        self.backup()
        self.assertNotIn(b"SEARCH", self.dc.rawlog(self.user))

    def test_mirror_into_an_archive_keeps_what_the_filter_hides(self):
        base = ["mirror", self.dc.url("imaps", self.user), self.archive, "--source-cacert", self.dc.cacert,
                "--source-password-env", "MF_TEST_PASSWORD", "--json"]
        self.run_mf(*base)
        self.assertEqual(len(self.held()), 5)
        report = json.loads(self.run_mf(*base, *FILTERS).stdout)["folders"][0]
        self.assertEqual((report["deleted_from_target"], report["filtered"]), (0, 3))
        self.assertEqual(self.held(), self.bodies(MESSAGES))
        # What is really gone from the server still goes, filtered or not.
        uids = sorted(self.dc.fetch_all(self.user, "INBOX"))
        self.dc.expunge(self.user, "INBOX", uids[1])  # message 2
        report = json.loads(self.run_mf(*base, "--since", "2024-01-01").stdout)["folders"][0]
        self.assertEqual(report["deleted_from_target"], 1)
        self.assertEqual(self.held(), self.bodies({1, 3, 4, 5}))

    def test_restore_and_account_mirror_with_filters(self):
        self.backup()
        target = f"t{random.randrange(10**9)}"
        self.dc.add_user(target, PASSWORD)
        common = ["--cacert", self.dc.cacert, "--target-password-env", "MF_TEST_PASSWORD", "--json"]
        r = self.run_mf("restore", self.archive, self.dc.url("imaps", target), *common, "--max-size", "4K")
        inbox = json.loads(r.stdout)["folders"][0]
        self.assertEqual((inbox["fetched"], inbox["filtered"]), (4, 1))
        self.assertEqual(sorted(self.dc.fetch_all(target, "INBOX").values()), self.bodies({1, 2, 4, 5}))
        # An account mirror: the message the filter hides stays on the target.
        state = os.path.join(self.tmp, "state.db")
        mirror = ["mirror", self.dc.url("imaps", self.user), self.dc.url("imaps", target), *common,
                  "--source-password-env", "MF_TEST_PASSWORD", "--state", state]
        self.run_mf(*mirror)
        self.assertEqual(self.dc.count(target, "INBOX"), 5)
        inbox = json.loads(self.run_mf(*mirror, "--before", "2024-01-05").stdout)["folders"][0]
        self.assertEqual((inbox["deleted_from_target"], inbox["filtered"]), (0, 3))
        self.assertEqual(self.dc.count(target, "INBOX"), 5)

    def test_pop3_filters_by_size_and_header_date_and_deletes_only_what_it_took(self):
        inbox = self.backup(*FILTERS, "--delete-after-download", scheme="pop3s")
        self.assertEqual(self.held(), self.bodies(ADMITTED))
        self.assertEqual((inbox["fetched"], inbox["filtered"], inbox["deleted_from_source"]), (2, 3, 2))
        self.assertEqual(sorted(self.dc.fetch_all(self.user, "INBOX").values()), self.bodies({1, 3, 5}))
        # --delete-older-than deletes only what this run's filter admits.
        inbox = self.backup("--max-size", "4K", "--delete-older-than", "1", scheme="pop3s")
        self.assertEqual((inbox["fetched"], inbox["filtered"], inbox["deleted_from_source"]), (2, 1, 2))
        self.assertEqual(sorted(self.dc.fetch_all(self.user, "INBOX").values()), self.bodies({3}))

    def test_job_file_keys_and_run_dry_run(self):
        jobs = os.path.join(self.tmp, "jobs.json")
        with open(jobs, "w") as f:
            json.dump({"jobs": [{"name": "j", "kind": "backup", "source": self.dc.url("imaps", self.user),
                                 "archive": self.archive, "cacert": self.dc.cacert, "password_env": "MF_TEST_PASSWORD",
                                 "since": "2024-01-01", "before": "2024-01-10", "max_size": 4096}]}, f)
        os.chmod(jobs, 0o600)
        metrics = os.path.join(self.tmp, "metrics.prom")
        r = self.run_mf("run", jobs, "--dry-run", "--json", "--metrics-file", metrics)
        report = json.loads(r.stdout)
        self.assertTrue(report["dry_run"])
        self.assertEqual(self.held(), [], "a dry run stored mail")
        self.assertFalse(os.path.exists(metrics), "a dry run wrote metrics")
        self.run_mf("run", jobs)
        self.assertEqual(self.held(), self.bodies(ADMITTED))


if __name__ == "__main__":
    unittest.main()
