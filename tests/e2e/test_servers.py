"""mailferry against servers other than Dovecot: Cyrus IMAP 3.6 and
Courier-IMAP 5 (Debian 12's packages, unpacked by tests/install-servers.sh,
started privately by servers.py), in the core scenarios:

* a full backup of several folders, one nested (Work/Projects), into a
  Maildir archive: every message byte for byte with its flags (keywords
  included) and its INTERNALDATE as mtime; the archive's folders named as the
  server names them (Courier's "INBOX.Sent" is INBOX/Sent: the personal
  namespace prefix is kept, and recorded for a restore);
* a rerun with nothing new fetches 0; new mail and flag changes on the
  server are picked up by the next rerun;
* kill -9 at random moments of a backup, then a run to the end: each
  message exactly once, no tmp/ files, a further run fetches 0;
* restore of the archive into an empty account on the same server: every
  message once, bytes and flags equal; a rerun copies 0; restore into
  Dovecot: the same, each folder under the name the user sees (the prefix
  taken off: Courier's INBOX/Sent is Sent); an archive without the recorded
  prefix (made before it was recorded) restores with the names it holds,
  and its next backup records it;
* migrate between two different servers, both directions: Dovecot -> Cyrus,
  Courier -> Dovecot and Dovecot -> Courier (MAILFERRY_LONG=1 adds Cyrus ->
  Dovecot and Cyrus -> Courier): every message once with its flags, in the
  folder of the same name as the user sees it (the source's namespace prefix
  off, the target's on); a rerun copies 0.

Cyrus here has altnamespace and unixhierarchysep on (folders beside INBOX,
separator "/"), CONDSTORE, LIST-STATUS, MULTIAPPEND; Courier has the
personal namespace "INBOX." with separator ".", and none of those
extensions.  Tests marked expectedFailure show a mailferry defect on that
server (named at the marker).  MAILFERRY_LONG=1: more messages, more kills,
more migrate directions, and the whole set again against a Cyrus with
Debian's own settings (altnamespace and unixhierarchysep off: folders under
"INBOX.", separator ".").
"""

import collections
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from mfharness import Dovecot, HarnessError, Message, make_message, mailferry_path, run_mailferry
from mfrun import LONG
from servers import Courier, Cyrus

PASSWORD = "Servers-Canary-4e7"
PW_ENV = "MF_TEST_PASSWORD"

#: The mailbox every scenario starts from: folder -> [(index, flags)].
LAYOUT = {
    "INBOX": [(0, ()), (1, ("\\Seen",)), (2, ("\\Seen", "\\Flagged")), (3, ("\\Answered", "\\Seen")),
              (4, ("$Forwarded",))],
    "Sent": [(10, ("\\Seen",)), (11, ("\\Seen", "\\Draft"))],
    "Work/Projects": [(20, ("\\Seen", "$Project")), (21, ()), (22, ("\\Flagged",)), (23, ("\\Seen",))],
}

def _date(i):
    import datetime as dt
    return dt.datetime(2023, 6, 1, 12, 0, 0, tzinfo=dt.timezone.utc) + dt.timedelta(hours=7 * i)


def load_layout(server, user, layout=LAYOUT):
    for folder, items in layout.items():
        server.save_many(user, folder, [Message(make_message(i), frozenset(flags), _date(i))
                                        for i, flags in items])


def mailbox_content(server, user):
    """folder -> Counter of (bytes, flags) for every selectable folder that holds mail."""
    out = {}
    for folder in server.folders(user):
        try:
            msgs = server.messages(user, folder)
        except HarnessError:
            continue                            # a \\Noselect parent
        if msgs:
            out[folder] = collections.Counter((m.data, frozenset(m.flags)) for m in msgs.values())
    return out


def flattened(content):
    total = collections.Counter()
    for c in content.values():
        total.update(c)
    return total


class _Scenarios:
    """The scenarios, run against self.srv (a Cyrus or Courier, one per class)."""

    server_class = None
    #: migrate directions, ("dovecot" | "self" | "other", same) pairs: default and long mode.
    migrations = ()
    long_migrations = ()

    server_args = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.server_class(**cls.server_args).start()
        cls.dovecot = Dovecot().start()
        cls.other = None

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.dovecot.stop()
        if cls.other is not None:
            cls.other.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")
        self.user = f"u{random.randrange(10**9)}"
        self.srv.add_user(self.user, PASSWORD)
        self.rng = random.Random(self.user)

    def tearDown(self):
        self.tmp.cleanup()

    # -- running mailferry -------------------------------------------------------

    def mf(self, args, expect=0):
        r = run_mailferry([*args, "--json"], password=PASSWORD, timeout=300)
        self.assertNotIn("Sanitizer", r.stderr)
        self.assertNotIn(PASSWORD, r.stdout + r.stderr)
        self.assertEqual(r.returncode, expect, f"{self.srv.kind}: mailferry {args[0]}:\n{r.stderr}\n{r.stdout[-3000:]}")
        return json.loads(r.stdout)

    def backup_args(self, server=None, user=None):
        server = server or self.srv
        return ["backup", server.url("imaps", user or self.user), self.archive, "--cacert", server.cacert,
                "--password-env", PW_ENV]

    def backup(self):
        return self.mf(self.backup_args())

    def push_args(self, command, source, source_server, target_server, target_user, state):
        args = [command, source, target_server.url("imaps", target_user),
                "--target-cacert", target_server.cacert, "--target-password-env", PW_ENV]
        if source_server is not None:
            args += ["--source-cacert", source_server.cacert, "--source-password-env", PW_ENV,
                     "--state", state]
        return args

    # -- reading the archive -------------------------------------------------------

    def archive_name(self, folder):
        """The archive folder of a server folder: the server's full name,
        personal namespace prefix and all ("INBOX.Work.Projects" on Courier
        is INBOX/Work/Projects; NAMESPACES in the man page)."""
        if folder == "INBOX":
            return folder
        return "/".join((self.srv.prefix + folder.replace("/", self.srv.separator)).split(self.srv.separator))

    def archive_dir(self, folder):
        dirs = folder_dirs(self.archive)
        name = self.archive_name(folder)
        self.assertIn(name, dirs, f"no archive folder for {folder!r}: {sorted(dirs)}")
        return dirs[name]

    def assert_archive_equals_server(self, folders=None):
        self.assertEqual(tmp_files(self.archive), [])
        for folder in folders or self.srv.folders(self.user):
            want = self.srv.messages(self.user, folder)
            held = read_maildir(self.archive_dir(folder))      # fails on a UID twice
            self.assertEqual(sorted(held), sorted(want), f"{self.srv.kind} {folder}: UIDs")
            for uid, m in want.items():
                self.assertEqual(held[uid]["data"], m.data, f"{folder} UID {uid}: bytes")
                self.assertEqual(held[uid]["flags"], set(m.flags), f"{folder} UID {uid}: flags")
                self.assertEqual(held[uid]["mtime"], int(m.date.timestamp()), f"{folder} UID {uid}: INTERNALDATE")

    # -- the scenarios ---------------------------------------------------------------

    def test_backup_rerun_and_changes(self):
        load_layout(self.srv, self.user)
        report = self.backup()
        self.assertEqual(report["totals"]["fetched"], sum(map(len, LAYOUT.values())))
        self.assert_archive_equals_server()
        for folder in LAYOUT:
            self.assertEqual(len(read_maildir(self.archive_dir(folder))), len(LAYOUT[folder]), folder)

        again = self.backup()
        self.assertEqual(again["totals"]["fetched"], 0, "a rerun with nothing new fetched")
        self.assertEqual(again["totals"]["flags_updated"], 0)

        # New mail in two folders, flags changed on two messages.
        self.srv.save_many(self.user, "INBOX", [make_message(30), make_message(31)], flags="\\Seen")
        self.srv.save(self.user, "Work/Projects", make_message(32), flags="$Project")
        inbox = self.srv.messages(self.user, "INBOX", bodies=False)
        first, second = list(inbox)[:2]
        self.srv.add_flags(self.user, "INBOX", first, "\\Flagged $Later")
        self.srv.remove_flags(self.user, "INBOX", second, "\\Seen")
        changed = self.backup()
        self.assertEqual(changed["totals"]["fetched"], 3)
        self.assertEqual(changed["totals"]["flags_updated"], 2)
        self.assert_archive_equals_server()
        self.assertEqual(self.backup()["totals"]["fetched"], 0)

    def test_archive_folders_keep_the_servers_names(self):
        load_layout(self.srv, self.user)
        self.backup()
        self.assertEqual(sorted(folder_dirs(self.archive)),
                         sorted(self.archive_name(f) for f in self.srv.folders(self.user)))

    def test_kill9_mid_backup_then_rerun(self):
        big = 300 if LONG else 120
        rng = random.Random(big)
        self.srv.save_many(self.user, "INBOX", [make_message(100 + i, size=rng.randrange(2_000, 40_000))
                                                for i in range(big)])
        self.srv.save_many(self.user, "Work/Projects", [make_message(1000 + i) for i in range(big // 4)])
        args = self.backup_args()
        start = time.monotonic()
        self.backup()
        window = max(0.05, 0.9 * (time.monotonic() - start))
        self.assert_archive_equals_server(["INBOX", "Work/Projects"])
        kills = 20 if LONG else 3
        killed = rounds = 0
        while killed < kills:
            shutil.rmtree(self.archive)
            rounds += 1
            self.assertLess(rounds, 4 * kills + 10, "runs end before they can be killed: the test proves nothing")
            for _ in range(5):
                p = subprocess.Popen([mailferry_path(), *args, "--quiet"], env=dict(os.environ, **{PW_ENV: PASSWORD}),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                try:
                    p.wait(self.rng.uniform(0.01, window))
                except subprocess.TimeoutExpired:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                    killed += 1
                    continue
                finally:
                    err = p.stderr.read().decode(errors="replace")
                    p.stderr.close()
                self.assertIn(p.returncode, (0, 1, 3, 6), err)
                break
            self.backup()
            self.assert_archive_equals_server(["INBOX", "Work/Projects"])
            self.assertEqual(self.backup()["totals"]["fetched"], 0, "a run after completion still fetched")

    def test_restore_into_an_empty_account(self):
        load_layout(self.srv, self.user)
        self.backup()
        target = "r" + self.user
        self.srv.add_user(target, PASSWORD)
        args = self.push_args("restore", self.archive, None, self.srv, target, None)
        report = self.mf(args)
        self.assertEqual(report["totals"]["fetched"], sum(map(len, LAYOUT.values())))
        self.assertEqual(mailbox_content(self.srv, target), mailbox_content(self.srv, self.user))
        self.assertEqual(self.mf(args)["totals"]["fetched"], 0)

    def test_restore_into_dovecot_takes_the_prefix_off(self):
        # The archive keeps the server's names; a restore elsewhere takes the
        # recorded personal prefix off: Courier's INBOX/Sent becomes Sent.
        load_layout(self.srv, self.user)
        self.backup()
        target = "d" + self.user
        self.dovecot.add_user(target, PASSWORD)
        args = self.push_args("restore", self.archive, None, self.dovecot, target, None)
        self.assertEqual(self.mf(args)["totals"]["fetched"], sum(map(len, LAYOUT.values())))
        self.assertEqual(mailbox_content(self.dovecot, target), mailbox_content(self.srv, self.user))

    # -- migrate ---------------------------------------------------------------------

    def server_named(self, name):
        if name == "self":
            return self.srv
        if name == "dovecot":
            return self.dovecot
        if type(self).other is None:
            type(self).other = (Courier if self.server_class is Cyrus else Cyrus)().start()
        return type(self).other

    def migrate(self, source_name, target_name):
        """Loads the layout into a fresh account on source, migrates it to a
        fresh account on target; (source content, target content)."""
        src, dst = self.server_named(source_name), self.server_named(target_name)
        n = random.randrange(10**9)
        src_user, dst_user = f"ms{n}", f"mt{n}"
        src.add_user(src_user, PASSWORD)
        dst.add_user(dst_user, PASSWORD)
        load_layout(src, src_user)
        state = os.path.join(self.tmp.name, f"state-{n}.db")
        args = self.push_args("migrate", src.url("imaps", src_user), src, dst, dst_user, state)
        report = self.mf(args)
        self.assertEqual(report["totals"]["fetched"], sum(map(len, LAYOUT.values())))
        self.assertEqual(self.mf(args)["totals"]["fetched"], 0, "a migrate rerun copied again")
        return mailbox_content(src, src_user), mailbox_content(dst, dst_user)

    def check_migrations(self, pairs, names_too):
        for source_name, target_name in pairs:
            with self.subTest(source=source_name, target=target_name):
                src, dst = self.migrate(source_name, target_name)
                self.assertEqual(sorted(src), sorted(LAYOUT))
                # Every message once, with its flags (wherever it landed)...
                self.assertEqual(flattened(dst), flattened(src))
                if names_too:
                    # ... and in the folder of the same name.
                    self.assertEqual(dst, src)

    def test_migrate_copies_every_message_once(self):
        self.check_migrations(self.migrations + (self.long_migrations if LONG else ()), names_too=False)

    def test_migrate_keeps_folder_names(self):
        self.check_migrations(self.migrations + (self.long_migrations if LONG else ()), names_too=True)


class CyrusTest(_Scenarios, unittest.TestCase):
    server_class = Cyrus
    migrations = (("dovecot", "self"),)
    long_migrations = (("self", "dovecot"), ("self", "other"))


@unittest.skipUnless(LONG, "Cyrus with Debian's INBOX. namespace: MAILFERRY_LONG=1")
class CyrusInboxNamespaceTest(_Scenarios, unittest.TestCase):
    server_class = Cyrus
    server_args = {"inbox_namespace": True}
    migrations = (("self", "dovecot"), ("dovecot", "self"))


class CourierTest(_Scenarios, unittest.TestCase):
    server_class = Courier
    # To Dovecot the prefix "INBOX." comes off (INBOX.Sent is Sent there);
    # from Dovecot it goes on.
    migrations = (("self", "dovecot"), ("dovecot", "self"))

    def test_an_archive_without_a_recorded_prefix_still_restores(self):
        # An archive made before the prefix was recorded: restored with the
        # names it holds; its next backup records the prefix, no new download.
        load_layout(self.srv, self.user)
        self.backup()
        with sqlite3.connect(os.path.join(self.archive, ".mailferry", "state.db")) as db:
            self.assertEqual(db.execute("DELETE FROM meta WHERE key='personal_prefix'").rowcount, 1)
        db.close()
        as_held, renamed = "o" + self.user, "n" + self.user
        for user in (as_held, renamed):
            self.dovecot.add_user(user, PASSWORD)
        self.mf(self.push_args("restore", self.archive, None, self.dovecot, as_held, None))
        self.assertEqual(sorted(mailbox_content(self.dovecot, as_held)),
                         sorted(self.archive_name(f) for f in LAYOUT))
        self.assertEqual(self.backup()["totals"]["fetched"], 0)
        self.mf(self.push_args("restore", self.archive, None, self.dovecot, renamed, None))
        self.assertEqual(mailbox_content(self.dovecot, renamed), mailbox_content(self.srv, self.user))


if __name__ == "__main__":
    unittest.main()
