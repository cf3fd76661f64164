#!/usr/bin/env python3
"""mailferry benchmark: mailferry against mbsync, mpop and fetchmail (issue 8).

Usage (as root, from a checkout with mailferry built):

    python3 tests/bench/bench.py [--messages N]      # default 10000 (~280 MB)
                                 [--folders F]       # default 5
                                 [--only mailferry,mbsync,...]
                                 [--delay-ms D]      # default 0: no slow-link run
                                 [--rate-mbit R]     # with --delay-ms: also a bandwidth cap
                                 [--no-condstore]    # a server like Exchange's (see below)
                                 [--keep]            # keep the work directory
    python3 tests/bench/bench.py --gmail [--messages N]   # the Gmail-like row alone (gmail_bench.py)

    python3 tests/bench/bench.py --messages 1000     # quick smoke run
    python3 tests/bench/bench.py --delay-ms 20 --only mailferry,mbsync --messages 2000
    python3 tests/bench/bench.py --delay-ms 25 --rate-mbit 20 --only mailferry,mbsync --messages 1000

It starts its own throwaway Dovecot (tests/e2e/mfharness.py), loads a
deterministic corpus (fixed seed: N messages over F folders, INBOX gets half,
nested "Work/Projects" and non-ASCII "Reçus", sizes 1 KB .. a few MB with a
long tail, average ~28 KB, a few multi-MB base64 attachments, 40% unread,
10% flagged) into one account and clones that account on disk, so that each
tool backs up its own account with identical content and no tool can disturb
another (POP3 clients that mark mail read, the 100 messages added for the
third step).

Tools (names for --only; a name also selects the names that start with it
and a dash, so "mailferry" selects all three mailferry runs, "mbsync" both):

    cp              cp -r of the server's own Maildir (the floor; full only)
    mailferry       mailferry backup imaps://... (Maildir)
    mailferry-mbox  mailferry backup --format mbox (skipped if not available)
    mbsync-fsync    mbsync, FSync yes (its default)
    mbsync-nofsync  mbsync, FSync no
    mailferry-pop3  mailferry backup pop3s://... (INBOX only)
    mpop            mpop, keep on, delivery maildir
    fetchmail       fetchmail --keep, UIDL, --bsmtp into a file

For each tool, steps: full backup, no-op rerun, rerun after 100 new messages
(added to INBOX of that tool's account).  Each step records wall time, user+sys
CPU of the tool's process tree (wait4), its peak RSS (wait4's ru_maxrss: the
largest single process of the tree), the Dovecot server's CPU during the run,
bytes on disk of the result (du), messages verified against the server (every
message found once, in the right folder, with the server's size after LF ->
CRLF; a sample of ~20 bodies compared byte for byte with what the server sends)
and the server's unseen count before -> after.  os.sync() runs before every
step so nobody pays for another's dirty pages.

With --delay-ms D > 0 a second section runs mailferry and mbsync (both FSync
settings) through a TCP proxy that adds D ms each way (delayproxy.c, compiled
at start; a Python one in this file if that fails), on fresh clones.  If
`mailferry --help` lists `restore`, an upload comparison (mailferry restore vs
mbsync Maildir -> IMAP push) runs too, each from its archive read cold (both
dropped from the page cache first).

With --no-condstore the bench's Dovecot offers neither CONDSTORE (nor
QRESYNC), LIST-STATUS nor ESEARCH (nor ESORT, CONTEXT=SEARCH), as Exchange
and Office 365 do not: what a no-op and +100 cost there.  Before each
no-op, every account's folders are SELECTed once, as its owner's mail
client does in the field, which takes Dovecot's \\Recent flag off (see
owner_reads).

With --rate-mbit R as well, the proxy is also a link of R Mbit/s each way
(a token bucket shared by the connections, and a queue of one
bandwidth-delay product), the bench's Dovecot offers COMPRESS=DEFLATE
(imap_zlib), as it would in the field, and the slow section adds
mailferry --no-compress.  Each slow row then shows the wire bytes both ways,
the turns (round trips, an upper bound; in all and on the busiest
connection), and the wall time the link allows: the larger direction's
bytes ÷ R + the busiest connection's turns × RTT (connections wait side by
side).  Under it, each connection of the full backup: when it ran, what it
moved.  The proxy's own CPU is printed to show the link, not the proxy, was
the limit.  With --rate-mbit, restore also runs through the shaped link
(mailferry restore against mbsync's push), with its wire bytes.

It is a benchmark, not a test: nothing is asserted about time.  The exit
status is 1 only if a tool crashed (unexpected exit status) or its result
failed verification; 2 for a setup problem.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import datetime as _dt
import os
import platform
import queue
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import mfharness as h  # noqa: E402

SEED = 20240801
PASSWORD = "bench-pw-4711"
AVG_SIZE = 28_000
BASE_DATE = _dt.datetime(2021, 1, 1, 8, 0, 0, tzinfo=_dt.timezone.utc)
FOLDER_NAMES = ["INBOX", "Work", "Work/Projects", "Reçus", "Sent",
                "Lists/dev", "Lists/users", "Archive"]
ADDED = 100
SAMPLE = 20

STEPS = ["full", "noop", "add100"]
ALL_TOOLS = ["cp", "mailferry", "mailferry-before", "mailferry-1conn", "mailferry-nocompress", "mailferry-mbox",
             "mbsync-fsync", "mbsync-nofsync",
             "mailferry-pop3", "mpop", "fetchmail"]
APT_PACKAGE = {"mbsync": "isync", "mpop": "mpop", "fetchmail": "fetchmail"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# corpus

def folder_list(n: int) -> list[str]:
    names = list(FOLDER_NAMES[:n])
    k = 2
    while len(names) < n:
        names.append(f"Archive/{2000 + k}")
        k += 1
    return names


def plan_sizes(rng: random.Random, n: int) -> tuple[list[int], set[int]]:
    """n message sizes: a lognormal long tail (1 KB .. 1.5 MB) plus a few
    2-5 MB attachments, scaled so that the mean is about AVG_SIZE."""
    n_att = min(n, max(2, round(n / 2000)))
    att_idx = set(rng.sample(range(n), n_att))
    sizes = [0] * n
    att_total = 0
    for i in att_idx:
        sizes[i] = rng.randint(2_000_000, 5_000_000)
        att_total += sizes[i]
    regular = [i for i in range(n) if i not in att_idx]
    raw = {i: min(1_500_000, max(1024, rng.lognormvariate(9.1, 1.25))) for i in regular}
    want = max(AVG_SIZE * n - att_total, 1024 * len(regular))
    for _ in range(4):            # rescale and clip again until it settles
        scale = want / max(1, sum(raw.values()))
        raw = {i: min(1_500_000, max(1024, v * scale)) for i, v in raw.items()}
    for i in regular:
        sizes[i] = int(raw[i])
    return sizes, att_idx


def msg_date(i: int) -> _dt.datetime:
    return BASE_DATE + _dt.timedelta(hours=i)


def build_message(i: int, size: int, attachment: bool, rng: random.Random) -> bytes:
    """Message number i, exactly `size` bytes, Date header = msg_date(i)."""
    date = msg_date(i)
    if attachment:
        n_lines = max(1, (size - 2000) // 78)
        blob = base64.b64encode(rng.randbytes(n_lines * 57)).decode()
        lines = ["Please find the report attached (base64 below).", ""]
        lines += [blob[k:k + 76] for k in range(0, len(blob), 76)]
        return h.make_message(i, size=size, subject=f"Report {i} with attachment",
                              body_lines=lines, date=date)
    r = rng.random()
    if r < 0.02:       # lines that trip naive mbox / POP3 / IMAP code
        return h.make_message(i, size=size, subject=f"Tricky lines {i}",
                              body_lines=list(h.TRICKY_LINES), date=date)
    if r < 0.07:       # 8-bit UTF-8 body and an encoded subject
        return h.make_message(i, size=size, subject=f"Grüße Nr. {i} — café",
                              body_lines=["Schöne Grüße aus Köln, naïve café, 日本語.", ""],
                              date=date)
    return h.make_message(i, size=size, date=date)


def make_flags(rng: random.Random) -> frozenset:
    flags = set()
    if rng.random() >= 0.40:
        flags.add("\\Seen")
        if rng.random() < 0.08:
            flags.add("\\Answered")
    if rng.random() < 0.10:
        flags.add("\\Flagged")
    return frozenset(flags)


def corpus_plan(n: int, n_folders: int) -> list[tuple[str, list[int]]]:
    """folder -> message numbers (1-based): INBOX half, the rest evenly."""
    folders = folder_list(n_folders)
    rng = random.Random(SEED)
    numbers = list(range(1, n + 1))
    rng.shuffle(numbers)
    inbox = n // 2 if len(folders) > 1 else n
    out = [("INBOX", sorted(numbers[:inbox]))]
    rest = numbers[inbox:]
    others = folders[1:]
    for k, name in enumerate(others):
        out.append((name, sorted(rest[k::len(others)])))
    return out


def load_corpus(dc: h.Dovecot, user: str, n: int, n_folders: int) -> dict:
    rng = random.Random(SEED + 1)
    sizes, att = plan_sizes(rng, n)
    flags = [make_flags(rng) for _ in range(n)]
    stats = {"bytes": 0, "unread": 0, "flagged": 0, "attachments": len(att),
             "max": max(sizes) if sizes else 0, "folders": {}}
    for folder, numbers in corpus_plan(n, n_folders):
        dc.create_folder(user, folder)
        batch, batch_bytes = [], 0
        for i in numbers:
            data = build_message(i, sizes[i - 1], (i - 1) in att, random.Random(SEED * 7 + i))
            m = h.Message(data, flags[i - 1], msg_date(i))
            batch.append(m)
            batch_bytes += len(data)
            stats["bytes"] += len(data)
            stats["unread"] += "\\Seen" not in m.flags
            stats["flagged"] += "\\Flagged" in m.flags
            if batch_bytes > 48 << 20:
                dc.save_many(user, folder, batch)
                batch, batch_bytes = [], 0
        if batch:
            dc.save_many(user, folder, batch)
        stats["folders"][folder] = len(numbers)
    return stats


def added_messages(n: int) -> list:
    rng = random.Random(SEED + 2)
    out = []
    for k in range(ADDED):
        i = n + 1 + k
        size = int(min(200_000, max(1024, rng.lognormvariate(9.1, 1.0))))
        out.append(h.Message(build_message(i, size, False, random.Random(SEED * 7 + i)),
                             make_flags(rng), msg_date(i)))
    return out


def clone_user(dc: h.Dovecot, src: str, dst: str) -> None:
    """A second account with the same mail: copy the Maildir (indexes,
    UIDVALIDITY and all) before anyone logs in as dst."""
    dc.add_user(dst, PASSWORD)
    d = os.path.join(dc.tmp, "mail", dst)
    if os.path.exists(d):
        shutil.rmtree(d)
    subprocess.run(["cp", "-a", os.path.join(dc.tmp, "mail", src), d], check=True)


# ---------------------------------------------------------------------------
# looking at the server

def server_index(dc: h.Dovecot, user: str, folders: list[str]) -> dict:
    """folder -> {Message-ID: (uid, size)}."""
    out = {}
    with dc.imap_session(user) as imap:
        for folder in folders:
            typ, _ = imap.select(h.imap_mailbox(folder), readonly=True)
            if typ != "OK":
                raise h.HarnessError(f"EXAMINE {folder} failed")
            typ, data = imap.uid("FETCH", "1:*",
                                 "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            idx = {}
            for item in data or []:
                if not isinstance(item, tuple):
                    continue
                uid = re.search(rb"\bUID (\d+)", item[0])
                size = re.search(rb"\bRFC822\.SIZE (\d+)", item[0])
                mid = re.search(rb"<[^>\s]+>", item[1])
                if uid and size and mid:
                    idx[mid.group(0)] = (int(uid.group(1)), int(size.group(1)))
            out[folder] = idx
    return out


def server_bodies(dc: h.Dovecot, user: str, folder: str, uids: list[int]) -> dict[int, bytes]:
    if not uids:
        return {}
    with dc.imap_session(user) as imap:
        imap.select(h.imap_mailbox(folder), readonly=True)
        typ, data = imap.uid("FETCH", ",".join(map(str, uids)), "(BODY.PEEK[])")
    out = {}
    for item in data or []:
        if isinstance(item, tuple):
            uid = re.search(rb"\bUID (\d+)", item[0])
            if uid:
                out[int(uid.group(1))] = item[1]
    return out


def unseen_total(dc: h.Dovecot, user: str, folders: list[str]) -> int:
    rows = dc._doveadm_table("mailbox", "status", "-u", user, "unseen", *folders)
    return sum(int(r["unseen"]) for r in rows)


def dovecot_cpu(dc: h.Dovecot) -> float:
    """CPU seconds used so far by the server's process group (live processes
    plus the children they reaped)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == dc.pid:
            total += sum(int(x) for x in fields[11:15])   # utime stime cutime cstime
    return total / tick


# ---------------------------------------------------------------------------
# reading archives back

MID_RE = re.compile(rb"^Message-ID:[ \t]*(<[^>\s]+>)", re.I | re.M)


def _mid(data: bytes) -> bytes | None:
    end = data.find(b"\n\n")
    end2 = data.find(b"\r\n\r\n")
    cut = min(x for x in (end, end2, len(data)) if x >= 0)
    m = MID_RE.search(data, 0, cut)
    return m.group(1) if m else None


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def crlf_size(data: bytes) -> int:
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


class Entry:
    __slots__ = ("folder", "mid", "size", "loader")

    def __init__(self, folder, mid, size, loader):
        self.folder, self.mid, self.size, self.loader = folder, mid, size, loader


def header_end(msg: bytes) -> int:
    end = msg.find(b"\r\n\r\n")
    return len(msg) if end < 0 else end + 2


def strip_xtuid(msg: bytes) -> bytes:
    """mbsync adds an "X-TUID: <12 chars>" header to what it stores."""
    end = header_end(msg)
    m = re.search(rb"^X-TUID: [^\r\n]*\r\n", msg[:end], re.M)
    return msg if not m else msg[:m.start()] + msg[m.end():]


def normalize(data: bytes, strip=None) -> bytes:
    """A stored message as the server would send it: CRLF line ends, minus
    the header the tool adds (strip)."""
    if b"\n" in data and b"\r\n" not in data[:4096]:
        data = crlf(data)
    return strip(data) if strip else data


def scan_maildir(root: str, strip=None) -> list[Entry]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = os.path.basename(dirpath)
        if base not in ("cur", "new"):
            continue
        key = os.path.relpath(os.path.dirname(dirpath), root)
        key = "" if key == "." else key
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                data = f.read()
            if strip is None and b"\r\n" in data[:4096]:
                size = crlf_size(data)          # no copy needed
            else:
                size = len(normalize(data, strip))
            out.append(Entry(key, _mid(data), size,
                             lambda p=path: normalize(open(p, "rb").read(), strip)))
    return out


FROM_LINE = re.compile(rb"^From ", re.M)
UNQUOTE = re.compile(rb"^>(>*From )", re.M)


def scan_mbox(root: str) -> list[Entry]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                if f.read(5) != b"From ":
                    continue            # an index or state file
                data = b"From " + f.read()
            key = os.path.relpath(path, root)
            key = re.sub(r"\.(mbox|mbx)$", "", key)
            starts = [m.start() for m in FROM_LINE.finditer(data)]
            for k, s in enumerate(starts):
                body_start = data.index(b"\n", s) + 1
                end = starts[k + 1] if k + 1 < len(starts) else len(data)
                chunk = data[body_start:end]
                if chunk.endswith(b"\n\n"):
                    chunk = chunk[:-1]       # the separator blank line
                quoted = len(UNQUOTE.findall(chunk)) if b">From " in chunk else 0
                size = len(chunk) + chunk.count(b"\n") - chunk.count(b"\r\n") - quoted
                out.append(Entry(key, _mid(chunk), size,
                                 lambda c=chunk: crlf(UNQUOTE.sub(rb"\1", c))))
    return out


def strip_added_received(msg: bytes) -> bytes:
    """mpop and fetchmail prepend one Received: header (with continuation
    lines); the corpus has none of its own."""
    if not msg.startswith(b"Received: "):
        return msg
    pos = msg.index(b"\r\n") + 2
    while msg[pos:pos + 1] in (b" ", b"\t"):
        pos = msg.index(b"\r\n", pos) + 2
    return msg[pos:]


def scan_bsmtp(path: str, strip=None) -> list[Entry]:
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        data = crlf(f.read())
    pos = 0
    while True:
        d = data.find(b"\r\nDATA\r\n", pos)
        if d < 0:
            break
        start = d + len(b"\r\nDATA\r\n")
        end = data.find(b"\r\n.\r\n", start - 2)
        if end < 0:
            break
        body = data[start:end + 2]
        body = re.sub(rb"(?m)^\.\.", b".", body) if b"\n.." in b"\n" + body else body
        msg = strip_added_received(body) if strip else body
        out.append(Entry("INBOX", _mid(msg), len(msg), lambda m=msg: m))
        pos = end + 5
    return out


def probe_file_creation(directory: str, n: int = 1000) -> float:
    """Microseconds to create one empty file in `directory` (the probe's
    files stay: deleting them would slow the next creations down)."""
    os.makedirs(directory, exist_ok=True)
    base = len(os.listdir(directory))
    t = time.perf_counter()
    for i in range(base, base + n):
        os.close(os.open(os.path.join(directory, f"p{i}"), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    return (time.perf_counter() - t) * 1e6 / n


def wait_for_fast_file_creation(work: str, limit_us: float = 150.0, patience_s: float = 420.0) -> None:
    """On ext4 without a journal, creating a file skips every inode freed
    in the last minute (six while the inode table is not yet written back):
    after someone deleted many files, each creation can cost a millisecond,
    and whichever tool runs first pays seconds of system time for it.  Probe
    before timing anything, and wait while creation is that slow."""
    probe = os.path.join(work, "creation-probe")
    waited = 0.0
    while True:
        us = probe_file_creation(probe)
        if us <= limit_us:
            log(f"file creation: {us:.0f} us per file" + (f" (after waiting {waited:.0f} s)" if waited else ""))
            return
        if waited >= patience_s:
            log(f"WARNING: file creation still costs {us:.0f} us per file after {waited:.0f} s "
                "(inodes freed recently); the first tools' system time is inflated")
            return
        log(f"file creation costs {us:.0f} us per file (many files were deleted recently); waiting 20 s")
        time.sleep(20)
        waited += 20


def remove_tree(path: str) -> None:
    """rm -rf with 16 threads: on some virtual disks an unlink costs
    milliseconds (discard), and they overlap well."""
    files, dirs = [], []
    for dirpath, dirnames, filenames in os.walk(path):
        dirs.append(dirpath)
        files.extend(os.path.join(dirpath, n) for n in filenames)
        files.extend(os.path.join(dirpath, n) for n in dirnames
                     if os.path.islink(os.path.join(dirpath, n)))

    def unlink(p):
        try:
            os.unlink(p)
        except OSError:
            pass
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(unlink, files, chunksize=64))
    shutil.rmtree(path, ignore_errors=True)


def drop_page_cache(path: str) -> None:
    """Lets the kernel forget the cached pages of every file under path
    (POSIX_FADV_DONTNEED), so that the next reader reads from the disk."""
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def du_bytes(path: str) -> int:
    """Allocated bytes, as du counts them."""
    if os.path.isfile(path):
        return os.lstat(path).st_blocks * 512
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        total += os.lstat(dirpath).st_blocks * 512
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def map_folder(key: str, server_folders: list[str]) -> str | None:
    cands = [key, h.imap_utf7_decode(key), key.replace(".", "/")]
    if key in ("", "."):
        cands.append("INBOX")
    for c in cands:
        for s in server_folders:
            if c == s or (s == "INBOX" and c.upper() == "INBOX"):
                return s
    return None


class Verification:
    def __init__(self):
        self.expected = 0
        self.good = 0
        self.problems: list[str] = []

    @property
    def ok(self) -> bool:
        return self.good == self.expected and not self.problems

    def text(self) -> str:
        return f"{self.good}/{self.expected}" + ("" if self.ok else " FAIL")


def verify(entries: list[Entry], index: dict, bodies: dict) -> Verification:
    """index: folder -> {mid: (uid, size)}; bodies: (folder, mid) -> bytes."""
    v = Verification()
    folders = list(index)
    v.expected = sum(len(x) for x in index.values())
    seen: dict[tuple, list[Entry]] = {}
    for e in entries:
        f = map_folder(e.folder, folders)
        seen.setdefault((f, e.mid), []).append(e)
    extra = [k for k in seen if k[0] not in index or k[1] not in index[k[0]]]
    if extra:
        v.problems.append(f"{sum(len(seen[k]) for k in extra)} files not on the server "
                          f"(e.g. {extra[0]!r})")
    dups = sum(len(es) - 1 for k, es in seen.items() if len(es) > 1)
    if dups:
        v.problems.append(f"{dups} duplicates")
    bad_size = 0
    for folder, idx in index.items():
        for mid, (uid, size) in idx.items():
            es = seen.get((folder, mid))
            if not es:
                continue
            if es[0].size != size:
                bad_size += 1
                continue
            v.good += 1
    if bad_size:
        v.problems.append(f"{bad_size} with a different size")
    missing = v.expected - v.good - bad_size
    if missing:
        v.problems.append(f"{missing} missing")
    for (folder, mid), want in bodies.items():
        es = seen.get((folder, mid))
        if not es:
            continue
        got = es[0].loader()
        if got != want:
            v.problems.append(f"body of {mid.decode()} in {folder} differs "
                              f"({len(got)} vs {len(want)} bytes)")
    return v


# ---------------------------------------------------------------------------
# running a tool and measuring it

class Measured:
    def __init__(self, **kw):
        self.__dict__.update(kw)


# Why a launcher: Linux records in ru_maxrss the RSS a child had *before* its
# exec, and a child forked (or vforked) by this Python process starts with
# this process's RSS (the corpus, tens or hundreds of MB).  The launcher is
# a small C program: the tool is forked from it, so the floor is ~1 MB, and
# it reports wait4()'s rusage of the tool's process tree.
LAUNCHER_C = r"""
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 3) return 127;
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 127; }
    if (pid == 0) { execvp(argv[2], argv + 2); perror(argv[2]); _exit(127); }
    int status; struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) { perror("wait4"); return 127; }
    FILE *f = fopen(argv[1], "w");
    if (!f) return 127;
    fprintf(f, "%d %ld.%06ld %ld.%06ld %ld\n", status,
            (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
            (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, ru.ru_maxrss);
    return fclose(f) == 0 ? 0 : 127;
}
"""
LAUNCHER: str | None = None
LOAD_AT_START = "?"
MAILFERRY_ORIGIN = ""


def build_launcher(work: str) -> str | None:
    src = os.path.join(work, "launcher.c")
    exe = os.path.join(work, "launcher")
    with open(src, "w") as f:
        f.write(LAUNCHER_C)
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc and subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True).returncode == 0:
        return exe
    log("no C compiler: peak RSS figures include this Python process's RSS at fork")
    return None


def run_measured(argv, env=None, cwd=None, timeout=900.0, log_prefix="") -> Measured:
    out = open(log_prefix + ".out", "wb")
    err = open(log_prefix + ".err", "wb")
    resfile = log_prefix + ".rusage"
    full = [LAUNCHER, resfile, *argv] if LAUNCHER else list(argv)
    t0 = time.monotonic()
    p = subprocess.Popen(full, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=err, start_new_session=True)
    timer = threading.Timer(timeout, lambda: _killpg(p.pid))
    timer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    out.close()
    err.close()
    utime, stime, rss_kb, rc = ru.ru_utime, ru.ru_stime, ru.ru_maxrss, p.returncode
    if LAUNCHER:
        try:
            with open(resfile) as f:
                st, u, s_, r = f.read().split()
            utime, stime, rss_kb = float(u), float(s_), int(r)
            rc = os.waitstatus_to_exitcode(int(st))
        except (OSError, ValueError):
            rc = rc or 127              # killed (timeout) before it could report
    with open(log_prefix + ".err", "rb") as f:
        tail = f.read()[-1500:].decode(errors="replace")
    return Measured(wall=wall, cpu=utime + stime, user=utime, sys=stime, rss_mb=rss_kb / 1024,
                    rc=rc, stderr=tail, timed_out=wall >= timeout)


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------
# the tools

def write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class Tool:
    name = ""
    proto = "imap"          # imap or pop3
    steps = STEPS
    ok_rc = (0,)
    strip = None

    def __init__(self, ctx, user: str, port: int | None = None, label: str | None = None):
        self.ctx = ctx
        self.user = user
        self.port = port
        self.label = label or self.name
        self.dir = os.path.join(ctx.work, self.label)
        os.makedirs(self.dir, exist_ok=True)
        self.archive = os.path.join(self.dir, "archive")

    @property
    def dc(self) -> h.Dovecot:
        return self.ctx.dc

    def folders(self) -> list[str]:
        return ["INBOX"] if self.proto == "pop3" else self.ctx.folders

    def command(self) -> tuple[list[str], dict]:
        raise NotImplementedError

    def scan(self) -> list[Entry]:
        return scan_maildir(self.archive, self.strip)

    def result_path(self) -> str:
        return self.archive


class Mailferry(Tool):
    name = "mailferry"
    fmt = "maildir"
    extra: tuple = ()

    def command(self):
        scheme = "pop3s" if self.proto == "pop3" else "imaps"
        url = self.dc.url(scheme, self.user)
        if self.port:
            url = re.sub(r":\d+$", f":{self.port}", url)
        argv = [h.mailferry_path(), "backup", url, self.archive, "--cacert", self.dc.cacert,
                "--password-env", "MFBENCH_PASSWORD", "-q", *self.extra]
        if self.fmt != "maildir":
            argv += ["--format", self.fmt]
        return argv, dict(os.environ, MFBENCH_PASSWORD=PASSWORD)

    def scan(self):
        return scan_mbox(self.archive) if self.fmt == "mbox" else scan_maildir(self.archive)


class MailferryBefore(Mailferry):
    """mailferry built from an earlier commit (--before PATH), side by side
    with this build in the same run: a change must leave the happy path
    where it was, and one run is the only fair comparison on a shared machine."""
    name = "mailferry-before"
    binary = ""  # set from --before (a copy, like this build's)

    def command(self):
        argv, env = super().command()
        argv[0] = self.binary
        return argv, env


class MailferryOneConnection(Mailferry):
    """The same on one connection (the default opens up to 4, one per folder)."""
    name = "mailferry-1conn"
    extra = ("--connections", "1")


class MailferryNoCompress(Mailferry):
    """Without COMPRESS=DEFLATE, for the shaped link (--rate-mbit)."""
    name = "mailferry-nocompress"
    extra = ("--no-compress",)


class MailferryMbox(Mailferry):
    name = "mailferry-mbox"
    fmt = "mbox"


class MailferryPop3(Mailferry):
    name = "mailferry-pop3"
    proto = "pop3"


class Mbsync(Tool):
    name = "mbsync-fsync"
    fsync = True
    strip = staticmethod(strip_xtuid)

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.rc = os.path.join(self.dir, "mbsyncrc")
        os.makedirs(self.archive, exist_ok=True)
        write_private(self.rc, self.config())

    def config(self, sync="Pull", create="Near", state="*") -> str:
        return f"""FSync {"yes" if self.fsync else "no"}

IMAPAccount bench
Host localhost
Port {self.port or self.dc.imaps_port}
User {self.user}
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {self.dc.cacert}

IMAPStore far
Account bench

MaildirStore near
Path {self.archive}/
Inbox {self.archive}/INBOX
SubFolders Verbatim

Channel bench
Far :far:
Near :near:
Patterns *
Create {create}
Sync {sync}
Expunge None
SyncState {state}
"""

    def command(self):
        return ["mbsync", "-c", self.rc, "-a", "-q"], dict(os.environ)


class MbsyncNoFsync(Mbsync):
    name = "mbsync-nofsync"
    fsync = False


class Mpop(Tool):
    name = "mpop"
    proto = "pop3"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.archive, sub), exist_ok=True)
        self.rc = os.path.join(self.dir, "mpoprc")
        write_private(self.rc, f"""defaults
tls on
tls_starttls off
tls_trust_file {self.dc.cacert}

account bench
host 127.0.0.1
port {self.port or self.dc.pop3s_port}
user {self.user}
password {PASSWORD}
keep on
delivery maildir {self.archive}
uidls_file {self.archive}/.mpop-uidls

account default : bench
""")

    strip = staticmethod(strip_added_received)

    def command(self):
        return ["mpop", "-C", self.rc, "-q"], dict(os.environ)


class Fetchmail(Tool):
    name = "fetchmail"
    proto = "pop3"
    ok_rc = (0, 1)          # 1: no new mail
    strip = staticmethod(strip_added_received)

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        os.makedirs(self.archive, exist_ok=True)
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, exist_ok=True)
        self.rc = os.path.join(self.dir, "fetchmailrc")
        self.out = os.path.join(self.archive, "mail.bsmtp")
        write_private(self.rc, f"""set no bouncemail
set no syslog
poll 127.0.0.1 with service {self.port or self.dc.pop3s_port} protocol pop3 uidl:
  user "{self.user}" there with password "{PASSWORD}" is "root" here
  ssl sslcertck sslcertfile "{self.dc.cacert}" sslcommonname "localhost"
  keep no rewrite
""")

    def command(self):
        argv = ["fetchmail", "-f", self.rc, "--keep", "--nodetach", "--silent",
                "-i", os.path.join(self.archive, ".fetchids"), "--bsmtp", self.out]
        return argv, dict(os.environ, HOME=self.home, FETCHMAILHOME=self.home)

    def scan(self):
        return scan_bsmtp(self.out, self.strip)


class CopyFloor(Tool):
    name = "cp"
    steps = ["full"]

    def command(self):
        return ["cp", "-r", os.path.join(self.dc.tmp, "mail", self.user), self.archive], \
            dict(os.environ)


TOOL_CLASSES = {c.name: c for c in (CopyFloor, Mailferry, MailferryBefore, MailferryOneConnection, MailferryNoCompress,
                                    MailferryMbox, Mbsync,
                                    MbsyncNoFsync, MailferryPop3, Mpop, Fetchmail)}
BINARY = {"mbsync-fsync": "mbsync", "mbsync-nofsync": "mbsync", "mpop": "mpop",
          "fetchmail": "fetchmail"}


# ---------------------------------------------------------------------------
# a TCP proxy that adds latency (not a bandwidth limit: data keeps flowing,
# every chunk just arrives D ms later): delayproxy.c, compiled into the work
# directory; DelayProxy below (Python threads) only if that fails: its pump
# threads share the GIL, and its queues are bounded in chunks, not bytes

class CDelayProxy:
    kind = "C delayproxy"

    def __init__(self, exe: str, target_port: int, delay_ms: float, work: str, rate_mbit: float = 0):
        self.err_path = os.path.join(work, "delayproxy.err")
        self.conn_log = os.path.join(work, "delayproxy.conns")
        self.delay_s = delay_ms / 1000
        shaping = ["-l", self.conn_log]
        if rate_mbit > 0:
            # One bandwidth-delay product of queue (at least 64 KiB), as a
            # router's buffer on a sane link; the default 16 MiB would add
            # seconds of queueing delay at these rates.
            bdp = int(rate_mbit * 1e6 / 8 * 2 * delay_ms / 1000)
            shaping += ["-r", str(int(rate_mbit * 1e6)), "-q", str(max(bdp, 65536))]
        with open(self.err_path, "wb") as err:
            self.p = subprocess.Popen([exe, *shaping, f"{delay_ms:g}", str(target_port)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=err)
        try:
            ready, _, _ = select.select([self.p.stdout], [], [], 10)
            line = self.p.stdout.readline() if ready else b""
            self.port = int(line)
        except ValueError:
            self.close()
            raise OSError(f"delayproxy did not start (see {self.err_path})") from None

    def stats(self) -> dict | None:
        """Bytes each way and turns so far (SIGUSR1 makes the proxy print
        them on stderr), and how far its connection log is; None if it does
        not answer.  First waits for the connections a tool just closed to
        end: its logout reaches the server a delay later, and the server's
        close comes back after another."""
        if self.p.poll() is not None:
            return None
        time.sleep(2 * self.delay_s + 0.05)
        with open(self.err_path, "rb") as f:
            seen = len(f.read())
        self.p.send_signal(signal.SIGUSR1)
        for _ in range(100):
            time.sleep(0.01)
            with open(self.err_path, "rb") as f:
                text = f.read()[seen:].decode(errors="replace")
            m = re.search(r"c2s (\d+) s2c (\d+) turns (\d+)", text)
            if m:
                return dict(c2s=int(m[1]), s2c=int(m[2]), turns=int(m[3]), conns=self.log_size())
        return None

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.conn_log)
        except OSError:
            return 0

    def conns_between(self, a: int, b: int) -> list[dict]:
        """The connections that ended between two stats(): start and end
        (seconds since the proxy started), bytes each way, turns."""
        with open(self.conn_log, "rb") as f:
            f.seek(a)
            text = f.read(b - a).decode(errors="replace")
        out = []
        for m in re.finditer(r"^conn (\d+) (\d+) (\d+) (\d+) (\d+)$", text, re.M):
            out.append(dict(start=int(m[1]) / 1e3, end=int(m[2]) / 1e3, c2s=int(m[3]),
                            s2c=int(m[4]), turns=int(m[5])))
        return out

    def cpu(self) -> float | None:
        """CPU seconds the proxy used so far (all its threads), None if gone."""
        try:
            with open(f"/proc/{self.p.pid}/stat") as f:
                stat = f.read()
        except OSError:
            return None
        fields = stat[stat.rfind(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        """Stop our proxy by its PID (SIGTERM, then SIGKILL); say if it died early."""
        if self.p.returncode is not None:
            return
        early = self.p.poll()
        if early is not None:
            log(f"delayproxy had exited on its own with status {early} (see {self.err_path})")
        else:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()


def start_delay_proxy(work: str, target_port: int, delay_ms: float, rate_mbit: float = 0):
    """The C proxy if it compiles and starts, else the Python one (which
    cannot shape: with --rate-mbit, no fallback)."""
    src = os.path.join(HERE, "delayproxy.c")
    exe = os.path.join(work, "delayproxy")
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    why = "no C compiler"
    if cc:
        r = subprocess.run([cc, "-O2", "-pthread", "-o", exe, src], capture_output=True, text=True)
        why = f"{os.path.basename(cc)} failed: {r.stderr.strip()[-300:]}" if r.returncode else ""
    if not why:
        try:
            return CDelayProxy(exe, target_port, delay_ms, work, rate_mbit)
        except OSError as e:
            why = str(e)
    if rate_mbit > 0:
        raise h.HarnessError(f"the shaping proxy is needed for --rate-mbit: {why}")
    log(f"slow link: falling back to the Python delay proxy ({why})")
    return DelayProxy(target_port, delay_ms / 1000)


class DelayProxy:
    kind = "Python threads (fallback)"

    def cpu(self) -> float | None:
        return None  # threads of this process: not told apart from the benchmark's own

    def __init__(self, target_port: int, delay_s: float):
        self.target = ("127.0.0.1", target_port)
        self.delay = delay_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pump(client, server)
            self._pump(server, client)

    def _pump(self, src, dst):
        q: queue.Queue = queue.Queue(maxsize=1024)
        delay = self.delay

        def reader():
            while True:
                try:
                    data = src.recv(1 << 18)
                except OSError:
                    data = b""
                q.put((time.monotonic() + delay, data))
                if not data:
                    return

        def writer():
            while True:
                due, data = q.get()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not data:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                try:
                    dst.sendall(data)
                except OSError:
                    for s in (src, dst):
                        try:
                            s.close()
                        except OSError:
                            pass
                    return

        threading.Thread(target=reader, daemon=True).start()
        threading.Thread(target=writer, daemon=True).start()


# ---------------------------------------------------------------------------
# the bench

class Context:
    pass


def owner_reads(dc, user: str, folders: list[str]) -> None:
    """The account as it is in the field: its owner's mail client has
    opened every folder (SELECT), which takes Dovecot's \\Recent flag off
    the messages (RFC 3501 2.3.2). A backup's EXAMINE never does, so
    without this every FETCH line of a no-op carries \\Recent for ever in
    an account only mailferry reads, and not in mbsync's, whose SELECT took
    it. Done for every tool's account, before the no-op."""
    with dc.imap_session(user) as s:
        for f in folders:
            typ, data = s.select(h.imap_mailbox(f), readonly=False)
            if typ != "OK":
                raise h.HarnessError(f"SELECT {f} as {user}: {data}")


def wire_between(proxy, a: dict | None, b: dict | None) -> dict | None:
    """What went through the proxy between two stats(): bytes each way,
    turns, and the connections (see CDelayProxy.conns_between)."""
    if not a or not b:
        return None
    w = {k: b[k] - a[k] for k in ("c2s", "s2c", "turns")}
    w["conns"] = proxy.conns_between(a["conns"], b["conns"])
    w["max_turns"] = max((c["turns"] for c in w["conns"]), default=w["turns"])
    return w


def run_step(ctx, tool: Tool, step: str, section: str) -> dict:
    dc = ctx.dc
    folders = tool.folders()
    if step == "add100":
        dc.save_many(tool.user, "INBOX", ctx.added)
    if step == "noop" and ctx.args.no_condstore:
        owner_reads(dc, tool.user, folders)
    before = unseen_total(dc, tool.user, folders)
    os.sync()
    srv0 = dovecot_cpu(dc)
    proxy = getattr(ctx, "proxy", None) if tool.port is not None else None
    px0 = proxy.cpu() if proxy else None
    wire0 = proxy.stats() if proxy and hasattr(proxy, "stats") else None
    argv, env = tool.command()
    m = run_measured(argv, env=env, cwd=tool.dir, timeout=ctx.args.timeout,
                     log_prefix=os.path.join(tool.dir, f"{section}-{step}"))
    srv = dovecot_cpu(dc) - srv0
    px1 = proxy.cpu() if proxy else None
    wire1 = proxy.stats() if wire0 else None
    after = unseen_total(dc, tool.user, folders)
    crashed = m.rc not in tool.ok_rc or m.timed_out
    index = server_index(dc, tool.user, folders)
    bodies = sample_bodies(ctx, tool.user, index)
    v = verify(tool.scan(), index, bodies)
    row = dict(tool=tool.label, step=step, wall=m.wall, cpu=m.cpu, user=m.user, sys=m.sys,
               rss=m.rss_mb, srv=srv, disk=du_bytes(tool.result_path()) / 1e6, verified=v.text(),
               ok=v.ok and not crashed, unseen=(before, after), rc=m.rc,
               proxy=px1 - px0 if px0 is not None and px1 is not None else None,
               wire=wire_between(proxy, wire0, wire1))
    status = "ok" if row["ok"] else "FAILED"
    log(f"{section}: {tool.label:15s} {step:6s} {m.wall:7.2f}s wall  {m.cpu:6.2f}s cpu  "
        f"{m.rss_mb:6.1f} MB  {v.text()}  unseen {before}->{after}  {status}")
    notes = []
    if crashed:
        last = m.stderr.strip().splitlines()[-1] if m.stderr.strip() else ""
        notes.append(f"exit status {m.rc}{' (timed out)' if m.timed_out else ''}: {last}")
        log(f"  {tool.label} exited with {m.rc}:\n{m.stderr}")
    if v.problems:
        notes.append("; ".join(v.problems[:4]))
        log(f"  {tool.label}: " + "; ".join(v.problems[:6]))
    if notes:
        row["note"] = "; ".join(notes)
    return row


def sample_bodies(ctx, user: str, index: dict) -> dict:
    """~SAMPLE messages: the largest, a few tricky/8-bit ones, some random;
    fetched from this user's server account (cached per user and UID set)."""
    cache = ctx.body_cache.setdefault(user, {})
    allm = [(f, mid, uid, size) for f, idx in index.items() for mid, (uid, size) in idx.items()]
    if not allm:
        return {}
    rng = random.Random(SEED + 3)
    pick = sorted(allm, key=lambda t: -t[3])[:3]
    pick += rng.sample(allm, min(len(allm), SAMPLE - len(pick)))
    want: dict[str, list[int]] = {}
    for f, mid, uid, size in pick:
        if (f, uid) not in cache:
            want.setdefault(f, []).append(uid)
    for f, uids in want.items():
        for uid, data in server_bodies(ctx.dc, user, f, sorted(set(uids))).items():
            cache[(f, uid)] = data
    return {(f, mid): cache[(f, uid)] for f, mid, uid, size in pick if (f, uid) in cache}


def tool_available(name: str) -> str | None:
    """None if usable, else why not."""
    binary = BINARY.get(name)
    if binary is None or shutil.which(binary):
        return None
    pkg = APT_PACKAGE[binary]
    log(f"{binary} missing: apt-get install -y {pkg}")
    r = subprocess.run(["apt-get", "install", "-y", pkg], capture_output=True, text=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if r.returncode == 0 and shutil.which(binary):
        return None
    return f"{binary} not installed and apt-get install {pkg} failed"


def mbox_available(ctx) -> str | None:
    """Try --format mbox on a one-message account."""
    dc = ctx.dc
    dc.add_user("mboxprobe", PASSWORD)
    dc.save("mboxprobe", "INBOX", h.make_message(1))
    d = tempfile.mkdtemp(dir=ctx.work, prefix="mboxprobe-")
    r = h.run_mailferry(["backup", dc.url("imaps", "mboxprobe"), os.path.join(d, "a"),
                         "--cacert", dc.cacert, "--password-env", "MF_TEST_PASSWORD",
                         "--format", "mbox", "-q"], password=PASSWORD)
    if r.returncode != 0:
        return "mailferry --format mbox: " + (r.stderr.strip().splitlines() or ["failed"])[-1]
    return None


def selected(only: str | None) -> list[str]:
    if not only:
        return list(ALL_TOOLS)
    tokens = [t.strip() for t in only.split(",") if t.strip()]

    def picks(n: str, t: str) -> bool:  # "=name": that tool alone
        return n == t[1:] if t.startswith("=") else n == t or n.startswith(t + "-")
    out = [n for n in ALL_TOOLS if any(picks(n, t) for t in tokens)]
    unknown = [t for t in tokens if not any(picks(n, t) for n in ALL_TOOLS)]
    if unknown:
        raise SystemExit(f"--only: unknown tool(s) {unknown}; known: {', '.join(ALL_TOOLS)}")
    return out


def server_root(args, n_users: int) -> str | None:
    """Where Dovecot keeps its mail: tmpfs (/dev/shm) when the clones fit in a
    third of the available memory, else the default temp dir.  The server's
    storage is not what is measured (every tool reads the same, cached,
    mail); tmpfs keeps cloning, syncing and cleaning up cheap."""
    if args.server_dir:
        return None if args.server_dir == "tmp" else args.server_dir
    need = args.messages * AVG_SIZE * 1.3 * n_users
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(l.split()[1]) * 1024 for l in f if l.startswith("MemAvailable"))
        st = os.statvfs("/dev/shm")
    except (OSError, StopIteration):
        return None
    if need < avail / 3 and need < st.f_bavail * st.f_frsize / 2:
        return "/dev/shm"
    return None


def start_dovecot_in(root: str | None, extra_config: str) -> h.Dovecot:
    """A started Dovecot whose directory (and mail) is under `root` (say
    /dev/shm; None: the default temp dir)."""
    dc = h.Dovecot(extra_config=extra_config)
    saved, tempfile.tempdir = tempfile.tempdir, root or tempfile.tempdir
    try:
        dc.start()
    finally:
        tempfile.tempdir = saved
    return dc


def fs_details(path: str) -> str:
    """Mount options that change fsync and unlink costs, and for ext4 whether
    it has a journal (without one, creating files right after many were
    deleted is slow: ext4 skips inodes freed in the last minute)."""
    best = None
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, fstype, opts = line.split()[:4]
                if (path + "/").startswith(mnt.rstrip("/") + "/") and \
                        (best is None or len(mnt) > len(best[1])):
                    best = (dev, mnt, fstype, opts)
    except OSError:
        return ""
    if not best:
        return ""
    dev, mnt, fstype, opts = best
    keep = [o for o in opts.split(",") if o.split("=")[0] in
            ("discard", "data", "sync", "dirsync", "barrier", "nobarrier", "commit", "journal_async_commit")]
    if fstype == "ext4":
        name = os.path.basename(os.path.realpath(dev))
        has_journal = any(e.startswith(name + "-") for e in os.listdir("/proc/fs/jbd2")) \
            if os.path.isdir("/proc/fs/jbd2") else None
        if has_journal is False:
            keep.append("NO JOURNAL")
    return f"mounted on {mnt}" + (f" ({', '.join(keep)})" if keep else "")


def machine_text(work: str) -> str:
    df = subprocess.run(["df", "--output=fstype,source", work], capture_output=True,
                        text=True).stdout.split()
    fs, dev = (df[-2], df[-1:]) if len(df) >= 4 else ("?", [])
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30

    def ver(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    git = subprocess.run(["git", "-C", os.path.join(HERE, "..", ".."), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", os.path.join(HERE, "..", ".."), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"machine: nproc {os.cpu_count()}, {cpu}, {mem:.1f} GiB RAM, kernel {platform.release()}",
        f"work dir (archives): {work} on {fs} {' '.join(dev)} {fs_details(work)}; load average at start "
        f"{LOAD_AT_START}" + ("  (WARNING: the machine was busy; figures are noisy)"
                             if float(LOAD_AT_START.split()[0]) > 0.5 * (os.cpu_count() or 1) else ""),
        f"mailferry: {MAILFERRY_ORIGIN} copied at start (git {git}{'+dirty' if dirty else ''}); "
        f"{ver([h.mailferry_path(), '--version'])}",
        f"peers: {ver(['mbsync', '--version'])}; {ver(['mpop', '--version'])}; "
        f"{ver(['fetchmail', '--version']).replace('fetchmail: WARNING: Running as root is discouraged.', '').strip() or ver(['sh', '-c', 'fetchmail --version 2>&1 | sed -n 2p'])}; "
        f"dovecot {ver(['dovecot', '--version'])}",
    ]
    return "\n".join(lines)


def fmt_table(rows: list[dict]) -> str:
    head = (f"{'tool':20s} {'step':6s} {'wall s':>8s} {'CPU s':>7s} {'usr/sys':>11s} "
            f"{'srv CPU':>7s} {'RSS MB':>7s} {'disk MB':>8s}  {'verified':18s} {'unseen before→after':>19s}")
    out = [head, "-" * len(head)]
    last = None
    for r in rows:
        if last and last != r["tool"]:
            out.append("")
        last = r["tool"]
        if r.get("skipped"):
            out.append(f"{r['tool']:20s} {'—':6s} skipped: {r['skipped']}")
            continue
        out.append(f"{r['tool']:20s} {r['step']:6s} {r['wall']:8.2f} {r['cpu']:7.2f} "
                   f"{r['user']:5.2f}/{r['sys']:<5.2f} {r['srv']:7.2f} {r['rss']:7.1f} "
                   f"{r['disk']:8.1f}  {r['verified']:18s} {r['unseen'][0]:>9d} → {r['unseen'][1]:<7d}"
                   + (f"  [{r['note']}]" if r.get("note") else ""))
    return "\n".join(out)


def slow_cpu_lines(slow: dict) -> list[str]:
    """Through the proxy, the client, the server and the proxy share this
    machine's cores: their CPU over the cores is a floor under the wall time
    that no client can go below (a real slow link costs no local CPU)."""
    cores = len(os.sched_getaffinity(0))
    lines = []
    for tool in ("mailferry", "mbsync-nofsync"):
        r = slow.get((tool, "full"))
        if not r or r.get("skipped") or not r["ok"] or r.get("proxy") is None:
            continue
        total = r["cpu"] + r["srv"] + r["proxy"]
        label = f"slow link full backup: CPU client+server+proxy, {tool}"
        lines.append(f"  {label:58s} {total:6.2f}  ({r['cpu']:.2f} + {r['srv']:.2f} + {r['proxy']:.2f} s); "
                     f"/ {cores} cores = {total / cores:.2f} s, wall {r['wall']:.2f} s")
    peer = slow.get(("mbsync-nofsync", "full"))
    if peer and not peer.get("skipped") and peer["ok"]:
        lines.append(f"  {'slow link: 2 × faster than mbsync FSync no means wall ≤':58s} {peer['wall'] / 2:6.2f}")
    return lines


# Dovecot 2.3's COMPRESS=DEFLATE for the shaped link (doc.dovecot.org, "Zlib plugin").
ZLIB_CONFIG = "mail_plugins = $mail_plugins zlib\nprotocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}\n"


# Dovecot 2.3.19's capabilities after login, less CONDSTORE, QRESYNC,
# LIST-STATUS, ESEARCH, ESORT and CONTEXT=SEARCH, as issue 23 asks: Outlook.com
# and Microsoft 365 do not offer CONDSTORE (MailCore/mailcore2#1206,
# warmbly/warmbly#346; tests/e2e/providers.py emulates their capabilities).
# COMPRESS=DEFLATE is added by imap_zlib itself when loaded.
NO_CONDSTORE_CONFIG = ("imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT "
                       "SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND "
                       "URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
                       "I18NLEVEL=1 SEARCHRES WITHIN BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW "
                       "STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE\n")


def link_lines(slow_raw: dict, tools: list, rate_mbit: float, delay_ms: float) -> list[str]:
    """Wire bytes and turns per slow row; on a shaped link (rate_mbit > 0)
    also the wall time the link allows: the larger direction's bytes at the
    link's rate, plus the round trips of the connection that waited for the
    most (connections run side by side, so their turns overlap). Bytes in KB
    without a rate: a no-op rerun moves a few KB, which MB would round away."""
    rtt = 2 * delay_ms / 1000
    shaped = rate_mbit > 0
    title = (f"shaped link {rate_mbit:g} Mbit/s, RTT {2 * delay_ms:g} ms" if shaped
             else f"wire bytes through the proxy, RTT {2 * delay_ms:g} ms")
    unit, scale = ("MB", 1e6) if shaped else ("KB", 1e3)
    head = f"{title:40s} {'down ' + unit:>10s} {'up ' + unit:>9s} {'turns':>6s} {'max/conn':>8s}"
    head += f" {'allows s':>9s} {'wall s':>7s} {'wall/allows':>11s}" if shaped else f" {'wall s':>7s}"
    out = [head, "-" * len(head)]
    timelines = []
    for t in tools:
        for st in STEPS:
            r = slow_raw.get((t.label, st))
            if not r or r.get("skipped") or not r.get("wire"):
                continue
            w = r["wire"]
            line = (f"{t.label + ' ' + st:40s} {w['s2c'] / scale:10.2f} {w['c2s'] / scale:9.2f} "
                    f"{w['turns']:6d} {w['max_turns']:8d}")
            if shaped:
                allows = link_allows(w, rate_mbit, rtt)
                line += f" {allows:9.2f} {r['wall']:7.2f} {r['wall'] / allows if allows else 0:11.2f}"
            else:
                line += f" {r['wall']:7.2f}"
            out.append(line)
            if shaped and st == "full":
                timelines += connection_lines(t.label + " " + st, w["conns"], rate_mbit)
    return out + timelines


def link_allows(w: dict, rate_mbit: float, rtt: float) -> float:
    return max(w["s2c"], w["c2s"]) * 8 / (rate_mbit * 1e6) + w["max_turns"] * rtt


def connection_lines(what: str, conns: list[dict], rate_mbit: float) -> list[str]:
    """Where a shaped full backup's time went: each connection's span
    (seconds from the first one's start), its bytes, and the time its bytes
    alone take at the link's rate; a span well past that is waiting."""
    if not conns:
        return []
    t0 = min(c["start"] for c in conns)
    out = [f"  {what}: {len(conns)} connections"]
    for c in sorted(conns, key=lambda c: c["start"]):
        link_s = max(c["s2c"], c["c2s"]) * 8 / (rate_mbit * 1e6)
        out.append(f"    {c['start'] - t0:6.2f} - {c['end'] - t0:6.2f} s  {c['s2c'] / 1e6:7.2f} MB down  "
                   f"{c['turns']:5d} turns  bytes alone {link_s:5.2f} s")
    return out


def ratio_lines(res: dict, slow: dict, restore: dict | None, rate_mbit: float = 0,
                slow_restore: dict | None = None, delay_ms: float = 0) -> list[str]:
    def get(tool, step, key, d=res):
        r = d.get((tool, step))
        return r[key] if r and not r.get("skipped") and r["ok"] else None

    lines = []

    def ratio(label, a, b, target=None, op="≤"):
        if a is None or b is None or b == 0:
            lines.append(f"  {label:58s}  n/a (a run was not selected, was skipped or failed)")
            return
        q = a / b
        t = ""
        if target is not None:
            met = q <= target if op == "≤" else q >= target
            t = f"   target {op} {target:g}: {'met' if met else 'NOT met'}"
        lines.append(f"  {label:58s} {q:6.2f}  ({a:.2f} / {b:.2f}){t}")

    mf = "mailferry"
    ratio("full backup wall: mailferry / mbsync FSync yes", get(mf, "full", "wall"),
          get("mbsync-fsync", "full", "wall"), 0.5)
    ratio("full backup wall: mailferry / mbsync FSync no", get(mf, "full", "wall"),
          get("mbsync-nofsync", "full", "wall"), 1.1)
    ratio("full backup wall: mailferry / cp -r floor", get(mf, "full", "wall"), get("cp", "full", "wall"))
    ratio("full backup client CPU: mailferry / mbsync FSync yes", get(mf, "full", "cpu"),
          get("mbsync-fsync", "full", "cpu"), 0.7)
    ratio("full backup client CPU: mailferry / mbsync FSync no", get(mf, "full", "cpu"),
          get("mbsync-nofsync", "full", "cpu"), 0.7)
    ratio("full backup server CPU: mailferry / mbsync FSync no", get(mf, "full", "srv"),
          get("mbsync-nofsync", "full", "srv"))
    ratio("no-op rerun wall: mailferry / mbsync FSync yes", get(mf, "noop", "wall"),
          get("mbsync-fsync", "noop", "wall"), 1.0)
    ratio("no-op rerun wall: mailferry / mbsync FSync no", get(mf, "noop", "wall"),
          get("mbsync-nofsync", "noop", "wall"), 1.0)
    ratio("rerun +100 wall: mailferry / mbsync FSync yes", get(mf, "add100", "wall"),
          get("mbsync-fsync", "add100", "wall"))
    ratio("mbox full backup wall: mailferry-mbox / mailferry Maildir",
          get("mailferry-mbox", "full", "wall"), get(mf, "full", "wall"))
    ratio("POP3 full backup wall: mailferry-pop3 / mpop", get("mailferry-pop3", "full", "wall"),
          get("mpop", "full", "wall"), 1.0)
    ratio("POP3 full backup wall: mailferry-pop3 / fetchmail", get("mailferry-pop3", "full", "wall"),
          get("fetchmail", "full", "wall"))
    ratio("POP3 client CPU: mailferry-pop3 / mpop", get("mailferry-pop3", "full", "cpu"),
          get("mpop", "full", "cpu"))
    ratio("POP3 no-op rerun wall: mailferry-pop3 / mpop", get("mailferry-pop3", "noop", "wall"),
          get("mpop", "noop", "wall"))
    ratio("peak RSS full backup: mailferry / mbsync FSync yes", get(mf, "full", "rss"),
          get("mbsync-fsync", "full", "rss"))
    ratio("peak RSS full backup: mailferry-pop3 / mpop", get("mailferry-pop3", "full", "rss"),
          get("mpop", "full", "rss"))
    rss = [get(t, s, "rss") for t in (mf, "mailferry-mbox", "mailferry-pop3") for s in STEPS]
    rss = [x for x in rss if x is not None]
    if rss:
        lines.append(f"  {'peak RSS of mailferry, any run (MB)':58s} {max(rss):6.1f}   target ≤ 16: "
                     f"{'met' if max(rss) <= 16 else 'NOT met'}")
    for tool in (mf, "mailferry-mbox", "mailferry-pop3", "mpop", "fetchmail",
                 "mbsync-fsync", "mbsync-nofsync"):
        r = res.get((tool, "full"))
        if r and not r.get("skipped") and r["ok"]:
            b, a = r["unseen"]
            lines.append(f"  {'unread kept by ' + tool + ' (full backup)':58s} "
                         f"{'yes' if a == b else f'NO: {b - a} unread marked read'}")
    if slow:
        for peer in ("mbsync-fsync", "mbsync-nofsync"):
            # issue 23: 0.7 on a shaped link, where both wait for the same bytes
            ratio(f"slow link full backup wall: mailferry / {peer}", get(mf, "full", "wall", slow),
                  get(peer, "full", "wall", slow), 0.7 if rate_mbit > 0 else 0.5)
            ratio(f"slow link no-op wall: mailferry / {peer}", get(mf, "noop", "wall", slow),
                  get(peer, "noop", "wall", slow))

        def wire(tool, step):
            w = get(tool, step, "wire", slow)
            return w and w["s2c"] + w["c2s"]
        if wire(mf, "full") is not None:
            link = "shaped link" if rate_mbit > 0 else "slow link"
            for step in STEPS:
                ratio(f"{link} {step} wire bytes: mailferry / mbsync FSync yes", wire(mf, step),
                      wire("mbsync-fsync", step), 1.0 if step != "add100" else None)
            if rate_mbit > 0:
                ratio("shaped link full wire bytes: mailferry / mailferry --no-compress", wire(mf, "full"),
                      wire("mailferry-nocompress", "full"))
                w = get(mf, "full", "wire", slow)
                ratio("shaped link full wall: mailferry / what the link allows",
                      get(mf, "full", "wall", slow),
                      w and link_allows(w, rate_mbit, 2 * delay_ms / 1000), 1.2)
        lines.extend(slow_cpu_lines(slow))
    if restore:
        ratio("restore (APPEND all) wall: mailferry / mbsync push",
              restore.get("mailferry"), restore.get("mbsync"), 0.7)
    if slow_restore:
        ratio("shaped link restore wall: mailferry / mbsync push",
              slow_restore.get("mailferry"), slow_restore.get("mbsync"), 0.7)
        up = {label.split()[0]: m.wire["c2s"] + m.wire["s2c"]
              for label, m, *_ in slow_restore["rows"] if getattr(m, "wire", None)}
        ratio("shaped link restore wire bytes: mailferry / mbsync push", up.get("mailferry"),
              up.get("mbsync"), 1.0)
    return lines


def run_section(ctx, section: str, tools: list[Tool]) -> dict:
    res = {}
    for step in STEPS:
        for tool in tools:
            if step not in tool.steps:
                continue
            try:
                row = run_step(ctx, tool, step, section)
            except Exception as e:      # a harness problem with this tool
                row = dict(tool=tool.label, step=step, skipped=f"harness error: {e}")
                ctx.failed = True
            res[(tool.label, step)] = row
    return res


def compare_accounts(dc, src: str, dst: str, folders: list[str],
                     added: int = 0) -> tuple[int, int, list[str]]:
    """(messages of src found in dst with the same size, messages in src,
    problems); the unseen counts are compared too (flags came back).
    added: bytes a tool is known to add to each message (mbsync: X-TUID)."""
    a, b = server_index(dc, src, folders), server_index(dc, dst, folders)
    total = sum(len(x) for x in a.values())
    good, problems, example = 0, [], None
    for f, idx in a.items():
        other = b.get(f, {})
        for mid, (_, size) in idx.items():
            if mid in other and other[mid][1] in (size, size + added):
                good += 1
            elif example is None:
                example = (f"e.g. {mid.decode()} in {f}: {size} bytes, "
                           f"{other[mid][1] if mid in other else 'missing'} after")
        extra = len(set(other) - set(idx))
        if extra:
            problems.append(f"{extra} unexpected in {f}")
    ua, ub = unseen_total(dc, src, folders), unseen_total(dc, dst, folders)
    if ua != ub:
        problems.append(f"unseen {ub} instead of {ua}")
    if good != total:
        problems.append(f"{total - good} missing or different ({example})")
    return good, total, problems


def restore_comparison(ctx, mf_archive: str, mbsync_archive: str, source: str = "u-mailferry",
                       proxy=None) -> dict:
    """Upload: `mailferry restore` of its archive vs mbsync pushing its
    Maildir (Sync Push, Create Far, fresh state) into empty accounts, both
    compared with the account they were backed up from (source). With a
    proxy, both go through it, and each row has the wire bytes."""
    dc = ctx.dc
    out = {"rows": []}
    tag = "rs-" if proxy else "r-"
    d = os.path.join(ctx.work, tag + "restore")
    os.makedirs(d, exist_ok=True)
    help_text = subprocess.run([h.mailferry_path(), "restore", "--help"], capture_output=True,
                               text=True).stdout
    pw_opt = "--target-password-env" if "--target-password-env" in help_text else "--password-env"
    runs = []
    dc.add_user(tag + "mailferry", PASSWORD)
    url = dc.url("imaps", tag + "mailferry")
    if proxy:
        url = re.sub(r":\d+$", f":{proxy.port}", url)
    runs.append(("mailferry", "mailferry restore", tag + "mailferry", 0,
                 [h.mailferry_path(), "restore", mf_archive, url,
                  "--cacert", dc.cacert, pw_opt, "MFBENCH_PASSWORD", "-q"]))
    dc.add_user(tag + "mbsync", PASSWORD)
    tool = MbsyncNoFsync(ctx, tag + "mbsync", port=proxy.port if proxy else None,
                         label=tag + "mbsync")
    tool.archive = mbsync_archive
    state = os.path.join(tool.dir, "state") + "/"
    os.makedirs(state, exist_ok=True)
    write_private(tool.rc, tool.config(sync="Push", create="Far", state=state))
    # mbsync uploads the "X-TUID: <12 chars>" header it added when it fetched
    runs.append(("mbsync", "mbsync push", tag + "mbsync", 22, tool.command()[0]))
    for key, label, user, added, argv in runs:
        # A restore reads an archive that is not in memory: both start cold
        # (mailferry drops what it wrote, mbsync does not; verification
        # reads both back in).
        os.sync()
        drop_page_cache(mf_archive)
        drop_page_cache(mbsync_archive)
        srv0 = dovecot_cpu(dc)
        wire0 = proxy.stats() if proxy else None
        m = run_measured(argv, env=dict(os.environ, MFBENCH_PASSWORD=PASSWORD),
                         log_prefix=os.path.join(d, key), timeout=ctx.args.timeout)
        m.srv = dovecot_cpu(dc) - srv0
        m.wire = wire_between(proxy, wire0, proxy.stats()) if proxy else None
        good, total, problems = compare_accounts(dc, source, user, ctx.folders, added)
        ok = m.rc == 0 and not problems
        log(f"{tag}restore: {label:18s} {m.wall:7.2f}s wall {m.cpu:6.2f}s cpu {m.rss_mb:6.1f} MB  "
            f"{good}/{total}  exit {m.rc}  {'ok' if ok else 'FAILED: ' + '; '.join(problems)}")
        if not ok:
            ctx.failed = True
            if m.rc != 0:
                log(m.stderr)
        out[key] = m.wall
        out["rows"].append((label, m, good, total, problems))
    return out


def restore_lines(restore: dict, messages: int, rate_mbit: float = 0, delay_ms: float = 0) -> list[str]:
    """The restore rows; through a shaped link also the wire bytes and
    what the link allows (see link_lines)."""
    where = (f"through the shaped link ({rate_mbit:g} Mbit/s, RTT {2 * delay_ms:g} ms)"
             if rate_mbit > 0 else "")
    out = [f"restore/upload into an empty account {where}({messages} messages; "
           "verified: same messages and sizes per folder, same unseen count;",
           "  mbsync uploads the X-TUID header it added, +22 bytes a message, tolerated):"]
    for label, m, good, total, problems in restore["rows"]:
        line = (f"  {label:18s} {m.wall:8.2f} s wall {m.cpu:7.2f} s CPU {m.srv:6.2f} s srv "
                f"{m.rss_mb:7.1f} MB  {good}/{total} verified (exit {m.rc})")
        w = getattr(m, "wire", None)
        if w and rate_mbit > 0:
            allows = link_allows(w, rate_mbit, 2 * delay_ms / 1000)
            line += (f"\n  {'':18s} up {w['c2s'] / 1e6:.2f} MB, down {w['s2c'] / 1e6:.2f} MB, "
                     f"{w['turns']} turns ({w['max_turns']} on the busiest connection), "
                     f"link allows {allows:.2f} s, wall/allows {m.wall / allows:.2f}")
        out.append(line + (f"  [{'; '.join(problems)}]" if problems else ""))
    return out


def shaped_restore(ctx, slow_tools: list, proxy) -> dict | None:
    """Restore through the shaped link: mailferry's archive of its slow
    account, against mbsync pushing the Maildir its FSync-yes run fetched."""
    by_name = {t.name: t for t in slow_tools}
    if "mailferry" not in by_name or "mbsync-fsync" not in by_name:
        log("shaped restore: skipped (needs mailferry and mbsync-fsync in the slow section)")
        return None
    return restore_comparison(ctx, by_name["mailferry"].archive, by_name["mbsync-fsync"].archive,
                              source=by_name["mailferry"].user, proxy=proxy)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, help="default 10000; 2000 with --gmail")
    ap.add_argument("--folders", type=int, default=5)
    ap.add_argument("--only", help="comma-separated tools: " + ",".join(ALL_TOOLS))
    ap.add_argument("--delay-ms", type=float, default=0.0,
                    help="also run mailferry and mbsync through a proxy adding this latency each way")
    ap.add_argument("--rate-mbit", type=float, default=0.0,
                    help="with --delay-ms: the proxy is also a link of this many Mbit/s each way, "
                         "and Dovecot offers COMPRESS=DEFLATE")
    ap.add_argument("--no-condstore", action="store_true",
                    help="Dovecot without CONDSTORE, LIST-STATUS and ESEARCH, like Exchange")
    ap.add_argument("--gmail", action="store_true",
                    help="only the Gmail-like row: an emulated Gmail account with labels, "
                         "mailferry and mbsync (gmail_bench.py)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--before", help="a mailferry binary built from an earlier commit: adds the tool "
                                     "mailferry-before, run side by side with this build")
    ap.add_argument("--workdir", help="parent of the work directory (default: $TMPDIR or /tmp)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per tool run")
    ap.add_argument("--server-dir", help="parent of Dovecot's directory: a path, or 'tmp' for "
                    "the default temp dir (default: /dev/shm when the clones fit in memory)")
    args = ap.parse_args()
    if args.gmail:      # no Dovecot: needs neither root nor the corpus
        import gmail_bench
        return gmail_bench.run(args)
    if args.messages is None:
        args.messages = 10000
    if os.geteuid() != 0:
        print("bench.py starts Dovecot and must run as root", file=sys.stderr)
        return 2
    if args.messages < 10 or args.folders < 1:
        ap.error("--messages must be >= 10, --folders >= 1")
    names = [n for n in selected(args.only) if n != "mailferry-before" or args.before]
    ctx = Context()
    ctx.args = args
    ctx.failed = False
    ctx.body_cache = {}
    ctx.work = tempfile.mkdtemp(prefix="mfbench-", dir=args.workdir)
    ctx.folders = folder_list(args.folders)
    global LAUNCHER, LOAD_AT_START, MAILFERRY_ORIGIN
    LAUNCHER = build_launcher(ctx.work)
    with open("/proc/loadavg") as f:
        LOAD_AT_START = " ".join(f.read().split()[:3])
    for _ in range(120):          # a concurrent rebuild may be relinking it
        if os.access(h.mailferry_path(), os.X_OK):
            break
        time.sleep(1)
    if not os.access(h.mailferry_path(), os.X_OK):
        print(f"{h.mailferry_path()} not built: cmake --build build", file=sys.stderr)
        shutil.rmtree(ctx.work, ignore_errors=True)
        return 2
    # Work on a copy: a rebuild during the run must not change the binary
    # between the full backup and the rerun.
    ctx.mailferry_origin = h.mailferry_path()
    snapshot = os.path.join(ctx.work, "mailferry.bin")
    shutil.copy2(ctx.mailferry_origin, snapshot)
    os.environ["MAILFERRY"] = snapshot
    MAILFERRY_ORIGIN = ctx.mailferry_origin
    if args.before:
        MailferryBefore.binary = os.path.join(ctx.work, "mailferry-before.bin")
        shutil.copy2(args.before, MailferryBefore.binary)
    machine = machine_text(ctx.work)
    t_start = time.monotonic()
    skipped: dict[str, str] = {}
    proxy = None
    try:
        n_users = len(names) + 3 + (3 if args.delay_ms > 0 else 0)
        root = server_root(args, n_users)
        zlib = ZLIB_CONFIG if args.rate_mbit > 0 else ""
        plain = NO_CONDSTORE_CONFIG if args.no_condstore else ""
        dc = start_dovecot_in(root, "mail_max_userip_connections = 50\n" + zlib + plain)
        ctx.server_where = f"Dovecot 127.0.0.1, mail in {dc.tmp}" + \
            (" (tmpfs)" if root == "/dev/shm" else "")
        with dc:
            ctx.dc = dc
            log(f"{ctx.server_where} (imaps {dc.imaps_port}, pop3s {dc.pop3s_port}); "
                f"work dir {ctx.work}")
            dc.add_user("base", PASSWORD)
            t0 = time.monotonic()
            stats = load_corpus(dc, "base", args.messages, args.folders)
            ctx.added = added_messages(args.messages)
            log(f"corpus loaded in {time.monotonic() - t0:.1f}s")
            for name in names:
                if name == "mailferry-mbox":
                    why = mbox_available(ctx)
                else:
                    why = tool_available(name)
                if why:
                    skipped[name] = why
                    log(f"skipping {name}: {why}")
            tools = []
            for name in names:
                if name in skipped:
                    continue
                user = "base" if name == "cp" else "u-" + name
                if user != "base":
                    clone_user(dc, "base", user)
                tools.append(TOOL_CLASSES[name](ctx, user))
            slow_tools = []
            slow_restore = None
            if args.delay_ms > 0:
                slow_names = [n for n in ("mailferry", "mailferry-1conn", "mailferry-nocompress",
                                          "mbsync-fsync", "mbsync-nofsync")
                              if n in names and n not in skipped]
                if slow_names:
                    proxy = start_delay_proxy(ctx.work, dc.imaps_port, args.delay_ms, args.rate_mbit)
                    ctx.proxy = proxy
                    log(f"slow link: delay proxy {proxy.kind} on port {proxy.port}")
                    for name in slow_names:
                        clone_user(dc, "base", "s-" + name)
                        slow_tools.append(TOOL_CLASSES[name](ctx, "s-" + name, port=proxy.port,
                                                             label="slow-" + name))
            os.sync()
            wait_for_fast_file_creation(ctx.work)
            log("clones ready; running")
            res = run_section(ctx, "main", tools)
            slow = {}
            if slow_tools:
                slow_raw = run_section(ctx, f"delay {args.delay_ms:g} ms", slow_tools)
                slow = {(k[0].removeprefix("slow-"), k[1]): v for k, v in slow_raw.items()}
                slow_restore = shaped_restore(ctx, slow_tools, proxy) if args.rate_mbit > 0 else None
                proxy.close()
            restore = None
            restore_note = ""
            help_text = subprocess.run([h.mailferry_path(), "--help"], capture_output=True,
                                       text=True).stdout
            has_restore = re.search(r"^\s+restore\b", help_text, re.M)
            if not has_restore:
                restore_note = "restore: not available in this build"
            elif "mailferry" not in names or "mbsync-nofsync" not in names:
                restore_note = "restore: skipped (needs mailferry and mbsync-nofsync selected)"
            else:
                restore = restore_comparison(
                    ctx, next(t.archive for t in tools if t.name == "mailferry"),
                    next(t.archive for t in tools if t.name == "mbsync-nofsync"))
            log("stopping Dovecot")
            remove_tree(os.path.join(dc.tmp, "mail"))
        log("Dovecot stopped")
        # ------------------------------------------------------------ report
        rows = []
        for name in names:
            if name in skipped:
                rows.append(dict(tool=name, skipped=skipped[name]))
            for step in STEPS:
                if (name, step) in res:
                    rows.append(res[(name, step)])
        print()
        print(f"mailferry benchmark — {args.messages} messages in {args.folders} folders, "
              f"{stats['bytes'] / 1e6:.0f} MB (mean {stats['bytes'] / args.messages / 1e3:.1f} KB, "
              f"largest {stats['max'] / 1e6:.1f} MB, {stats['attachments']} multi-MB attachments), "
              f"{stats['unread']} unread, {stats['flagged']} flagged; "
              f"+{ADDED} new in INBOX for step add100")
        print("folders: " + ", ".join(f"{f} {n}" for f, n in stats["folders"].items())
              + f"; POP3 tools see INBOX only ({stats['folders'].get('INBOX', 0)} messages)")
        print(machine)
        print(f"server: {ctx.server_where}")
        print()
        print(fmt_table(rows))
        if slow:
            print()
            print(f"slow link: every byte {args.delay_ms:g} ms late each way "
                  f"(TCP proxy: {proxy.kind}; IMAPS)")
            print(fmt_table([slow_raw[(t.label, st)] for t in slow_tools for st in STEPS
                             if (t.label, st) in slow_raw]))
            if any(r.get("wire") for r in slow_raw.values()):
                print()
                print("\n".join(link_lines(slow_raw, slow_tools, args.rate_mbit, args.delay_ms)))
        print()
        if restore:
            print("\n".join(restore_lines(restore, args.messages + ADDED)))
        else:
            print(restore_note)
        if slow_restore:
            print()
            print("\n".join(restore_lines(slow_restore, args.messages + ADDED, args.rate_mbit,
                                         args.delay_ms)))
        print()
        print("ratios (mailferry / peer; < 1 means mailferry is faster or smaller):")
        print("\n".join(ratio_lines(res, slow, restore, args.rate_mbit, slow_restore, args.delay_ms)))
        failed = [r for r in list(res.values()) + list(slow.values())
                  if not r.get("skipped") and not r["ok"]]
        print()
        print(f"bench time {time.monotonic() - t_start:.0f} s; "
              + (f"{len(failed)} run(s) FAILED verification or crashed: "
                 + ", ".join(f"{r['tool']}/{r['step']}" for r in failed) if failed
                 else "every result verified against the server"))
        if args.keep:
            print(f"work directory kept: {ctx.work}")
        return 1 if failed or ctx.failed else 0
    finally:
        if proxy is not None:
            proxy.close()
        if not args.keep:
            log("removing the work directory")
            remove_tree(ctx.work)
            log("done")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except h.HarnessError as e:     # the test server, not a tool, failed
        print(f"bench: {e}", file=sys.stderr)
        sys.exit(2)
