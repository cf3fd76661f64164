"""isync's proof, for mailferry: a run is interrupted at each of its durable
steps in turn (MAILFERRY_TEST_CRASH_AT=N: _exit at the N-th step, like a
kill -9), then run again. After the rerun the result must equal the source
(nothing lost, nothing twice), and a third run must change nothing.

MAILFERRY_LONG=1 runs larger mailboxes."""

import collections
import json
import os
import random
import tempfile
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from mfharness import Dovecot, make_message, run_mailferry

PASSWORD = "Crash-Canary-0b9"
LONG = os.environ.get("MAILFERRY_LONG") == "1"


def bodies_in_archive(archive):
    out = collections.Counter()
    for folder, path in folder_dirs(archive).items():
        for m in read_maildir(path).values():
            out[(folder, m["data"])] += 1
    return out


class CrashStepsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.src = Dovecot().start()
        cls.dst = Dovecot().start()

    @classmethod
    def tearDownClass(cls):
        cls.src.stop()
        cls.dst.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.steps_file = os.path.join(self.tmp.name, "steps")
        self.extra_env = {}

    def tearDown(self):
        self.tmp.cleanup()

    def new_user(self, server):
        user = f"c{random.randrange(10**9)}"
        server.add_user(user, PASSWORD)
        return user

    def load(self, user, per_folder):
        for folder in ("INBOX", "Work", "Work/Projects"):
            self.src.save_many(user, folder, [make_message(i, subject=f"{folder} {i}") for i in range(per_folder)])
        self.src.add_flags(user, "INBOX", 1, "\\Seen $Label1")

    def run_mf(self, args, crash_at=None, count=False):
        env = dict(self.extra_env)
        if crash_at:
            env["MAILFERRY_TEST_CRASH_AT"] = str(crash_at)
        if count:
            if os.path.exists(self.steps_file):
                os.unlink(self.steps_file)
            env["MAILFERRY_TEST_STEPS_FILE"] = self.steps_file
        return run_mailferry(args, password=PASSWORD, env=env, timeout=120)

    def steps(self):
        with open(self.steps_file) as f:
            return [line.split(" ", 1)[1].strip() for line in f]

    def every_step(self, make_args, fresh, check):
        """Counts the steps of a clean run, then crashes at each one."""
        fresh()
        r = self.run_mf(make_args(), count=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        kinds = self.steps()
        self.assertGreater(len(kinds), 5)
        for n in range(1, len(kinds) + 1):
            with self.subTest(step=n, what=kinds[n - 1]):
                fresh()
                r = self.run_mf(make_args(), crash_at=n)
                self.assertEqual(r.returncode, 86, f"did not crash at step {n}: {r.stderr}")
                r = self.run_mf(make_args())
                self.assertEqual(r.returncode, 0, r.stderr)
                check()
                again = json.loads(self.run_mf(make_args() + ["--json"]).stdout)
                self.assertEqual(again["totals"]["fetched"], 0, f"third run after crash at {n} still copied")
        return kinds

    def test_imap_backup_maildir(self):
        # Messages are written as unnamed files (O_TMPFILE), named into cur/.
        try:
            os.close(os.open(self.tmp.name, os.O_TMPFILE | os.O_WRONLY, 0o600))
        except OSError:
            self.skipTest("no O_TMPFILE in " + self.tmp.name)
        kinds = self.imap_backup_maildir()
        self.assertIn("maildir file linked into cur", kinds)
        self.assertNotIn("maildir file renamed into cur", kinds)

    def test_imap_backup_maildir_with_named_temporary_files(self):
        # Where unnamed files cannot be had: a named file in tmp/, renamed.
        self.extra_env = {"MAILFERRY_TEST_NAMED_TEMP_FILES": "1"}
        kinds = self.imap_backup_maildir()
        self.assertIn("maildir file renamed into cur", kinds)
        self.assertNotIn("maildir file linked into cur", kinds)

    def imap_backup_maildir(self):
        user = self.new_user(self.src)
        self.load(user, 30 if LONG else 8)
        archive = os.path.join(self.tmp.name, "a")
        want = collections.Counter()
        for folder in self.src.folders(user):
            for data in self.src.fetch_all(user, folder).values():
                want[(folder, data)] += 1

        def fresh():
            import shutil
            shutil.rmtree(archive, ignore_errors=True)

        def check():
            self.assertEqual(bodies_in_archive(archive), want)
            self.assertEqual(tmp_files(archive), [])

        args = lambda: ["backup", self.src.url("imaps", user), archive, "--cacert", self.src.cacert,
                        "--password-env", "MF_TEST_PASSWORD", "--quiet"]
        kinds = self.every_step(args, fresh, check)
        self.assertIn("state committed", kinds)
        return kinds

    def test_pop3_backup_with_delete_after_download(self):
        user = self.new_user(self.src)
        msgs = [make_message(i) for i in range(12 if LONG else 5)]
        archive = os.path.join(self.tmp.name, "p")

        def fresh():
            import shutil
            shutil.rmtree(archive, ignore_errors=True)
            self.src.expunge(user, "INBOX", "1:*") if self.src.count(user, "INBOX") else None
            self.src.save_many(user, "INBOX", msgs)

        def check():
            held = collections.Counter(m["data"] for m in read_maildir(folder_dirs(archive)["INBOX"]).values())
            self.assertEqual(held, collections.Counter(msgs))
            self.assertEqual(self.src.count(user, "INBOX"), 0, "deleted only part of what is held")

        args = lambda: ["backup", self.src.url("pop3s", user), archive, "--cacert", self.src.cacert,
                        "--password-env", "MF_TEST_PASSWORD", "--quiet", "--delete-after-download"]
        kinds = self.every_step(args, fresh, check)
        self.assertIn("POP3 DELE sent", kinds)

    def test_migrate_imap_to_imap(self):
        user = self.new_user(self.src)
        self.load(user, 10 if LONG else 4)
        self.migrate_every_step(self.src, user, self.src.folders(user))

    def test_migrate_across_namespaces(self):
        # Courier's "INBOX." prefix and "." separator come off on the way to
        # Dovecot's "/" (INBOX.Sent is Sent there): every crash point must
        # leave names the rerun maps the same way, each message once.
        from servers import Courier
        courier = Courier().start()
        self.addCleanup(courier.stop)
        user = f"n{random.randrange(10**9)}"
        courier.add_user(user, PASSWORD)
        for folder in ("INBOX", "Sent"):
            courier.save_many(user, folder, [make_message(i, subject=f"{folder} {i}") for i in range(3)])
        self.migrate_every_step(courier, user, ["INBOX", "Sent"], exact_folders=True)

    def migrate_every_step(self, source, user, folders, exact_folders=False):
        """Migrates `folders` of source's `user` into a fresh Dovecot account,
        crashing at each step; each folder must arrive once under its name."""
        state = os.path.join(self.tmp.name, "state.db")
        holder = {}
        want = {f: collections.Counter(source.fetch_all(user, f).values()) for f in folders}

        def fresh():
            for name in os.listdir(self.tmp.name):
                if name.startswith("state.db"):
                    os.unlink(os.path.join(self.tmp.name, name))
            holder["t"] = self.new_user(self.dst)

        def check():
            if exact_folders:
                self.assertEqual(self.dst.folders(holder["t"]), sorted(folders))
            for f, bodies in want.items():
                got = collections.Counter(self.dst.fetch_all(holder["t"], f).values())
                self.assertEqual(got, bodies, f)

        args = lambda: ["migrate", source.url("imaps", user), self.dst.url("imaps", holder["t"]),
                        "--source-cacert", source.cacert, "--target-cacert", self.dst.cacert,
                        "--source-password-env", "MF_TEST_PASSWORD", "--target-password-env", "MF_TEST_PASSWORD",
                        "--state", state, "--quiet"]
        kinds = self.every_step(args, fresh, check)
        self.assertIn("APPEND sent", kinds)

    def test_imap_backup_across_a_reconnect(self):
        # The first connection is cut in the first message's body
        # (faultproxy); the run logs in again by itself and carries on. Each
        # run gets a new proxy, so the cut comes at the same point of every
        # crash run, and the crash points after it fall on the new session.
        # The steps before the cut are crashed at too: no step number says
        # where the cut fell, and they cost little.
        from faultproxy import Fault, FaultProxy
        user = self.new_user(self.src)
        for folder, n in (("INBOX", 4), ("Work", 2)):
            self.src.save_many(user, folder, [make_message(i, subject=f"{folder} {i}") for i in range(n)])
        want = collections.Counter()
        for folder in self.src.folders(user):
            for data in self.src.fetch_all(user, folder).values():
                want[(folder, data)] += 1
        archive = os.path.join(self.tmp.name, "r")
        proxy, used = {}, []

        def fresh():
            import shutil
            shutil.rmtree(archive, ignore_errors=True)
            if proxy:
                proxy["p"].close()
                used.append((len(proxy["p"].fired), proxy["p"].accepted))
            proxy["p"] = FaultProxy(self.src.imap_port, Fault("s2c", "cut", pattern=b"BODY[] {", offset=40),
                                    hide_starttls=True, connections={0})
            self.addCleanup(proxy["p"].close)

        def check():
            self.assertEqual(bodies_in_archive(archive), want)
            self.assertEqual(tmp_files(archive), [])

        args = lambda: ["backup", f"imap://{user}@127.0.0.1:{proxy['p'].port}", archive, "--allow-plaintext",
                        "--connections", "1", "--password-env", "MF_TEST_PASSWORD", "--quiet"]
        kinds = self.every_step(args, fresh, check)
        # The counted run: cut once, then a second connection.
        self.assertEqual(used[0], (1, 2))
        # The crash runs after the cut: cut, and crashed on the new session.
        self.assertGreater(len([u for u in used[1:] if u[0] == 1]), len(kinds) // 2)


if __name__ == "__main__":
    unittest.main()
