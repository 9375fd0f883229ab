"""test_security.py: access control and the audit trail, black-box. Certificates come from
conf/make-test-pki.sh in the test's folder; the node serves HTTPS on 127.0.0.1 and curl (a real
TLS client) calls it with each role's certificate, with bad certificates and with bearer
tokens. DCMTK's storescu/findscu make DIMSE audit entries. Then `huren audit verify` checks the
chain, the test edits one entry and verify must name it, and `huren audit export` must give XML
that xmllint parses."""

import hashlib
import json
import os
import secrets
import subprocess
import unittest
import xml.etree.ElementTree as ET

from dicomgen import uid, write_instance
from harness import HUREN, NodeTestCase, curl, find, run

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROLES = ("clinician", "peer", "insurer", "admin")


class SecurityTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        self.tokens = {r: secrets.token_hex(32) for r in ("clinician", "admin")}
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            subjects = dict(line.split("\t") for line in f.read().splitlines())
        conf = ["[http]",
                "tls_cert = %s/server.crt" % self.pki,
                "tls_key = %s/server.key" % self.pki,
                "tls_client_ca = %s/ca.crt" % self.pki,
                "tls_client_verify = optional",
                "[audit]", "fsync = yes"]
        for role in ROLES:
            inst = "H37010002" if role == "peer" else "INS01" if role == "insurer" else "H37010001"
            conf += ['[client "%s-cert"]' % role, "subject = " + subjects[role],
                     "institution = " + inst, "role = " + role]
        for role, tok in self.tokens.items():
            conf += ['[client "ws-%s"]' % role,
                     "token_sha256 = " + hashlib.sha256(tok.encode()).hexdigest(),
                     "institution = H37010001", "role = " + role]
        conf += ['[client "ct-scanner"]', "ae_title = FINDSCU", "institution = H37010001",
                 "role = clinician"]
        self.conf = "\n".join(conf) + "\n"
        self.n = self.node(config_text=self.conf, https=True).start()

    def get(self, path, who=None, token=None):
        """(status, headers, body) of GET path as a role's certificate or with a token."""
        cert = key = None
        if who:
            cert, key = (os.path.join(self.pki, who + ext) for ext in (".crt", ".key"))
        headers = ["Authorization: Bearer " + token] if token else []
        return curl(self.n.url(path), cacert=os.path.join(self.pki, "ca.crt"), cert=cert,
                    key=key, headers=headers)

    def audit_entries(self, query=""):
        status, _, body = self.get("/api/v1/audit" + query, who="admin")
        self.assertEqual(status, 200, body)
        return json.loads(body)["entries"]

    def test_role_matrix(self):
        expect = {  # path -> roles answered 200; the others 403
            "/api/v1/health": set(ROLES),
            "/metrics": {"admin"},
            "/api/v1/audit": {"admin"},
        }
        for path, allowed in expect.items():
            for role in ROLES:
                status, _, body = self.get(path, who=role)
                self.assertEqual(status, 200 if role in allowed else 403,
                                 "%s as %s: %s" % (path, role, body))
            for role, tok in self.tokens.items():
                status, _, body = self.get(path, token=tok)
                self.assertEqual(status, 200 if role in allowed else 403,
                                 "%s with %s token: %s" % (path, role, body))
        entries = self.audit_entries()
        refused = [e for e in entries if e["outcome"] == "refused"]
        # every 403 above left an entry naming who was refused, with role and institution
        self.assertEqual(len(refused), 3 + 2 + 1 + 1 + 1, refused)
        insurer = [e for e in refused if e["role"] == "insurer"]
        self.assertEqual({e["object"] for e in insurer}, {"GET /metrics", "GET /api/v1/audit"})
        self.assertEqual(insurer[0]["institution"], "INS01")
        self.assertEqual(insurer[0]["actor"], "C=CN,O=Insurer Z,CN=claims")  # as GnuTLS prints it
        self.assertTrue(any(e["actor"] == "ws-clinician" and e["action"] == "audit.read"
                            for e in refused))

    def test_probes_answer_anyone_and_tell_nothing(self):
        """/healthz and /readyz answer without credentials (a load balancer, a monitoring
        probe), with no patient data; /api/v1/health still needs them. Per-route counters and
        latencies reach /metrics."""
        for path in ("/healthz", "/readyz"):
            status, _, body = self.get(path)
            self.assertEqual(status, 200, body)
            self.assertNotIn("patient", body.lower())
        self.assertEqual(json.loads(self.get("/healthz")[2]), {"status": "ok"})
        ready = json.loads(self.get("/readyz")[2])
        self.assertEqual(ready["status"], "ready")
        self.assertEqual(ready["checks"]["archive"], "ok")
        self.assertEqual(ready["checks"]["disk"], "ok")
        self.assertEqual(self.get("/api/v1/health")[0], 401)
        self.assertEqual(self.get("/metrics")[0], 401)
        # a probe is not a way in: another path stays closed, and POST to a probe is refused
        self.assertEqual(self.get("/readyz/../api/v1/audit")[0], 401)
        status, _, body = self.get("/metrics", who="admin")
        self.assertEqual(status, 200, body)
        self.assertRegex(body, r'huren_http_route_responses_total\{method="GET",route="/healthz",'
                               r'class="2xx"\} [1-9]')
        self.assertRegex(body, r'huren_http_route_duration_seconds_count\{method="GET",'
                               r'route="/readyz"\} [1-9]')
        body = self.get("/metrics", who="admin")[2]  # the first /metrics answer is counted now
        self.assertRegex(body, r'huren_http_route_responses_total\{method="GET",route="/metrics",'
                               r'class="2xx"\} [1-9]')
        self.assertRegex(body, r'huren_http_responses_total\{family="health",class="4xx"\} [1-9]')
        self.assertIn("huren_audit_appends_total", body)
        self.assertIn('huren_recognition_decisions_total{decision="accepted"} 0', body)

    def test_readyz_says_why_not(self):
        """Below the free-disk threshold the node is not ready: 503 naming the check."""
        n = self.node(name="full", config_text=self.conf + "[node]\nready_min_free_mb = 100000000\n",
                      https=True).start()
        status, _, body = curl(n.url("/readyz"), cacert=os.path.join(self.pki, "ca.crt"))
        self.assertEqual(status, 503, body)
        ready = json.loads(body)
        self.assertEqual(ready["status"], "not ready")
        self.assertIn("below ready_min_free_mb", ready["checks"]["disk"])
        self.assertEqual(ready["checks"]["archive"], "ok")

    def test_bad_credentials_refused_and_audited(self):
        cases = [
            (dict(), 401, "required"),
            (dict(who="expired"), 403, "expired"),
            (dict(who="otherca-client"), 403, "unknown CA"),
            (dict(who="wrongpurpose"), 403, "client authentication"),
            (dict(who="unmapped"), 403, "not authorised"),
            (dict(token="0" * 64), 401, "unknown bearer token"),
        ]
        for kw, want, why in cases:
            for path in ("/api/v1/health", "/api/v1/audit"):
                status, headers, body = self.get(path, **kw)
                self.assertEqual(status, want, "%s %s: %s" % (kw, path, body))
                self.assertIn(why, json.loads(body)["error"])
                if want == 401:
                    self.assertIn("www-authenticate: bearer", headers.lower())
        status, headers, _ = self.get("/metrics", token="0" * 64)
        self.assertIn('error="invalid_token"', headers)
        entries = [e for e in self.audit_entries() if e["action"] == "http.authenticate"]
        self.assertEqual(len(entries), len(cases) * 2 + 1)
        self.assertTrue(all(e["outcome"] == "refused" and e["remote"] == "127.0.0.1"
                            for e in entries))
        expired = [e for e in entries if "expired" in e["object"]]
        self.assertEqual(len(expired), 2)
        self.assertEqual(expired[0]["actor"], "C=CN,O=Hospital A,CN=clinician")

    def test_require_certificate(self):
        self.n.stop()
        self.n = self.node(name="strict", https=True,
                           config_text=self.conf.replace("= optional", "= require")).start()
        self.assertEqual(self.get("/metrics", who="admin")[0], 200)
        status, _, body = self.get("/metrics", token=self.tokens["admin"])
        self.assertEqual(status, 401, body)
        self.assertIn("certificate is required", body)
        # with a certificate, a token still decides the role
        self.assertEqual(self.get("/metrics", who="peer", token=self.tokens["admin"])[0], 200)
        self.assertEqual(self.get("/metrics", who="admin", token=self.tokens["clinician"])[0], 403)
        self.assertEqual(self.get("/api/v1/health", who="expired", token=self.tokens["admin"])[0],
                         403)

    def test_dimse_audit_verify_tamper_export(self):
        study = uid(900, 1)
        path = write_instance(os.path.join(self.tmp, "a.dcm"), study_uid=study,
                              series_uid=study + ".1", sop_uid=study + ".1.1", patient_id="PSEC1")
        p = run(["storescu", "-aet", "STORESCU", "-aec", self.n.aet, "127.0.0.1",
                 str(self.n.dicom_port), path])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(len(find(self.n, "STUDY", ["PatientID=PSEC1", "StudyInstanceUID"])), 1)
        self.assertEqual(self.get("/metrics", who="peer")[0], 403)
        entries = self.audit_entries("?patient=PSEC1")
        actions = {e["action"]: e for e in entries}
        self.assertEqual(set(actions), {"dimse.c-store", "dimse.c-find"}, entries)
        store, query = actions["dimse.c-store"], actions["dimse.c-find"]
        self.assertEqual((store["actor"], store["role"], store["object"], store["outcome"]),
                         ("STORESCU", "dicom", study, "success"))
        self.assertEqual((query["actor"], query["role"], query["institution"]),
                         ("FINDSCU", "clinician", "H37010001"))
        since = self.audit_entries("?since=2000-01-01T00:00:00&limit=1")
        self.assertEqual(len(since), 1)
        self.assertEqual(self.get("/api/v1/audit?since=yesterday", who="admin")[0], 400)
        self.assertEqual(self.get("/api/v1/audit?limit=0", who="admin")[0], 400)
        self.n.stop()

        data = ["--data", self.n.data]
        p = run([HUREN, "audit", "verify"] + data)
        self.assertEqual(p.returncode, 0, p.stdout)
        log = os.path.join(self.n.data, "audit.log")
        with open(log, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
        self.assertIn("audit log OK", p.stdout)
        self.assertIn("%d entries" % len(lines), p.stdout)

        p = subprocess.run([HUREN, "audit", "export", "--since", "2000-01-01"] + data,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        x = subprocess.run(["xmllint", "--noout", "-"], input=p.stdout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(x.returncode, 0, x.stdout)
        root = ET.fromstring(p.stdout)
        msgs = root.findall("AuditMessage")
        self.assertEqual(len(msgs), len(lines))
        ids = {m.find("EventIdentification/EventID").get("csd-code") for m in msgs}
        self.assertTrue({"110104", "110112", "110101"} <= ids, ids)
        patients = [o.get("ParticipantObjectID") for o in root.iter("ParticipantObjectIdentification")
                    if o.get("ParticipantObjectTypeCodeRole") == "1"]
        self.assertIn("PSEC1", patients)

        # edit one entry: verify names it and fails
        k = 3
        self.assertIn('"outcome":"', lines[k - 1])
        lines[k - 1] = lines[k - 1].replace('"remote":"127.0.0.1"', '"remote":"10.9.9.9"')
        with open(log, "w", encoding="utf-8") as f:
            f.writelines(lines)
        p = run([HUREN, "audit", "verify"] + data)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("line %d (entry %d)" % (k, k), p.stdout)
        self.assertIn("edited", p.stdout)
        # a removed entry is found too
        del lines[k - 1]
        with open(log, "w", encoding="utf-8") as f:
            f.writelines(lines)
        p = run([HUREN, "audit", "verify"] + data)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("line %d (entry %d)" % (k, k), p.stdout)
        # and a node refuses to continue a chain whose last entry is damaged
        with open(log, "a", encoding="utf-8") as f:
            f.write('{"seq":99,"prev":"x"}\n')
        p = run(self.n.args(), timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("damaged", p.stdout)


class PlainLoopbackTokenTest(NodeTestCase):
    """Plain HTTP on loopback with full access turned off: tokens decide."""

    def test_tokens_over_loopback(self):
        tok = secrets.token_hex(32)
        conf = ("[access]\nloopback_full_access = no\n"
                '[client "ops"]\ntoken_sha256 = %s\ninstitution = H1\nrole = admin\n'
                % hashlib.sha256(tok.encode()).hexdigest())
        n = self.node(config_text=conf, ready_from_log=True).start()
        self.assertEqual(curl(n.url("/metrics"))[0], 401)
        status, _, body = curl(n.url("/metrics"), headers=["Authorization: Bearer " + tok])
        self.assertEqual(status, 200, body)
        self.assertEqual(curl(n.url("/metrics"), headers=["Authorization: Basic eDp5"])[0], 401)

    def test_check_config_refuses_bad_clients(self):
        cases = [
            ('[client "x"]\nrole = nurse\n', '[client "x"] role'),
            ('[client "x"]\ntoken_sha256 = abc\n', "64 hex digits"),
            ('[client "x"]\nrole = admin\ntoken_sha256 = %s\n' % ("a" * 64), "needs institution"),
            ('[client "x"]\nrole = admin\ninstitution = H\nsubject = CN=x\n', "tls_client_ca"),
            ('[client x]\nrole = admin\n', 'client "NAME"'),
            ('[client "x"]\ncolour = red\n', "unknown key"),
        ]
        for i, (text, needle) in enumerate(cases):
            path = os.path.join(self.tmp, "c%d.conf" % i)
            with open(path, "w") as f:
                f.write(text)
            p = run([HUREN, "check-config", "-c", path])
            self.assertEqual(p.returncode, 2, text)
            self.assertIn(needle, p.stdout)
        # the example as shipped, pointed at a test PKI (check-config reads every file named)
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        with open(os.path.join(REPO, "conf", "huren-tls.conf")) as f:
            example = f.read().replace("/etc/huren/pki", self.pki)
        path = os.path.join(self.tmp, "example.conf")
        with open(path, "w") as f:
            f.write(example)
        p = run([HUREN, "check-config", "-c", path])
        self.assertEqual(p.returncode, 0, p.stdout)
        p = run([HUREN, "check-config", "-c", os.path.join(REPO, "conf", "huren-tls.conf")])
        self.assertEqual(p.returncode, 2, p.stdout)  # /etc/huren/pki does not exist here
        self.assertIn("[http] tls_cert: /etc/huren/pki/server.crt: No such file", p.stdout)


if __name__ == "__main__":
    unittest.main()
