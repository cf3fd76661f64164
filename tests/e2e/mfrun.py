"""Running mailferry under observation, for the fault-injection and
hostile-input suites: wall time, peak memory (ru_maxrss from wait4, which
outlives the process, unlike /proc/PID/status), and the checks every such
run shares: no crash, no sanitizer report, no raw control characters on the
terminal."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Mapping, Sequence

from mfharness import mailferry_path

LONG = os.environ.get("MAILFERRY_LONG") == "1"

_SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: \w+Sanitizer")
# Raw control characters a server could use to rewrite the user's terminal
# (ESC, CSI, BEL, backspace, CR without LF...). \t and \n are ours.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


@dataclasses.dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    maxrss_kb: int

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def sanitized_build() -> bool:
    """True when the binary under test was built with AddressSanitizer or
    ThreadSanitizer (its memory figures then include shadow memory and, for
    ASan, the quarantine)."""
    try:
        out = subprocess.run(["ldd", mailferry_path()], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libasan" in out or "libtsan" in out


def rss_limit_kb() -> int:
    """Peak memory a run against a hostile server may use: 64 MB, or 512 MB
    under ASan or TSan (still far below the 1 GiB a careless reader would hold)."""
    return (512 if sanitized_build() else 64) * 1024


# ru_maxrss of a child counts the memory of the process that forked it
# (Linux carries the parent's high-water mark through fork and exec), so a
# child of this big test process would report the test's own size. A small
# launcher forks mailferry instead and hands back its figure.
_LAUNCHER = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    # Python ignores SIGPIPE and SIGXFSZ; an ignored signal survives exec.
    # mailferry must meet them as a user's shell leaves them: default.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def run_measured(args: Sequence, password: str | None = None, env: Mapping[str, str] | None = None,
                 timeout: float = 60, cwd: str | None = None, argv0: Sequence[str] = ()) -> Run:
    """Runs mailferry (behind argv0, e.g. a strace or prlimit command line,
    if given); the password travels in MF_TEST_PASSWORD, never in argv.
    maxrss_kb is mailferry's peak resident memory (of argv0's program if given)."""
    import shutil
    program = [*argv0, mailferry_path(), *map(str, args)]
    program[0] = shutil.which(program[0]) or program[0]
    child_env = dict(os.environ)
    child_env.update(env or {})
    if password is not None:
        if any(password in a for a in program):
            raise ValueError("password must not appear in mailferry's argv")
        child_env["MF_TEST_PASSWORD"] = password
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        argv = [sys.executable, "-S", "-c", _LAUNCHER, rss.name, *program]
        start = time.monotonic()
        p = subprocess.Popen(argv, env=child_env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.terminate()       # the launcher kills mailferry
            p.wait()
            raise
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        text = rss.read().strip()
        return Run(p.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                   seconds, int(text) if text else 0)


def assert_sane_exit(test, r, allowed=None) -> None:
    """No crash (no signal, no exit >= 128), no sanitizer report, no raw
    control characters from the server on the terminal; the exit code among
    `allowed` when given."""
    test.assertGreaterEqual(r.returncode, 0, f"killed by signal {-r.returncode}:\n{r.stderr[-2000:]}")
    test.assertLess(r.returncode, 128, r.stderr[-2000:])
    test.assertIsNone(_SANITIZER_REPORT.search(r.stderr), r.stderr[-4000:])
    bad = _CONTROL.search(r.output)
    test.assertIsNone(bad, f"raw control character {bad.group() if bad else ''!r} in output:\n{r.output[-2000:]!r}")
    if allowed is not None:
        test.assertIn(r.returncode, allowed, r.output[-3000:])


def server_tls(directory: str):
    """A throwaway certificate for 127.0.0.1 in `directory`: (server-side
    ssl.SSLContext, path of the certificate for --cacert)."""
    import ssl
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx, cert


def secret_forms(password: str) -> list[bytes]:
    """The password as it could travel or be stored: as it is, and inside
    base64 (SASL PLAIN, XOAUTH2) at each of the three alignments: the part of
    each encoding that depends on the password's bytes alone."""
    import base64
    raw = password.encode()
    forms = {raw}
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + raw)
        start = (shift + 2) // 3 * 4
        end = (shift + len(raw)) // 3 * 4
        forms.add(enc[start:end])
    return sorted(forms)


def mbox_messages(mbox_path):
    """(UID -> message bytes with CRLF), end of the last indexed message."""
    with open(mbox_path, "rb") as f:
        data = f.read()
    out, end = {}, 0
    with open(mbox_path + ".mfindex", "rb") as f:
        for line in f.read().split(b"\n"):
            fields = line.split(b" ")
            if fields[0] != b"M" or len(fields) < 7:
                continue
            offset, length, uid = int(fields[1]), int(fields[2]), int(fields[4])
            raw = data[offset:offset + length]
            assert raw.startswith(b"From "), f"record at {offset} does not start with a From_ line"
            assert raw.endswith(b"\n\n"), f"message at {offset} is truncated"
            body = raw.split(b"\n", 1)[1][:-1]
            body = re.sub(rb"(?m)^>(>*From )", rb"\1", body)
            assert uid not in out, f"UID {uid} indexed twice"
            out[uid] = body.replace(b"\n", b"\r\n")
            end = max(end, offset + length)
    return out, end
