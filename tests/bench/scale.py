#!/usr/bin/env python3
"""mailferry at scale (issue 23): one folder of N small messages (default
1 000 000, 2-4 KB each): first backup, no-op rerun and rerun after 100 new,
with wall time, CPU and peak RSS of each (bench.py's launcher and wait4).

    python3 tests/bench/scale.py [--messages N] [--keep]

As root. The messages are written straight into the server's Maildir
(tmpfs), not through doveadm, which would take an hour for a million: each
is a file in INBOX's cur/ with a unique Message-ID, and Dovecot numbers them
when the first client looks (timed apart, as "server indexing", and not
counted against mailferry). After the no-op, the server's own time for the
no-op's LIST-STATUS is printed, and for the same STATUS sent before any
LIST. The archive goes to the work directory (the disk). It is a benchmark,
not a test: nothing is asserted; the exit status is 1 if a run failed or the
archive does not hold every message once.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)

import bench  # noqa: E402
import mfharness as h  # noqa: E402

PASSWORD = bench.PASSWORD


def message(i: int) -> bytes:
    body = (f"Scale message {i}. " * (40 + i % 80)).encode()
    return (f"From: a{i % 97}@example.org\r\nTo: b@example.net\r\nSubject: scale {i}\r\n"
            f"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <scale-{i}@mailferry.test>\r\n\r\n"
            ).encode() + body + b"\r\n"


def fill_folder(dc: h.Dovecot, user: str, folder: str, n: int) -> int:
    """Writes n messages into the folder's cur/ (the bench's Dovecot keeps
    INBOX in the user's directory, other folders in subdirectories);
    returns their bytes."""
    base = os.path.join(dc.tmp, "mail", user, *([] if folder == "INBOX" else [folder]))
    cur = os.path.join(base, "cur")
    os.makedirs(cur, exist_ok=True)
    for sub in ("new", "tmp"):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    total = 0
    t = int(time.time())
    for i in range(n):
        data = message(i)
        with open(os.path.join(cur, f"{t}.M{i}P1.scale,S={len(data)}:2,S"), "wb") as f:
            f.write(data)
        total += len(data)
    uid, gid = h._ids(h.MAIL_USER)
    for root, dirs, files in os.walk(os.path.join(dc.tmp, "mail", user)):
        os.chown(root, uid, gid)
        for name in files:
            os.chown(os.path.join(root, name), uid, gid)
    return total


# What mailferry's no-op asks (cli's LIST-STATUS), and the same items by a
# STATUS sent before any LIST.
LIST_STATUS = 'LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))'
STATUS_FIRST = "STATUS {} (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"


def server_seconds(dc: h.Dovecot, user: str, command: str) -> float:
    """Dovecot's own time for one command (the first figure of its tagged
    reply) in a fresh preauthenticated imap process: no TLS, login or
    client in it, so the figure is the server's share of a no-op."""
    out = dc.doveadm("exec", "imap", "-u", user,
                     input=f"t1 {command}\r\nt2 LOGOUT\r\n".encode()).stdout.decode()
    m = re.search(r"^t1 OK .*\(([0-9.]+) \+", out, re.M)
    if not m:
        raise h.HarnessError(f"no timed reply to {command!r}:\n{out[-500:]}")
    return float(m.group(1))


def print_server_share(dc: h.Dovecot, user: str, folder: str) -> None:
    """A LIST-STATUS that names INBOX makes Dovecot (maildir, with its
    mailbox list index on, the default) ask for INBOX's GUID, which maildir
    keeps in dovecot-uidlist: the whole file is read, a line a message. The
    same STATUS sent before any LIST reads only the index header."""
    listed = server_seconds(dc, user, LIST_STATUS)
    alone = server_seconds(dc, user, STATUS_FIRST.format(h.imap_mailbox(folder)))
    print(f"  server: LIST-STATUS {listed:.3f} s, STATUS before any LIST {alone:.3f} s", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (archive, logs)")
    ap.add_argument("--folder", default="INBOX",
                    help="the folder that holds them (default INBOX, which Dovecot's maildir "
                         "reads its dovecot-uidlist for at every LIST-STATUS; see print_server_share)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="mfscale-")
    bench.LAUNCHER = bench.build_launcher(work)
    binary = os.path.join(work, "mailferry.bin")
    shutil.copy2(h.mailferry_path(), binary)
    # Dovecot's processes may use 256 MB of address space by default; the
    # imap process of a folder of a million messages needs more for its
    # index (it is killed, and the client sees the connection close).
    dc = bench.start_dovecot_in("/dev/shm", "default_vsz_limit = 2G\n")
    failed = False
    try:
        dc.add_user("scale", PASSWORD)
        t0 = time.monotonic()
        size = fill_folder(dc, "scale", args.folder, args.messages)
        print(f"{args.messages} messages, {size / 1e6:.0f} MB, written in {time.monotonic() - t0:.0f} s")
        t0 = time.monotonic()
        status = dc.status("scale", args.folder)
        print(f"server indexing: {time.monotonic() - t0:.0f} s ({status})")
        archive = os.path.join(work, "archive")
        argv = [binary, "backup", dc.url("imaps", "scale"), archive, "--cacert", dc.cacert,
                "--password-env", "MFBENCH_PASSWORD", "-q"]
        env = dict(os.environ, MFBENCH_PASSWORD=PASSWORD)
        print(f"{'step':8s} {'wall s':>8s} {'CPU s':>7s} {'RSS MB':>7s}")
        # A second no-op: the first after a full backup may pay for the
        # server refreshing what the backup changed in its indexes.
        for step in ("full", "noop", "noop2", "add100"):
            if step == "add100":
                dc.save_many("scale", args.folder, [message(args.messages + k) for k in range(100)])
            m = bench.run_measured(argv, env=env, cwd=work, timeout=7200,
                                   log_prefix=os.path.join(work, step))
            print(f"{step:8s} {m.wall:8.2f} {m.cpu:7.2f} {m.rss_mb:7.1f}  exit {m.rc}", flush=True)
            if m.rc != 0:
                print("  " + (m.stderr.strip().splitlines() or [""])[-1], flush=True)
            failed |= m.rc != 0
            if step == "noop":
                print_server_share(dc, "scale", args.folder)
        held = sum(len(files) for _, _, files in os.walk(os.path.join(archive, args.folder)))
        want = args.messages + 100
        print(f"archive: {held} files for {want} messages" + ("" if held == want else "  MISMATCH"))
        failed |= held != want
    finally:
        dc.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
