"""A TCP proxy on 127.0.0.1 that breaks connections on purpose.

mailferry connects to the proxy instead of the server; the proxy forwards
bytes both ways and, on the connections and at the point a :class:`Fault`
names, cuts the connection, stops forwarding (a stall) or forwards one byte
at a time (a trickle).

    with FaultProxy(dovecot.imap_port, Fault("s2c", "cut", pattern=b"BODY[] {", offset=200)) as p:
        run mailferry against imap://user@127.0.0.1:p.port ... --allow-plaintext

Directions: "s2c" (server to client) and "c2s". Where a fault fires:

* ``at=k``: after the first k bytes of that direction (k=0: before any);
* ``pattern=b"..."`` (its ``occurrence``-th appearance) plus ``offset``
  bytes: offset=0 fires just before the pattern, len(pattern) just after it.

Actions: "cut" closes both sides at once (the bytes before the point are
delivered, none after); "stall" stops forwarding that direction and keeps
the connection open until the client gives up; "trickle" forwards the rest
one byte per ``delay`` seconds.

``connections`` chooses which accepted connections (0-based, in accept
order) the faults apply to; None means all; a Fault's own ``connection``
narrows that to one. Plain-text protocols only make
patterns visible: ``hide_starttls`` rewrites the server's STARTTLS/STLS
capability so that a client with --allow-plaintext stays in clear text
(Dovecot trusts 127.0.0.1 and allows plain LOGIN there). Byte counts work
through TLS too.
"""

from __future__ import annotations

import dataclasses
import select
import socket
import threading
import time

HOST = "127.0.0.1"

# The server's capability words that would start TLS on a plain port.
_STARTTLS_REWRITES = [(b" STARTTLS", b" XSTARTTLS"), (b"\r\nSTLS\r\n", b"\r\nXSTLS\r\n")]
# hide_multiappend: the client then sends one APPEND per message.
_MULTIAPPEND_REWRITES = [(b" MULTIAPPEND", b" XMULTIAPPEND")]


@dataclasses.dataclass
class Fault:
    direction: str                 # "s2c" or "c2s"
    action: str                    # "cut", "stall" or "trickle"
    at: int | None = None          # byte count in that direction
    pattern: bytes | None = None
    occurrence: int = 1
    offset: int = 0
    delay: float = 0.002           # trickle: seconds per byte
    connection: int | None = None  # only on this connection (else as the proxy says)

    def __post_init__(self):
        if self.direction not in ("s2c", "c2s") or self.action not in ("cut", "stall", "trickle"):
            raise ValueError(f"bad fault {self}")
        if (self.at is None) == (self.pattern is None):
            raise ValueError("give exactly one of at= and pattern=")
        if self.offset < 0:
            raise ValueError("offset counts from the start of the pattern; it cannot be negative")


class _Trigger:
    """Finds the absolute stream position where a fault fires."""

    def __init__(self, fault: Fault):
        self.fault = fault
        self.position = fault.at        # known at once for at=
        self.seen = 0                   # occurrences found so far
        self.search_from = 0

    def locate(self, history: bytearray) -> None:
        f = self.fault
        while self.position is None:
            i = history.find(f.pattern, self.search_from)
            if i < 0:
                self.search_from = max(0, len(history) - len(f.pattern) + 1)
                return
            self.seen += 1
            self.search_from = i + 1
            if self.seen == f.occurrence:
                self.position = i + f.offset

    def holdback(self, history: bytearray) -> int:
        """Bytes at the end of history that may be the start of the pattern
        (not forwarded yet, in case the fault fires just before it)."""
        f = self.fault
        if self.position is not None or f.pattern is None:
            return 0
        for k in range(min(len(f.pattern) - 1, len(history)), 0, -1):
            if history.endswith(f.pattern[:k]):
                return k
        return 0


class _Link:
    """One client connection and its server connection."""

    def __init__(self, proxy: "FaultProxy", client: socket.socket, index: int):
        self.proxy = proxy
        self.client = client
        self.index = index
        self.server = socket.create_connection((proxy.target_host, proxy.target_port), timeout=10)
        self.closed = threading.Event()
        faults = [f for f in proxy.faults if proxy.applies_to(index) and f.connection in (None, index)]
        for direction, src, dst in (("c2s", client, self.server), ("s2c", self.server, client)):
            mine = [_Trigger(f) for f in faults if f.direction == direction]
            threading.Thread(target=self._pump, args=(direction, src, dst, mine), daemon=True).start()

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _send(self, dst: socket.socket, data: bytes, direction: str) -> bool:
        try:
            dst.sendall(data)
        except OSError:
            return False
        self.proxy._count(direction, len(data))
        return True

    def _pump(self, direction: str, src: socket.socket, dst: socket.socket, triggers: list) -> None:
        history = bytearray()     # everything read from src (tests move little data)
        sent = 0                  # bytes of history forwarded to dst
        rewrites = []
        if direction == "s2c":
            rewrites = (_STARTTLS_REWRITES if self.proxy.hide_starttls else []) + \
                       (_MULTIAPPEND_REWRITES if self.proxy.hide_multiappend else [])
        try:
            while not self.closed.is_set():
                ready, _, _ = select.select([src], [], [], 0.2)
                if ready:
                    try:
                        data = src.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    for old, new in rewrites:
                        data = data.replace(old, new)
                    history += data
                for t in triggers:
                    t.locate(history)
                fired = [t for t in triggers if t.position is not None and t.position <= len(history)]
                if fired:
                    first = min(fired, key=lambda t: t.position)
                    if first.position > sent and not self._send(dst, bytes(history[sent:first.position]), direction):
                        break
                    sent = max(sent, first.position)
                    self.proxy._fired(first.fault, self.index)
                    self._act(first.fault, direction, src, dst, history, sent)
                    return
                # Nothing fired yet: forward all but a possible pattern start,
                # and that too once the stream has paused (no data this round).
                keep = max((t.holdback(history) for t in triggers), default=0) if ready else 0
                upto = len(history) - keep
                if upto > sent:
                    if not self._send(dst, bytes(history[sent:upto]), direction):
                        break
                    sent = upto
        except (OSError, ValueError):   # a socket closed under us by the other pump
            pass
        finally:
            self.close()

    def _act(self, fault: Fault, direction: str, src, dst, history: bytearray, sent: int) -> None:
        if fault.action == "cut":
            self.close()
        elif fault.action == "stall":
            # Keep both sockets open and forward nothing more this way; the
            # other direction goes on. Ends when the client closes.
            self.proxy._mark_stalled(self.index)
            try:
                while not self.closed.is_set():
                    ready, _, _ = select.select([src], [], [], 0.2)
                    if ready and not src.recv(65536):
                        break
            except (OSError, ValueError):
                pass
            self.close()
        else:  # trickle
            pending = bytes(history[sent:])
            try:
                while not self.closed.is_set():
                    for i in range(len(pending)):
                        if not self._send(dst, pending[i:i + 1], direction):
                            return
                        time.sleep(fault.delay)
                    ready, _, _ = select.select([src], [], [], 0.2)
                    if ready:
                        pending = src.recv(65536)
                        if not pending:
                            break
                    else:
                        pending = b""
            except (OSError, ValueError):
                pass
            finally:
                self.close()


class FaultProxy:
    def __init__(self, target_port: int, *faults: Fault, target_host: str = HOST,
                 connections: set | None = None, hide_starttls: bool = False,
                 hide_multiappend: bool = False):
        self.target_host = target_host
        self.target_port = target_port
        self.faults = list(faults)
        self.connections = connections
        self.hide_starttls = hide_starttls
        self.hide_multiappend = hide_multiappend
        self.fired: list[tuple[int, Fault]] = []   # (connection index, fault), in firing order
        self.bytes = {"c2s": 0, "s2c": 0}
        self.accepted = 0
        self._stalled: set[int] = set()
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._stop = False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def applies_to(self, index: int) -> bool:
        return self.connections is None or index in self.connections

    def stalled(self, index: int) -> bool:
        with self._lock:
            return index in self._stalled

    def _mark_stalled(self, index: int) -> None:
        with self._lock:
            self._stalled.add(index)

    def _fired(self, fault: Fault, index: int) -> None:
        with self._lock:
            self.fired.append((index, fault))

    def _count(self, direction: str, n: int) -> None:
        with self._lock:
            self.bytes[direction] += n

    def _accept_loop(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                index = self.accepted
                self.accepted += 1
            try:
                self._links.append(_Link(self, client, index))
            except OSError:
                client.close()

    def close(self) -> None:
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        for link in self._links:
            link.close()
