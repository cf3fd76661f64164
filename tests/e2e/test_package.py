"""The Debian package and the container image built from it.

`cpack -G DEB` in the build directory of $MAILFERRY makes a package that
holds the binary, both man pages, the examples and a copyright file, and
declares what the binary links. Installed with `dpkg -i` on this machine,
/usr/bin/mailferry prints its version, `man -w` finds both pages, and it
backs up a private Dovecot. The Containerfile gives the image the user
examples/k8s-cronjob.yaml runs as, and builds the image that example names.

The package is built only from a plain build (not MAILFERRY_SANITIZE or
MAILFERRY_TSAN, whose binaries are not for shipping), so the suite's three
runs in CI build and install it once; installing needs root.

MAILFERRY_LONG=1 also runs the Containerfile's steps in a Debian 12 chroot
made by `debootstrap --variant=minbase` from the Debian mirror (a minute or
more: no container runtime runs here), and mailferry there as the image's user.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from mfharness import Dovecot, mailferry_path, sample_mailbox
from test_examples import yaml_paths

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "Containerfile"
CRONJOB = ROOT / "examples" / "k8s-cronjob.yaml"
PASSWORD = "package-secret"
LONG = os.environ.get("MAILFERRY_LONG") == "1"


def build_dir() -> Path:
    """The build tree of the binary under test ($MAILFERRY = BUILD/cli/mailferry)."""
    return Path(mailferry_path()).resolve().parents[1]


def cache_entries(build: Path) -> dict[str, str]:
    entries = {}
    cache = build / "CMakeCache.txt"
    if cache.exists():
        for line in cache.read_text(errors="replace").splitlines():
            m = re.match(r"([A-Za-z_0-9]+):[A-Z]+=(.*)", line)
            if m:
                entries[m[1]] = m[2]
    return entries


def why_no_package() -> str | None:
    """Why this run of the suite builds no package, or None."""
    cache = cache_entries(build_dir())
    if not cache:
        return f"no CMakeCache.txt in {build_dir()}"
    if cache.get("MAILFERRY_SANITIZE") == "ON" or cache.get("MAILFERRY_TSAN") == "ON":
        return "a sanitizer build: the plain build's run of the suite tests the package"
    for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps"):
        if not shutil.which(tool):
            return f"{tool} is not installed (tests/install-deps.sh installs it)"
    return None


def make_package(out: Path) -> subprocess.CompletedProcess:
    """cpack in the build tree, its staging tree and the package in OUT
    (the package in OUT/package), not in the build tree."""
    return run(["cpack", "-G", "DEB", "-B", str(out), "-D", f"CPACK_OUTPUT_FILE_PREFIX={out}/package"],
               cwd=build_dir(), timeout=300)


def run(argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


def dpkg_install(deb: Path) -> subprocess.CompletedProcess:
    """dpkg -i, waiting out another dpkg or apt on the machine: dpkg itself
    gives up at once when its lock is taken."""
    for _ in range(30):
        r = run(["dpkg", "-i", str(deb)], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if r.returncode == 0 or "lock" not in r.stderr:
            return r
        time.sleep(2)
    return r


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        reason = why_no_package()
        if reason:
            raise unittest.SkipTest(reason)
        cls.tmp = tempfile.TemporaryDirectory(prefix="mfpackage-")
        r = make_package(Path(cls.tmp.name))
        if r.returncode != 0:
            cls.tmp.cleanup()
            raise AssertionError(f"cpack failed:\n{r.stdout}{r.stderr}")
        cls.version = cache_entries(build_dir())["CMAKE_PROJECT_VERSION"]
        debs = list(Path(cls.tmp.name, "package").glob("mailferry_*.deb"))
        if len(debs) != 1:
            cls.tmp.cleanup()
            raise AssertionError(f"cpack made {debs}, not one package")
        cls.deb = debs[0]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def field(self, name):
        return run(["dpkg-deb", "-f", str(self.deb), name]).stdout.strip()

    def test_name_and_version_are_the_projects(self):
        self.assertEqual(self.field("Package"), "mailferry")
        self.assertEqual(self.field("Version"), self.version)
        self.assertRegex(self.deb.name, rf"^mailferry_{re.escape(self.version)}_[a-z0-9]+\.deb$")

    def test_depends_on_what_the_binary_links(self):
        depends = self.field("Depends")
        for lib in ("libc6", "libcurl4", "libsqlite3-0", "libssl3"):
            self.assertRegex(depends, rf"(^|, ){lib}( |,|$)", f"Depends: {depends}")
        self.assertIn("ca-certificates", self.field("Recommends"))

    def test_holds_binary_man_pages_examples_and_copyright(self):
        listing = run(["dpkg-deb", "-c", str(self.deb)]).stdout
        files = {line.split()[-1].lstrip(".") for line in listing.splitlines() if not line.startswith("d")}
        expected = {"/usr/bin/mailferry", "/usr/share/man/man1/mailferry.1", "/usr/share/man/man5/mailferry-jobs.5",
                    "/usr/share/doc/mailferry/copyright"}
        for name in ("jobs.json", "jobs.schema.json", "crontab", "k8s-cronjob.yaml",
                     "mailferry-backup.service", "mailferry-backup.timer"):
            expected.add(f"/usr/share/doc/mailferry/examples/{name}")
        self.assertEqual(files, expected, "exactly these files: no tests, fuzzers or the demo")

    @unittest.skipUnless(os.geteuid() == 0, "dpkg -i needs root")
    def test_installed_package_runs_finds_its_man_pages_and_backs_up(self):
        r = dpkg_install(self.deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run(["/usr/bin/mailferry", "--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.version, r.stdout)
        for page in (["mailferry"], ["5", "mailferry-jobs"]):
            r = run(["man", "-w", *page])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.strip().startswith("/usr/share/man/"), r.stdout)
        self.backup_with_installed_binary()

    def backup_with_installed_binary(self):
        with Dovecot() as dc, tempfile.TemporaryDirectory(prefix="mfpackage-archive-") as tmp:
            dc.add_user("alice", PASSWORD)
            sample = sample_mailbox(dc, "alice")
            archive = os.path.join(tmp, "archive")
            r = run(["/usr/bin/mailferry", "backup", dc.url("imaps", "alice"), archive, "--cacert", dc.cacert,
                     "--password-env", "MF_TEST_PASSWORD", "--quiet"],
                    env=dict(os.environ, MF_TEST_PASSWORD=PASSWORD))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            stored = len(os.listdir(os.path.join(archive, "INBOX", "cur")))
            self.assertEqual(stored, len(sample["INBOX"]))


def containerfile_user() -> str:
    users = re.findall(r"^USER\s+(\S+)", CONTAINERFILE.read_text(), re.M)
    return users[-1] if users else ""


class ContainerfileTest(unittest.TestCase):
    def test_runs_as_the_user_of_the_kubernetes_example(self):
        spec = yaml_paths(CRONJOB.read_text())
        security = "spec.jobTemplate.spec.template.spec.securityContext"
        uid, gid = spec[f"{security}.runAsUser"], spec[f"{security}.runAsGroup"]
        self.assertEqual(containerfile_user(), f"{uid}:{gid}")
        self.assertRegex(CONTAINERFILE.read_text(), rf"useradd .*--uid {uid}\b")

    def test_the_kubernetes_example_names_the_image_it_says_how_to_build(self):
        text = CRONJOB.read_text()
        image = yaml_paths(text)["spec.jobTemplate.spec.template.spec.containers[].image"]
        self.assertIn(f"-f Containerfile -t {image} ", text)
        version = re.search(r"project\(mailferry VERSION (\S+)", (ROOT / "CMakeLists.txt").read_text())[1]
        self.assertTrue(image.endswith(f":{version}"), f"{image}: not the project's version {version}")


def containerfile_steps() -> list[tuple[str, str]]:
    """(instruction, argument) in order, continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            steps.append((word.upper(), rest.strip()))
    return steps


@unittest.skipUnless(LONG, "MAILFERRY_LONG=1 debootstraps a Debian 12 chroot (a minute or more)")
class ContainerfileInChrootTest(unittest.TestCase):
    """The Containerfile's COPY and RUN steps in a minbase chroot, since no
    container runtime runs on the test machine: the nearest thing to
    debian:12-slim that the Debian mirror alone can make."""

    def setUp(self):
        reason = why_no_package() or (None if os.geteuid() == 0 else "chroot needs root")
        reason = reason or (None if shutil.which("debootstrap") else "debootstrap is not installed")
        if reason:
            self.skipTest(reason)
        self.tmp = tempfile.TemporaryDirectory(prefix="mfchroot-")
        self.addCleanup(self.tmp.cleanup)
        self.context = Path(self.tmp.name, "context")
        r = make_package(self.context)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.root = Path(self.tmp.name, "root")
        r = run(["debootstrap", "--variant=minbase", "bookworm", str(self.root), "http://deb.debian.org/debian"],
                timeout=1200)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        shutil.copy("/etc/resolv.conf", self.root / "etc" / "resolv.conf")

    def chroot(self, *argv, user=None):
        spec = ["--userspec", user] if user else []
        return run(["chroot", *spec, str(self.root), *argv], timeout=600,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"})

    def test_containerfile_steps_install_a_mailferry_the_user_runs(self):
        user = None
        for word, arg in containerfile_steps():
            if word == "COPY":
                *sources, dest = arg.split()
                for pattern in sources:
                    for path in (self.context / "package").glob(pattern):
                        shutil.copy(path, self.root / dest.lstrip("/"))
            elif word == "RUN":
                r = self.chroot("/bin/sh", "-c", arg)
                self.assertEqual(r.returncode, 0, f"RUN {arg}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
            elif word == "USER":
                user = arg
        self.assertEqual(user, containerfile_user())
        r = self.chroot("/usr/bin/mailferry", "--version", user=user)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"\d+\.\d+\.\d+")
        r = self.chroot("/usr/bin/id", "-un", user=user)
        self.assertEqual(r.stdout.strip(), "mailferry")
