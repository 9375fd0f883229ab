"""test_hostile.py: bad input gets the right refusal, stores nothing, and the node goes on
serving: datasets without required UIDs, UIDs with path characters or too long, a calling AE
that is not allowed, a C-MOVE without any key, and garbage bytes on the DICOM port."""

import os
import socket

from dicomgen import uid, write_instance
from harness import NodeTestCase, find, run

SOP_UID = (0x0008, 0x0018)


class HostileDicomTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        conf = "[dicom]\nallowed_calling_aes = GOODSCU, FINDSCU, ECHOSCU\n"
        self.n = self.node(config_text=conf).start()

    def send(self, path, aet="GOODSCU"):
        return run(["storescu", "-v", "-aet", aet, "-aec", "HUREN", "127.0.0.1",
                    str(self.n.dicom_port), path])

    def stored_sops(self):
        return sorted(x.get(SOP_UID) for x in find(
            self.n, "IMAGE", ["SOPInstanceUID"], model="-P",
            extra=["-k", "PatientID=*", "-k", "StudyInstanceUID=*", "-k", "SeriesInstanceUID=*"]))

    def instance(self, name, **kw):
        args = dict(study_uid=uid(9), series_uid=uid(9, 1), sop_uid=uid(9, 1, 1))
        args.update(kw)
        return write_instance(os.path.join(self.tmp, name), **args)

    def assert_refused(self, p):
        self.assertRegex(p.stdout, r"Store Response \((?!Success)", p.stdout)

    def test_missing_series_uid(self):
        p = self.send(self.instance("noseries.dcm", omit=[(0x0020, 0x000E)]))
        self.assert_refused(p)
        self.assertEqual(self.stored_sops(), [])

    def test_hostile_uids(self):
        for name, bad in [("slash.dcm", "1.2.3/../../etc"), ("dots.dcm", "1..2.3"),
                          ("long.dcm", "1." + "2" * 70)]:
            p = self.send(self.instance(name, sop_uid=bad))
            self.assertNotIn("Store Response (Success)", p.stdout, name)
        p = self.send(self.instance("badstudy.dcm", study_uid="../1.2"))
        self.assert_refused(p)
        self.assertEqual(self.stored_sops(), [])
        ok = self.send(self.instance("good.dcm"))
        self.assertIn("Store Response (Success)", ok.stdout)
        self.assertEqual(self.stored_sops(), [uid(9, 1, 1)])
        blobs = os.path.join(self.n.data, "blobs")
        for root, _, files in os.walk(blobs):
            for f in files:
                self.assertNotIn("1.2.826", f, "no file name is built from a UID")

    def test_calling_ae_not_allowed(self):
        p = self.send(self.instance("x.dcm"), aet="INTRUDER")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.stored_sops(), [])
        self.assertEqual(run(["echoscu", "-aet", "ECHOSCU", "-aec", "HUREN", "127.0.0.1",
                              str(self.n.dicom_port)]).returncode, 0)

    def test_move_without_keys_and_unknown_destination(self):
        self.send(self.instance("x.dcm"))
        p = run(["movescu", "-v", "-S", "-aet", "GOODSCU", "-aec", "HUREN", "-aem", "NOWHERE",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + uid(9),
                 "127.0.0.1", str(self.n.dicom_port)])
        self.assertRegex(p.stdout.lower(), r"a801|destination ?unknown")

    def test_garbage_on_the_port(self):
        for payload in [b"\x00" * 10, b"GET / HTTP/1.1\r\n\r\n", os.urandom(4096),
                        b"\x01\x00\x00\xff\xff\xff\xff"]:
            with socket.create_connection(("127.0.0.1", self.n.dicom_port), timeout=5) as s:
                try:
                    s.sendall(payload)
                    s.settimeout(5)
                    s.recv(100)
                except OSError:
                    pass
        self.assertEqual(run(["echoscu", "-aet", "ECHOSCU", "-aec", "HUREN", "127.0.0.1",
                              str(self.n.dicom_port)]).returncode, 0)
        self.assertTrue(self.n.healthy())


if __name__ == "__main__":
    import unittest
    unittest.main()
