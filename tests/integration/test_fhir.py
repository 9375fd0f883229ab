"""test_fhir.py: the records API's FHIR R4 form, black-box. HL7 ADT, ORU (numeric, text, coded
and comparator results, an exam report) and DFT with
diagnoses go in over MLLP; curl asks the records API for FHIR (Accept: application/fhir+json,
or ?_format=json); the patient's reports, one report and the visit are checked against HL7's
official FHIR R4 JSON schema (tests/integration/fhir/validate.js: ajv, draft-06) and must have
zero errors. Negative controls prove the validator checks: the same documents in the old
style (Money as a string, a time without its offset, R5's ChargeItem.unitPrice, a non-R4
element) must fail it. The default (non-FHIR) form stays as it was."""

import copy
import json
import os
import shutil
import tempfile
import unittest

from fhirschema import assert_valid, validate
from harness import NodeTestCase, run
from test_hl7 import Client, msh, oru, resident_id

NID = resident_id("11010519491231002")
FEN_EXT = "https://huren.example/fhir/StructureDefinition/amount-fen"
FHIR = "application/fhir+json"


def adt(control_id, pid, visit):
    return "\r".join([
        msh("ADT^A01", control_id, app="HIS"), "EVN|A01|20240105",
        "PID|1||%s^^^H1^PI~%s^^^CHN^ID||王^小明||19491231|M" % (pid, NID),
        "PV1|1|I|心内科||||||||||||||||%s%s20240101080000|20240110100000"
        % (visit, "|" * 25)]) + "\r"


def dft(control_id, pid, visit):
    return "\r".join([
        msh("DFT^P03", control_id, app="HIS"), "EVN|P03|20240105",
        "PID|1||%s^^^H1^PI~%s^^^CHN^ID||王^小明" % (pid, NID),
        "PV1|1|I|心内科||||||||||||||||%s" % visit,
        "FT1|1|%s-T1||20240105||CG|110200001^CT平扫|||1|120.50|120.50|" % visit,
        "FT1|2|%s-T2||20240105||CG|250101015^血常规|||3||10.33|" % visit,
        "FT1|3|%s-T3||20240105||CG|120400001^静脉注射|||0.1|0.10||" % visit,
        "DG1|1|ICD-10|I21.9^急性心肌梗死^ICD-10||20240105|F",
        "DG1|2|ICD-10|E11.9^2型糖尿病^ICD-10||20240105|A"]) + "\r"


class FhirRecordsTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.n = self.node(config_text="[claims]\ninstitution = H37010001\n").start()
        c = Client(self.n.hl7_port)
        try:
            for m in [
                    adt("A-1", "P100", "V100"),
                    oru("O-1", visit="V100", obx=[
                        "OBX|1|NM|WBC^白细胞^LN||+006.50|10*9/L|3.5-9.5|N|||F",
                        "OBX|2|SN|CRP^C反应蛋白^L||<^5|mg/L|0-10||||F",
                        "OBX|3|CE|ABO^血型^L||A^A型^L||||||F",
                        "OBX|4|ST|NOTE^备注^L||溶血 \\T\\ <轻度>||||||F",
                        "OBX|5|NM|GLU^血糖^L||5.6|mmol/L|3.9-6.1|H|||F|||"
                        "20240105081500+0000"]),
                    oru("O-2", visit="V100", order="RAD1", item="CT-HEAD^头颅CT平扫^L",
                        section="CT", accession="ACC1",
                        obx=["OBX|1|TX|IMP^印象^L||颅内未见明显异常。~脑室系统未见扩大。||||||F"]),
                    dft("D-1", "P100", "V100")]:
                code, segs = c.code(m)
                self.assertEqual(code, "AA", segs)
        finally:
            c.close()

    def fetch(self, path, accept=FHIR):
        """(status, content type, text) of a GET with curl."""
        d = tempfile.mkdtemp(prefix="curl-", dir=self.tmp)
        try:
            cmd = ["curl", "-s", "--noproxy", "*", "-o", d + "/b", "-w",
                   "%{http_code} %{content_type}", "--max-time", "30"]
            if accept:
                cmd += ["-H", "Accept: " + accept]
            p = run(cmd + [self.n.url(path)], timeout=40)
            status, _, ctype = p.stdout.strip().partition(" ")
            with open(d + "/b", encoding="utf-8") as f:
                return int(status), ctype, f.read()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def get_fhir(self, path, **kw):
        st, ctype, text = self.fetch(path, **kw)
        self.assertEqual(st, 200, text)
        self.assertTrue(ctype.startswith(FHIR), ctype)
        return text, json.loads(text)

    def test_reports_report_and_visit_are_valid_r4(self):
        reports_text, reports = self.get_fhir("/api/v1/patients/P100/reports")
        self.assertEqual((reports["resourceType"], reports["type"], reports["total"]),
                         ("Bundle", "searchset", 2))
        urls = [e["fullUrl"] for e in reports["entry"]]
        self.assertTrue(all(u.startswith("urn:uuid:") for u in urls))
        res = [e["resource"] for e in reports["entry"]]
        refs = [r["subject"]["reference"] for r in res if "subject" in r]
        refs += [x["reference"] for r in res for x in r.get("result", []) + r.get("performer", [])]
        self.assertGreater(len(refs), 8)
        self.assertEqual([r for r in refs if r not in urls], [])  # all resolve in the bundle
        matches = [e["resource"] for e in reports["entry"] if e["search"]["mode"] == "match"]
        self.assertEqual(sorted(r["resourceType"] for r in matches), ["DiagnosticReport"] * 2)
        obs = {r["code"]["coding"][0]["code"]: r for r in res if r["resourceType"] == "Observation"}
        # numbers as JSON numbers exactly as sent (HL7 "+006.50" is FHIR 6.50: digits kept)
        self.assertIn('"valueQuantity":{"value":6.50,"unit":"10*9/L"}', reports_text)
        self.assertEqual(obs["WBC"]["code"]["coding"][0]["system"], "http://loinc.org")
        self.assertEqual(obs["CRP"]["valueQuantity"],
                         {"value": 5, "comparator": "<", "unit": "mg/L"})
        self.assertEqual(obs["ABO"]["valueCodeableConcept"]["coding"][0]["code"], "A")
        self.assertEqual(obs["NOTE"]["valueString"], "溶血 & <轻度>")
        self.assertEqual(obs["GLU"]["interpretation"][0]["coding"][0]["code"], "H")
        # local HL7 times get the hospital's offset (+08:00 by default). GLU's OBX-14 was sent
        # as "+0000", but the HL7 ingest keeps only the digits of a time, so it is local too
        self.assertEqual(obs["WBC"]["effectiveDateTime"], "2024-01-05T08:00:00+08:00")
        self.assertEqual(obs["GLU"]["effectiveDateTime"], "2024-01-05T08:15:00+08:00")
        ct = [r for r in matches if r["code"]["coding"][0]["code"] == "CT-HEAD"][0]
        self.assertEqual(ct["conclusion"], "颅内未见明显异常。\n脑室系统未见扩大。")
        self.assertIn({"type": {"coding": [{"system":
                                            "http://terminology.hl7.org/CodeSystem/v2-0203",
                                            "code": "ACSN"}]}, "value": "ACC1"},
                      ct["identifier"])

        rid = [r for r in matches if r["code"]["coding"][0]["code"] == "CBC"][0]["id"]
        self.assertTrue(rid.startswith("report-"))
        report_text, report = self.get_fhir("/api/v1/reports/%s?_format=json"
                                            % rid[len("report-"):], accept=None)
        self.assertEqual(report["resourceType"], "DiagnosticReport")
        contained = {c["id"]: c for c in report["contained"]}
        self.assertEqual(sorted(c["resourceType"] for c in contained.values()),
                         ["Observation"] * 5 + ["Organization", "Patient"])
        for ref in [report["subject"]] + report["result"] + report["performer"]:
            self.assertIn(ref["reference"][1:], contained)
        self.assertEqual(report["meta"]["versionId"], "1")

        visit_text, visit = self.get_fhir("/api/v1/patients/P100/visits/V100")
        kinds = {}
        for e in visit["entry"]:
            kinds.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
        self.assertEqual(sorted(kinds), ["ChargeItem", "Condition", "Encounter", "Invoice",
                                         "Organization", "Patient"])
        self.assertIn('"totalGross":{"value":151.59,"currency":"CNY","extension":[{"url":"%s",'
                      '"valueDecimal":15159}]}' % FEN_EXT, visit_text)
        self.assertEqual([c["verificationStatus"]["coding"][0]["code"]
                          for c in kinds["Condition"]], ["confirmed", "provisional"])
        self.assertEqual(kinds["Patient"][0]["birthDate"], "1949-12-31")

        assert_valid(self, {"reports": reports_text, "report": report_text, "visit": visit_text})

        # negative controls: the validator refuses what R4 does not allow
        bad = {}
        old = copy.deepcopy(visit)  # the old style: Money as a string next to value_fen
        for e in old["entry"]:
            r = e["resource"]
            if r["resourceType"] == "Invoice":
                r["totalGross"] = {"value": "151.59", "currency": "CNY", "value_fen": 15159}
        bad["money-as-string"] = old
        notz = copy.deepcopy(visit)
        for e in notz["entry"]:
            if e["resource"]["resourceType"] == "Encounter":
                e["resource"]["period"]["start"] = "2024-01-01T08:00:00"
        bad["time-without-offset"] = notz
        r5 = copy.deepcopy(visit)
        for e in r5["entry"]:
            if e["resource"]["resourceType"] == "ChargeItem":
                e["resource"]["unitPrice"] = {"value": 120.5, "currency": "CNY"}
        bad["r5-unit-price"] = r5
        claim = copy.deepcopy(visit)
        claim["claim"] = {"total": "151.59"}
        bad["bundle-claim"] = claim
        verdicts = validate(self, bad)
        for name, (ok, lines) in verdicts.items():
            self.assertFalse(ok, "%s passed the validator:\n%s" % (name, "\n".join(lines)))
        self.assertIn("totalGross/value must be number", "\n".join(verdicts["money-as-string"][1]))
        self.assertIn("unitPrice", "\n".join(verdicts["r5-unit-price"][1]))

    def test_default_form_unchanged(self):
        st, ctype, text = self.fetch("/api/v1/patients/P100/reports", accept=None)
        self.assertEqual(st, 200, text)
        self.assertTrue(ctype.startswith("application/json"), ctype)
        body = json.loads(text)
        self.assertEqual((body["patient_id"], body["total"]), ("P100", 2))
        self.assertEqual(body["entry"][0]["resourceType"], "DiagnosticReport")
        st, _, text = self.fetch("/api/v1/patients/P100/visits/V100", accept="application/json")
        v = json.loads(text)
        self.assertEqual((st, v["total"], v["total_fen"]), (200, "151.59", 15159))
        # errors stay JSON errors in both forms
        st, _, text = self.fetch("/api/v1/patients/NOBODY/reports")
        self.assertEqual((st, json.loads(text)["status"]), (404, 404))


if __name__ == "__main__":
    unittest.main()
