"""test_region_counts.py: one exam one result, prompts that count right, the region timeline.

A directory and hospitals B (Jinan) and C (Zibo) run on loopback with mutual TLS and publish
to it; hospital A (the doctor's node, plain HTTP on loopback for the browser) reaches the
directory and the peers with its peer certificate. B stores a CT with storescu and then its
exam report (an ORU with the study's accession number, OBR-24 CT) over MLLP; C gets its report
first and its study afterwards. Checked: the directory holds one entry per exam saying images +
report (C's report-only entry withdrawn once its study arrived); A's prompt lists B's exam as
one result (rate 100 % after one recognition, not 50 %); the prompt reloaded ten times is the
same prompt with its decision and the statistics do not move; A's region timeline API lists B's
and C's results marked, newest first, grouped by item; the patient page in Chromium shows them
so (screenshots in the test's folder), fetches C's study from the timeline and then marks it
as a retrieved copy. pydicom's CT_small.dcm (data we did not make) stored at B is listed too."""

import json
import os
import secrets
import shutil
import tempfile
import unittest
import urllib.parse

from dicomgen import uid, write_instance
import harness
from harness import run, wait_for
from test_hl7 import NID, NID2, msh, oru
import test_ui
from test_ui import C_INST, request

rt = test_ui.rt
# Debian's python3-pydicom test data: a CT made elsewhere, without an accession number
PYDICOM_CT = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
CT_SMALL_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"


class RegionCountsTest(test_ui.BrowserCase):

    if rt:  # the nodes of the live recognition test (not imported here: unittest would run it)
        directory_conf = test_ui.UIRecognitionLiveTest.directory_conf
        hospital_c = test_ui.UIRecognitionLiveTest.hospital_c
        doctor_node = test_ui.UIRecognitionLiveTest.doctor_node
        client_sections = rt.RecognitionTest.client_sections
        hospital_node = rt.RecognitionTest.hospital_node
        lookup = rt.RecognitionTest.lookup
        send = rt.RecognitionTest.send

    def setUp(self):
        # the nodes of the live recognition test; the browser's prerequisites are checked only
        # before the page part (the API part runs without chromium too)
        harness.NodeTestCase.setUp(self)
        if rt is None:
            self.skipTest("the recognition API is not in this build")
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(rt.td.REPO, "conf", "make-test-pki.sh"), self.pki],
            check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            self.subjects = dict(line.split("\t") for line in f.read().splitlines())
        self.key = secrets.token_hex(32)
        self.key_file = os.path.join(self.tmp, "region.key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        self.dir = self.node(name="directory", https=True, config_text=self.directory_conf(),
                             extra_args=["--role", "directory"]).start()

    def browser_ready(self):
        """BrowserCase's prerequisites (chromium, node, playwright-core), without a new
        temp folder."""
        if not os.path.exists(test_ui.CHROMIUM):
            self.skipTest("chromium not installed: the API part passed")
        if not shutil.which("node") or not shutil.which("npm"):
            self.skipTest("node/npm not installed: the API part passed")
        if not os.path.isdir(os.path.join(test_ui.UI_TEST, "node_modules", "playwright-core")):
            p = run(["npm", "ci", "--no-audit", "--no-fund"], cwd=test_ui.UI_TEST, timeout=600)
            if p.returncode != 0:
                self.skipTest("npm ci failed (registry unreachable?):\n" + p.stdout[-2000:])

    def exam_study(self, node, study, accession, date, patient_id):
        """A CT of the chest with its accession number, stored with storescu."""
        d = tempfile.mkdtemp(prefix="dcm-", dir=self.tmp)
        for i in range(2):
            write_instance(os.path.join(d, "%d.dcm" % i), study_uid=uid(study),
                           series_uid=uid(study, 1), sop_uid=uid(study, 1, i + 1),
                           patient_id=patient_id, patient_name="王^小明", charset="ISO_IR 192",
                           modality="CT", study_date=date, study_desc="胸部CT平扫",
                           body_part="CHEST", accession=accession,
                           extra=[(0x0010, 0x1000, "LO", NID)])
        run(["storescu", "-aet", "MODALITY", "-aec", node.aet, "127.0.0.1",
             str(node.dicom_port)] + [os.path.join(d, f) for f in sorted(os.listdir(d))],
            check=True)

    def exam_report(self, node, control, accession, date, pid):
        """The radiology report of that exam (OBR-18 accession, OBR-24 CT)."""
        self.send(node, oru(control, pid=pid, nid=NID, order="R" + accession,
                            item="CT-CHEST^胸部CT平扫^L", section="CT", accession=accession,
                            observed=date + "090000",
                            obx=["OBX|1|TX|IMP^印象^L||两肺未见明显异常||||||F"]))

    def get(self, node, path):
        status, _, body = request(node.http_port, path)
        return status, json.loads(body) if body else None

    def prompt(self, **q):
        q = dict(dict(patient="A100", item="CT-CHEST-PLAIN", at="20240110"), **q)
        return self.get(self.a, "/api/v1/recognition?" + urllib.parse.urlencode(q))

    def stats(self):
        status, st = self.get(self.a, "/api/v1/recognition/stats?from=20000101&to=29991231"
                                      "&by=item")
        self.assertEqual(status, 200, st)
        return {r["key"]: (r["prompts"], r["shown"], r["accepted"], r["rejected"], r["rate"])
                for r in st["rows"]}

    def test_region_counts(self):
        b = self.hospital_node("hospital-b", "GW_B", rt.B_INST, publish=True)
        c = self.hospital_c()
        self.a = self.doctor_node()
        p = rt.pseudonym(self.key, NID)

        # B: the study, then its report; and a blood count (another item)
        self.exam_study(b, 1, "ACC-B1", "20240105", "P100")
        self.exam_report(b, "rb1", "ACC-B1", "20240105", "P100")
        self.send(b, oru("lab1", pid="P100", nid=NID, observed="20240104080000"))
        wait_for(lambda: self.lookup(p)["count"] == 2 and all(
            e["report"] for e in self.lookup(p)["records"] if e["kind"] == "imaging"), 60,
            "B's exam (study + report) and blood count at the directory")
        exams = [e for e in self.lookup(p)["records"] if e["kind"] == "imaging"]
        self.assertEqual(len(exams), 1, exams)
        self.assertEqual((exams[0]["record_key"], exams[0]["images"], exams[0]["report"]),
                         ("study:" + uid(1), True, True), exams[0])
        self.assertTrue(exams[0]["report_key"].startswith("report:"), exams[0])
        self.assertEqual(exams[0]["item_code"], "CT-CHEST-PLAIN")

        # A: the patient under A's own id, with a recognition consent
        self.send(self.a, oru("a1", pid="A100", nid=NID, order="AORD1"))
        status, _, body = test_ui.post_json(self.a, "/api/v1/consents", dict(
            patient="A100", purpose="recognition", grantee="*", form_ref="FORM-R-1",
            expires="2099-12-31"))
        self.assertEqual(status, 201, body)

        # the prompt lists B's exam once, with images and report; one recognition: 100 %
        status, pr = self.prompt(order="ORD-1", doctor="D1", dept="RAD")
        self.assertEqual(status, 200, pr)
        self.assertEqual([r["result_key"] for r in pr["results"]],
                         ["%s/study:%s" % (rt.B_INST, uid(1))], pr)
        res = pr["results"][0]
        self.assertEqual((res["images"], res["report"]), (True, True), res)
        self.assertTrue(res["open"]["report_url"].startswith(res["source"] + "/api/v1/reports/"))
        self.assertEqual((pr["repeated"], pr["decisions"]), (False, []))
        body = dict(prompt_id=pr["prompt_id"], result_key=res["result_key"],
                    decision="accepted", doctor="D1", department="RAD", order_id="ORD-1")
        status, _, out = test_ui.post_json(self.a, "/api/v1/recognition/decisions", body)
        self.assertEqual(status, 201, out)
        decision_id = json.loads(out)["decision_id"]
        self.assertEqual(self.stats(), {"CT-CHEST-PLAIN": (1, 1, 1, 0, 1.0)})

        # reloaded ten times: the same prompt, its decision, and the statistics do not move
        for _ in range(10):
            status, again = self.prompt(order="ORD-1", doctor="D1", dept="RAD")
            self.assertEqual(status, 200, again)
            self.assertEqual((again["prompt_id"], again["repeated"]), (pr["prompt_id"], True))
            self.assertEqual([x["decision_id"] for x in again["decisions"]], [decision_id])
            self.assertEqual(again["results"][0]["decision"]["decision"], "accepted")
        self.assertEqual(self.stats(), {"CT-CHEST-PLAIN": (1, 1, 1, 0, 1.0)})
        # another order of the same item the same day is another prompt
        status, other = self.prompt(order="ORD-2")
        self.assertNotEqual(other["prompt_id"], pr["prompt_id"])
        self.assertEqual(self.stats(), {"CT-CHEST-PLAIN": (2, 2, 1, 0, 0.5)})

        # C: the report first (published alone), then its study: one entry, images + report
        self.exam_report(c, "rc1", "ACC-C1", "20240107", "C7")
        wait_for(lambda: any(e["institution"] == C_INST for e in self.lookup(p)["records"]),
                 60, "C's report at the directory")
        alone = [e for e in self.lookup(p)["records"] if e["institution"] == C_INST]
        self.assertEqual([(e["record_key"][:7], e["images"], e["report"]) for e in alone],
                         [("report:", False, True)], alone)
        self.exam_study(c, 2, "ACC-C1", "20240107", "C7")
        wait_for(lambda: [e["record_key"] for e in self.lookup(p)["records"]
                          if e["institution"] == C_INST] == ["study:" + uid(2)], 60,
                 "C's exam as one entry")
        c_exam = [e for e in self.lookup(p)["records"] if e["institution"] == C_INST][0]
        self.assertEqual((c_exam["images"], c_exam["report"]), (True, True), c_exam)
        gone = self.lookup(p, "&include_deleted=1")["records"]
        self.assertIn((alone[0]["record_key"], True),
                      [(e["record_key"], e.get("deleted", False)) for e in gone
                       if e["institution"] == C_INST])

        # data we did not make: pydicom's CT_small.dcm (Debian python3-pydicom), stored at B
        # unchanged; B's HIS gives its PatientID 1CT1 the patient's resident id (ADT^A04)
        self.send(b, "\r".join([msh("ADT^A04", "adt-ct"), "EVN|A04|20240101",
                                "PID|1||1CT1^^^H1^PI~%s^^^CHN^ID||王^小明||19491231|M" % NID,
                                "PV1|1|O|内科||||||||||||||||V1CT1"]) + "\r")
        run(["storescu", "-aet", "MODALITY", "-aec", b.aet, "127.0.0.1", str(b.dicom_port),
             PYDICOM_CT], check=True)
        wait_for(lambda: "study:" + CT_SMALL_UID in [e["record_key"] for e in
                                                    self.lookup(p)["records"]], 60,
                 "pydicom's CT at the directory")

        # the region timeline: B's and C's results, marked, newest first, grouped by item
        status, tl = self.get(self.a, "/api/v1/patients/A100/timeline?scope=region")
        self.assertEqual(status, 200, tl)
        c_key, b_key = ("%s/study:%s" % (C_INST, uid(2)), "%s/study:%s" % (rt.B_INST, uid(1)))
        self.assertEqual([(r["result_key"][:len(c_key)], r["origin"], r["date"])
                          for r in tl["results"]][:2],
                         [(c_key, "other", "20240107"), (b_key, "other", "20240105")])
        self.assertEqual([r["date"] for r in tl["results"]],
                         sorted((r["date"] for r in tl["results"]), reverse=True))
        self.assertEqual(len(tl["results"]), 4, tl)
        ct_small = tl["results"][-1]  # 2004-01-19: the oldest
        self.assertEqual((ct_small["result_key"], ct_small["origin"], ct_small["date"],
                          ct_small["images"], ct_small["report"]),
                         ("%s/study:%s" % (rt.B_INST, CT_SMALL_UID), "other", "20040119", True,
                          False), ct_small)
        # StudyDescription "e+1", no body part: no catalogue item, grouped under its kind
        self.assertEqual([(g["key"], g["item_name"]) for g in tl["groups"]],
                         [("CT-CHEST-PLAIN", "胸部CT平扫"), ("LAB-CBC", "血常规"),
                          ("imaging", "")])
        self.assertEqual([r["result_key"] for r in tl["groups"][0]["results"]][:2],
                         [c_key, b_key])
        for g in tl["groups"]:  # newest first inside each group
            self.assertEqual([r["date"] for r in g["results"]],
                             sorted((r["date"] for r in g["results"]), reverse=True))
        self.assertEqual(tl["counts"], {"local": 0, "other": 4, "copy": 0})
        self.assertTrue(all(r["open"].get("retrieve") for r in tl["results"]))
        # the timeline is no prompt: the statistics do not move
        self.assertEqual(self.stats(), {"CT-CHEST-PLAIN": (2, 2, 1, 0, 0.5)})
        # bad input and no consent
        status, body = self.get(self.a, "/api/v1/patients/A100/timeline?scope=planet")
        self.assertEqual(status, 400, body)
        status, body = self.get(self.a, "/api/v1/patients/NOBODY/timeline?scope=region")
        self.assertEqual(status, 404, body)
        self.send(self.a, oru("a2", pid="A200", nid=NID2, order="AORD2"))
        status, body = self.get(self.a, "/api/v1/patients/A200/timeline?scope=region")
        self.assertEqual(status, 403, body)

        # the page in Chromium: grouped by item, marked; C's study fetched from the timeline
        self.browser_ready()
        shots = self.browse(self.a, "region-timeline", patient="A100",
                            groups=[g["key"] for g in tl["groups"]],
                            results={g["key"]: [r["result_key"] for r in g["results"]]
                                     for g in tl["groups"]},
                            fetch_key=c_key, fetch_institution=C_INST, uncatalogued=True)
        for name in ("region-timeline", "region-timeline-copy"):
            self.assertTrue(os.path.getsize(os.path.join(shots, name + ".png")) > 0, name)
        status, tl = self.get(self.a, "/api/v1/patients/A100/timeline?scope=region")
        self.assertEqual(tl["counts"], {"local": 0, "other": 3, "copy": 1}, tl["counts"])
        print("screenshots:", shots)


if __name__ == "__main__":
    unittest.main()
