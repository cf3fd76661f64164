#!/usr/bin/env python3
"""mailferry in two minutes, on a throwaway mail server.

Starts a private Dovecot on 127.0.0.1 (the end-to-end test harness, nothing
of the system's mail setup is used or changed), gives it a user "demo" with a
random password and a small sample mailbox, then shows what mailferry makes
of it:

    mailferry check imaps://demo@127.0.0.1:PORT --cacert CERT --password-env ...
    mailferry backup imaps://demo@127.0.0.1:PORT ARCHIVE ...   (if built)

Usage (as root, since Dovecot drops privileges itself):

    python3 examples/demo.py [ARCHIVE]        # ARCHIVE defaults to ./demo-archive

Set MAILFERRY to use another binary than build/cli/mailferry.  The server
and its certificate are gone when the demo ends; the archive stays.
The exit status is mailferry's.
"""

import os
import re
import sys
import secrets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
os.environ.setdefault("MAILFERRY", os.path.normpath(os.path.join(HERE, "..", "build", "cli", "mailferry")))

import mfharness  # noqa: E402  (needs the path set up above)

PASSWORD_ENV = "MF_TEST_PASSWORD"


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def show(result) -> None:
    """Print what mailferry wrote, stdout and stderr kept apart."""
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text.strip():
            print(f"--- mailferry {name}:")
            print(text.rstrip())
    print(f"--- exit status {result.returncode}", flush=True)


def has_command(help_text: str, command: str) -> bool:
    """CLI11 lists subcommands indented under "Subcommands:"."""
    return re.search(rf"^\s+{re.escape(command)}\b", help_text, re.M) is not None


def summarize(archive: str, limit: int = 15) -> None:
    """Like `find ARCHIVE -type f | head`, plus a count and total size."""
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(archive) for f in names)
    for path in files[:limit]:
        print(f"  {os.path.relpath(path)}  ({os.path.getsize(path)} bytes)")
    if len(files) > limit:
        print(f"  ... and {len(files) - limit} more")
    print(f"  {len(files)} files, {sum(os.path.getsize(p) for p in files)} bytes in {archive}")


def main() -> int:
    archive = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "demo-archive")
    binary = mfharness.mailferry_path()
    if not os.access(binary, os.X_OK):
        print(f"no mailferry binary at {binary}; build it first "
              "(cmake -S . -B build && cmake --build build) or set MAILFERRY", file=sys.stderr)
        return 2
    help_text = mfharness.run_mailferry(["--help"]).stdout

    password = secrets.token_urlsafe(12)
    try:
        server = mfharness.Dovecot().start()
    except mfharness.HarnessError as e:
        print(f"could not start the demo mail server: {e}", file=sys.stderr)
        return 2
    with server:
        server.add_user("demo", password)
        sample = mfharness.sample_mailbox(server, "demo")
        url = server.url("imaps", "demo")
        banner("A throwaway IMAP/POP3 server is running")
        print(f"  IMAPS {url}   IMAP+STARTTLS port {server.imap_port}")
        print(f"  POP3S port {server.pop3s_port}   POP3+STLS port {server.pop3_port}")
        print(f"  certificate (self-signed, pass with --cacert): {server.cacert}")
        for folder, messages in sample.items():
            unread = sum("\\Seen" not in m.flags for m in messages)
            print(f"  {folder:<15} {len(messages)} messages, {unread} unread")

        auth = ["--cacert", server.cacert, "--password-env", PASSWORD_ENV]
        banner(f"mailferry check {url} {' '.join(auth)}")
        result = mfharness.run_mailferry(["check", url, *auth], password=password, timeout=120)
        show(result)
        if result.returncode != 0 and not has_command(help_text, "check"):
            print("(this build of mailferry has no 'check' command yet)")

        if has_command(help_text, "backup"):
            banner(f"mailferry backup {url} {archive} {' '.join(auth)}")
            result = mfharness.run_mailferry(["backup", url, archive, *auth],
                                             password=password, timeout=300)
            show(result)
            if os.path.isdir(archive):
                banner("What the archive holds")
                summarize(archive)
        else:
            banner("This build of mailferry has no 'backup' command yet; skipping the backup")
    banner("The demo server is stopped and its files removed")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
