"""man/mailferry.1 documents what the binary does: every command and every
option that --help shows (with its default), every exit code of
cli/exit_codes.h, the sections in mbsync's order, and it renders without a
single groff warning.

The binary is $MAILFERRY (default /work/main/build/cli/mailferry); the page is
$MAILFERRY_MANPAGE (default man/mailferry.1 of this checkout), so a copy with
something removed can be checked to make sure the test notices.
"""

import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MAILFERRY = "/work/main/build/cli/mailferry"

# In this order (other sections may stand between them).
REQUIRED_SECTIONS = [
    "NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "URLS", "CREDENTIALS",
    "ARCHIVE LAYOUT", "STATE AND CRASH SAFETY", "UIDVALIDITY", "READ-ONLY GUARANTEE",
    "EXIT STATUS", "JSON REPORT", "FILES", "ENVIRONMENT", "RECOMMENDATIONS",
    "INHERENT PROBLEMS", "EXAMPLES", "SEE ALSO",
]

# Options that only print something and exit: nothing to give a default for.
NO_DEFAULT = {"--help", "--version"}


def mailferry_path() -> str:
    return os.environ.get("MAILFERRY", DEFAULT_MAILFERRY)


def manpage_path() -> Path:
    return Path(os.environ.get("MAILFERRY_MANPAGE", ROOT / "man" / "mailferry.1"))


def help_text(*command: str) -> str:
    r = subprocess.run([mailferry_path(), *command, "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"mailferry {' '.join(command)} --help exited {r.returncode}: {r.stderr}")
    return r.stdout


def subcommands(top_help: str) -> list[str]:
    """The names under "Subcommands:" in CLI11's help."""
    names, inside = [], False
    for line in top_help.splitlines():
        if line.strip().lower().startswith("subcommands"):
            inside = True
            continue
        if inside:
            if not line.strip():
                break
            names.append(line.split()[0])
    return names


def option_spellings(help: str) -> list[list[str]]:
    """Each option line of CLI11's help as its spellings, e.g. ["-n", "--dry-run"]."""
    out = []
    for line in help.splitlines():
        m = re.match(r"^\s+(-[^\s]+)", line)
        if m:
            out.append([s for s in m.group(1).split(",") if s.startswith("-")])
    return out


def help_defaults(help: str) -> dict[str, str]:
    """--option -> the default CLI11 shows ("--timeout INT=60" -> "60")."""
    out = {}
    for line in help.splitlines():
        m = re.match(r"^\s+(?:-\w,)?(--[\w-]+)\s+[A-Z]+=(\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def plain(roff: str) -> str:
    """Roff text as a reader sees it, near enough for matching words."""
    text = roff.replace("\\-", "-").replace("\\(dq", '"').replace("\\e", "\\")
    text = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", text)  # font changes
    text = re.sub(r"\\\((oq|cq)", "'", text)
    text = re.sub(r"\\\((lq|rq)", '"', text)
    text = text.replace("\\&", "").replace("\\ ", " ")
    return text


def macro_line_text(line: str) -> str:
    """".BR \\-h \", \" \\-\\-help" -> "-h, --help"; text lines pass unchanged."""
    if line.startswith("."):
        parts = line.split(None, 1)
        line = parts[1] if len(parts) > 1 else ""
        line = line.replace('"', "")
    return plain(line)


def sections(page: str) -> list[tuple[str, str]]:
    """(name, body) for each .SH, in order."""
    out = []
    for chunk in re.split(r"^\.SH[ \t]+", page, flags=re.M)[1:]:
        head, _, body = chunk.partition("\n")
        out.append((head.strip().strip('"'), body))
    return out


def subsections(body: str) -> list[tuple[str, str]]:
    """(title, body) for each .SS of a section; text before the first .SS is
    left out."""
    out = []
    for chunk in re.split(r"^\.SS[ \t]+", body, flags=re.M)[1:]:
        head, _, rest = chunk.partition("\n")
        out.append((plain(head.strip().strip('"')), rest))
    return out


def section(page: str, name: str) -> str:
    for head, body in sections(page):
        if head == name:
            return body
    raise AssertionError(f"the man page has no section {name}")


def tagged_entries(body: str) -> list[tuple[str, str]]:
    """(tag, text) for every .TP entry: the tag line after .TP (and after each
    .TQ that follows), and the lines up to the next .TP, .SS or .SH, as plain
    text."""
    entries = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == ".TP" or lines[i].startswith(".TP "):
            j = i + 1
            while j < len(lines) and lines[j].startswith('.\\"'):
                j += 1
            if j >= len(lines):
                break
            tag = macro_line_text(lines[j])
            k = j + 1
            # .TQ adds another tag line to the same entry (groff).
            while k + 1 < len(lines) and lines[k].strip() == ".TQ":
                tag += ", " + macro_line_text(lines[k + 1])
                k += 2
            text = []
            while k < len(lines) and not re.match(r"^\.(TP|SS|SH)\b", lines[k]):
                text.append(macro_line_text(lines[k]))
                k += 1
            entries.append((tag.strip(), " ".join(text)))
            i = k
        else:
            i += 1
    return entries


def options_in(tag: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[a-z0-9][a-z0-9-]*)", tag))


class ManPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = mailferry_path()
        if not os.access(binary, os.X_OK):
            raise AssertionError(f"no mailferry binary at {binary} (set MAILFERRY)")
        cls.page = manpage_path().read_text(encoding="utf-8")
        cls.top_help = help_text()
        cls.commands = subcommands(cls.top_help)
        cls.helps = {"": cls.top_help}
        for name in cls.commands:
            cls.helps[name] = help_text(name)
        cls.option_groups = subsections(section(cls.page, "OPTIONS"))

    def entry_for(self, command: str, option: str) -> tuple[str, str] | None:
        """The entry of `option` in a subsection of OPTIONS that applies to
        `command`: one whose title names it ("Options of backup", "Connection
        options (check and backup)"), or the general options."""
        for title, body in self.option_groups:
            applies = "general" in title.lower() or (command and re.search(rf"\b{re.escape(command)}\b", title))
            if not applies:
                continue
            for tag, text in tagged_entries(body):
                if option in options_in(tag):
                    return tag, text
        return None

    def test_help_lists_commands_and_options(self):
        # Guards the parsers below: an empty list would make the other tests pass.
        self.assertIn("check", self.commands)
        self.assertIn("backup", self.commands)
        self.assertIn(["--timeout"], option_spellings(self.helps["check"]))

    def test_sections_in_mbsync_order(self):
        names = [head for head, _ in sections(self.page)]
        missing = [s for s in REQUIRED_SECTIONS if s not in names]
        self.assertEqual(missing, [], "sections missing from the man page")
        positions = [names.index(s) for s in REQUIRED_SECTIONS]
        self.assertEqual(positions, sorted(positions), f"sections out of order: {names}")

    def test_every_long_option_appears_in_the_page(self):
        for command, help in self.helps.items():
            for spellings in option_spellings(help):
                for option in spellings:
                    if not option.startswith("--"):
                        continue
                    roff = option.replace("-", "\\-")
                    with self.subTest(command=command or "(top level)", option=option):
                        self.assertTrue(roff in self.page or option in self.page,
                                        f"{option} is not in {manpage_path()}")

    def test_every_option_has_an_entry_under_options(self):
        for command, help in self.helps.items():
            for spellings in option_spellings(help):
                long = [s for s in spellings if s.startswith("--")]
                with self.subTest(command=command or "(top level)", option=spellings):
                    self.assertTrue(long, f"an option without a long name: {spellings}")
                    entry = self.entry_for(command, long[0])
                    self.assertIsNotNone(entry, f"no .TP entry for {long[0]} under OPTIONS, in a "
                                                f"subsection for {command or 'all commands'}")
                    tag, _ = entry
                    # The short spelling stands in the same entry: "-n, --dry-run".
                    for s in spellings:
                        self.assertIn(s, options_in(tag), f"{s} missing from the entry {tag!r}")

    def test_every_option_states_its_default(self):
        for command, help in self.helps.items():
            defaults = help_defaults(help)
            for spellings in option_spellings(help):
                long = [s for s in spellings if s.startswith("--")]
                if not long or long[0] in NO_DEFAULT:
                    continue
                entry = self.entry_for(command, long[0])
                if entry is None:
                    continue  # reported by test_every_option_has_an_entry_under_options
                _, text = entry
                with self.subTest(command=command or "(top level)", option=long[0]):
                    self.assertIn("Default", text, f"the entry for {long[0]} gives no default")
                    if long[0] in defaults:
                        self.assertRegex(text, r"Default:\s*" + re.escape(defaults[long[0]]) + r"\b",
                                         f"--help says the default of {long[0]} is {defaults[long[0]]}")

    def test_every_command_has_an_entry_under_commands(self):
        tags = [tag for tag, _ in tagged_entries(section(self.page, "COMMANDS"))]
        for name in self.commands:
            with self.subTest(command=name):
                self.assertTrue(any(re.match(rf"(mailferry\s+)?{re.escape(name)}\b", t) for t in tags),
                                f"no entry for the command {name} under COMMANDS (tags: {tags})")

    def test_exit_status_lists_exactly_the_exit_codes(self):
        header = (ROOT / "cli" / "exit_codes.h").read_text()
        codes = {int(n) for n in re.findall(r"\bexit_\w+\s*=\s*(\d+)", header)}
        self.assertTrue(codes, "no exit codes found in cli/exit_codes.h")
        documented = {int(t) for t, _ in tagged_entries(section(self.page, "EXIT STATUS")) if t.isdigit()}
        self.assertEqual(sorted(codes - documented), [], "exit codes missing from EXIT STATUS")
        self.assertEqual(sorted(documented - codes), [], "EXIT STATUS documents codes that do not exist")

    def test_groff_reports_no_warnings(self):
        if not shutil.which("groff"):
            self.skipTest("groff is not installed")
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", str(manpage_path())],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "groff warnings")

    def test_man_renders_it(self):
        if not shutil.which("man") or not shutil.which("groff"):
            self.skipTest("man-db is not installed")
        env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat")
        r = subprocess.run(["man", "-l", str(manpage_path())], capture_output=True, text=True,
                           timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "man -l complained")
        self.assertIn("INHERENT PROBLEMS", r.stdout)


if __name__ == "__main__":
    unittest.main()
