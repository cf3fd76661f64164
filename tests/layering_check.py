#!/usr/bin/env python3
"""Fails on an #include that crosses the layers the wrong way.

    python3 tests/layering_check.py BUILD/layers.txt [REPO_ROOT]
    python3 tests/layering_check.py --self-test

The table of layers is written by CMake (mf_folder() in the top-level
CMakeLists.txt) into the build tree: one line a folder,

    <target> <folder> uses=<target>,... headers=<prefix>,...

A file in a folder may include, by its path from the repository root, a
header of its own folder and of every folder its folder uses, directly or
through the folders those use (the layers below it); the third-party headers
of its own line only (they are linked PRIVATE); and any system header.
Every target gets the repository root as include path, so the compiler
would accept a wrong include: this test is what refuses it.
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
# Third-party headers that no layer may include (tests/ only).
TEST_ONLY = ("doctest/",)


def read_table(path):
    layers = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        target, folder, uses, headers = line.split(" ")
        layers[target] = {
            "folder": folder,
            "uses": [u for u in uses.removeprefix("uses=").split(",") if u],
            "headers": [h for h in headers.removeprefix("headers=").split(",") if h],
        }
    return layers


def allowed_folders(layers):
    """folder -> the folders it may include: itself and every layer below it."""
    by_target = {t: l["folder"] for t, l in layers.items()}
    out = {}
    for target, layer in layers.items():
        seen, todo = set(), [target]
        while todo:
            t = todo.pop()
            if t in seen or t not in layers:
                continue
            seen.add(t)
            todo.extend(layers[t]["uses"])
        out[layer["folder"]] = {by_target[t] for t in seen}
    return out


def folder_of(rel, folders):
    best = None
    for f in folders:
        if (rel == f or rel.startswith(f + "/")) and (best is None or len(f) > len(best)):
            best = f
    return best


def check(root, layers):
    """A list of "file:line: what" for every include the table forbids."""
    errors = []
    allowed = allowed_folders(layers)
    third_party = set(TEST_ONLY)
    for layer in layers.values():
        third_party.update(layer["headers"])
    own_headers = {l["folder"]: l["headers"] for l in layers.values()}
    for folder in sorted(allowed):
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            for name in sorted(names):
                if not name.endswith((".h", ".hpp", ".cpp")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                mine = folder_of(rel, allowed)
                text = open(path, encoding="utf-8", errors="replace").read()
                for m in INCLUDE.finditer(text):
                    line = text.count("\n", 0, m.start()) + 1
                    where = f"{rel}:{line}"
                    kind, header = m.group(1), m.group(2)
                    if kind == "<":
                        prefix = next((p for p in third_party if header.startswith(p)), None)
                        if prefix and prefix not in own_headers[mine]:
                            errors.append(f"{where}: <{header}> is not for {mine} "
                                          f"(it may use: {', '.join(own_headers[mine]) or 'no third-party header'})")
                        continue
                    if os.path.exists(os.path.join(root, header)):
                        target = os.path.normpath(header)
                    elif os.path.exists(os.path.join(dirpath, header)):
                        target = os.path.relpath(os.path.normpath(os.path.join(dirpath, header)), root)
                    else:
                        errors.append(f'{where}: "{header}" is not a file of the repository')
                        continue
                    theirs = folder_of(target, allowed)
                    if theirs is None:
                        errors.append(f'{where}: "{header}" is in no layer')
                    elif theirs not in allowed[mine]:
                        errors.append(f'{where}: {mine} may not include "{header}" ({theirs} is not below it)')
    return errors


def self_test():
    """The check refuses what it should, on a made-up tree."""
    table = ("a sync uses= headers=\n"
             "b backends/net uses=a headers=curl/\n"
             "c backends/open uses=b headers=\n")
    files = {
        "sync/ok.h": '#include "sync/ok.h"\n#include <vector>\n',
        "sync/bad.cpp": '#include <curl/curl.h>\n#include "backends/net/n.h"\n',
        "backends/net/n.h": '#include "sync/ok.h"\n#include <curl/curl.h>\n',
        "backends/net/bad.cpp": '#include "backends/open/o.h"\n#include <doctest/doctest.h>\n',
        "backends/open/o.h": '#include "backends/net/n.h"\n#include "sync/ok.h"\n#include <curl/curl.h>\n',
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        with open(os.path.join(root, "layers.txt"), "w") as f:
            f.write(table)
        got = sorted(e.split(":")[0] + ":" + e.split(":")[1] for e in check(root, read_table(os.path.join(root, "layers.txt"))))
    want = ["backends/net/bad.cpp:1", "backends/net/bad.cpp:2", "backends/open/o.h:3",
            "sync/bad.cpp:1", "sync/bad.cpp:2"]
    if got != want:
        print(f"layering_check self-test: found {got}, expected {want}")
        return 1
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = argv[2] if len(argv) == 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if self_test() != 0:
        return 1
    errors = check(os.path.abspath(root), read_table(argv[1]))
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} include(s) cross the layers the wrong way; the table is in CMakeLists.txt")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
