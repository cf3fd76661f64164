"""A scripted POP3 server (RFC 1939, 2449, 2595) for the hostile-server
suite: duplicated or odd UIDLs, LIST sizes that lie, answers without their
"." terminator, STLS refused or with bytes injected after "+OK". Plaintext
unless given a TLS context for STLS; it accepts any login (USER/PASS or
AUTH PLAIN).

    with FakePop3([b"Subject: a\\r\\n\\r\\nbody\\r\\n"], uidls=["same", "same"]) as srv:
        run mailferry against pop3://user@127.0.0.1:srv.port --allow-plaintext

* ``uidls``: the UIDL of each message (default "uid-N"); None: no UIDL.
* ``sizes``: the size LIST announces for each message (default the truth).
* ``capa``: the CAPA lines (default TOP, UIDL, USER, SASL PLAIN, PIPELINING).
* ``overrides``: verb (upper case) -> f(server, args) returning bytes, an
  iterable of bytes (streamed; an endless generator streams until the client
  hangs up), or None for the default answer.
* ``tls_context`` / ``stls_reply``: STLS support, and what to answer to it
  (bytes after "+OK ...\\r\\n" in the same write are an injection).
* ``deleted`` holds the messages removed by a QUIT (DELE alone deletes
  nothing, as RFC 1939 says); ``plain_received`` every byte read
  before TLS; ``commands`` every command line.
"""

from __future__ import annotations

import socket
import ssl
import threading


class FakePop3:
    def __init__(self, messages: list, uidls: list | None | str = "default", sizes: list | None = None,
                 capa: list | None = None, overrides: dict | None = None,
                 tls_context: ssl.SSLContext | None = None, stls_reply: bytes | None = None,
                 greeting: bytes = b"+OK fake pop3 ready\r\n"):
        self.messages = list(messages)
        self.uidls = [f"uid-{i}" for i in range(1, len(messages) + 1)] if uidls == "default" else \
            (list(uidls) if uidls is not None else None)
        self.sizes = list(sizes) if sizes is not None else [len(m) for m in messages]
        self.capa = capa if capa is not None else ["TOP", "UIDL", "USER", "SASL PLAIN", "PIPELINING"]
        if tls_context is not None and "STLS" not in self.capa and capa is None:
            self.capa.append("STLS")
        self.overrides = overrides or {}
        self.tls_context = tls_context
        self.stls_reply = stls_reply
        self.greeting = greeting
        self.commands: list[bytes] = []
        self.tls_commands: list[bytes] = []
        self.plain_received = bytearray()
        self.deleted: list[bytes] = []
        self.errors: list[str] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass

    def hang(self, seconds: float = 30):
        """For overrides: stop answering (a stalled server) until closed."""
        self._stop.wait(seconds)

    def _accept_loop(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    # -- the connection -----------------------------------------------------

    def _serve(self, conn):
        state = {"conn": conn, "buf": b"", "tls": False, "marked": set()}
        try:
            conn.settimeout(10)
            conn.sendall(self.greeting)
            while True:
                line = self._read_line(state)
                if line is None:
                    return
                self.commands.append(line)
                if state["tls"]:
                    self.tls_commands.append(line)
                verb, _, args = line.partition(b" ")
                verb = verb.upper().decode(errors="replace")
                if verb == "STLS" and self.tls_context is not None and verb not in self.overrides:
                    self._stls(state)
                    continue
                if verb == "AUTH" and args.strip().upper() == b"PLAIN":   # no initial response
                    state["conn"].sendall(b"+ \r\n")
                    if self._read_line(state) is None:
                        return
                    state["conn"].sendall(b"+OK logged in\r\n")
                    continue
                out = None
                if verb in self.overrides:
                    out = self.overrides[verb](self, args)
                if out is None:
                    out = self._answer(verb, args, state)
                if not self._send(state["conn"], out):
                    return
                if verb == "QUIT":
                    return
        except (OSError, ssl.SSLError, ValueError) as e:
            self.errors.append(repr(e))
        finally:
            try:
                state["conn"].close()
            except OSError:
                pass

    def _read_line(self, state) -> bytes | None:
        while b"\r\n" not in state["buf"]:
            data = state["conn"].recv(65536)
            if not data:
                return None
            if not state["tls"]:
                self.plain_received += data
            state["buf"] += data
        line, state["buf"] = state["buf"].split(b"\r\n", 1)
        return line

    @staticmethod
    def _send(conn, out) -> bool:
        try:
            if isinstance(out, (bytes, bytearray)):
                conn.sendall(out)
            else:
                for piece in out:
                    conn.sendall(piece)
        except (OSError, ssl.SSLError):
            return False
        return True

    def _stls(self, state):
        reply = self.stls_reply if self.stls_reply is not None else b"+OK Begin TLS negotiation\r\n"
        state["conn"].sendall(reply)
        if not reply.startswith(b"+OK"):
            return
        state["conn"] = self.tls_context.wrap_socket(state["conn"], server_side=True)
        state["tls"] = True
        state["buf"] = b""

    # -- default answers ----------------------------------------------------

    @staticmethod
    def stuffed(message: bytes) -> bytes:
        """A message as a multi-line answer body: dot-stuffed, CRLF, '.'."""
        lines = message.split(b"\r\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"

    def _number(self, args: bytes, state) -> int | None:
        try:
            n = int(args.split()[0])
        except (ValueError, IndexError):
            return None
        if 1 <= n <= len(self.messages) and n not in state["marked"]:
            return n
        return None

    def _answer(self, verb: str, args: bytes, state):
        if verb == "CAPA":
            return b"+OK capabilities\r\n" + b"".join(c.encode() + b"\r\n" for c in self.capa) + b".\r\n"
        if verb in ("USER", "PASS", "AUTH", "NOOP", "RSET"):
            if verb == "RSET":
                state["marked"].clear()
            return b"+OK\r\n"
        if verb == "STAT":
            return b"+OK %d %d\r\n" % (len(self.messages), sum(self.sizes))
        if verb == "LIST":
            return b"+OK list\r\n" + b"".join(b"%d %d\r\n" % (i, s) for i, s in enumerate(self.sizes, 1)
                                              if i not in state["marked"]) + b".\r\n"
        if verb == "UIDL":
            if self.uidls is None:
                return b"-ERR no UIDL here\r\n"
            return b"+OK uidl\r\n" + b"".join(b"%d " % i + (u.encode() if isinstance(u, str) else u) + b"\r\n"
                                              for i, u in enumerate(self.uidls, 1) if i not in state["marked"]) + b".\r\n"
        if verb in ("TOP", "RETR"):
            n = self._number(args, state)
            if n is None:
                return b"-ERR no such message\r\n"
            message = self.messages[n - 1]
            if verb == "TOP" and len(args.split()) > 1 and args.split()[1] == b"0":
                message = message.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            return b"+OK message follows\r\n" + self.stuffed(message)
        if verb == "DELE":
            n = self._number(args, state)
            if n is None:
                return b"-ERR no such message\r\n"
            state["marked"].add(n)
            return b"+OK marked\r\n"
        if verb == "QUIT":
            for n in sorted(state["marked"], reverse=True):
                self.deleted.append(self.messages.pop(n - 1))
                self.sizes.pop(n - 1)
                if self.uidls is not None:
                    self.uidls.pop(n - 1)
            return b"+OK bye\r\n"
        return b"-ERR unknown command\r\n"
