"""test_dicomweb.py: DICOMweb (PS3.18) on a node over plain HTTP on loopback, with urllib/
http.client, storescu/findscu and the npm package dicomweb-client under node.

QIDO-RS at every level with each matching kind (exact result sets), includefield, limit/offset;
WADO-RS retrieval byte-identical to the stored files, metadata, frames, rendered JPEG/PNG,
thumbnails, WADO-URI; STOW-RS then C-FIND and WADO; and the hostile matrix (malformed multipart,
wrong types, huge bodies and limits, unknown keys, bad UIDs): clear status, nothing stored."""

import hashlib
import http.client
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import tempfile
import unittest
import urllib.parse

from dicomgen import instance_bytes, uid, write_instance
from harness import Node, NodeTestCase, find, run

HERE = os.path.dirname(os.path.abspath(__file__))
S1, S2, S3, S4 = uid(1), uid(2), uid(3), uid(4)
MF_SERIES, MF_SOP = uid(4, 2), uid(4, 2, 1)
MF_PIXELS = bytes(range(128)) + bytes(range(128, 256))  # two 8x8 frames of 8-bit... as 16-bit
CORPUS = [
    ("P001", "Zhang^San=张^三", "ISO_IR 192", S1, "20260110", "081500", "ACC001",
     [(uid(1, 1), "CT", 3), (uid(1, 2), "CT", 2)]),
    ("P002", "Wang^Xiaoming=王^小明", "GB18030", S2, "20260215", "143000", "ACC002",
     [(uid(2, 1), "MR", 2)]),
    ("P002", "Wang^Xiaoming=王^小明", "GB18030", S3, "20250601", "090000", "ACC003",
     [(uid(3, 1), "CR", 1)]),
    ("P003", "Müller^Hans", "ISO_IR 100", S4, "20261120", "230000", "ACC004",
     [(uid(4, 1), "CT", 1)]),
]
DS = lambda s: s.encode("ascii")  # noqa: E731


def make_corpus(folder):
    paths = []
    for pid, name, cs, study, date, time_, acc, series in CORPUS:
        for si, (series_uid, modality, count) in enumerate(series, 1):
            for i in range(1, count + 1):
                p = os.path.join(folder, "%s.%d.dcm" % (series_uid, i))
                write_instance(p, study_uid=study, series_uid=series_uid,
                               sop_uid="%s.%d" % (series_uid, i), patient_id=pid,
                               patient_name=name, charset=cs, modality=modality,
                               study_date=date, study_time=time_, accession=acc,
                               series_number=str(si), instance_number=str(i),
                               extra=[(0x0028, 0x1050, "DS", DS("100")),
                                      (0x0028, 0x1051, "DS", DS("400"))])
                paths.append(p)
    # a two-frame instance in study S4
    p = os.path.join(folder, "mf.dcm")
    write_instance(p, study_uid=S4, series_uid=MF_SERIES, sop_uid=MF_SOP, patient_id="P003",
                   patient_name="Müller^Hans", charset="ISO_IR 100", modality="CT",
                   study_date="20261120", study_time="230000", accession="ACC004",
                   series_number="2", pixel_bytes=MF_PIXELS,
                   extra=[(0x0028, 0x0008, "IS", DS("2 "))])
    paths.append(p)
    return paths


def request(node, path, method="GET", headers=None, body=None, timeout=60):
    """(status, headers dict lower-case, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        return r.status, {k: ", ".join(v) if k != "warning" else v for k, v in hdrs.items()}, data
    finally:
        c.close()


def raw_request(node, method, path, headers, body):
    """Like request(), over a plain socket that keeps reading when the server answers (and
    closes) before the whole body is sent, as an early 413 or 415 does."""
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %d\r\n" % (
        method, path, len(body))
    head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=60) as s:
        try:
            s.sendall(head.encode() + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                got = s.recv(65536)
                if not got:
                    break
                data += got
        except ConnectionResetError:
            pass
    status = int(data.split(b" ", 2)[1])
    return status, None, data.split(b"\r\n\r\n", 1)[1]


def qido(node, path, **params):
    q = urllib.parse.urlencode(params)
    status, hdrs, body = request(node, path + ("?" + q if q else ""))
    return status, hdrs, (json.loads(body) if status == 200 else None)


def tag_values(results, tag):
    return sorted(r[tag]["Value"][0] for r in results if "Value" in r.get(tag, {}))


def param(content_type, name):
    for p in content_type.split(";")[1:]:
        k, _, v = p.strip().partition("=")
        if k.lower() == name:
            return v.strip('"')
    return None


def parse_multipart(content_type, body):
    """[(headers dict lower-case, bytes)] of a multipart body."""
    boundary = param(content_type, "boundary").encode()
    delim = b"\r\n--" + boundary
    data = b"\r\n" + body
    assert data.startswith(delim), "body does not open with the boundary"
    parts = []
    pos = len(delim)
    while True:
        if data[pos:pos + 2] == b"--":
            return parts
        assert data[pos:pos + 2] == b"\r\n"
        end_h = data.index(b"\r\n\r\n", pos + 2)
        hdrs = {}
        for line in data[pos + 2:end_h].decode().split("\r\n"):
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        nxt = data.index(delim, end_h + 4)
        parts.append((hdrs, data[end_h + 4:nxt]))
        pos = nxt + len(delim)


def multipart_body(parts, boundary="HurenTestBoundary", types=None):
    out = b""
    for i, p in enumerate(parts):
        ct = (types[i] if types else "application/dicom")
        out += b"--" + boundary.encode() + b"\r\nContent-Type: " + ct.encode() + b"\r\n\r\n"
        out += p + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


ACCEPT_MULTIPART = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def stow_headers(boundary="HurenTestBoundary"):
    return {"Content-Type": 'multipart/related; type="application/dicom"; boundary=%s' % boundary,
            "Accept": "application/dicom+json"}


def jpeg_size(data):
    assert data[:2] == b"\xff\xd8", "no JPEG SOI"
    assert data[-2:] == b"\xff\xd9", "no JPEG EOI"
    i = 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        seglen = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + seglen
    raise AssertionError("no SOF marker")


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def stored_bytes(node):
    """{SOP instance UID: bytes} of every stored instance, read where the index says it lies (a
    file of its own, or a range of a shared pack file)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(node.data, "index.db"), uri=True)
    out = {}
    try:
        for sop, name, off, size in db.execute(
                "SELECT sop_instance_uid, blob_name, blob_offset, blob_size FROM instances"
                " WHERE blob_name IS NOT NULL"):
            with open(os.path.join(node.data, "blobs", name), "rb") as f:
                f.seek(off)
                out[sop] = f.read(size)
    finally:
        db.close()
    return out


def blob_hashes(node):
    return {sha(b): sop for sop, b in stored_bytes(node).items()}


def sha(b):
    return hashlib.sha256(b).hexdigest()


class DicomwebReadTest(unittest.TestCase):
    """One node with the corpus stored by storescu; every test only reads."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="huren-it-")
        cls.node = Node(cls.tmp).start()
        try:
            files = make_corpus(cls.tmp)
            p = run(["storescu", "-aec", "HUREN", "127.0.0.1", str(cls.node.dicom_port)] + files)
            assert p.returncode == 0, p.stdout
        except Exception:
            cls.node.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        if os.environ.get("HUREN_KEEP_TMP"):
            print("kept", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def studies(self, **params):
        status, _, res = qido(self.node, "/dicom-web/studies", **params)
        return tag_values(res, "0020000D") if status == 200 else ([] if status == 204 else status)

    # ---- QIDO-RS ----

    def test_study_matching(self):
        self.assertEqual(self.studies(), [S1, S2, S3, S4])
        self.assertEqual(self.studies(PatientID="P002"), [S2, S3])
        self.assertEqual(self.studies(PatientID="P00*"), [S1, S2, S3, S4])
        self.assertEqual(self.studies(PatientName="王*"), [S2, S3])        # ideographic group
        self.assertEqual(self.studies(PatientName="*^小明"), [S2, S3])
        self.assertEqual(self.studies(PatientName="张^三"), [S1])
        self.assertEqual(self.studies(PatientName="wang*"), [S2, S3])      # case-insensitive PN
        self.assertEqual(self.studies(PatientName="Müller^Hans"), [S4])
        self.assertEqual(self.studies(StudyDate="20260101-20261231"), [S1, S2, S4])
        self.assertEqual(self.studies(StudyDate="-20251231"), [S3])
        self.assertEqual(self.studies(StudyDate="20260215"), [S2])
        self.assertEqual(self.studies(ModalitiesInStudy="CT"), [S1, S4])
        self.assertEqual(self.studies(ModalitiesInStudy="MR,CR"), [S2, S3])
        self.assertEqual(self.studies(AccessionNumber="ACC003"), [S3])
        self.assertEqual(self.studies(AccessionNumber="ACC00?"), [S1, S2, S3, S4])
        self.assertEqual(self.studies(StudyInstanceUID="%s,%s" % (S1, S3)), [S1, S3])
        self.assertEqual(self.studies(**{"00100020": "P003"}), [S4])      # by tag
        self.assertEqual(self.studies(PatientID="NOBODY"), [])

    def test_study_attributes(self):
        status, hdrs, res = qido(self.node, "/dicom-web/studies", PatientID="P002",
                                 StudyDate="20260215")
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("application/dicom+json"))
        (s,) = res
        self.assertEqual(s["00100010"], {"vr": "PN", "Value": [
            {"Alphabetic": "Wang^Xiaoming", "Ideographic": "王^小明"}]})
        self.assertEqual(s["00201208"], {"vr": "IS", "Value": [2]})
        self.assertEqual(s["00201206"], {"vr": "IS", "Value": [1]})
        self.assertEqual(s["00080061"], {"vr": "CS", "Value": ["MR"]})
        self.assertEqual(s["00080020"], {"vr": "DA", "Value": ["20260215"]})
        self.assertEqual(s["00080050"]["Value"], ["ACC002"])
        self.assertEqual(s["00080056"]["Value"], ["ONLINE"])
        self.assertTrue(s["00081190"]["Value"][0].endswith("/dicom-web/studies/" + S2))
        self.assertEqual(s["00081190"]["vr"], "UR")
        self.assertNotIn("00080016", s)  # instance-level attributes stay out

    def test_series_and_instances(self):
        st, _, res = qido(self.node, "/dicom-web/studies/%s/series" % S1)
        self.assertEqual(tag_values(res, "0020000E"), [uid(1, 1), uid(1, 2)])
        self.assertEqual(tag_values(res, "00201209"), [2, 3])
        st, _, res = qido(self.node, "/dicom-web/series", Modality="CT")
        self.assertEqual(tag_values(res, "0020000E"), sorted([uid(1, 1), uid(1, 2), uid(4, 1),
                                                              MF_SERIES]))
        self.assertIn("00100020", res[0])  # not scoped to a study: study attributes too
        st, _, res = qido(self.node, "/dicom-web/series", SeriesInstanceUID=uid(2, 1))
        self.assertEqual(tag_values(res, "0020000D"), [S2])
        st, _, res = qido(self.node, "/dicom-web/studies/%s/series/%s/instances" % (S1, uid(1, 1)))
        self.assertEqual(tag_values(res, "00080018"), [uid(1, 1, i) for i in (1, 2, 3)])
        self.assertEqual(res[0]["00280010"], {"vr": "US", "Value": [8]})
        st, _, res = qido(self.node, "/dicom-web/studies/%s/instances" % S2)
        self.assertEqual(tag_values(res, "00080018"), [uid(2, 1, 1), uid(2, 1, 2)])
        st, _, res = qido(self.node, "/dicom-web/instances", SOPInstanceUID=uid(3, 1, 1))
        self.assertEqual(tag_values(res, "0020000D"), [S3])
        self.assertIn("00100010", res[0])
        st, _, res = qido(self.node, "/dicom-web/instances", PatientID="P001", InstanceNumber="2")
        self.assertEqual(tag_values(res, "00080018"), [uid(1, 1, 2), uid(1, 2, 2)])
        st, _, res = qido(self.node, "/dicom-web/instances", SOPInstanceUID=MF_SOP)
        self.assertEqual(res[0]["00280008"], {"vr": "IS", "Value": [2]})

    def test_includefield_limit_offset(self):
        st, _, res = qido(self.node, "/dicom-web/studies", PatientID="P001")
        self.assertNotIn("00080080", res[0])
        st, _, res = qido(self.node, "/dicom-web/studies", PatientID="P001",
                          includefield="InstitutionName,00101000")
        self.assertIn("00080080", res[0])
        self.assertIn("00101000", res[0])
        st, _, res = qido(self.node, "/dicom-web/studies", PatientID="P001", includefield="all")
        self.assertIn("00100021", res[0])
        self.assertIn("00080062", res[0])
        st, hdrs, first = qido(self.node, "/dicom-web/studies", limit="2")
        self.assertEqual(len(first), 2)
        self.assertTrue(any("additional results" in w for w in hdrs["warning"]))
        st, hdrs, rest = qido(self.node, "/dicom-web/studies", limit="2", offset="2")
        self.assertEqual(len(rest), 2)
        self.assertEqual(sorted(tag_values(first, "0020000D") + tag_values(rest, "0020000D")),
                         [S1, S2, S3, S4])
        st, _, _ = qido(self.node, "/dicom-web/studies", offset="10")
        self.assertEqual(st, 204)

    def test_fuzzymatching_is_answered_honestly(self):
        st, hdrs, res = qido(self.node, "/dicom-web/studies", PatientName="Wang*",
                             fuzzymatching="true")
        self.assertEqual(st, 200)
        self.assertTrue(any("fuzzymatching parameter is not supported" in w
                            for w in hdrs["warning"]))

    def test_qido_refusals(self):
        cases = [({"Foo": "1"}, 400), ({"limit": "100000000"}, 400), ({"limit": "0"}, 400),
                 ({"limit": "x"}, 400), ({"offset": "-1"}, 400), ({"PatientAge": "030Y"}, 400),
                 ({"SOPInstanceUID": uid(1, 1, 1)}, 400),  # below the study level
                 ({"includefield": "NoSuchKeyword"}, 400), ({"fuzzymatching": "maybe"}, 400),
                 ({"StudyDate": "2026-01-01"}, 400)]
        for params, want in cases:
            st, _, body = request(self.node, "/dicom-web/studies?" + urllib.parse.urlencode(params))
            self.assertEqual(st, want, "%s -> %d %s" % (params, st, body))
            self.assertIn(b"error", body)
        st, _, _ = request(self.node, "/dicom-web/studies",
                           headers={"Accept": 'multipart/related; type="application/dicom+xml"'})
        self.assertEqual(st, 406)
        for bad in ["1.2.x", "1..2", "1.2.3;rm", "01.2"]:
            st, _, _ = request(self.node, "/dicom-web/studies/%s/series" % urllib.parse.quote(bad))
            self.assertEqual(st, 400, bad)
            st, _, _ = request(self.node, "/dicom-web/studies/%s" % urllib.parse.quote(bad))
            self.assertEqual(st, 400, bad)

    def test_qido_non_utf8_and_bad_escapes(self):
        # regression: a non-UTF-8 byte in a key, value or includefield was answered 500 (the
        # error reply itself failed to build); now 400 with a JSON body that parses
        cases = ["PatientName=%FF", "Patient%FFName=x", "includefield=%C3%28",
                 "includefield=PatientName,%ED%A0%80",  # a UTF-16 surrogate, not UTF-8
                 "PatientID=%C0%AF",  # overlong '/'
                 "PatientID=P001%00x", "%00=1", "PatientID=%zz", "PatientID=P00%1",
                 "PatientID=%0Aevil", "StudyDescription=" + "%E4" * 3000]
        for q in cases:
            for path in ["/dicom-web/studies", "/dicom-web/studies/%s/series" % S1]:
                st, hdrs, body = request(self.node, path + "?" + q)
                self.assertEqual(st, 400, "%s -> %d %s" % (q, st, body[:200]))
                self.assertTrue(hdrs["content-type"].startswith("application/json"), q)
                self.assertEqual(json.loads(body.decode("utf-8"))["status"], 400, q)
        for path in ["/dicom-web/studies/%FF", "/dicom-web/studies/" + S1 + "%00/series",
                     "/dicom-web/studies/%C3/metadata", "/dicom-web/wado?requestType=%FF"]:
            st, _, body = request(self.node, path)
            self.assertEqual(st, 400, "%s -> %d %s" % (path, st, body[:200]))
            json.loads(body.decode("utf-8"))
        # UTF-8 text still matches; a bad Accept header is echoed as valid JSON
        self.assertEqual(self.studies(PatientName="王^小明"), [S2, S3])
        st, _, body = request(self.node, "/dicom-web/studies",
                              headers={"Accept": b"text/\xff\xfe".decode("latin-1")})
        self.assertEqual(st, 406)
        json.loads(body.decode("utf-8"))
        self.assertTrue(self.node.healthy())

    # ---- WADO-RS ----

    def test_retrieve_is_byte_identical(self):
        blobs = blob_hashes(self.node)
        for path, n in [("/dicom-web/studies/" + S1, 5),
                        ("/dicom-web/studies/%s/series/%s" % (S1, uid(1, 2)), 2),
                        ("/dicom-web/studies/%s/series/%s/instances/%s" % (S2, uid(2, 1),
                                                                          uid(2, 1, 2)), 1)]:
            st, hdrs, body = request(self.node, path, headers={
                "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
            self.assertEqual(st, 200)
            self.assertEqual(param(hdrs["content-type"], "type"), "application/dicom")
            self.assertEqual(int(hdrs["content-length"]), len(body))
            parts = parse_multipart(hdrs["content-type"], body)
            self.assertEqual(len(parts), n)
            for h, data in parts:
                self.assertTrue(h["content-type"].startswith("application/dicom"))
                self.assertIn(sha(data), blobs)
        # default Accept, and single part at instance level
        st, hdrs, body = request(self.node, "/dicom-web/studies/" + S3)
        self.assertEqual(st, 200)
        (h, single), = parse_multipart(hdrs["content-type"], body)
        st, hdrs, body = request(self.node, "/dicom-web/studies/%s/series/%s/instances/%s" % (
            S3, uid(3, 1), uid(3, 1, 1)), headers={"Accept": "application/dicom"})
        self.assertEqual((st, body), (200, single))

    def test_retrieve_refusals(self):
        st, _, _ = request(self.node, "/dicom-web/studies/" + uid(99))
        self.assertEqual(st, 404)
        st, _, _ = request(self.node, "/dicom-web/studies/" + S1,
                           headers={"Accept": "application/zip"})
        self.assertEqual(st, 406)
        st, _, body = request(self.node, "/dicom-web/studies/" + S1, headers={
            "Accept": 'multipart/related; type="application/dicom"; '
                      'transfer-syntax=1.2.840.10008.1.2.4.50'})
        self.assertEqual(st, 406)
        self.assertIn(b"transcoding", body)

    def test_metadata(self):
        st, hdrs, body = request(self.node, "/dicom-web/studies/%s/metadata" % S2)
        self.assertEqual(st, 200)
        self.assertTrue(hdrs["content-type"].startswith("application/dicom+json"))
        meta = json.loads(body)
        self.assertEqual(len(meta), 2)
        m = meta[0]
        self.assertEqual(m["00100010"]["Value"][0],
                         {"Alphabetic": "Wang^Xiaoming", "Ideographic": "王^小明"})
        self.assertEqual(m["00080005"]["Value"], ["ISO_IR 192"])
        self.assertEqual(m["00280010"], {"vr": "US", "Value": [8]})
        self.assertEqual(m["00281050"]["vr"], "DS")
        uri = m["7FE00010"]["BulkDataURI"]
        self.assertNotIn("InlineBinary", m["7FE00010"])
        path = urllib.parse.urlparse(uri).path
        st, hdrs, body = request(self.node, path)
        self.assertEqual(st, 200)
        (h, pixels), = parse_multipart(hdrs["content-type"], body)
        self.assertEqual(pixels, bytes((i * 7) % 256 for i in range(128)))
        st, _, body = request(self.node,
                              "/dicom-web/studies/%s/series/%s/metadata" % (S1, uid(1, 1)))
        self.assertEqual(len(json.loads(body)), 3)
        st, _, body = request(self.node, "/dicom-web/studies/%s/series/%s/instances/%s/metadata"
                              % (S4, MF_SERIES, MF_SOP))
        self.assertEqual(json.loads(body)[0]["00280008"]["Value"], [2])
        st, _, _ = request(self.node, "/dicom-web/studies/%s/metadata" % S2,
                           headers={"Accept": "application/dicom+xml"})
        self.assertEqual(st, 406)

    def test_frames(self):
        base = "/dicom-web/studies/%s/series/%s/instances/%s" % (S4, MF_SERIES, MF_SOP)
        st, hdrs, body = request(self.node, base + "/frames/2")
        self.assertEqual(st, 200)
        self.assertEqual(param(hdrs["content-type"], "type"), "application/octet-stream")
        (h, f2), = parse_multipart(hdrs["content-type"], body)
        self.assertEqual(f2, MF_PIXELS[128:])
        st, hdrs, body = request(self.node, base + "/frames/2,1")
        self.assertEqual([d for _, d in parse_multipart(hdrs["content-type"], body)],
                         [MF_PIXELS[128:], MF_PIXELS[:128]])
        self.assertEqual(request(self.node, base + "/frames/3")[0], 404)
        self.assertEqual(request(self.node, base + "/frames/0")[0], 400)
        self.assertEqual(request(self.node, base + "/frames/x")[0], 400)

    def test_rendered_and_thumbnail(self):
        inst = "/dicom-web/studies/%s/series/%s/instances/%s" % (S1, uid(1, 1), uid(1, 1, 1))
        st, hdrs, body = request(self.node, inst + "/rendered")
        self.assertEqual((st, hdrs["content-type"]), (200, "image/jpeg"))
        self.assertEqual(jpeg_size(body), (8, 8))
        st, hdrs, body = request(self.node, inst + "/rendered?window=100,200,sigmoid&quality=50"
                                 "&viewport=64,32")
        self.assertEqual(st, 200)
        self.assertEqual(jpeg_size(body), (32, 32))
        st, hdrs, body = request(self.node, inst + "/rendered", headers={"Accept": "image/png"})
        self.assertEqual((st, hdrs["content-type"]), (200, "image/png"))
        self.assertEqual(png_size(body), (8, 8))
        st, hdrs, body = request(self.node, inst + "/rendered?accept=image/png")
        self.assertEqual(hdrs["content-type"], "image/png")
        mf = "/dicom-web/studies/%s/series/%s/instances/%s" % (S4, MF_SERIES, MF_SOP)
        st, _, body = request(self.node, mf + "/frames/2/rendered")
        self.assertEqual(st, 200)
        jpeg_size(body)
        self.assertEqual(request(self.node, mf + "/frames/3/rendered")[0], 404)
        for path in [inst + "/thumbnail", "/dicom-web/studies/%s/thumbnail" % S1,
                     "/dicom-web/studies/%s/series/%s/thumbnail" % (S2, uid(2, 1))]:
            st, hdrs, body = request(self.node, path)
            self.assertEqual(st, 200, path)
            self.assertEqual(jpeg_size(body), (128, 128))
        for q, want in [("window=1", 400), ("window=1,0", 400), ("window=1,2,cubic", 400),
                        ("quality=101", 400), ("viewport=0,0", 400), ("annotation=patient", 400)]:
            self.assertEqual(request(self.node, inst + "/rendered?" + q)[0], want, q)
        self.assertEqual(request(self.node, inst + "/rendered",
                                 headers={"Accept": "image/gif"})[0], 406)
        if shutil.which("djpeg"):
            p = subprocess.run(["djpeg", "-pnm"], input=request(self.node, inst + "/rendered")[2],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.startswith(b"P5\n8 8\n"))

    def test_wado_uri(self):
        q = {"requestType": "WADO", "studyUID": S2, "seriesUID": uid(2, 1),
             "objectUID": uid(2, 1, 1)}
        st, hdrs, jpg = request(self.node, "/wado?" + urllib.parse.urlencode(q))
        self.assertEqual((st, hdrs["content-type"]), (200, "image/jpeg"))
        jpeg_size(jpg)
        q["contentType"] = "application/dicom"
        st, hdrs, dcm = request(self.node, "/dicom-web/wado?" + urllib.parse.urlencode(q))
        self.assertEqual((st, hdrs["content-type"]), (200, "application/dicom"))
        self.assertIn(sha(dcm), blob_hashes(self.node))
        q.update(contentType="image/png", rows="16", columns="16", windowCenter="100",
                 windowWidth="400")
        st, hdrs, png = request(self.node, "/wado?" + urllib.parse.urlencode(q))
        self.assertEqual(png_size(png), (16, 16))
        for bad, want in [({"requestType": "WADO"}, 400), (dict(q, requestType="X"), 400),
                          (dict(q, objectUID="1.2.x"), 400), (dict(q, objectUID=uid(77)), 404),
                          (dict(q, contentType="text/html"), 406),
                          (dict(q, region="0,0,1,1"), 400)]:
            self.assertEqual(request(self.node, "/wado?" + urllib.parse.urlencode(bad))[0], want,
                             bad)


CONFIG = """[dicomweb]
max_stow_bytes = 1048576
max_stow_parts = 20
qido_max_results = 50
"""


def stow_instance(i, study=None, **kw):
    study = study or uid(100)
    kw.setdefault("patient_id", "P100")
    kw.setdefault("patient_name", "Chen^Jing=陈^静")
    kw.setdefault("charset", "GB18030")
    return instance_bytes(study_uid=study, series_uid=study + ".1", sop_uid=study + ".1.%d" % i,
                          instance_number=str(i), **kw)


class DicomwebStoreTest(NodeTestCase):
    """STOW-RS and the hostile matrix, each on a fresh node ([dicomweb] limits lowered)."""

    def setUp(self):
        super().setUp()
        self.n = self.node(config_text=CONFIG).start()

    def stow(self, body, path="/dicom-web/studies", headers=None):
        return request(self.n, path, "POST", headers or stow_headers(), body)

    def assert_nothing_stored(self):
        self.assertEqual(request(self.n, "/dicom-web/studies")[0], 204)
        self.assertEqual(os.listdir(os.path.join(self.n.data, "tmp")), [])
        self.assertTrue(self.n.healthy())

    def test_stow_then_find_and_retrieve(self):
        sent = [stow_instance(i) for i in (1, 2, 3)]
        st, hdrs, body = self.stow(multipart_body(sent))
        self.assertEqual(st, 200, body)
        self.assertTrue(hdrs["content-type"].startswith("application/dicom+json"))
        res = json.loads(body)
        refs = res["00081199"]["Value"]
        self.assertEqual(sorted(r["00081155"]["Value"][0] for r in refs),
                         [uid(100, 1, i) for i in (1, 2, 3)])
        self.assertTrue(res["00081190"]["Value"][0].endswith("/studies/" + uid(100)))
        self.assertNotIn("00081198", res)
        # C-FIND (findscu) finds what STOW-RS stored, names in UTF-8
        found = find(self.n, "STUDY", ["PatientID=P100", "StudyInstanceUID", "PatientName",
                                       "NumberOfStudyRelatedInstances"])
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0][(0x0020, 0x000D)], uid(100))
        self.assertEqual(found[0][(0x0010, 0x0010)], "Chen^Jing=陈^静")
        self.assertEqual(found[0][(0x0020, 0x1208)], "3")
        # WADO-RS returns the very bytes sent
        for i, data in enumerate(sent, 1):
            url = refs[i - 1]["00081190"]["Value"][0]
            st, hdrs, got = request(self.n, urllib.parse.urlparse(url).path)
            (h, part), = parse_multipart(hdrs["content-type"], got)
            self.assertIn(part, sent)
        st, hdrs, got = request(self.n, "/dicom-web/studies/" + uid(100))
        self.assertEqual(sorted(d for _, d in parse_multipart(hdrs["content-type"], got)),
                         sorted(sent))
        # the same again: duplicates are kept once, still a success
        self.assertEqual(self.stow(multipart_body(sent))[0], 200)

    def test_stow_partial_and_conflicts(self):
        good = stow_instance(1)
        st, _, body = self.stow(multipart_body([good, b"not dicom at all" * 20]))
        self.assertEqual(st, 202, body)
        res = json.loads(body)
        self.assertEqual(len(res["00081199"]["Value"]), 1)
        self.assertEqual(res["00081198"]["Value"][0]["00081197"], {"vr": "US", "Value": [0xC000]})
        st, _, body = self.stow(multipart_body([stow_instance(2)]),
                                path="/dicom-web/studies/" + uid(101))
        self.assertEqual(st, 409, body)
        failed = json.loads(body)["00081198"]["Value"][0]
        self.assertEqual(failed["00081155"]["Value"], [uid(100, 1, 2)])
        self.assertEqual(failed["00081197"]["Value"], [0xA900])
        st, _, body = self.stow(multipart_body([stow_instance(3)]),
                                path="/dicom-web/studies/" + uid(100))
        self.assertEqual(st, 200, body)
        st, _, body = self.stow(multipart_body([stow_instance(4)], types=["application/dicom+xml"]))
        self.assertEqual(st, 409, body)
        st, _, body = self.stow(multipart_body([stow_instance(5, omit=[(0x0008, 0x0018)])]))
        self.assertEqual(st, 409, body)  # no SOP Instance UID
        _, _, res = qido(self.n, "/dicom-web/instances")
        self.assertEqual(tag_values(res, "00080018"), [uid(100, 1, 1), uid(100, 1, 3)])

    def test_stow_parts_without_valid_content_type(self):
        # regression: a part without headers, or with a malformed Content-Type line, was
        # stored; RFC 2046 makes it text/plain: 0xC000 for it, the good parts still stored
        b = b"--HurenTestBoundary\r\n"
        good1, good2 = stow_instance(1), stow_instance(2)
        bad = {3: b"\r\n",  # no headers at all
               4: b"Content-Type application/dicom\r\n\r\n",  # no colon
               5: b"Content-Typ: application/dicom\r\n\r\n",
               6: b"Content-Type: application/dicom\x00x\r\n\r\n",  # a NUL in the value
               7: b"Content-Type: text/plain\r\n\r\n",
               8: b"Content-Type:\r\n\r\n"}
        body = b""
        for i, head in bad.items():
            body += b + head + stow_instance(i) + b"\r\n"
        body += b + b"Content-Type: application/dicom\r\n\r\n" + good1 + b"\r\n"
        body += b + b"Content-Type: Application/DICOM \r\n\r\n" + good2 + b"\r\n"
        body += b"--HurenTestBoundary--\r\n"
        st, _, resp = self.stow(body)
        self.assertEqual(st, 202, resp)
        res = json.loads(resp)
        self.assertEqual(len(res["00081198"]["Value"]), len(bad))
        for item in res["00081198"]["Value"]:
            self.assertEqual(item["00081197"], {"vr": "US", "Value": [0xC000]})
        self.assertEqual(sorted(r["00081155"]["Value"][0] for r in res["00081199"]["Value"]),
                         [uid(100, 1, 1), uid(100, 1, 2)])
        _, _, found = qido(self.n, "/dicom-web/instances")
        self.assertEqual(tag_values(found, "00080018"), [uid(100, 1, 1), uid(100, 1, 2)])
        self.assertEqual(os.listdir(os.path.join(self.n.data, "tmp")), [])
        # only such parts: nothing stored, 409
        st, _, resp = self.stow(b + b"\r\n" + stow_instance(9) + b"\r\n--HurenTestBoundary--\r\n")
        self.assertEqual(st, 409, resp)
        self.assertEqual(json.loads(resp)["00081198"]["Value"][0]["00081197"]["Value"], [0xC000])

    def test_boundary_lookalikes_in_data(self):
        b = "HurenTestBoundary"
        tricky = [stow_instance(1, study_desc="x--%s y" % b),
                  stow_instance(2, study_desc="\r\n--%s" % b[:-3]),
                  stow_instance(3, institution="--" + b + "-")]
        body = multipart_body(tricky, boundary=b)
        # preamble, transport padding and an epilogue are allowed by RFC 2046
        body = b"preamble\r\n" + body.replace(b"--" + b.encode() + b"\r\n",
                                               b"--" + b.encode() + b"  \r\n", 1) + b"epilogue"
        st, _, resp = self.stow(body, headers=stow_headers(b))
        self.assertEqual(st, 200, resp)
        st, hdrs, got = request(self.n, "/dicom-web/studies/" + uid(100))
        self.assertEqual(sorted(d for _, d in parse_multipart(hdrs["content-type"], got)),
                         sorted(tricky))

    def test_hostile_multipart(self):
        good = multipart_body([stow_instance(1), stow_instance(2)])
        cases = [
            ("wrong content type", good, {"Content-Type": "application/dicom"}, 415),
            ("json body", b"{}", {"Content-Type": "application/json"}, 415),
            ("metadata form", good, {"Content-Type": 'multipart/related; type="application/'
                                     'dicom+xml"; boundary=HurenTestBoundary'}, 415),
            ("missing boundary", good, {"Content-Type": 'multipart/related; '
                                        'type="application/dicom"'}, 400),
            ("wrong boundary", good, stow_headers("SomethingElse"), 400),
            ("truncated part", good[:len(good) // 2], stow_headers(), 400),
            ("no close delimiter", good[:-len("--\r\n")] + b"\r\n", stow_headers(), 400),
            ("bad delimiter line",
             good.replace(b"HurenTestBoundary\r\n", b"HurenTestBoundaryX\r\n", 1),
             stow_headers(), 400),
            ("empty body", b"", stow_headers(), 400),
            ("no parts", b"--HurenTestBoundary--\r\n", stow_headers(), 400),
            ("headers too long", b"--HurenTestBoundary\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
             stow_headers(), 400),
            ("too many parts", multipart_body([b"x"] * 21), stow_headers(), 413),
            ("over max_stow_bytes", multipart_body([b"\0" * 1100000]), stow_headers(), 413),
            ("xml answer wanted", good, dict(stow_headers(), Accept="application/dicom+xml"), 406),
            ("bad study UID in path", good, stow_headers(), 400),
        ]
        for name, body, headers, want in cases:
            path = "/dicom-web/studies" + ("/1.2.3;x" if "UID in path" in name else "")
            st, _, resp = raw_request(self.n, "POST", path, headers, body)
            self.assertEqual(st, want, "%s: %d %s" % (name, st, resp[:200]))
            self.assertIn(b"error", resp, name)
        self.assert_nothing_stored()

    def test_huge_bodies(self):
        # a declared 10 GB body is refused from its headers, before any byte is read
        with socket.create_connection(("127.0.0.1", self.n.http_port), timeout=30) as s:
            s.sendall(b"POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: multipart/related; type=\"application/dicom\"; boundary=b\r\n"
                      b"Content-Length: 10737418240\r\n\r\n--b\r\n")
            head = s.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head[:100])
        # a chunked body that goes past the limit: the connection is closed, nothing kept
        c = http.client.HTTPConnection("127.0.0.1", self.n.http_port, timeout=30)
        closed = False
        try:
            c.putrequest("POST", "/dicom-web/studies")
            for k, v in stow_headers().items():
                c.putheader(k, v)
            c.putheader("Transfer-Encoding", "chunked")
            c.endheaders()
            c.send(b"--HurenTestBoundary\r\nContent-Type: application/dicom\r\n\r\n")
            chunk = b"\0" * 65536
            for _ in range(64):  # 4 MB, four times the limit
                c.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            c.send(b"0\r\n\r\n")
            r = c.getresponse()
            r.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            closed = True
        finally:
            c.close()
        self.assertTrue(closed, "a body past max_stow_bytes must not be answered as read")
        self.assert_nothing_stored()

    def test_large_stow_streams(self):
        # 800 KB of pixels in several parts, sent in small pieces: the parser's held tail and
        # chunk boundaries are exercised; all stored byte for byte
        sent = [stow_instance(i, rows=200, cols=200, pixel_bytes=os.urandom(80000))
                for i in (1, 2, 3, 4)]
        body = multipart_body(sent)
        c = http.client.HTTPConnection("127.0.0.1", self.n.http_port, timeout=60)
        c.putrequest("POST", "/dicom-web/studies")
        for k, v in stow_headers().items():
            c.putheader(k, v)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        for i in range(0, len(body), 997):
            c.send(body[i:i + 997])
        r = c.getresponse()
        self.assertEqual(r.status, 200, r.read())
        r.read()
        c.close()
        st, hdrs, got = request(self.n, "/dicom-web/studies/" + uid(100))
        self.assertEqual(sorted(d for _, d in parse_multipart(hdrs["content-type"], got)),
                         sorted(sent))

    def test_compressed_instance(self):
        # JPEG Lossless (dcmcjpeg): frames as stored (image/jpeg), rendered through dcmjpeg
        rows = cols = 64
        px = b"".join(((r * 4 + c * 2) % 4096).to_bytes(2, "little") for r in range(rows)
                      for c in range(cols))
        plain = write_instance(os.path.join(self.tmp, "plain.dcm"), study_uid=uid(102),
                               series_uid=uid(102, 1), sop_uid=uid(102, 1, 1), rows=rows,
                               cols=cols, pixel_bytes=px)
        jpeg = os.path.join(self.tmp, "jpeg.dcm")
        run(["dcmcjpeg", "+e1", plain, jpeg], check=True)
        with open(jpeg, "rb") as f:
            data = f.read()
        self.assertEqual(self.stow(multipart_body([data]))[0], 200)
        inst = "/dicom-web/studies/%s/series/%s/instances/%s" % (uid(102), uid(102, 1),
                                                                 uid(102, 1, 1))
        st, hdrs, body = request(self.n, inst + "/frames/1")
        self.assertEqual(st, 200)
        self.assertEqual(param(hdrs["content-type"], "type"), "image/jpeg")
        (h, frame), = parse_multipart(hdrs["content-type"], body)
        self.assertIn("transfer-syntax=1.2.840.10008.1.2.4.70", h["content-type"])
        self.assertEqual(frame[:2], b"\xff\xd8")
        self.assertIn(frame.rstrip(b"\0"), data)
        octet = 'multipart/related; type="application/octet-stream"'
        self.assertEqual(request(self.n, inst + "/frames/1", headers={"Accept": octet})[0], 406)
        st, hdrs, body = request(self.n, inst + "/frames/1",
                                 headers={"Accept": octet + "; transfer-syntax=*"})
        self.assertEqual(st, 200)
        st, hdrs, body = request(self.n, inst + "/rendered")
        self.assertEqual((st, jpeg_size(body)), (200, (64, 64)))
        st, hdrs, body = request(self.n, inst, headers={"Accept": "application/dicom"})
        self.assertEqual(body, data)

    def test_dicomweb_client_npm(self):
        folder = os.path.join(HERE, "dicomweb_client")
        if not shutil.which("node") or not shutil.which("npm"):
            self.skipTest("node/npm not installed: the dicomweb-client test needs them")
        if not os.path.isdir(os.path.join(folder, "node_modules", "dicomweb-client")):
            p = run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, timeout=300)
            if p.returncode != 0:
                self.skipTest("npm ci failed (registry unreachable?):\n" + p.stdout[-2000:])
        data = instance_bytes(study_uid=uid(50), series_uid=uid(50, 1), sop_uid=uid(50, 1, 1),
                              patient_id="P050", patient_name="Zhao^Liu=赵^六", charset="GB18030")
        node = self.n
        self.assertEqual(run(["storescu", "-aec", "HUREN", "127.0.0.1", str(node.dicom_port)]
                             + make_corpus(self.tmp)).returncode, 0)
        path = os.path.join(self.tmp, "npm-store.dcm")
        with open(path, "wb") as f:
            f.write(data)
        p = run(["node", "run.js", node.url("/dicom-web"), "P002", S2, uid(2, 1),
                 uid(2, 1, 1), path], cwd=folder)
        self.assertEqual(p.returncode, 0, p.stdout)
        out = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(out["studies"], [S2, S3])
        self.assertEqual(out["patientName"],
                         {"Alphabetic": "Wang^Xiaoming", "Ideographic": "王^小明"})
        self.assertEqual(out["metadataCount"], 2)
        self.assertEqual(out["metadataSops"], [uid(2, 1, 1), uid(2, 1, 2)])
        self.assertIn(out["instanceSha256"], blob_hashes(node))
        self.assertEqual(out["storedRefs"], 1)
        st, _, body = request(node, "/dicom-web/studies/%s/series/%s/instances/%s" % (
            uid(50), uid(50, 1), uid(50, 1, 1)), headers={"Accept": "application/dicom"})
        self.assertEqual((st, body), (200, data))


class DicomwebTlsTest(NodeTestCase):
    """DICOMweb over HTTPS with client certificates (conf/make-test-pki.sh): staff and peers are
    served, insurers refused before any body byte is read; reads and writes land in the audit
    trail with the patient and the study."""

    ROLES = ("clinician", "peer", "insurer", "admin")

    def setUp(self):
        super().setUp()
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(HERE, "..", "..", "conf", "make-test-pki.sh"), self.pki],
            check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            subjects = dict(line.split("\t") for line in f.read().splitlines())
        conf = ["[http]", "tls_cert = %s/server.crt" % self.pki,
                "tls_key = %s/server.key" % self.pki, "tls_client_ca = %s/ca.crt" % self.pki,
                "tls_client_verify = require"]
        for role in self.ROLES:
            conf += ['[client "%s-cert"]' % role, "subject = " + subjects[role],
                     "institution = " + ("INS01" if role == "insurer" else "H37010001"),
                     "role = " + role]
        self.n = self.node(config_text="\n".join(conf) + "\n", https=True).start()

    def curl(self, path, who, method="GET", data=None, headers=()):
        out = os.path.join(self.tmp, "curl.out")
        cmd = ["curl", "-s", "--noproxy", "*", "-o", out, "-w", "%{http_code}", "--max-time",
               "60", "--cacert", os.path.join(self.pki, "ca.crt"), "--cert",
               os.path.join(self.pki, who + ".crt"), "--key", os.path.join(self.pki, who + ".key"),
               "-X", method]
        for h in headers:
            cmd += ["-H", h]
        if data is not None:
            src = os.path.join(self.tmp, "curl.in")
            with open(src, "wb") as f:
                f.write(data)
            cmd += ["--data-binary", "@" + src]
        p = run(cmd + [self.n.url(path)])
        body = b""
        if os.path.exists(out):
            with open(out, "rb") as f:
                body = f.read()
        return int(p.stdout.strip()[-3:] or 0), body

    def test_roles_and_audit(self):
        sent = [stow_instance(i, study=uid(200), patient_id="PTLS") for i in (1, 2)]
        body = multipart_body(sent)
        hdrs = ["Content-Type: " + stow_headers()["Content-Type"]]
        self.assertEqual(self.curl("/dicom-web/studies", "insurer", "POST", body, hdrs)[0], 403)
        self.assertEqual(self.curl("/dicom-web/studies?PatientID=PTLS", "clinician")[0], 204)
        st, resp = self.curl("/dicom-web/studies", "peer", "POST", body, hdrs)
        self.assertEqual(st, 200, resp)
        for role in self.ROLES:
            st, resp = self.curl("/dicom-web/studies?PatientID=PTLS", role)
            self.assertEqual(st, 403 if role == "insurer" else 200, (role, resp))
            st, _ = self.curl("/dicom-web/studies/%s/metadata" % uid(200), role)
            self.assertEqual(st, 403 if role == "insurer" else 200, role)
        st, got = self.curl("/dicom-web/studies/" + uid(200), "peer",
                            headers=["Accept: " + ACCEPT_MULTIPART])
        self.assertEqual(st, 200)
        boundary = got[2:got.index(b"\r\n")].decode()
        parts = parse_multipart("multipart/related; boundary=" + boundary, got)
        self.assertEqual(sorted(d for _, d in parts), sorted(sent))
        st, audit = self.curl("/api/v1/audit?patient=PTLS", "admin")
        self.assertEqual(st, 200, audit)
        entries = json.loads(audit)["entries"]
        actions = {(e["action"], e["outcome"]) for e in entries}
        self.assertIn(("dicomweb.write", "success"), actions, entries)
        self.assertIn(("dicomweb.read", "success"), actions, entries)
        # retrievals and the store name the study; searches by PatientID name the patient
        self.assertTrue(all(e["object"] in (uid(200), "GET /dicom-web/studies")
                            and e["patient"] == "PTLS" for e in entries), entries)
        self.assertIn(uid(200), {e["object"] for e in entries if e["action"] == "dicomweb.read"})
        st, audit = self.curl("/api/v1/audit", "admin")
        refused = [e for e in json.loads(audit)["entries"]
                   if e["outcome"] == "refused" and e["action"].startswith("dicomweb")]
        self.assertEqual({e["role"] for e in refused}, {"insurer"}, refused)
        self.assertTrue(any(e["action"] == "dicomweb.write" for e in refused), refused)
