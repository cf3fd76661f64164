"""Download budgets (issue 19): `--max-bytes` ends a backup cleanly part way
through an account. What was fetched is held, exit 0, the report says
"budget reached" with the bytes left and names every folder cut short; the
next run completes the account with nothing lost and nothing twice."""

import json
import unittest

from archive import folder_dirs, read_maildir
from mfharness import DovecotTestCase, make_message, run_mailferry

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

        # In text, with "1K" spelled as --max-size spells it.
        text = self.backup("--max-bytes", "20K", json_report=False)
        self.assertRegex(text, r"note: budget reached: [0-9.]+ KB left; the next run continues\n")
        self.assertRegex(text, r"note: \w+: (partial|not attempted): budget reached \(\d+ messages?, ")

        last = self.backup()
        self.assertFalse(last["budget_reached"], last)
        self.assertEqual(last["totals"]["bytes_left"], 0)
        self.assertEqual(self.assert_held_is_servers(server, True), total)
        self.assertEqual(self.backup()["totals"]["fetched"], 0)

    def test_a_message_bigger_than_the_whole_budget_is_left_not_fetched(self):
        server = self.server()
        first = self.backup("--max-bytes", str(SIZE - 1))
        self.assertEqual(first["totals"]["fetched"], 0)
        self.assertEqual(first["totals"]["bytes_left"],
                         sum(len(d) for f in FOLDERS for d in server[f].values()))
        self.assertEqual(self.held(), {f: {} for f in FOLDERS})


if __name__ == "__main__":
    unittest.main()
