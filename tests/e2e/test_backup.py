"""`mailferry backup` from a real Dovecot into a Maildir archive: every
message byte for byte, flags and dates kept, nothing changed on the server,
incremental, crash-safe."""

import datetime
import fcntl
import json
import mailbox
import os
import random
import re
import signal
import subprocess
import tempfile
import time
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from mfharness import DovecotTestCase, Dovecot, imap_utf7_encode, make_message, mailferry_path, run_mailferry, sample_mailbox

PASSWORD = "Backup-Canary-77a1"


class BackupTest(DovecotTestCase):
    PASSWORD = PASSWORD
    USER_PREFIX = "u"

    def backup(self, *extra, archive=None, expect=0):
        d = self.dovecot
        r = run_mailferry(["backup", d.url("imaps", self.user), archive or self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD", "--json", *extra], password=PASSWORD)
        self.assertEqual(r.returncode, expect, r.stderr + r.stdout)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        return json.loads(r.stdout) if r.stdout.strip() else None

    def assert_listings_follow_examine(self, trace, folders):
        """Each EXAMINE of `folders` (as the server spells them) in the
        --debug trace is followed by its listing before any answer to it was
        read: one round trip for both."""
        lines = [l for l in trace.splitlines() if re.match(r"[CS]: M\d+ ", l)]
        after = {}
        for i, line in enumerate(lines):
            m = re.match(r'C: M\d+ EXAMINE "([^"]+)"', line)
            if m and m.group(1) in folders:
                after[m.group(1)] = lines[i + 1] if i + 1 < len(lines) else ""
        self.assertEqual(sorted(after), sorted(folders))
        for folder, line in after.items():
            self.assertRegex(line, r"^C: M\d+ UID FETCH 1:\* \(UID FLAGS RFC822\.SIZE", folder)

    def test_every_folder_is_accounted_for_excluded_and_gone_ones_too(self):
        # Issue 18: a folder the filters leave out, and one deleted on the
        # server since the last run, are in the report with the reason; the
        # deleted one stays in the archive. Neither changes the exit status.
        d = self.dovecot
        for folder in ("Keep", "Drop", "Junk"):
            d.create_folder(self.user, folder)
            d.save(self.user, folder, make_message(1, subject=folder))
        d.save(self.user, "INBOX", make_message(2))
        self.backup("--exclude", "Junk")
        d.delete_folder(self.user, "Drop")
        report = self.backup("--exclude", "Junk")
        by = {f["folder"]: f for f in report["folders"]}
        self.assertEqual(by["Junk"], {"folder": "Junk", "left_out": "excluded by --exclude"})
        self.assertRegex(by["Drop"]["left_out"], r"gone from the server; its 1 message is kept in the archive")
        self.assertIn("Drop", folder_dirs(self.archive))
        self.assertNotIn("left_out", by["Keep"])
        r = run_mailferry(["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD", "--exclude", "Junk"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^2 folders, ")
        self.assertIn("note: 2 folders left out: Junk (excluded by --exclude); Drop (gone from the server", r.stdout)

    def unseen_everywhere(self):
        return {f: self.dovecot.unseen(self.user, f) for f in self.dovecot.folders(self.user)}

    def assert_archive_equals_server(self):
        """Every server message is in the archive exactly once, byte for byte
        (after LF -> CRLF), with the same flags and its INTERNALDATE as mtime."""
        dirs = folder_dirs(self.archive)
        for folder in self.dovecot.folders(self.user):
            server = self.dovecot.messages(self.user, folder)
            if not server:
                continue
            self.assertIn(folder, dirs, f"folder {folder} missing from the archive")
            held = read_maildir(dirs[folder])
            self.assertEqual(sorted(held), sorted(server), folder)
            for uid, msg in server.items():
                self.assertEqual(held[uid]["data"], msg.data, f"{folder} UID {uid} differs")
                self.assertEqual(held[uid]["flags"], set(msg.flags), f"{folder} UID {uid} flags")
                self.assertEqual(held[uid]["mtime"], int(msg.date.timestamp()), f"{folder} UID {uid} date")
                self.assertEqual(held[uid]["size"], len(msg.data))
        self.assertEqual(tmp_files(self.archive), [])

    def test_full_backup_is_exact_and_read_only(self):
        sample_mailbox(self.dovecot, self.user)
        before = self.unseen_everywhere()
        report = self.backup()
        self.assertTrue(report["ok"])
        self.assertEqual(report["totals"]["fetched"], report["totals"]["found"])
        self.assertGreater(report["totals"]["found"], 10)
        self.assert_archive_equals_server()
        self.assertEqual(self.unseen_everywhere(), before, "the backup changed flags on the server")

    def test_rerun_fetches_nothing(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        report = self.backup()
        self.assertEqual(report["totals"]["fetched"], 0)
        self.assertEqual(report["totals"]["held"], report["totals"]["found"])

    def test_unchanged_folders_are_not_listed_again_with_condstore(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        d = self.dovecot
        args = ["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--debug", "--json"]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(all(f["unchanged"] for f in json.loads(r.stdout)["folders"]))
        # LIST-STATUS gave each folder's HIGHESTMODSEQ, UIDNEXT, UIDVALIDITY
        # and count: a run with nothing new opens no folder at all.
        self.assertIn("HIGHESTMODSEQ))", r.stderr)
        self.assertNotIn("EXAMINE", r.stderr)
        self.assertNotIn("UID FETCH", r.stderr)
        # A flag change moves HIGHESTMODSEQ: that folder alone is opened, listed and updated.
        uid = min(d.fetch_all(self.user, "Work"))
        d.add_flags(self.user, "Work", uid, "\\Flagged")
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(re.findall(r'C: M\d+ EXAMINE "([^"]+)"', r.stderr), ["Work"])
        report = json.loads(r.stdout)
        work = next(f for f in report["folders"] if f["folder"] == "Work")
        self.assertFalse(work["unchanged"])
        self.assertEqual(work["flags_updated"], 1)
        self.assert_archive_equals_server()

    def test_a_first_backup_lists_each_small_folder_in_the_round_trip_of_its_examine(self):
        d = self.dovecot
        sample_mailbox(d, self.user)
        args = ["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--debug", "--connections", "1"]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        folders = [imap_utf7_encode(f) for f in d.folders(self.user) if d.count(self.user, f) > 0]
        self.assertGreater(len(folders), 2)
        self.assert_listings_follow_examine(r.stderr, folders)
        self.assert_archive_equals_server()

    def test_new_mail_in_one_folder_opens_no_extra_connection(self):
        # The folder list shows every other folder unchanged: they need no
        # connection, and one folder with work is done on the first.
        d = self.dovecot
        sample_mailbox(d, self.user)
        self.backup()
        d.save_many(self.user, "Work", [make_message(i) for i in range(9200, 9280)])  # enough to share out
        args = ["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--debug", "--json", "--connections", "4"]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(len(re.findall(r"AUTHENTICATE PLAIN", r.stderr)), 1, "more than one login")
        report = json.loads(r.stdout)
        self.assertEqual(report["totals"]["fetched"], 80)
        self.assertEqual([f["folder"] for f in report["folders"] if not f["unchanged"]], ["Work"])
        self.assert_archive_equals_server()

    def test_mail_delivered_behind_the_servers_back_is_seen_by_the_folder_list(self):
        # An MDA writing into the server's Maildir updates no index: the
        # folder list's STATUS must still see the message, or an unchanged
        # token would hide it from every run.
        d = self.dovecot
        sample_mailbox(d, self.user)
        self.backup()
        new_dir = os.path.join(d.tmp, "mail", self.user, "Work", "new")
        self.assertTrue(os.path.isdir(new_dir), new_dir)
        body = make_message(9100)
        with open(os.path.join(new_dir, "1700000000.M1P1.mda"), "wb") as f:
            f.write(body.replace(b"\r\n", b"\n"))
        report = self.backup()
        work = next(f for f in report["folders"] if f["folder"] == "Work")
        self.assertFalse(work["unchanged"])
        self.assertEqual(report["totals"]["fetched"], 1)
        self.assert_archive_equals_server()

    def test_new_mail_and_flag_changes(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        uid = self.dovecot.save(self.user, "Work", make_message(9001))
        first = min(self.dovecot.messages(self.user, "INBOX", bodies=False))
        self.dovecot.add_flags(self.user, "INBOX", first, "\\Flagged $Important")
        report = self.backup()
        self.assertEqual(report["totals"]["fetched"], 1)
        self.assertEqual(report["totals"]["flags_updated"], 1)
        self.assert_archive_equals_server()
        self.assertIn(uid, read_maildir(folder_dirs(self.archive)["Work"]))

    def test_a_run_after_changes_lists_only_what_changed(self):
        d = self.dovecot
        sample_mailbox(d, self.user)
        self.backup()
        new_uid = d.save(self.user, "Work", make_message(9002))
        first = min(d.messages(self.user, "INBOX", bodies=False))
        d.add_flags(self.user, "INBOX", first, "\\Answered")
        args = ["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--debug", "--json"]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        # New mail and flag changes, both above the old HIGHESTMODSEQ: one
        # CHANGEDSINCE listing for each changed folder, never the whole folder.
        listings = re.findall(r"C: M\d+ (UID FETCH \S+ \(UID FLAGS RFC822\.SIZE.*)", r.stderr)
        self.assertEqual(len(listings), 2, listings)  # Work and INBOX
        for listing in listings:
            self.assertIn("(CHANGEDSINCE ", listing)
        # The folder list's STATUS told which listing each would need: it went
        # out behind EXAMINE, before EXAMINE was answered.
        self.assert_listings_follow_examine(r.stderr, ["Work", "INBOX"])
        report = json.loads(r.stdout)
        self.assertEqual(report["totals"]["fetched"], 1)
        self.assertEqual(report["totals"]["flags_updated"], 1)
        server_total = sum(len(d.messages(self.user, f, bodies=False)) for f in d.folders(self.user))
        self.assertEqual(report["totals"]["found"], server_total)
        self.assertEqual(report["totals"]["held"], server_total - 1)  # before this run, as a full listing says
        self.assert_archive_equals_server()
        self.assertIn(new_uid, read_maildir(folder_dirs(self.archive)["Work"]))

        # An expunge cannot be seen in a partial listing: the folder is listed
        # whole, and the removal is noticed (the archive keeps the message).
        d.expunge(self.user, "INBOX", first)
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("UID FETCH 1:* ", r.stderr)
        inbox = next(f for f in json.loads(r.stdout)["folders"] if f["folder"] == "INBOX")
        self.assertEqual(inbox["removed_by_others"], 1)
        self.assertIn(first, read_maildir(folder_dirs(self.archive)["INBOX"]))

    def test_a_first_backup_of_a_large_folder_is_listed_in_parts(self):
        d = self.dovecot
        d.save_many(self.user, "Big", [make_message(i) for i in range(1, 4501)])
        d.expunge(self.user, "Big", 10)  # UIDs with a gap: parts are named by UID
        args = ["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--debug", "--json", "--folder", "Big"]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        # A folder over 4096 messages, 1024 a part: UID SEARCH names them
        # all, UID FETCH lists a part, and that part is fetched before the
        # next is listed.
        self.assertIn("UID SEARCH RETURN (ALL) ALL", r.stderr)
        first = r.stderr.index("UID FETCH 1:9,11:1025 (UID FLAGS RFC822.SIZE INTERNALDATE)")
        second = r.stderr.index("UID FETCH 1026:2049 (UID FLAGS RFC822.SIZE INTERNALDATE)")
        last = r.stderr.index("UID FETCH 4098:4500 (UID FLAGS RFC822.SIZE INTERNALDATE)")
        self.assertIn("BODY.PEEK[]", r.stderr[first:second])
        self.assertLess(second, last)
        # Each later part's listing goes out right behind the body FETCH of
        # the part before, not after its answer: no round trip between parts.
        body = re.search(r"C: (M\d+) UID FETCH 1:9,11:1025 \(UID FLAGS INTERNALDATE BODY\.PEEK\[\]\)", r.stderr)
        self.assertIsNotNone(body, "no body FETCH for the first part")
        self.assertLess(body.end(), second)
        self.assertFalse(f"S: {body.group(1)} OK" in r.stderr[body.end():second],
                         "the second part was listed only after the first part's bodies had come")
        self.assertNotIn("UID FETCH 1:* ", r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["totals"]["found"], 4499)
        self.assertEqual(report["totals"]["fetched"], 4499)
        held = read_maildir(folder_dirs(self.archive)["Big"])
        self.assertEqual(sorted(held), sorted(d.messages(self.user, "Big", bodies=False)))
        # The token recorded after the parts lets a rerun skip the folder.
        report = self.backup("--folder", "Big")
        self.assertTrue(report["folders"][0]["unchanged"])
        self.assertEqual(report["totals"]["fetched"], 0)

    def debug_backup(self, connections: int):
        """A backup with --debug --json on `connections` connections; it must succeed."""
        d = self.dovecot
        args = ["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--debug", "--json",
                "--connections", str(connections)]
        r = run_mailferry(args, password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        return r

    def test_several_connections_start_on_the_biggest_folder(self):
        # The run lasts as long as its busiest connection: a big folder taken
        # last would run alone at the end. LIST-STATUS gives the counts with
        # the listing, so the first connection starts on the biggest folder.
        d = self.dovecot
        d.save_many(self.user, "Zbig", [make_message(i) for i in range(100, 200)])
        d.save_many(self.user, "Aaa", [make_message(i) for i in range(10, 20)])
        d.save_many(self.user, "INBOX", [make_message(i) for i in range(1, 4)])
        r = self.debug_backup(3)
        self.assertTrue('LIST "" "*" RETURN (STATUS (MESSAGES' in r.stderr, "no counts asked with LIST")
        listed = re.findall(r'S: \* \[?LIST \([^)]*\) "/" "?([^"\]\r\n]+)', r.stderr)
        self.assertTrue(listed and listed[0] != "Zbig", f"the server listed Zbig first: proves nothing ({listed})")
        examined = re.findall(r'C: M\d+ EXAMINE "([^"]+)"', r.stderr)
        self.assertEqual(examined[0], "Zbig", examined)
        # Dovecot sends its capabilities with "Logged in": no connection asks again.
        self.assertIn("capabilities as the login's answer gave them", r.stderr)
        self.assertIsNone(re.search(r"C: M\d+ CAPABILITY", r.stderr), "a connection asked for CAPABILITY")
        self.assertEqual(sorted(examined), ["Aaa", "INBOX", "Zbig"])
        report = json.loads(r.stdout)
        self.assertEqual(report["totals"]["fetched"], 113)
        self.assert_archive_equals_server()

    def test_the_account_is_listed_once_with_namespace_in_the_same_round_trip(self):
        # The other connections take the first one's listing (the server's
        # names) instead of listing again, and NAMESPACE goes out behind the
        # LIST: on a 50 ms link each saved round trip is 50 ms before the
        # first body arrives.
        d = self.dovecot
        d.save_many(self.user, "Big1", [make_message(i) for i in range(100, 180)])
        d.save_many(self.user, "Big2", [make_message(i) for i in range(200, 280)])
        r = self.debug_backup(2)
        self.assertEqual(len(re.findall(r"AUTHENTICATE PLAIN", r.stderr)), 2, "not two connections")
        self.assertEqual(len(re.findall(r"C: M\d+ LIST ", r.stderr)), 1, "a connection listed again")
        listed = re.search(r"C: (M\d+) LIST ", r.stderr)
        namespace = r.stderr.find("NAMESPACE", listed.end())
        self.assertNotEqual(namespace, -1)
        self.assertLess(namespace, r.stderr.find(f"S: {listed.group(1)} OK"),
                        "NAMESPACE waited for the LIST's answer")
        examined = re.findall(r'C: M\d+ EXAMINE "([^"]+)"', r.stderr)
        self.assertLessEqual({"Big1", "Big2"}, set(examined), examined)
        self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], 160)
        self.assert_archive_equals_server()

    def test_bodies_that_look_like_protocol_are_kept(self):
        lines = ["From me", ">From x", ".", "..", "* 1 FETCH (UID 1)", "A001 OK done", "M1 OK fake", ")"]
        self.dovecot.save(self.user, "INBOX", make_message(1, body_lines=lines))
        self.backup()
        self.assert_archive_equals_server()

    def test_large_message_streams(self):
        self.dovecot.save(self.user, "INBOX", make_message(1, size=30 * 1024 * 1024))
        self.backup()
        self.assert_archive_equals_server()

    def test_uidvalidity_change_with_same_uids_downloads_nothing(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        self.dovecot.set_uidvalidity(self.user, "INBOX")
        report = self.backup()
        inbox = next(f for f in report["folders"] if f["folder"] == "INBOX")
        self.assertTrue(inbox["uidvalidity_changed"])
        self.assertEqual(inbox["fetched"], 0)
        self.assertEqual(inbox["rematched"], inbox["found"])
        self.assert_archive_equals_server()

    def test_uidvalidity_change_with_new_uids_rematches(self):
        for i in range(5):
            self.dovecot.save(self.user, "Work", make_message(i))
        # Two distinct messages sharing one Message-ID: both must survive.
        self.dovecot.save(self.user, "Work", make_message(100, message_id="<dup@x>", subject="one"))
        self.dovecot.save(self.user, "Work", make_message(101, message_id="<dup@x>", subject="two!"))
        self.backup()
        self.dovecot.recreate_folder(self.user, "Work", first_uid=50)
        report = self.backup()
        work = next(f for f in report["folders"] if f["folder"] == "Work")
        self.assertTrue(work["uidvalidity_changed"])
        self.assertEqual(work["fetched"], 0)
        self.assertEqual(work["rematched"], 7)
        self.assert_archive_equals_server()
        self.assertEqual(self.backup()["totals"]["fetched"], 0)

    def test_second_run_on_a_locked_archive_is_refused(self):
        self.dovecot.save(self.user, "INBOX", make_message(1))
        self.backup()
        with open(os.path.join(self.archive, ".mailferry", "lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            before = sorted(os.listdir(folder_dirs(self.archive)["INBOX"] + "/cur"))
            d = self.dovecot
            r = run_mailferry(["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                               "--password-env", "MF_TEST_PASSWORD"], password=PASSWORD)
            self.assertEqual(r.returncode, 6, r.stderr)
            self.assertIn("in use by another mailferry run", r.stderr)
            self.assertEqual(sorted(os.listdir(folder_dirs(self.archive)["INBOX"] + "/cur")), before)

    def test_dry_run_creates_nothing(self):
        sample_mailbox(self.dovecot, self.user)
        report = self.backup("--dry-run")
        self.assertTrue(report["dry_run"])
        self.assertGreater(sum(f["planned"] for f in report["folders"]), 0)
        self.assertEqual(report["totals"]["fetched"], 0)
        self.assertFalse(os.path.exists(self.archive))

    def test_folder_filters(self):
        sample_mailbox(self.dovecot, self.user)
        report = self.backup("--folder", "Work*", "--exclude", "Work/Projects")
        # The folders left out are in the report too, with the reason (issue 18).
        self.assertEqual([f["folder"] for f in report["folders"] if "left_out" not in f], ["Work"])
        left = {f["folder"]: f["left_out"] for f in report["folders"] if "left_out" in f}
        self.assertEqual(left["Work/Projects"], "excluded by --exclude")
        self.assertEqual(left["INBOX"], "not matched by --folder")

    def test_archive_of_another_account_is_refused(self):
        self.dovecot.save(self.user, "INBOX", make_message(1))
        self.backup()
        other = f"v{random.randrange(10**9)}"
        self.dovecot.add_user(other, PASSWORD)
        d = self.dovecot
        r = run_mailferry(["backup", d.url("imaps", other), self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD"], password=PASSWORD)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("holds a backup of", r.stderr)

    def test_archive_is_private_and_readable_by_python_mailbox(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        self.assertEqual(os.stat(self.archive).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(self.archive, ".mailferry", "state.db")).st_mode & 0o077, 0)
        for folder, path in folder_dirs(self.archive).items():
            md = mailbox.Maildir(path, create=False)
            server = self.dovecot.messages(self.user, folder)
            self.assertEqual(len(md), len(server), folder)
            subjects = sorted(m["Subject"] for m in md)
            self.assertEqual(len(subjects), len(server))
            for key in md.keys():
                self.assertEqual(os.stat(os.path.join(path, md._toc[key])).st_mode & 0o077, 0)

    def test_lost_state_database_is_rebuilt_from_file_names(self):
        sample_mailbox(self.dovecot, self.user)
        self.backup()
        for name in os.listdir(os.path.join(self.archive, ".mailferry")):
            if name.startswith("state.db"):
                os.unlink(os.path.join(self.archive, ".mailferry", name))
        report = self.backup()
        self.assertEqual(report["totals"]["fetched"], 0)
        self.assert_archive_equals_server()

    def test_kill_9_at_random_moments_then_rerun(self):
        bodies = [make_message(i, size=random.Random(i).randrange(2000, 60000)) for i in range(1500)]
        self.dovecot.save_many(self.user, "INBOX", bodies)
        self.dovecot.save_many(self.user, "Work", bodies[:300])
        d = self.dovecot
        args = [mailferry_path(), "backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                "--password-env", "MF_TEST_PASSWORD", "--quiet"]
        env = dict(os.environ, MF_TEST_PASSWORD=PASSWORD)
        rng = random.Random(42)
        for attempt in range(6):
            p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 0.6))
            p.send_signal(signal.SIGKILL)
            p.wait()
        report = self.backup()
        self.assertTrue(report["ok"])
        self.assert_archive_equals_server()
        self.assertEqual(self.backup()["totals"]["fetched"], 0)


# What Dovecot announces with CONDSTORE, QRESYNC, ESEARCH and LIST-STATUS
# taken out: a server without CONDSTORE, as Exchange and Office 365 are.
NO_CONDSTORE = ("imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS "
                "NAMESPACE CHILDREN UNSELECT SPECIAL-USE\n")


class WithoutCondstoreTest(unittest.TestCase):
    """A rerun against a server without CONDSTORE lists the UIDs the last
    run knew with their flags only, and only the new ones with sizes and
    dates (mbsync's way), and still sees flag changes and removals."""

    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot(extra_config=NO_CONDSTORE).start()

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.archive = os.path.join(self.tmp.name, "archive")
        self.user = f"u{random.randrange(10**9)}"
        self.dovecot.add_user(self.user, PASSWORD)

    def backup(self):
        d = self.dovecot
        r = run_mailferry(["backup", d.url("imaps", self.user), self.archive, "--cacert", d.cacert,
                           "--password-env", "MF_TEST_PASSWORD", "--json", "--debug"], password=PASSWORD)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        return json.loads(r.stdout), re.findall(r"C: M\d+ (UID FETCH .*)", r.stderr), r.stderr

    def test_a_rerun_lists_known_uids_by_flags_and_sees_changes_and_removals(self):
        d = self.dovecot
        uids = d.save_many(self.user, "INBOX", [make_message(i) for i in range(1, 6)])
        _, _, trace = self.backup()
        self.assertNotIn("CONDSTORE", trace)
        d.add_flags(self.user, "INBOX", uids[0], "\\Flagged")
        d.expunge(self.user, "INBOX", uids[1])
        new = d.save(self.user, "INBOX", make_message(9))
        report, listings, _ = self.backup()
        self.assertEqual(listings, [f"UID FETCH {new}:* (UID FLAGS RFC822.SIZE INTERNALDATE)",
                                    f"UID FETCH 1:{new - 1} (UID FLAGS)",
                                    f"UID FETCH {new} (UID FLAGS INTERNALDATE BODY.PEEK[])"])
        inbox = next(f for f in report["folders"] if f["folder"] == "INBOX")
        self.assertEqual((inbox["found"], inbox["fetched"], inbox["flags_updated"], inbox["removed_by_others"]),
                         (5, 1, 1, 1))
        held = read_maildir(folder_dirs(self.archive)["INBOX"])
        self.assertEqual(sorted(held), sorted(uids + [new]))     # the removed one stays in the archive
        self.assertEqual(held[uids[0]]["flags"], {"\\Flagged"})
        # And with nothing new, the flags alone.
        _, listings, _ = self.backup()
        self.assertEqual(listings, [f"UID FETCH 1:{new} (UID FLAGS)"])


if __name__ == "__main__":
    unittest.main()
