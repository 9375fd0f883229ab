"""test_hl7_corpus.py: HL7 v2 messages we did not write (tests/data/hl7, sources in its
SOURCES.md: NIST, nHapi's tests, vendors' examples; versions 2.1 to 2.8) sent over MLLP with
python3-hl7's mllp_send: every one is acknowledged AA except the one charge without an amount,
and a few stored values are read back through the REST API. Then names in the character sets
of HL7 table 0211, taken from the PS3.5 examples Debian's python3-pydicom ships (GB 18030,
ISO 2022 IR 87 Japanese, IR 149 Korean), and the framings senders use (LF, CRLF, trailing
blanks), each checked against what pydicom itself decodes."""

import json
import os
import re
import socket
import unittest
import urllib.error
import urllib.request

from harness import NodeTestCase, run

PYTHON = "/usr/bin/python3"
MLLP_SEND = "/usr/bin/mllp_send"
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "hl7")
CHARSETS = "/usr/lib/python3/dist-packages/pydicom/data/charset_files"
VT, FS, CR = b"\x0b", b"\x1c", b"\r"

# Messages an interface engine takes but huren refuses on purpose, with the ERR text expected.
REFUSED = {
    # a charge without an amount would make a claim total wrong: AE naming FT1-11
    "mieweb-dft-2.5-no-amount.hl7": "FT1 1: FT1-11",
}


def corpus():
    names = sorted(n for n in os.listdir(DATA) if n.endswith(".hl7"))
    out = []
    for i, name in enumerate(names):
        with open(os.path.join(DATA, name), encoding="utf-8") as f:
            text = f.read()
        # nHapi's examples share one control id: make each unique so that none is taken for a
        # re-send of another (MSH-10 is the 10th field counting MSH-1 as the separator)
        f = text.split("\n", 1)[0].split("|")
        f[9] = "%s.%d" % (f[9], i)
        text = "|".join(f) + "\n" + text.split("\n", 1)[1]
        out.append((name, f[9], text))
    return out


def get(node, path):
    try:
        with urllib.request.urlopen(node.url(path), timeout=10) as r:
            return r.status, json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode("utf-8") or "{}")


def send_raw(port, data):
    """One frame over our own socket; the ACK's segments by name."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(VT + data + FS + CR)
        ack = b""
        while not ack.endswith(FS + CR):
            chunk = s.recv(65536)
            if not chunk:
                break
            ack += chunk
    text = ack.strip(VT + FS + CR).decode("utf-8", "replace")
    return {seg.split("|")[0]: seg.split("|") for seg in text.split("\r") if seg}


def pydicom_name(filename):
    """PatientName of a PS3.5 example: the ideographic group's raw bytes and pydicom's text."""
    import pydicom  # Debian's python3-pydicom, for /usr/bin/python3
    ds = pydicom.dcmread(os.path.join(CHARSETS, filename))
    raw = ds.get_item(0x00100010).value
    groups = raw.split(b"=")
    group = groups[1] if len(groups) > 1 else groups[0]
    pn = ds.PatientName
    text = pn.ideographic if len(groups) > 1 else str(pn)
    return group.rstrip(b" "), text


class HL7CorpusTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.n = self.node(config_text="[hl7]\nidle_timeout = 30\n").start()

    def reports(self, pid):
        st, body = get(self.n, "/api/v1/patients/%s/reports" % pid)
        self.assertEqual(st, 200, (pid, body))
        return body["entry"]

    def test_corpus_over_mllp_send(self):
        msgs = corpus()
        self.assertGreaterEqual(len(msgs), 30)
        versions = {m[2].split("\n", 1)[0].split("|")[11].split("^")[0] for m in msgs}
        self.assertTrue({"2.1", "2.2", "2.3", "2.4", "2.5", "2.5.1", "2.6", "2.8"} <= versions,
                        versions)
        path = os.path.join(self.tmp, "corpus.hl7")
        with open(path, "w", encoding="utf-8") as f:
            for _, _, text in msgs:
                f.write(text.rstrip("\n") + "\n")
        p = run([PYTHON, MLLP_SEND, "--loose", "-p", str(self.n.hl7_port), "-f", path,
                 "127.0.0.1"], timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout)
        acks = {}
        for seg in re.split(r"[\r\n]+", p.stdout):
            if seg.startswith("MSA|"):
                f = seg.split("|")
                acks[f[2]] = (f[1], f[3] if len(f) > 3 else "")
        for name, control_id, _ in msgs:
            with self.subTest(name):
                self.assertIn(control_id, acks, p.stdout)
                code, text = acks[control_id]
                if name in REFUSED:
                    self.assertEqual(code, "AE")
                    self.assertIn(REFUSED[name], text)
                else:
                    self.assertEqual(code, "AA", (name, text))
        self.check_stored_values()

    def check_stored_values(self):
        # NIST lead case: LOINC code with its alternate (local) identifier kept aside
        lead = [r for r in self.reports("9817566735") if r["identifier"].get("filler") == "9700123"]
        self.assertEqual(lead[0]["code"], {"code": "10368-9", "display": "Lead BldC-mCnc",
                                           "system": "LN"})
        obs = lead[0]["result"][0]
        self.assertEqual((obs["value"], obs["unit"], obs["value_type"]), ("25", "ug/dl", "NM"))
        self.assertEqual(lead[0]["status"], "corrected")  # case 3 replaced case 1/2
        # Cerner: a CE value with only a text (no code) kept as "^text^system"
        cul = self.reports("9339683996")[0]["result"][0]
        self.assertEqual((cul["value_type"], cul["value"]), ("CE", "^Bordetella pertussis^SNM"))
        # nHapi's 2.8 messages: every value type stored with its type; NM that is no number
        # kept as text; OBR without order numbers keyed by the message
        values = {}
        for r in self.reports("1711114"):
            for o in r["result"]:
                values.setdefault(o["value_type"], o.get("value"))
        for vt in ("XTN", "XPN", "XAD", "XCN", "XON", "CX", "ED", "RP", "MO", "SN", "CF", "CP",
                   "AD", "DT", "TM", "ID", "IS", "TN", "FT", "ST"):
            self.assertIn(vt, values, sorted(values))
        self.assertEqual(values["XTN"], "XTNValue")
        self.assertEqual(values["FT"], "This\nis\nA Test\nMoreText\nSomeMoreText")
        self.assertNotIn("NM", values)  # "NMValue" is no number: stored as ST text
        self.assertIn("NMValue", [o.get("value") for r in self.reports("1711114")
                                  for o in r["result"]])
        # OBX-2 empty in 2.1: text
        self.assertIn("TX", values)
        # Roqua 2.4: OBR-4 empty, stored without a code
        roqua = self.reports("123")[0]
        self.assertEqual(roqua["code"], {})
        self.assertEqual(roqua["identifier"], {"filler": "2599"})
        self.assertEqual(len(roqua["result"]), 7)
        # LabCorp 2.2: the local id is PID-3, PID-2 was the external id
        labcorp = self.reports("20923085580")[0]
        self.assertEqual(labcorp["code"]["code"], "083824")
        self.assertEqual(len(labcorp["result"]), 4)
        # ADT in 2.8 with only PID-2 (nHapi): the patient is known
        st, _ = get(self.n, "/api/v1/patients/12345/reports")
        self.assertIn(st, (200, 404))  # no reports, but not refused: the ACK said AA
        # Cerner 2.3 A08 in 8859/1, PID-3 repeated: the first of a local type is the id
        st, v = get(self.n, "/api/v1/patients/25106376/visits/0")
        self.assertIn(st, (200, 404))

    def test_alternate_identifier_and_text_only_obr4(self):
        with open(os.path.join(DATA, "nist-oru-2.5.1-lead-case1.hl7"), encoding="utf-8") as f:
            nist = f.read().replace("\n", "\r")
        # the same order as a LIS with only local codes sends it: identifier empty, the code in
        # the alternate identifier (OBR-4.4-6, OBX-3.4-6)
        alt = nist.replace("NIST-100929110701660", "ALT-1").replace(
            "|10368-9^Lead BldC-mCnc^LN^3456543^Blood lead test^99USI|",
            "|^^^3456543^Blood lead test^99USI|").replace(
            "|10368-9^Lead BldC-mCnc^LN|", "|^^^3456543^Blood lead test^99USI|")
        segs = send_raw(self.n.hl7_port, alt.encode())
        self.assertEqual(segs["MSA"][1], "AA", segs)
        r = self.reports("9817566735")[0]
        self.assertEqual(r["code"], {"code": "3456543", "display": "Blood lead test",
                                     "system": "99USI"})
        self.assertEqual(r["result"][0]["code"]["code"], "3456543")
        # text only: stored with its text, no code, another report of the same order
        txt = nist.replace("NIST-100929110701660", "TXT-1").replace(
            "|9700123^Lab^", "|9700124^Lab^").replace(
            "|10368-9^Lead BldC-mCnc^LN^3456543^Blood lead test^99USI|", "|^Blood lead test|")
        segs = send_raw(self.n.hl7_port, txt.encode())
        self.assertEqual(segs["MSA"][1], "AA", segs)
        self.assertIn("OBR-4 has no code", segs["MSA"][3])  # AA, with what was noted
        r = [x for x in self.reports("9817566735") if x["identifier"]["filler"] == "9700124"]
        self.assertEqual(r[0]["code"], {"display": "Blood lead test"})

    def adt_with_name(self, control_id, charset, name_bytes, visit):
        with open(os.path.join(DATA, "nhapi-adt-2.3-a01-zin.hl7"), encoding="utf-8") as f:
            adt = f.read().replace("\n", "\r")
        adt = adt.replace("|1049691900|P|2.3", "|%s|P|2.3||||||%s" % (control_id, charset), 1)
        adt = adt.replace("|0200001198", "|" + visit)
        head, rest = adt.encode("ascii").split(b"BARDOUN^LEA SACHA", 1)
        return head + name_bytes + rest

    def test_table_0211_names_from_pydicom(self):
        cases = [  # file, MSH-18 as senders write it
            ("chrX2.dcm", "GB 18030-2000"),      # GB18030: 王^小东
            ("chrX1.dcm", "UNICODE UTF-8"),      # UTF-8: 王^小東
            ("chrH31.dcm", "~ISO IR87"),         # ISO 2022 Japanese: 山田^太郎
            ("chrKoreanMulti.dcm", "ISO IR149"),  # KS X 1001 with its G1 escape: 김희중
        ]
        for i, (fname, charset) in enumerate(cases):
            with self.subTest(fname):
                raw, text = pydicom_name(fname)
                visit = "V%d" % i
                msg = self.adt_with_name("CS-%d" % i, charset, raw, visit)
                segs = send_raw(self.n.hl7_port, msg)
                self.assertEqual(segs["MSA"][1], "AA", segs)
                st, v = get(self.n, "/api/v1/patients/0216128/visits/%s" % visit)
                self.assertEqual(st, 200, v)
                self.assertEqual(v["patient"]["name"], text)
        # vendor spellings name the same sets
        for i, charset in enumerate(("gb18030", "GBK", "GB2312", "UTF8", "utf-8")):
            raw, text = pydicom_name("chrX2.dcm" if charset[0] in "gG" else "chrX1.dcm")
            msg = self.adt_with_name("SP-%d" % i, charset, raw, "S%d" % i)
            self.assertEqual(send_raw(self.n.hl7_port, msg)["MSA"][1], "AA", charset)
            st, v = get(self.n, "/api/v1/patients/0216128/visits/S%d" % i)
            self.assertEqual(v["patient"]["name"], text)

    def test_framings(self):
        with open(os.path.join(DATA, "roqua-oru-2.4-empty-obr4.hl7"), encoding="utf-8") as f:
            lf = f.read()
        variants = {
            "LF": lf.replace("8da2b665b7", "F-LF"),
            "CRLF": lf.replace("8da2b665b7", "F-CRLF").replace("\n", "\r\n"),
            "CR and trailing blanks": lf.replace("8da2b665b7", "F-TR").replace("\n", "\r")
            + "\r\n  \r\n\r\n",
            "Z-segment first, no EVN": lf.replace("8da2b665b7", "F-Z").replace(
                "\nPID|", "\nZXX|1|local\nPID|", 1),
        }
        for what, text in variants.items():
            with self.subTest(what):
                segs = send_raw(self.n.hl7_port, text.encode())
                self.assertEqual(segs["MSA"][1], "AA", segs)
        self.assertEqual(len(self.reports("123")[0]["result"]), 7)


class HL7RefusalTest(NodeTestCase):
    """What is still refused names segment and field in MSA-3 and ERR."""

    def test_refusals_name_the_field(self):
        n = self.node().start()
        with open(os.path.join(DATA, "nist-oru-2.5.1-lead-case1.hl7"), encoding="utf-8") as f:
            nist = f.read().replace("\n", "\r")
        cases = {
            "PID-3": nist.replace("9817566735^^^MPI&2.16.840.1.113883.19.3.2.1&ISO^MR", ""),
            "MSH-12": nist.replace("|P|2.5.1|", "|P|3.0|"),
            "MSH-18": nist.replace("PHLabReport-NoAck", "").replace(
                "|P|2.5.1|||||||||", "|P|2.5.1||||||UNICODE UTF-16|||"),
            "MSH-9": nist.replace("ORU^R01^ORU_R01", "ADT^A13"),
        }
        for field, text in cases.items():
            with self.subTest(field):
                segs = send_raw(n.hl7_port, text.encode())
                self.assertIn(segs["MSA"][1], ("AE", "AR"), segs)
                self.assertIn(field, segs["MSA"][3])
                self.assertIn(field, "|".join(segs["ERR"]))
                # ERR-2, the error location: segment^occurrence^field
                self.assertEqual(segs["ERR"][2], "%s^1^%s" % tuple(field.split("-")))
        self.assertEqual(get(n, "/api/v1/patients/9817566735/reports")[0], 404)


if __name__ == "__main__":
    unittest.main()
