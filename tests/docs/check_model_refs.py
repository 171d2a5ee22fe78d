#!/usr/bin/env python3
"""Checks references to docs/MODEL.md across the repository (standard library only).

Usage: check_model_refs.py REPO_ROOT

1. Collects the section numbers of docs/MODEL.md from its headings "## N. Title" and
   "### N.M Title".
2. Scans every file git knows (tracked, plus untracked files that are not ignored) for
   references "MODEL.md §X", including ranges and lists: in "MODEL.md §2-§3",
   "MODEL.md §2–§4" or "MODEL.md §6, §8" every § number of the run that directly follows
   "MODEL.md" is checked. Inside docs/MODEL.md itself every "§N" is such a reference. A
   reference to a section without a heading is an error.
3. Fails when a text file cites the retired design-document name (a whole word, upper case): the model is
   documented in docs/MODEL.md, not in a document outside the repository. This file is
   exempt, since it has to name the pattern.

Prints one line per problem (file:line: text), then "N references checked in M files";
exits 1 if there was a problem, else 0.
"""
import os
import re
import subprocess
import sys

MODEL = "docs/MODEL.md"
SELF = "tests/docs/check_model_refs.py"

HEADING = re.compile(r"^(##|###)\s+(\d+(?:\.\d+)?)\.?\s+\S")
# "MODEL.md" then a run of § numbers joined by "-", "–", "—", ",", "/", "and", "to", "or".
# A range may omit the second "§" ("§5-7"); a list item may not ("§6, 8 seeds" is one reference).
NUM = r"§\s*\d+(?:\.\d+)*"
SEP = r"\s*(?:-|–|—|,|/|\band\b|\bto\b|\bor\b)\s*"
DASH_NUM = r"[-–—]\d+(?:\.\d+)*"
REF = re.compile(r"MODEL\.md\s*(" + NUM + r"(?:" + SEP + NUM + r"|" + DASH_NUM + r")*)")
SECTION = re.compile(r"(?:§\s*|[-–—])(\d+(?:\.\d+)*)")
SELF_REF = re.compile(NUM + r"(?:" + SEP + NUM + r"|" + DASH_NUM + r")*")
RETIRED = "S" + "PEC"  # spelt in two parts so that this file does not match itself
WORD = re.compile(r"\b" + RETIRED + r"\b")


def git_files(root):
    names = []
    for args in (["ls-files", "-z"], ["ls-files", "-z", "--others", "--exclude-standard"]):
        out = subprocess.run(["git", "-C", root] + args, check=True, stdout=subprocess.PIPE).stdout
        names += [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
    seen, files = set(), []
    for n in names:
        if n not in seen:
            seen.add(n)
            files.append(n)
    return files


def read_text(path):
    """The file's lines, or None for a binary or unreadable file (or a deleted one)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", "replace").splitlines()


def sections(lines):
    found = set()
    in_fence = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = HEADING.match(line)
        if not m:
            continue
        level, num = m.group(1), m.group(2)
        if (level == "##") != ("." not in num):
            continue  # "## 3.1" or "### 3" is not the documented heading form
        found.add(num)
    return found


def main(argv):
    if len(argv) != 2:
        print("usage: check_model_refs.py REPO_ROOT", file=sys.stderr)
        return 2
    root = argv[1]
    model_lines = read_text(os.path.join(root, MODEL))
    if model_lines is None:
        print(f"{MODEL}: missing", file=sys.stderr)
        return 1
    known = sections(model_lines)
    problems = []
    n_refs = 0
    files_with_refs = set()
    for name in git_files(root):
        lines = read_text(os.path.join(root, name))
        if lines is None:
            continue
        for i, line in enumerate(lines, 1):
            # Inside docs/MODEL.md a bare "§N" refers to its own sections.
            runs = [(m.group(0), m.group(0)) for m in SELF_REF.finditer(line)] if name == MODEL else \
                [(m.group(0), m.group(1)) for m in REF.finditer(line)]
            for text, run in runs:
                files_with_refs.add(name)
                for num in SECTION.findall(run):
                    n_refs += 1
                    if num not in known:
                        problems.append(f"{name}:{i}: {text} (no section {num} in {MODEL})")
            if name != SELF and WORD.search(line):
                problems.append(f"{name}:{i}: {line.strip()[:160]} (the word {RETIRED}: cite {MODEL} instead)")
    for p in problems:
        print(p)
    print(f"{n_refs} references checked in {len(files_with_refs)} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
