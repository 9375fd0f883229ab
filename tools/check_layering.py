#!/usr/bin/python3
"""check_layering.py: the include rules of the source tree, checked (a ctest, `check_layering`).

Every #include "..." of a C/C++ file is resolved to the folder that owns the header. Then:
  - common/ (the bounded buffer) includes nothing of ours; every folder may include it;
  - the leaves (dicom/, hl7/, index/, audit/) include nothing of another folder but common/;
  - the gateway root (serve.c, node.c, ...) is the wiring and may include every folder;
  - gateway/http/ (transport), gateway/ingest/ (received data into records) and every gateway
    feature folder (claims/, consent/, dicomweb/, dimse/, directory/, recognition/, records/,
    ui/, audit/) may include the leaves, the gateway root (node.h, log.h, config.h,
    identity.h, ...), http/ and ingest/, never each other.
A pair "FOLDER -> FOLDER" that breaks a rule but is listed in tools/layering-allow.txt is
known (today's debts, to be removed as issue 17's node hooks land) and only reported; any
other breaks the check. A listed pair that no longer occurs is reported too, so the list only
shrinks. Usage: tools/check_layering.py [REPO]"""

import os
import re
import sys

LEAVES = {"dicom", "hl7", "index", "audit"}
BASE = "common"  # below the leaves: anyone may include it, it includes nothing of ours
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(repo, path):
    rel = os.path.relpath(path, repo)
    parts = rel.split(os.sep)
    if parts[0] == "gateway":
        return "gateway/" + parts[1] if len(parts) > 2 else "gateway"
    return parts[0]


def sources(repo):
    for top in sorted(LEAVES | {"gateway", BASE}):
        for root, _, files in os.walk(os.path.join(repo, top)):
            for f in sorted(files):
                if f.endswith((".c", ".cpp", ".h")):
                    yield os.path.join(root, f)


def main():
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    files = list(sources(repo))
    owner = {}  # header basename -> folders holding one of that name
    for f in files:
        if f.endswith(".h"):
            owner.setdefault(os.path.basename(f), set()).add(folder_of(repo, f))
    pairs = {}
    for f in files:
        src = folder_of(repo, f)
        with open(f, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            if "/" in inc:  # folder-qualified: "index/index_records.h", "audit/huren_audit.h"
                cand = os.path.join(repo, inc)
                if not os.path.exists(cand):
                    cand = os.path.join(repo, "gateway", inc)
                if not os.path.exists(cand):
                    continue
                dst = folder_of(repo, cand)
            else:
                here = os.path.join(os.path.dirname(f), inc)
                if os.path.exists(here):
                    continue  # a header of its own folder
                dsts = owner.get(inc)
                if not dsts:
                    continue  # a system or third-party header, or a generated one
                dst = sorted(dsts)[0]
            if dst == src or (dst == BASE and src != BASE) or (
                    dst.split("/")[0] in LEAVES and src not in LEAVES and src != BASE):
                continue
            allowed = src == "gateway" or (  # the root is the wiring: it may include anything
                src.startswith("gateway") and dst in ("gateway", "gateway/http", "gateway/ingest"))
            if not allowed:
                pairs.setdefault("%s -> %s" % (src, dst), set()).add(
                    "%s: %s" % (os.path.relpath(f, repo), inc))
    allow_path = os.path.join(repo, "tools", "layering-allow.txt")
    allow = set()
    if os.path.exists(allow_path):
        with open(allow_path) as fh:
            for line in fh:
                line = line.split("#", 1)[0].strip()
                if line:
                    allow.add(re.sub(r"\s+", " ", line))
    new = sorted(p for p in pairs if p not in allow)
    gone = sorted(p for p in allow if p not in pairs)
    for p in sorted(pairs):
        print("%s %s (%d)" % ("known:" if p in allow else "NEW:  ", p, len(pairs[p])))
        if p not in allow:
            for where in sorted(pairs[p]):
                print("         " + where)
    for p in gone:
        print("gone:  %s: remove it from tools/layering-allow.txt" % p)
    if new or gone:
        print("check_layering: %d new, %d gone" % (len(new), len(gone)))
        return 1
    print("check_layering: OK (%d known pairs left)" % len(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
