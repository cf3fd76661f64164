"""The benchmark's Gmail-like row (issue 19): one emulated Gmail account
(tests/e2e/providers.py, GmailImap) backed up by mailferry and by mbsync, for
what a label costs: Gmail shows a message once per label, as a folder, and
once more in All Mail, so a client that downloads each folder's copy
downloads every message about 2.2 times.

    python3 tests/bench/bench.py --gmail [--messages N]     # default 2000

N distinct messages (fixed seed, 0.6-200 KB, mean ~15 KB), each in All Mail
and in about 1.2 other label folders: INBOX or Sent Mail, Important,
Starred, and one of a few user labels. Each tool backs up its own fresh
emulator, through delayproxy.c with no delay (it counts the bytes on the
wire), then reruns once with nothing new.

Printed per tool and step: bodies downloaded (BODY[] answers the emulator
sent), their bytes, bodies per distinct message, bytes per distinct
message byte, the wire bytes both ways, the archive's message files and
their distinct inodes, its size on disk (du, a hard link counted once) per
distinct message byte, and whether every label folder holds exactly its
messages. The emulator is Python (a thread per connection, one GIL): wall
time is mostly its own, so the row is about counts and bytes, not time.

mbsync gets its default configuration for a whole account (Patterns *,
Sync Pull, Create Near, FSync yes), with SSLType None and AuthMechs LOGIN
because the emulator speaks plain IMAP."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time

import bench as b
from providers import GMAIL_CAPABILITY, GmailImap, GmailMessage

SEED = 20261207
PASSWORD = "gmail-bench-pw-5150"
DEFAULT_MESSAGES = 2000
# mailferry-1conn: one folder at a time (--connections 1), where the
# default opens up to four folders at once, each on its own connection.
TOOLS = ("mailferry", "mailferry-1conn", "mbsync")
USER_LABELS = ["Work", "Family", "Receipts", "Travel", "Newsletters"]
WORDS = ("the quick brown fox jumps over a lazy dog while seven label copies wait in "
         "all mail for one download").split()


class BenchGmail(GmailImap):
    """GmailImap as the bench needs it. Folder names go out quoted in LIST,
    as Gmail sends them (the MailKit issue 1396 log cited in providers.py):
    isync 1.4.4 loses its place in a LIST answer after a \\Noselect name sent
    as a literal. No COMPRESS=DEFLATE, which the emulator does not speak
    (mbsync stops at its BAD). UIDNEXT in EXAMINE, which FakeImap leaves out.
    CONDSTORE is announced as Gmail does, but there is no HIGHESTMODSEQ: a
    rerun by mailferry takes its path for a server without CONDSTORE. A UID
    FETCH answer is joined once: appending a batch's bodies one by one to a
    bytes object copies the whole answer again for each."""

    def __init__(self, messages, user_labels=()):
        super().__init__(messages, user_labels=user_labels,
                         capability=GMAIL_CAPABILITY.replace(b" COMPRESS=DEFLATE", b""))

    def _recv(self, state) -> bytes:
        """Waits for a command as long as RFC 3501's autologout timer (5.4: at
        least 30 minutes), where FakeImap's sockets give up after 10 s: mbsync
        fsyncs the messages of a folder after fetching them all, and on a busy
        disk the session idles longer than that."""
        deadline = time.monotonic() + 30 * 60
        while True:
            try:
                return super()._recv(state)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def _answer(self, tag, rest, selected):
        """EXAMINE and SELECT with UIDNEXT, as RFC 3501 6.3.1 requires and
        Gmail gives it: without it a rerun cannot tell new mail from old and
        lists every folder whole."""
        out, now = super()._answer(tag, rest, selected)
        verb = rest.split(b" ", 1)[0].upper()
        if verb in (b"EXAMINE", b"SELECT") and now in self.folders and isinstance(out, bytes):
            out = out.replace(b"* OK [UIDVALIDITY", b"* OK [UIDNEXT %d] Predicted next UID\r\n* OK [UIDVALIDITY"
                              % (len(self.folders[now]) + 1), 1)
        return out, now

    def _list_with_attributes(self, tag, with_status: bool):
        out = []
        for name in self.folders:
            attrs = self.list_attributes.get(name, b"")
            out.append(b"* LIST (" + attrs + b') "/" "' + name + b'"\r\n')
            if with_status and b"\\NOSELECT" not in attrs.upper():
                out.append(b'* STATUS "' + name + b'" (MESSAGES %d)\r\n' % len(self.folders[name]))
        return b"".join(out) + self.ok(tag, b"LIST")

    def _uid_fetch(self, tag, uid_set, upper, folder):
        uids = sorted(self.uid_set(uid_set, len(self.folders[folder])))
        out = [b"* %d FETCH (" % uid + b" ".join(self.fetch_parts(folder, uid, upper)) + b")\r\n"
               for uid in uids]
        return b"".join(out) + self.ok(tag, b"FETCH")

    def body_bytes_sent(self) -> int:
        return sum(len(self.folders[f][uid - 1]) for f, uid in self.bodies_sent)


def message(i: int, size: int, rng: random.Random) -> bytes:
    head = (f"From: Sender {i % 97} <s{i % 97}@example.org>\r\nTo: me@gmail.example\r\n"
            f"Subject: message {i}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            f"Message-ID: <gmbench-{i}@example.org>\r\n\r\n").encode()
    lines, have = [], len(head)
    while have < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)).encode() + b"\r\n"
        lines.append(line)
        have += len(line)
    return head + b"".join(lines)


def labels_of(rng: random.Random) -> set:
    """About 1.2 labels besides All Mail, in the issue's proportions."""
    labels = set()
    r = rng.random()
    if r < 0.15:
        labels.add("\\Sent")
    elif r < 0.65:
        labels.add("\\Inbox")
    if rng.random() < 0.25:
        labels.add("\\Important")
    if rng.random() < 0.05:
        labels.add("\\Starred")
    if rng.random() < 0.25:
        labels.add(rng.choice(USER_LABELS))
    return labels


def account(n: int) -> list[GmailMessage]:
    rng = random.Random(SEED)
    out = []
    for i in range(1, n + 1):
        r = rng.random()
        size = rng.randint(600, 8000) if r < 0.7 else rng.randint(8000, 40000) if r < 0.95 \
            else rng.randint(40000, 200000)
        out.append(GmailMessage(message(i, size, rng), labels=labels_of(rng)))
    return out


def disk_bytes(root: str) -> tuple[int, int, int]:
    """(bytes allocated, a hard link counted once, as du does; message files;
    their distinct inodes)."""
    seen, total, files, inodes = set(), 0, 0, set()
    for dirpath, _, filenames in os.walk(root):
        for path in [dirpath] + [os.path.join(dirpath, f) for f in filenames]:
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
            if os.path.basename(os.path.dirname(path)) in ("cur", "new") and path != dirpath:
                files += 1
                inodes.add((st.st_dev, st.st_ino))
    return total, files, len(inodes)


def check_folders(entries, srv: BenchGmail) -> str:
    """'ok' if each label folder holds its messages once, with their sizes."""
    want = {name.decode(): sorted((b._mid(m), len(m)) for m in msgs)
            for name, msgs in srv.folders.items() if msgs}
    got: dict[str, list] = {}
    for e in entries:
        got.setdefault(e.folder, []).append((e.mid, e.size))
    got = {f: sorted(v) for f, v in got.items()}
    bad = sorted(f for f in set(want) | set(got) if want.get(f) != got.get(f))
    return "ok" if not bad else "FAIL: " + ", ".join(bad[:4])


def mbsync_config(archive: str, port: int) -> str:
    return f"""IMAPAccount gmail
Host 127.0.0.1
Port {port}
User u
Pass {PASSWORD}
SSLType None
AuthMechs LOGIN

IMAPStore far
Account gmail

MaildirStore near
Path {archive}/
Inbox {archive}/INBOX
SubFolders Verbatim

Channel gmail
Far :far:
Near :near:
Patterns *
Create Near
Sync Pull
Expunge None
SyncState *
"""


def command(tool: str, work: str, archive: str, port: int) -> tuple[list, dict, object]:
    """argv, environment and the strip function of what the tool stores."""
    if tool.startswith("mailferry"):
        extra = ["--connections", "1"] if tool == "mailferry-1conn" else []
        return ([b.h.mailferry_path(), "backup", f"imap://u@127.0.0.1:{port}", archive, "--allow-plaintext",
                 "--password-env", "MFBENCH_PASSWORD", "-q", *extra],
                dict(os.environ, MFBENCH_PASSWORD=PASSWORD), None)
    rc = os.path.join(work, "mbsyncrc")
    b.write_private(rc, mbsync_config(archive, port))
    os.makedirs(archive, exist_ok=True)
    return ["mbsync", "-c", rc, "-a", "-q"], dict(os.environ), b.strip_xtuid


def counting_proxy(work: str, port: int):
    """delayproxy.c with no delay, for its byte counts; None if it will not build."""
    exe = os.path.join(work, "delayproxy")
    if not os.path.exists(exe):
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc or subprocess.run([cc, "-O2", "-pthread", "-o", exe, os.path.join(b.HERE, "delayproxy.c")],
                                    capture_output=True).returncode:
            return None
    try:
        return b.CDelayProxy(exe, port, 0, work)
    except OSError:
        return None


def run_tool(tool: str, messages: list, work: str, timeout: float) -> list[dict]:
    """Full backup and no-op rerun against one fresh emulator."""
    tdir = os.path.join(work, tool)
    os.makedirs(tdir)
    archive = os.path.join(tdir, "archive")
    rows = []
    with BenchGmail(messages, user_labels=USER_LABELS) as srv:
        proxy = counting_proxy(work, srv.port)
        try:
            argv, env, strip = command(tool, tdir, archive, proxy.port if proxy else srv.port)
            for step in ("full", "noop"):
                sent0, bytes0 = len(srv.bodies_sent), srv.body_bytes_sent()
                wire0 = proxy.stats() if proxy else None
                m = b.run_measured(argv, env=env, cwd=tdir, timeout=timeout,
                                   log_prefix=os.path.join(tdir, step))
                wire1 = proxy.stats() if proxy else None
                disk, files, inodes = disk_bytes(archive)
                ok = m.rc == 0 and not m.timed_out
                rows.append(dict(tool=tool, step=step, wall=m.wall, rc=m.rc, stderr=m.stderr,
                                 bodies=len(srv.bodies_sent) - sent0, bytes=srv.body_bytes_sent() - bytes0,
                                 wire={k: wire1[k] - wire0[k] for k in wire1} if wire0 and wire1 else None,
                                 disk=disk, files=files, inodes=inodes,
                                 folders=check_folders(b.scan_maildir(archive, strip), srv) if ok
                                 else f"exit status {m.rc}"))
                b.log(f"gmail: {tool:15s} {step:4s} {m.wall:6.2f}s  {rows[-1]['bodies']} bodies  "
                      f"folders {rows[-1]['folders']}")
        finally:
            if proxy:
                proxy.close()
    return rows


def table(rows: list, n: int, distinct_bytes: int) -> list[str]:
    head = (f"{'tool':15s} {'step':5s} {'bodies':>7s} {'/msg':>5s} {'body MB':>8s} {'/byte':>6s} "
            f"{'wire down MB':>12s} {'up KB':>7s} {'files':>6s} {'inodes':>6s} {'disk MB':>8s} {'/byte':>6s} "
            f"{'wall s':>7s}  folders")
    out = [head, "-" * len(head)]
    for r in rows:
        w = r["wire"]
        wire = f"{w['s2c'] / 1e6:12.3f} {w['c2s'] / 1e3:7.1f}" if w else f"{'n/a':>12s} {'n/a':>7s}"
        out.append(f"{r['tool']:15s} {r['step']:5s} {r['bodies']:7d} {r['bodies'] / n:5.2f} "
                   f"{r['bytes'] / 1e6:8.2f} {r['bytes'] / distinct_bytes:6.2f} {wire} "
                   f"{r['files']:6d} {r['inodes']:6d} {r['disk'] / 1e6:8.2f} {r['disk'] / distinct_bytes:6.2f} "
                   f"{r['wall']:7.2f}  {r['folders']}")
    return out


def picks(name: str, tool: str) -> bool:
    """As bench.py's --only: a name and the names that start with it and a
    dash; "=name" that tool alone."""
    if name.startswith("="):
        return tool == name[1:]
    return tool == name or tool.startswith(name + "-")


def run(args) -> int:
    n = args.messages or DEFAULT_MESSAGES
    tools = [t for t in TOOLS if not args.only or any(picks(o, t) for o in args.only.split(","))]
    if "mbsync" in tools and not shutil.which("mbsync"):
        b.log("skipping mbsync: not installed (apt-get install -y isync)")
        tools.remove("mbsync")
    work = tempfile.mkdtemp(prefix="mfbench-gmail-", dir=args.workdir)
    b.LAUNCHER = b.build_launcher(work)
    snapshot = os.path.join(work, "mailferry.bin")    # as bench.py: a rebuild must not change it mid-run
    shutil.copy2(b.h.mailferry_path(), snapshot)
    os.environ["MAILFERRY"] = snapshot
    try:
        messages = account(n)
        srv = BenchGmail(messages, user_labels=USER_LABELS)     # for its folders only, not started
        copies = {name.decode(): len(msgs) for name, msgs in srv.folders.items() if msgs}
        distinct_bytes = sum(len(m.body) for m in messages)
        rows = [r for t in tools for r in run_tool(t, messages, work, args.timeout)]
        print()
        print(f"Gmail-like account (emulated: tests/e2e/providers.py GmailImap; plain IMAP, no COMPRESS): "
              f"{n} distinct messages, {distinct_bytes / 1e6:.1f} MB; {sum(copies.values())} label copies, "
              f"{sum(copies.values()) / n:.2f} per message")
        print("folders: " + ", ".join(f"{f} {c}" for f, c in copies.items()))
        print("The emulator is Python: wall times are mostly its own. Compare counts and bytes, not time.")
        print("/msg: per distinct message; /byte: per distinct message byte; disk: du, a hard link once")
        print()
        print("\n".join(table(rows, n, distinct_bytes)))
        failed = [r for r in rows if r["folders"] != "ok"]
        for r in failed:
            print(f"{r['tool']} {r['step']}: {r['stderr'].strip()[-300:]}")
        if args.keep:
            print(f"work directory kept: {work}")
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit("run it as: python3 tests/bench/bench.py --gmail [--messages N]")
