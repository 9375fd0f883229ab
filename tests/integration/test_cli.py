"""test_cli.py: the huren command line: version, help, check-config with good and bad files,
flags that override the file, refusal to serve off loopback without TLS, and `huren import`
(recursive, skips non-DICOM files, rejects broken ones with reasons, idempotent)."""

import json
import os
import unittest
import urllib.request

from dicomgen import uid, write_instance
from harness import HUREN, NodeTestCase, find, run

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class CliTest(NodeTestCase):

    def conf(self, text):
        path = os.path.join(self.tmp, "t.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version_and_help(self):
        p = run([HUREN, "version"])
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^huren \d+\.\d+\.\d+")
        for cmd in ("serve", "import", "check-config"):
            p = run([HUREN, cmd, "--help"])
            self.assertEqual(p.returncode, 0)
            self.assertIn("usage: huren " + cmd, p.stdout)
        self.assertEqual(run([HUREN, "frobnicate"]).returncode, 2)

    def test_check_config(self):
        p = run([HUREN, "check-config", "-c", os.path.join(REPO, "conf", "huren.conf")])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("configuration OK", p.stdout)
        bad = self.conf("[node]\nrole = hospital\n\n[dicom]\nport = 70000\n")
        p = run([HUREN, "check-config", "-c", bad])
        self.assertEqual(p.returncode, 2)
        self.assertIn(bad + ":5: [dicom] port", p.stdout)
        p = run([HUREN, "check-config", "-c", self.conf("[dicom]\naet = MUCH_TOO_LONG_AE_TITLE\n")])
        self.assertIn(":2: [dicom] aet", p.stdout)
        p = run([HUREN, "check-config", "-c", self.conf("[dicom]\nprot = 104\n")])
        self.assertIn(":2: [dicom] prot: unknown key", p.stdout)
        p = run([HUREN, "check-config", "-c", self.conf("[dicom_aes]\nPACS = nohostport\n")])
        self.assertEqual(p.returncode, 2)
        p = run([HUREN, "check-config", "--dicom-port", "abc"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--dicom-port", p.stdout)
        p = run([HUREN, "check-config", "--bind", "0.0.0.0"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("requires TLS", p.stdout)
        p = run([HUREN, "check-config", "-c", os.path.join(self.tmp, "missing.conf")])
        self.assertEqual(p.returncode, 2)

    def test_serve_refuses_non_loopback_without_tls(self):
        p = run([HUREN, "serve", "--bind", "0.0.0.0", "--data", os.path.join(self.tmp, "d")],
                timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("requires TLS", p.stdout)

    def test_import(self):
        src = os.path.join(self.tmp, "in")
        os.makedirs(os.path.join(src, "a", "b"))
        for i in range(3):
            write_instance(os.path.join(src, "a", "b" if i else "", "i%d.dcm" % i),
                           study_uid=uid(5), series_uid=uid(5, 1), sop_uid=uid(5, 1, i),
                           patient_id="IMP1", patient_name="李^四", charset="GB18030")
        with open(os.path.join(src, "README.txt"), "w") as f:
            f.write("not dicom\n")
        good = open(os.path.join(src, "a", "i0.dcm"), "rb").read()
        with open(os.path.join(src, "truncated.dcm"), "wb") as f:
            f.write(good[:len(good) - 40])
        write_instance(os.path.join(src, "nouid.dcm"), study_uid=uid(5), series_uid=uid(5, 1),
                       sop_uid=uid(5, 1, 99), omit=[(0x0020, 0x000D)])
        data = os.path.join(self.tmp, "data")
        p = run([HUREN, "import", "--data", data, src])
        self.assertEqual(p.returncode, 1, p.stdout)  # something was rejected
        self.assertIn("3 stored, 0 duplicates, 0 replaced, 1 skipped (not DICOM), 2 rejected",
                      p.stdout)
        self.assertIn("truncated.dcm", p.stdout)
        self.assertIn("StudyInstanceUID is missing", p.stdout)
        p = run([HUREN, "import", "--data", data, os.path.join(src, "a")])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("0 stored, 3 duplicates", p.stdout)
        self.assertEqual(os.listdir(os.path.join(data, "tmp")), [])
        n = self.node()
        n.data = data
        n.start()
        r = find(n, "STUDY", ["PatientID=IMP1", "NumberOfStudyRelatedInstances", "PatientName"])
        self.assertEqual(len(r), 1)
        self.assertEqual(r[0][(0x0020, 0x1208)], "3")
        self.assertEqual(r[0][(0x0010, 0x0010)], "李^四")
        with urllib.request.urlopen(n.url("/api/v1/health")) as resp:
            h = json.load(resp)
        self.assertEqual(h["archive"]["instances"], 3)
        self.assertEqual(h["role"], "hospital")
        self.assertGreater(h["disk_free_bytes"], 0)
        with urllib.request.urlopen(n.url("/metrics")) as resp:
            text = resp.read().decode()
        self.assertIn("huren_archive_instances 3", text)
        self.assertEqual(n.stop(), 0, "SIGTERM ends the node cleanly")


if __name__ == "__main__":
    unittest.main()
