"""A scripted IMAP server for what a real one will not do: hostile folder
names, lying sizes, dropped connections. Plaintext (tests run mailferry
with imap:// --allow-plaintext) unless given a TLS context for STARTTLS; it
accepts any login.

    with FakeImap(folders={"../x": [b"Subject: a\\r\\n\\r\\nbody\\r\\n"]}) as srv:
        run mailferry against imap://user@127.0.0.1:srv.port

`folders` maps a raw folder name (as sent in LIST, already modified UTF-7 or
not) to its messages. Names are sent as literals, so any byte can be in them.

Scripting, for the hostile-server suite:

* ``greeting`` and ``capability`` replace the greeting line (bytes, or a
  callable returning an iterable of bytes) and the capability list (used in
  the greeting code and in CAPABILITY answers).
* ``overrides`` maps a command verb (upper case; "UID" for UID FETCH) to
  ``f(server, tag, rest, selected)`` returning the answer: bytes, or an
  iterable of bytes that is sent piece by piece (so an endless generator
  streams until the client hangs up), or None for the default answer; or
  a tuple (answer, folder name now selected), for SELECT and EXAMINE.
* ``tls_context`` (an ssl.SSLContext for the server side) makes STARTTLS
  work: the server answers ``starttls_reply`` (default "<tag> OK Begin TLS",
  to which a test may append injected bytes) and, if that reply is OK,
  continues over TLS. ``plain_received`` holds every byte received before
  TLS started, ``commands`` every command line (``tls_commands`` those
  after TLS).
* ``before_continuation(size)``, if set, is called before the server
  answers "+" to a synchronizing literal of ``size`` octets: the moment a
  client has promised the size and not yet sent a byte.
* ``sasl_accept`` (set after construction, like ``before_continuation``:
  a list of mechanism names, e.g. ``[b"PLAIN"]``) makes the login strict:
  AUTHENTICATE succeeds only with those mechanisms (PLAIN, LOGIN, XOAUTH2,
  OAUTHBEARER, with their continuations, with or without an initial
  response; the token or password is not checked); any
  other mechanism and the LOGIN command are refused with ``NO``. ``logins``
  records each attempt: the mechanism, or b"LOGIN" for the command. None
  (the default) accepts any login at once.
* APPEND stores the message in the named folder (created if missing) and
  answers OK [APPENDUID validity uid] unless ``appenduid`` is False.
* A mailbox argument may come quoted, as an atom or as a literal ({n} or
  {n+}). ``bad_8bit_quoted`` answers BAD to a quoted one with 8-bit bytes,
  as RFC 3501 section 9 allows (QUOTED-CHAR is 7-bit text): what a server
  that lists names in raw 8-bit does (issue 18).
* ``list_status`` answers LIST ... RETURN (STATUS (...)) (RFC 5819) with a
  STATUS line after each LIST line; offer LIST-STATUS in ``capability``.
* ``window`` (a count) emulates Yahoo's limited view of a large folder
  (issue 18; Yahoo documents it as the default "Limited mode", with all
  messages only after ENABLE UIDONLY: see djc/imap-proto#198 and
  rustmailer/bichon#271): a UID FETCH answers for only the newest
  ``window`` messages. With ``window_scope`` "command" (the default) that is
  of the UIDs the command names, so asking by UID range reaches older ones;
  with "folder" the older ones are never shown. ``window_exists`` makes
  EXAMINE's EXISTS the window too, leaving the true count to STATUS.
* An answer (from an override or a subclass) of type ``Hangup`` is sent
  and the connection closed after it, as a server that ends a session
  with its answer does (providers.py: Exchange after a too large APPEND).
"""

from __future__ import annotations

import re
import socket
import ssl
import threading

_LITERAL_AT_END = re.compile(rb"\{(\d+)(\+?)\}$")


class Hangup(bytes):
    """An answer after which the server closes the connection."""


class FakeImap:
    def __init__(self, folders: dict, separator: str = "/", uidvalidity: int = 42,
                 greeting: bytes | None = None, capability: bytes = b"IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+",
                 overrides: dict | None = None, tls_context: ssl.SSLContext | None = None,
                 starttls_reply: bytes | None = None, appenduid: bool = True,
                 bad_8bit_quoted: bool = False, list_status: bool = False, window: int | None = None,
                 window_scope: str = "command", window_exists: bool = False):
        self.folders = {k if isinstance(k, bytes) else k.encode(): list(v) for k, v in folders.items()}
        self.separator = separator
        self.uidvalidity = uidvalidity
        self.capability = capability
        self.greeting = greeting
        self.overrides = overrides or {}
        self.tls_context = tls_context
        self.starttls_reply = starttls_reply
        self.appenduid = appenduid
        self.bad_8bit_quoted = bad_8bit_quoted
        self.list_status = list_status
        self.window = window
        self.window_scope = window_scope
        self.window_exists = window_exists
        self.commands: list[bytes] = []
        self.tls_commands: list[bytes] = []
        self.plain_received = bytearray()
        self.appended: list[tuple[bytes, bytes]] = []     # (folder, message)
        self.errors: list[str] = []
        self.before_continuation = None
        self.sasl_accept: list | None = None
        self.logins: list[bytes] = []
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

    # -- the connection -----------------------------------------------------

    def _greeting_line(self) -> bytes:
        if self.greeting is not None:
            return self.greeting
        return b"* OK [CAPABILITY " + self.capability + b"] fake server\r\n"

    def _serve(self, conn):
        state = {"conn": conn, "buf": b"", "tls": False, "selected": None}
        try:
            conn.settimeout(10)
            greeting = self._greeting_line()
            if not self._send(conn, greeting() if callable(greeting) else greeting):
                return
            while True:
                line = self._read_command(state)
                if line is None:
                    return
                self.commands.append(line)
                if state["tls"]:
                    self.tls_commands.append(line)
                tag, _, rest = line.partition(b" ")
                verb = rest.split(b" ", 1)[0].upper()
                if verb == b"STARTTLS" and self.tls_context is not None and verb not in self.overrides:
                    if not self._starttls(state, tag):
                        return
                    continue
                if (verb in (b"AUTHENTICATE", b"LOGIN") and self.sasl_accept is not None
                        and verb.decode() not in self.overrides):
                    if not self._strict_login(state, tag, rest):
                        return
                    continue
                out = self._dispatch(tag, rest, state)
                if not self._send(state["conn"], out):
                    return
                if verb == b"LOGOUT" or isinstance(out, Hangup):
                    return
        except (OSError, ssl.SSLError, ValueError) as e:
            self.errors.append(repr(e))
        finally:
            try:
                state["conn"].close()
            except OSError:
                pass

    def _recv(self, state) -> bytes:
        data = state["conn"].recv(65536)
        if data and not state["tls"]:
            self.plain_received += data
        return data

    def _read_command(self, state) -> bytes | None:
        """One command line; literals in it ({n} or {n+}) are read whole and
        spliced in, so the line holds the full command."""
        line = b""
        while True:
            while b"\r\n" not in state["buf"]:
                data = self._recv(state)
                if not data:
                    return None
                state["buf"] += data
            part, state["buf"] = state["buf"].split(b"\r\n", 1)
            line += part
            m = _LITERAL_AT_END.search(part)
            if not m:
                return line
            size = int(m.group(1))
            if not m.group(2):
                if self.before_continuation:
                    self.before_continuation(size)
                state["conn"].sendall(b"+ go ahead\r\n")
            while len(state["buf"]) < size:
                data = self._recv(state)
                if not data:
                    return None
                state["buf"] += data
            line += b"\r\n" + state["buf"][:size]
            state["buf"] = state["buf"][size:]

    @staticmethod
    def _send(conn, out) -> bool:
        if out is None:
            return True
        try:
            if isinstance(out, (bytes, bytearray)):
                conn.sendall(out)
            else:
                for piece in out:
                    conn.sendall(piece)
        except (OSError, ssl.SSLError):
            return False
        return True

    def _starttls(self, state, tag) -> bool:
        reply = self.starttls_reply if self.starttls_reply is not None else tag + b" OK Begin TLS negotiation now\r\n"
        reply = reply.replace(b"<TAG>", tag)
        state["conn"].sendall(reply)
        if not reply.startswith(tag + b" OK"):
            return True
        state["conn"] = self.tls_context.wrap_socket(state["conn"], server_side=True)
        state["tls"] = True
        state["buf"] = b""      # RFC 3207 / 2595: nothing read before TLS counts after it
        return True

    # The prompts of each mechanism after the command: one empty challenge
    # (RFC 4616 PLAIN, XOAUTH2, RFC 7628 OAUTHBEARER), or "Username:" then
    # "Password:" (the LOGIN mechanism).
    _SASL_PROMPTS = {b"PLAIN": [b"+ \r\n"], b"LOGIN": [b"+ VXNlcm5hbWU6\r\n", b"+ UGFzc3dvcmQ6\r\n"],
                     b"XOAUTH2": [b"+ \r\n"], b"OAUTHBEARER": [b"+ \r\n"]}

    def _strict_login(self, state, tag, rest) -> bool:
        """A login that only ``sasl_accept`` mechanisms pass. The refusals are
        Exchange's words ("NO AUTHENTICATE failed.", "NO LOGIN failed."; the
        sources are named in test_login_methods.py)."""
        words = rest.split(b" ")
        if words[0].upper() == b"LOGIN":
            self.logins.append(b"LOGIN")
            state["conn"].sendall(tag + b" NO LOGIN failed.\r\n")
            return True
        mech = words[1].upper() if len(words) > 1 else b""
        self.logins.append(mech)
        accepted = [m.upper() for m in self.sasl_accept]
        if mech not in accepted or mech not in self._SASL_PROMPTS:
            state["conn"].sendall(tag + b" NO AUTHENTICATE failed.\r\n")
            return True
        prompts = self._SASL_PROMPTS[mech][1 if len(words) > 2 else 0:]
        for prompt in prompts:
            state["conn"].sendall(prompt)
            answer = self._read_command(state)
            if answer is None:
                return False
            if answer == b"*":
                state["conn"].sendall(tag + b" BAD AUTHENTICATE cancelled.\r\n")
                return True
        state["conn"].sendall(tag + b" OK AUTHENTICATE completed.\r\n")
        return True

    def _dispatch(self, tag, rest, state):
        verb = rest.split(b" ", 1)[0].upper()
        hook = self.overrides.get(verb.decode(errors="replace"))
        if hook is not None:
            out = hook(self, tag, rest, state["selected"])
            if isinstance(out, tuple):      # (answer, the folder now selected)
                out, state["selected"] = out
            if out is not None:
                return out
        out, state["selected"] = self._answer(tag, rest, state["selected"])
        return out

    # -- default answers ----------------------------------------------------

    def literal(self, data: bytes) -> bytes:
        return b"{%d}\r\n" % len(data) + data

    _literal = literal   # the old name

    @staticmethod
    def _quoted_8bit(rest: bytes) -> bool:
        """Whether the command's first argument is a quoted string with 8-bit bytes."""
        parts = rest.split(b" ", 1)
        arg = parts[1].lstrip() if len(parts) > 1 else b""
        if not arg.startswith(b'"'):
            return False
        end = 1
        while end < len(arg) and arg[end:end + 1] != b'"':
            end += 2 if arg[end:end + 1] == b"\\" else 1
        return any(c >= 0x80 for c in arg[1:end])

    def _list(self, tag, rest, selected):
        out = b""
        with_status = self.list_status and b"RETURN (STATUS" in rest.upper()
        for name in self.folders:
            out += b'* LIST () "' + self.separator.encode() + b'" ' + self._literal(name) + b"\r\n"
            if with_status:
                out += b"* STATUS " + self._literal(name) + b" (MESSAGES %d)\r\n" % len(self.folders[name])
        return out + tag + b" OK done\r\n", selected

    def _answer(self, tag: bytes, rest: bytes, selected):
        verb = rest.split(b" ", 1)[0].upper()
        ok = tag + b" OK done\r\n"
        if self.bad_8bit_quoted and verb in (b"EXAMINE", b"SELECT", b"STATUS", b"CREATE") and self._quoted_8bit(rest):
            return tag + b" BAD [CLIENTBUG] 8-bit text in a quoted string\r\n", selected
        if verb == b"LIST" and self.list_status:
            return self._list(tag, rest, selected)
        if verb == b"CAPABILITY":
            return b"* CAPABILITY " + self.capability + b"\r\n" + ok, selected
        if verb in (b"LOGIN", b"AUTHENTICATE", b"NOOP", b"LOGOUT", b"SUBSCRIBE", b"CHECK"):
            return ok, selected
        if verb == b"LIST":
            out = b""
            for name in self.folders:
                out += b'* LIST () "' + self.separator.encode() + b'" ' + self._literal(name) + b"\r\n"
            return out + ok, selected
        if verb == b"CREATE":
            name = self._mailbox_arg(rest.split(b" ", 1)[1])
            self.folders.setdefault(name, [])
            return ok, selected
        if verb == b"APPEND":
            return self._append(tag, rest), selected
        if verb in (b"EXAMINE", b"SELECT", b"STATUS"):
            name = self._mailbox_arg(rest.split(b" ", 1)[1])
            msgs = self.folders.get(name)
            if msgs is None:
                return tag + b" NO no such folder\r\n", selected
            if verb == b"STATUS":
                return (b"* STATUS " + self._literal(name) + b" (MESSAGES %d UNSEEN 0)\r\n" % len(msgs)) + ok, selected
            exists = min(len(msgs), self.window) if self.window is not None and self.window_exists else len(msgs)
            return (b"* %d EXISTS\r\n* OK [UIDVALIDITY %d] ok\r\n" % (exists, self.uidvalidity)) + ok, name
        if verb == b"UID" and selected is not None and self.window is not None:
            return self._windowed_fetch(rest, self.folders[selected]) + ok, selected
        if verb == b"UID" and selected is not None:
            return self._fetch(tag, rest, self.folders[selected]) + ok, selected
        return tag + b" BAD unknown command\r\n", selected

    def _append(self, tag, rest):
        head, _, message = rest.partition(b"\r\n")
        name = self._mailbox_arg(head.split(b" ", 1)[1])
        # What follows the literal (normally nothing) was appended after it.
        m = _LITERAL_AT_END.search(head)
        size = int(m.group(1)) if m else len(message)
        message = message[:size]
        self.folders.setdefault(name, []).append(message)
        self.appended.append((name, message))
        uid = len(self.folders[name])
        if self.appenduid:
            return tag + b" OK [APPENDUID %d %d] appended\r\n" % (self.uidvalidity, uid)
        return tag + b" OK appended\r\n"

    @staticmethod
    def _mailbox_arg(arg: bytes) -> bytes:
        literal = re.match(rb"\s*\{(\d+)\+?\}\r\n", arg)
        if literal:     # as _read_command spliced it in
            return arg[literal.end():literal.end() + int(literal.group(1))]
        arg = arg.strip()
        if arg.startswith(b'"'):
            end = 1
            while end < len(arg) and arg[end:end + 1] != b'"':
                end += 2 if arg[end:end + 1] == b"\\" else 1
            return re.sub(rb'\\(.)', rb"\1", arg[1:end])
        return arg.split(b" ")[0]

    def fetch_items(self, i: int, body: bytes, want_body: bool) -> bytes:
        item = b"UID %d FLAGS () INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" RFC822.SIZE %d" % (i, len(body))
        if want_body:
            item += b" BODY[] " + self._literal(body)
        return b"* %d FETCH (" % i + item + b")\r\n"

    def _fetch(self, tag, rest, msgs):
        out = b""
        upper = rest.upper()
        want_body = b"BODY.PEEK[]" in upper
        if b"BODY.PEEK[HEADER" in upper:    # Message-IDs, for a push's matching
            for i, body in enumerate(msgs, 1):
                head = body.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                out += (b"* %d FETCH (UID %d RFC822.SIZE %d BODY[HEADER.FIELDS (MESSAGE-ID)] " % (i, i, len(body))
                        + self._literal(head) + b")\r\n")
            return out
        for i, body in enumerate(msgs, 1):
            out += self.fetch_items(i, body, want_body)
        return out

    @staticmethod
    def uid_set(text: bytes, top: int) -> set:
        """The UIDs 1..top a UID set names ("1:5,9", "3:*")."""
        out = set()
        for part in text.split(b","):
            lo, _, hi = part.partition(b":")
            lo = top if lo == b"*" else int(lo)
            hi = lo if not hi else (top if hi == b"*" else int(hi))
            lo, hi = min(lo, hi), max(lo, hi)
            out.update(range(max(lo, 1), min(hi, top) + 1))
        if text.endswith(b"*") and top:
            out.add(top)    # "n:*" names the last message even when n > top
        return out

    def _windowed_fetch(self, rest, msgs):
        """UID FETCH through the window (see ``window`` above); UID = position."""
        args = rest.split(b" ")
        uids = sorted(self.uid_set(args[2], len(msgs)))
        if self.window_scope == "folder":
            visible = set(range(len(msgs) - self.window + 1, len(msgs) + 1))
            uids = [u for u in uids if u in visible]
        want_body = b"BODY.PEEK[]" in rest.upper()
        if not want_body:
            uids = uids[-self.window:]
        return b"".join(self.fetch_items(u, msgs[u - 1], want_body) for u in uids)

