#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that requirements-debian.txt names exactly the third-party modules the training tool
and the exporters import: every `import` and `from ... import` (at any depth, lazy imports
included) of tools/train/*.py and tools/export/*.py, less the standard library and the
project's own modules. Needs no third-party module itself (ctest
train_requirements)."""

import ast
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORT = HERE.parent / "export"


def listed(path):
    modules = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].split()
        if line:
            if len(line) != 2:
                raise SystemExit(f"{path}: expected 'package module', got {' '.join(line)!r}")
            modules[line[1]] = line[0]
    return modules


def imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def third_party(folders):
    local = {p.stem: p for folder in folders for p in folder.glob("*.py")}
    pending = sorted(p for folder in folders for p in folder.glob("*.py"))
    seen, found = set(), {}
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imports(path):
            if name in local:
                pending.append(local[name])
            elif name not in sys.stdlib_module_names:
                found.setdefault(name, path.relative_to(HERE.parent.parent))
    return found


def main():
    requirements = HERE / "requirements-debian.txt"
    want = listed(requirements)
    found = third_party([HERE, EXPORT])
    errors = [f"{found[m]} imports {m}, which {requirements.name} does not list"
              for m in sorted(set(found) - set(want))]
    errors += [f"{requirements.name} lists {m} ({want[m]}), which nothing imports"
               for m in sorted(set(want) - set(found))]
    for e in errors:
        print("check_requirements:", e, file=sys.stderr)
    if not errors:
        print(f"check_requirements: {', '.join(sorted(found))}: all listed in {requirements.name}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
