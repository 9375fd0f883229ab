#!/usr/bin/python3
"""check_docs.py: every relative link of the repository's Markdown files (README.md, docs/,
module READMEs) points at a file that exists, and the README stays a front page (at most 150
lines, starting with its two commands). The ctest `check_docs`."""

import os
import re
import subprocess
import sys

LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def main():
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    try:
        files = subprocess.run(["git", "-C", repo, "ls-files", "*.md"], stdout=subprocess.PIPE,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        files = [os.path.relpath(os.path.join(r, f), repo) for r, _, fs in os.walk(repo)
                 for f in fs if f.endswith(".md")]
    files = [f for f in files if "node_modules" not in f and not f.startswith("tests/integration/ui/.")]
    bad = []
    for f in files:
        with open(os.path.join(repo, f), encoding="utf-8") as fh:
            text = fh.read()
        for target, _ in LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            path = os.path.normpath(os.path.join(repo, os.path.dirname(f), target))
            if not os.path.exists(path):
                bad.append("%s: link to %s: no such file" % (f, target))
    with open(os.path.join(repo, "README.md"), encoding="utf-8") as fh:
        readme = fh.read().split("\n")
    if len(readme) > 151:
        bad.append("README.md: %d lines; the front page keeps to 150 (move detail to docs/)"
                   % len(readme))
    if readme[2:5] != ["```sh", "bash .ci/setup && build/huren serve", "bash .ci/test"]:
        bad.append("README.md: must start with its two commands")
    for b in bad:
        print(b)
    print("check_docs: %s (%d files)" % ("%d problems" % len(bad) if bad else "OK", len(files)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
