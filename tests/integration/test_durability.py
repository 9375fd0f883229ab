"""test_durability.py: kill -9 the node while storescu sends; after a restart every instance
that storescu saw acknowledged is present with an identical dataset, no temp file is left,
and the bytes on disk are exactly those of the indexed instances (small instances go to pack
files; the durability of files of their own is checked with packing turned off)."""

import json
import os
import re
import struct
import time
import unittest
import urllib.request

from dicomgen import uid, write_instance
from harness import NodeTestCase, run, wait_for

COUNT = 400


def dataset_bytes(path):
    """The bytes after the meta header (Explicit VR Little Endian files)."""
    data = open(path, "rb").read()
    assert data[128:132] == b"DICM"
    glen = struct.unpack("<I", data[140:144])[0]
    return data[144 + glen:]


def stored_count(node):
    try:
        with urllib.request.urlopen(node.url("/metrics"), timeout=2) as r:
            m = re.search(r"^huren_instances_stored_total (\d+)", r.read().decode(), re.M)
            return int(m.group(1)) if m else 0
    except OSError:
        return 0


class DurabilityTest(NodeTestCase):

    def test_kill9_while_storing_packed(self):
        self.kill9_while_storing(None)

    def test_kill9_while_storing_own_files(self):
        self.kill9_while_storing("[archive]\npack_max_instance = 0\n")

    def kill9_while_storing(self, config_text):
        src = os.path.join(self.tmp, "src")
        os.mkdir(src)
        files = {}
        for i in range(COUNT):
            sop = uid(7, 1, i)
            files[sop] = write_instance(os.path.join(src, "%04d.dcm" % i), study_uid=uid(7),
                                        series_uid=uid(7, 1), sop_uid=sop, rows=128, cols=128,
                                        instance_number=str(i), patient_id="DUR")
        n = self.node(config_text=config_text).start()
        sender = self.process(["storescu", "-v", "-aec", "HUREN", "127.0.0.1",
                               str(n.dicom_port)] + [files[s] for s in sorted(files)], "storescu")
        wait_for(lambda: stored_count(n) >= 40 or not sender.alive(), 120, "some stores")
        n.kill9()
        sender.proc.wait(timeout=60)
        log = sender.output()
        acked, current = [], None
        for line in log.splitlines():
            m = re.search(r"Sending file: (\S+)", line)
            if m:
                current = m.group(1)
            elif "Received Store Response (Success)" in line and current:
                acked.append(current)
                current = None
        self.assertGreater(len(acked), 0, log[-2000:])
        self.assertLess(len(acked), COUNT, "the kill came before the end of the transfer")

        n.start()
        got = os.path.join(self.tmp, "got")
        os.mkdir(got)
        p = run(["getscu", "-S", "-aec", "HUREN", "-od", got, "-k", "QueryRetrieveLevel=STUDY",
                 "-k", "StudyInstanceUID=" + uid(7), "127.0.0.1", str(n.dicom_port)], timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout[-2000:])
        retrieved = {}
        for f in os.listdir(got):
            retrieved[f] = dataset_bytes(os.path.join(got, f))
        by_sop = {}
        for f, ds in retrieved.items():
            m = re.search(rb"\x08\x00\x18\x00UI..(" + re.escape(uid(7, 1).encode()) + rb"\.\d+)",
                          ds)
            by_sop[m.group(1).rstrip(b"\0").decode()] = ds
        sops_of = {v: k for k, v in files.items()}
        for path in acked:
            sop = sops_of[path]
            self.assertIn(sop, by_sop, "acknowledged instance %s lost" % sop)
            self.assertEqual(by_sop[sop], dataset_bytes(path), "dataset of %s changed" % sop)
        self.assertEqual(os.listdir(os.path.join(n.data, "tmp")), [], "temp files left")
        # nothing half-written: the bytes on disk (files and packs, whose uncommitted tail is
        # cut at open) are exactly the bytes of the indexed instances
        on_disk = sum(os.path.getsize(os.path.join(d, f))
                      for d, _, fs in os.walk(os.path.join(n.data, "blobs")) for f in fs)
        with urllib.request.urlopen(n.url("/api/v1/health"), timeout=10) as r:
            archive = json.load(r)["archive"]
        self.assertEqual(archive["instances"], len(by_sop))
        self.assertEqual(on_disk, archive["bytes"])
        self.assertEqual(sum(len(ds) for ds in by_sop.values()) > 0, True)


if __name__ == "__main__":
    unittest.main()
