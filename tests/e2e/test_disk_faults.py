"""Disks that fail: the archive on a 1 MiB tmpfs that fills up mid-run, and
write, fsync, syncfs and rename errors injected into single
system calls with strace (-e inject=SYSCALL:error=ERRNO:when=N, the N-th call
found by a probe run traced with -y).

Each case must end with a clear error naming the problem and a non-zero
exit; no zero-byte or truncated message may be in the archive (every Maildir
file and every indexed mbox message equals the server's, and an mbox ends
where its last good message ends); the state must not advance past what is
on disk, so a rerun after the fault fetches exactly what is missing; and a
POP3 server keeps every message when --delete-after-download meets a disk
error. Needs root for mount (the tmpfs cases are skipped otherwise) and
strace for injection."""

import collections
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from mfharness import Dovecot, make_message
from mfrun import assert_sane_exit, mbox_messages, run_measured

PASSWORD = "Disk-Canary-9c3a"
NO_SPACE = "No space left on device|database or disk is full"
IO_ERROR = "Input/output error|disk I/O error"


def can_mount() -> bool:
    d = tempfile.mkdtemp()
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d], check=True)
        return ok
    except OSError:
        return False
    finally:
        os.rmdir(d)


MOUNT_OK = os.geteuid() == 0 and can_mount()
STRACE = shutil.which("strace")


@contextlib.contextmanager
def small_fs(size="1m"):
    d = tempfile.mkdtemp(prefix="mfdisk-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", d], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", d])
        os.rmdir(d)


def grow(mountpoint, size="64m"):
    subprocess.run(["mount", "-o", f"remount,size={size}", mountpoint], check=True)


class _DiskBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot().start()

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.user = f"d{random.randrange(10**9)}"
        self.dovecot.add_user(self.user, PASSWORD)

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, count, size):
        msgs = [make_message(i, size=size, subject=f"Disk {i}") for i in range(count)]
        self.dovecot.save_many(self.user, "INBOX", msgs)
        return msgs

    def backup(self, archive, *extra, scheme="imaps", argv0=(), env=None):
        d = self.dovecot
        if argv0 and argv0[0] == "strace":
            # LeakSanitizer cannot run under ptrace (a sanitizer build would fail).
            opts = os.environ.get("ASAN_OPTIONS", "")
            env = dict(env or {}, ASAN_OPTIONS=(opts + ":" if opts else "") + "detect_leaks=0")
        return run_measured(["backup", d.url(scheme, self.user), archive, "--cacert", d.cacert,
                             "--password-env", "MF_TEST_PASSWORD", *extra],
                            password=PASSWORD, argv0=argv0, env=env, timeout=120)

    def held(self, archive, fmt, tmp_clean=True):
        """UID/UIDL -> message, after checking nothing partial is visible."""
        server = self.dovecot.fetch_all(self.user, "INBOX")
        if fmt == "mbox":
            path = os.path.join(archive, "INBOX.mbox")
            if not os.path.exists(path):
                return {}
            held, end = mbox_messages(path)
            self.assertEqual(os.path.getsize(path), end, "the mbox was not rolled back to its last good message")
            for uid, data in held.items():
                self.assertEqual(data, server[uid], f"UID {uid} is truncated or wrong")
            return held
        if tmp_clean:
            self.assertEqual(tmp_files(archive), [], "tmp/ files left behind")
        dirs = folder_dirs(archive)
        if "INBOX" not in dirs:
            return {}
        held = read_maildir(dirs["INBOX"])
        bodies = collections.Counter(server.values()) if server else None
        for uid, m in held.items():
            self.assertGreater(len(m["data"]), 0, f"zero-byte message {m['name']}")
            if isinstance(uid, int) and server:
                self.assertEqual(m["data"], server[uid], f"UID {uid} is truncated or wrong")
            elif bodies is not None:
                self.assertIn(m["data"], bodies, f"{m['name']} is truncated or wrong")
        return held

    def assert_failed(self, r, problem):
        assert_sane_exit(self, r)
        self.assertNotEqual(r.returncode, 0, r.output)
        self.assertRegex(r.stderr, problem)
        self.assertNotIn(PASSWORD, r.output)

    def assert_rerun_fetches_exactly_the_rest(self, archive, fmt, total, held_before, scheme="imaps"):
        r = self.backup(archive, "--format", fmt, "--json", scheme=scheme)
        self.assertEqual(r.returncode, 0, r.output)
        self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], total - held_before,
                         "the rerun did not fetch exactly what was missing")
        self.assertEqual(len(self.held(archive, fmt)), total)


@unittest.skipUnless(MOUNT_OK, "needs root and permission to mount a tmpfs")
class DiskFullTest(_DiskBase):
    def test_mbox(self):
        msgs = self.load(20, 60_000)
        with small_fs("1m") as fs:
            archive = os.path.join(fs, "archive")
            r = self.backup(archive, "--format", "mbox")
            self.assert_failed(r, NO_SPACE)
            held = self.held(archive, "mbox")
            self.assertLess(len(held), len(msgs))
            grow(fs)
            self.assert_rerun_fetches_exactly_the_rest(archive, "mbox", len(msgs), len(held))

    def test_maildir(self):
        msgs = self.load(20, 60_000)
        with small_fs("1m") as fs:
            archive = os.path.join(fs, "archive")
            r = self.backup(archive)
            self.assert_failed(r, NO_SPACE)
            held = self.held(archive, "maildir")
            self.assertLess(len(held), len(msgs))
            grow(fs)
            self.assert_rerun_fetches_exactly_the_rest(archive, "maildir", len(msgs), len(held))

    def test_pop3_delete_after_download_deletes_nothing(self):
        msgs = self.load(20, 60_000)
        with small_fs("1m") as fs:
            archive = os.path.join(fs, "archive")
            r = self.backup(archive, "--delete-after-download", scheme="pop3s")
            self.assert_failed(r, NO_SPACE)
            self.assertEqual(self.dovecot.count(self.user, "INBOX"), len(msgs), "deleted after a disk error")
            held = self.held(archive, "maildir")
            grow(fs)
            r = self.backup(archive, "--delete-after-download", "--json", scheme="pop3s")
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(json.loads(r.stdout)["totals"]["fetched"], len(msgs) - len(held))
            self.assertEqual(collections.Counter(m["data"] for m in self.held(archive, "maildir").values()),
                             collections.Counter(msgs))
            self.assertEqual(self.dovecot.count(self.user, "INBOX"), 0)

    def test_full_before_anything_is_written(self):
        self.load(3, 2_000)
        with small_fs("256k") as fs:
            fd = os.open(os.path.join(fs, "filler"), os.O_WRONLY | os.O_CREAT)
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"x" * 4096)
            os.close(fd)
            archive = os.path.join(fs, "archive")
            for fmt in ("maildir", "mbox"):
                with self.subTest(fmt=fmt):
                    r = self.backup(archive + fmt, "--format", fmt)
                    self.assert_failed(r, NO_SPACE)
                    self.assertEqual(r.returncode, 8, "a full disk is a local disk error (exit 8)")
            os.unlink(os.path.join(fs, "filler"))
            r = self.backup(archive + "maildir")
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(len(self.held(archive + "maildir", "maildir")), 3)


@unittest.skipUnless(STRACE, "needs strace for fault injection")
class InjectedErrorsTest(_DiskBase):
    """One failing system call at a chosen point of an otherwise good run."""

    TRACED = "write,pwrite64,rename,renameat,renameat2,linkat,fsync,fdatasync,syncfs,ftruncate"
    # Maildir messages are written as unnamed files and linked into cur/;
    # with this test hook, as named files in tmp/ renamed into cur/.
    NAMED = {"MAILFERRY_TEST_NAMED_TEMP_FILES": "1"}

    def nth_call(self, scheme, fmt, syscall, path_regex, nth=1, after=None, env=None):
        """Which invocation of `syscall` (counted from 1, in the main
        thread, as strace's when= counts) is the nth one on a path matching
        path_regex (and after a traced call matching `after`), in a clean
        run on a fresh archive."""
        probe = os.path.join(self.tmp.name, "probe")
        trace = os.path.join(self.tmp.name, "trace")
        r = self.backup(probe, "--format", fmt, "--quiet", scheme=scheme, env=env,
                        argv0=["strace", "-f", "-qq", "-y", "-o", trace, "-e", "trace=" + self.TRACED])
        self.assertEqual(r.returncode, 0, r.output)
        shutil.rmtree(probe)
        main_pid, count, found, armed = None, 0, 0, after is None
        with open(trace, errors="replace") as f:
            for line in f:
                m = re.match(r"(\d+)\s+(\w+)\((.*)", line)
                if not m:
                    continue
                pid, name, args = m.groups()
                main_pid = main_pid or pid
                if pid != main_pid:
                    continue
                armed = armed or bool(re.search(after, line))
                if name != syscall:
                    continue
                count += 1
                if armed and re.search(path_regex, args):
                    found += 1
                    if found == nth:
                        return count
        self.fail(f"no call {nth} of {syscall} on {path_regex} in a clean run")

    def inject(self, syscall, errno_name, path_regex, nth=1, fmt="maildir", scheme="imaps", extra=(),
               count=6, problem=None, after=None, env=None):
        msgs = self.load(count, 20_000)
        # The probe runs without `extra`: --delete-after-download would empty
        # the server; the calls before the fault are the same either way.
        when = self.nth_call(scheme, fmt, syscall, path_regex, nth, after, env)
        archive = os.path.join(self.tmp.name, "archive")
        # --quiet in both runs: progress lines on stderr are write() calls too.
        r = self.backup(archive, "--format", fmt, "--quiet", *extra, scheme=scheme, env=env,
                        argv0=["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + syscall,
                               "-e", f"inject={syscall}:error={errno_name}:when={when}"])
        self.assert_failed(r, problem or (NO_SPACE if errno_name == "ENOSPC" else IO_ERROR))
        # A failed commit may leave whole, unrecorded files in tmp/ (never
        # visible to a mail reader); the rerun's scan removes them.
        return msgs, archive, self.held(archive, fmt, tmp_clean=False)

    def check(self, syscall, errno_name, path_regex, nth=1, fmt="maildir", problem=None, stops=True, env=None):
        msgs, archive, held = self.inject(syscall, errno_name, path_regex, nth, fmt, problem=problem, env=env)
        if stops:
            self.assertLess(len(held), len(msgs), "the fault did not stop anything")
        self.assert_rerun_fetches_exactly_the_rest(archive, fmt, len(msgs), len(held))

    def test_maildir_write_enospc(self):
        self.check("write", "ENOSPC", r"/INBOX/tmp/", nth=3)

    def test_maildir_write_enospc_named_files(self):
        self.check("write", "ENOSPC", r"/INBOX/tmp/", nth=3, env=self.NAMED)

    def test_maildir_syncfs_eio(self):
        self.check("syncfs", "EIO", r"/INBOX/tmp")

    def test_maildir_failed_sync_is_not_retried_in_the_run(self):
        # The first batch (256 messages) fails to sync in the middle of the
        # fetch; the run's closing commit must not try again: the kernel
        # reports a write-back error once, so a second syncfs could pass
        # and record what never reached the disk.
        msgs, archive, held = self.inject("syncfs", "EIO", r"/INBOX/tmp", count=300)
        self.assertEqual(held, {})
        self.assert_rerun_fetches_exactly_the_rest(archive, "maildir", len(msgs), 0)

    def test_maildir_rename_eio(self):
        self.check("rename", "EIO", r"/INBOX/tmp/", nth=2, env=self.NAMED)

    def test_maildir_link_eio(self):
        self.check("linkat", "EIO", r"/INBOX/cur/", nth=2)

    def test_maildir_directory_fsync_eio(self):
        # The files are already renamed into cur/ when the directory's fsync
        # fails; the state is not committed, the rerun adopts them by name.
        self.check("fsync", "EIO", r"/INBOX/cur", stops=False, env=self.NAMED)

    def test_maildir_sync_after_linking_eio(self):
        # Linked files are made durable with a second syncfs (their link
        # count too, which a file system without a journal writes only with
        # the inode); when it fails, the same as a failed directory fsync.
        self.check("syncfs", "EIO", r"/INBOX/tmp", nth=2, stops=False)

    def test_state_database_write_enospc(self):
        # The commit that records the batch: the files are in cur/, the
        # database cannot record them; the rerun adopts them by name. (The
        # database runs synchronous=NORMAL in WAL mode, so a commit is a WAL
        # write without fdatasync; the first fdatasync is the checkpoint's.)
        msgs, archive, held = self.inject("pwrite64", "ENOSPC", r"state\.db-wal>", after=r"(rename|linkat)\(.*/cur/",
                                          problem="disk is full")
        self.assertEqual(len(held), len(msgs))
        self.assert_rerun_fetches_exactly_the_rest(archive, "maildir", len(msgs), len(held))

    def test_mbox_write_enospc(self):
        self.check("pwrite64", "ENOSPC", r"INBOX\.mbox>", nth=3, fmt="mbox")

    def test_mbox_fsync_eio(self):
        self.check("fsync", "EIO", r"INBOX\.mbox>", fmt="mbox")

    def test_mbox_index_write_enospc(self):
        self.check("write", "ENOSPC", r"INBOX\.mbox\.mfindex>", fmt="mbox")

    def test_pop3_delete_after_download_keeps_everything_on_a_sync_error(self):
        msgs, archive, held = self.inject("syncfs", "EIO", r"/INBOX/tmp", scheme="pop3s",
                                          extra=["--delete-after-download"])
        self.assertEqual(self.dovecot.count(self.user, "INBOX"), len(msgs), "deleted after a disk error")


@unittest.skipUnless(shutil.which("prlimit"), "needs prlimit")
class FileSizeLimitTest(_DiskBase):
    """`ulimit -f` (RLIMIT_FSIZE) below a message's size: the kernel sends
    SIGXFSZ, whose default action kills the process."""

    def limited(self, fmt):
        msgs = self.load(4, 100_000)
        archive = os.path.join(self.tmp.name, "archive")
        # Maildir files are one message each: a limit below one message's size.
        limit = 150_000 if fmt == "mbox" else 60_000
        r = self.backup(archive, "--format", fmt, argv0=["prlimit", f"--fsize={limit}"])
        return msgs, archive, r

    def rerun_completes(self, fmt):
        msgs, archive, r = self.limited(fmt)
        self.assertNotEqual(r.returncode, 0, "the limit was never hit")
        r = self.backup(archive, "--format", fmt)
        assert_sane_exit(self, r, allowed=[0])
        self.assertEqual(len(self.held(archive, fmt)), len(msgs))

    def test_maildir_rerun_after_the_limit_is_lifted_completes(self):
        self.rerun_completes("maildir")

    # A killed run leaves its dotlock; the PID in it is dead, so the rerun
    # takes it over at once instead of waiting out the 5-minute staleness.
    def test_mbox_rerun_after_the_limit_is_lifted_completes(self):
        self.rerun_completes("mbox")

    # Defect (cli/main.cpp, not owned by this suite): SIGXFSZ is not ignored,
    # so a file size limit kills mailferry (exit by signal 25, no message)
    # instead of failing the write with EFBIG and reporting a disk error.
    def test_file_size_limit_is_a_clear_disk_error(self):
        msgs, archive, r = self.limited("mbox")
        assert_sane_exit(self, r)
        self.assertEqual(r.returncode, 8, r.output)
        self.assertIn("File too large", r.stderr)
        self.held(archive, "mbox")


if __name__ == "__main__":
    unittest.main()
