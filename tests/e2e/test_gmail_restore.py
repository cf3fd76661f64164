"""Restore and migrate put Gmail's labels back (issue 19).

A Gmail archive holds each label as a folder, a message with several labels
hard-linked into each. Into Gmail (the emulator of providers.py, which
models labels on the write side too), each message is uploaded once, into
the first folder it is met in, and labelled for every other folder
(UID STORE +X-GM-LABELS); a rerun uploads and stores nothing. Into any other
server (Dovecot), one folder per label, or with --labels primary each message
once, in its primary label's folder, the others counted in the report."""

import imaplib
import json
import os
import unittest

from fakeimap import Hangup
from mfharness import DovecotTestCase, run_mailferry
from mfrun import assert_sane_exit, run_measured
from providers import ALL_MAIL, GmailMessage, gmail
from test_providers import _Provider

PASSWORD = "GmailRestore-Canary-5d2c"


def message(n: int) -> bytes:
    return b"Subject: g%d\r\nMessage-ID: <g%d@gmail-restore>\r\n\r\nbody %d\r\n" % (n, n, n)


# Labels of each message: some in three folders or more besides All Mail.
LABELS = [{"\\Inbox"}, {"\\Inbox", "\\Important", "Work"}, {"\\Sent", "Work", "Travel", "\\Starred"}, set(),
          {"\\Inbox", "Travel"}]
SPAM, TRASH = message(90), message(91)


def source_account():
    return gmail([GmailMessage(message(n), labels=set(l)) for n, l in enumerate(LABELS, 1)],
                 user_labels=["Work", "Travel"])


def put_spam_and_trash(srv):
    """One message in Spam and one in Trash (no labels: only there), put
    there by APPEND as a client would."""
    c = imaplib.IMAP4("127.0.0.1", srv.port)
    c.login("u", PASSWORD)
    c.append('"[Gmail]/Spam"', None, None, SPAM)
    c.append('"[Gmail]/Trash"', None, None, TRASH)
    c.logout()


def labels_by_body(srv) -> dict:
    """Body -> labels, of every message of the account (All Mail, Spam, Trash)."""
    out = {}
    for name in (ALL_MAIL, b"[Gmail]/Spam", b"[Gmail]/Trash"):
        for m in srv.members.get(name, []):
            out[m.body] = set(m.labels)
    return out


class _Gmail(_Provider):
    """test_providers' fixture (temporary HOME, archive and state), with the
    emulators' password and every run expected to succeed."""

    def run_mf(self, *args, env=None):
        r = run_measured(list(args), password=PASSWORD, env={**self.env, **(env or {})}, timeout=90)
        assert_sane_exit(self, r)
        self.assertNotIn(PASSWORD, r.output)
        self.assertEqual(r.returncode, 0, r.output)
        return r

    def url(self, srv):
        return f"imap://u@127.0.0.1:{srv.port}"

    def restore(self, dst, *extra):
        return self.run_mf("restore", self.archive, self.url(dst), "--allow-plaintext", "--target-password-env",
                           "MF_TEST_PASSWORD", "--timeout", "10", "--json", *extra)


    def assert_each_once_with_its_labels(self, src, dst):
        want = labels_by_body(src)
        self.assertEqual(len(dst.appended), len(want), f"{len(dst.appended)} uploads for {len(want)} messages")
        self.assertEqual(sorted(dst.folders[ALL_MAIL]), sorted(m.body for m in src.members[ALL_MAIL]))
        self.assertEqual(labels_by_body(dst), want)
        for name, bodies in src.folders.items():     # every label's folder shows its messages
            self.assertEqual(sorted(dst.folders.get(name, [])), sorted(bodies), name)

    def assert_rerun_changes_nothing(self, dst, rerun):
        uploads, stores = len(dst.appended), len(dst.label_stores)
        r = rerun()
        self.assertEqual(len(dst.appended), uploads, r.output)
        self.assertEqual(dst.label_stores[stores:], [], r.output)
        self.assertEqual(json.loads(r.stdout)["totals"]["uploaded"], 0)


class EmulatorWriteSideTest(unittest.TestCase):
    """The emulator's write side through imaplib: what providers.py cites."""

    def test_append_and_x_gm_labels_act_on_one_message(self):
        with gmail([], user_labels=["Work"]) as srv:
            c = imaplib.IMAP4("127.0.0.1", srv.port)
            c.login("u", PASSWORD)
            c.append('"[Gmail]/Sent Mail"', None, None, message(1))
            c.append('"[Gmail]/All Mail"', None, None, message(2))
            self.assertEqual(srv.folders[ALL_MAIL], [message(1), message(2)])
            self.assertEqual(labels_by_body(srv), {message(1): {"\\Sent"}, message(2): set()})
            c.select('"[Gmail]/Sent Mail"')
            typ, data = c.uid("STORE", "1", "+X-GM-LABELS", '(\\Inbox "Work")')
            self.assertEqual(typ, "OK")
            self.assertIn(b"UID 1", data[0])
            self.assertEqual(srv.folders[b"INBOX"], [message(1)])
            self.assertEqual(srv.folders[b"Work"], [message(1)])
            typ, data = c.uid("FETCH", "1", "(X-GM-LABELS)")
            self.assertIn(b'X-GM-LABELS ("Work" \\Inbox \\Sent)', data[0])
            c.uid("STORE", "1", "-X-GM-LABELS", "(\\Inbox)")
            self.assertEqual(srv.folders[b"INBOX"], [])
            self.assertEqual(srv.folders[ALL_MAIL], [message(1), message(2)])   # no deletion
            c.logout()


class RestoreIntoGmailTest(_Gmail):
    def test_each_message_uploaded_once_with_all_its_labels_and_a_rerun_does_nothing(self):
        with source_account() as src, gmail([]) as dst:
            put_spam_and_trash(src)
            self.backup(src)
            r = self.restore(dst)
            self.assert_each_once_with_its_labels(src, dst)
            self.assertTrue(all(op == b"+X-GM-LABELS" for _, op, _, _ in dst.label_stores), dst.label_stores)
            self.assertGreater(sum(f["linked"] for f in json.loads(r.stdout)["folders"]), 0)
            self.assert_rerun_changes_nothing(dst, lambda: self.restore(dst))

    def test_killed_at_each_upload_and_label_then_rerun_each_message_once_with_its_labels(self):
        with source_account() as src:
            put_spam_and_trash(src)
            self.backup(src)
        steps_file = os.path.join(self.outer, "steps")
        with gmail([]) as dst:
            self.run_mf("restore", self.archive, self.url(dst), "--allow-plaintext", "--target-password-env",
                        "MF_TEST_PASSWORD", env={"MAILFERRY_TEST_STEPS_FILE": steps_file})
        with open(steps_file) as f:
            steps = [int(line.split(" ", 1)[0]) for line in f
                     if line.split(" ", 1)[1].strip() in ("APPEND sent", "target labels stored")]
        self.assertGreater(len(steps), 5)
        for step in steps:
            with self.subTest(step=step), gmail([]) as dst:
                for name in os.listdir(os.path.join(self.archive, ".mailferry")):
                    if name.startswith("push-"):
                        os.remove(os.path.join(self.archive, ".mailferry", name))
                r = run_measured(["restore", self.archive, self.url(dst), "--allow-plaintext",
                                  "--target-password-env", "MF_TEST_PASSWORD", "--timeout", "10"],
                                 password=PASSWORD, env={**self.env, "MAILFERRY_TEST_CRASH_AT": str(step)})
                self.assertNotEqual(r.returncode, 0, f"no crash at step {step}")
                self.restore(dst)
                self.assert_each_once_with_its_labels(src, dst)

    def test_a_message_stored_but_its_answer_lost_is_labelled_not_uploaded_again(self):
        """The connection closes after Gmail stored m2 (three labels), before
        it answered: the folder resumed on a new session recognises m2 by
        content, and the later folders label that copy."""
        state = {"done": False}

        def store_then_hang_up(server, tag, rest, selected):
            if state["done"] or b"body 2" not in rest:
                return None
            state["done"] = True
            server._append(tag, rest)
            return Hangup(b"")

        with source_account() as src:
            put_spam_and_trash(src)
            self.backup(src)
        with gmail([], overrides={"APPEND": store_then_hang_up}) as dst:
            self.restore(dst)
            self.assertTrue(state["done"])
            self.assert_each_once_with_its_labels(src, dst)

    def test_migrate_from_gmail_to_gmail_uploads_each_message_once_with_its_labels(self):
        with source_account() as src, gmail([]) as dst:
            put_spam_and_trash(src)
            self.migrate(src, dst, "--json")
            self.assert_each_once_with_its_labels(src, dst)
            # A message labelled, not uploaded, is not downloaded either.
            self.assertEqual(len(src.bodies_sent), len(labels_by_body(src)))
            self.assert_rerun_changes_nothing(dst, lambda: self.migrate(src, dst, "--json"))


def no_message_id(n: int) -> bytes:
    return b"Subject: n%d\r\n\r\nno id %d\r\n" % (n, n)


def twin(letter: bytes) -> bytes:
    """One of two messages with one Message-ID and size (the emulator gives
    every message one INTERNALDATE): only X-GM-MSGID tells them apart."""
    return b"Subject: twin\r\nMessage-ID: <twin@gmail-restore>\r\n\r\nbody " + letter + b"\r\n"


def source_without_message_ids():
    messages = [(no_message_id(1), {"\\Inbox", "Work", "Travel"}), (no_message_id(2), {"\\Sent", "Work"}),
                (no_message_id(3), set()), (twin(b"A"), {"\\Inbox", "Work"}), (twin(b"B"), {"Travel", "\\Starred"})]
    return gmail([GmailMessage(body, labels=labels) for body, labels in messages], user_labels=["Work", "Travel"])


class KnownByGmailIdTest(_Gmail):
    """Messages without a Message-ID, and two that share one, size and date,
    are known by X-GM-MSGID: from the archive's record or Gmail's listing."""

    def test_restored_each_once_with_its_labels_and_a_rerun_does_nothing(self):
        with source_without_message_ids() as src, gmail([]) as dst:
            self.backup(src)
            self.restore(dst)
            self.assert_each_once_with_its_labels(src, dst)
            self.assert_rerun_changes_nothing(dst, lambda: self.restore(dst))

    def test_restored_from_mbox_each_once_with_its_labels(self):
        with source_without_message_ids() as src, gmail([]) as dst:
            self.backup(src, "--format", "mbox")
            self.restore(dst)
            self.assert_each_once_with_its_labels(src, dst)
            self.assert_rerun_changes_nothing(dst, lambda: self.restore(dst))

    def test_migrated_gmail_to_gmail_each_once_with_its_labels(self):
        with source_without_message_ids() as src, gmail([]) as dst:
            self.migrate(src, dst, "--json")
            self.assert_each_once_with_its_labels(src, dst)
            self.assert_rerun_changes_nothing(dst, lambda: self.migrate(src, dst, "--json"))


class RestoreIntoDovecotTest(DovecotTestCase, _Gmail):
    PASSWORD = PASSWORD

    def setUp(self):
        DovecotTestCase.setUp(self)
        _Gmail.setUp(self)

    def tearDown(self):
        _Gmail.tearDown(self)
        DovecotTestCase.tearDown(self)

    def restore_into_dovecot(self, *extra):
        d = self.dovecot
        return self.run_mf("restore", self.archive, d.url("imaps", self.user), "--target-cacert", d.cacert,
                           "--target-password-env", "MF_TEST_PASSWORD", "--json", *extra)

    def target_view(self, src):
        return {name.decode(): sorted(self.dovecot.fetch_all(self.user, name.decode()).values())
                for name in src.folders if name != b"[Gmail]"}

    def test_one_folder_per_label_as_the_archive_shows_them(self):
        with source_account() as src:
            put_spam_and_trash(src)
            self.backup(src)
        self.restore_into_dovecot()
        want = {name.decode(): sorted(bodies) for name, bodies in src.folders.items() if name != b"[Gmail]"}
        self.assertEqual(self.target_view(src), want)

    def test_primary_label_only_puts_each_message_once_and_counts_the_rest(self):
        with source_account() as src:
            put_spam_and_trash(src)
            self.backup(src)
        r = self.restore_into_dovecot("--labels", "primary")
        view = self.target_view(src)
        # INBOX, Sent, Drafts, user labels, Important, Starred, All Mail last.
        self.assertEqual(view["INBOX"], sorted([message(1), message(2), message(5)]))
        self.assertEqual(view["[Gmail]/Sent Mail"], [message(3)])
        self.assertEqual(view["[Gmail]/All Mail"], [message(4)])
        self.assertEqual(view["[Gmail]/Spam"], [SPAM])
        self.assertEqual(view["[Gmail]/Trash"], [TRASH])
        for name in ("Work", "Travel", "[Gmail]/Important", "[Gmail]/Starred"):
            self.assertEqual(view[name], [], name)
        placed = sum(len(v) for v in view.values())
        self.assertEqual(placed, len(LABELS) + 2)
        in_folders = sum(len(b) for n, b in src.folders.items() if n != b"[Gmail]")
        report = json.loads(r.stdout)
        self.assertEqual(sum(f.get("in_another_folder", 0) for f in report["folders"]), in_folders - placed)
        r = self.run_mf("restore", self.archive, self.dovecot.url("imaps", self.user), "--target-cacert",
                        self.dovecot.cacert, "--target-password-env", "MF_TEST_PASSWORD", "--labels", "primary")
        self.assertIn(f"{in_folders - placed} messages left out: in another label's folder", r.stdout)
        self.assertEqual(self.target_view(src), view)


    def test_a_job_file_takes_labels(self):
        with source_account() as src:
            self.backup(src)
        jobs = os.path.join(self.outer, "jobs.json")
        job = {"name": "back", "kind": "restore", "source": self.archive,
               "target": self.dovecot.url("imaps", self.user), "cacert": self.dovecot.cacert,
               "target_password_env": "MF_TEST_PASSWORD", "labels": "primary"}
        with open(jobs, "w") as f:
            json.dump({"jobs": [job]}, f)
        self.run_mf("run", jobs)
        self.assertEqual(sum(len(self.dovecot.fetch_all(self.user, n)) for n in ("INBOX", "Work", "Travel")), 3)
        job["labels"] = "some"
        with open(jobs, "w") as f:
            json.dump({"jobs": [job]}, f)
        r = run_measured(["run", jobs], password=PASSWORD, env=self.env)
        self.assertEqual(r.returncode, 2, r.output)
        self.assertIn("labels", r.output)


if __name__ == "__main__":
    unittest.main()
