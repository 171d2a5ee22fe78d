#!/usr/bin/env python3
"""Checks the --help of drivers: it starts with "usage: PROG", has an "options:" list, and
every option the text names anywhere (--name) has an entry in that list with a description
and its default: "(default: ...)" or "(required)".

    check_help.py DRIVER...     run each DRIVER --help and check it
    check_help.py --self-test   the check must reject planted bad help texts
"""
import os
import pathlib
import re
import stat
import subprocess
import sys
import tempfile

ENTRY = re.compile(r"^  --([a-z][a-z0-9-]*)(?: (\S+))?(?:\s{2,}(.*))?$")
MENTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
DEFAULT = re.compile(r"\((?:default: \S.*|required)\)$")


def check_text(prog: str, text: str) -> list:
    problems = []
    if not text.startswith(f"usage: {prog}"):
        problems.append(f"{prog}: --help does not start with 'usage: {prog}'")
    lines = text.splitlines()
    if "options:" not in lines:
        return problems + [f"{prog}: --help has no 'options:' list"]
    entries = {}
    for line in lines[lines.index("options:") + 1:]:
        m = ENTRY.match(line)
        if not m:
            problems.append(f"{prog}: not an option entry: '{line}'")
            continue
        name, desc = m.group(1), (m.group(3) or "").strip()
        entries[name] = desc
        if not DEFAULT.search(desc):
            problems.append(f"{prog}: --{name} has no default ('(default: ...)' or '(required)')")
        if not DEFAULT.sub("", desc).strip():
            problems.append(f"{prog}: --{name} has no description")
    for name in sorted(set(MENTION.findall(text)) - set(entries)):
        problems.append(f"{prog}: --{name} is named in the help but has no entry in its options")
    return problems


def check_driver(path: str) -> list:
    prog = os.path.basename(path)
    r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return [f"{prog}: --help exited with {r.returncode}: {r.stderr.strip()}"]
    return check_text(prog, r.stdout)


GOOD = "usage: prog [--size N] [--fast]\noptions:\n  --size N  the size (default: 3)\n  --fast    go fast (default: off)\n"
BAD = {
    "no default": GOOD.replace(" (default: 3)", ""),
    "empty default": GOOD.replace("(default: 3)", "(default: )"),
    "no description": GOOD.replace("the size ", ""),
    "named, no entry": GOOD.replace("[--fast]", "[--fast] [--slow]"),
    "no options list": "usage: prog [--size N]\n",
}


def self_test() -> int:
    if check_text("prog", GOOD):
        print("self-test: a good help text was rejected:", check_text("prog", GOOD))
        return 1
    for what, text in BAD.items():
        if not check_text("prog", text):
            print(f"self-test: a help text with '{what}' was accepted")
            return 1
    # The whole path, through a program that prints a bad help text.
    with tempfile.TemporaryDirectory() as tmp:
        prog = pathlib.Path(tmp) / "prog"
        prog.write_text("#!/bin/sh\ncat <<'END'\n" + BAD["no default"] + "END\n")
        prog.chmod(prog.stat().st_mode | stat.S_IXUSR)
        r = subprocess.run([sys.executable, __file__, str(prog)], capture_output=True, text=True)
        if r.returncode != 1 or "--size has no default" not in r.stdout:
            print("self-test: a driver with a bad --help passed:\n" + r.stdout + r.stderr)
            return 1
    print(f"self-test: the good text passes, all {len(BAD)} bad texts and a bad driver are rejected")
    return 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    problems, options = [], 0
    for path in sys.argv[1:]:
        found = check_driver(path)
        problems += found
        if not found:
            r = subprocess.run([path, "--help"], capture_output=True, text=True)
            options += sum(1 for line in r.stdout.splitlines() if ENTRY.match(line))
    for p in problems:
        print(p)
    print(f"{len(sys.argv) - 1} drivers, {options} options checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
