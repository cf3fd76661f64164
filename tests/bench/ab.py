#!/usr/bin/env python3
"""Before/after on the happy path: full backups of one corpus by several
mailferry binaries, alternating their order each round.

    python3 tests/bench/ab.py MESSAGES ROUNDS BINARY...

One Dovecot on tmpfs with bench.py's corpus; each run backs up a fresh
clone of the account into a fresh archive, through bench.py's launcher
(wall, CPU, peak RSS by wait4). Prints each run and, per binary, the
median wall and CPU. Paired single runs (bench.py --before) vary by about
10% from run to run on 2 cores; medians over alternating runs do not.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import mfharness as h  # noqa: E402


def one_backup(dc: h.Dovecot, binary: str, user: str, work: str) -> bench.Measured:
    """A full backup of a fresh clone of the corpus account; the archive is removed after."""
    bench.clone_user(dc, "base", user)
    os.sync()
    archive = os.path.join(work, "archive-" + user)
    argv = [binary, "backup", dc.url("imaps", user), archive, "--cacert", dc.cacert,
            "--password-env", "MFBENCH_PASSWORD", "-q"]
    env = dict(os.environ, MFBENCH_PASSWORD=bench.PASSWORD)
    m = bench.run_measured(argv, env=env, cwd=work, timeout=600,
                           log_prefix=os.path.join(work, user))
    shutil.rmtree(archive, ignore_errors=True)
    return m


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    messages, rounds, binaries = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    work = tempfile.mkdtemp(prefix="mfab-")
    bench.LAUNCHER = bench.build_launcher(work)
    runs: dict[str, list[bench.Measured]] = {b: [] for b in binaries}
    failed = False
    try:
        with bench.start_dovecot_in("/dev/shm", "mail_max_userip_connections = 50\n") as dc:
            dc.add_user("base", bench.PASSWORD)
            bench.load_corpus(dc, "base", messages, 5)
            for r in range(rounds):
                for i, binary in enumerate(binaries if r % 2 == 0 else binaries[::-1]):
                    m = one_backup(dc, binary, f"u{r}-{i}", work)
                    runs[binary].append(m)
                    failed |= m.rc != 0
                    print(f"{r} {binary}: {m.wall:.2f} s wall {m.cpu:.2f} s CPU "
                          f"{m.rss_mb:.1f} MB exit {m.rc}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for binary, ms in runs.items():
        print(f"{binary}: median {median([m.wall for m in ms]):.2f} s wall, "
              f"{median([m.cpu for m in ms]):.2f} s CPU over {len(ms)} runs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
