"""test_underwriting.py: underwriting (核保) across a test region, black-box. The regional
directory and hospitals A, B and C run on loopback with certificates of their own from
`conf/make-test-pki.sh DIR A B C` (mutual TLS between all of them), each signing with its
claims-signer key. A and B receive the applicant's ADT, DFT (DG1 diagnoses) and a lab result
over MLLP, so that the directory lists them; C, which holds nothing of the applicant, records
the underwriting consent (curl, clinician). The insurer asks C (curl, its certificate) and gets
one signed Bundle whose parts are A's, B's and C's own, each signed by its hospital: the outer
signature and every part verify with the openssl command line alone
(conf/verify-claim-openssl.sh) and with `huren verify-claim`; the parts hold exactly the
diagnoses of the period (code and year, no text), valid against the official FHIR R4 schema.
Without a consent, or with one that does not fit, the answer is one identical 403, the reason
in C's audit trail; A's and B's audit trails record the disclosure."""

import base64
import json
import os
import secrets
import shutil
import tempfile
import time

from fhirschema import assert_valid
from harness import HUREN, NodeTestCase, run, wait_for
import test_directory as td
from test_directory import CATALOGUE, curl_json
from test_hl7 import NID, NID2, Client, msh, oru

A, B, C = "H37020001", "H37010002", "H37030003"
INSURER = "INS-Z"
OPENSSL_VERIFY = os.path.join(td.REPO, "conf", "verify-claim-openssl.sh")
REFUSED = {"error": "no underwriting data can be given for this request", "status": 403}
THIS_YEAR = time.gmtime().tm_year


def day(t):
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def adt(control_id, pid, visit, admitted):
    return "\r".join([
        msh("ADT^A01", control_id, app="HIS"), "EVN|A01|%s" % admitted,
        "PID|1||%s^^^H1^PI~%s^^^CHN^ID||王^小明||19491231|M" % (pid, NID),
        "PV1|1|I|心内科||||||||||||||||%s%s%s080000" % (visit, "|" * 25, admitted)]) + "\r"


def dft(control_id, pid, visit, diagnoses):
    """A DFT^P03 with one charge and DG1 segments [(code, text, YYYYMMDD)]."""
    dg1 = ["DG1|%d|ICD-10|%s^%s^ICD-10||%s|F" % (i + 1, code, text, when)
           for i, (code, text, when) in enumerate(diagnoses)]
    return "\r".join([msh("DFT^P03", control_id, app="HIS"), "EVN|P03|20240105",
                      "PID|1||%s^^^H1^PI~%s^^^CHN^ID||王^小明" % (pid, NID),
                      "PV1|1|I|心内科||||||||||||||||%s" % visit,
                      "FT1|1|%s-T1||20240105||CG|110200001^CT|||1|120.50|120.50|" % visit]
                     + dg1) + "\r"


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class UnderwritingTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(td.REPO, "conf", "make-test-pki.sh"), self.pki, A, B, C],
            check=True)
        self.subjects = {}
        for inst in (A, B, C):
            with open(os.path.join(self.pki, inst, "subjects.txt")) as f:
                self.subjects[inst] = dict(line.split("\t") for line in f.read().splitlines())
        self.key_file = os.path.join(self.tmp, "region.key")
        with open(self.key_file, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        p = self.pki
        conf = ["[http]", "tls_cert = %s/server.crt" % p, "tls_key = %s/server.key" % p,
                "tls_client_ca = %s/ca.crt" % p, "tls_client_verify = require"]
        for inst in (A, B, C):
            conf += ['[client "gw-%s"]' % inst, "subject = " + self.subjects[inst]["peer"],
                     "institution = " + inst, "role = peer"]
        self.dir = self.node(name="directory", https=True, config_text="\n".join(conf) + "\n",
                             extra_args=["--role", "directory"]).start()
        self.a = self.hospital(A, "GW_A")
        self.b = self.hospital(B, "GW_B")
        self.c = self.hospital(C, "GW_C")

    def hospital(self, inst, aet):
        p = os.path.join(self.pki, inst)
        n = self.node(name="hospital-" + inst, aet=aet, https=True, config_text="")
        conf = ["[node]", "patient_id_issuer = HOSP-" + inst,
                "[http]", "tls_cert = %s/server.crt" % p, "tls_key = %s/server.key" % p,
                "tls_client_ca = %s/ca.crt" % p, "tls_client_verify = require",
                "[claims]", "key = %s/claims-signer.key" % p, "cert = %s/claims-signer.crt" % p,
                "chain = %s/ca.crt" % p, "institution = " + inst,
                "[directory]", "publish = yes",
                "url = https://127.0.0.1:%d" % self.dir.http_port,
                "region_key = " + self.key_file, "institution = " + inst,
                "source_url = https://127.0.0.1:%d" % n.http_port, "hr_scope = province",
                "qualified_from = 20230101", "qualified_to = 20271231",
                "catalogue = " + CATALOGUE, "tls_cert = %s/peer.crt" % p,
                "tls_key = %s/peer.key" % p, "tls_ca = %s/ca.crt" % p,
                "retry_min_ms = 100", "retry_max_ms = 1000", "poll_ms = 50", "timeout = 5"]
        for role in ("clinician", "admin"):
            conf += ['[client "%s"]' % role, "subject = " + self.subjects[inst][role],
                     "institution = " + inst, "role = " + role]
        conf += ['[client "insurer"]', "subject = " + self.subjects[inst]["insurer"],
                 "institution = " + INSURER, "role = insurer"]
        # a second insurer: the insurer certificate of another hospital's folder
        other = A if inst != A else B
        conf += ['[client "insurer-y"]', "subject = " + self.subjects[other]["insurer"],
                 "institution = INS-Y", "role = insurer"]
        for o in (A, B, C):
            if o != inst:
                conf += ['[client "gw-%s"]' % o, "subject = " + self.subjects[o]["peer"],
                         "institution = " + o, "role = peer"]
        with open(n.config_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        return n.start()

    def call(self, node, inst, path, body=None, who="clinician", method="POST"):
        return curl_json(node.url(path), os.path.join(self.pki, inst), who, method,
                         None if body is None else json.dumps(body))

    def raw_post(self, node, inst, who, body):
        """(status, body bytes) of a POST whose answer is not JSON (a compact JWS)."""
        d = tempfile.mkdtemp(prefix="curl-", dir=self.tmp)
        try:
            pki = os.path.join(self.pki, inst)
            with open(d + "/in", "w") as f:
                json.dump(body, f)
            p = run(["curl", "-s", "--noproxy", "*", "-o", d + "/b", "-w", "%{http_code}",
                     "--max-time", "60", "--cacert", pki + "/ca.crt", "--cert",
                     "%s/%s.crt" % (pki, who), "--key", "%s/%s.key" % (pki, who),
                     "-H", "Content-Type: application/json", "--data-binary", "@" + d + "/in",
                     node.url("/api/v1/underwriting")], timeout=70)
            with open(d + "/b", "rb") as f:
                return int(p.stdout.strip()[-3:]), f.read()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def send(self, node, msg):
        c = Client(node.hl7_port)
        try:
            code, segs = c.code(msg)
            self.assertEqual(code, "AA", segs)
        finally:
            c.close()

    def audit(self, node):
        with open(os.path.join(node.data, "audit.log"), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def records(self):
        """What A and B sent: ADT, DFT with diagnoses, a lab result (the directory entry)."""
        self.send(self.a, adt("a1", "A-1", "VA1", "20240105"))
        self.send(self.a, dft("a2", "A-1", "VA1", [("I21.9", "急性心肌梗死", "20240105"),
                                                   ("E11.9", "2型糖尿病", "20240105")]))
        self.send(self.a, oru("a3", pid="A-1", nid=NID, order="AORD1", visit="VA1"))
        # B: a pneumonia last year, and one from long ago that no consent here covers
        self.send(self.b, adt("b1", "B-1", "VB1", "%d0301" % (THIS_YEAR - 1)))
        self.send(self.b, dft("b2", "B-1", "VB1", [("J18.9", "肺炎", "%d0302" % (THIS_YEAR - 1))]))
        self.send(self.b, adt("b3", "B-1", "VB0", "20100301"))
        self.send(self.b, dft("b4", "B-1", "VB0", [("K35.8", "阑尾炎", "20100302")]))
        self.send(self.b, oru("b5", pid="B-1", nid=NID, order="BORD1", visit="VB1"))

        def listed():
            q = "/api/v1/directory/records?pseudonym="
            st, body = self.call(self.dir, A, q + self.pseudonym(), who="peer", method="GET")
            return st == 200 and {e["institution"] for e in body["records"]} == {A, B}
        wait_for(listed, timeout=30, what="A and B listed at the directory")

    def pseudonym(self):
        with open(self.key_file) as f:
            return td.pseudonym(f.read().strip(), NID)

    def consent(self, **kw):
        now = time.time()
        body = dict(patient=NID, purpose="underwriting", grantee=INSURER,
                    record_period={"start": day(now - 5 * 365 * 86400), "end": day(now)},
                    expires=day(now + 30 * 86400), form_ref="UW-FORM-1")
        body.update(kw)
        st, c = self.call(self.c, C, "/api/v1/consents", body)
        self.assertEqual(st, 201, c)
        return c

    def fhir_consent(self, body):
        """The consent recorded at C, answered as FHIR R4 (Accept: application/fhir+json)."""
        pki = os.path.join(self.pki, C)
        p = run(["curl", "-s", "--noproxy", "*", "--max-time", "30", "--cacert",
                 pki + "/ca.crt", "--cert", pki + "/clinician.crt", "--key",
                 pki + "/clinician.key", "-H", "Content-Type: application/json", "-H",
                 "Accept: application/fhir+json", "--data-binary", json.dumps(body),
                 self.c.url("/api/v1/consents")], check=True)
        return json.loads(p.stdout)

    def verify_both(self, path):
        """The openssl command line and huren verify-claim both accept the JWS at path."""
        q = run(["bash", OPENSSL_VERIFY, path, os.path.join(self.pki, "ca.crt")])
        self.assertEqual(q.returncode, 0, q.stdout)
        self.assertIn("Verified OK", q.stdout)
        p = run([HUREN, "verify-claim", path, "--ca", os.path.join(self.pki, "ca.crt")])
        self.assertEqual(p.returncode, 0, p.stdout)
        return p.stdout

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_summary_across_hospitals(self):
        self.records()
        c = self.consent()
        self.assertEqual(c["purpose"], "underwriting")
        self.assertEqual(c["scope"], ["diagnoses"])
        self.assertEqual(c["visits"], [])
        st, jws = self.raw_post(self.c, C, "insurer", {"national_id": NID, "consent": str(c["id"])})
        self.assertEqual(st, 200, jws)
        out = self.verify_both(self.write("outer.jws", jws))
        self.assertIn("OU=" + C, out)
        self.assertIn("underwriting bundle OK", out)
        self.assertIn("3 parts verified", out)
        for inst in (A, B, C):
            self.assertRegex(out, r"part \d \(%s\) signature OK: signed by [^\n]*OU=%s" % (inst, inst))
        bundle = b64url_json(jws.decode().split(".")[1])
        self.assertEqual(bundle["resourceType"], "Bundle")
        self.assertEqual(bundle["type"], "collection")
        parts, docs = {}, {"outer": bundle}
        for i, e in enumerate(bundle["entry"]):
            res = e["resource"]
            self.assertEqual(res["resourceType"], "Binary", res)
            self.assertEqual(res["contentType"], "application/jose")
            inst = res["meta"]["tag"][0]["code"]
            part = base64.b64decode(res["data"])
            out = self.verify_both(self.write("part-%d.jws" % i, part))
            self.assertIn("OU=" + inst, out)  # signed by that hospital
            parts[inst] = b64url_json(part.decode().split(".")[1])
            docs["part-" + inst] = parts[inst]
        self.assertEqual(set(parts), {A, B, C})
        assert_valid(self, docs)
        self.tampered_part_fails(jws, bundle)

        def conditions(p):
            return sorted((r["resource"]["code"]["coding"][0]["code"],
                           r["resource"]["recordedDate"]) for r in p["entry"]
                          if r["resource"]["resourceType"] == "Condition")
        self.assertEqual(conditions(parts[A]), [("E11.9", "2024"), ("I21.9", "2024")])
        self.assertEqual(conditions(parts[B]), [("J18.9", str(THIS_YEAR - 1))])  # not 2010's
        self.assertEqual(conditions(parts[C]), [])
        for inst, p in parts.items():
            text = json.dumps(p, ensure_ascii=False)
            for secret in ("心肌梗死", "肺炎", "王", NID, "A-1", "B-1", "VA1", "VB1"):
                self.assertNotIn(secret, text)
            tags = {t["system"].rsplit(":", 1)[1]: t["code"] for t in p["meta"]["tag"]}
            self.assertEqual(tags["insurer"], INSURER)
            self.assertEqual(tags["consent"], "%s@%s" % (c["id"], C))
        # the peers audited what they disclosed, to whom, under which consent
        for node in (self.a, self.b):
            told = [e for e in self.audit(node) if e["action"] == "underwriting.disclose"]
            self.assertTrue(any("insurer %s, consent %s@%s" % (INSURER, c["id"], C)
                                in e["object"] for e in told), told)
        made = [e for e in self.audit(self.c) if e["action"] == "underwriting.create"]
        self.assertTrue(any("3 parts, 0 missing" in e["object"] for e in made), made)
        # no lab values without the scope saying so; with it, the numeric results of the period
        for p in parts.values():
            self.assertFalse([r for r in p["entry"]
                              if r["resource"]["resourceType"] == "Observation"])
        now = time.time()
        fhir = self.fhir_consent(dict(patient=NID, purpose="underwriting", grantee=INSURER,
                                      scope=["diagnoses", "labs"], form_ref="UW-FORM-F",
                                      record_period={"start": day(now - 86400 * 30),
                                                     "end": day(now)},
                                      expires=day(now + 86400)))
        assert_valid(self, {"fhir-consent": fhir})
        self.assertEqual(fhir["provision"]["purpose"][0]["code"], "COVERAGE")
        self.assertEqual([k["code"] for k in fhir["provision"]["class"]],
                         ["Condition", "Observation"])
        self.assertTrue(fhir["provision"]["dataPeriod"]["start"].startswith(day(now - 86400 * 30)))
        labs = self.consent(scope=["diagnoses", "labs"])
        self.assertEqual(labs["scope"], ["diagnoses", "labs"])
        st, jws = self.raw_post(self.c, C, "insurer",
                                {"national_id": NID, "consent": str(labs["id"])})
        self.assertEqual(st, 200, jws)
        self.verify_both(self.write("labs.jws", jws))
        at_a = [b64url_json(base64.b64decode(e["resource"]["data"]).decode().split(".")[1])
                for e in b64url_json(jws.decode().split(".")[1])["entry"]
                if e["resource"]["meta"]["tag"][0]["code"] == A][0]
        obs = sorted((r["resource"]["code"]["coding"][0]["code"],
                      r["resource"]["valueQuantity"]["value"], r["resource"]["effectiveDateTime"])
                     for r in at_a["entry"] if r["resource"]["resourceType"] == "Observation")
        self.assertEqual(obs, [("HGB", 180, "2024"), ("WBC", 6.5, "2024")])
        assert_valid(self, {"labs-part": at_a})

    def sign_as_c(self, header_b64, payload):
        """A compact ES256 JWS over payload with C's claims-signer key (openssl), reusing the
        header (and so the x5c) C's node wrote."""
        p64 = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        data = self.write("to-sign", ("%s.%s" % (header_b64, p64)).encode())
        sig = self.write("sig.der", b"")
        run(["openssl", "dgst", "-sha256", "-sign",
             os.path.join(self.pki, C, "claims-signer.key"), "-out", sig, data], check=True)
        with open(sig, "rb") as f:
            der = f.read()
        # SEQUENCE { INTEGER r, INTEGER s } -> r||s, 32 bytes each
        i, ints = 2 if der[1] < 0x80 else 3, []
        for _ in range(2):
            n = der[i + 1]
            ints.append(int.from_bytes(der[i + 2:i + 2 + n], "big").to_bytes(32, "big"))
            i += 2 + n
        s64 = base64.urlsafe_b64encode(ints[0] + ints[1]).rstrip(b"=").decode()
        return ("%s.%s.%s" % (header_b64, p64, s64)).encode()

    def tampered_part_fails(self, jws, bundle):
        """An outer bundle signed right around a part changed after its hospital signed it:
        the outer signature holds, the part does not, and verify-claim says which."""
        fake = json.loads(json.dumps(bundle))
        res = fake["entry"][1]["resource"]
        h, p, sig = base64.b64decode(res["data"]).decode().split(".")
        part = b64url_json(p)
        part["entry"].append(dict(part["entry"][-1]))  # one more Condition than was signed
        p = base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
        res["data"] = base64.b64encode(("%s.%s.%s" % (h, p, sig)).encode()).decode()
        path = self.write("tampered.jws", self.sign_as_c(jws.decode().split(".")[0],
                                                          json.dumps(fake).encode()))
        q = run(["bash", OPENSSL_VERIFY, path, os.path.join(self.pki, "ca.crt")])
        self.assertEqual(q.returncode, 0, q.stdout)  # the outer signature is fine
        r = run([HUREN, "verify-claim", path, "--ca", os.path.join(self.pki, "ca.crt")])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("part 2 (%s) signature BAD" % res["meta"]["tag"][0]["code"], r.stdout)
        self.assertIn("underwriting bundle BAD", r.stdout)

    def test_refusals_identical(self):
        self.records()
        c = self.consent()
        other = self.consent(grantee="INS-Y")
        now = time.time()
        asks = [
            ("insurer", {"national_id": NID, "consent": "999"}, "no such consent"),
            ("insurer", {"national_id": NID2, "consent": str(c["id"])},
             "consent of another patient"),
            ("insurer", {"national_id": NID, "consent": str(other["id"])},
             "consent for another grantee only"),
            ("insurer-y", {"national_id": NID, "consent": str(c["id"])},
             "consent for another grantee only"),
            ("insurer", {"national_id": NID, "consent": str(c["id"]),
                         "record_period": {"start": day(now - 6 * 365 * 86400),
                                           "end": day(now)}}, "period outside the consent's"),
        ]
        for who, body, why in asks:
            # insurer-y is the insurer certificate of A's folder (mapped to INS-Y at C)
            st, data = self.raw_post(self.c, A if who == "insurer-y" else C,
                                     "insurer", body)
            self.assertEqual((st, json.loads(data)), (403, REFUSED), (who, body))
        st, _ = self.call(self.c, C, "/api/v1/consents/%s/revoke" % c["id"], {})
        self.assertEqual(st, 200)
        st, data = self.raw_post(self.c, C, "insurer", {"national_id": NID, "consent": str(c["id"])})
        self.assertEqual((st, json.loads(data)), (403, REFUSED))
        objects = [e["object"] for e in self.audit(self.c) if e["action"] == "underwriting.create"]
        for why in [a[2] for a in asks] + ["consent revoked"]:
            self.assertTrue(any("underwriting refused: " + why in o for o in objects),
                            (why, objects))
        # an underwriting consent: a period of at most five years, no visits, a known scope
        now = time.time()
        for bad in ({"record_period": {"start": day(now - 6 * 365 * 86400), "end": day(now)}},
                    {"record_period": {"start": day(now - 86400), "end": day(now + 9 * 86400)}},
                    {"record_period": None}, {"visits": ["VA1"]}, {"scope": ["labs"]},
                    {"scope": ["images"]}, {"grantee": "*"}):
            body = dict(patient=NID, purpose="underwriting", grantee=INSURER,
                        record_period={"start": day(now - 86400 * 30), "end": day(now)},
                        expires=day(now + 86400), form_ref="UW-FORM-2")
            body.update(bad)
            st, data = self.call(self.c, C, "/api/v1/consents", body)
            self.assertEqual(st, 400, (bad, data))
        # malformed requests say what is wrong (decidable from the request alone)
        st, data = self.raw_post(self.c, C, "insurer", {"national_id": "123", "consent": "1"})
        self.assertEqual(st, 400)
        # a peer answers nothing to a token that is not the recording hospital's, signed
        body = {"national_id": NID, "insurer": INSURER, "consent": "e30.e30.AAAA",
                "record_period": {"start": "2024-01-01", "end": "2024-12-31"}}
        st, data = self.call(self.b, C, "/api/v1/underwriting/summary", body, who="peer")
        self.assertEqual((st, data), (403, REFUSED))
        # and the summary endpoint is for peers only
        st, _ = self.call(self.b, B, "/api/v1/underwriting/summary", body, who="insurer")
        self.assertEqual(st, 403)
        told = [e for e in self.audit(self.b) if e["action"] == "underwriting.disclose"]
        self.assertTrue(any("refused: consent token" in e["object"] for e in told), told)

        # a hospital that does not answer is named in the bundle, not silently left out
        self.b.stop()
        again = self.consent()
        st, jws = self.raw_post(self.c, C, "insurer",
                                {"national_id": NID, "consent": str(again["id"])})
        self.assertEqual(st, 200, jws)
        out = self.verify_both(self.write("incomplete.jws", jws))
        self.assertIn("2 parts verified", out)
        entries = [e["resource"] for e in b64url_json(jws.decode().split(".")[1])["entry"]]
        self.assertEqual(sorted(r["meta"]["tag"][0]["code"] for r in entries
                                if r["resourceType"] == "Binary"), sorted([A, C]))
        missing = [r for r in entries if r["resourceType"] == "OperationOutcome"]
        self.assertEqual(len(missing), 1, entries)
        self.assertEqual(missing[0]["issue"][0]["code"], "incomplete")
        self.assertIn(B, missing[0]["issue"][0]["diagnostics"])


if __name__ == "__main__":
    import unittest
    unittest.main()
