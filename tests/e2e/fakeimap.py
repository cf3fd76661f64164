"""A scripted IMAP server for what a real one will not do: hostile folder
names, lying sizes, dropped connections. Plaintext only (tests run mailferry
with imap:// --allow-plaintext); it accepts any login.

    with FakeImap(folders={"../x": [b"Subject: a\\r\\n\\r\\nbody\\r\\n"]}) as srv:
        run mailferry against imap://user@127.0.0.1:srv.port

`folders` maps a raw folder name (as sent in LIST, already modified UTF-7 or
not) to its messages. Names are sent as literals, so any byte can be in them.
"""

from __future__ import annotations

import re
import socket
import threading


class FakeImap:
    def __init__(self, folders: dict, separator: str = "/", uidvalidity: int = 42):
        self.folders = {k if isinstance(k, bytes) else k.encode(): v for k, v in folders.items()}
        self.separator = separator
        self.uidvalidity = uidvalidity
        self.commands: list[bytes] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept_loop(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        selected = None
        buf = b""
        with conn:
            conn.settimeout(10)
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+] fake server\r\n")
            try:
                while True:
                    while b"\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buf += data
                    line, buf = buf.split(b"\r\n", 1)
                    self.commands.append(line)
                    tag, _, rest = line.partition(b" ")
                    out, selected = self._answer(tag, rest, selected)
                    conn.sendall(out)
                    if rest.upper().startswith(b"LOGOUT"):
                        return
            except OSError:
                return

    def _literal(self, data: bytes) -> bytes:
        return b"{%d}\r\n" % len(data) + data

    def _answer(self, tag: bytes, rest: bytes, selected):
        verb = rest.split(b" ", 1)[0].upper()
        ok = tag + b" OK done\r\n"
        if verb == b"CAPABILITY":
            return b"* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+\r\n" + ok, selected
        if verb in (b"LOGIN", b"AUTHENTICATE", b"NOOP", b"LOGOUT"):
            return ok, selected
        if verb == b"LIST":
            out = b""
            for name in self.folders:
                out += b'* LIST () "' + self.separator.encode() + b'" ' + self._literal(name) + b"\r\n"
            return out + ok, selected
        if verb in (b"EXAMINE", b"SELECT", b"STATUS"):
            name = self._mailbox_arg(rest.split(b" ", 1)[1])
            msgs = self.folders.get(name)
            if msgs is None:
                return tag + b" NO no such folder\r\n", selected
            if verb == b"STATUS":
                return (b"* STATUS " + self._literal(name) + b" (MESSAGES %d UNSEEN 0)\r\n" % len(msgs)) + ok, selected
            return (b"* %d EXISTS\r\n* OK [UIDVALIDITY %d] ok\r\n" % (len(msgs), self.uidvalidity)) + ok, name
        if verb == b"UID" and selected is not None:
            return self._fetch(tag, rest, self.folders[selected]) + ok, selected
        return tag + b" BAD unknown command\r\n", selected

    @staticmethod
    def _mailbox_arg(arg: bytes) -> bytes:
        arg = arg.strip()
        if arg.startswith(b'"'):
            return re.sub(rb'\\(.)', rb"\1", arg[1:arg.rindex(b'"')])
        return arg.split(b" ")[0]

    def _fetch(self, tag, rest, msgs):
        out = b""
        want_body = b"BODY.PEEK[]" in rest.upper()
        for i, body in enumerate(msgs, 1):
            item = b"UID %d FLAGS () INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" RFC822.SIZE %d" % (i, len(body))
            if want_body:
                item += b" BODY[] " + self._literal(body)
            out += b"* %d FETCH (" % i + item + b")\r\n"
        return out
