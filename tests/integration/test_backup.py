"""test_backup.py: `huren backup` while the node runs and storescu keeps sending, then wipe,
`huren restore`, start: every instance acknowledged before the backup began is there
byte-identical (WADO-URI, and C-GET for a study), the HL7 results are there, the restored
audit log verifies; `backup --verify` catches a changed byte; restore refuses a used folder."""

import json
import os
import re
import shutil
import struct
import unittest
import urllib.parse
import urllib.request

from dicomgen import uid, write_instance
from harness import HUREN, NodeTestCase, run, wait_for
from test_hl7 import Client, get, oru

PYDICOM_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
PYDICOM_PICK = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "rtstruct.dcm",
                "SC_rgb.dcm", "emri_small.dcm"]
LIVE = 800


def acked(log):
    """The files storescu saw acknowledged, in order, from its -v output."""
    out, current = [], None
    for line in log.splitlines():
        m = re.search(r"Sending file: (\S+)", line)
        if m:
            current = m.group(1)
        elif "Received Store Response (Success)" in line and current:
            out.append(current)
            current = None
    return out


def uids(path):
    """(study, series, sop) UIDs of a DICOM file (pydicom)."""
    import pydicom
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


def wado(node, study, series, sop):
    q = urllib.parse.urlencode({"requestType": "WADO", "studyUID": study, "seriesUID": series,
                                "objectUID": sop, "contentType": "application/dicom"})
    with urllib.request.urlopen(node.url("/wado?" + q), timeout=30) as r:
        return r.read()


def dataset_bytes(data):
    assert data[128:132] == b"DICM"
    glen = struct.unpack("<I", data[140:144])[0]
    return data[144 + glen:]


def stored_count(node):
    try:
        with urllib.request.urlopen(node.url("/api/v1/health"), timeout=2) as r:
            return json.load(r)["archive"]["instances"]
    except OSError:
        return 0


class BackupTest(NodeTestCase):

    def make_files(self):
        src = os.path.join(self.tmp, "src")
        os.mkdir(src)
        before = [os.path.join(PYDICOM_FILES, f) for f in PYDICOM_PICK
                  if os.path.exists(os.path.join(PYDICOM_FILES, f))]
        # small (packed) and large (own file: over pack_max_instance) generated instances
        for i in range(20):
            before.append(write_instance(os.path.join(src, "b%02d.dcm" % i), study_uid=uid(18),
                                         series_uid=uid(18, 1), sop_uid=uid(18, 1, i),
                                         instance_number=str(i), patient_id="BAK",
                                         rows=16 if i % 5 else 800, cols=16 if i % 5 else 800))
        live = [write_instance(os.path.join(src, "l%03d.dcm" % i), study_uid=uid(19),
                               series_uid=uid(19, 1), sop_uid=uid(19, 1, i),
                               instance_number=str(i), patient_id="LIVE", rows=64, cols=64)
                for i in range(LIVE)]
        return before, live

    def store(self, n, files, name):
        return self.process(["storescu", "-v", "-aec", "HUREN", "127.0.0.1", str(n.dicom_port)]
                            + files, name)

    def test_backup_while_storing_wipe_restore(self):
        before, live = self.make_files()
        n = self.node().start()
        p = self.store(n, before, "storescu-before")
        p.proc.wait(timeout=120)
        stored_before = acked(p.output())
        self.assertGreaterEqual(len(stored_before), 20, p.output()[-2000:])
        c = Client(n.hl7_port)
        code, _ = c.code(oru("BK-1", pid="PBAK"))
        c.close()
        self.assertEqual(code, "AA")
        st, reports = get(n, "/api/v1/patients/PBAK/reports")  # audited: the log has entries
        self.assertEqual(st, 200)

        sender = self.store(n, live, "storescu-live")
        wait_for(lambda: stored_count(n) >= len(stored_before) + 20 or not sender.alive(), 120,
                 "the live batch to start")
        acked_at_start = acked(sender.output())  # all acknowledged before the backup began
        self.assertLess(len(acked_at_start), LIVE, "the backup began while storescu sent")
        dest = os.path.join(self.tmp, "backup")
        b = run([HUREN, "backup", dest, "--data", n.data], timeout=300)
        self.assertEqual(b.returncode, 0, b.stdout)
        sender.proc.wait(timeout=300)
        self.assertIn("backup complete", b.stdout)
        self.assertRegex(b.stdout, r"audit log: [1-9]\d* entries")
        v = run([HUREN, "backup", "--verify", dest], check=True)
        self.assertIn("backup OK", v.stdout)

        keep = stored_before + acked_at_start
        originals = {}
        for f in keep:
            originals[f] = wado(n, *uids(f))
        n.stop()

        shutil.rmtree(n.data)
        r = run([HUREN, "restore", dest, "--data", n.data], check=True)
        self.assertIn("restored", r.stdout)
        again = run([HUREN, "restore", dest, "--data", n.data])
        self.assertEqual(again.returncode, 1, again.stdout)
        self.assertIn("already holds an archive", again.stdout)
        a = run([HUREN, "audit", "verify", "--data", n.data], check=True)
        self.assertIn("audit log OK", a.stdout)

        n.start()
        for f in keep:
            self.assertEqual(wado(n, *uids(f)), originals[f], "instance of %s changed" % f)
            if "/src/" in f:
                with open(f, "rb") as fh:
                    self.assertEqual(dataset_bytes(originals[f]), dataset_bytes(fh.read()), f)
        self.assertGreaterEqual(stored_count(n), len(keep))
        got = os.path.join(self.tmp, "got")
        os.mkdir(got)
        g = run(["getscu", "-S", "-aec", "HUREN", "-od", got, "-k", "QueryRetrieveLevel=STUDY",
                 "-k", "StudyInstanceUID=" + uid(18), "127.0.0.1", str(n.dicom_port)],
                timeout=300)
        self.assertEqual(g.returncode, 0, g.stdout[-2000:])
        self.assertEqual(len(os.listdir(got)), 20)
        st, again_reports = get(n, "/api/v1/patients/PBAK/reports")
        self.assertEqual(st, 200)
        self.assertEqual(again_reports, reports)

    def test_verify_catches_damage_and_restore_refuses(self):
        src = os.path.join(self.tmp, "src")
        os.mkdir(src)
        files = [write_instance(os.path.join(src, "%d.dcm" % i), study_uid=uid(20),
                                series_uid=uid(20, 1), sop_uid=uid(20, 1, i)) for i in range(5)]
        data = os.path.join(self.tmp, "data")
        run([HUREN, "import", "--data", data] + files, check=True)
        dest = os.path.join(self.tmp, "b")
        run([HUREN, "backup", dest, "--data", data], check=True)
        self.assertEqual(run([HUREN, "backup", dest, "--data", data]).returncode, 1)
        pack = os.path.join(dest, "blobs", "pack", "00000000")
        with open(pack, "r+b") as f:
            f.seek(300)
            byte = f.read(1)
            f.seek(300)
            f.write(bytes([byte[0] ^ 1]))
        v = run([HUREN, "backup", "--verify", dest])
        self.assertEqual(v.returncode, 1, v.stdout)
        self.assertIn("SHA-256 differs", v.stdout)
        r = run([HUREN, "restore", dest, "--data", os.path.join(self.tmp, "r")])
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "r", "index.db")))


if __name__ == "__main__":
    unittest.main()
