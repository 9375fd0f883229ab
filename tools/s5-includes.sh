#!/bin/sh
# s5-includes.sh (issue 17, S5): make every gateway and test source include the index area
# headers it uses and the audit leaf's header, and use the audit leaf's names. Idempotent: run
# it again after any merge that moves or adds files. Usage: tools/s5-includes.sh [repo root]
# The symbols of each area are read from the headers themselves (index/index_*.h,
# audit/huren_audit.h), so a new declaration needs no change here.
set -eu
root=${1:-$(dirname "$0")/..}
cd "$root"
exec python3 - gateway tests <<'PY'
import os, re, sys

IDENT = re.compile(r'\b(?:huren_index_[a-z0-9_]+|HUREN_INDEX_[A-Z0-9_]+|huren_audit[a-z0-9_]*|HUREN_AUDIT_[A-Z0-9_]+)\b')

def declared(path):
    text = re.sub(r'/\*.*?\*/', ' ', open(path, encoding='utf-8').read(), flags=re.S)
    text = re.sub(r'#include[^\n]*', ' ', text)
    return set(IDENT.findall(text))

core = declared('index/huren_index.h')
areas = []  # (include line, symbols only that header declares)
for name in ('index_records', 'index_consents', 'index_directory', 'index_recognition',
             'index_sys'):
    own = declared('index/%s.h' % name) - core
    own -= {s for s in own if s.endswith('_H')}
    areas.append(('#include "index/%s.h"' % name, own))
audit_syms = {s for s in declared('audit/huren_audit.h') if not s.endswith('_H')}

RENAME = [(re.compile(r'\bhuren_index_audit'), 'huren_audit')]
INC_INDEX = re.compile(r'^#include "(?:[\w/]*/)?huren_index\.h"[^\n]*\n', re.M)
INC_ANY = re.compile(r'^#include "[^"]+"[^\n]*\n', re.M)
INC_AUDIT_OLD = re.compile(r'^#include "(?:index/)?huren_index_audit\.h"[^\n]*\n', re.M)

def fix(text):
    for rx, new in RENAME:
        text = rx.sub(new, text)
    code = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    code = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', code)
    used = set(IDENT.findall(code))
    wanted = [line for line, syms in areas if used & syms]
    if used & audit_syms:
        wanted.append('#include "audit/huren_audit.h"')
    missing = [w for w in wanted if w not in text]
    if not missing:
        return text
    block = ''.join(w + '\n' for w in missing)
    m = INC_INDEX.search(text)
    if not m:
        ms = list(INC_ANY.finditer(text))
        if not ms:
            return text  # no project include to anchor on: leave it for a person
        m = ms[-1]
    return text[:m.end()] + block + text[m.end():]

changed = 0
for top in sys.argv[1:]:
    for d, _, files in os.walk(top):
        for f in sorted(files):
            if not f.endswith(('.c', '.h', '.cc', '.cpp')):
                continue
            p = os.path.join(d, f)
            old = open(p, encoding='utf-8').read()
            new = fix(old)
            if new != old:
                open(p, 'w', encoding='utf-8').write(new)
                changed += 1
print('s5-includes: %d files changed' % changed)
PY
