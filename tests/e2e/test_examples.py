"""The files in examples/ work as shipped: every job file passes
`mailferry run FILE --check` and the JSON Schema (examples/jobs.schema.json),
the schema, the man page mailferry-jobs(5) and the binary agree on the keys,
the systemd units pass `systemd-analyze verify` (or at least a syntax check
when systemd is not installed), the crontab line and the Kubernetes CronJob
are well formed, and the command line each of them runs is one mailferry
accepts. Needs no server, no PyYAML and no jsonschema (both are used when
present)."""

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from mfharness import mailferry_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCHEMA = EXAMPLES / "jobs.schema.json"
MANPAGE = ROOT / "man" / "mailferry-jobs.5"


def strip_comments(text):
    """// and /* */ comments out of JSON text (not inside strings), as
    mailferry's parser allows them."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def load_jsonc(path):
    return json.loads(strip_comments(Path(path).read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------
# the subset of JSON Schema (2020-12) that jobs.schema.json uses

ANNOTATIONS = {"$schema", "$defs", "title", "description", "default", "$comment"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def schema_errors(value, schema, root, where="$"):
    errors = []
    for keyword in schema:
        if keyword not in ANNOTATIONS | {"$ref", "type", "properties", "additionalProperties", "required", "items",
                                         "enum", "const", "pattern", "minimum", "maximum", "minLength",
                                         "propertyNames", "if", "then", "else"}:
            raise AssertionError(f"{where}: the schema uses {keyword}, which this validator does not know")
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        errors += schema_errors(value, target, root, where)
    t = schema.get("type")
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return errors + [f"{where}: not an integer"]
    elif t == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return errors + [f"{where}: not a number"]
    elif t is not None and not isinstance(value, TYPES[t]):
        return errors + [f"{where}: not {t}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: too short")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: above {schema['maximum']}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{where}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: {key} missing")
        for key, item in value.items():
            if "propertyNames" in schema:
                errors += schema_errors(key, schema["propertyNames"], root, f"{where} key {key!r}")
            if key in props:
                errors += schema_errors(item, props[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: {key} not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += schema_errors(item, schema["additionalProperties"], root, f"{where}.{key}")
    if "if" in schema:
        branch = "then" if not schema_errors(value, schema["if"], root, where) else "else"
        if branch in schema:
            errors += schema_errors(value, schema[branch], root, where)
    return errors


def validate(document, schema):
    errors = schema_errors(document, schema, schema)
    try:
        import jsonschema
    except ImportError:
        return errors
    validator = jsonschema.Draft202012Validator(schema)
    theirs = sorted(e.message for e in validator.iter_errors(document))
    assert bool(theirs) == bool(errors), f"jsonschema says {theirs}, the small validator says {errors}"
    return errors


# ---------------------------------------------------------------------------
# unit files, crontab, YAML by text

def unit_sections(text):
    """{section: [(key, value)]}; raises on anything that is not a comment,
    a section header or key=value."""
    sections, current = {}, None
    for number, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        m = re.fullmatch(r"\[([A-Za-z]+)\]", s)
        if m:
            current = m.group(1)
            assert current not in sections, f"line {number}: section [{current}] twice"
            sections[current] = []
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", s)
        assert m and current, f"line {number}: not key=value inside a section: {line!r}"
        sections[current].append((m.group(1), m.group(2)))
    return sections


def yaml_paths(text):
    """'a.b.c' -> scalar for every `key: value` line of a block-style YAML
    document, and 'a.b[]' -> [items] for `- item` lists. Raises on tabs and
    odd indentation."""
    paths, stack = {}, []          # stack of (indent, key)

    def joined():
        return ".".join(k for _, k in stack).replace(".[]", "[]")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert "\t" not in line, f"line {number}: tab"
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"line {number}: odd indentation"
        body = line.strip()
        if body.startswith("- "):
            while stack and stack[-1][0] >= indent:
                stack.pop()
            key = joined() + "[]"
            item = body[2:]
            paths.setdefault(key, []).append(item)
            m = re.match(r"([A-Za-z_][\w.-]*):\s*(.*)$", item)
            if m:   # "- name: x" opens a mapping one level deeper
                stack.append((indent + 1, "[]"))
                stack.append((indent + 2, m.group(1)))
                paths[joined()] = m.group(2)
                stack.pop()
            continue
        m = re.match(r"([A-Za-z_$][\w.$-]*):(?:\s+(.*))?$", body)
        assert m, f"line {number}: not `key: value`: {line!r}"
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(1)))
        paths[joined()] = (m.group(2) or "").strip()
    return paths


class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schema = json.loads(SCHEMA.read_text())
        cls.job_files = sorted(p for p in EXAMPLES.glob("*.json") if p != SCHEMA)
        cls.tmp = tempfile.mkdtemp(prefix="mfexamples-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def mailferry(self, *args):
        return subprocess.run([mailferry_path(), *args], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    def check_command_line(self, argv, where):
        """A command line from an example, pointed at examples/jobs.json and
        run with --check: its options are ones mailferry knows."""
        self.assertTrue(argv[0].endswith("mailferry"), where)
        self.assertEqual(argv[1], "run", where)
        args = [str(EXAMPLES / "jobs.json") if a.endswith("jobs.json") else a for a in argv[2:]]
        r = self.mailferry("run", *args, "--check")
        self.assertEqual(r.returncode, 0, f"{where}: {shlex.join(argv)}\n{r.stderr}")

    # -- job files -----------------------------------------------------------------

    def test_there_are_job_files(self):
        self.assertIn(EXAMPLES / "jobs.json", self.job_files)

    def test_job_files_pass_mailferry_check(self):
        for path in self.job_files:
            with self.subTest(path.name):
                r = self.mailferry("run", str(path), "--check", "--json")
                self.assertEqual(r.returncode, 0, r.stderr)
                kinds = {j["kind"] for j in json.loads(r.stdout)["jobs"]}
                if path.name == "jobs.json":
                    self.assertEqual(kinds, {"backup", "migrate"})

    def test_job_files_follow_the_schema(self):
        for path in self.job_files:
            with self.subTest(path.name):
                self.assertEqual(validate(load_jsonc(path), self.schema), [])

    def test_the_schema_refuses_what_mailferry_refuses(self):
        good = {"name": "a", "kind": "backup", "source": "imaps://a@h", "archive": "x", "password_env": "P"}
        broken = {
            "unknown key": {"jobs": [{**good, "foldres": []}]},
            "literal password": {"jobs": [{**good, "password": "x"}]},
            "bad kind": {"jobs": [{**good, "kind": "copy"}]},
            "bad name": {"jobs": [{**good, "name": "a b"}]},
            "wrong type": {"jobs": [{**good, "timeout": "30"}]},
            "backup without archive": {"jobs": [{k: v for k, v in good.items() if k != "archive"}]},
            "migrate without target": {"jobs": [{**good, "kind": "migrate"}]},
            "bad format": {"jobs": [{**good, "format": "mh"}]},
            "no jobs": {},
            "name in defaults": {"defaults": {"name": "x"}, "jobs": []},
            "percent": {"jobs": [{**good, "max_delete_percent": 101}]},
        }
        self.assertEqual(validate({"jobs": [good]}, self.schema), [])
        for what, document in broken.items():
            with self.subTest(what):
                self.assertNotEqual(validate(document, self.schema), [], what)
                path = os.path.join(self.tmp, "broken.json")
                with open(path, "w") as f:
                    json.dump(document, f)
                self.assertEqual(self.mailferry("run", path, "--check").returncode, 2, what)

    def test_schema_man_page_and_binary_know_the_same_keys(self):
        job_keys = set(self.schema["$defs"]["job"]["properties"])
        self.assertEqual(job_keys - {"name", "kind"}, set(self.schema["$defs"]["defaults"]["properties"]))
        page = MANPAGE.read_text(encoding="utf-8").replace("\\-", "-").replace("\\_", "_")
        documented = set(re.findall(r"^\.T[PQ]\n\.B (\w+)", page, re.M))
        self.assertEqual(sorted(job_keys - documented), [], "keys missing from mailferry-jobs(5)")
        top = set(self.schema["properties"]) - {"$schema"}
        self.assertEqual(sorted(top - documented), [], "top-level keys missing from mailferry-jobs(5)")
        samples = {"string": "x", "boolean": True, "integer": 1, "array": ["x"], "object": {"A": "B"}}
        path = os.path.join(self.tmp, "keys.json")
        for key in sorted(job_keys - {"name", "kind"}):
            with self.subTest(key):
                spec = self.schema["$defs"]["job"]["properties"][key]
                value = spec.get("enum", [samples[spec["type"]]])[0]
                with open(path, "w") as f:
                    json.dump({"jobs": [{"name": "k", "kind": "mirror", key: value}]}, f)
                r = self.mailferry("run", path, "--check")
                self.assertNotIn(f"key '{key}': unknown key", r.stderr)
                self.assertNotIn(f"key '{key}': must be", r.stderr, "the schema's type is not mailferry's")

    # -- cron --------------------------------------------------------------------------

    def test_crontab(self):
        lines = [l for l in (EXAMPLES / "crontab").read_text().splitlines() if l.strip() and not l.startswith("#")]
        entries = [l for l in lines if not re.match(r"^[A-Z_]+=", l)]
        self.assertEqual(len(entries), 1, "one crontab line")
        fields = entries[0].split(None, 6)
        ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
        for field, (lo, hi) in zip(fields[:5], ranges):
            for part in field.split(","):
                base, _, step = part.partition("/")
                self.assertTrue(step == "" or step.isdigit(), field)
                if base == "*":
                    continue
                for n in base.split("-"):
                    self.assertTrue(n.isdigit() and lo <= int(n) <= hi, f"{field} out of {lo}-{hi}")
        self.assertRegex(fields[5], r"^[a-z_][a-z0-9_-]*$", "the user field of /etc/cron.d")
        self.check_command_line(shlex.split(fields[6]), "crontab")

    # -- systemd -------------------------------------------------------------------------

    def test_systemd_units_syntax(self):
        service = unit_sections((EXAMPLES / "mailferry-backup.service").read_text())
        timer = unit_sections((EXAMPLES / "mailferry-backup.timer").read_text())
        self.assertEqual(set(service), {"Unit", "Service"})
        self.assertEqual(set(timer), {"Unit", "Timer", "Install"})
        svc = dict(service["Service"])
        self.assertEqual(svc["Type"], "oneshot")
        self.check_command_line(shlex.split(svc["ExecStart"]), "ExecStart")
        self.assertIn(("OnCalendar", "*-*-* 02:30:00"), timer["Timer"])
        self.assertIn(("WantedBy", "timers.target"), timer["Install"])

    def test_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed (the syntax check above still ran)")
        # The one thing that differs per machine: where the binary is.
        work = os.path.join(self.tmp, "units")
        os.makedirs(work, exist_ok=True)
        for name in ("mailferry-backup.service", "mailferry-backup.timer"):
            text = (EXAMPLES / name).read_text().replace("/usr/local/bin/mailferry", mailferry_path())
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
        # --man=no: Documentation= names man pages that are not installed here.
        r = subprocess.run([analyze, "verify", "--man=no", "mailferry-backup.service", "mailferry-backup.timer"],
                           cwd=work, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("mailferry-backup", r.stdout + r.stderr, "warnings about the units")
        r = subprocess.run([analyze, "calendar", "*-*-* 02:30:00"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    # -- Kubernetes ----------------------------------------------------------------------

    def test_kubernetes_cronjob(self):
        text = (EXAMPLES / "k8s-cronjob.yaml").read_text()
        p = yaml_paths(text)
        self.assertEqual(p["apiVersion"], "batch/v1")
        self.assertEqual(p["kind"], "CronJob")
        self.assertEqual(len(p["spec.schedule"].strip('"').split()), 5)
        job = "spec.jobTemplate.spec"
        self.assertEqual(p[f"{job}.completionMode"], "Indexed")
        completions = int(p[f"{job}.completions"])
        self.assertEqual(p[f"{job}.template.spec.restartPolicy"], "Never")
        container = f"{job}.template.spec.containers[]"
        self.assertEqual(p[f"{container}.name"], "mailferry")
        self.assertTrue(p[f"{container}.image"])
        args = [a.strip('"') for a in p[f"{container}.args[]"]]
        command = p[f"{container}.command[]"]
        shard = args[args.index("--shard") + 1]
        self.assertEqual(shard, f"$(JOB_COMPLETION_INDEX)/{completions}", "--shard must match completions")
        for index in range(completions):
            argv = [*command, *[a.replace("$(JOB_COMPLETION_INDEX)", str(index)) for a in args]]
            self.check_command_line(argv, f"pod {index}")
        try:
            import yaml
        except ImportError:
            return
        doc = yaml.safe_load(text)
        spec = doc["spec"]["jobTemplate"]["spec"]
        self.assertEqual(spec["completions"], completions)
        self.assertEqual(spec["template"]["spec"]["containers"][0]["args"], args)


if __name__ == "__main__":
    unittest.main()
