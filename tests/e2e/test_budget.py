"""Download budgets (issue 19): `--max-bytes` ends a backup cleanly part way
through an account. What was fetched is held, exit 0, the report says
"budget reached" with the bytes left and names every folder cut short; the
next run completes the account with nothing lost and nothing twice. A
daily budget (Gmail's by default) is kept across runs in the archive's
state: a second run the same day downloads only what the day has left, and
the Gmail emulator's own daily limit is never reached. A migrate (and a
restore) take the same budgets, a migrate's daily record in its state
database."""

import json
import os
import shutil
import tempfile
import unittest

from archive import folder_dirs, read_maildir
from mfharness import DovecotTestCase, make_message, run_mailferry
from mfrun import assert_sane_exit, run_measured
from providers import GmailMessage, gmail

PASSWORD = "Budget-Canary-5d7e2"
FOLDERS = ("INBOX", "Work", "Lists")
PER_FOLDER, SIZE = 8, 3000


class MaxBytesTest(DovecotTestCase):
    PASSWORD = PASSWORD
    USER_PREFIX = "b"

    def setUp(self):
        super().setUp()
        d, n = self.dovecot, 0
        for folder in FOLDERS:
            if folder != "INBOX":
                d.create_folder(self.user, folder)
            msgs = [make_message(n + i, size=SIZE + 17 * i) for i in range(PER_FOLDER)]
            d.save_many(self.user, folder, msgs)
            n += PER_FOLDER

    def backup(self, *extra, json_report=True):
        d = self.dovecot
        r = run_mailferry(["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD", *(["--json"] if json_report else []),
                           *extra], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        return json.loads(r.stdout) if json_report else r.stdout

    def server(self):
        return {f: self.dovecot.fetch_all(self.user, f) for f in FOLDERS}

    def held(self):
        dirs = folder_dirs(self.archive)
        return {f: {uid: m["data"] for uid, m in read_maildir(dirs[f]).items()} if f in dirs else {}
                for f in FOLDERS}

    def assert_held_is_servers(self, server, complete):
        held = self.held()
        for f in FOLDERS:
            for uid, data in held[f].items():
                self.assertEqual(data, server[f][uid], f"{f} {uid}")
            if complete:
                self.assertEqual(set(held[f]), set(server[f]), f)
        return sum(len(d) for f in FOLDERS for d in held[f].values())

    def test_a_budget_ends_the_run_part_way_and_the_next_run_completes_it(self):
        server = self.server()
        total = sum(len(d) for f in FOLDERS for d in server[f].values())
        budget = 40000  # about half a folder more than one folder
        first = self.backup("--max-bytes", str(budget))
        self.assertTrue(first["budget_reached"], first)
        self.assertLessEqual(first["totals"]["bytes"], budget)
        self.assertEqual(first["totals"]["bytes_left"], total - first["totals"]["bytes"])
        self.assertEqual(self.assert_held_is_servers(server, False), first["totals"]["bytes"])
        cut = [f for f in first["folders"] if f.get("deferred")]
        self.assertTrue(cut, first)
        for f in first["folders"]:
            self.assertNotIn("error", f)
            self.assertEqual(f["fetched"] + f.get("deferred", 0), f["found"], f)
            if f.get("deferred"):
                words = "partial" if f["fetched"] else "not attempted"
                self.assertEqual(f["budget"], words + ": budget reached", f)
                self.assertEqual(f["vanished"], 0, f)

        # status: a folder cut short is not a success (nor a failure).
        status = run_mailferry(["status", self.archive, "--json"])
        done = {f["folder"] for f in first["folders"] if not f.get("deferred")}
        for f in json.loads(status.stdout)["folders"]:
            self.assertEqual(f["last_success"] != 0, f["folder"] in done, f)
            self.assertEqual(f["last_error"], "", f)

        # In text, with "20K" spelled as --max-size spells it.
        text = self.backup("--max-bytes", "20K", json_report=False)
        self.assertRegex(text, r"note: budget reached: [0-9.]+ KB left; the next run continues\n")
        self.assertRegex(text, r"note: \w+: (partial|not attempted): budget reached \(\d+ messages?, ")

        last = self.backup()
        self.assertFalse(last["budget_reached"], last)
        self.assertEqual(last["totals"]["bytes_left"], 0)
        self.assertEqual(self.assert_held_is_servers(server, True), total)
        self.assertEqual(self.backup()["totals"]["fetched"], 0)

    def test_a_restore_takes_max_bytes_and_has_no_daily_budget(self):
        server = self.server()
        self.backup()
        d, other = self.dovecot, self.user + "r"
        d.add_user(other, PASSWORD)

        def restore(*extra):
            r = run_mailferry(["restore", self.archive, d.url("imaps", other), "--cacert", d.cacert,
                               "--target-password-env", "MF_TEST_PASSWORD", "--json", *extra],
                              password=PASSWORD)
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            return json.loads(r.stdout)

        first = restore("--max-bytes", "40000")
        self.assertTrue(first["budget_reached"], first)
        self.assertNotIn("daily_budget", first)           # an archive has no allowance
        self.assertLessEqual(first["totals"]["bytes"], 40000)
        self.assertFalse(restore()["budget_reached"])
        for f in FOLDERS:
            self.assertEqual(sorted(d.fetch_all(other, f).values()), sorted(server[f].values()), f)

    def test_a_message_bigger_than_the_whole_budget_is_left_not_fetched(self):
        server = self.server()
        first = self.backup("--max-bytes", str(SIZE - 1))
        self.assertEqual(first["totals"]["fetched"], 0)
        self.assertEqual(first["totals"]["bytes_left"],
                         sum(len(d) for f in FOLDERS for d in server[f].values()))
        self.assertEqual(self.held(), {f: {} for f in FOLDERS})


DAY = 86400
NOON = 1_800_000_000 - 1_800_000_000 % DAY + DAY // 2   # a day's noon, UTC


class GmailDailyBudgetTest(unittest.TestCase):
    def setUp(self):
        self.outer = tempfile.mkdtemp(prefix="mfbudget-")
        self.archive = os.path.join(self.outer, "archive")
        self.addCleanup(shutil.rmtree, self.outer, True)

    def backup(self, srv, now, *extra):
        """A backup at the moment `now` (MAILFERRY_TEST_NOW), its JSON report."""
        r = run_measured(["backup", f"imap://u@127.0.0.1:{srv.port}", self.archive, "--allow-plaintext",
                          "--password-env", "MF_TEST_PASSWORD", "--timeout", "10", "--json", *extra],
                         password=PASSWORD, env={"MAILFERRY_TEST_NOW": str(now), "HOME": self.outer})
        assert_sane_exit(self, r)
        self.assertEqual(r.returncode, 0, r.output[-3000:])
        return json.loads(r.stdout)

    @staticmethod
    def account():
        return [GmailMessage(make_message(i, size=2000 + 10 * i), labels={"\\Inbox"} if i % 3 else set())
                for i in range(1, 16)]

    def test_gmail_has_a_daily_budget_by_default_and_off_turns_it_off(self):
        with gmail(self.account()) as srv:
            first = self.backup(srv, NOON, "--max-bytes", "1")
            self.assertEqual(first["daily_budget"], {"allowance": 2_000_000_000, "downloaded": 0})
            self.assertNotIn("daily_budget", self.backup(srv, NOON, "--daily-budget", "off", "--max-bytes", "1"))

    def test_a_second_run_the_same_day_downloads_only_what_the_day_has_left(self):
        allowance = 20000
        with gmail(self.account()) as srv:
            srv.download_budget = allowance + 5000    # Gmail's own limit, above mailferry's
            daily = ["--daily-budget", str(allowance)]
            first = self.backup(srv, NOON, *daily, "--max-bytes", "9000")
            got = first["totals"]["bytes"]
            self.assertTrue(first["budget_reached"], first)
            self.assertLessEqual(got, 9000)
            self.assertEqual(first["daily_budget"], {"allowance": allowance, "downloaded": got})
            # An hour later: the smaller of --max-bytes and what the day has left.
            second = self.backup(srv, NOON + 3600, *daily, "--max-bytes", "100K")
            self.assertTrue(second["budget_reached"], second)
            self.assertLessEqual(second["totals"]["bytes"], allowance - got)
            self.assertGreater(second["totals"]["bytes"], 0)
            got += second["totals"]["bytes"]
            self.assertEqual(second["daily_budget"]["downloaded"], got)
            self.assertEqual(srv.downloaded, got)
            # Nothing left today: the third run downloads nothing at all.
            third = self.backup(srv, NOON + 7200, *daily)
            self.assertEqual(third["totals"]["bytes"], 0, third)
            self.assertEqual(third["totals"]["bytes_left"], second["totals"]["bytes_left"])
            # The following days complete it, each within its allowance.
            day, report = NOON, third
            while report["budget_reached"]:
                day += DAY
                srv.downloaded = 0                        # Gmail's new day
                report = self.backup(srv, day, *daily)
                self.assertLessEqual(report["totals"]["bytes"], allowance)
                self.assertLess(day, NOON + 10 * DAY)
            self.assertEqual(srv.overquota_answers, 0)
            view = {n.decode(): sorted(m) for n, m in srv.folders.items() if m}
        held = {f: sorted(m["data"] for m in read_maildir(p).values()) for f, p in folder_dirs(self.archive).items()}
        self.assertEqual({f: b for f, b in held.items() if b}, view)


class MigrateBudgetTest(DovecotTestCase):
    """The same budgets for a migrate from Gmail: drawn by the source's
    listed sizes before each copy batch, the daily record kept in the push
    state database (--state)."""
    PASSWORD = PASSWORD
    USER_PREFIX = "m"

    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp.name, "push.db")

    def migrate(self, srv, now, *extra, json_report=True):
        d = self.dovecot
        r = run_measured(["migrate", f"imap://u@127.0.0.1:{srv.port}", d.url("imaps", self.user),
                          "--cacert", d.cacert, "--allow-plaintext", "--source-password-env",
                          "MF_TEST_PASSWORD", "--target-password-env", "MF_TEST_PASSWORD",
                          "--state", self.state, "--folder", "INBOX", "--folder", "Work", "--timeout",
                          "10", *(["--json"] if json_report else []), *extra],
                         password=PASSWORD, env={"MAILFERRY_TEST_NOW": str(now), "HOME": self.tmp.name})
        assert_sane_exit(self, r)
        self.assertEqual(r.returncode, 0, r.output[-3000:])
        return json.loads(r.stdout) if json_report else r.stdout

    @staticmethod
    def account():
        return [GmailMessage(make_message(i, size=2000 + 10 * i),
                             labels={"\\Inbox"} if i % 2 else {"Work"}) for i in range(1, 13)]

    def target(self):
        return {f: sorted(self.dovecot.fetch_all(self.user, f).values()) for f in ("INBOX", "Work")}

    def test_max_bytes_ends_a_migrate_part_way_and_the_next_run_completes_it(self):
        with gmail(self.account(), user_labels=("Work",)) as srv:
            source = {f: sorted(srv.folders[f.encode()]) for f in ("INBOX", "Work")}
            total = sum(len(m) for f in source for m in source[f])
            first = self.migrate(srv, NOON, "--max-bytes", "15000")
            self.assertTrue(first["budget_reached"], first)
            self.assertLessEqual(first["totals"]["bytes"], 15000)
            self.assertGreater(first["totals"]["bytes"], 0)
            self.assertEqual(first["totals"]["bytes_left"], total - first["totals"]["bytes"])
            for f in first["folders"]:
                self.assertNotIn("error", f)
                self.assertEqual(f.get("vanished", 0), 0, f)
                if f.get("deferred"):
                    words = "partial" if f["fetched"] else "not attempted"
                    self.assertEqual(f["budget"], words + ": budget reached", f)
            text = self.migrate(srv, NOON, "--max-bytes", "5K", json_report=False)
            self.assertRegex(text, r"note: budget reached: [0-9.]+ KB left; the next run continues\n")
            last = self.migrate(srv, NOON)
            self.assertFalse(last["budget_reached"], last)
            self.assertEqual(self.target(), source)     # each message once
            self.assertEqual(self.migrate(srv, NOON)["totals"]["fetched"], 0)

    def test_gmails_daily_default_and_a_daily_budget_kept_in_the_state_database(self):
        with gmail(self.account(), user_labels=("Work",)) as srv:
            first = self.migrate(srv, NOON, "--max-bytes", "1")
            self.assertEqual(first["daily_budget"], {"allowance": 2_000_000_000, "downloaded": 0})
            daily = ["--daily-budget", "12000"]
            second = self.migrate(srv, NOON, *daily)
            got = second["totals"]["bytes"]
            self.assertTrue(second["budget_reached"], second)
            self.assertEqual(second["daily_budget"], {"allowance": 12000, "downloaded": got})
            # The same day: only what the day has left.
            third = self.migrate(srv, NOON + 3600, *daily)
            self.assertLessEqual(got + third["totals"]["bytes"], 12000)
            self.assertEqual(third["daily_budget"]["downloaded"], got + third["totals"]["bytes"])
            day, report = NOON, third
            while report["budget_reached"]:
                day += DAY
                report = self.migrate(srv, day, *daily)
                self.assertLess(day, NOON + 10 * DAY)
            self.assertEqual(self.target(), {f: sorted(srv.folders[f.encode()]) for f in ("INBOX", "Work")})


if __name__ == "__main__":
    unittest.main()
