"""`mailferry run JOBFILE`: the jobs of a job file against a real Dovecot, as
cron runs them (no terminal, a minimal environment): exit codes, the JSON
report and the Prometheus metrics files, what reaches stdout and stderr,
broken job files refused before anything runs, job selection, the
per-host connection budget, and one run per job file at a time."""

import fcntl
import json
import os
import random
import re
import stat
import subprocess
import tempfile
import time
import unittest

from archive import folder_dirs, read_maildir, tmp_files
from mfharness import Dovecot, free_port, mailferry_path, sample_mailbox

GOOD = "Run-Good-Canary-51c2"
WRONG = "Run-Wrong-Canary-9e0d"
METRIC_LINE = re.compile(r'^(mailferry_job_\w+)\{job="((?:[^"\\]|\\.)*)"\} (\S+)$')


def parse_metrics(text):
    """metric -> job -> float; fails on any line that is not HELP, TYPE or a sample."""
    out, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                assert kind == "gauge", line
                typed.add(name)
            continue
        m = METRIC_LINE.match(line)
        assert m, f"not a metrics line: {line!r}"
        assert m.group(1) in typed, f"sample before its TYPE line: {line!r}"
        out.setdefault(m.group(1), {})[m.group(2)] = float(m.group(3))
    return out


def max_overlap(intervals):
    """The most intervals (start, end) open at one moment."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


class RunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dc = Dovecot().start()
        cls.users = {}
        for name in ("alice", "bob", "carol"):
            user = f"{name}{random.randrange(10**6)}"
            cls.dc.add_user(user, GOOD)
            sample_mailbox(cls.dc, user)
            cls.users[name] = user

    @classmethod
    def tearDownClass(cls):
        cls.dc.stop()

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)
        self.jobs_path = os.path.join(self.tmp, "jobs.json")

    def tearDown(self):
        self._tmp.cleanup()

    # -- helpers --------------------------------------------------------------

    def backup_job(self, name, who, password_env="PW_GOOD", host=None, **extra):
        url = self.dc.url("imaps", self.users[who])
        if host:
            url = url.replace("127.0.0.1", host)
        return {"name": name, "kind": "backup", "source": url, "archive": f"archives/{name}",
                "password_env": password_env, **extra}

    def write_jobs(self, jobs, mode=0o600, path=None, **top):
        path = path or self.jobs_path
        text = jobs if isinstance(jobs, str) else json.dumps(
            {"defaults": {"cacert": self.dc.cacert, "timeout": 20}, **top, "jobs": jobs}, indent=2)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def cron(self, *args, env=None, cwd="/", timeout=120):
        """mailferry as cron starts it: no terminal, a minimal environment,
        passwords only in the environment."""
        e = {"PATH": "/usr/bin:/bin", "HOME": self.home, "PW_GOOD": GOOD, "PW_WRONG": WRONG}
        e.update(env or {})
        r = subprocess.run([mailferry_path(), *map(str, args)], env=e, cwd=cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace", timeout=timeout)
        self.assertNotIn(GOOD, r.stdout + r.stderr)
        self.assertNotIn(WRONG, r.stdout + r.stderr)
        return r

    def archive(self, name):
        return os.path.join(self.tmp, "archives", name)

    def assert_archive_complete(self, name, who):
        dirs = folder_dirs(self.archive(name))
        for folder in self.dc.folders(self.users[who]):
            server = self.dc.messages(self.users[who], folder, bodies=False)
            if not server:
                continue
            self.assertIn(folder, dirs, f"{name}: folder {folder} missing")
            self.assertEqual(sorted(read_maildir(dirs[folder])), sorted(server), f"{name}: {folder}")
        self.assertEqual(tmp_files(self.archive(name)), [])

    # -- a nightly run with failures ---------------------------------------------

    def test_cron_run_with_a_wrong_password_and_an_unreachable_server(self):
        dead = f"imaps://{self.users['carol']}@127.0.0.1:{free_port()}"
        self.write_jobs([
            self.backup_job("alice", "alice"),
            self.backup_job("carol-wrong", "carol", password_env="PW_WRONG"),
            {**self.backup_job("carol-dead", "carol"), "source": dead},
            self.backup_job("bob", "bob"),
        ], max_connections_per_host=2)
        report_path = os.path.join(self.tmp, "out", "report.json")
        metrics_path = os.path.join(self.tmp, "out", "mailferry.prom")
        os.mkdir(os.path.dirname(report_path))
        r = self.cron("run", self.jobs_path, "--parallel", "2", "--report-file", report_path,
                      "--metrics-file", metrics_path)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "", "nothing on stdout without --json")
        # The failing jobs' own words, prefixed with their names; nothing of the good ones.
        self.assertRegex(r.stderr, r"(?m)^\[carol-wrong\] mailferry: .*refused")
        self.assertRegex(r.stderr, r"(?m)^\[carol-dead\] mailferry: cannot connect")
        self.assertRegex(r.stderr, r"(?m)^mailferry: job carol-wrong failed \(exit 5")
        self.assertRegex(r.stderr, r"(?m)^mailferry: job carol-dead failed \(exit 3")
        self.assertNotIn("[alice]", r.stderr)
        self.assertNotIn("[bob]", r.stderr)
        # Relative archive paths are relative to the job file, not to the cwd (/).
        self.assert_archive_complete("alice", "alice")
        self.assert_archive_complete("bob", "bob")

        with open(report_path) as f:
            report = json.load(f)
        self.assertEqual(stat.S_IMODE(os.stat(report_path).st_mode), 0o600)
        self.assertFalse(report["ok"])
        self.assertEqual(report["exit_code"], 1)
        self.assertEqual([j["name"] for j in report["jobs"]], ["alice", "carol-wrong", "carol-dead", "bob"])
        self.assertEqual([j["exit_code"] for j in report["jobs"]], [0, 5, 3, 0])
        self.assertEqual([j["ok"] for j in report["jobs"]], [True, False, False, True])
        alice = report["jobs"][0]
        self.assertEqual(alice["kind"], "backup")
        self.assertGreater(alice["report"]["totals"]["fetched"], 10)
        self.assertEqual(alice["report"]["totals"]["fetched"], alice["report"]["totals"]["found"])
        self.assertNotIn("error", alice)
        self.assertIn("refused", report["jobs"][1]["error"])
        self.assertIn("cannot connect", report["jobs"][2]["error"])
        self.assertGreaterEqual(alice["duration_seconds"], 0)
        self.assertEqual(report["totals"]["jobs"], 4)
        self.assertEqual(report["totals"]["succeeded"], 2)
        self.assertEqual(report["totals"]["failed"], 2)
        self.assertEqual(report["totals"]["fetched"],
                         alice["report"]["totals"]["fetched"] + report["jobs"][3]["report"]["totals"]["fetched"])

        with open(metrics_path) as f:
            metrics = parse_metrics(f.read())
        self.assertEqual(stat.S_IMODE(os.stat(metrics_path).st_mode), 0o644)
        self.assertEqual(metrics["mailferry_job_success"],
                         {"alice": 1, "bob": 1, "carol-wrong": 0, "carol-dead": 0})
        self.assertEqual(metrics["mailferry_job_messages_fetched"]["alice"], alice["report"]["totals"]["fetched"])
        self.assertEqual(metrics["mailferry_job_bytes_fetched"]["alice"], alice["report"]["totals"]["bytes"])
        self.assertEqual(metrics["mailferry_job_last_success_timestamp_seconds"]["carol-wrong"], 0)
        self.assertAlmostEqual(metrics["mailferry_job_last_success_timestamp_seconds"]["alice"], time.time(), delta=120)
        self.assertGreaterEqual(metrics["mailferry_job_errors"]["carol-dead"], 1)
        self.assertEqual(metrics["mailferry_job_errors"]["alice"], 0)
        for name in ("mailferry_job_last_run_timestamp_seconds", "mailferry_job_duration_seconds"):
            self.assertEqual(set(metrics[name]), {"alice", "bob", "carol-wrong", "carol-dead"})
        # Written atomically: no temporary file left beside them.
        self.assertEqual(sorted(os.listdir(os.path.dirname(report_path))), ["mailferry.prom", "report.json"])

    def test_a_failed_run_keeps_the_last_success_time(self):
        self.write_jobs([self.backup_job("alice", "alice")])
        metrics_path = os.path.join(self.tmp, "mailferry.prom")
        r = self.cron("run", self.jobs_path, "--metrics-file", metrics_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(metrics_path) as f:
            first = parse_metrics(f.read())
        self.assertEqual(first["mailferry_job_success"]["alice"], 1)
        time.sleep(1.1)
        r = self.cron("run", self.jobs_path, "--metrics-file", metrics_path, env={"PW_GOOD": "not-it"})
        self.assertEqual(r.returncode, 1, r.stderr)
        with open(metrics_path) as f:
            second = parse_metrics(f.read())
        self.assertEqual(second["mailferry_job_success"]["alice"], 0)
        self.assertEqual(second["mailferry_job_last_success_timestamp_seconds"]["alice"],
                         first["mailferry_job_last_success_timestamp_seconds"]["alice"])
        self.assertGreater(second["mailferry_job_last_run_timestamp_seconds"]["alice"],
                           first["mailferry_job_last_run_timestamp_seconds"]["alice"])

    def test_all_good_is_silent_and_json_goes_to_stdout(self):
        self.write_jobs([self.backup_job("alice", "alice"), self.backup_job("bob", "bob")])
        r = self.cron("run", self.jobs_path, "--parallel", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((r.stdout, r.stderr), ("", ""))
        r = self.cron("run", self.jobs_path, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        report = json.loads(r.stdout)
        self.assertTrue(report["ok"])
        self.assertEqual(report["exit_code"], 0)
        self.assertEqual([j["report"]["totals"]["fetched"] for j in report["jobs"]], [0, 0], "incremental")

    # -- broken job files ------------------------------------------------------------

    def test_broken_job_files_run_nothing(self):
        pw_file = os.path.join(self.tmp, "open.pw")
        with open(pw_file, "w") as f:
            f.write(GOOD + "\n")
        os.chmod(pw_file, 0o644)
        good = self.backup_job("j", "alice")
        cases = [
            # (what, job file text or jobs, job name, key, words of the message, job file mode)
            ("unknown key", [{**good, "folder": ["INBOX"]}], "j", "folder", "unknown key", 0o600),
            ("wrong type", [{**good, "timeout": "30"}], "j", "timeout", "must be a whole number", 0o600),
            ("missing source", [{k: v for k, v in good.items() if k != "source"}], "j", "source", "missing", 0o600),
            ("missing archive", [{k: v for k, v in good.items() if k != "archive"}], "j", "archive", "missing", 0o600),
            ("duplicate name", [good, {**good, "archive": "archives/other"}], "j", "name", "same name", 0o600),
            ("bad kind", [{**good, "kind": "copy"}], "j", "kind", "not backup, migrate", 0o600),
            ("bad format", [{**good, "format": "mh"}], "j", "format", "not maildir or mbox", 0o600),
            ("pop3 policy on imap", [{**good, "delete_after_download": True}], "j", "delete_after_download",
             "POP3 sources only", 0o600),
            ("key of another kind", [{**good, "map": {"INBOX": "X"}}], "j", "map", "does not apply to a backup", 0o600),
            ("literal password", [{**good, "password": GOOD}], "j", "password",
             "passwords are not accepted in job files; use password_env, password_file or password_command", 0o600),
            ("open password file", [{**{k: v for k, v in good.items() if k != "password_env"}, "password_file": pw_file}],
             "j", "password_file", "readable by group or others", 0o644),
            ("filter", [{**good, "since": "2024-02-30"}], "j", "since", "is not a date", 0o600),
            ("two credentials", [{**good, "password_command": "echo x"}], "j", "password_command", "only one", 0o600),
            ("migrate into pop3", [{"name": "j", "kind": "migrate", "source": "archives/j",
                                    "target": self.dc.url("pop3s", "x"), "target_password_env": "PW_GOOD"}],
             "j", "target", "must be an IMAP account", 0o600),
            ("bad name", [{**good, "name": "has space"}], "#1", "name", "not a valid name", 0o600),
        ]
        for what, jobs, job, key, words, mode in cases:
            with self.subTest(what):
                self.write_jobs(jobs, mode=mode)
                for extra in ([], ["--check"], ["--json"]):
                    r = self.cron("run", self.jobs_path, *extra)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    line = next((l for l in r.stderr.splitlines() if f"key '{key}'" in l), "")
                    self.assertIn(self.jobs_path, line, r.stderr)
                    self.assertIn(f"job {job}" if job.startswith("#") else f"job '{job}'", line, r.stderr)
                    self.assertIn(words, line)
                    if extra == ["--json"]:
                        out = json.loads(r.stdout)
                        self.assertEqual((out["ok"], out["exit_code"]), (False, 2))
                        self.assertTrue(any(f"key '{key}'" in e for e in out["errors"]))
                    else:
                        self.assertEqual(r.stdout, "")
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "archives")), "an archive was created")

    def test_all_errors_are_listed_and_syntax_errors_located(self):
        self.write_jobs([{**self.backup_job("a", "alice"), "foldres": []},
                         {**self.backup_job("b", "bob"), "insecure": "yes"}])
        r = self.cron("run", self.jobs_path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("job 'a': key 'foldres': unknown key (did you mean 'folders'?)", r.stderr)
        self.assertIn("job 'b': key 'insecure': must be true or false", r.stderr)
        self.write_jobs('// comments are fine\n{"jobs": [\n  {"name": "x",}\n]}\n')
        r = self.cron("run", self.jobs_path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(self.jobs_path, r.stderr)
        self.assertIn("line 3", r.stderr)
        r = self.cron("run", os.path.join(self.tmp, "missing.json"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.json: cannot read the job file", r.stderr)

    def test_default_job_file_follows_xdg(self):
        xdg = os.path.join(self.tmp, "xdg")
        os.makedirs(os.path.join(xdg, "mailferry"))
        self.write_jobs([self.backup_job("from-xdg", "alice")], path=os.path.join(xdg, "mailferry", "jobs.json"))
        os.makedirs(os.path.join(self.home, ".config", "mailferry"))
        self.write_jobs([self.backup_job("from-home", "alice")],
                        path=os.path.join(self.home, ".config", "mailferry", "jobs.json"))
        r = self.cron("run", "--check", env={"XDG_CONFIG_HOME": xdg})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("from-xdg", r.stdout)
        r = self.cron("run", "--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("from-home", r.stdout)

    # -- selection -----------------------------------------------------------------------

    def test_job_selection(self):
        self.write_jobs([self.backup_job("a", "alice"), self.backup_job("b", "bob"), self.backup_job("c", "carol")])
        r = self.cron("run", self.jobs_path, "--job", "a", "--job", "c", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([j["name"] for j in json.loads(r.stdout)["jobs"]], ["a", "c"])
        self.assertTrue(os.path.isdir(self.archive("a")))
        self.assertFalse(os.path.exists(self.archive("b")))
        r = self.cron("run", self.jobs_path, "--job", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no job named 'nope'", r.stderr)
        self.assertFalse(os.path.exists(self.archive("b")))

    def test_shards_split_the_jobs(self):
        names = [f"acct-{i}" for i in range(40)]
        self.write_jobs([self.backup_job(n, "alice") for n in names])
        seen = []
        for i in range(3):
            r = self.cron("run", self.jobs_path, "--check", "--json", "--shard", f"{i}/3")
            self.assertEqual(r.returncode, 0, r.stderr)
            shard = [j["name"] for j in json.loads(r.stdout)["jobs"]]
            self.assertEqual(shard, [n for n in names if fnv1a64(n) % 3 == i])
            seen += shard
        self.assertEqual(sorted(seen), sorted(names))
        for bad in ("3/3", "1", "-1/3", "0/0"):
            self.assertEqual(self.cron("run", self.jobs_path, "--shard", bad).returncode, 2, bad)

    # -- parallelism --------------------------------------------------------------------

    def test_parallel_jobs_respect_the_per_host_budget(self):
        # Each job waits a second for its password, so that jobs overlap. One
        # connection each: the budget counts connections, not jobs.
        slow = {"password_command": "sleep 1; printenv PW_GOOD", "connections": 1}
        jobs = [{**self.backup_job(f"ip{i}", who), **slow} for i, who in enumerate(["alice", "bob", "carol", "alice"])]
        for job in jobs:
            del job["password_env"]
        jobs[3]["archive"] = "archives/ip3"
        local = [{**self.backup_job(f"name{i}", who, host="localhost"), **slow} for i, who in enumerate(["bob", "carol"])]
        for job in local:
            del job["password_env"]
        self.write_jobs(jobs + local, max_connections_per_host=2)
        r = self.cron("run", self.jobs_path, "--parallel", "3", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        spans = {j["name"]: (j["started_at"], j["finished_at"]) for j in report["jobs"]}
        self.assertTrue(all(e - s >= 1 for s, e in spans.values()), spans)
        ip = [spans[f"ip{i}"] for i in range(4)]
        self.assertEqual(max_overlap(ip), 2, "at most 2 jobs against 127.0.0.1, and it used both")
        self.assertLessEqual(max_overlap([spans["name0"], spans["name1"]]), 2)
        self.assertEqual(max_overlap(list(spans.values())), 3, "--parallel 3 was used and not exceeded")

    # -- locking -----------------------------------------------------------------------

    def slow_job_file(self, path=None):
        """A job file whose one job takes 3 s, and the marker its password
        command creates when the job has started."""
        marker = os.path.join(self.tmp, "started")
        job = {**self.backup_job("slow", "alice"), "password_command": f"touch {marker}; sleep 3; printenv PW_GOOD",
               "archive": self.archive("slow")}
        del job["password_env"]
        return self.write_jobs([job], path=path), marker

    def start_and_wait(self, jobs_path, marker, env=None):
        e = {"PATH": "/usr/bin:/bin", "HOME": self.home, "PW_GOOD": GOOD, **(env or {})}
        first = subprocess.Popen([mailferry_path(), "run", jobs_path], env=e, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(marker):
            if time.monotonic() > deadline or first.poll() is not None:
                first.kill()
                self.fail("the first run never started its job: " + first.communicate()[1])
            time.sleep(0.05)
        return first

    def finish(self, first):
        out, err = first.communicate(timeout=60)
        self.assertEqual(first.returncode, 0, err)
        self.assertEqual((out, err), ("", ""))

    def test_a_second_run_of_the_same_file_is_refused(self):
        jobs_path, marker = self.slow_job_file()
        first = self.start_and_wait(jobs_path, marker)
        try:
            r = self.cron("run", jobs_path, "--json")
            self.assertEqual(r.returncode, 6, r.stderr)
            self.assertIn("in progress", r.stderr)
            self.assertIn(jobs_path + ".lock", r.stderr)
            self.assertEqual(json.loads(r.stdout)["exit_code"], 6)
        finally:
            self.finish(first)
        r = self.cron("run", jobs_path)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_the_lock_moves_when_the_job_files_folder_is_read_only(self):
        ro = os.path.join(self.tmp, "ro")
        os.mkdir(ro)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", ro], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
        try:
            jobs_path, marker = self.slow_job_file(path=os.path.join(ro, "jobs.json"))
            subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
            runtime = os.path.join(self.tmp, "runtime")
            os.mkdir(runtime, 0o700)
            for env, where in (({}, f"/tmp/mailferry-{os.geteuid()}-"),
                               ({"XDG_RUNTIME_DIR": runtime}, runtime + "/mailferry-")):
                with self.subTest(where):
                    if os.path.exists(marker):
                        os.unlink(marker)
                    first = self.start_and_wait(jobs_path, marker, env)
                    try:
                        r = self.cron("run", jobs_path, env=env)
                        self.assertEqual(r.returncode, 6, r.stderr)
                        self.assertIn("in progress (lock " + where, r.stderr)
                    finally:
                        self.finish(first)
                    lock = re.search(r"\(lock (\S+)\)", r.stderr)
                    if lock and lock.group(1).startswith("/tmp/mailferry-"):
                        os.unlink(lock.group(1))
        finally:
            subprocess.run(["umount", ro], capture_output=True)

    def test_every_job_on_a_locked_archive_gives_exit_6(self):
        self.write_jobs([self.backup_job("a", "alice")])
        self.assertEqual(self.cron("run", self.jobs_path).returncode, 0)
        with open(os.path.join(self.archive("a"), ".mailferry", "lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            r = self.cron("run", self.jobs_path)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("[a] ", r.stderr)


def fnv1a64(text: str) -> int:
    """The shard rule of mailferry-jobs(5), written independently."""
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


if __name__ == "__main__":
    unittest.main()
