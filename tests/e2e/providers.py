"""Scripted provider emulators (issues 18 and 19): IMAP servers that behave
as Gmail, Office 365 / Exchange, iCloud, Yahoo and hMailServer are documented to
behave, for what no local server (Dovecot, Cyrus, Courier: servers.py) does.
Built on fakeimap.FakeImap (plaintext, any password unless a profile says
otherwise). Every behaviour names its source in a comment beside it; the
same list, with the tests that use it, is in tests/README.md.

    with gmail([GmailMessage(b"...", labels={"\\\\Inbox"})]) as srv:
        run mailferry against imap://u@127.0.0.1:srv.port

What is here and not in fakeimap.py: per-message flags and extra FETCH items
(ProviderImap), LIST attributes, a count of logged-in sessions with a limit,
and a record of every body sent (``bodies_sent``), so that a test can count
downloads on the server's side. Sizes and limits that are large at the
provider (Gmail's 35 MB APPENDLIMIT, Exchange's message size limit, Office
365's back-off of minutes) are parameters, scaled down by the tests; the
words and the mechanism are the provider's."""

from __future__ import annotations

import dataclasses
import re
import threading
import time

from fakeimap import FakeImap, Hangup

_DATE = b'"01-Jan-2024 00:00:00 +0000"'


class ProviderImap(FakeImap):
    """FakeImap with what the profiles share: flags per message, attributes
    per folder in LIST, FETCH items a profile adds, a limit on logged-in
    sessions, and a record of the bodies sent. UID = position in the folder,
    as in FakeImap."""

    def __init__(self, folders: dict, list_attributes: dict | None = None, prelogin_capability: bytes | None = None,
                 **kw):
        super().__init__(folders, **kw)
        self.prelogin_capability = prelogin_capability
        self.flags = {name: [set() for _ in msgs] for name, msgs in self.folders.items()}
        self.list_attributes = {k if isinstance(k, bytes) else k.encode(): v
                                for k, v in (list_attributes or {}).items()}
        self.bodies_sent: list[tuple[bytes, int]] = []     # (folder, UID) per BODY[] sent
        self.stores: list[tuple[bytes, list, bytes, set]] = []   # (folder, UIDs, op, flags) per UID STORE
        self.max_sessions: int | None = None   # logged-in sessions allowed at once (all clients)
        self.other_sessions = 0                # sessions other clients hold (a phone, a laptop)
        self.session_refusal = b"NO too many sessions"
        self.refused_logins = 0
        self.login_log: list[tuple[float, bool]] = []     # (when, accepted) per login
        self.connect_log: list[float] = []                 # when, per connection accepted
        self.peak_sessions = 0
        self._sessions = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- sessions ---------------------------------------------------------

    def _serve(self, conn):
        self._local.logged_in = False
        with self._lock:
            self.connect_log.append(time.monotonic())
        try:
            super()._serve(conn)
        finally:
            if self._local.logged_in:
                with self._lock:
                    self._sessions -= 1

    def _login(self, tag):
        """Counts a login against ``max_sessions``: None (accepted) or the refusal."""
        with self._lock:
            if self.max_sessions is not None and self._sessions + self.other_sessions >= self.max_sessions:
                self.refused_logins += 1
                self.login_log.append((time.monotonic(), False))
                return tag + b" " + self.session_refusal + b"\r\n"
            self.login_log.append((time.monotonic(), True))
            self._sessions += 1
            self.peak_sessions = max(self.peak_sessions, self._sessions)
        self._local.logged_in = True
        return None

    def _dispatch(self, tag, rest, state):
        verb = rest.split(b" ", 1)[0].upper()
        if verb in (b"LOGIN", b"AUTHENTICATE") and verb.decode() not in self.overrides:
            refusal = self._login(tag)
            if refusal is not None:
                return refusal
            return self.login_answer(tag)
        return super()._dispatch(tag, rest, state)

    def login_answer(self, tag: bytes) -> bytes:
        return tag + b" OK done\r\n"

    # -- answers ----------------------------------------------------------

    def ok(self, tag: bytes, verb: bytes) -> bytes:
        """The tagged OK of the answers made here. Gmail's words: "OK Success"
        (https://developers.google.com/gmail/imap/imap-extensions, the example
        handshake; MailKit issue 1396)."""
        return tag + b" OK Success\r\n"

    def _has(self, extension: bytes) -> bool:
        return extension.upper() in self.capability.upper().split()

    def _answer(self, tag, rest, selected):
        words = rest.split(b" ")
        verb = words[0].upper()
        if verb == b"CAPABILITY":
            caps = self.capability
            if self.prelogin_capability is not None and not getattr(self._local, "logged_in", False):
                caps = self.prelogin_capability
            return b"* CAPABILITY " + caps + b"\r\n" + self.ok(tag, verb), selected
        if verb == b"ENABLE" and self._has(b"ENABLE"):     # RFC 5161
            wanted = [w for w in words[1:] if self._has(w)]
            return b"* ENABLED " + b" ".join(wanted) + b"\r\n" + self.ok(tag, verb), selected
        if verb == b"NAMESPACE" and self._has(b"NAMESPACE"):
            # RFC 2342: one personal namespace, no prefix. Gmail's answer as
            # logged in MailKit issue 1396 (below); Office 365 lists its
            # folders at the top with "/" too (MailKit issue 803, below).
            sep = self.separator.encode()
            return b'* NAMESPACE (("" "' + sep + b'")) NIL NIL\r\n' + self.ok(tag, verb), selected
        if verb == b"LIST":
            return self._list_with_attributes(tag, b"RETURN (STATUS" in rest.upper() and self._has(b"LIST-STATUS")), \
                selected
        if (verb == b"UID" and len(words) > 2 and words[1].upper() == b"FETCH" and selected is not None
                and selected in self.folders):
            return self._uid_fetch(tag, words[2], rest.upper(), selected), selected
        if (verb == b"UID" and len(words) > 4 and words[1].upper() == b"STORE" and selected is not None
                and selected in self.folders):
            return self._uid_store(tag, words[2], words[3].upper(), rest, selected), selected
        if verb in (b"EXAMINE", b"SELECT"):
            self._local.read_only = verb == b"EXAMINE"
        return super()._answer(tag, rest, selected)

    def _uid_store(self, tag, uid_set, op, rest, folder):
        """UID STORE (RFC 3501 6.4.6): FLAGS, +FLAGS or -FLAGS, .SILENT or
        not; refused on a folder opened with EXAMINE, as RFC 3501 6.3.2 has
        it. Each accepted one is recorded in ``stores``."""
        if getattr(self._local, "read_only", True):
            return tag + b" NO [READ-ONLY] Mailbox is read-only\r\n"
        flags = set(re.search(rb"\(([^)]*)\)", rest).group(1).split())
        uids = sorted(self.uid_set(uid_set, len(self.folders[folder])))
        self.stores.append((folder, uids, op, flags))
        out = b""
        for uid in uids:
            have = self.flags_of(folder, uid)
            if op.startswith(b"+"):
                have |= flags
            elif op.startswith(b"-"):
                have -= flags
            else:
                have.clear()
                have |= flags
            if not op.endswith(b".SILENT"):
                out += b"* %d FETCH (UID %d FLAGS (" % (uid, uid) + b" ".join(sorted(have)) + b"))\r\n"
        return out + self.ok(tag, b"STORE")

    def _list_with_attributes(self, tag, with_status: bool):
        """LIST, with each folder's attributes, and its STATUS (RFC 5819) when asked."""
        out = b""
        for name in self.folders:
            attrs = self.list_attributes.get(name, b"")
            out += (b"* LIST (" + attrs + b') "' + self.separator.encode() + b'" ' + self.literal(name) + b"\r\n")
            if with_status and b"\\NOSELECT" not in attrs.upper():
                out += b"* STATUS " + self.literal(name) + b" (MESSAGES %d)\r\n" % len(self.folders[name])
        return out + self.ok(tag, b"LIST")

    def _uid_fetch(self, tag, uid_set, upper, folder):
        msgs = self.folders[folder]
        out = b""
        for uid in sorted(self.uid_set(uid_set, len(msgs))):
            out += b"* %d FETCH (" % uid + b" ".join(self.fetch_parts(folder, uid, upper)) + b")\r\n"
        return out + self.ok(tag, b"FETCH")

    def fetch_parts(self, folder: bytes, uid: int, upper: bytes) -> list[bytes]:
        """The items of one FETCH response, as the command asked for them."""
        body = self.folders[folder][uid - 1]
        want_body = b"BODY.PEEK[]" in upper or b"BODY[]" in upper
        if want_body:
            self.on_body_fetch(folder, uid)
        parts = [b"UID %d" % uid]
        if b"FLAGS" in upper:
            parts.append(b"FLAGS (" + b" ".join(sorted(self.flags_of(folder, uid))) + b")")
        if b"INTERNALDATE" in upper:
            parts.append(b"INTERNALDATE " + _DATE)
        if b"RFC822.SIZE" in upper:
            parts.append(b"RFC822.SIZE %d" % self.reported_size(folder, uid, body))
        parts += self.extra_items(folder, uid, upper)
        if b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]" in upper:
            head = body.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            parts.append(b"BODY[HEADER.FIELDS (MESSAGE-ID)] " + self.literal(head))
        elif want_body:
            self.bodies_sent.append((folder, uid))
            parts.append(b"BODY[] " + self.literal(body))
        return parts

    def flags_of(self, folder: bytes, uid: int) -> set:
        """The flags of a message (a set of bytes), appended ones included."""
        flags = self.flags.setdefault(folder, [])
        while len(flags) < uid:
            flags.append(set())
        return flags[uid - 1]

    # Hooks for the profiles.
    def on_body_fetch(self, folder: bytes, uid: int) -> None:
        pass

    def reported_size(self, folder: bytes, uid: int, body: bytes) -> int:
        return len(body)

    def extra_items(self, folder: bytes, uid: int, upper: bytes) -> list[bytes]:
        return []


# -- Gmail --------------------------------------------------------------------

# Gmail's capabilities after login, as Gmail sends them with the login's
# tagged OK: logged from imap.gmail.com in MailKit issue 1396
# (https://github.com/jstedfast/MailKit/issues/1396) and the same list in
# many peers' fixtures. X-GM-EXT-1 announces the extensions
# (https://developers.google.com/gmail/imap/imap-extensions, "Checking for the
# presence of extensions"); APPENDLIMIT=35651584 is RFC 7889's upload limit.
GMAIL_CAPABILITY = (b"IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS "
                    b"COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS "
                    b"LITERAL- SPECIAL-USE APPENDLIMIT=35651584")
# Before login (same source): SASL-IR and the mechanisms, no APPENDLIMIT.
GMAIL_PRELOGIN = (b"IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR "
                  b"AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER AUTH=XOAUTH")
GMAIL_APPENDLIMIT = 35651584

# The folders and their special-use attributes, as Gmail lists them
# (https://developers.google.com/gmail/imap/imap-extensions, "Special-Use
# Extension of the LIST command": "[Gmail]" \Noselect, \All, \Drafts,
# \Important, \Sent, \Junk, \Flagged, \Trash; every LIST response carries
# them). The third field is the X-GM-LABELS token that puts a message in
# the folder (same page, "X-GM-LABELS": \Inbox, \Sent, \Important, \Starred,
# \Draft); All Mail holds every message and is not a label.
GMAIL_FOLDERS = [
    ("INBOX", b"\\HasNoChildren", "\\Inbox"),
    ("[Gmail]", b"\\HasChildren \\Noselect", None),
    ("[Gmail]/All Mail", b"\\All \\HasNoChildren", None),
    ("[Gmail]/Drafts", b"\\Drafts \\HasNoChildren", "\\Draft"),
    ("[Gmail]/Important", b"\\HasNoChildren \\Important", "\\Important"),
    ("[Gmail]/Sent Mail", b"\\HasNoChildren \\Sent", "\\Sent"),
    ("[Gmail]/Spam", b"\\HasNoChildren \\Junk", None),
    ("[Gmail]/Starred", b"\\Flagged \\HasNoChildren", "\\Starred"),
    ("[Gmail]/Trash", b"\\HasNoChildren \\Trash", None),
]
ALL_MAIL = b"[Gmail]/All Mail"

# The refusal of a login over the limit of 15 simultaneous connections per
# account (the limit: https://support.google.com/mail/answer/97150, quoted in
# imapsync issue 61, https://github.com/imapsync/imapsync/issues/61; the
# words: zone-eu/wildduck issue 35, https://github.com/zone-eu/wildduck/issues/35,
# and the same text logged in mordak/runt issue 1).
GMAIL_MAX_CONNECTIONS = 15
GMAIL_TOO_MANY = b"NO [ALERT] Too many simultaneous connections. (Failure)"
# A session Gmail ends: "* BYE Session expired, please login again."
# (emailjs/emailjs-imap-client issue 142,
# https://github.com/emailjs/emailjs-imap-client/issues/142; Flying-Toast/yugo
# issue 38). Issue 19 lists it among Gmail's throttling answers.
GMAIL_SESSION_EXPIRED = b"* BYE Session expired, please login again.\r\n"
# Gmail's bandwidth limit on a FETCH: "[OVERQUOTA] Account exceeded command
# or bandwidth limits." (ljmerza/ha-email-sensor issue 16,
# https://github.com/ljmerza/ha-email-sensor/issues/16; the limit itself:
# https://support.google.com/a/answer/1071518, quoted in chatwoot issue 6082).
GMAIL_OVERQUOTA = b"NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)"


@dataclasses.dataclass
class GmailMessage:
    body: bytes
    labels: set = dataclasses.field(default_factory=set)    # "\\Inbox", "\\Sent", "Work"...
    msgid: int = 0                                           # X-GM-MSGID; 0: assigned


# Over APPENDLIMIT, the standard refusal: a tagged NO with TOOBIG (RFC 4469
# section 5 defines the code for an APPEND "too big"; RFC 7889 lets the
# client avoid it). Gmail's own words are not documented.
TOOBIG = b"NO [TOOBIG] Message too large"


class GmailImap(ProviderImap):
    """Gmail's labels as folders: each message is in All Mail and in the
    folder of each of its labels, with the same X-GM-MSGID everywhere
    (https://developers.google.com/gmail/imap/imap-extensions, "X-GM-MSGID":
    "a unique ID for each email so that a unique message may be found across
    labels"). FETCH gives X-GM-MSGID and X-GM-LABELS when asked (same page).
    A user label is a folder of its own name."""

    def __init__(self, messages: list, user_labels=(), **kw):
        self.messages = list(messages)
        for n, m in enumerate(self.messages, 1):
            m.msgid = m.msgid or 1278455344230334865 + n   # the page's example id, counted up
        folders, attributes, self.label_of = {}, {}, {}
        for name, attrs, label in GMAIL_FOLDERS:
            folders[name] = []
            attributes[name] = attrs
            self.label_of[name.encode()] = label
        for label in user_labels:
            folders[label] = []
            attributes[label] = b"\\HasNoChildren"
            self.label_of[label.encode()] = label
        self.members: dict[bytes, list] = {}
        for name in folders:
            key = name.encode()
            label = self.label_of[key]
            if key == ALL_MAIL:
                self.members[key] = list(self.messages)
            elif label is not None:
                self.members[key] = [m for m in self.messages if label in m.labels]
            else:
                self.members[key] = []
            folders[name] = [m.body for m in self.members[key]]
        kw.setdefault("capability", GMAIL_CAPABILITY)
        kw.setdefault("prelogin_capability", GMAIL_PRELOGIN)
        # The greeting (the same page's example handshake).
        kw.setdefault("greeting", b"* OK Gimap ready for requests from 127.0.0.1 k2if6111336rvb.0\r\n")
        super().__init__(folders, list_attributes=attributes, **kw)
        self.max_sessions = GMAIL_MAX_CONNECTIONS
        self.session_refusal = GMAIL_TOO_MANY
        self.label_stores: list[tuple[bytes, bytes, list, int]] = []   # (folder, op, labels, messages) per STORE

    def login_answer(self, tag):
        # "a001 OK username@gmail.com authenticated (Success)", with the
        # capabilities first (MailKit issue 1396 above).
        return b"* CAPABILITY " + self.capability + b"\r\n" + tag + b" OK u@gmail.com authenticated (Success)\r\n"

    def _answer(self, tag, rest, selected):
        verb = rest.split(b" ", 1)[0].upper()
        words = rest.split(b" ")
        if (verb == b"UID" and len(words) > 4 and words[1].upper() == b"STORE" and selected is not None
                and b"X-GM-LABELS" in words[3].upper()):
            return self.store_labels(tag, rest, selected), selected
        if verb in (b"EXAMINE", b"SELECT") and self._mailbox_arg(rest.split(b" ", 1)[1]) == b"[Gmail]":
            # \Noselect (RFC 3501 section 7.2.2: "It is not possible to use
            # this name as a selectable mailbox"); Gmail's words are not
            # documented, the code is RFC 5530's.
            return tag + b" NO [NONEXISTENT] not a selectable mailbox\r\n", selected
        return super()._answer(tag, rest, selected)

    def appendlimit(self) -> int | None:
        for word in self.capability.split():
            if word.upper().startswith(b"APPENDLIMIT="):
                return int(word.split(b"=", 1)[1])
        return None

    def _append(self, tag, rest):
        m = re.search(rb"\{(\d+)\+?\}\r\n", rest)
        limit = self.appendlimit()
        if m and limit is not None and int(m.group(1)) > limit:
            return tag + b" " + TOOBIG + b"\r\n"
        out = super()._append(tag, rest)
        name = self._mailbox_arg(rest.partition(b"\r\n")[0].split(b" ", 1)[1])
        self.appended_message(name, self.folders[name][-1])
        return out

    def extra_items(self, folder, uid, upper):
        m = self.members[folder][uid - 1]
        out = []
        if b"X-GM-MSGID" in upper:
            out.append(b"X-GM-MSGID %d" % m.msgid)
        if b"X-GM-LABELS" in upper:
            labels = sorted(m.labels)
            out.append(b"X-GM-LABELS (" + b" ".join(
                l.encode() if l.startswith("\\") else b'"' + l.encode() + b'"' for l in labels) + b")")
        return out

    def distinct_bodies_sent(self) -> int:
        return len({self.members[f][uid - 1].msgid for f, uid in self.bodies_sent})

    def relabel(self, m: GmailMessage, add=(), remove=()):
        """Labels added to and removed from `m` as the web interface does:
        it appears in the folder of each label added (at its end: a new UID)
        and leaves the folder of each removed; All Mail keeps it (a label
        removed is not a deletion, same page). members and folders change
        together. UIDs here are positions, so a label is removed only from
        the message last in its folder (an IMAP server never renumbers)."""
        for label in add:
            key = next(k for k, v in self.label_of.items() if v == label)
            m.labels.add(label)
            self.members[key].append(m)
            self.folders[key].append(m.body)
        for label in remove:
            key = next(k for k, v in self.label_of.items() if v == label)
            if self.members[key][-1] is not m:
                raise ValueError("only the last message of a folder can leave it here")
            m.labels.discard(label)
            self.members[key].pop()
            self.folders[key].pop()
            del self.flags.setdefault(key, [])[len(self.folders[key]):]

    def put_outside_all_mail(self, folder: bytes, m: GmailMessage):
        """`m` in Spam or Trash, which All Mail does not show (issue 19:
        Gmail's \\Junk and \\Trash folders are not in All Mail)."""
        self.members[folder].append(m)
        self.folders[folder].append(m.body)
    # Gmail's daily download limit ("Download via IMAP: 2,500 MB per day",
    # https://support.google.com/a/answer/1071518), small in tests: past it,
    # a body FETCH is answered GMAIL_OVERQUOTA (its sources above; the same
    # words from getmail in mailcow/mailcow-dockerized issue 1554,
    # https://github.com/mailcow/mailcow-dockerized/issues/1554). The whole
    # command is refused, as Gmail refuses the FETCH. None: no limit.
    download_budget: int | None = None
    downloaded = 0      # body bytes sent against it
    overquota_answers = 0

    def _uid_fetch(self, tag, uid_set, upper, folder):
        if self.download_budget is None or b"BODY" not in upper or b"HEADER" in upper:
            return super()._uid_fetch(tag, uid_set, upper, folder)
        msgs = self.folders[folder]
        size = sum(len(msgs[u - 1]) for u in self.uid_set(uid_set, len(msgs)))
        with self._lock:
            if self.downloaded + size > self.download_budget:
                self.overquota_answers += 1
                return tag + b" " + GMAIL_OVERQUOTA + b"\r\n"
            self.downloaded += size
        return super()._uid_fetch(tag, uid_set, upper, folder)

    # -- the write side: APPEND and X-GM-LABELS (issue 19's restore) -------
    # https://developers.google.com/gmail/imap/imap-extensions: a message is
    # one message with labels; each label's folder shows it, All Mail shows
    # every message but Spam and Trash ("X-GM-LABELS"; "[Gmail]/All Mail").
    # UID = position in a folder, as everywhere in FakeImap.

    def appended_message(self, name: bytes, body: bytes) -> None:
        """An APPEND into a label's folder makes one message with that label,
        also in All Mail; into All Mail, a message without labels; into
        Spam or Trash (no labels), a message there only."""
        msg = GmailMessage(body, msgid=9 << 60 | len(self.appended))
        label = self.label_of.get(name)
        if label is not None:
            msg.labels.add(label)
        self.members.setdefault(name, []).append(msg)
        if name != ALL_MAIL and (label is not None or name not in self.label_of):
            if name not in self.label_of:         # a folder CREATE made: a user label
                self.label_of[name] = name.decode()
                msg.labels.add(name.decode())
            self._show(ALL_MAIL, msg)

    def _show(self, name: bytes, msg: GmailMessage) -> None:
        self.folders.setdefault(name, []).append(msg.body)
        self.members.setdefault(name, []).append(msg)

    def _folder_of_label(self, label: str) -> bytes:
        for name, known in self.label_of.items():
            if known == label:
                return name
        # A label not yet a folder: Gmail makes it one (its own label list).
        name = label.encode()
        self.folders.setdefault(name, [])
        self.members.setdefault(name, [])
        self.label_of[name] = label
        self.list_attributes.setdefault(name, b"\\HasNoChildren")
        return name

    @staticmethod
    def parse_labels(text: bytes) -> list:
        """The labels of "(\\Sent "My label" Work)": system labels as atoms,
        others as atoms or quoted strings."""
        inner = text[text.index(b"(") + 1:text.rindex(b")")]
        return [(q or a).decode().replace('\\"', '"') for q, a in
                re.findall(rb'"((?:[^"\\]|\\.)*)"|([^\s"]+)', inner)]

    def store_labels(self, tag: bytes, rest: bytes, folder: bytes) -> bytes:
        """UID STORE set +X-GM-LABELS / -X-GM-LABELS / X-GM-LABELS (...): a
        label added shows the message in the label's folder; a label taken
        away takes it out of that folder only: All Mail keeps it, as Gmail
        does ("a label removed is not a deletion"). Taking a message out of a
        folder changes the positions after it, so the UIDVALIDITY changes
        (RFC 3501 2.3.1.1: UIDs that cannot be kept need a new one)."""
        words = rest.split(b" ", 4)
        op, labels = words[3].upper(), self.parse_labels(words[4])
        msgs = [self.members[folder][uid - 1] for uid in sorted(self.uid_set(words[2], len(self.members[folder])))]
        self.label_stores.append((folder, op, labels, len(msgs)))
        for msg in msgs:
            wanted = set(labels) if not op.startswith((b"+", b"-")) else (
                msg.labels | set(labels) if op.startswith(b"+") else msg.labels - set(labels))
            for label in wanted - msg.labels:
                self._show(self._folder_of_label(label), msg)
            for label in msg.labels - wanted:
                self._hide(self._folder_of_label(label), msg)
            msg.labels = wanted
        out = b""
        for msg in msgs:
            uid = next(i for i, m in enumerate(self.members[folder], 1) if m is msg) if msg in self.members[folder] \
                else None
            if uid is not None and not op.endswith(b".SILENT"):
                out += b"* %d FETCH (" % uid + self.extra_items(folder, uid, b"X-GM-LABELS")[0] + b" UID %d)\r\n" % uid
        return out + self.ok(tag, b"STORE")

    def _hide(self, name: bytes, msg: GmailMessage) -> None:
        at = next((i for i, m in enumerate(self.members.get(name, [])) if m is msg), None)
        if at is None:
            return
        del self.members[name][at]
        del self.folders[name][at]
        flags = self.flags.get(name, [])
        if at < len(flags):
            del flags[at]
        self.uidvalidity += 1


def gmail(messages: list, user_labels=(), **kw) -> GmailImap:
    return GmailImap(messages, user_labels=user_labels, **kw)


# -- Office 365 / Exchange ----------------------------------------------------

# Office 365's capabilities before and after login, as logged from
# outlook.office365.com in MailKit issue 849
# (https://github.com/jstedfast/MailKit/issues/849): no CONDSTORE, LIST-STATUS
# or ESEARCH, and the login's tagged OK carries none ("OK AUTHENTICATE
# completed."), so a client asks with CAPABILITY.
O365_PRELOGIN = b"IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+"
O365_CAPABILITY = (b"IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CLIENTACCESSRULES "
                   b"CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE CHILDREN IDLE NAMESPACE LITERAL+")
# Exchange on its own premises lists NTLM and GSSAPI before PLAIN (issue
# 18's order; the list itself in MailKit issue 269 and imapsync issue 74:
# see test_login_methods.py, which tests the login against it).
EXCHANGE_CAPABILITY = b"IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=PLAIN UIDPLUS MOVE ID CHILDREN IDLE NAMESPACE LITERAL+"
# Office 365's throttling, in its own words:
# * "NO Request is throttled. Suggested Backoff Time: N milliseconds" to an
#   APPEND (imapsync issue 198, https://github.com/imapsync/imapsync/issues/198;
#   imapsync's FAQ.Office365 quoted in imapsync issue 272);
# * "BAD Request is throttled. Suggested Backoff Time: N milliseconds" then
#   "* BYE Connection closed. 14" (simonrob/email-oauth2-proxy issue 191,
#   https://github.com/simonrob/email-oauth2-proxy/issues/191; imapsync issue 212).
O365_THROTTLED = b"Request is throttled. Suggested Backoff Time: %d milliseconds"
EXCHANGE_CLOSED = b"* BYE Connection closed. 14\r\n"
# A message over the size limit: "* BYE Connection closed. 14" and
# "BAD Command Argument Error. 11" to its APPEND, an 11 MB message to SBS 2011
# (imapsync issue 5, https://github.com/imapsync/imapsync/issues/5; the same
# BAD for single messages in imapsync issues 88, 161 and 389).
EXCHANGE_TOO_LARGE = b"BAD Command Argument Error. 11"
# A command using an extension Office 365 does not offer is answered BAD
# (RFC 3501 section 7.1.5: a command "not recognized"). The words are
# Exchange's BAD as Office 365 sent it to an APPEND it refused
# (thunderbird/thunderbird-android issue 1809,
# https://github.com/thunderbird/thunderbird-android/issues/1809); its text
# for an unknown command is not documented.
EXCHANGE_COMMAND_ERROR = b"BAD Command Error. 10"


# After ten errors in succession on a session, Exchange 2010 SP1 stops
# answering it: "After ten of these errors have been issued in succession,
# the Exchange server appears to stop responding to the IMAP session ... the
# 10th request ... is the last request to be logged" (a Server Fault
# question, "IMAPSync Migration to Exchange 2010 SP1: Exchange drops
# connections while checking for existence of folders", mirrored at
# http://www.developerit.com/2012/07/01/imapsync-migration-to-exchange-2010-sp1-exchange-drops-connections-while-checking-for-existence-of-folders).
# Issue 18 calls it the connection dropped after 10 errors; the source shows
# a session left silent, which is what is emulated.
EXCHANGE_ERROR_LIMIT = 10


class ExchangeImap(ProviderImap):
    """Office 365 / Exchange. ``max_append`` (octets, None: none) is the
    server's message size limit (a tenant's or server's setting); over it an
    APPEND gets EXCHANGE_TOO_LARGE and the connection is closed. After
    ``error_limit`` NO or BAD answers in a row on a connection, the commands
    that follow get no answer (EXCHANGE_ERROR_LIMIT). Folder names
    are case-insensitive: "sweet" names the folder listed as "SWEET" (an
    Office 365 log in MailKit issue 803,
    https://github.com/jstedfast/MailKit/issues/803), and CREATE of a name
    that differs only in case from an existing one is refused as an existing
    name (RFC 3501 section 6.3.3: "It is an error to attempt to create ...
    a mailbox with a name that refers to an extant mailbox")."""

    def __init__(self, folders: dict, max_append: int | None = None, on_premises: bool = False,
                 error_limit: int | None = EXCHANGE_ERROR_LIMIT, **kw):
        kw.setdefault("capability", EXCHANGE_CAPABILITY if on_premises else O365_CAPABILITY)
        kw.setdefault("prelogin_capability", EXCHANGE_CAPABILITY if on_premises else O365_PRELOGIN)
        # The greeting (MailKit issue 849 above; Exchange's default banner).
        kw.setdefault("greeting", b"* OK The Microsoft Exchange IMAP4 service is ready.\r\n")
        super().__init__(folders, **kw)
        self.max_append = max_append
        self.error_limit = error_limit
        self.bad_answers = 0
        self.ignored: list[bytes] = []      # commands left unanswered after the error limit

    def _dispatch(self, tag, rest, state):
        errors = state.setdefault("errors_in_a_row", 0)
        if self.error_limit is not None and errors >= self.error_limit:
            self.ignored.append(tag + b" " + rest[:80])
            return None
        out = super()._dispatch(tag, rest, state)
        if isinstance(out, (bytes, bytearray)):
            last = out.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
            failed = last.startswith(tag + b" NO") or last.startswith(tag + b" BAD")
            state["errors_in_a_row"] = errors + 1 if failed else 0
        return out

    def login_answer(self, tag):
        return tag + b" OK AUTHENTICATE completed.\r\n"    # no capabilities (MailKit issue 849)

    def ok(self, tag, verb):
        # "OK CAPABILITY completed." (MailKit issue 849), "OK LIST completed." (issue 803).
        return tag + b" OK " + verb + b" completed.\r\n"

    def _canonical(self, name: bytes) -> bytes:
        for existing in self.folders:
            if existing.lower() == name.lower():
                return existing
        return name

    def _rename_arg(self, rest: bytes) -> bytes:
        """`rest` with its mailbox argument replaced by the existing folder's spelling."""
        verb, _, arg = rest.partition(b" ")
        name = self._mailbox_arg(arg)
        canonical = self._canonical(name)
        if canonical == name:
            return rest
        quoted = b'"' + canonical.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        literal = re.match(rb"\s*\{(\d+)\+?\}\r\n", arg)
        if literal:
            return verb + b" " + quoted + arg[literal.end() + int(literal.group(1)):]
        stripped = arg.lstrip()
        if stripped.startswith(b'"'):
            end = 1
            while end < len(stripped) and stripped[end:end + 1] != b'"':
                end += 2 if stripped[end:end + 1] == b"\\" else 1
            return verb + b" " + quoted + stripped[end + 1:]
        return verb + b" " + quoted + stripped[len(name):]

    def _answer(self, tag, rest, selected):
        verb = rest.split(b" ", 1)[0].upper()
        upper = rest.upper()
        # What Office 365 does not offer is a command it cannot parse.
        if (b"RETURN (STATUS" in upper or b"CONDSTORE" in upper or b"CHANGEDSINCE" in upper
                or (verb == b"UID" and b"SEARCH RETURN" in upper) or verb == b"ENABLE"):
            self.bad_answers += 1
            return tag + b" " + EXCHANGE_COMMAND_ERROR + b"\r\n", selected
        if verb == b"CREATE":
            name = self._mailbox_arg(rest.split(b" ", 1)[1])
            if self._canonical(name) != name:
                return tag + b" NO [ALREADYEXISTS] Mailbox already exists.\r\n", selected
        if verb in (b"EXAMINE", b"SELECT", b"STATUS", b"APPEND", b"SUBSCRIBE"):
            rest = self._rename_arg(rest)
        if verb == b"APPEND" and self.max_append is not None:
            m = re.search(rb"\{(\d+)\+?\}\r\n", rest)
            if m and int(m.group(1)) > self.max_append:
                self.bad_answers += 1
                return Hangup(EXCHANGE_CLOSED + tag + b" " + EXCHANGE_TOO_LARGE + b"\r\n"), selected
        out, now = super()._answer(tag, rest, selected)
        answered = isinstance(out, (bytes, bytearray)) and out.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1].startswith(
            tag + b" OK")
        if verb in (b"EXAMINE", b"SELECT") and now in self.folders and answered:
            # UIDNEXT, which RFC 3501 6.3.1 requires in the answer, and which
            # Exchange gives (no CONDSTORE: a rerun lists from it, mbsync's
            # way). UID = position here, so the next is one past the last.
            out = b"* OK [UIDNEXT %d] The predicted next UID\r\n" % (len(self.folders[now]) + 1) + out
        return out, now


# -- iCloud -------------------------------------------------------------------

# iCloud sets \Seen when a message is fetched, even with BODY.PEEK[] (which
# RFC 3501 section 6.4.5 says does not set it): joeyates/imap-backup issue
# 118 (https://github.com/joeyates/imap-backup/issues/118), reproduced there
# by the maintainer on an iCloud account and by no other provider.
class ICloudImap(ProviderImap):
    def on_body_fetch(self, folder, uid):
        self.flags_of(folder, uid).add(b"\\Seen")


# -- Yahoo --------------------------------------------------------------------

# Yahoo refuses an APPEND whose message does not end in CRLF: "BAD
# [CLIENTBUG] Additional arguments found after last expected argument"
# (MailKit issue 251, https://github.com/jstedfast/MailKit/issues/251: the
# message lacked a final CRLF, and "once I add a newline to the end of your
# message, it works reliably"; the same words from Yahoo in imapsync issue
# 209, https://github.com/imapsync/imapsync/issues/209, a Gmail-to-Yahoo
# migration). Yahoo's window on large folders is in fakeimap.py (``window``).
YAHOO_NO_FINAL_CRLF = b"BAD [CLIENTBUG] Additional arguments found after last expected argument"


class YahooImap(ProviderImap):
    def _append(self, tag, rest):
        head, _, message = rest.partition(b"\r\n")
        m = re.search(rb"\{(\d+)\+?\}$", head)
        if m and not message[:int(m.group(1))].endswith(b"\r\n"):
            return tag + b" " + YAHOO_NO_FINAL_CRLF + b"\r\n"
        return super()._append(tag, rest)


# -- hMailServer --------------------------------------------------------------

# hMailServer reports an RFC822.SIZE smaller than the message it serves: the
# size is taken before the Return-Path (and Delivered-To) header it adds on
# delivery (hmailserver/hmailserver issue 476,
# https://github.com/hmailserver/hmailserver/issues/476: 250482 reported for
# 250511 bytes; the fix, pull request 477, names the cause). A message
# delivered this way carries RETURN_PATH at its top; RFC822.SIZE leaves it out.
HMAIL_RETURN_PATH = b"Return-Path: <sender@example.org>\r\n"


class HMailServerImap(ProviderImap):
    """Also answers UID SEARCH with the keys a push uses to find what it
    appended without APPENDUID (issue 20): UID <set>, HEADER <field>
    <string> and NOT before a key. Per RFC 3501 section 6.4.4, HEADER matches
    a field whose text contains the string, case-insensitively, and an empty
    string matches every message that has the field; the keys are ANDed.
    ``searches`` records each search's criteria."""

    def __init__(self, folders: dict, **kw):
        super().__init__(folders, **kw)
        self.searches: list[bytes] = []

    def reported_size(self, folder, uid, body):
        if body.startswith(HMAIL_RETURN_PATH):
            return len(body) - len(HMAIL_RETURN_PATH)
        return len(body)

    def _answer(self, tag, rest, selected):
        words = rest.split(b" ", 2)
        if (len(words) == 3 and words[0].upper() == b"UID" and words[1].upper() == b"SEARCH"
                and selected in self.folders):
            self.searches.append(words[2])
            msgs = self.folders[selected]
            found = [uid for uid in range(1, len(msgs) + 1) if _matches(_search_keys(words[2]), uid, msgs)]
            return b"* SEARCH" + b"".join(b" %d" % u for u in found) + b"\r\n" + self.ok(tag, b"SEARCH"), selected
        return super()._answer(tag, rest, selected)


def _search_keys(criteria: bytes) -> list:
    """The criteria as (negated, key, args) triples; strings unquoted."""
    tokens = [m.group(1).replace(b'\\"', b'"').replace(b"\\\\", b"\\") if m.group(1) is not None else m.group(2)
              for m in re.finditer(rb'"((?:[^"\\]|\\.)*)"|(\S+)', criteria)]
    keys, i, negated = [], 0, False
    while i < len(tokens):
        word = tokens[i].upper()
        if word == b"NOT":
            negated, i = True, i + 1
            continue
        count = {b"UID": 1, b"HEADER": 2}.get(word, 0)
        keys.append((negated, word, tokens[i + 1:i + 1 + count]))
        negated, i = False, i + 1 + count
    return keys


def _header_values(message: bytes, field: bytes) -> list[bytes]:
    head = message.split(b"\r\n\r\n", 1)[0]
    unfolded = re.sub(rb"\r\n[ \t]", b" ", head)
    return [line.split(b":", 1)[1].strip() for line in unfolded.split(b"\r\n")
            if b":" in line and line.split(b":", 1)[0].strip().lower() == field.lower()]


def _matches(keys: list, uid: int, msgs: list) -> bool:
    for negated, word, args in keys:
        if word == b"UID":
            hit = uid in FakeImap.uid_set(args[0], len(msgs))
        elif word == b"HEADER":
            hit = any(args[1].lower() in v.lower() for v in _header_values(msgs[uid - 1], args[0]))
        else:
            hit = True     # ALL, or a key this emulator does not know
        if hit == negated:
            return False
    return True


def delivered(body: bytes) -> bytes:
    """`body` as hMailServer stores a message it received by SMTP."""
    return HMAIL_RETURN_PATH + body
