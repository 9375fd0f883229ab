"""test_claims.py: insurer claims end to end, black-box. Certificates come from
conf/make-test-pki.sh; a hospital node serves HTTPS with client sections for a clinician, two
insurers and an admin, and signs claims with the PKI's claims-signer key. HL7 ADT, ORU and DFT
go in over MLLP; the clinician records consents with curl; the insurer (curl with its
certificate) gets a signed bundle whose totals and codes match what was sent. The signature is
checked by the openssl command line (conf/verify-claim-openssl.sh, a verifier we did not write)
and by `huren verify-claim`; a changed byte fails both. Then the refusal matrix, each refusal
read back from DATA/audit.log, replays, and the per-insurer rate limit."""

import base64
import json
import os
import shutil
import tempfile
import time
import unittest

from fhirschema import assert_valid, validate
from harness import HUREN, NodeTestCase, run
from test_hl7 import Client, msh, oru, resident_id

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPENSSL_VERIFY = os.path.join(REPO, "conf", "verify-claim-openssl.sh")
NID = resident_id("11010519491231002")
NID2 = resident_id("37010219800101123")
NID3 = resident_id("37010219900202456")
FEN_EXT = "https://huren.example/fhir/StructureDefinition/amount-fen"
REFUSED = {"error": "no claim data can be given for this request", "status": 403}

CHARGES = [("110200001", "CT平扫", "1", "120.50", "120.50"),
           ("250101015", "血常规", "3", "", "10.33"),
           ("120400001", "静脉注射", "0.1", "0.10", ""),
           ("310300001", "心电图", "1", "0.20", "0.20")]
CHARGES_FEN = 12050 + 3099 + 10 + 20


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def adt(control_id, pid, nid, visit, name="王^小明", klass="I"):
    return "\r".join([
        msh("ADT^A01", control_id, app="HIS"), "EVN|A01|20240105",
        "PID|1||%s^^^H1^PI~%s^^^CHN^ID||%s||19491231|M" % (pid, nid, name),
        "PV1|1|%s|心内科||||||||||||||||%s%s20240101080000|20240110100000"
        % (klass, visit, "|" * 25)]) + "\r"


def dft(control_id, pid, nid, visit, charges):
    ft1 = ["FT1|%d|%s-T%d||20240105||CG|%s^%s|||%s|%s|%s|" % (i + 1, visit, i + 1, code, name,
                                                             qty, amt, price)
           for i, (code, name, qty, amt, price) in enumerate(charges)]
    return "\r".join([msh("DFT^P03", control_id, app="HIS"), "EVN|P03|20240105",
                      "PID|1||%s^^^H1^PI~%s^^^CHN^ID||王^小明" % (pid, nid),
                      "PV1|1|I|心内科||||||||||||||||%s" % visit] + ft1 +
                     ["DG1|1|ICD-10|I21.9^急性心肌梗死^ICD-10||20240105|F",
                      "DG1|2|ICD-10|E11.9^2型糖尿病^ICD-10||20240105|F"]) + "\r"


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class ClaimsBase(NodeTestCase):
    """A TLS hospital node with a clinician, two insurers and an admin."""

    def start_node(self, rate="600", burst="100", name="node"):
        self.pki = os.path.join(self.tmp, "pki")
        if not os.path.isdir(self.pki):
            run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            subjects = dict(line.split("\t") for line in f.read().splitlines())
        conf = ["[http]", "tls_cert = %s/server.crt" % self.pki,
                "tls_key = %s/server.key" % self.pki, "tls_client_ca = %s/ca.crt" % self.pki,
                "tls_client_verify = optional",
                "[claims]", "key = %s/claims-signer.key" % self.pki,
                "cert = %s/claims-signer.crt" % self.pki, "chain = %s/ca.crt" % self.pki,
                "institution = H37010001", "rate_per_minute = " + rate, "burst = " + burst]
        insts = {"clinician": "H37010001", "insurer": "INS-Z", "insurer2": "INS-Y",
                 "admin": "H37010001"}
        for who, inst in insts.items():
            conf += ['[client "%s"]' % who, "subject = " + subjects[who],
                     "institution = " + inst,
                     "role = " + ("insurer" if who.startswith("insurer") else who)]
        self.n = self.node(name=name, config_text="\n".join(conf) + "\n", https=True).start()

    def call(self, method, path, who, body=None, raw=None, headers=()):
        """(status, headers, body bytes) of one request with curl and who's certificate."""
        d = tempfile.mkdtemp(prefix="curl-", dir=self.tmp)
        try:
            cmd = ["curl", "-s", "--noproxy", "*", "-o", d + "/b", "-D", d + "/h", "-w",
                   "%{http_code}", "--max-time", "30", "--cacert", self.pki + "/ca.crt",
                   "--cert", "%s/%s.crt" % (self.pki, who), "--key",
                   "%s/%s.key" % (self.pki, who), "-X", method]
            for h in headers:
                cmd += ["-H", h]
            if body is not None or raw is not None:
                with open(d + "/in", "wb") as f:
                    f.write(raw if raw is not None else json.dumps(body).encode())
                cmd += ["-H", "Content-Type: application/json", "--data-binary", "@" + d + "/in"]
            p = run(cmd + [self.n.url(path)], timeout=40)
            with open(d + "/h", encoding="utf-8", errors="replace") as f:
                headers = f.read()
            with open(d + "/b", "rb") as f:
                data = f.read()
            return int(p.stdout.strip()[-3:]), headers, data
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def consent(self, patient, visits, grantee="INS-Z", expires=None, **extra):
        body = dict(patient=patient, purpose="claim", grantee=grantee, visits=visits,
                    expires=expires or iso(time.time() + 86400), form_ref="FORM-2024-001",
                    **extra)
        status, _, data = self.call("POST", "/api/v1/consents", "clinician", body)
        self.assertEqual(status, 201, data)
        return json.loads(data)

    def claim(self, visit, request_id, who="insurer", nid=NID, **extra):
        body = dict(visit=visit, national_id=nid, request_id=request_id, **extra)
        if nid is None:
            del body["national_id"]
        return self.call("POST", "/api/v1/claims", who, body)

    def feed(self):
        c = Client(self.n.hl7_port)
        try:
            msgs = [
                adt("A-1", "P100", NID, "V100"),
                adt("A-2", "P100", NID, "V200", klass="O"),
                adt("A-3", "P100", NID, "V250", klass="O"),
                adt("A-4", "P200", NID2, "V300", name="李^四"),
                adt("A-5", "P300", NID3, "V400", name="张^三"),
                oru("O-1", pid="P100", nid=NID, visit="V100"),
                oru("O-2", pid="P100", nid=NID, visit="V100", order="RAD1",
                    item="CT-HEAD^头颅CT平扫^L", section="CT", accession="ACC1",
                    obx=["OBX|1|TX|IMP^印象^L||颅内未见明显异常。~脑室系统未见扩大。||||||F"]),
                oru("O-3", pid="P100", nid=NID, visit="V100", order="DS1",
                    item="18842-5^出院小结^LN", section="DS",
                    obx=["OBX|1|TX|18842-5^出院小结^LN||患者好转出院。~嘱一月后复查。||||||F"]),
                oru("O-5", pid="P100", nid=NID, visit="V100", order="UA1", item="UA^尿常规^L",
                    obx=["OBX|1|CE|PRO^尿蛋白^L||NEG^阴性^L||||||F",
                         "OBX|2|ST|COL^颜色^L||淡黄色||||||F",
                         "OBX|3|SN|SG^比重^L||>^1.030|||H|||F"]),
                oru("O-4", pid="P100", nid=NID, visit="V200", order="ORD9", item="GLU^血糖^L",
                    obx=["OBX|1|NM|GLU^血糖^L||5.6|mmol/L|3.9-6.1|N|||F"]),
                dft("D-1", "P100", NID, "V100", CHARGES),
                dft("D-2", "P100", NID, "V200", [("999999999", "门诊挂号", "1", "5.00", "5.00")]),
                dft("D-3", "P200", NID2, "V300", [("110200001", "CT平扫", "1", "99.00", "")]),
            ]
            for m in msgs:
                code, segs = c.code(m)
                self.assertEqual(code, "AA", segs)
        finally:
            c.close()

    def audit(self):
        with open(os.path.join(self.n.data, "audit.log"), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


class ClaimsTest(ClaimsBase):

    def setUp(self):
        super().setUp()
        self.start_node()
        self.feed()

    def verify_both(self, path, expect_ok):
        p = run([HUREN, "verify-claim", path, "--ca", self.pki + "/ca.crt"])
        self.assertEqual(p.returncode == 0, expect_ok, p.stdout)
        q = run(["bash", OPENSSL_VERIFY, path, self.pki + "/ca.crt"])
        self.assertEqual(q.returncode == 0, expect_ok, q.stdout)
        if expect_ok:
            self.assertIn("claim signature OK", p.stdout)
            self.assertIn("certificate chain verified", p.stdout)
            self.assertIn("Verified OK", q.stdout)

    def claim_ext(self, jws):
        bundle = b64url_json(jws.decode().split(".")[1])
        inv = [e["resource"] for e in bundle["entry"]
               if e["resource"]["resourceType"] == "Invoice"][0]
        ext = inv["extension"][0]["extension"]
        out = {}
        for e in ext:
            value = [v for k, v in e.items() if k.startswith("value")][0]
            out.setdefault(e["url"], []).append(value)
        return bundle["identifier"]["value"], out

    def test_one_claim_per_visit_in_versions(self):
        self.consent(NID, ["V100"])
        st, _, first = self.claim("V100", "v-1")
        self.assertEqual(st, 201, first)
        first_id, ext = self.claim_ext(first)
        self.assertEqual((ext["version"], ext.get("replaces")), ([1], None))
        # another request for the same visit, nothing changed: the existing claim, 200
        st, _, again = self.claim("V100", "v-3")
        self.assertEqual((st, again), (200, first))
        # the lab corrects a result of the visit: the next request makes version 2, which
        # names version 1 and says what changed; the signature verifies
        c = Client(self.n.hl7_port)
        try:
            code, segs = c.code(oru("O-5C", pid="P100", nid=NID, visit="V100", order="UA1",
                                    item="UA^尿常规^L", status="C",
                                    obx=["OBX|1|CE|PRO^尿蛋白^L||POS^阳性^L||||||C",
                                         "OBX|2|ST|COL^颜色^L||淡黄色||||||C",
                                         "OBX|3|SN|SG^比重^L||>^1.030|||H|||C"]))
            self.assertEqual(code, "AA", segs)
        finally:
            c.close()
        st, _, second = self.claim("V100", "v-4")
        self.assertEqual(st, 201, second)
        second_id, ext = self.claim_ext(second)
        self.assertNotEqual(second_id, first_id)
        self.assertEqual((ext["version"], ext["replaces"]), ([2], [first_id]))
        self.assertTrue(any(ch.startswith("changed Observation/") for ch in ext["change"]),
                        ext["change"])
        self.assertFalse(any(ch.startswith(("added", "removed")) for ch in ext["change"]),
                         ext["change"])
        path = os.path.join(self.tmp, "claim-v2.jws")
        with open(path, "wb") as f:
            f.write(second)
        self.verify_both(path, True)
        # the earlier requests' ids still give what they were given; a new one the newest
        st, _, replay1 = self.claim("V100", "v-1")
        self.assertEqual((st, replay1), (200, first))
        st, _, newest = self.claim("V100", "v-5")
        self.assertEqual((st, newest), (200, second))
        st, _, got = self.call("GET", "/api/v1/claims/" + first_id, "insurer")
        self.assertEqual((st, got), (200, first))
        created = [e for e in self.audit() if e["action"] == "claims.create" and
                   e["outcome"] == "success"]
        self.assertTrue(any("unchanged since version 1" in e["object"] for e in created),
                        [e["object"] for e in created])
        self.assertTrue(any("version 2 replaces " + first_id in e["object"] for e in created))

    def test_claim_carries_pixel_provenance(self):
        """The exam of V100 (accession ACC1): two images and an SR stored with storescu. The
        claim's ImagingStudy counts the three instances, two in the root, and the root is
        what openssl computes from pydicom's reading of the files' PixelData; a second image
        stored later makes a new claim version with a new root."""
        import hashlib
        import pydicom
        src = "/usr/lib/python3/dist-packages/pydicom/data/test_files/"
        study = "1.2.826.0.1.3680043.8.498.19000001"
        files, fps = [], []
        for i, name in enumerate(["CT_small.dcm", "MR_small.dcm", "test-SR.dcm",
                                  "SC_rgb_small_odd.dcm"]):
            ds = pydicom.dcmread(src + name)
            ds.PatientID, ds.AccessionNumber, ds.StudyInstanceUID = "P100", "ACC1", study
            ds.SeriesInstanceUID = "%s.%d" % (study, i + 1)
            ds.SOPInstanceUID = "%s.%d.1" % (study, i + 1)
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            path = os.path.join(self.tmp, "prov-%d.dcm" % i)
            ds.save_as(path, write_like_original=False)
            files.append(path)
            if i < 3 and "PixelData" in ds:
                fps.append(hashlib.sha256(ds.PixelData).hexdigest())
        run(["storescu", "-aet", "MODALITY", "-aec", self.n.aet, "127.0.0.1",
             str(self.n.dicom_port)] + files[:3], check=True)
        fp_file = os.path.join(self.tmp, "fingerprints.txt")
        with open(fp_file, "w") as f:
            f.write("".join(h + "\n" for h in fps))
        p = run(["bash", "-c", "LC_ALL=C sort %s | openssl dgst -sha256 -r" % fp_file])
        root = p.stdout.split()[0]
        self.consent(NID, ["V100"])
        st, _, jws = self.claim("V100", "prov-1")
        self.assertEqual(st, 201, jws)
        bundle = b64url_json(jws.decode().split(".")[1])
        assert_valid(self, {"provenance-bundle": json.dumps(bundle)})
        studies = [e["resource"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "ImagingStudy"]
        self.assertEqual(len(studies), 1, studies)
        s = studies[0]
        self.assertEqual(s["identifier"][0]["value"], "urn:oid:" + study)
        self.assertEqual(s["numberOfInstances"], 3)
        ext = {e["url"]: e for e in s["extension"][0]["extension"]}
        self.assertEqual(s["extension"][0]["url"],
                         "https://huren.example/fhir/StructureDefinition/pixel-provenance")
        self.assertEqual(ext["instances"]["valueUnsignedInt"], 2)
        self.assertEqual(ext["root"]["valueString"], root)
        path = os.path.join(self.tmp, "prov-claim.jws")
        with open(path, "wb") as f:
            f.write(jws)
        self.verify_both(path, True)
        # one more image of the exam: the data changed, a new version with a new root
        run(["storescu", "-aet", "MODALITY", "-aec", self.n.aet, "127.0.0.1",
             str(self.n.dicom_port), files[3]], check=True)
        st, _, jws2 = self.claim("V100", "prov-2")
        self.assertEqual(st, 201, jws2)
        b2 = b64url_json(jws2.decode().split(".")[1])
        s2 = [e["resource"] for e in b2["entry"]
              if e["resource"]["resourceType"] == "ImagingStudy"][0]
        ext2 = {e["url"]: e for e in s2["extension"][0]["extension"]}
        self.assertEqual((s2["numberOfInstances"], ext2["instances"]["valueUnsignedInt"]),
                         (4, 3))
        self.assertNotEqual(ext2["root"]["valueString"], root)

    def test_claim_signed_minimal_and_exact(self):
        c = self.consent(NID, ["V100"], policy_ref="POL-1")
        self.assertEqual((c["status"], c["patient"]["patient_id"], c["visits"]),
                         ("active", "P100", ["V100"]))
        st, _, data = self.call("GET", "/api/v1/patients/P100/consents", "clinician")
        self.assertEqual(st, 200, data)
        self.assertEqual(json.loads(data)["total"], 1)
        # the same as FHIR R4: a searchset Bundle of Consent
        st, headers, consents = self.call("GET", "/api/v1/patients/P100/consents", "clinician",
                                          headers=["Accept: application/fhir+json"])
        self.assertEqual(st, 200, consents)
        self.assertIn("content-type: application/fhir+json", headers.lower())
        fc = json.loads(consents)["entry"][0]["resource"]
        self.assertEqual((fc["resourceType"], fc["status"], fc["patient"]["identifier"]["value"]),
                         ("Consent", "active", NID))
        prov = fc["provision"]
        self.assertEqual((prov["actor"][0]["reference"]["identifier"]["value"],
                          prov["purpose"][0]["code"],
                          prov["data"][0]["reference"]["identifier"]["value"]),
                         ("INS-Z", "CLMATTCH", "V100"))

        status, headers, jws = self.claim("V100", "req-1")
        self.assertEqual(status, 201, jws)
        self.assertIn("content-type: application/jose", headers.lower())
        path = os.path.join(self.tmp, "claim.jws")
        with open(path, "wb") as f:
            f.write(jws)
        self.verify_both(path, True)

        header, payload, sig = jws.decode().split(".")
        self.assertEqual(b64url_json(header)["alg"], "ES256")
        self.assertEqual(len(b64url_json(header)["x5c"]), 2)
        self.assertEqual(len(base64.urlsafe_b64decode(sig + "==")), 64)
        self.raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        bundle = json.loads(self.raw)
        self.check_bundle(bundle)
        docs = {"claim": self.raw, "consents": consents.decode()}

        # a changed byte in the bundle: both verifiers refuse it
        bad = bytearray(jws)
        i = len(header) + 1 + len(payload) // 2
        bad[i] = ord("A") if bad[i] != ord("A") else ord("B")
        with open(path, "wb") as f:
            f.write(bytes(bad))
        self.verify_both(path, False)

        # the same bytes again, for that insurer only
        claim_id = bundle["identifier"]["value"]
        st, _, again = self.call("GET", "/api/v1/claims/" + claim_id, "insurer")
        self.assertEqual((st, again), (200, jws))
        self.assertEqual(self.call("GET", "/api/v1/claims/" + claim_id, "insurer2")[0], 404)
        # a replayed request gets the same claim; a reused request_id for another visit 409
        st, _, again = self.claim("V100", "req-1")
        self.assertEqual((st, again), (200, jws))
        self.assertEqual(self.claim("V250", "req-1")[0], 409)
        # by policy reference instead of the national id, a new request_id: the same visit,
        # the same data, so the same claim (one claim per visit and insurer)
        st, _, other = self.claim("V100", "req-2", nid=None, policy_ref="POL-1")
        self.assertEqual((st, other), (200, jws))
        # after revocation, not even the stored claim is given again
        st, _, revoked = self.call("POST", "/api/v1/consents/%d/revoke" % c["id"], "clinician",
                                   headers=["Accept: application/fhir+json"])
        self.assertEqual(st, 200)
        revoked = revoked.decode()
        self.assertEqual(json.loads(revoked)["status"], "inactive")
        docs["revoked-consent"] = revoked
        assert_valid(self, docs)
        self.assertEqual(self.call("GET", "/api/v1/claims/" + claim_id, "insurer")[0], 403)

    def check_bundle(self, b):
        self.assertEqual((b["resourceType"], b["type"]), ("Bundle", "collection"))
        # dateTimes carry the hospital's offset ([node] utc_offset, +08:00 by default)
        self.assertRegex(b["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
        urls = [e["fullUrl"] for e in b["entry"]]
        self.assertTrue(all(u.startswith("urn:uuid:") for u in urls), urls)
        self.assertEqual(len(set(urls)), len(urls))
        res = [e["resource"] for e in b["entry"]]
        kinds = {}
        for r in res:
            kinds.setdefault(r["resourceType"], []).append(r)
        refs = []

        def collect(o):
            if isinstance(o, dict):
                if "reference" in o:
                    refs.append(o["reference"])
                for v in o.values():
                    collect(v)
            elif isinstance(o, list):
                for v in o:
                    collect(v)
        collect(res)
        self.assertGreater(len(refs), 20)
        self.assertEqual([r for r in refs if r not in urls], [])  # all resolve in the bundle
        org = kinds["Organization"][0]
        self.assertEqual(org["identifier"], [{"system": "urn:huren:id:institution",
                                              "value": "H37010001"}])
        org_url = urls[res.index(org)]
        patient = kinds["Patient"][0]
        self.assertEqual(patient["identifier"][0]["value"], NID)
        self.assertEqual(patient["name"][0]["text"], "王小明")
        self.assertEqual((patient["gender"], patient["birthDate"]), ("male", "1949-12-31"))
        self.assertEqual(set(patient), {"resourceType", "id", "identifier", "name", "gender",
                                        "birthDate"})
        text = json.dumps(b, ensure_ascii=False)
        for foreign in ("P100", "V200", "999999999", "血糖", "GLU"):  # local id, other visit
            self.assertNotIn(foreign, text)
        enc = kinds["Encounter"][0]
        self.assertEqual(enc["identifier"][0]["value"], "V100")
        self.assertEqual(enc["period"], {"start": "2024-01-01T08:00:00+08:00",
                                         "end": "2024-01-10T10:00:00+08:00"})
        self.assertEqual(enc["class"]["code"], "IMP")
        self.assertEqual([(c["code"]["coding"][0]["system"], c["code"]["coding"][0]["code"])
                          for c in kinds["Condition"]],
                         [("http://hl7.org/fhir/sid/icd-10", "I21.9"),
                          ("http://hl7.org/fhir/sid/icd-10", "E11.9")])
        self.assertEqual(kinds["Condition"][0]["recordedDate"], "2024-01-05")
        charges = kinds["ChargeItem"]
        self.assertEqual([c["code"]["coding"][0]["code"] for c in charges],
                         [c[0] for c in CHARGES])
        # Money is a JSON number, exact: compare the bundle's own text, not a parsed float
        for yuan, fen in (("120.50", 12050), ("30.99", 3099), ("0.10", 10), ("0.20", 20)):
            self.assertIn('"priceOverride":{"value":%s,"currency":"CNY","extension":[{"url":'
                          '"%s","valueDecimal":%d}]}' % (yuan, FEN_EXT, fen), self.raw)
        self.assertEqual([c["quantity"]["value"] for c in charges], [1, 3, 0.1, 1])
        fen = sum(c["priceOverride"]["extension"][0]["valueDecimal"] for c in charges)
        self.assertEqual(fen, CHARGES_FEN)
        inv = kinds["Invoice"][0]
        self.assertEqual(inv["issuer"]["reference"], org_url)
        self.assertIn('"totalGross":{"value":151.79,"currency":"CNY","extension":[{"url":"%s",'
                      '"valueDecimal":%d}]}' % (FEN_EXT, CHARGES_FEN), self.raw)
        self.assertEqual(len(inv["lineItem"]), 4)
        # unit prices the R4 way: Invoice.lineItem.priceComponent (ChargeItem has none in R4)
        unit = [[p["amount"]["extension"][0]["valueDecimal"] for p in li["priceComponent"]
                 if p["type"] == "informational"] for li in inv["lineItem"]]
        self.assertEqual(unit, [[12050], [1033], [], [20]])
        base = [[p["factor"] for p in li["priceComponent"] if p["type"] == "base"]
                for li in inv["lineItem"]]
        self.assertEqual(base, [[1], [3], [0.1], [1]])
        summary = {e["url"]: e for e in inv["extension"][0]["extension"]}
        self.assertEqual(inv["extension"][0]["url"],
                         "https://huren.example/fhir/StructureDefinition/claim")
        self.assertEqual((summary["request-id"]["valueString"], summary["visit"]["valueString"],
                          summary["charges"]["valueUnsignedInt"],
                          summary["total-fen"]["valueDecimal"]),
                         ("req-1", "V100", 4, CHARGES_FEN))
        self.assertEqual((summary["insurer"]["valueIdentifier"]["value"],
                          summary["hospital"]["valueIdentifier"]["value"]), ("INS-Z", "H37010001"))
        reports = {r["code"]["coding"][0]["code"]: r for r in kinds["DiagnosticReport"]}
        self.assertEqual(set(reports), {"CBC", "CT-HEAD", "UA"})
        self.assertEqual(reports["CT-HEAD"]["conclusion"], "颅内未见明显异常。\n脑室系统未见扩大。")
        self.assertEqual(reports["CT-HEAD"]["category"][0]["coding"][0]["code"], "CT")
        obs = {o["code"]["coding"][0]["code"]: o for o in kinds["Observation"]}
        self.assertEqual(obs["WBC"]["valueQuantity"], {"value": 6.5, "unit": "10*9/L"})
        self.assertIn('"valueQuantity":{"value":6.5,"unit":"10*9/L"}', self.raw)
        self.assertEqual(obs["HGB"]["valueQuantity"]["value"], 180)
        self.assertEqual(len(reports["CBC"]["result"]), 2)
        self.assertEqual(obs["PRO"]["valueCodeableConcept"],
                         {"coding": [{"code": "NEG", "display": "阴性"}], "text": "阴性"})
        self.assertEqual(obs["COL"]["valueString"], "淡黄色")
        self.assertEqual(obs["SG"]["valueQuantity"], {"value": 1.030, "comparator": ">"})
        self.assertIn('"valueQuantity":{"value":1.030,"comparator":">"}', self.raw)
        ds = kinds["Composition"][0]
        self.assertEqual(ds["section"][0]["text"]["div"],
                         '<div xmlns="http://www.w3.org/1999/xhtml">患者好转出院。<br/>'
                         '嘱一月后复查。</div>')
        self.assertEqual([a["reference"] for a in ds["author"]], [org_url])
        self.assertEqual(ds["custodian"]["reference"], org_url)

    def test_refusal_matrix_and_audit(self):
        now = time.time()
        self.consent(NID, ["V100"])                              # INS-Z, V100
        short = self.consent(NID, ["V200"], expires=iso(now + 2))  # expires soon
        rev = self.consent(NID2, ["V300"])
        st, _, _ = self.call("DELETE", "/api/v1/consents/%d" % rev["id"], "clinician")
        self.assertEqual(st, 200)
        wait = short["period"]["end"]
        while iso(time.time()) <= wait:
            time.sleep(0.2)
        cases = {  # what is refused -> the reason the audit trail must give
            ("V400", NID3, "insurer", "r-none"): "no consent",
            ("V200", NID, "insurer", "r-expired"): "consent expired",
            ("V300", NID2, "insurer", "r-revoked"): "consent revoked",
            ("V250", NID, "insurer", "r-visit"): "consent for other visits only",
            ("V100", NID, "insurer2", "r-insurer"): "consent for another grantee only",
            ("V999", NID, "insurer", "r-unknown"): "consent for other visits only",
            ("V300", NID, "insurer", "r-theirs"): "consent for other visits only",
        }
        for (visit, nid, who, rid), _ in cases.items():
            st, _, data = self.claim(visit, rid, who=who, nid=nid)
            self.assertEqual((st, json.loads(data)), (403, REFUSED), (visit, who))
        # a malformed resident id (bad check character) is a 400: decided from the request alone
        bad_nid = NID[:-1] + ("0" if NID[-1] != "0" else "1")
        st, _, data = self.claim("V100", "r-badid", nid=bad_nid)
        self.assertEqual(st, 400, data)
        self.assertEqual(self.call("POST", "/api/v1/claims", "insurer", raw=b"{nope")[0], 400)
        self.assertEqual(self.call("POST", "/api/v1/claims", "insurer",
                                   raw=b'{"visit":"V100","request_id":"x","pad":"' +
                                   b"x" * 8000 + b'"}')[0], 413)
        self.assertEqual(self.claim("V100", "r-clin", who="clinician")[0], 403)
        self.assertEqual(self.call("GET", "/api/v1/patients/P100/reports", "insurer")[0], 403)
        self.assertEqual(self.call("GET", "/api/v1/patients/P100/visits/V100", "insurer")[0], 403)
        self.assertEqual(self.call("POST", "/api/v1/consents", "insurer", {"x": 1})[0], 403)
        # nothing was stored for any of them: the first real claim works and is the only one
        self.assertEqual(self.claim("V100", "r-ok")[0], 201)

        entries = [e for e in self.audit() if e["action"] == "claims.create"]
        refused = [e for e in entries if e["outcome"] == "refused"]
        for (visit, nid, who, rid), why in cases.items():
            self.assertTrue(any(("visit %s refused: %s" % (visit, why)) in e["object"] and
                                e["institution"] == ("INS-Y" if who == "insurer2" else "INS-Z")
                                for e in refused), (visit, why, refused))
        self.assertEqual(len(refused), len(cases) + 1)  # + the clinician refused by role
        self.assertTrue(any(e["role"] == "clinician" for e in refused))
        failed = [e["status"] for e in entries if e["outcome"] == "failed"]
        self.assertEqual(sorted(failed), [400, 400, 413])
        self.assertEqual(len([e for e in entries if e["outcome"] == "success"]), 1)
        reads = [e for e in self.audit() if e["role"] == "insurer" and
                 e["action"] == "records.read"]
        self.assertEqual([e["outcome"] for e in reads], ["refused", "refused"])
        self.assertTrue(any(e["action"] == "consent.write" and "revoked" in e["object"]
                            for e in self.audit()))
        p = run([HUREN, "audit", "verify", "-c", self.n.config_path, "--data", self.n.data])
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_consent_validation(self):
        bad = [dict(patient="P100", purpose="claim", grantee="INS-Z", visits=[],
                    expires=iso(time.time() + 60), form_ref="F"),          # claim without visit
               dict(patient="P100", purpose="claim", grantee="*", visits=["V100"],
                    expires=iso(time.time() + 60), form_ref="F"),          # * for a claim
               dict(patient="P100", purpose="claim", grantee="INS-Z", visits=["V300"],
                    expires=iso(time.time() + 60), form_ref="F"),          # another's visit
               dict(patient="P100", purpose="claim", grantee="INS-Z", visits=["V100"],
                    expires=iso(time.time() - 60), form_ref="F"),          # already expired
               dict(patient="P100", purpose="claim", grantee="INS-Z", visits=["V100"],
                    expires=iso(time.time() + 60))]                        # no form reference
        for body in bad:
            st, _, data = self.call("POST", "/api/v1/consents", "clinician", body)
            self.assertEqual(st, 400, (body, data))
        st, _, _ = self.call("POST", "/api/v1/consents", "clinician",
                             dict(patient="NOPE", purpose="claim", grantee="INS-Z",
                                  visits=["V100"], expires=iso(time.time() + 60), form_ref="F"))
        self.assertEqual(st, 404)
        rec = self.call("POST", "/api/v1/consents", "clinician",
                        dict(patient=NID, purpose="recognition", grantee="*",
                             expires=iso(time.time() + 60), form_ref="F-R"))
        self.assertEqual(rec[0], 201, rec[2])
        self.assertEqual(json.loads(rec[2])["purpose"], "recognition")


class ClaimsRateLimitTest(ClaimsBase):

    def test_rate_limit_per_insurer(self):
        self.start_node(rate="1", burst="3")
        codes = [self.claim("V1", "rl-%d" % i)[0] for i in range(4)]
        self.assertEqual(codes, [403, 403, 403, 429])
        self.assertEqual(self.claim("V1", "rl-other", who="insurer2")[0], 403)
        limited = [e for e in self.audit() if e["action"] == "claims.create" and
                   e["status"] == 429]
        self.assertEqual(len(limited), 1)

    def test_signing_key_checked(self):
        pki = self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), pki], check=True)
        conf = os.path.join(self.tmp, "c.conf")
        for key, cert, ok in (("claims-signer", "claims-signer", True),
                              ("insurer", "claims-signer", False),
                              ("claims-signer", "insurer", False)):
            with open(conf, "w") as f:
                f.write("[claims]\nkey = %s/%s.key\ncert = %s/%s.crt\nchain = %s/ca.crt\n"
                        % (pki, key, pki, cert, pki))
            p = run([HUREN, "check-config", "-c", conf])
            self.assertEqual(p.returncode, 0 if ok else 2, p.stdout)
            if not ok:
                self.assertIn("is not the key of", p.stdout)
                node = self.node(name="bad-" + key, config_text=open(conf).read())
                with self.assertRaises(AssertionError):
                    node.start()


if __name__ == "__main__":
    unittest.main()
