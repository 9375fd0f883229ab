"""test_recognition_province.py: recognition as the province runs it (issue 13, items 1-3).
A directory and hospitals A (H37020001, Qingdao) and B (H37010002, Jinan) run on loopback
with mutual TLS (conf/make-test-pki.sh). The directory's operator loads the catalogue, the
institution registry and the QC register with `huren catalogue import` (a bad file refused by
line, nothing stored) and PUT (operator); A pulls them (conditional GET, reference_interval = 1)
and shows their versions in /api/v1/health. B's blood count (OBX-8 HH: a critical value)
reaches the directory. Checked at A: without a QC pass for B the result is excluded with
reason "qc"; once the QC register has one it is listed, critical, not pre-selected, with the
registry's name of B; a catalogue change (a shorter window) reaches A and excludes it with
reason "window"; the directory answers 304 to a conditional GET. Recognising the critical
result needs "confirm_critical" (kept with the decision and the doctor's identity, from the
request or the certificate); a revoked decision is listed as revoked and recounted."""

import json
import os
import secrets
import urllib.parse

from harness import HUREN, NodeTestCase, run, wait_for
import test_directory as td
from test_directory import curl_json, pseudonym
from test_hl7 import NID, oru
import test_recognition as tr

A_INST, B_INST = tr.A_INST, tr.B_INST

CATALOGUE_V1 = ("code,name,group,valid_from,valid_to,window_days,scope,issuers\n"
                "LAB-CBC,血常规,LAB-BLOOD,20230101,,7,province,三级甲等|二级甲等\n"
                "CT-CHEST-PLAIN,胸部CT平扫,,20230101,,30,province,\n")
CATALOGUE_V2 = CATALOGUE_V1.replace(",7,province", ",2,province")
INSTITUTIONS = ("code,name,short_name,city,class,ownership\n"
                "H37020001,青岛市立医院,青岛市立,青岛,三级甲等,public\n"
                "H37010002,济南市第二人民医院,济南二院,济南,三级甲等,public\n")
QC_NONE = "institution,item,year,scheme,passed_from,passed_to\n"
QC_B = QC_NONE + "H37010002,LAB-BLOOD,2024,national,20240101,20241231\n"
CRITICAL_OBX = ["OBX|1|NM|WBC^白细胞^L||1.1|10*9/L|3.5-9.5|LL|||F",
                "OBX|2|NM|HGB^血红蛋白^L||140|g/L|130-175|N|||F"]


class ProvinceRecognitionTest(NodeTestCase):

    directory_conf = td.DirectoryTest.directory_conf
    lookup = td.DirectoryTest.lookup
    client_sections = tr.RecognitionTest.client_sections
    hospital_node = tr.RecognitionTest.hospital_node
    send = tr.RecognitionTest.send
    call = tr.RecognitionTest.call
    query = tr.RecognitionTest.query

    def setUp(self):  # as test_recognition's: certificates, region key, the directory
        super().setUp()
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(td.REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            self.subjects = dict(line.split("\t") for line in f.read().splitlines())
        self.key = secrets.token_hex(32)
        self.key_file = os.path.join(self.tmp, "region.key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        self.dir = self.node(name="directory", https=True, config_text=self.directory_conf(),
                             extra_args=["--role", "directory"]).start()

    def load(self, kind, text, expect=0):
        path = os.path.join(self.tmp, "%s.csv" % kind)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        p = run([HUREN, "catalogue", "import", "--kind", kind, "--data", self.dir.data, path])
        self.assertEqual(p.returncode, expect, p.stdout)
        return p

    def versions(self):
        status, h = self.call(self.a, "/api/v1/health")
        self.assertEqual(status, 200, h)
        return {k: v["version"] for k, v in h["reference"].items()}

    def test_province_reference_data(self):
        # the operator's mistakes: every bad line reported, nothing stored
        bad = CATALOGUE_V1 + "LAB-X,,,2024,,0,town,\n"
        p = self.load("catalogue", bad, expect=1)
        self.assertIn("catalogue.csv:4: name", p.stdout)
        self.assertIn("catalogue.csv:4: valid_from", p.stdout)
        self.assertIn("catalogue.csv:4: scope", p.stdout)
        self.assertIn("nothing stored", p.stdout)
        status, body = curl_json(self.dir.url("/api/v1/directory/reference/catalogue"),
                                 self.pki, "peer")
        self.assertEqual(status, 404, body)
        # the data as loaded: by the command, and the registry by PUT (the operator, or admin)
        self.load("catalogue", CATALOGUE_V1)
        self.load("qc", QC_NONE)
        status, body = curl_json(self.dir.url("/api/v1/directory/reference/institutions"),
                                 self.pki, "peer", "PUT", INSTITUTIONS)
        self.assertEqual(status, 403, body)
        status, body = curl_json(self.dir.url("/api/v1/directory/reference/institutions"),
                                 self.pki, "operator", "PUT", INSTITUTIONS)
        self.assertEqual((status, body), (200, {"kind": "institutions", "version": 1}))
        status, body = curl_json(self.dir.url("/api/v1/directory/reference/qc"),
                                 self.pki, "admin", "PUT", "institution,item\n")
        self.assertEqual(status, 422, body)
        self.assertIn("line 1", body["errors"][0])
        # a conditional GET of what one holds: 304
        url = self.dir.url("/api/v1/directory/reference/catalogue")
        curl = ["curl", "-s", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
                "--cacert", os.path.join(self.pki, "ca.crt"),
                "--cert", os.path.join(self.pki, "peer.crt"),
                "--key", os.path.join(self.pki, "peer.key")]
        self.assertEqual(run(curl + ["-H", 'If-None-Match: "1"', url]).stdout, "304")
        self.assertEqual(run(curl + ["-H", 'If-None-Match: "0"', url]).stdout, "200")

        self.b = self.hospital_node("hospital-b", "GW_B", B_INST, publish=True)
        prices = os.path.join(self.tmp, "prices.csv")
        with open(prices, "w", encoding="utf-8") as f:  # the hospital's price list, in yuan
            f.write("item,price\nLAB-CBC,23.50\nCT-CHEST-PLAIN,178.5\n")
        reasons = os.path.join(self.tmp, "reasons.csv")
        with open(os.path.join(td.REPO, "conf", "recognition-reasons.csv"), encoding="utf-8") as f:
            national = f.read()
        with open(reasons, "w", encoding="utf-8") as f:  # the platform's table, one code more
            f.write(national + "repeat_imaging_quality,影像质量不满足诊断,Image quality\n")
        self.a = self.hospital_node("hospital-a", "GW_A", A_INST, publish=False,
                                    extra=["[directory]", "reference_interval = 1",
                                           "[recognition]", "reasons = " + reasons,
                                           "prices = " + prices])
        status, rs = self.call(self.a, "/api/v1/recognition/reasons")
        self.assertEqual(status, 200, rs)
        codes = [r["code"] for r in rs["reasons"]]
        self.assertEqual(codes[0], "condition_changed")
        self.assertEqual(codes[-2:], ["other", "repeat_imaging_quality"])
        self.assertEqual(rs["reasons"][0]["name_zh"], "病情变化")
        wait_for(lambda: self.versions() == {"catalogue": 1, "institutions": 1, "qc": 1}, 30,
                 "A holding the reference data")
        # B: a blood count with a critical white cell count (LL), observed 2024-01-05
        p = pseudonym(self.key, NID)
        self.send(self.b, oru("m1", pid="P100", nid=NID, obx=CRITICAL_OBX))
        wait_for(lambda: self.lookup(p)["count"] == 1, 60, "B's entry at the directory")
        self.send(self.a, oru("a1", pid="A100", nid=NID, order="AORD1"))
        status, consent = self.call(self.a, "/api/v1/consents", method="POST", body=dict(
            patient="A100", purpose="recognition", grantee="*", form_ref="FORM-R-1",
            expires="2099-12-31"))
        self.assertEqual(status, 201, consent)

        # no QC pass for B: excluded, saying why
        status, q = self.query("A100", "LAB-CBC", "20240108")
        self.assertEqual(status, 200, q)
        self.assertEqual(q["results"], [])
        self.assertEqual(q["excluded"], {"qc": 1})
        self.assertEqual([(e["institution"], e["reason"]) for e in q["excluded_results"]],
                         [(B_INST, "qc")])
        self.assertIn("质控", q["excluded_results"][0]["reason_text"])
        self.assertEqual((q["item"]["validity_days"], q["item"]["group"]), (7, "LAB-BLOOD"))

        # the QC register gets B's pass for the item group: listed, critical, not pre-selected
        self.load("qc", QC_B)
        wait_for(lambda: self.versions()["qc"] == 2, 30, "A holding QC version 2")
        status, q = self.query("A100", "LAB-CBC", "20240108")
        self.assertEqual((status, len(q["results"])), (200, 1), q)
        r = q["results"][0]
        self.assertEqual((r["institution"], r["critical"], r["preselect"]), (B_INST, True, False))
        self.assertIn("危急值", r["warning"])
        self.assertEqual((r["institution_name"], r["institution_class"]),
                         ("济南市第二人民医院", "三级甲等"))
        self.assertEqual(r["valid_until"], "20240112")
        self.assertEqual(q["reference_version"], 1)
        # decisions take the platform's codes: its own one yes, an unknown one no
        status, d = self.call(self.a, "/api/v1/recognition/decisions", method="POST", body=dict(
            prompt_id=q["prompt_id"], result_key=r["result_key"], decision="rejected",
            reason="no_such_reason"))
        self.assertEqual(status, 400, d)
        self.assertIn("repeat_imaging_quality", d["error"])
        status, d = self.call(self.a, "/api/v1/recognition/decisions", method="POST", body=dict(
            prompt_id=q["prompt_id"], result_key=r["result_key"], decision="rejected",
            reason="repeat_imaging_quality"))
        self.assertEqual(status, 201, d)
        # savings: the same blood count recognised for two other orders, counted by hand:
        # 2 x 23.50 yuan = 4700 fen; the rejected one saves nothing. It is critical: refused
        # without the doctor's explicit confirmation, which is then kept with the decision;
        # the doctor is the request's (AORD3) or the client certificate's subject (AORD2)
        held = {}
        for order in ("AORD2", "AORD3"):
            status, q2 = self.query("A100", "LAB-CBC", "20240108", order=order)
            self.assertEqual((status, q2["item"]["price_fen"], q2["savings_fen"]), (200, 2350, 0))
            body = dict(prompt_id=q2["prompt_id"], result_key=q2["results"][0]["result_key"],
                        decision="accepted")
            status, d = self.call(self.a, "/api/v1/recognition/decisions", method="POST",
                                  body=body)
            self.assertEqual(status, 422, d)
            self.assertIn("危急值", d["error"])
            self.assertIn("confirm_critical", d["error"])
            body["confirm_critical"] = True
            if order == "AORD3":
                body["doctor"] = "DR-WANG"
            status, d = self.call(self.a, "/api/v1/recognition/decisions", method="POST",
                                  body=body)
            self.assertEqual(status, 201, d)
            held[order] = d["decision_id"]
            status, q2 = self.query("A100", "LAB-CBC", "20240108", order=order)
            self.assertEqual((q2["savings_fen"], q2["savings"]), (2350, "23.50"))
            dec = q2["decisions"][0]
            self.assertEqual((dec["confirm_critical"], dec["revoked"]), (True, False))
            if order == "AORD3":
                self.assertEqual((dec["doctor"], dec["doctor_source"]), ("DR-WANG", "request"))
            else:  # the subject as the gateway verified it (its own order of the names)
                self.assertEqual(dec["doctor_source"], "certificate")
                self.assertIn("CN=clinician", dec["doctor"])
                self.assertIn("O=Hospital A", dec["doctor"])
        status, st = self.call(self.a, "/api/v1/recognition/stats?from=20000101&to=29991231")
        self.assertEqual(status, 200, st)
        self.assertEqual((st["totals"]["savings_fen"], st["totals"]["savings"]), (4700, "47.00"))
        self.assertEqual([(r["key"], r["accepted"], r["savings_fen"]) for r in st["rows"]],
                         [("LAB-CBC", 2, 4700)])
        status, st = self.call(self.a, "/api/v1/recognition/stats?by=department"
                                       "&from=20000101&to=29991231")
        self.assertEqual(st["totals"]["savings_fen"], 4700)

        # AORD3's recognition revoked (a reason required; twice 409, unknown 404): listed as
        # revoked, and the statistics and savings recount
        revoke = "/api/v1/recognition/decisions/%s/revoke"
        status, d = self.call(self.a, revoke % held["AORD3"], method="POST", body={})
        self.assertEqual(status, 400, d)
        status, d = self.call(self.a, revoke % held["AORD3"], method="POST",
                              body=dict(reason="wrong order"))
        self.assertEqual((status, d), (200, {"decision_id": held["AORD3"], "revoked": True}))
        status, d = self.call(self.a, revoke % held["AORD3"], method="POST",
                              body=dict(reason="again"))
        self.assertEqual(status, 409, d)
        status, d = self.call(self.a, revoke % ("0" * 32), method="POST", body=dict(reason="x"))
        self.assertEqual(status, 404, d)
        status, q2 = self.query("A100", "LAB-CBC", "20240108", order="AORD3")
        dec = q2["decisions"][0]
        self.assertEqual((dec["revoked"], dec["revoked_reason"]), (True, "wrong order"))
        self.assertEqual(q2["savings_fen"], 0)
        status, st = self.call(self.a, "/api/v1/recognition/stats?from=20000101&to=29991231")
        self.assertEqual((st["totals"]["savings_fen"], st["totals"]["accepted"]), (2350, 1))

        # the catalogue's window for the item shortened to 2 days reaches A
        self.load("catalogue", CATALOGUE_V2)
        wait_for(lambda: self.versions()["catalogue"] == 2, 30, "A holding catalogue version 2")
        status, q = self.query("A100", "LAB-CBC", "20240108")
        self.assertEqual(status, 200, q)
        self.assertEqual(q["results"], [])
        self.assertEqual(q["excluded_results"][0]["reason"], "window")
        self.assertEqual(q["item"]["validity_days"], 2)

        # A keeps its last good copy: restarted with the directory gone, it still has it
        self.dir.stop()
        self.a.stop()
        self.a.start()
        self.assertEqual(self.versions(), {"catalogue": 2, "institutions": 1, "qc": 2})
        p = run([HUREN, "check-config", "--data", self.a.data])
        self.assertIn("reference catalogue: version 2", p.stdout)
