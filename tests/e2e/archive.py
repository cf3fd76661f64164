"""Reading a mailferry archive back, independently of mailferry, so tests can
compare it with the server message by message."""

from __future__ import annotations

import os
import re

_FLAG_LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
_NAME = re.compile(r"^(?P<base>[^,:]+)(?P<fields>[^:]*):2,(?P<info>[A-Za-z]*)$")


def lf_to_crlf(data: bytes) -> bytes:
    """The inverse of the archive's CRLF -> LF conversion."""
    return data.replace(b"\n", b"\r\n")


def keywords_of(maildir: str) -> dict[str, str]:
    """letter -> keyword, from Dovecot's dovecot-keywords file."""
    table = {}
    path = os.path.join(maildir, "dovecot-keywords")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                num, _, word = line.strip().partition(" ")
                if num.isdigit() and word:
                    table[chr(ord("a") + int(num))] = word
    return table


def read_maildir(maildir: str) -> dict[int, dict]:
    """UID (or POP3 UIDL) -> {data (CRLF), flags, mtime, name} for one Maildir folder."""
    out = {}
    kw = keywords_of(maildir)
    for sub in ("cur", "new"):
        d = os.path.join(maildir, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            m = _NAME.match(name)
            assert m, f"unexpected file name {name!r} in {d}"
            fields = dict(f.split("=", 1) for f in m.group("fields").split(",") if "=" in f)
            # IMAP UIDs are numbers; POP3 UIDLs are kept as (escaped) text.
            uid = int(fields["U"]) if fields["U"].isdigit() else fields["U"]
            assert uid not in out, f"UID {uid} stored twice in {maildir}"
            path = os.path.join(d, name)
            flags = {(_FLAG_LETTERS.get(c) or kw.get(c)) for c in m.group("info")}
            with open(path, "rb") as f:
                data = f.read()
            out[uid] = {
                "data": lf_to_crlf(data),
                "flags": {f for f in flags if f},
                "mtime": int(os.stat(path).st_mtime),
                "name": name,
                "size": int(fields.get("W", -1)),
            }
    return out


def folder_dirs(archive: str) -> dict[str, str]:
    """folder name ('Work/Projects') -> Maildir path, for every Maildir below archive."""
    out = {}
    for root, dirs, files in os.walk(archive):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("cur", "new", "tmp")]
        if os.path.isdir(os.path.join(root, "cur")):
            out[os.path.relpath(root, archive)] = root
    return out


def tmp_files(archive: str) -> list[str]:
    """Files left in any tmp/ directory (a crashed run's remains)."""
    left = []
    for root, dirs, files in os.walk(archive):
        if os.path.basename(root) == "tmp":
            left += [os.path.join(root, f) for f in files]
    return left


def read_mboxrd(path: str) -> list[bytes]:
    """Messages of an mboxrd file, with quoting undone and CRLF restored."""
    with open(path, "rb") as f:
        data = f.read()
    messages, current = [], None
    for line in data.split(b"\n"):
        if line.startswith(b"From ") and (current is None or (current and current[-1] == b"")):
            if current is not None:
                messages.append(current[:-1])  # drop the separator's blank line
            current = []
            continue
        if current is None:
            continue
        stripped = line.lstrip(b">")
        if stripped.startswith(b"From ") and len(stripped) < len(line):
            line = line[1:]
        current.append(line)
    if current is not None:
        if current and current[-1] == b"":
            current = current[:-1]  # the file's final newline
        messages.append(current[:-1] if current and current[-1] == b"" else current)
    return [b"".join(l + b"\r\n" for l in m) for m in messages]


def mbox_files(archive: str) -> dict[str, str]:
    """folder name -> mbox path, for every *.mbox below archive."""
    out = {}
    for root, dirs, files in os.walk(archive):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            if f.endswith(".mbox"):
                out[os.path.relpath(os.path.join(root, f[:-5]), archive)] = os.path.join(root, f)
    return out
