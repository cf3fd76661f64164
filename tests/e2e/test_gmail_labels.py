"""Gmail on the backup side (issue 19): each message downloaded and stored
once whichever label folders show it, known by its X-GM-MSGID; every label
folder still complete; the labels (X-GM-LABELS) recorded in the state and
shown by status, kept up to date on reruns; Spam and Trash kept unless
--skip-special-use leaves them out. Against the Gmail emulator of
providers.py (GmailImap)."""

import json
import os
import random
import signal
import subprocess
import time
import unittest

from mfharness import mailferry_path
from providers import GmailMessage, gmail
from test_providers import PASSWORD, _Provider

LABELS = ["\\Inbox", "\\Sent", "\\Important", "\\Starred", "Work", "Family", "Receipts"]
USER_LABELS = ["Work", "Family", "Receipts"]


def account(count: int, seed: int = 19) -> list:
    """`count` messages with up to three labels each. Every third has no
    Message-ID and the size of its neighbours: only X-GM-MSGID tells those
    apart from each other and finds them again in another folder."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        head = b"Subject: g%d\r\n" % n
        if n % 3:
            head += b"Message-ID: <g%d@gmail-labels>\r\n" % n
        body = head + b"\r\nbody %05d\r\n" % n + b"x" * rng.randrange(0, 400) + b"\r\n"
        out.append(GmailMessage(body, labels=set(rng.sample(LABELS, rng.randrange(0, 4)))))
    return out


class GmailLabelsTest(_Provider):
    def server_view(self, srv):
        return {name.decode(): sorted(msgs) for name, msgs in srv.folders.items()
                if name != b"[Gmail]" and msgs}

    def inodes(self):
        """The distinct files (inodes) of every message the archive holds."""
        seen = set()
        for root, dirs, files in os.walk(self.archive):
            dirs[:] = [d for d in dirs if d != ".mailferry"]
            if os.path.basename(root) in ("cur", "new"):
                seen |= {os.stat(os.path.join(root, f)).st_ino for f in files}
        return seen

    def status(self):
        r = self.run_mf("status", self.archive, "--json")
        return json.loads(r.stdout)

    def assert_complete(self, srv):
        held = {f: b for f, b in self.held_bytes().items() if b}
        self.assertEqual(held, self.server_view(srv))

    def test_each_message_downloaded_and_stored_once(self):
        for connections in ("1", "4"):
            with self.subTest(connections=connections):
                self.tearDown()
                self.setUp()
                msgs = account(300)
                with gmail(msgs, user_labels=USER_LABELS) as srv:
                    r = self.backup(srv, "--json", "--connections", connections)
                    self.assertEqual(r.returncode, 0, r.output)
                    self.assert_complete(srv)
                    self.assertEqual(len(srv.bodies_sent), len(msgs))
                    self.assertEqual(srv.distinct_bodies_sent(), len(msgs))
                self.assertEqual(len(self.inodes()), len(msgs))

    def test_labels_are_recorded_and_shown_by_status(self):
        msgs = account(60)
        with gmail(msgs, user_labels=USER_LABELS) as srv:
            self.assertEqual(self.backup(srv).returncode, 0)
        want = {l: sum(l in m.labels for m in msgs) for l in LABELS}
        self.assertEqual(self.status()["labels"], {l: n for l, n in want.items() if n})
        text = self.run_mf("status", self.archive).stdout
        line = next(l for l in text.splitlines() if l.startswith("labels: "))
        for label in ("\\Inbox", "Work"):
            self.assertIn(f"{label} {want[label]}", line)

    def test_a_label_change_is_picked_up_without_a_download(self):
        msgs = account(120)
        with gmail(msgs, user_labels=USER_LABELS) as srv:
            self.assertEqual(self.backup(srv).returncode, 0)
            added = next(m for m in msgs if "Work" not in m.labels)
            left = srv.members[b"Family"][-1]
            srv.relabel(added, add=["Work"])
            srv.relabel(left, remove=["Family"])
            sent = len(srv.bodies_sent)
            r = self.backup(srv, "--json")
            self.assertEqual(r.returncode, 0, r.output)
            self.assertEqual(len(srv.bodies_sent), sent, "a label change downloaded a message")
        held = self.held()
        work = [m for m in held["Work"].values() if m["data"] == added.body]
        self.assertEqual(len(work), 1)
        self.assertEqual(len(self.inodes()), len(msgs))
        # A message gone from a folder is kept there, as any backup keeps it.
        self.assertIn(left.body, [m["data"] for m in held["Family"].values()])
        family = next(f for f in self.report(r)["folders"] if f["folder"] == "Family")
        self.assertEqual(family["removed_by_others"], 1)
        labels = self.status()["labels"]
        self.assertEqual(labels["Work"], sum("Work" in m.labels for m in msgs))
        self.assertEqual(labels["Family"], sum("Family" in m.labels for m in msgs))

    def spam_and_trash(self, srv):
        srv.put_outside_all_mail(b"[Gmail]/Spam", GmailMessage(b"Subject: spam\r\n\r\nbuy\r\n", msgid=7001))
        srv.put_outside_all_mail(b"[Gmail]/Trash", GmailMessage(b"Subject: old\r\n\r\ngone\r\n", msgid=7002))

    def test_spam_and_trash_are_kept_by_default(self):
        with gmail(account(10), user_labels=USER_LABELS) as srv:
            self.spam_and_trash(srv)
            r = self.backup(srv)
            self.assertEqual(r.returncode, 0, r.output)
            self.assert_complete(srv)

    def test_skip_special_use_leaves_spam_and_trash_out_and_says_so(self):
        with gmail(account(10), user_labels=USER_LABELS) as srv:
            self.spam_and_trash(srv)
            r = self.backup(srv, "--json", "--skip-special-use", "junk,Trash")
            view = self.server_view(srv)
        self.assertEqual(r.returncode, 0, r.output)
        held = {f: b for f, b in self.held_bytes().items() if b}
        self.assertEqual(held, {f: b for f, b in view.items() if f not in ("[Gmail]/Spam", "[Gmail]/Trash")})
        left = {f["folder"]: f.get("left_out") for f in self.report(r)["folders"]}
        self.assertEqual(left["[Gmail]/Spam"], "left out by --skip-special-use (\\Junk)")
        self.assertEqual(left["[Gmail]/Trash"], "left out by --skip-special-use (\\Trash)")

    def test_skip_special_use_refuses_an_unknown_use(self):
        with gmail(account(2)) as srv:
            r = self.backup(srv, "--skip-special-use", "junk,spam")
        self.assertEqual(r.returncode, 2, r.output)
        self.assertIn("got 'spam'", r.stderr)

    def test_kill9_during_a_backup_then_a_rerun_holds_each_message_once(self):
        msgs = account(400)
        rng = random.Random(9)
        with gmail(msgs, user_labels=USER_LABELS) as srv:
            argv = [mailferry_path(), "backup", f"imap://u@127.0.0.1:{srv.port}", self.archive,
                    "--allow-plaintext", "--password-env", "MF_TEST_PASSWORD", "--timeout", "10",
                    "--quiet", "--connections", "3"]
            env = dict(os.environ, MF_TEST_PASSWORD=PASSWORD, **self.env)
            for _ in range(4):
                p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.05, 0.6))
                p.send_signal(signal.SIGKILL)
                p.wait()
            r = self.backup(srv)
            self.assertEqual(r.returncode, 0, r.output)
            self.assert_complete(srv)
        self.assertEqual(len(self.inodes()), len(msgs))


if __name__ == "__main__":
    unittest.main()
