"""test_dicom_limits.py: one hostile client never stops the node (issue 11, DICOM side).

- datasets nested 20,000 sequences deep (a generator here) are refused before DCMTK parses them:
  over C-STORE (storescu, and raw PDVs), STOW-RS (curl), as C-FIND and C-MOVE identifiers
  (findscu/movescu with a query file, and raw PDVs), and by `huren import`; the node goes on;
- half-open and silent sockets do not delay anybody: echoscu answers while 4 associations hang
  after 3 bytes of their A-ASSOCIATE-RQ and 200 sockets say nothing; beyond max_negotiating a
  new request is closed at once; a request that never completes is closed after
  negotiation_timeout; each is counted in /metrics;
- with the audit log on a full file system, C-STORE and C-FIND are refused (A700) and nothing
  is answered as success; once there is room again they work.
No timing is asserted: bounds are generous timeouts of the clients (echoscu -to 5)."""

import os
import re
import socket
import struct
import subprocess
import urllib.request

from dicomgen import element, instance_bytes, uid
from dul import (BASIC_TEXT_SR, EXPLICIT_LE, FIND_STUDY, IMPLICIT_LE, MOVE_STUDY, Association,
                 associate_rq, command)
from harness import HUREN, NodeTestCase, find, run, wait_for

DEEP = 20000            # the attack campaign's depth: DCMTK's parser overflows a thread's stack
DEEP_FOR_DCMTK = 2000   # for files DCMTK's own clients must encode (their writer is quadratic)
CONTENT_SEQ = (0x0040, 0xA730)


def nested(levels, explicit=True):
    """ContentSequence nested `levels` deep, undefined lengths, a text value at the bottom."""
    if explicit:
        seq = struct.pack("<HH", *CONTENT_SEQ) + b"SQ\0\0" + struct.pack("<I", 0xFFFFFFFF)
        leaf = element(0x0040, 0xA160, "UT", "leaf")
    else:
        seq = struct.pack("<HHI", CONTENT_SEQ[0], CONTENT_SEQ[1], 0xFFFFFFFF)
        leaf = struct.pack("<HHI", 0x0040, 0xA160, 4) + b"leaf"
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    close = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return (seq + item) * levels + leaf + close * levels


def deep_file(path, levels, sop):
    """A Part-10 instance (explicit VR LE) with the nesting in place of its ContentSequence."""
    placeholder = element(CONTENT_SEQ[0], CONTENT_SEQ[1], "SQ", b"")
    data = instance_bytes(uid(7), uid(7, 1), sop, extra=[CONTENT_SEQ + ("SQ", b"")])
    with open(path, "wb") as f:
        f.write(data.replace(placeholder, nested(levels)))
    return path


def dataset(elements, levels, explicit):
    """A bare dataset: (group, elem, vr, text) elements in tag order, then the nesting."""
    out = b""
    for g, e, vr, v in elements:
        if explicit:
            out += element(g, e, vr, v)
        else:
            b = v.encode() + (b"\0" if len(v) % 2 and vr == "UI" else b" " if len(v) % 2 else b"")
            out += struct.pack("<HHI", g, e, len(b)) + b
    return out + nested(levels, explicit)


def query_file(path, levels, study):
    """A C-FIND/C-MOVE query file (no meta header, as findscu writes them) that nests."""
    with open(path, "wb") as f:
        f.write(dataset([(0x0008, 0x0052, "CS", "STUDY"), (0x0020, 0x000D, "UI", study)],
                        levels, True))
    return path


class DicomLimitsTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.n = None

    def start(self, conf=""):
        self.n = self.node(config_text="[dicom]\n" + conf + "\n[dicom_aes]\nSTORESCP = "
                           "127.0.0.1:%d\n" % self.free_port_for_dest()).start()
        return self.n

    def free_port_for_dest(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def echo(self):
        return run(["echoscu", "-to", "5", "-ta", "5", "-td", "5", "-aec", "HUREN", "127.0.0.1",
                    str(self.n.dicom_port)], timeout=10)

    def store(self, path):
        return run(["storescu", "-v", "-aec", "HUREN", "127.0.0.1", str(self.n.dicom_port), path],
                   timeout=120)

    def metrics(self):
        with urllib.request.urlopen(self.n.url("/metrics"), timeout=10) as r:
            return r.read().decode()

    def metric(self, name):
        m = re.search(r"^%s (\d+)$" % re.escape(name), self.metrics(), re.M)
        return int(m.group(1)) if m else None

    def assert_node_goes_on(self):
        """The node is alive, answers C-ECHO, and stores a normal instance."""
        self.assertTrue(self.n.proc.alive(), self.n.output()[-3000:])
        self.assertEqual(self.echo().returncode, 0)
        ok = os.path.join(self.tmp, "ok-%d.dcm" % os.getpid())
        with open(ok, "wb") as f:
            f.write(instance_bytes(uid(8), uid(8, 1), uid(8, 1, len(os.listdir(self.tmp)))))
        p = self.store(ok)
        self.assertIn("Store Response (Success)", p.stdout)

    def test_request_instance_uid(self):
        """The request's Affected SOP Instance UID against the dataset's: a request naming no
        valid UID (dcmsend sends "31" for a UID of VR UN) is stored by the dataset's UID, as
        storescp does; two valid UIDs that differ are refused and nothing is stored."""
        self.start()
        sop = uid(9, 1, 1)
        ds = dataset([(0x0008, 0x0016, "UI", BASIC_TEXT_SR), (0x0008, 0x0018, "UI", sop),
                      (0x0010, 0x0020, "LO", "P9"), (0x0020, 0x000D, "UI", uid(9)),
                      (0x0020, 0x000E, "UI", uid(9, 1))], 1, True)
        a = Association(self.n.dicom_port, BASIC_TEXT_SR, EXPLICIT_LE)
        self.assertEqual(a.request(command(0x0001, BASIC_TEXT_SR, 1, uid(9, 1, 2)), ds), 0xA900)
        self.assertEqual(a.request(command(0x0001, BASIC_TEXT_SR, 2, "31"), ds), 0x0000)
        a.release()
        self.assertIn("names no valid SOP instance UID", self.n.output())
        got = [r.get((0x0008, 0x0018)) for r in find(
            self.n, "IMAGE", ["SOPInstanceUID", "StudyInstanceUID=" + uid(9),
                              "SeriesInstanceUID=" + uid(9, 1)])]
        self.assertEqual(got, [sop])

    # ---- nesting --------------------------------------------------------------------------

    def test_deep_cstore(self):
        self.start()
        path = deep_file(os.path.join(self.tmp, "deep.dcm"), DEEP_FOR_DCMTK, uid(7, 1, 1))
        p = self.store(path)
        self.assertIn("Store Response (Error: DataSetDoesNotMatchSOPClass)", p.stdout)
        # the attack's size, as raw PDVs, in both VR encodings
        for explicit, ts in ((True, EXPLICIT_LE), (False, IMPLICIT_LE)):
            sop = uid(7, 1, 2 if explicit else 3)
            ds = dataset([(0x0008, 0x0016, "UI", BASIC_TEXT_SR), (0x0008, 0x0018, "UI", sop),
                          (0x0010, 0x0020, "LO", "P7"), (0x0020, 0x000D, "UI", uid(7)),
                          (0x0020, 0x000E, "UI", uid(7, 1))], DEEP, explicit)
            a = Association(self.n.dicom_port, BASIC_TEXT_SR, ts)
            self.assertEqual(a.request(command(0x0001, BASIC_TEXT_SR, 1, sop), ds), 0xA900)
            a.release()
        self.assertIn("nested deeper than 64", self.n.output())
        self.assert_node_goes_on()
        self.assertGreaterEqual(self.metric("huren_dicom_depth_refused_total"), 3)
        self.assertEqual([r.get((0x0008, 0x0018)) for r in find(
            self.n, "IMAGE", ["SOPInstanceUID", "StudyInstanceUID=" + uid(7),
                              "SeriesInstanceUID=*"])], [])

    def test_deep_identifiers(self):
        self.start()
        q = query_file(os.path.join(self.tmp, "query.dcm"), DEEP_FOR_DCMTK, uid(7))
        p = run(["findscu", "-v", "-S", "-aec", "HUREN", "127.0.0.1", str(self.n.dicom_port), q])
        self.assertRegex(p.stdout, r"Final Find Response \(Error: DataSetDoesNotMatchSOPClass",
                         p.stdout)
        self.assertNotIn("Pending", p.stdout)
        p = run(["movescu", "-v", "-S", "-aec", "HUREN", "-aem", "STORESCP", "127.0.0.1",
                 str(self.n.dicom_port), q])
        self.assertRegex(p.stdout, r"Final Move Response \(Error: DataSetDoesNotMatchSOPClass",
                         p.stdout)
        p = run(["getscu", "-v", "-S", "-aec", "HUREN", "-od", self.tmp, "127.0.0.1",
                 str(self.n.dicom_port), q])
        self.assertRegex(p.stdout, r"C-GET Response \(Error: DataSetDoesNotMatchSOPClass",
                         p.stdout)
        for sop_class, field, dest in ((FIND_STUDY, 0x0020, None), (MOVE_STUDY, 0x0021,
                                                                     "STORESCP")):
            ident = dataset([(0x0008, 0x0052, "CS", "STUDY"), (0x0020, 0x000D, "UI", uid(7))],
                            DEEP, True)
            a = Association(self.n.dicom_port, sop_class, EXPLICIT_LE)
            self.assertEqual(a.request(command(field, sop_class, 1, move_destination=dest),
                                       ident), 0xA900)
            a.release()
        self.assertIn("identifier sequences nested deeper than 64", self.n.output())
        self.assert_node_goes_on()
        self.assertGreaterEqual(self.metric("huren_dimse_identifiers_refused_total"), 4)

    def test_deep_stow_and_import(self):
        self.start()
        path = deep_file(os.path.join(self.tmp, "deep.dcm"), DEEP, uid(7, 1, 4))
        hdr, out = os.path.join(self.tmp, "h"), os.path.join(self.tmp, "b")
        body = os.path.join(self.tmp, "body")
        with open(path, "rb") as f, open(body, "wb") as b:
            b.write(b"--B\r\nContent-Type: application/dicom\r\n\r\n" + f.read() + b"\r\n--B--\r\n")
        p = run(["curl", "-s", "--noproxy", "*", "-o", out, "-D", hdr, "-w", "%{http_code}",
                 "-H", 'Content-Type: multipart/related; type="application/dicom"; boundary=B',
                 "-H", "Accept: application/dicom+json", "--data-binary", "@" + body,
                 self.n.url("/dicom-web/studies")], timeout=60)
        self.assertIn(p.stdout.strip()[-3:], ("400", "409"), p.stdout)
        with open(out) as f:
            answer = f.read()
        self.assertIn("00081198", answer)  # FailedSOPSequence
        self.assertRegex(answer, r"49152|C000")  # FailureReason 0xC000
        self.assert_node_goes_on()
        data = os.path.join(self.tmp, "import-data")
        p = run([HUREN, "import", "--data", data, path], timeout=120)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("1 rejected", p.stdout)
        self.assertIn("nested deeper than 64", p.stdout)

    # ---- negotiation ----------------------------------------------------------------------

    def test_half_open_and_silent_sockets(self):
        self.start()
        rq = associate_rq("HUREN", "SLOW", [(1, "1.2.840.10008.1.1", [IMPLICIT_LE])])
        held = []
        try:
            for _ in range(4):
                s = socket.create_connection(("127.0.0.1", self.n.dicom_port), timeout=10)
                s.sendall(rq[:3])
                held.append(s)
            for _ in range(200):
                held.append(socket.create_connection(("127.0.0.1", self.n.dicom_port),
                                                     timeout=10))
            # today's stall was acse_timeout (30 s) per socket; the bound here is echoscu's own
            self.assertEqual(self.echo().returncode, 0)
            self.assert_node_goes_on()
            self.assertEqual(self.metric("huren_dicom_associations_negotiating"), 4)
            self.assertGreater(self.metric(
                'huren_dicom_connections_closed_total{reason="silent"}'), 0)
        finally:
            for s in held:
                s.close()

    def test_negotiation_cap_and_timeout(self):
        self.start("max_negotiating = 2\nnegotiation_timeout = 2\n")
        rq = associate_rq("HUREN", "SLOW", [(1, "1.2.840.10008.1.1", [IMPLICIT_LE])])
        held = []
        try:
            for _ in range(2):
                s = socket.create_connection(("127.0.0.1", self.n.dicom_port), timeout=30)
                s.sendall(rq[:3])
                held.append(s)
            wait_for(lambda: self.metric("huren_dicom_associations_negotiating") == 2, 30,
                     "two requests negotiating")
            third = socket.create_connection(("127.0.0.1", self.n.dicom_port), timeout=30)
            third.sendall(rq[:3])
            self.assertEqual(third.recv(10), b"")  # closed at once, not left waiting
            third.close()
            self.assertEqual(self.metric(
                'huren_dicom_connections_closed_total{reason="negotiating_cap"}'), 1)
            # the two that never finish are closed after negotiation_timeout
            for s in held:
                self.assertEqual(s.recv(10), b"")
            self.assertEqual(self.metric(
                'huren_dicom_connections_closed_total{reason="negotiation_timeout"}'), 2)
            self.assert_node_goes_on()
        finally:
            for s in held:
                s.close()

    # ---- audit before answer --------------------------------------------------------------

    def test_audit_full_disk(self):
        mnt = os.path.join(self.tmp, "auditfs")
        os.mkdir(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                          stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("needs a small tmpfs (mount as root) for a full file system")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        # full before the node starts: its audit log has not a byte of room (a partly used
        # last page would still take a few entries)
        filler = os.path.join(mnt, "filler")
        try:
            with open(filler, "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:
            pass  # full
        self.start("\n[audit]\nfile = %s/audit.log\n" % mnt)
        path = os.path.join(self.tmp, "i1.dcm")
        with open(path, "wb") as f:
            f.write(instance_bytes(uid(9), uid(9, 1), uid(9, 1, 1), patient_id="PA"))
        p = self.store(path)
        self.assertRegex(p.stdout, r"Store Response \(Refused: OutOfResources", p.stdout)
        p = run(["findscu", "-v", "-S", "-aec", "HUREN", "-k", "QueryRetrieveLevel=STUDY",
                 "-k", "PatientID=PA", "-k", "StudyInstanceUID", "127.0.0.1",
                 str(self.n.dicom_port)])
        self.assertNotIn("Pending", p.stdout)  # no match left before its audit entry
        self.assertRegex(p.stdout, r"Final Find Response \(Refused: OutOfResources", p.stdout)
        p = run(["movescu", "-v", "-S", "-aec", "HUREN", "-aem", "STORESCP", "-k",
                 "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + uid(9), "127.0.0.1",
                 str(self.n.dicom_port)])
        self.assertRegex(p.stdout, r"Final Move Response \(Refused: OutOfResources", p.stdout)
        self.assertIn("audit entry could not be written", self.n.output())
        self.assertGreaterEqual(self.metric("huren_dimse_audit_failures_total"), 3)
        os.unlink(filler)
        self.assertIn("Store Response (Success)", self.store(path).stdout)
        self.assertEqual(len(find(self.n, "STUDY", ["StudyInstanceUID", "PatientID=PA"])), 1)


if __name__ == "__main__":
    import unittest
    unittest.main()
