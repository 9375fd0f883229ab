"""fhirschema.py: checks JSON documents against HL7's official FHIR R4 JSON schema with the node
script tests/integration/fhir/validate.js (ajv, draft-06). Its npm packages are installed from
the committed package-lock.json the first time a test needs them (`npm ci`, about 12 s and
8 MB)."""

import json
import os
import shutil
import tempfile

from harness import run

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fhir")
_ready = False


def _install(test):
    global _ready
    if _ready:
        return
    if not shutil.which("node") or not shutil.which("npm"):
        test.fail("node and npm are needed for the FHIR schema check (.ci/setup installs them)")
    stamp = os.path.join(FOLDER, "node_modules", ".package-lock.json")
    lock = os.path.join(FOLDER, "package-lock.json")
    if not (os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(lock)):
        p = run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FOLDER, timeout=600)
        test.assertEqual(p.returncode, 0, "npm ci in tests/integration/fhir failed:\n" +
                         p.stdout[-2000:])
    _ready = True


def validate(test, docs):
    """{name: document} -> {name: (valid, report lines)} from the official R4 schema."""
    _install(test)
    d = tempfile.mkdtemp(prefix="fhir-")
    try:
        paths = {}
        for name, doc in docs.items():
            paths[name] = os.path.join(d, name + ".json")
            with open(paths[name], "w", encoding="utf-8") as f:
                f.write(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False))
        p = run(["node", os.path.join(FOLDER, "validate.js")] + list(paths.values()),
                timeout=300)
        test.assertIn(p.returncode, (0, 1), "validate.js failed:\n" + p.stdout[-4000:])
        out, current = {}, None
        for line in p.stdout.splitlines():
            for name, path in paths.items():
                if line.startswith(path + ": "):
                    current = name
                    out[name] = (line.endswith(": valid"), [line])
                    break
            else:
                if current and line.startswith("  "):
                    out[current][1].append(line)
        test.assertEqual(set(out), set(docs), p.stdout[-4000:])
        return out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def assert_valid(test, docs):
    """Every document validates with zero errors (the errors printed otherwise)."""
    for name, (ok, lines) in validate(test, docs).items():
        test.assertTrue(ok, "%s is not valid FHIR R4:\n%s" % (name, "\n".join(lines)))
