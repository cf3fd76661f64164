"""servers: a throwaway Cyrus IMAP 3.6 and a throwaway Courier-IMAP 5 for
mailferry's end-to-end tests (tests/e2e/test_servers.py), beside mfharness's
Dovecot.

Both are Debian 12's packages, unpacked (not installed: they conflict with
dovecot-imapd) by tests/install-servers.sh under /opt/mailferry-test
($MAILFERRY_TEST_SERVERS).  Like :class:`mfharness.Dovecot`, each server is
private to one test class: its own temporary directory (config, certificate,
users, mail), its own free ports on 127.0.0.1 (IMAP with STARTTLS, IMAPS),
started as child processes in their own sessions and stopped by PID (SIGTERM
to their process groups, then SIGKILL).  Needs root.

    with Cyrus() as cy:                         # or Courier()
        cy.add_user("alice", "secret")
        cy.save_many("alice", "Work/Projects", [make_message(1)])
        run_mailferry(["backup", cy.url("imaps", "alice"), archive,
                       "--cacert", cy.cacert, "--password-env", "MF_TEST_PASSWORD"],
                      password="secret")
        cy.messages("alice", "Work/Projects")   # UID -> Message

Folder names in this API are "logical": "/"-separated and relative to the
personal namespace ("INBOX", "Work/Projects"); :meth:`server_name` maps them
to what the server calls them (Courier: "INBOX.Work.Projects").  Mail is put
in and read back over IMAPS logged in as the user (APPEND with flags and
INTERNALDATE; EXAMINE + BODY.PEEK[]), so the harness sees exactly what a
client sees.

Cyrus (master in the foreground, -C/-M private imapd.conf and cyrus.conf):
upstream's default namespace, altnamespace and unixhierarchysep on: folders
"Work/Projects" beside INBOX, separator "/"; or, with
``Cyrus(inbox_namespace=True)``, Debian's settings: "INBOX.Work.Projects".  Logins checked by SASL against
a private sasldb (saslpasswd2 -f) in realm ``mailferry-cyrus`` (the
servername); the admin ``cyrus`` (password random) creates each user's
"user/NAME" (or "user.NAME").  Plain LOGIN only after STARTTLS (allowplaintext: no).  Cyrus
logs to syslog only; there is no log file to read.  CONDSTORE, QRESYNC,
LIST-STATUS, MULTIAPPEND, LITERAL+.

Courier (couriertcpd, one for IMAP with STARTTLS and one with couriertls in
front for IMAPS, each running imaplogin and imapd): namespace "INBOX." with
separator ".", so "Work/Projects" is "INBOX.Work.Projects", and a parent made
implicitly by CREATE is \\Noselect.  Authentication: Courier asks authdaemond
over a Unix socket; the harness answers that protocol itself (a small Python
process, :func:`courier_authdaemon`, reading the private users file) on a
socket in the private directory, which a patched copy of libcourierauth
finds (see install-servers.sh).  Mail belongs to the system user ``mail``
(Maildir under TMP/home/USER/Maildir); couriertls drops to ``courier``.
LOGIN only after STARTTLS (IMAP_TLS_REQUIRED=1).  No CONDSTORE, no
MULTIAPPEND, no LITERAL+; keywords on.  A failed login answers after
Courier's own delay of about 5 s.  The log (couriertcpd's stderr) is in
TMP/imapd.log and TMP/imapds.log.
"""

from __future__ import annotations

import atexit
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from typing import Iterable

from mfharness import (HOST, HarnessError, Message, free_port, imap_utf7_encode,
                       _die_with_parent, _flag_list, _group_members, _imap_date, _killpg,
                       _parse_fetch, _short_tmp_root, _uid_set)

PREFIX = os.environ.get("MAILFERRY_TEST_SERVERS", "/opt/mailferry-test")
CYRUS_ROOT = os.path.join(PREFIX, "cyrus")
COURIER_ROOT = os.path.join(PREFIX, "courier")
INSTALL_HINT = "run: bash tests/install-servers.sh (as root)"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
CLIENT_TIMEOUT = 30.0

_RUNNING: dict[int, "_Server"] = {}


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING.values()):
        try:
            server.stop()
        except Exception:
            pass


def _ids(user: str) -> tuple[int, int]:
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise HarnessError(f"system user {user!r} missing: {INSTALL_HINT}") from None
    return pw.pw_uid, pw.pw_gid


def _make_certificate(directory: str) -> tuple[str, str]:
    """A self-signed certificate for localhost and 127.0.0.1, its own CA, as
    mfharness makes Dovecot's: (cert path, key path)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:TRUE"],
        capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise HarnessError("openssl req failed:\n" + r.stderr)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Server:
    """What Cyrus and Courier share: lifecycle, users, folders, messages."""

    kind = "server"
    separator = "/"
    prefix = ""                      # personal namespace prefix
    tmp_prefix = "mfserver-"

    def __init__(self, die_with_parent: bool = True):
        self.die_with_parent = die_with_parent
        self.host = HOST
        self.tmp: str | None = None
        self.cacert: str | None = None
        self.imap_port = self.imaps_port = 0
        self._procs: list[subprocess.Popen] = []
        self._passwords: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self):
        if self._procs:
            return self
        if os.geteuid() != 0:
            raise HarnessError(f"{self.kind} needs root (it drops privileges itself)")
        self._check_installed()
        self.tmp = tempfile.mkdtemp(prefix=self.tmp_prefix, dir=_short_tmp_root())
        os.chmod(self.tmp, 0o711)
        _RUNNING[id(self)] = self
        try:
            self.cacert, self._key = _make_certificate(self.tmp)
            self._prepare()
            for _ in range(5):
                self.imap_port, self.imaps_port = free_port(), free_port()
                if self.imap_port == self.imaps_port:
                    continue
                self._launch()
                if self._wait_ready():
                    return self
                self._terminate()
            raise HarnessError(f"{self.kind} did not come up on free ports after 5 tries:\n"
                               + self.log()[-3000:])
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._terminate()
        if self.tmp and os.path.isdir(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)
        _RUNNING.pop(id(self), None)

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs)

    def _spawn(self, argv: list[str], env: dict, log_name: str, cwd: str | None = None) -> subprocess.Popen:
        with open(os.path.join(self.tmp, log_name), "ab") as log:
            proc = subprocess.Popen(argv, env=env, cwd=cwd or self.tmp, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    close_fds=True,
                                    preexec_fn=_die_with_parent if self.die_with_parent else None)
        self._procs.append(proc)
        return proc

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._procs):
                return False
            try:
                if self._greets(self.imap_port, False) and self._greets(self.imaps_port, True):
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def _greets(self, port: int, tls: bool) -> bool:
        sock = socket.create_connection((HOST, port), timeout=5)
        try:
            if tls:
                sock = self.ssl_context().wrap_socket(sock, server_hostname=HOST)
            return sock.recv(300).startswith(b"* OK")
        finally:
            sock.close()

    def _terminate(self) -> None:
        """SIGTERM each process group we started (each child leads its own
        session), then SIGKILL whatever of it is left.  Only our PIDs: a
        child not yet reaped keeps its PID and group."""
        procs, self._procs = self._procs, []
        for proc in procs:
            if proc.poll() is None:
                _killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT)
            deadline = time.monotonic() + STOP_TIMEOUT
            while _group_members(proc.pid):
                if time.monotonic() > deadline:
                    _killpg(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.02)

    def log(self) -> str:
        out = []
        for name in sorted(os.listdir(self.tmp)) if self.tmp and os.path.isdir(self.tmp) else []:
            if name.endswith(".log"):
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    out.append(f"--- {name}\n{f.read()}")
        return "\n".join(out)

    # -- addresses -----------------------------------------------------------

    def url(self, scheme: str, user: str | None = None, path: str = "") -> str:
        from urllib.parse import quote
        port = {"imap": self.imap_port, "imaps": self.imaps_port}[scheme]
        who = quote(user, safe="") + "@" if user else ""
        return f"{scheme}://{who}{HOST}:{port}{'/' + path.lstrip('/') if path else ''}"

    def password(self, user: str) -> str:
        return self._passwords[user]

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.cacert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    # -- folders -------------------------------------------------------------

    def server_name(self, folder: str) -> str:
        """Logical "Work/Projects" -> the server's name (modified UTF-7)."""
        if folder.upper() == "INBOX":
            return "INBOX"
        return imap_utf7_encode(self.prefix + folder.replace("/", self.separator))

    def logical_name(self, name: str) -> str:
        if name.upper() == "INBOX":
            return "INBOX"
        if self.prefix and name.startswith(self.prefix):
            name = name[len(self.prefix):]
        from mfharness import imap_utf7_decode
        return imap_utf7_decode(name).replace(self.separator, "/")

    def session(self, user: str) -> imaplib.IMAP4:
        """An IMAPS session logged in as the user; use as a context manager."""
        c = imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=self.ssl_context(),
                              timeout=CLIENT_TIMEOUT)
        typ, data = c.login(user, self._passwords[user])
        if typ != "OK":
            raise HarnessError(f"{self.kind}: login of {user!r} failed: {data}")
        return c

    def folders(self, user: str, selectable_only: bool = True) -> list[str]:
        """Logical names of the user's folders, sorted (without \\Noselect
        parents unless asked)."""
        with self.session(user) as c:
            typ, data = c.list('""', "*")
        out = []
        for line in data:
            if not line:
                continue
            m = re.match(rb'\(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.*)$', line)
            if not m:
                raise HarnessError(f"unparsed LIST line {line!r}")
            attrs, name = m.group(1).decode().lower(), m.group(2).decode()
            if name.startswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            if selectable_only and ("\\noselect" in attrs or "\\nonexistent" in attrs):
                continue
            out.append(self.logical_name(name))
        return sorted(out)

    def create_folder(self, user: str, folder: str) -> None:
        if folder.upper() == "INBOX":
            return
        name = _quote(self.server_name(folder))
        with self.session(user) as c:
            typ, data = c.list('""', name)
            if typ == "OK" and any(d and not re.search(rb"\\noselect|\\nonexistent", d, re.I)
                                   for d in data):
                return                  # exists (Courier answers NO to a second CREATE)
            typ, data = c.create(name)
            if typ != "OK":
                raise HarnessError(f"{self.kind}: CREATE {folder!r} failed: {data}")

    # -- messages ------------------------------------------------------------

    def save_many(self, user: str, folder: str, messages: Iterable, flags=None) -> list[int]:
        """APPEND each message (bytes, or Message with own flags and date),
        creating the folder; returns the UIDs (APPENDUID)."""
        items = [m if isinstance(m, Message) else Message(m, frozenset(_flag_list(flags)))
                 for m in messages]
        self.create_folder(user, folder)
        uids = []
        with self.session(user) as c:
            for m in items:
                flag_text = "(" + " ".join(f for f in _flag_list(m.flags) if f != "\\Recent") + ")"
                date = _imap_date(m.date) if m.date is not None else None
                typ, data = c.append(_quote(self.server_name(folder)), flag_text, date, m.data)
                found = re.search(rb"APPENDUID \d+ (\d+)", b" ".join(d or b"" for d in data))
                if typ != "OK" or not found:
                    raise HarnessError(f"{self.kind}: APPEND to {folder!r} failed: {data}")
                uids.append(int(found.group(1)))
        return uids

    def save(self, user: str, folder: str, message: bytes, flags=None, date=None) -> int:
        return self.save_many(user, folder, [Message(message, frozenset(_flag_list(flags)), date)])[0]

    def messages(self, user: str, folder: str, bodies: bool = True) -> dict[int, Message]:
        items = "UID FLAGS INTERNALDATE" + (" BODY.PEEK[]" if bodies else "")
        with self.session(user) as c:
            typ, data = c.select(_quote(self.server_name(folder)), readonly=True)
            if typ != "OK":
                raise HarnessError(f"{self.kind}: cannot EXAMINE {folder!r}: {data}")
            if int(data[0] or 0) == 0:
                return {}
            typ, data = c.uid("FETCH", "1:*", f"({items})")
            if typ != "OK":
                raise HarnessError(f"{self.kind}: UID FETCH in {folder!r} failed: {data}")
        return dict(sorted(_parse_fetch(data).items()))

    def fetch_all(self, user: str, folder: str) -> dict[int, bytes]:
        return {uid: m.data for uid, m in self.messages(user, folder).items()}

    def flags_of(self, user: str, folder: str) -> dict[int, set[str]]:
        return {uid: set(m.flags) for uid, m in self.messages(user, folder, bodies=False).items()}

    def count(self, user: str, folder: str) -> int:
        return len(self.messages(user, folder, bodies=False))

    def _store(self, user: str, folder: str, uid, op: str, flags) -> None:
        with self.session(user) as c:
            typ, data = c.select(_quote(self.server_name(folder)))
            if typ != "OK":
                raise HarnessError(f"{self.kind}: cannot SELECT {folder!r}: {data}")
            typ, data = c.uid("STORE", _uid_set(uid), op, "(" + " ".join(_flag_list(flags)) + ")")
            if typ != "OK":
                raise HarnessError(f"{self.kind}: UID STORE failed: {data}")
            c.close()

    def add_flags(self, user: str, folder: str, uid, flags) -> None:
        self._store(user, folder, uid, "+FLAGS.SILENT", flags)

    def remove_flags(self, user: str, folder: str, uid, flags) -> None:
        self._store(user, folder, uid, "-FLAGS.SILENT", flags)

    # -- per server ----------------------------------------------------------

    def _check_installed(self) -> None:
        raise NotImplementedError

    def _prepare(self) -> None:
        raise NotImplementedError

    def _launch(self) -> None:
        raise NotImplementedError

    def add_user(self, name: str, password: str) -> None:
        raise NotImplementedError


def _check_user_and_password(name: str, password: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise ValueError(f"user name {name!r}: use lower-case letters, digits, _ and -")
    if not password or any(c in password for c in "\t\r\n\0") or password != password.strip():
        raise ValueError(f"password {password!r} not usable here")


# ---------------------------------------------------------------------------
# Cyrus IMAP 3.6

CYRUS_BIN = os.path.join(CYRUS_ROOT, "usr/lib/cyrus/bin")
CYRUS_LIBS = os.path.join(CYRUS_ROOT, "usr/lib/x86_64-linux-gnu")
CYRUS_REALM = "mailferry-cyrus"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"


class Cyrus(_Server):
    """inbox_namespace=True: Debian's own imapd.conf settings (altnamespace
    and unixhierarchysep off): every folder under "INBOX.", separator ".",
    as on many Cyrus installations (and Fastmail's old layout)."""

    kind = "Cyrus"
    separator = "/"
    prefix = ""
    tmp_prefix = "mfcyrus-"

    def __init__(self, inbox_namespace: bool = False, die_with_parent: bool = True):
        super().__init__(die_with_parent)
        self.inbox_namespace = inbox_namespace
        if inbox_namespace:
            self.kind, self.separator, self.prefix = "Cyrus (INBOX. namespace)", ".", "INBOX."

    def _check_installed(self) -> None:
        for path in (os.path.join(CYRUS_BIN, "master"), os.path.join(CYRUS_BIN, "imapd"), SASLPASSWD2):
            if not os.access(path, os.X_OK):
                raise HarnessError(f"{path} missing: {INSTALL_HINT}")
        _ids("cyrus")

    def _prepare(self) -> None:
        uid, gid = _ids("cyrus")
        t = self.tmp
        for sub in ("conf", "spool", "run"):
            os.mkdir(os.path.join(t, sub), 0o750)
            os.chown(os.path.join(t, sub), uid, gid)
        os.chown(self._key, uid, gid)
        self.sasldb = os.path.join(t, "sasldb2")
        self.imapd_conf = os.path.join(t, "imapd.conf")
        self.cyrus_conf = os.path.join(t, "cyrus.conf")
        self._admin_password = secrets.token_hex(12)
        with open(self.imapd_conf, "w") as f:
            f.write(f"""\
# Private Cyrus for mailferry tests; written by tests/e2e/servers.py.
servername: {CYRUS_REALM}
configdirectory: {t}/conf
defaultpartition: default
partition-default: {t}/spool
proc_path: {t}/run/proc
mboxname_lockpath: {t}/run/lock
lmtpsocket: {t}/run/lmtp
idlesocket: {t}/run/idle
notifysocket: {t}/run/notify
admins: cyrus
altnamespace: {"no" if self.inbox_namespace else "yes"}
unixhierarchysep: {"no" if self.inbox_namespace else "yes"}
allowplaintext: no
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {self.sasldb}
sasl_mech_list: PLAIN LOGIN
tls_server_cert: {self.cacert}
tls_server_key: {self._key}
syslog_prefix: mfcyrus
""")
        self._saslpasswd("cyrus", self._admin_password)
        self._passwords["cyrus"] = self._admin_password

    def _launch(self) -> None:
        b, conf = CYRUS_BIN, self.imapd_conf
        with open(self.cyrus_conf, "w") as f:
            f.write(f"""\
START {{
  recover cmd="{b}/ctl_cyrusdb -C {conf} -r"
}}
SERVICES {{
  imap  cmd="{b}/imapd -C {conf}" listen="{HOST}:{self.imap_port}" prefork=0
  imaps cmd="{b}/imapd -s -C {conf}" listen="{HOST}:{self.imaps_port}" prefork=0
}}
EVENTS {{
}}
""")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH": CYRUS_LIBS}
        # master stays in the foreground (no -d); it drops to the user cyrus.
        self._spawn([os.path.join(b, "master"), "-C", conf, "-M", self.cyrus_conf,
                     "-p", os.path.join(self.tmp, "run", "master.pid")], env, "master.log")

    def _saslpasswd(self, user: str, password: str) -> None:
        r = subprocess.run([SASLPASSWD2, "-p", "-c", "-f", self.sasldb, "-u", CYRUS_REALM, user],
                           input=password.encode(), capture_output=True, timeout=30)
        if r.returncode != 0:
            raise HarnessError("saslpasswd2 failed: " + r.stderr.decode(errors="replace"))
        os.chown(self.sasldb, *_ids("cyrus"))
        os.chmod(self.sasldb, 0o600)

    def add_user(self, name: str, password: str) -> None:
        """A SASL login in the private sasldb and the mailbox user/NAME."""
        _check_user_and_password(name, password)
        known = name in self._passwords
        self._saslpasswd(name, password)
        self._passwords[name] = password
        if known:
            return
        with self.session("cyrus") as c:
            typ, data = c.create(_quote("user" + self.separator + name))
            if typ != "OK":
                raise HarnessError(f"Cyrus: CREATE user/{name} failed: {data}")


# ---------------------------------------------------------------------------
# Courier-IMAP 5

COURIER_BIN = os.path.join(COURIER_ROOT, "usr/bin")
COURIER_LIBS = ":".join(os.path.join(COURIER_ROOT, d) for d in
                        ("mf-lib", "usr/lib", "usr/lib/x86_64-linux-gnu"))
COURIER_SOCKET = "mf-courier-authdaemon.sock"   # what the patched libcourierauth opens, in its cwd
COURIER_MAIL_USER = "mail"
_COURIER_CAPABILITY = "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE"


class Courier(_Server):
    kind = "Courier"
    separator = "."
    prefix = "INBOX."
    tmp_prefix = "mfcourier-"

    def _check_installed(self) -> None:
        for path in (os.path.join(COURIER_ROOT, "usr/sbin/couriertcpd"),
                     os.path.join(COURIER_ROOT, "usr/lib/courier/courier/imaplogin"),
                     os.path.join(COURIER_BIN, "imapd"), os.path.join(COURIER_BIN, "couriertls"),
                     os.path.join(COURIER_ROOT, "mf-lib/libcourierauth.so.0")):
            if not os.path.exists(path):
                raise HarnessError(f"{path} missing: {INSTALL_HINT}")
        _ids("courier")
        _ids(COURIER_MAIL_USER)

    def _prepare(self) -> None:
        t = self.tmp
        uid, gid = _ids(COURIER_MAIL_USER)
        home = os.path.join(t, "home")
        os.mkdir(home, 0o711)
        os.chown(home, uid, gid)
        # couriertls reads key and certificate from one file, as `courier`.
        self.tls_pem = os.path.join(t, "tls.pem")
        with open(self.tls_pem, "w") as out:
            for path in (self._key, self.cacert):
                with open(path) as f:
                    out.write(f.read())
        os.chown(self.tls_pem, *_ids("courier"))
        os.chmod(self.tls_pem, 0o600)
        self.users_file = os.path.join(t, "users")
        open(self.users_file, "w").close()
        os.chmod(self.users_file, 0o600)

    def _launch(self) -> None:
        t = self.tmp
        root = COURIER_ROOT
        sock = os.path.join(t, COURIER_SOCKET)
        if os.path.exists(sock):
            os.unlink(sock)
        self._spawn([sys.executable, os.path.abspath(__file__), "courier-authdaemon", sock,
                     self.users_file, str(_ids(COURIER_MAIL_USER)[0]),
                     str(_ids(COURIER_MAIL_USER)[1]), os.path.join(t, "home")],
                    {"PATH": "/usr/bin:/bin"}, "authdaemon.log")
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {
            "PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": COURIER_LIBS,
            "IMAP_CAPABILITY": _COURIER_CAPABILITY,
            "IMAP_CAPABILITY_TLS": _COURIER_CAPABILITY + " AUTH=PLAIN",
            "IMAP_KEYWORDS": "1", "IMAP_ACL": "1", "IMAP_USELOCKS": "1",
            "IMAP_MOVE_EXPUNGE_TO_TRASH": "0", "IMAP_IDLE_TIMEOUT": "60",
            "IMAP_MAILBOX_SANITY_CHECK": "1", "IMAP_UMASK": "022",
            "COURIERTLS": os.path.join(COURIER_BIN, "couriertls"),
            "TLS_CERTFILE": self.tls_pem, "TLS_VERIFYPEER": "NONE",
            "TLS_PROTOCOL": "TLS1_2+",
        }
        tcpd = [os.path.join(root, "usr/sbin/couriertcpd"), f"-address={HOST}",
                "-maxprocs=100", "-maxperip=100", "-nodnslookup", "-noidentlookup"]
        login = [os.path.join(root, "usr/lib/courier/courier/imaplogin"),
                 os.path.join(COURIER_BIN, "imapd"), "Maildir"]
        self._spawn([*tcpd, str(self.imap_port), *login],
                    dict(env, IMAP_STARTTLS="YES", IMAP_TLS_REQUIRED="1"), "imapd.log")
        self._spawn([*tcpd, str(self.imaps_port), os.path.join(COURIER_BIN, "couriertls"),
                     "-server", "-tcpd", *login],
                    dict(env, IMAP_TLS="1", IMAP_STARTTLS="NO", IMAP_TLS_REQUIRED="0"), "imapds.log")

    def add_user(self, name: str, password: str) -> None:
        """A line in the private users file (read at each login) and a
        Maildir owned by the mail user."""
        _check_user_and_password(name, password)
        self._passwords[name] = password
        maildir = os.path.join(self.tmp, "home", name, "Maildir")
        if not os.path.isdir(maildir):
            uid, gid = _ids(COURIER_MAIL_USER)
            for d in (os.path.dirname(maildir), maildir,
                      *(os.path.join(maildir, s) for s in ("cur", "new", "tmp"))):
                os.mkdir(d, 0o700)
                os.chown(d, uid, gid)
        tmp = self.users_file + ".new"
        with open(tmp, "w") as f:
            for user, pw in self._passwords.items():
                f.write(f"{user}\t{pw}\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.users_file)


def courier_authdaemon(sock_path: str, users_file: str, uid: str, gid: str, homes: str) -> None:
    """Answers Courier's authdaemond protocol on sock_path: "AUTH n\\nservice\\n
    login\\nUSER\\nPASSWORD\\n" (after optional "NAME=value" lines) with the
    account (UID, GID, HOME, MAILDIR, ADDRESS; "." ends it) or FAIL.  Users
    and passwords: tab-separated lines of users_file, read at each request."""
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(sock_path)
    os.chmod(sock_path, 0o777)
    srv.listen(64)
    env_line = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*=[^\n]*\n")
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(10)
            data = b""
            try:
                while True:
                    while env_line.match(data):
                        data = data.split(b"\n", 1)[1]
                    if data.startswith(b"AUTH "):
                        head, _, rest = data.partition(b"\n")
                        if _ and len(rest) >= int(head.split()[1]):
                            break
                    elif b"\n" in data:
                        break
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except (OSError, ValueError):
                continue
            reply = b"FAIL\n"
            if data.startswith(b"AUTH "):
                fields = data.partition(b"\n")[2].split(b"\n")
                if len(fields) >= 4 and fields[1] == b"login":
                    user, password = fields[2].decode(errors="replace"), fields[3].decode(errors="replace")
                    with open(users_file) as f:
                        table = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
                    if user in table and table[user] == password:
                        home = os.path.join(homes, user)
                        reply = (f"UID={uid}\nGID={gid}\nHOME={home}\nADDRESS={user}\nNAME={user}\n"
                                 f"MAILDIR={home}/Maildir\n.\n").encode()
            print("authdaemon:", data.split(b"\n", 1)[0].decode(errors="replace"),
                  "->", reply.split(b"\n", 1)[0].decode(), flush=True)
            try:
                conn.sendall(reply)
            except OSError:
                pass


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "courier-authdaemon":
        courier_authdaemon(*sys.argv[2:])
    else:
        sys.exit("usage: servers.py courier-authdaemon SOCKET USERS UID GID HOMES")
