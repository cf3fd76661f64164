"""mfharness: a throwaway Dovecot and helpers for mailferry's end-to-end tests.

Each :class:`Dovecot` is a private server on 127.0.0.1: its own temporary
directory (config, certificate, mail, sockets, log) and its own four free
ports (IMAP with STARTTLS, IMAPS, POP3 with STLS, POP3S).  Nothing of the
system's Dovecot is used or touched, so two test runs on one machine never
meet.  It needs root (Dovecot's master drops privileges itself: logins run as
``dovenull``, mail access as ``dovecot``), Dovecot 2.3 and openssl.

Typical use in a test::

    with Dovecot() as dc:                       # or start() + addCleanup(stop)
        dc.add_user("alice", "secret")
        sample = sample_mailbox(dc, "alice")    # folder -> [Message]
        r = run_mailferry(["backup", dc.url("imaps", "alice"), archive,
                           "--cacert", dc.cacert,
                           "--password-env", "MF_TEST_PASSWORD"],
                          password="secret")
        assert dc.unseen("alice", "INBOX") == 2  # the backup set no \\Seen

How the harness looks at the server, and why:

* Mail is written and read through ``doveadm exec imap -u USER``, a
  pre-authenticated IMAP session on a pipe.  That needs no password and no
  network, leaves no \\Seen behind (EXAMINE + BODY.PEEK[]), sees exactly what
  a network client would see (CRLF line ends, INTERNALDATE, flags), and loads
  thousands of messages with one MULTIAPPEND command.
* Folder-level facts and changes (list, status, expunge, flags, UIDVALIDITY)
  go through ``doveadm -c CONF ...`` commands.

Folder layout: ``mail_location = maildir:TMP/mail/%u:LAYOUT=fs`` with an
INBOX namespace whose hierarchy separator is ``/`` (or what the constructor
is given).  LAYOUT=fs keeps one directory per folder, so nested names
("Work/Projects"), dots ("a.b") and non-ASCII names (stored on disk in
modified UTF-7) all work.  Folder names in this API are ordinary Python str
(UTF-8); the conversion to IMAP's modified UTF-7 happens here.

Surprise worth knowing: Dovecot 2.3 treats a connection whose remote address
equals its local address as "secured", so from 127.0.0.1 to 127.0.0.1 plain
LOGIN works even with ``disable_plaintext_auth = yes``.  To see the refusal
(LOGINDISABLED, [PRIVACYREQUIRED]) a client must connect from another
loopback address, e.g. :data:`INSECURE_SOURCE` (127.0.0.2); the server still
listens on 127.0.0.1 only.

Other behaviour tests may meet: a failed login answers after up to 0.5 s
(Dovecot flushes auth failures on a 0.5 s timer even with
``auth_failure_delay = 0``); the auth penalty for repeated failures is off,
so a wrong-password test does not slow the tests after it; a second
``add_user`` of the same name (password change) can take up to a second to
be accepted, add_user waits for it.
"""

from __future__ import annotations

import atexit
import base64
import dataclasses
import datetime as _dt
import email.utils
import imaplib
import os
import poplib
import pwd
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import random
import tempfile
import unittest
import time
from typing import Iterable, Mapping, Sequence

__all__ = [
    "HOST", "INSECURE_SOURCE", "SEPARATOR", "SAMPLE_FOLDERS", "TRICKY_LINES",
    "HarnessError", "Message", "Dovecot",
    "free_port", "make_message", "sample_mailbox",
    "run_mailferry", "mailferry_path",
    "imap_utf7_encode", "imap_utf7_decode", "imap_mailbox",
]

DOVECOT_BIN = "/usr/sbin/dovecot"
DOVEADM_BIN = "/usr/bin/doveadm"
OPENSSL_BIN = "openssl"
DH_PARAMS = "/usr/share/dovecot/dh.pem"   # Debian ships it; avoids a startup warning
DEFAULT_MAILFERRY = "/work/main/build/cli/mailferry"

HOST = "127.0.0.1"
#: A loopback address to connect *from* when a test needs Dovecot to treat the
#: connection as insecure (see the module docstring).
INSECURE_SOURCE = "127.0.0.2"
SEPARATOR = "/"
MAIL_USER = "dovecot"       # owns all mail (default_internal_user and userdb uid)
LOGIN_USER = "dovenull"     # unprivileged, chrooted login processes

TMP_PREFIX = "mfdovecot-"
OWNER_FILE = "owner.pids"  # "TEST_PID DOVECOT_PID", for _sweep_stale_dirs

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
COMMAND_TIMEOUT = 60.0
CLIENT_TIMEOUT = 10.0


class HarnessError(RuntimeError):
    """The test server could not do what was asked (not a mailferry failure)."""


# ---------------------------------------------------------------------------
# small utilities

def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    There is a window between closing this socket and Dovecot binding the
    port; :meth:`Dovecot.start` retries with fresh ports if it loses the race.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def mailferry_path() -> str:
    """The binary under test: $MAILFERRY (ctest sets it) or the default build."""
    return os.environ.get("MAILFERRY", DEFAULT_MAILFERRY)


def run_mailferry(args: Sequence, password: str | None = None,
                  env: Mapping[str, str] | None = None, timeout: float = 60,
                  input: str | None = None) -> subprocess.CompletedProcess:
    """Run mailferry with ``args``; stdout/stderr come back as text.

    A password travels in the environment variable MF_TEST_PASSWORD (the
    caller adds ``--password-env MF_TEST_PASSWORD`` to args), never in argv,
    where any user of the machine could read it.  Refuses to run if the
    password appears in args anyway.
    """
    argv = [mailferry_path(), *map(str, args)]
    child_env = dict(os.environ)
    child_env.update(env or {})
    if password is not None:
        if any(password in a for a in argv[1:]):
            raise ValueError("password must not appear in mailferry's argv")
        child_env["MF_TEST_PASSWORD"] = password
    return subprocess.run(argv, env=child_env, input=input, timeout=timeout,
                          capture_output=True, text=True, errors="replace")


# ---------------------------------------------------------------------------
# modified UTF-7 (RFC 3501 section 5.1.3), which IMAP uses for folder names

def imap_utf7_encode(name: str) -> str:
    """'Reçus' -> 'Re&AOc-us'; '&' -> '&-'."""
    out, pending = [], []

    def flush():
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def imap_utf7_decode(name: str) -> str:
    """'Re&AOc-us' -> 'Reçus'."""
    def decode(m: re.Match) -> str:
        b64 = m.group(1)
        if not b64:
            return "&"
        b64 = b64.replace(",", "/")
        return base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be")
    return re.sub(r"&([A-Za-z0-9+,]*)-", decode, name)


def _imap_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_mailbox(folder: str) -> str:
    """A folder name as an IMAP astring argument (quoted, modified UTF-7)."""
    return _imap_quote(imap_utf7_encode(folder))


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _as_datetime(date) -> _dt.datetime:
    """datetime (naive = UTC), epoch seconds, or RFC 5322 date string."""
    if isinstance(date, _dt.datetime):
        return date if date.tzinfo else date.replace(tzinfo=_dt.timezone.utc)
    if isinstance(date, (int, float)):
        return _dt.datetime.fromtimestamp(date, _dt.timezone.utc)
    if isinstance(date, str):
        return email.utils.parsedate_to_datetime(date)
    raise TypeError(f"not a date: {date!r}")


def _imap_date(date) -> str:
    """IMAP date-time ("01-Jan-2024 10:00:00 +0000"), quoted; no locale involved."""
    d = _as_datetime(date)
    off = int(d.utcoffset().total_seconds()) // 60
    sign = "-" if off < 0 else "+"
    off = abs(off)
    return (f'"{d.day:02d}-{_MONTHS[d.month - 1]}-{d.year:04d} '
            f'{d.hour:02d}:{d.minute:02d}:{d.second:02d} {sign}{off // 60:02d}{off % 60:02d}"')


def _parse_imap_date(text: str) -> _dt.datetime:
    m = re.fullmatch(r"\s*(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", text)
    if not m:
        raise HarnessError(f"bad INTERNALDATE {text!r}")
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    offset = _dt.timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    return _dt.datetime(int(year), _MONTHS.index(mon.capitalize()) + 1, int(day),
                        int(hh), int(mm), int(ss), tzinfo=_dt.timezone(offset))


def _flag_list(flags) -> tuple[str, ...]:
    """Flags given as "\\Seen \\Flagged" or as an iterable of names."""
    if flags is None:
        return ()
    if isinstance(flags, str):
        return tuple(flags.split())
    return tuple(flags)


def _uid_set(uids) -> str:
    if isinstance(uids, int):
        return str(uids)
    if isinstance(uids, str):
        return uids
    return ",".join(str(u) for u in uids)


def _parse_uid_set(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


# ---------------------------------------------------------------------------
# messages

@dataclasses.dataclass
class Message:
    """A message with its IMAP metadata.

    As input to :meth:`Dovecot.save_many`, ``uid`` is ignored and ``date``
    becomes INTERNALDATE (None: the server's clock).  As output of
    :meth:`Dovecot.messages`, every field is filled in (``data`` is None when
    bodies were not asked for).  ``flags`` never contains \\Recent.
    """
    data: bytes | None
    flags: frozenset = frozenset()
    date: _dt.datetime | None = None
    uid: int | None = None


_BASE_DATE = _dt.datetime(2024, 1, 1, 8, 0, 0, tzinfo=_dt.timezone.utc)
_SENDERS = ["Alice Example <alice@example.org>", "Bob Example <bob@example.org>",
            "Carol Example <carol@example.com>", "Dave Example <dave@example.net>"]


def make_message(i: int, size: int | None = None, subject: str | None = None,
                 body_lines: Iterable | None = None, date=None,
                 message_id: str | None = None,
                 headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A deterministic RFC 5322 message with CRLF line ends.

    The same arguments always give the same bytes.  Defaults: Date is
    2024-01-01 08:00 UTC plus ``i`` hours, Message-ID is
    ``<mf-test-I@mailferry.test>``.  ``body_lines`` are str (UTF-8) or bytes
    without line ends.  ``size``, if given, pads the body with filler lines so
    the whole message is exactly that many bytes (ValueError if the headers
    and body alone are already longer).
    """
    when = _as_datetime(date) if date is not None else _BASE_DATE + _dt.timedelta(hours=i)
    lines = [l.encode() if isinstance(l, str) else bytes(l) for l in (
        body_lines if body_lines is not None else
        [f"Hello, this is test message number {i}.", "",
         "It was made by mfharness.make_message and has a stable content", "so that archives can be compared byte for byte.", "", "-- ", "mailferry tests"])]
    eight_bit = any(b > 0x7F for line in lines for b in line)
    subject = subject if subject is not None else f"Test message {i}"
    head = [
        ("From", _SENDERS[i % len(_SENDERS)]),
        ("To", "Test User <user@example.net>"),
        ("Subject", _encode_header(subject)),
        ("Date", email.utils.format_datetime(when)),
        ("Message-ID", message_id or f"<mf-test-{i}@mailferry.test>"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=" + ("utf-8" if eight_bit else "us-ascii")),
        ("Content-Transfer-Encoding", "8bit" if eight_bit else "7bit"),
        *headers,
    ]
    if not lines:
        lines = [b""]
    header_bytes = b"".join(f"{k}: {v}\r\n".encode() for k, v in head) + b"\r\n"
    if size is not None:
        _pad_to_size(lines, size - len(header_bytes), i)
    return header_bytes + b"".join(l + b"\r\n" for l in lines)


def _encode_header(text: str) -> str:
    """RFC 2047 encoded-word for non-ASCII header text (subjects in tests)."""
    if text.isascii():
        return text
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def _pad_to_size(lines: list[bytes], body_size: int, i: int) -> None:
    """Append filler lines so that sum(len(line) + 2) == body_size."""
    need = body_size - sum(len(l) + 2 for l in lines)
    if need < 0:
        raise ValueError(f"message {i}: size is smaller than headers and body")
    n = 0
    while need > 0:
        take = min(need, 78)            # 76 characters + CRLF per filler line
        if need - take == 1:
            take -= 1                   # never leave a single byte for last
        if take == 1:                   # only possible when need == 1 at start
            lines[-1] += b"~"
            break
        seed = f"{i:06d}.{n:06d} filler "
        text = (seed * (take // len(seed) + 1))[: take - 2]
        lines.append(text.encode())
        need -= take
        n += 1


# ---------------------------------------------------------------------------
# the server

_RUNNING: dict[int, "Dovecot"] = {}


@atexit.register
def _stop_all() -> None:
    """Never leave a Dovecot behind when the test process exits normally."""
    for server in list(_RUNNING.values()):
        try:
            server.stop()
        except Exception:
            pass


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the test process dies
    (covers SIGKILL by a ctest timeout, where atexit does not run)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except Exception:
        pass


class Dovecot:
    """A private Dovecot 2.3 on 127.0.0.1 for one test (or one test class).

    Use as a context manager, or ``start()`` + ``addCleanup(server.stop)``.

    separator:   hierarchy separator of the INBOX namespace ("/" or ".").
    extra_config: text appended to dovecot.conf, e.g. to change
                 ``imap_capability`` or ``mail_max_userip_connections``.
    rawlog:      record every IMAP session's traffic (client side in *.in)
                 under TMP/rawlog/USER; see :meth:`rawlog`.
    die_with_parent: SIGTERM the server when the thread that started it
                 exits (prctl PDEATHSIG); turn off if you start it from a
                 short-lived thread.
    """

    def __init__(self, separator: str = SEPARATOR, extra_config: str = "",
                 rawlog: bool = False, die_with_parent: bool = True):
        self.separator = separator
        self.extra_config = extra_config
        self.rawlog_enabled = rawlog
        self.die_with_parent = die_with_parent
        self.host = HOST
        self.tmp: str | None = None
        self.conf: str | None = None
        self.cacert: str | None = None
        self.log_path: str | None = None
        self.imap_port = self.imaps_port = self.pop3_port = self.pop3s_port = 0
        self.pid: int | None = None
        self._proc: subprocess.Popen | None = None
        self._passwords: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> "Dovecot":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "Dovecot":
        """Create the private directory, certificate and config; start Dovecot
        and wait until all four ports answer.  Raises HarnessError with the
        server log if it does not come up."""
        if self._proc is not None:
            return self
        if self.tmp is not None:
            raise HarnessError("a stopped Dovecot cannot start again; make a new one")
        _check_prerequisites()
        _sweep_stale_dirs()
        self.tmp = tempfile.mkdtemp(prefix=TMP_PREFIX, dir=_short_tmp_root())
        _RUNNING[id(self)] = self
        try:
            self._make_layout()
            self._make_certificate()
            for attempt in range(5):
                self._pick_ports()
                self._write_config()
                if self._launch_and_wait():
                    return self
            raise HarnessError("could not find free ports for Dovecot after 5 tries")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL to its process group after
        a few seconds), wait for every process of it to go, remove the
        temporary directory.  Safe to call twice or after a failed start."""
        self._terminate()
        if self.tmp and os.path.isdir(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)
        _RUNNING.pop(id(self), None)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _make_layout(self) -> None:
        """Directories and their owners.  The temp dir is traversable (0711) so
        that dovecot/dovenull can reach what lies below; mail and homes are
        owned by the mail user, nobody else can list them."""
        os.chmod(self.tmp, 0o711)
        uid, gid = _ids(MAIL_USER)
        for sub in ("run", "state"):
            os.mkdir(os.path.join(self.tmp, sub), 0o755)
        os.mkdir(os.path.join(self.tmp, "passwd.d"), 0o750)
        os.chown(os.path.join(self.tmp, "passwd.d"), 0, gid)
        for sub in ("mail", "home", "rawlog"):
            path = os.path.join(self.tmp, sub)
            os.mkdir(path, 0o700)
            os.chown(path, uid, gid)
        self.conf = os.path.join(self.tmp, "dovecot.conf")
        self.log_path = os.path.join(self.tmp, "dovecot.log")

    def _make_certificate(self) -> None:
        """A self-signed certificate for localhost and 127.0.0.1, valid two
        days; the certificate is its own CA (self.cacert, for CAINFO)."""
        self.cacert = os.path.join(self.tmp, "cert.pem")
        self._key = os.path.join(self.tmp, "key.pem")
        r = subprocess.run(
            [OPENSSL_BIN, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", self._key, "-out", self.cacert, "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-addext", "basicConstraints=critical,CA:TRUE"],
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        if r.returncode != 0:
            raise HarnessError("openssl req failed:\n" + r.stderr)
        os.chmod(self._key, 0o600)
        os.chmod(self.cacert, 0o644)

    def _write_passwd(self, user: str, password: str) -> None:
        """One passwd-file per user (passwd.d/USER), read by the auth process
        (runs as dovecot): group readable, written whole and renamed so that
        auth never sees half a file.  Per-user files because Dovecot looks at
        a passwd-file at most once a second: a user added to a shared file
        right after another lookup would be unknown for up to a second, while
        a new file is read at its first lookup."""
        path = os.path.join(self.tmp, "passwd.d", user)
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(f"{user}:{{PLAIN}}{password}\n")
        os.chown(tmp, 0, _ids(MAIL_USER)[1])
        os.chmod(tmp, 0o640)
        # Dovecot rereads when mtime or size differ; a password of the same
        # length written in the same second must still count as a change.
        old = os.stat(path).st_mtime if os.path.exists(path) else 0
        stamp = max(time.time(), old + 1)
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, path)

    def _pick_ports(self) -> None:
        ports = set()
        while len(ports) < 4:
            ports.add(free_port())
        self.imap_port, self.imaps_port, self.pop3_port, self.pop3s_port = ports

    def _write_config(self) -> None:
        with open(self.conf, "w") as f:
            f.write(self._render_config())

    def _render_config(self) -> str:
        t = self.tmp
        uid, gid = _ids(MAIL_USER)
        dh = f"ssl_dh = <{DH_PARAMS}\n" if os.path.exists(DH_PARAMS) else ""
        return f"""\
# Private Dovecot for mailferry tests; written by tests/e2e/mfharness.py.
# Self-contained: no system config is included.
base_dir = {t}/run
state_dir = {t}/state
log_path = {t}/dovecot.log
listen = {HOST}
protocols = imap pop3
# Login processes refuse to run as root; mail is accessed as dovecot.
default_login_user = {LOGIN_USER}
default_internal_user = {MAIL_USER}
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = {gid}

ssl = yes
ssl_cert = <{t}/cert.pem
ssl_key = <{t}/key.pem
{dh}ssl_min_protocol = TLSv1.2
# Plaintext LOGIN only after STARTTLS (but see INSECURE_SOURCE in mfharness).
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_verbose = yes
# Wrong-password tests should not wait Dovecot's default two seconds.
auth_failure_delay = 0

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {t}/passwd.d/%u
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={t}/home/%u
}}

mail_location = maildir:{t}/mail/%u:LAYOUT=fs
# Test data need no durability; this makes loading thousands of messages fast.
mail_fsync = never
mail_max_userip_connections = 20
pop3_uidl_format = %08Xu%08Xv
{"rawlog_dir = " + t + "/rawlog/%u" if self.rawlog_enabled else "# rawlog off"}

namespace inbox {{
  inbox = yes
  separator = {self.separator}
  mailbox Drafts {{
    special_use = \\Drafts
  }}
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox Trash {{
    special_use = \\Trash
  }}
  mailbox Junk {{
    special_use = \\Junk
  }}
}}

# No auth penalty: a wrong-password test must not slow the tests after it
# (Dovecot otherwise delays further logins from 127.0.0.1 by up to 15 s).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}

service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {HOST}
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = {HOST}
    port = {self.pop3s_port}
    ssl = yes
  }}
}}

{self.extra_config}
"""

    def _launch_and_wait(self) -> bool:
        """Start the master; True when ready, False if a port was taken in the
        meantime (caller retries with other ports), HarnessError otherwise."""
        for stale in (self.log_path, os.path.join(self.tmp, "dovecot.stderr")):
            if os.path.exists(stale):
                os.unlink(stale)
        with open(os.path.join(self.tmp, "dovecot.stderr"), "wb") as err:
            self._proc = subprocess.Popen(
                [DOVECOT_BIN, "-F", "-c", self.conf],
                stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None)
        self.pid = self._proc.pid
        with open(os.path.join(self.tmp, OWNER_FILE), "w") as f:
            f.write(f"{os.getpid()} {self.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                status, text = self._proc.returncode, self._startup_output()
                self._terminate()
                if "Address already in use" in text:
                    return False
                raise HarnessError(f"dovecot exited with status {status}:\n{text}")
            if self._is_ready():
                return True
            if time.monotonic() > deadline:
                text = self._startup_output()
                self._terminate()
                raise HarnessError(f"dovecot not ready after {START_TIMEOUT:.0f}s:\n{text}")
            time.sleep(0.05)

    def _is_ready(self) -> bool:
        """The master logs "starting up" only after binding all listeners, so
        the ports we then probe are ours and not another run's.  The probe
        reads real greetings, over TLS for the TLS ports."""
        if "starting up" not in self.log():
            return False
        try:
            return all(self._greets(port, tls, greeting)
                       for port, tls, greeting in ((self.imap_port, False, b"* OK"),
                                                   (self.imaps_port, True, b"* OK"),
                                                   (self.pop3_port, False, b"+OK"),
                                                   (self.pop3s_port, True, b"+OK")))
        except OSError:
            return False

    def _greets(self, port: int, tls: bool, greeting: bytes) -> bool:
        sock = socket.create_connection((HOST, port), timeout=2)
        try:
            if tls:
                sock = self.ssl_context().wrap_socket(sock, server_hostname=HOST)
            return sock.recv(200).startswith(greeting)
        finally:
            sock.close()

    def _startup_output(self) -> str:
        parts = []
        for path in (os.path.join(self.tmp, "dovecot.stderr"), self.log_path):
            try:
                with open(path, errors="replace") as f:
                    parts.append(f.read())
            except OSError:
                pass
        return "\n".join(p for p in parts if p).strip() or "(no output)"

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pgid = proc.pid          # start_new_session: the master leads its own group
        # SIGTERM to the whole group: the master alone waits a second for its
        # children, the group goes in milliseconds.  Mail needs no clean exit.
        # Signal the group only while it is surely ours: an unreaped master
        # keeps its PID, and Linux never reuses a PID that a live process
        # group still carries.
        if proc.poll() is None:
            _killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _killpg(pgid, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _group_members(pgid):
            if time.monotonic() > deadline:
                _killpg(pgid, signal.SIGKILL)
                time.sleep(0.1)
                break
            time.sleep(0.02)

    # -- users --------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Add a login, or change its password.  Returns once Dovecot accepts
        the new password (a change can take up to a second to be noticed)."""
        if not re.fullmatch(r"[A-Za-z0-9_+=@-][A-Za-z0-9_.+=@-]*", name):
            raise ValueError(f"user name {name!r}: use letters, digits and _.+=@-")
        if not password or any(c in password for c in ":\r\n\0") or password != password.strip():
            raise ValueError(f"password {password!r} cannot go into a passwd-file")
        self._passwords[name] = password
        self._write_passwd(name, password)
        rawlog_dir = os.path.join(self.tmp, "rawlog", name)
        os.makedirs(rawlog_dir, exist_ok=True)
        os.chown(rawlog_dir, *_ids(MAIL_USER))
        deadline = time.monotonic() + 3
        while self.doveadm("auth", "test", name, password, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise HarnessError(f"Dovecot does not accept the password of {name!r}:\n"
                                   + self.log()[-2000:])
            time.sleep(0.1)

    def password(self, user: str) -> str:
        return self._passwords[user]

    def url(self, scheme: str, user: str | None = None, path: str = "") -> str:
        """E.g. url("imaps", "alice") -> "imaps://alice@127.0.0.1:PORT"."""
        from urllib.parse import quote
        port = {"imap": self.imap_port, "imaps": self.imaps_port,
                "pop3": self.pop3_port, "pop3s": self.pop3s_port}[scheme]
        who = quote(user, safe="") + "@" if user else ""
        return f"{scheme}://{who}{HOST}:{port}{'/' + path.lstrip('/') if path else ''}"

    # -- doveadm ------------------------------------------------------------

    def doveadm(self, *args: str, input: bytes | None = None,
                check: bool = True) -> subprocess.CompletedProcess:
        """Run ``doveadm -c CONF ARGS`` (bytes out).  Global options such as
        ``-f tab`` go first in args."""
        argv = [DOVEADM_BIN, "-c", self.conf, *args]
        r = subprocess.run(argv, input=input, capture_output=True, timeout=COMMAND_TIMEOUT)
        if check and r.returncode != 0:
            raise HarnessError(f"{shlex.join(argv)} failed with status {r.returncode}:\n"
                               + r.stderr.decode(errors="replace"))
        return r

    def _doveadm_table(self, *args: str) -> list[dict[str, str]]:
        """Rows of ``doveadm -f tab ...`` output as dicts keyed by header."""
        out = self.doveadm("-f", "tab", *args).stdout.decode()
        lines = out.split("\n")
        header = lines[0].split("\t")
        return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]

    # -- folders ------------------------------------------------------------

    def folders(self, user: str) -> list[str]:
        """All folder names of the user (UTF-8), sorted.  Includes parents
        that only exist as such (a "Work" made implicitly by "Work/Projects")."""
        out = self.doveadm("-f", "tab", "mailbox", "list", "-u", user).stdout.decode()
        return sorted(line for line in out.split("\n")[1:] if line)

    def create_folder(self, user: str, folder: str, subscribe: bool = True) -> None:
        """Create a folder (no error if it exists).  Parents of a nested name
        are not created as real folders; create them first if they should
        hold mail."""
        if folder.upper() == "INBOX" or self._exists(user, folder):
            return
        self.doveadm("mailbox", "create", "-u", user, *(["-s"] if subscribe else []), folder)

    def delete_folder(self, user: str, folder: str) -> None:
        self.doveadm("mailbox", "delete", "-u", user, "-s", folder)

    def _exists(self, user: str, folder: str) -> bool:
        r = self.doveadm("mailbox", "status", "-u", user, "messages", folder, check=False)
        return r.returncode == 0 and bool(r.stdout.strip())

    def status(self, user: str, folder: str) -> dict[str, int]:
        """messages, unseen, recent, uidnext, uidvalidity, highestmodseq."""
        rows = self._doveadm_table("mailbox", "status", "-u", user,
                                   "messages unseen recent uidnext uidvalidity highestmodseq",
                                   folder)
        if len(rows) != 1:
            raise HarnessError(f"status of {folder!r}: expected one row, got {rows}")
        return {k: int(v) for k, v in rows[0].items() if k != "mailbox"}

    def count(self, user: str, folder: str) -> int:
        return self.status(user, folder)["messages"]

    def unseen(self, user: str, folder: str) -> int:
        return self.status(user, folder)["unseen"]

    def uidvalidity(self, user: str, folder: str) -> int:
        return self.status(user, folder)["uidvalidity"]

    def set_uidvalidity(self, user: str, folder: str, value: int | None = None) -> int:
        """Change the folder's UIDVALIDITY, keeping messages and UIDs (what a
        server does after a restore or a broken index).  Default: old + 1.
        Returns the new value."""
        new = value if value is not None else self.uidvalidity(user, folder) % 0xFFFFFFFF + 1
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(new), folder)
        if self.uidvalidity(user, folder) != new:
            raise HarnessError(f"UIDVALIDITY of {folder!r} did not change to {new}")
        return new

    def recreate_folder(self, user: str, folder: str, first_uid: int | None = None) -> dict[int, int]:
        """Delete the folder and make it again with the same messages, flags
        and dates: a new UIDVALIDITY and new UIDs (from 1, or first_uid).
        Returns old UID -> new UID."""
        old = self.messages(user, folder)
        before = self.uidvalidity(user, folder)
        self.delete_folder(user, folder)
        self.create_folder(user, folder)
        if first_uid:
            self.doveadm("mailbox", "update", "-u", user, "--min-next-uid", str(first_uid), folder)
        if self.uidvalidity(user, folder) == before:
            self.set_uidvalidity(user, folder)
        new_uids = self.save_many(user, folder, list(old.values()))
        return dict(zip(old.keys(), new_uids))

    # -- messages: writing --------------------------------------------------

    def save(self, user: str, folder: str, message: bytes, flags=None, date=None) -> int:
        """Store one message (creating the folder if missing); returns its UID.
        flags: "\\Seen \\Flagged" or an iterable; date: INTERNALDATE."""
        return self.save_many(user, folder, [Message(message, frozenset(_flag_list(flags)),
                                                     date)])[0]

    def save_many(self, user: str, folder: str, messages: Iterable, flags=None) -> list[int]:
        """Store many messages with one IMAP MULTIAPPEND (atomic, in order);
        returns their UIDs.  Items are bytes or :class:`Message` (own flags and
        date); ``flags`` applies to the plain-bytes items.  About 0.2 s for
        2000 small messages."""
        items = [m if isinstance(m, Message) else Message(m, frozenset(_flag_list(flags)))
                 for m in messages]
        if not items:
            return []
        self.create_folder(user, folder)
        parts = [b"A1 APPEND " + imap_mailbox(folder).encode()]
        for m in items:
            flag_text = " ".join(f for f in _flag_list(m.flags) if f != "\\Recent")
            date_text = " " + _imap_date(m.date) if m.date is not None else ""
            parts.append(f" ({flag_text}){date_text} {{{len(m.data)}+}}\r\n".encode() + m.data)
        parts.append(b"\r\nA2 LOGOUT\r\n")
        out = self._imap_script(user, b"".join(parts))
        m = re.search(rb"^A1 OK \[APPENDUID \d+ ([\d:,]+)\]", out, re.M)
        if not m:
            raise HarnessError(f"APPEND to {folder!r} failed:\n"
                               + out.decode(errors="replace")[-2000:])
        uids = _parse_uid_set(m.group(1).decode())
        if len(uids) != len(items):
            raise HarnessError(f"APPEND stored {len(uids)} of {len(items)} messages")
        return uids

    def expunge(self, user: str, folder: str, uid) -> None:
        """Remove message(s) for good; uid is an int, an iterable or "1:5"."""
        self.doveadm("expunge", "-u", user, "mailbox", folder, "uid", _uid_set(uid))

    def add_flags(self, user: str, folder: str, uid, flags) -> None:
        self.doveadm("flags", "add", "-u", user, " ".join(_flag_list(flags)),
                     "mailbox", folder, "uid", _uid_set(uid))

    def remove_flags(self, user: str, folder: str, uid, flags) -> None:
        self.doveadm("flags", "remove", "-u", user, " ".join(_flag_list(flags)),
                     "mailbox", folder, "uid", _uid_set(uid))

    # -- messages: reading --------------------------------------------------

    def messages(self, user: str, folder: str, bodies: bool = True) -> dict[int, Message]:
        """UID -> Message (flags, INTERNALDATE, bytes as sent over IMAP), in
        UID order.  Read-only: EXAMINE and BODY.PEEK[] change nothing."""
        items = "UID FLAGS INTERNALDATE" + (" BODY.PEEK[]" if bodies else "")
        with self.imap_session(user) as imap:
            typ, data = imap.select(imap_mailbox(folder), readonly=True)
            if typ != "OK":
                raise HarnessError(f"cannot EXAMINE {folder!r}: {data}")
            typ, data = imap.uid("FETCH", "1:*", f"({items})")
            if typ != "OK":
                raise HarnessError(f"UID FETCH in {folder!r} failed: {data}")
        return dict(sorted(_parse_fetch(data).items()))

    def fetch_all(self, user: str, folder: str) -> dict[int, bytes]:
        """UID -> message bytes exactly as an IMAP client receives them."""
        return {uid: m.data for uid, m in self.messages(user, folder).items()}

    def flags_of(self, user: str, folder: str) -> dict[int, set[str]]:
        """UID -> set of flags (system flags and keywords; no \\Recent)."""
        return {uid: set(m.flags) for uid, m in self.messages(user, folder, bodies=False).items()}

    def dates_of(self, user: str, folder: str) -> dict[int, _dt.datetime]:
        """UID -> INTERNALDATE (aware datetime)."""
        return {uid: m.date for uid, m in self.messages(user, folder, bodies=False).items()}

    def imap_session(self, user: str) -> imaplib.IMAP4:
        """A pre-authenticated IMAP session as ``user`` on a pipe (``doveadm
        exec imap``): no password, no network, no login process, so it does
        not use up a network client's mail_max_userip_connections.  Use as a
        context manager; it logs out at the end.  Quote folder names with
        mfharness.imap_mailbox()."""
        cmd = shlex.join([DOVEADM_BIN, "-c", self.conf, "exec", "imap", "-u", user,
                          "-o", "rawlog_dir="])
        log = os.path.join(self.tmp, "harness-imap.log")
        return imaplib.IMAP4_stream(f"exec {cmd} 2>>{shlex.quote(log)}")

    def _imap_script(self, user: str, script: bytes) -> bytes:
        """Feed raw IMAP commands to a pre-authenticated session; all output."""
        argv = [DOVEADM_BIN, "-c", self.conf, "exec", "imap", "-u", user, "-o", "rawlog_dir="]
        r = subprocess.run(argv, input=script, capture_output=True, timeout=COMMAND_TIMEOUT)
        if r.returncode != 0 and b"* PREAUTH" not in r.stdout:
            raise HarnessError(f"{shlex.join(argv)} failed:\n" + r.stderr.decode(errors="replace"))
        return r.stdout

    # -- observing ----------------------------------------------------------

    def log(self) -> str:
        """The server log so far (logins, disconnect summaries, errors)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def rawlog(self, user: str, direction: str = "in") -> bytes:
        """Everything clients sent ("in") or received ("out") in the user's
        IMAP sessions after login, oldest session first; needs
        Dovecot(rawlog=True).  Dovecot starts each line with a timestamp
        ("1700000000.123456 A1 UID FETCH ...").  The login itself (and so the
        password) and the harness's own sessions are not recorded."""
        if not self.rawlog_enabled:
            raise HarnessError("start Dovecot(rawlog=True) to record sessions")
        d = os.path.join(self.tmp, "rawlog", user)
        files = sorted(f for f in os.listdir(d) if f.endswith("." + direction))
        chunks = []
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                chunks.append(f.read())
        return b"".join(chunks)

    def kick(self, user: str) -> None:
        """Disconnect all of the user's IMAP/POP3 sessions, as a server
        restart or an admin would (clients get "* BYE Server shutting down")."""
        self.doveadm("kick", "-a", os.path.join(self.tmp, "run", "anvil"), user)

    # -- network clients (for tests of the harness and of server behaviour) --

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts only this server's certificate."""
        ctx = ssl.create_default_context(cafile=self.cacert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def imap_client(self, mode: str = "imaps", source: str | None = None) -> imaplib.IMAP4:
        """An unauthenticated imaplib client: mode "imaps", "starttls" (plain
        port, STARTTLS done) or "plain"; source = local address to connect
        from (INSECURE_SOURCE to be treated as a remote client)."""
        if mode == "imaps":
            return _IMAP4_SSL(HOST, self.imaps_port, source, self.ssl_context())
        client = _IMAP4(HOST, self.imap_port, source)
        if mode == "starttls":
            client.starttls(self.ssl_context())
        elif mode != "plain":
            raise ValueError(mode)
        return client

    def pop3_client(self, mode: str = "pop3s", source: str | None = None) -> poplib.POP3:
        """An unauthenticated poplib client: "pop3s", "stls" or "plain"."""
        if mode == "pop3s":
            return _POP3_SSL(HOST, self.pop3s_port, source, self.ssl_context())
        client = _POP3(HOST, self.pop3_port, source)
        if mode == "stls":
            client.stls(self.ssl_context())
        elif mode != "plain":
            raise ValueError(mode)
        return client


# ---------------------------------------------------------------------------
# FETCH response parsing (imaplib leaves that to its caller)

_FETCH_START = re.compile(rb"^\d+ \(")


def _parse_fetch(data: list) -> dict[int, Message]:
    """imaplib's FETCH data -> UID -> Message.  A literal arrives as a tuple
    (text before it, literal); text after it arrives as the next item."""
    records: list[list] = []            # [text, literal-or-None]
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            records.append([item[0], item[1]])
        elif _FETCH_START.match(item) or not records:
            records.append([item, None])
        else:
            records[-1][0] += item      # ")" or " FLAGS (...))" after a literal
    out: dict[int, Message] = {}
    for text, literal in records:
        uid = re.search(rb"\bUID (\d+)", text)
        if not uid:
            continue                    # an unsolicited FETCH without UID
        flags = re.search(rb"\bFLAGS \(([^)]*)\)", text)
        date = re.search(rb'\bINTERNALDATE "([^"]+)"', text)
        out[int(uid.group(1))] = Message(
            data=literal,
            flags=frozenset(f for f in (flags.group(1).decode().split() if flags else [])
                            if f != "\\Recent"),
            date=_parse_imap_date(date.group(1).decode()) if date else None,
            uid=int(uid.group(1)))
    return out


# ---------------------------------------------------------------------------
# clients that can pick their source address

def _connect(host: str, port: int, timeout, source: str | None) -> socket.socket:
    return socket.create_connection((host, port), timeout if timeout is not None else CLIENT_TIMEOUT,
                                    source_address=(source, 0) if source else None)


class _IMAP4(imaplib.IMAP4):
    def __init__(self, host, port, source):
        self._source = source
        super().__init__(host, port, timeout=CLIENT_TIMEOUT)

    def _create_socket(self, timeout):
        return _connect(self.host, self.port, timeout, self._source)


class _IMAP4_SSL(imaplib.IMAP4_SSL):
    def __init__(self, host, port, source, context):
        self._source = source
        super().__init__(host, port, ssl_context=context, timeout=CLIENT_TIMEOUT)

    def _create_socket(self, timeout):
        return self.ssl_context.wrap_socket(_connect(self.host, self.port, timeout, self._source),
                                            server_hostname=self.host)


class _POP3(poplib.POP3):
    def __init__(self, host, port, source):
        self._source = source
        super().__init__(host, port, timeout=CLIENT_TIMEOUT)

    def _create_socket(self, timeout):
        return _connect(self.host, self.port, timeout, self._source)


class _POP3_SSL(poplib.POP3_SSL):
    def __init__(self, host, port, source, context):
        self._source = source
        super().__init__(host, port, timeout=CLIENT_TIMEOUT, context=context)

    def _create_socket(self, timeout):
        return self.context.wrap_socket(_connect(self.host, self.port, timeout, self._source),
                                        server_hostname=self.host)


# ---------------------------------------------------------------------------
# process and system helpers

def _check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise HarnessError("mfharness starts Dovecot as root (it drops privileges itself); "
                           "run the end-to-end tests as root")
    for binary in (DOVECOT_BIN, DOVEADM_BIN):
        if not os.access(binary, os.X_OK):
            raise HarnessError(f"{binary} missing: apt-get install dovecot-imapd dovecot-pop3d")
    if shutil.which(OPENSSL_BIN) is None:
        raise HarnessError("openssl missing")
    for user in (MAIL_USER, LOGIN_USER):
        _ids(user)


def _ids(user: str) -> tuple[int, int]:
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise HarnessError(f"system user {user!r} missing (comes with dovecot-core)") from None
    return pw.pw_uid, pw.pw_gid


def _short_tmp_root() -> str:
    """Unix socket paths are limited to 108 bytes and Dovecot nests sockets
    under base_dir (e.g. run/login/imap-urlauth); keep the prefix short."""
    root = tempfile.gettempdir()
    return root if len(root) <= 40 else "/tmp"


def _sweep_stale_dirs() -> None:
    """Remove directories left by runs that were killed outright (SIGKILL
    skips atexit; PDEATHSIG already stopped their Dovecot).  Only those whose
    test process and Dovecot are both gone: a PID that is alive, even reused,
    keeps its directory, so a running test never loses its own."""
    root = _short_tmp_root()
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if not name.startswith(TMP_PREFIX):
            continue
        try:
            with open(os.path.join(path, OWNER_FILE)) as f:
                pids = [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            continue
        if pids and not any(_alive(p) for p in pids):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    """True for a running process; a zombie or a missing PID is dead."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def _group_members(pgid: int) -> list[int]:
    """PIDs (not zombies) whose process group is pgid, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------
# the sample mailbox

#: Folders that sample_mailbox() creates, in creation order.
SAMPLE_FOLDERS = ["INBOX", "Work", "Work/Projects", "Reçus", "日本語", "Empty"]

#: Body lines that trip naive mbox, POP3 and IMAP code.
TRICKY_LINES = ["From me", ">From x", ".", "..", "* 1 FETCH (UID 1)", "A001 OK done",
                "From: not a header", ". leading dot", ""]


def sample_mailbox(dovecot: Dovecot, user: str) -> dict[str, list[Message]]:
    """Load a small realistic mailbox; returns folder -> messages in UID order
    (with their flags and INTERNALDATE), folders as in SAMPLE_FOLDERS.

    INBOX:          6 messages; 2 unread, one \\Flagged, one \\Answered, a
                    keyword ($Label1), one body of lines that break naive
                    parsers (TRICKY_LINES), one UTF-8 8bit body, one 40 kB.
    Work:           3 read messages.
    Work/Projects:  2 messages (nested folder), one unread \\Draft.
    Reçus, 日本語:   non-ASCII folder names (modified UTF-7 on the wire).
    Empty:          a folder with no messages.
    INTERNALDATE of every message equals its Date header.
    """
    def msg(i, flags=(), **kw) -> Message:
        data = make_message(i, **kw)
        date = _BASE_DATE + _dt.timedelta(hours=i) if "date" not in kw else _as_datetime(kw["date"])
        return Message(data, frozenset(flags), date)

    plan = {
        "INBOX": [
            msg(1, {"\\Seen"}),
            msg(2, {"\\Seen", "\\Flagged"}, subject="Important: please read"),
            msg(3, (), subject="Lines that break parsers", body_lines=TRICKY_LINES),
            msg(4, {"\\Seen", "\\Answered", "$Label1"}, subject="Grüße aus Köln",
                body_lines=["Schöne Grüße, café, naïve, 日本語のテキスト."]),
            msg(5, (), subject="Unread and large", size=40_000),
            msg(6, {"\\Seen"}, body_lines=["From the desk of nobody", "bye"]),
        ],
        "Work": [msg(10 + k, {"\\Seen"}, subject=f"Work item {k}") for k in range(3)],
        "Work/Projects": [
            msg(20, {"\\Seen"}, subject="Project plan"),
            msg(21, {"\\Draft"}, subject="Draft reply"),
        ],
        "Reçus": [msg(30, {"\\Seen"}, subject="Reçu n°1"), msg(31, (), subject="Reçu n°2")],
        "日本語": [msg(40, {"\\Seen"}, subject="日本語の件名",
                       body_lines=["これはテストメッセージです。", "From 東京"])],
        "Empty": [],
    }
    for folder in SAMPLE_FOLDERS:
        dovecot.create_folder(user, folder)
        uids = dovecot.save_many(user, folder, plan[folder])
        for uid, m in zip(uids, plan[folder]):
            m.uid = uid
    return plan


class DovecotTestCase(unittest.TestCase):
    """One private Dovecot for the class (``cls.dovecot``) and, for each
    test, a temporary directory (``self.tmp``), an archive path in it
    (``self.archive``) and a new user (``self.user``) whose password is the
    class's ``PASSWORD``. ``USER_PREFIX`` starts the user's name."""
    PASSWORD = ""
    USER_PREFIX = "u"

    @classmethod
    def setUpClass(cls):
        cls.dovecot = Dovecot().start()

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.archive = os.path.join(self.tmp.name, "archive")
        self.user = f"{self.USER_PREFIX}{random.randrange(10**9)}"
        self.dovecot.add_user(self.user, self.PASSWORD)

    def tearDown(self):
        self.tmp.cleanup()
