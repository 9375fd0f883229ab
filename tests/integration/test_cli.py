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
        for cmd in ("serve", "import", "check-config", "migrate"):
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

    def test_check_config_checks_files_like_serve(self):
        """Every file the configuration names is checked before serve would use it: each bad
        case is refused on a line naming the file, section and key; serve refuses the same."""
        pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), pki], check=True)
        good = ("[http]\ntls_cert = {p}/server.crt\ntls_key = {p}/server.key\n"
                "tls_client_ca = {p}/ca.crt\n[directory]\ntls_cert = {p}/peer.crt\n"
                "tls_key = {p}/peer.key\ntls_ca = {p}/ca.crt\n[claims]\n"
                "key = {p}/claims-signer.key\ncert = {p}/claims-signer.crt\n"
                "chain = {p}/ca.crt\n[node]\ndata_dir = {d}\n").format(
                    p=pki, d=os.path.join(self.tmp, "new", "data"))
        p = run([HUREN, "check-config", "-c", self.conf(good)])
        self.assertEqual(p.returncode, 0, p.stdout)
        plain = os.path.join(self.tmp, "plain-file")
        with open(plain, "w") as f:
            f.write("not a folder")
        cases = [  # (replace, with, expected line)
            ("{}/server.crt".format(pki), os.path.join(pki, "missing.crt"),
             "[http] tls_cert: %s/missing.crt: No such file or directory" % pki),
            ("tls_key = {}/server.key".format(pki), "tls_key = %s/peer.key" % pki,
             "[http] tls_key: %s/peer.key is not the key of %s/server.crt" % (pki, pki)),
            ("tls_client_ca = {}/ca.crt".format(pki), "tls_client_ca = %s/server.key" % pki,
             "[http] tls_client_ca: %s/server.key: no PEM certificate in it" % pki),
            ("tls_cert = {p}/peer.crt\ntls_key = {p}/peer.key".format(p=pki),
             "tls_cert = {p}/wrongpurpose.crt\ntls_key = {p}/wrongpurpose.key".format(p=pki),
             "[directory] tls_cert: %s/wrongpurpose.crt: not a TLS client certificate" % pki),
            ("tls_cert = {p}/peer.crt\ntls_key = {p}/peer.key".format(p=pki),
             "tls_cert = {p}/expired.crt\ntls_key = {p}/expired.key".format(p=pki),
             "[directory] tls_cert: %s/expired.crt (" % pki),
            ("data_dir = " + os.path.join(self.tmp, "new", "data"),
             "data_dir = " + os.path.join(plain, "data"),
             "[node] data_dir: %s/data cannot be made: %s is not a folder" % (plain, plain)),
            ("[claims]", "[clams]", "[clams]: unknown section (did you mean [claims]?)"),
            ("[node]", "[directory]\nqualified_from = 20260101\nqualified_to = 20250101\n[node]",
             "[directory] qualified_from 20260101 is after qualified_to 20250101"),
        ]
        for old, new, expected in cases:
            self.assertIn(old, good)
            path = self.conf(good.replace(old, new, 1))
            p = run([HUREN, "check-config", "-c", path])
            self.assertEqual(p.returncode, 2, (expected, p.stdout))
            self.assertIn("huren: " + path + ":", p.stdout)
            self.assertIn(expected, p.stdout)
        # serve runs the same checks first and does not start
        path = self.conf(good.replace("tls_key = {}/server.key".format(pki),
                                      "tls_key = %s/peer.key" % pki, 1))
        p = run([HUREN, "serve", "-c", path], timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("is not the key of", p.stdout)
        self.assertIn("not starting", p.stdout)

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
