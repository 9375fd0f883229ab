"""test_hl7.py: the HL7 v2 feed end to end. A node on free ports receives ADT, ORU and DFT
messages over MLLP from Debian's mllp_send and from our own socket client; the ACK codes are
checked, then the REST answers field by field. Also: GB18030 and UTF-8 names, re-sent
messages, A40 merge, corrected results, exact charge totals, `huren import` of an HL7 file,
hostile input, and kill -9 in the middle of a stream (every AA'd message survives)."""

import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from harness import HUREN, NodeTestCase, run, wait_for

PYTHON = "/usr/bin/python3"
MLLP_SEND = "/usr/bin/mllp_send"
VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def resident_id(prefix17):
    """An 18-character resident id with its ISO 7064 MOD 11-2 check digit."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    s = sum(int(c) * k for c, k in zip(prefix17, w))
    return prefix17 + "10X98765432"[s % 11]


NID = resident_id("11010519491231002")
NID2 = resident_id("37010219800101123")


def msh(msg_type, control_id, charset="UNICODE UTF-8", version="2.5.1", app="LIS"):
    return ("MSH|^~\\&|%s|H1|HUREN|H1|20240105083000||%s|%s|P|%s|||||CHN|%s"
            % (app, msg_type, control_id, version, charset))


def oru(control_id, pid="P100", nid=NID, name="王^小明", order="ORD1", item="CBC^血常规^L",
        status="F", obx=None, observed="20240105080000", section="LAB", accession="",
        visit="V100"):
    if obx is None:
        obx = ["OBX|1|NM|WBC^白细胞^L||6.5|10*9/L|3.5-9.5|N|||%s" % status,
               "OBX|2|NM|HGB^血红蛋白^L||180|g/L|130-175|H|||%s" % status]
    segs = [msh("ORU^R01", control_id),
            "PID|1||%s^^^H1^PI%s||%s||19491231|M" % (pid, "~%s^^^CHN^ID" % nid if nid else "",
                                                      name),
            "PV1|1|O|内科||||||||||||||||%s" % visit,
            "ORC|RE|%s|F%s" % (order, order),
            "OBR|1|%s|F%s|%s|||%s|||||||||||%s||||20240105090000||%s|%s"
            % (order, order, item, observed, accession, section, status)] + obx
    return "\r".join(segs) + "\r"


def frame(text, encoding="utf-8"):
    data = text.encode(encoding) if isinstance(text, str) else text
    return VT + data + FS + CR


def read_ack(sock):
    data = b""
    while not data.endswith(FS + CR):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def ack_fields(ack):
    text = ack.strip(VT + FS + CR).decode("utf-8", "replace")
    segs = {s.split("|")[0]: s.split("|") for s in text.split("\r") if s}
    return segs


class Client:
    """Our own MLLP client: one connection, one message at a time."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)

    def send(self, text, encoding="utf-8"):
        self.sock.sendall(frame(text, encoding))
        return ack_fields(read_ack(self.sock))

    def code(self, text, encoding="utf-8"):
        segs = self.send(text, encoding)
        return segs["MSA"][1], segs

    def close(self):
        self.sock.close()


def get(node, path):
    try:
        with urllib.request.urlopen(node.url(path), timeout=10) as r:
            return r.status, json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode("utf-8") or "{}")


class HL7Test(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.n = self.node(config_text="[hl7]\nidle_timeout = 3\n").start()
        self.c = Client(self.n.hl7_port)

    def tearDown(self):
        self.c.close()
        super().tearDown()

    def send_ok(self, text, encoding="utf-8"):
        code, segs = self.c.code(text, encoding)
        self.assertEqual(code, "AA", segs)
        return segs

    def test_oru_mllp_send_and_rest(self):
        path = os.path.join(self.tmp, "oru.hl7")
        with open(path, "w", encoding="utf-8") as f:
            f.write(oru("MS-1").replace("\r", "\n") + "\n")
            f.write(oru("MS-2", order="ORD2", item="LFT^肝功能^L", observed="20240201080000",
                        obx=["OBX|1|NM|ALT^谷丙转氨酶^L||35|U/L|9-50|N|||F",
                             "OBX|2|SN|CRP^C反应蛋白^L||<^5|mg/L||N|||F"]).replace("\r", "\n"))
        p = run([PYTHON, MLLP_SEND, "--loose", "-p", str(self.n.hl7_port), "-f", path,
                 "127.0.0.1"], timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(len(re.findall(r"MSA\|AA\|MS-\d", p.stdout)), 2, p.stdout)
        for who in ("P100", NID):
            st, body = get(self.n, "/api/v1/patients/%s/reports" % who)
            self.assertEqual(st, 200, body)
            self.assertEqual(body["patient_id"], "P100")
            self.assertEqual(body["total"], 2)
        lft, cbc = body["entry"]  # newest first
        self.assertEqual(lft["code"], {"code": "LFT", "display": "肝功能", "system": "L"})
        self.assertEqual(lft["result"][1]["value"], "<5")
        self.assertEqual(lft["result"][1]["value_type"], "SN")
        self.assertEqual(cbc["resourceType"], "DiagnosticReport")
        self.assertEqual(cbc["status"], "final")
        self.assertEqual(cbc["category"], "lab")
        self.assertEqual(cbc["identifier"], {"placer": "ORD1", "filler": "FORD1"})
        self.assertEqual(cbc["effective"], "20240105080000")
        self.assertEqual(cbc["issued"], "20240105090000")
        self.assertEqual(cbc["encounter"], "V100")
        self.assertEqual(cbc["orderer"], {"department": "内科"})
        self.assertEqual(cbc["performer"], {"institution": "H1", "department": "LAB"})
        self.assertEqual(cbc["source"], {"application": "LIS", "facility": "H1",
                                         "message_id": "MS-1"})
        wbc, hgb = cbc["result"]
        self.assertEqual(wbc["code"], {"code": "WBC", "display": "白细胞", "system": "L"})
        self.assertEqual((wbc["value"], wbc["unit"], wbc["reference_range"]),
                         ("6.5", "10*9/L", "3.5-9.5"))
        self.assertEqual((hgb["value"], hgb["interpretation"], hgb["status"]), ("180", "H",
                                                                                 "final"))
        # filters
        st, body = get(self.n, "/api/v1/patients/P100/reports?item=CBC")
        self.assertEqual([r["code"]["code"] for r in body["entry"]], ["CBC"])
        st, body = get(self.n, "/api/v1/patients/P100/reports?since=20240115")
        self.assertEqual([r["code"]["code"] for r in body["entry"]], ["LFT"])
        st, body = get(self.n, "/api/v1/patients/P100/reports?kind=exam")
        self.assertEqual(body["total"], 0)
        # one report by id
        st, one = get(self.n, "/api/v1/reports/%d" % cbc["id"])
        self.assertEqual(st, 200)
        self.assertEqual(one["result"], cbc["result"])
        self.assertEqual(one["history"], [])
        # unknown and malformed ids
        self.assertEqual(get(self.n, "/api/v1/patients/NOBODY/reports")[0], 404)
        self.assertEqual(get(self.n, "/api/v1/reports/999999")[0], 404)
        self.assertEqual(get(self.n, "/api/v1/reports/abc")[0], 400)
        self.assertEqual(get(self.n, "/api/v1/patients/P100/reports?kind=x")[0], 400)
        self.assertEqual(get(self.n, "/api/v1/patients/P100/reports?since=2024")[0], 400)
        self.assertEqual(get(self.n, "/api/v1/patients/a%20b/reports")[0], 400)
        # no patient names or ids in the log at info level
        log = self.n.output()
        for secret in ("王", "P100", NID):
            self.assertNotIn(secret, log)
        with urllib.request.urlopen(self.n.url("/metrics")) as r:
            m = r.read().decode()
        self.assertIn('huren_hl7_messages_total{ack="AA"} 2', m)

    def test_resident_id_by_the_publishers_rule(self):
        """PID-3 resident ids are checked by identity.c, the rule the directory publisher uses:
        a legacy 15-digit id is stored upgraded to 18 characters, lowercase x as X; an id with a
        right check digit but an impossible birth date is not taken as a resident id (AA, the
        patient stored under the local id), so nothing is accepted here that cannot be
        published."""
        legacy15 = "370102800101123"          # 1980-01-01, sequence 123
        upgraded = resident_id("37010219800101123")
        bad_date = resident_id("37010219801301123")  # month 13: MOD 11-2 alone accepts it
        for pid, nid, want in (("PL15", legacy15, upgraded), ("PBAD", bad_date, None),
                               ("PLOW", upgraded.replace("X", "x"), upgraded)):
            adt = "\r".join([msh("ADT^A01", "RID-" + pid),
                              "EVN|A01|20240105",
                              "PID|1||%s^^^H1^PI~%s^^^CHN^ID||王^五||19800101|M" % (pid, nid),
                              "PV1|1|O|内科||||||||||||||||V%s" % pid]) + "\r"
            self.send_ok(adt, "utf-8")
            st, v = get(self.n, "/api/v1/patients/%s/visits/V%s" % (pid, pid))
            self.assertEqual(st, 200, v)
            self.assertEqual(v["patient"].get("national_id"), want, pid)

    def test_gb18030_and_utf8_names(self):
        gb = oru("GB-1", pid="PGB", nid=NID2, name="李^四", item="GLU^葡萄糖^L")
        gb = gb.replace("UNICODE UTF-8", "GB18030")
        self.send_ok(gb, "gb18030")
        adt = "\r".join([msh("ADT^A01", "GB-2", charset="GB18030"),
                         "EVN|A01|20240105",
                         "PID|1||PGB^^^H1^PI~%s^^^CHN^ID||李^四||19800101|F" % NID2,
                         "PV1|1|I|心内科||||||||||||||||VGB|||||||||||||||||||||||||"
                         "20240105080000"]) + "\r"
        self.send_ok(adt, "gb18030")
        st, body = get(self.n, "/api/v1/patients/%s/reports" % NID2)
        self.assertEqual(body["entry"][0]["code"]["display"], "葡萄糖")
        st, v = get(self.n, "/api/v1/patients/PGB/visits/VGB")
        self.assertEqual(st, 200, v)
        self.assertEqual(v["patient"]["name"], "李^四")
        self.assertEqual(v["patient"]["national_id"], NID2)
        self.assertEqual(v["department"], "心内科")
        self.assertEqual(v["class"], "I")
        self.assertEqual(v["period"], {"start": "20240105080000"})
        # UTF-8 in a UTF-8 message, with an escape in the name
        self.send_ok(oru("U8-1", pid="PU8", nid=None, name="欧阳\\T\\娜娜^一"))
        adt2 = adt.replace("GB18030", "UNICODE UTF-8").replace("GB-2", "U8-2").replace(
            "PGB", "PU8").replace("VGB", "VU8").replace("李^四", "欧阳\\T\\娜娜^一").replace(
            "~%s^^^CHN^ID" % NID2, "")
        self.send_ok(adt2)
        st, v = get(self.n, "/api/v1/patients/PU8/visits/VU8")
        self.assertEqual(v["patient"]["name"], "欧阳&娜娜^一")

    def test_obx_before_obr_kept(self):
        # as some LIS write it: a result right after PID, then the order it belongs to
        segs = oru("PRE-1", pid="PPRE").split("\r")
        obr = [x for x in segs if x.startswith("OBR")][0]
        segs.remove(obr)
        segs.insert(segs.index([x for x in segs if x.startswith("OBX")][1]) + 1, obr)
        code, ack = self.c.code("\r".join(segs))
        self.assertEqual(code, "AA", ack)
        self.assertIn("OBX before it", ack["MSA"][3])
        st, body = get(self.n, "/api/v1/patients/PPRE/reports")
        self.assertEqual([o["code"]["code"] for o in body["entry"][0]["result"]], ["WBC", "HGB"])

    def test_resend_is_stored_once(self):
        for _ in range(3):
            segs = self.send_ok(oru("DUP-1", pid="PDUP"))
            self.assertEqual(segs["MSA"][2], "DUP-1")
        st, body = get(self.n, "/api/v1/patients/PDUP/reports")
        self.assertEqual(body["total"], 1)
        self.assertEqual(body["entry"][0]["version"], 1)
        with urllib.request.urlopen(self.n.url("/metrics")) as r:
            self.assertIn("huren_hl7_duplicate_total 2", r.read().decode())

    def test_every_message_is_audited(self):
        self.send_ok(oru("AUD-1", pid="PAUD"))
        self.send_ok(oru("AUD-1", pid="PAUD"))  # a re-send is a write attempt too
        with open(os.path.join(self.n.data, "audit.log"), encoding="utf-8") as f:
            entries = [json.loads(line) for line in f]
        mine = [e for e in entries if e["action"] == "hl7.store" and e["patient"] == "PAUD"]
        self.assertEqual(len(mine), 2)
        self.assertEqual(mine[0]["outcome"], "success")
        self.assertIn("AUD-1", mine[0]["object"])
        self.assertTrue(mine[0]["actor"].startswith("LIS^"))
        st, body = get(self.n, "/api/v1/patients/PAUD/reports")
        self.assertEqual(st, 200)
        with open(os.path.join(self.n.data, "audit.log"), encoding="utf-8") as f:
            reads = [json.loads(line) for line in f if '"records.read"' in line]
        self.assertEqual(reads[-1]["patient"], "PAUD", "the REST read is audited with its patient")

    def test_a40_merge(self):
        self.send_ok(oru("M-1", pid="OLD1", nid=None, order="O1"))
        self.send_ok(oru("M-2", pid="NEW1", nid=NID2, order="O2", visit="V-NEW"))
        a40 = "\r".join([msh("ADT^A40", "M-3"), "EVN|A40|20240106",
                         "PID|1||NEW1^^^H1^PI||王^小明", "MRG|OLD1^^^H1^PI"]) + "\r"
        self.send_ok(a40)
        for who in ("NEW1", "OLD1", NID2):
            st, body = get(self.n, "/api/v1/patients/%s/reports" % who)
            self.assertEqual(st, 200)
            self.assertEqual(body["total"], 2, who)
            self.assertEqual({r["patient_id"] for r in body["entry"]}, {"NEW1"})
        st, v = get(self.n, "/api/v1/patients/OLD1/visits/V100")
        self.assertEqual((st, v["patient"]["patient_id"]), (200, "NEW1"))
        # merging an unknown patient: AE, unknown key
        code, segs = self.c.code(a40.replace("M-3", "M-4").replace("OLD1", "GHOST"))
        self.assertEqual(code, "AE")
        self.assertEqual(segs["ERR"][3].split("^")[0], "204")

    def test_correction_keeps_history(self):
        self.send_ok(oru("C-1", pid="PCOR", order="OC"))
        st, body = get(self.n, "/api/v1/patients/PCOR/reports")
        rid = body["entry"][0]["id"]
        corr = oru("C-2", pid="PCOR", order="OC", status="C",
                   obx=["OBX|1|NM|WBC^白细胞^L||7.1|10*9/L|3.5-9.5|N|||C"])
        self.send_ok(corr)
        st, one = get(self.n, "/api/v1/reports/%d" % rid)
        self.assertEqual((one["version"], one["status"], one["result_status"]),
                         (2, "corrected", "C"))
        self.assertEqual([o["value"] for o in one["result"]], ["7.1"])
        self.assertEqual(len(one["history"]), 1)
        old = one["history"][0]
        self.assertEqual((old["version"], old["status"]), (1, "final"))
        self.assertEqual([o["value"] for o in old["result"]], ["6.5", "180"])
        self.assertEqual(old["source"]["message_id"], "C-1")
        self.assertIn("replaced_at", old)
        st, body = get(self.n, "/api/v1/patients/PCOR/reports")
        self.assertEqual(body["total"], 1)

    def test_exam_report_linked_by_accession(self):
        text = oru("R-1", pid="PRAD", order="RAD1", item="CT-HEAD^头颅CT平扫^L", section="CT",
                   accession="ACC123",
                   obx=["OBX|1|TX|IMP^印象^L||颅内未见明显异常。~脑室系统未见扩大。||||||F"])
        self.send_ok(text)
        st, body = get(self.n, "/api/v1/patients/PRAD/reports?kind=exam")
        self.assertEqual(body["total"], 1)
        r = body["entry"][0]
        self.assertEqual(r["category"], "exam")
        self.assertEqual(r["identifier"]["accession"], "ACC123")
        self.assertEqual(r["result"][0]["value"], "颅内未见明显异常。\n脑室系统未见扩大。")

    def test_dft_charges_sum_exactly(self):
        ft1 = ["FT1|%d|T%d||20240105||CG|%s^%s|||%s|%s|%s|" % (i + 1, i + 1, code, name, qty,
                                                              amt, price)
               for i, (code, name, qty, amt, price) in enumerate([
                   ("110200001", "CT平扫", "1", "120.50", "120.50"),
                   ("250101015", "血常规", "3", "", "10.33"),
                   ("120400001", "静脉注射", "0.1", "0.10", ""),
                   ("310300001", "心电图", "1", "0.20", "0.20")])]
        dft = "\r".join([msh("DFT^P03", "D-1", app="HIS"), "EVN|P03|20240105",
                         "PID|1||PDFT^^^H1^PI~%s^^^CHN^ID||赵^六" % NID,
                         "PV1|1|I|心内科||||||||||||||||VDFT"] + ft1 +
                        ["DG1|1|ICD-10|I21.9^急性心肌梗死^ICD-10||20240105|F",
                         "DG1|2|ICD-10|E11.9^2型糖尿病^ICD-10||20240105|F"]) + "\r"
        self.send_ok(dft)
        st, v = get(self.n, "/api/v1/patients/PDFT/visits/VDFT")
        self.assertEqual(st, 200, v)
        self.assertEqual([c["amount"] for c in v["charges"]], ["120.50", "30.99", "0.10", "0.20"])
        self.assertEqual(v["total"], "151.79")
        self.assertEqual(v["total_fen"], 15179)
        self.assertEqual(v["charges"][1]["unit_price_fen"], 1033)
        self.assertEqual(v["charges"][0]["code"], {"code": "110200001", "display": "CT平扫"})
        self.assertEqual([(d["code"]["code"], d["code"]["display"], d["type"])
                          for d in v["diagnoses"]],
                         [("I21.9", "急性心肌梗死", "F"), ("E11.9", "2型糖尿病", "F")])
        # another patient's visit, unknown visits
        self.assertEqual(get(self.n, "/api/v1/patients/P100/visits/VDFT")[0], 404)
        self.assertEqual(get(self.n, "/api/v1/patients/PDFT/visits/NOPE")[0], 404)
        self.assertEqual(get(self.n, "/api/v1/patients/PDFT/visits/a%21b")[0], 400)
        # an amount not exact to the fen is refused, nothing stored
        code, segs = self.c.code(dft.replace("D-1", "D-2").replace("VDFT", "VDFT2").replace(
            "120.50|120.50", "120.505|120.50"))
        self.assertEqual(code, "AE")
        self.assertEqual(get(self.n, "/api/v1/patients/PDFT/visits/VDFT2")[0], 404)

    def test_import_hl7_file(self):
        batch = ("FHS|^~\\&|LIS|H1\rBHS|^~\\&|LIS|H1\r" + oru("IMP-1", pid="PIMP") +
                 oru("IMP-2", pid="PIMP", order="O9", item="GLU^葡萄糖^L") + "BTS|2\rFTS|1\r")
        folder = os.path.join(self.tmp, "in")
        os.mkdir(folder)
        with open(os.path.join(folder, "batch.hl7"), "wb") as f:
            f.write(batch.encode())
        with open(os.path.join(folder, "framed.mllp"), "wb") as f:
            f.write(frame(oru("IMP-3", pid="PIMP", order="O10", item="K^钾^L")))
        self.n.stop()
        p = run([HUREN, "import", "--data", self.n.data, folder])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("HL7: 2 files, 3 messages: 3 stored, 0 duplicates, 0 refused", p.stdout)
        p = run([HUREN, "import", "--data", self.n.data, folder])
        self.assertIn("3 messages: 0 stored, 3 duplicates", p.stdout)
        self.n.start()
        self.c = Client(self.n.hl7_port)
        st, body = get(self.n, "/api/v1/patients/PIMP/reports")
        self.assertEqual(sorted(r["code"]["code"] for r in body["entry"]), ["CBC", "GLU", "K"])


class HL7HostileTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.n = self.node(config_text="[hl7]\nidle_timeout = 2\nmax_message = 1048576\n").start()

    def assert_refused(self, payload, codes=("AE", "AR"), pid="PBAD"):
        c = Client(self.n.hl7_port)
        c.sock.sendall(payload)
        ack = read_ack(c.sock)
        c.close()
        segs = ack_fields(ack)
        self.assertIn(segs["MSA"][1], codes, ack)
        self.assertEqual(get(self.n, "/api/v1/patients/%s/reports" % pid)[0], 404)
        return segs

    def still_serving(self, tag):
        c = Client(self.n.hl7_port)
        code, _ = c.code(oru("OK-" + tag, pid="PGOOD"))
        c.close()
        self.assertEqual(code, "AA")

    def test_bad_messages(self):
        good = oru("BAD-1", pid="PBAD")
        cases = {
            "no MSH": frame(good.split("\r", 1)[1]),
            "bad MSH-2": frame(good.replace("MSH|^~\\&|", "MSH|^^^^|", 1)),
            "OBX and no OBR": frame("\r".join(s for s in good.split("\r")
                                              if not s.startswith("OBR")) + "\r"),
            "OBR before PID": frame("\r".join(
                [good.split("\r")[0], good.split("\r")[4]] + good.split("\r")[1:4] +
                good.split("\r")[5:])),
            "missing PID-3": frame(oru("BAD-1", pid="", nid="")),
            "unsupported type": frame(good.replace("ORU^R01", "MFN^M01")),
            "unsupported event": frame(good.replace("ORU^R01", "ADT^A13")),
            "unsupported version": frame(good.replace("|2.5.1|", "|3.0|")),
            "wrong charset label": frame(good.encode("gb18030")),
            "unsupported charset": frame(good.replace("UNICODE UTF-8", "UNICODE UTF-16")),
            # found by fuzz_hl7_ingest: quantity times unit price past 64 bits (was UB)
            "charge overflow": frame("\r".join([
                msh("DFT^P03", "BAD-OVF", app="HIS"), "EVN|P03|20240105",
                "PID|1||PBAD^^^H1^PI||赵^六", "PV1|1|I|心内科||||||||||||||||VBAD",
                "FT1|1|T1||20240105||CG|110200001^CT平扫|||999999999999999||"
                "99999999999999.99|"]) + "\r"),
        }
        for what, payload in cases.items():
            with self.subTest(what):
                self.assert_refused(payload)
                self.still_serving(what.replace(" ", "_"))
        log = self.n.output()
        self.assertIn("BAD-1", log)  # refusals are logged with the control id
        self.assertNotIn("王", log)

    def test_huge_frame_closed(self):
        s = socket.create_connection(("127.0.0.1", self.n.hl7_port), timeout=30)
        sent, closed = 0, False
        chunk = b"OBX|1|ST|X||" + b"y" * (1 << 20)
        try:
            s.sendall(VT + msh("ORU^R01", "HUGE").encode() + b"\r")
            while sent < 200 << 20:
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            closed = True
        if not closed:
            s.settimeout(10)
            try:
                closed = s.recv(100) == b""
            except OSError:
                closed = True
        s.close()
        self.assertTrue(closed, "a 200 MB frame must close the connection")
        self.assertLess(sent, 200 << 20)
        self.still_serving("after_huge")
        wait_for(lambda: "larger than" in self.n.output(), 10, "the log line")

    def test_endless_frame_and_noise(self):
        s = socket.create_connection(("127.0.0.1", self.n.hl7_port), timeout=30)
        s.sendall(VT + b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|NEVER|P|2.5.1\rPID|1||PBAD")
        noise = socket.create_connection(("127.0.0.1", self.n.hl7_port), timeout=30)
        noise.sendall(os.urandom(65536).replace(VT, b"\0"))
        self.still_serving("during_endless")
        s.settimeout(15)
        self.assertEqual(s.recv(100), b"")  # closed by the idle timeout, no ACK
        s.close()
        noise.close()
        wait_for(lambda: refusals(self.n)["idle"] >= 1 and refusals(self.n)["framing"] >= 1, 30,
                 "the idle and framing refusals in /metrics")
        self.assertEqual(get(self.n, "/api/v1/patients/PBAD/reports")[0], 404)
        with open("/proc/%d/status" % self.n.proc.proc.pid) as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        self.assertLess(rss, 200 * 1024, "memory stays bounded (kB)")


def refusals(node):
    """{stage: count} of huren_hl7_refused_total in /metrics."""
    with urllib.request.urlopen(node.url("/metrics"), timeout=10) as r:
        text = r.read().decode("utf-8")
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'^huren_hl7_refused_total\{stage="(\w+)"\} (\d+)$', text, re.M)}


class HL7RefusalMetricsTest(NodeTestCase):
    """Regression: huren_hl7_refused_total missed what the listener refuses before ingest."""

    def setUp(self):
        super().setUp()
        self.n = self.node(config_text="[hl7]\nidle_timeout = 600\nmax_message = 4096\n"
                           "max_connections = 2\n").start()

    def wait_stage(self, stage, want):
        wait_for(lambda: refusals(self.n).get(stage) == want, 30,
                 "%s refusals == %d (now %s)" % (stage, want, refusals(self.n)))

    def test_every_stage_is_counted(self):
        self.assertEqual(set(refusals(self.n)),
                         {"connection", "framing", "oversize", "idle", "parse", "ingest"})
        self.assertEqual(set(refusals(self.n).values()), {0})
        # connection cap: two held open, a third is closed without an ACK
        held = [Client(self.n.hl7_port) for _ in range(2)]
        self.assertEqual(held[0].code(oru("CAP-1"))[0], "AA")
        third = socket.create_connection(("127.0.0.1", self.n.hl7_port), timeout=30)
        try:
            third.sendall(frame(oru("CAP-3")))
            self.assertEqual(read_ack(third), b"")
        except OSError:
            pass  # reset by the listener: refused just the same
        third.close()
        self.wait_stage("connection", 1)
        for c in held:
            c.close()
        # framing: bytes outside frames, and a connection closed inside a frame
        for payload in [b"garbage outside any frame\r\n", VT + msh("ORU^R01", "CUT").encode()]:
            wait_for(lambda: self.connections_open() < 2, 30, "connections to close")
            with socket.create_connection(("127.0.0.1", self.n.hl7_port), timeout=30) as c:
                c.sendall(payload)
        self.wait_stage("framing", 2)
        # a frame over max_message
        wait_for(lambda: self.connections_open() < 2, 30, "connections to close")
        with socket.create_connection(("127.0.0.1", self.n.hl7_port), timeout=30) as c:
            try:
                c.sendall(VT + b"MSH|" + b"x" * 8000)
                c.recv(100)
            except OSError:
                pass
        self.wait_stage("oversize", 1)
        # a frame that does not parse, and a message ingest refuses
        c = Client(self.n.hl7_port)
        c.sock.sendall(frame("NOT|HL7\r"))
        self.assertIn(ack_fields(read_ack(c.sock))["MSA"][1], ("AE", "AR"))
        self.assertIn(c.code(msh("ZZZ^Z99", "UNSUPPORTED") + "\rPID|1||P9\r")[0], ("AE", "AR"))
        c.close()
        self.wait_stage("parse", 1)
        self.wait_stage("ingest", 1)
        self.assertEqual(refusals(self.n)["idle"], 0)

    def connections_open(self):
        with urllib.request.urlopen(self.n.url("/metrics"), timeout=10) as r:
            text = r.read().decode("utf-8")
        return int(re.search(r"^huren_hl7_connections_active (\d+)$", text, re.M).group(1))


class HL7CrashTest(NodeTestCase):

    def test_kill9_during_stream(self):
        n = self.node().start()
        acked, stop = [], threading.Event()

        def stream(k):
            try:
                c = Client(n.hl7_port)
                for i in range(100000):
                    if stop.is_set():
                        break
                    cid = "K%d-%d" % (k, i)
                    code, _ = c.code(oru(cid, pid="PK%d" % k, nid=None, order=cid))
                    if code == "AA":
                        acked.append((k, cid))
            except (OSError, KeyError):
                pass

        threads = [threading.Thread(target=stream, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) >= 400, 60, "some acknowledged messages")
        n.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        got = list(acked)
        self.assertGreater(len(got), 0)
        n.start()
        for k in range(4):
            st, body = get(n, "/api/v1/patients/PK%d/reports?limit=100000" % k)
            have = {r["identifier"]["placer"] for r in body.get("entry", [])}
            missing = [cid for kk, cid in got if kk == k and cid not in have]
            self.assertEqual(missing, [], "acknowledged but lost")
            for r in body.get("entry", []):
                self.assertEqual(len(r["result"]), 2)  # never half a message


if __name__ == "__main__":
    unittest.main()
