"""test_corpus.py: every DICOM file Debian's python3-pydicom ships (files no one here wrote: its
test_files and the character-set examples of PS3.5 in charset_files) goes first to a DCMTK
storescp started here, whose acceptance is the reference, then to huren. Every file storescp
accepts must be accepted by huren, found by C-FIND (IMAGE level, by SOPInstanceUID) and QIDO-RS,
and come back with the same dataset bytes by C-GET (getscu) and WADO-RS (curl) as storescp
received them. Names of the charset files must read as pydicom decodes them (and as PS3.5
prints them). /rendered must give an image for every single-frame image. Prints the counts."""

import glob
import json
import os
import re
import struct
import subprocess
import unittest

from harness import NodeTestCase, free_port, port_open, run, wait_for

try:
    import pydicom
    DATA = os.path.join(os.path.dirname(pydicom.__file__), "data")
except ImportError:  # pragma: no cover - .ci/setup installs python3-pydicom
    pydicom = None
    DATA = None

# getscu's preference flag that makes it propose a stored transfer syntax first
GETSCU_PREFER = {
    "1.2.840.10008.1.2.1": "+xe", "1.2.840.10008.1.2.2": "+xb", "1.2.840.10008.1.2": "+xi",
    "1.2.840.10008.1.2.1.99": "+xd", "1.2.840.10008.1.2.4.50": "+xy",
    "1.2.840.10008.1.2.4.51": "+xx", "1.2.840.10008.1.2.4.70": "+xs",
    "1.2.840.10008.1.2.4.90": "+xv", "1.2.840.10008.1.2.4.91": "+xw",
    "1.2.840.10008.1.2.4.80": "+xt", "1.2.840.10008.1.2.4.81": "+xu",
    "1.2.840.10008.1.2.5": "+xr",
}

# PS3.5 Annexes H, I, J and K as pydicom's FileInfo.txt gives them: the names as UTF-8
EXPECTED_NAMES = {
    "chrX1.dcm": "Wang^XiaoDong=\u738b^\u5c0f\u6771",
    "chrX2.dcm": "Wang^XiaoDong=\u738b^\u5c0f\u4e1c",  # GB18030
    "chrH31.dcm": "Yamada^Tarou=\u5c71\u7530^\u592a\u90ce=\u3084\u307e\u3060^\u305f\u308d\u3046",
    "chrH32.dcm": "\uff94\uff8f\uff80\uff9e^\uff80\uff9b\uff73=\u5c71\u7530^\u592a\u90ce="
                  "\u3084\u307e\u3060^\u305f\u308d\u3046",
    "chrI2.dcm": "Hong^Gildong=\u6d2a^\u5409\u6d1e=\ud64d^\uae38\ub3d9",
    "chrFren.dcm": "Buc^J\u00e9r\u00f4me",
    "chrGerm.dcm": "\u00c4neas^R\u00fcdiger",
    "chrRuss.dcm": "\u041b\u044e\u043ace\u043c\u0431yp\u0433",
}


# Files huren may refuse though storescp takes them: none
KNOWN_REFUSED = set()
# a JPEG 2000 stream OpenJPEG refuses: must be a 500 with the reason, not a 400
KNOWN_UNRENDERABLE = {"JPEG2000-embedded-sequence-delimiter.dcm"}


def dataset_part(data):
    """The bytes after a Part-10 file's meta header (all of them without a preamble)."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return data
    i = 132
    while i + 8 <= len(data):
        group = struct.unpack_from("<H", data, i)[0]
        if group != 0x0002:
            break
        vr = data[i + 4:i + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN"):
            i += 12 + struct.unpack_from("<I", data, i + 8)[0]
        else:
            i += 8 + struct.unpack_from("<H", data, i + 6)[0]
    return data[i:]


def read_meta(path):
    """(SOP instance UID, transfer syntax UID or None, has meta header) by pydicom."""
    ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None
    with open(path, "rb") as f:
        head = f.read(132)
    return str(ds.get("SOPInstanceUID", "")), ts, head[128:132] == b"DICM"


def store_ok(output):
    return "Success" in output and "Response" in output


def decoded_name(path):
    ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    name = ds.get("PatientName")
    return None if name is None else str(name)


def qido_name(item):
    pn = item.get("00100010", {}).get("Value", [{}])[0]
    groups = [pn.get(k, "") for k in ("Alphabetic", "Ideographic", "Phonetic")]
    return "=".join(groups).rstrip("=")


@unittest.skipIf(pydicom is None, "python3-pydicom is not installed")
class CorpusTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.ref_port = free_port()
        self.node(config_text="[dicom]\nduplicates = replace\n[dicom_aes]\nREF = 127.0.0.1:%d\n"
                  % self.ref_port).start()
        self.huren = self._procs[-1]
        self.ref_dir = os.path.join(self.tmp, "storescp")
        os.makedirs(self.ref_dir)
        # +xa: every transfer syntax DCMTK knows; +B: the dataset written as received
        self.process(["storescp", "-aet", "REF", "+xa", "+B", "-od", self.ref_dir,
                      str(self.ref_port)], "storescp")
        wait_for(lambda: port_open(self.ref_port), 30, "storescp")

    def send(self, path, port, aec, has_meta):
        # dcmsend proposes the file's own transfer syntax; files without a meta header only
        # storescu reads (as a bare dataset)
        tool = ["dcmsend", "-v"] if has_meta else ["storescu", "-v", "-R"]
        return run(tool + ["-aec", aec, "127.0.0.1", str(port), path], timeout=120)

    def find(self, sop):
        p = run(["findscu", "-S", "-aec", "HUREN", "-k", "QueryRetrieveLevel=IMAGE",
                 "-k", "SOPInstanceUID=" + sop, "-k", "StudyInstanceUID", "-k",
                 "SeriesInstanceUID", "127.0.0.1", str(self.huren.dicom_port)], timeout=60)
        # findscu prints a UID's padding (a NUL) too
        found = re.search(r"\(0008,0018\) UI \[%s[ \x00]?\]" % re.escape(sop),
                          p.stdout) is not None

        def value(tag):
            for line in p.stdout.splitlines():
                if tag in line and "[" in line:
                    return line[line.index("[") + 1:line.rindex("]")].strip("\0 ")
            return None
        return found, value("(0020,000d)"), value("(0020,000e)")

    def qido(self, sop):
        p = subprocess.run(["curl", "-s", "-H", "Accept: application/dicom+json",
                            self.huren.url("/dicom-web/instances?SOPInstanceUID=%s"
                                           "&includefield=00100010" % sop)],
                           stdout=subprocess.PIPE, timeout=60)
        try:
            items = json.loads(p.stdout.decode("utf-8")) if p.stdout else []
        except ValueError:
            return None
        for it in items:
            if it.get("00080018", {}).get("Value", [None])[0] == sop:
                return it
        return None

    def cget(self, study, series, sop, ts):
        out = os.path.join(self.tmp, "get")
        for f in glob.glob(os.path.join(out, "*")):
            os.unlink(f)
        os.makedirs(out, exist_ok=True)
        prefer = GETSCU_PREFER.get(ts)
        if not prefer:
            return None
        run(["getscu", "-S", "+B", prefer, "-aec", "HUREN", "-od", out,
             "-k", "QueryRetrieveLevel=IMAGE", "-k", "StudyInstanceUID=" + study,
             "-k", "SeriesInstanceUID=" + series, "-k", "SOPInstanceUID=" + sop,
             "127.0.0.1", str(self.huren.dicom_port)], timeout=120)
        got = glob.glob(os.path.join(out, "*"))
        if len(got) != 1:
            return None
        with open(got[0], "rb") as f:
            return f.read()

    def cmove(self, study, series, sop):
        """The instance moved to the reference storescp (bit-preserving): its bytes."""
        for f in glob.glob(os.path.join(self.ref_dir, "*")):
            os.unlink(f)
        run(["movescu", "-S", "-aet", "MOVER", "-aec", "HUREN", "-aem", "REF",
             "-k", "QueryRetrieveLevel=IMAGE", "-k", "StudyInstanceUID=" + study,
             "-k", "SeriesInstanceUID=" + series, "-k", "SOPInstanceUID=" + sop,
             "127.0.0.1", str(self.huren.dicom_port)], timeout=120)
        got = glob.glob(os.path.join(self.ref_dir, "*"))
        if len(got) != 1:
            return None
        with open(got[0], "rb") as f:
            return f.read()

    def wado(self, study, series, sop):
        out = os.path.join(self.tmp, "wado.dcm")
        p = subprocess.run(["curl", "-s", "-o", out, "-w", "%{http_code}", "-H",
                            "Accept: application/dicom; transfer-syntax=*",
                            self.huren.url("/dicom-web/studies/%s/series/%s/instances/%s"
                                           % (study, series, sop))],
                           stdout=subprocess.PIPE, timeout=60, text=True)
        if p.stdout.strip() != "200":
            return None
        with open(out, "rb") as f:
            return f.read()

    def rendered(self, study, series, sop):
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                            "Accept: image/png",
                            self.huren.url("/dicom-web/studies/%s/series/%s/instances/%s/rendered"
                                           % (study, series, sop))],
                           stdout=subprocess.PIPE, timeout=60, text=True)
        return p.stdout.strip()

    def test_every_file_storescp_accepts(self):
        files = sorted(glob.glob(os.path.join(DATA, "test_files", "*.dcm"))) + \
            sorted(glob.glob(os.path.join(DATA, "charset_files", "*.dcm")))
        self.assertGreater(len(files), 60)
        counts = dict(tried=0, storescp=0, huren=0, found=0, qido=0, cget=0, cget_identical=0,
                      cmove_identical=0, wado=0, images=0, rendered=0)
        problems = []
        for path in files:
            name = os.path.basename(path)
            try:
                sop, _, has_meta = read_meta(path)
            except Exception:  # noqa: BLE001 - pydicom cannot read it: storescp decides
                sop, has_meta = "", True
            counts["tried"] += 1
            for f in glob.glob(os.path.join(self.ref_dir, "*")):
                os.unlink(f)
            ref = self.send(path, self.ref_port, "REF", has_meta)
            received = glob.glob(os.path.join(self.ref_dir, "*"))
            if not store_ok(ref.stdout) or len(received) != 1:
                continue  # storescp refused it (or the tools cannot send it): not a reference
            counts["storescp"] += 1
            with open(received[0], "rb") as f:
                ref_bytes = f.read()
            ref_ds = pydicom.dcmread(received[0], force=True, stop_before_pixels=True)
            has_pixels = "PixelData" in pydicom.dcmread(received[0], force=True)
            want_name = EXPECTED_NAMES.get(name) or decoded_name(received[0])
            sop = str(ref_ds.SOPInstanceUID).strip("\0 ")
            ts = str(ref_ds.file_meta.TransferSyntaxUID).strip("\0 ")
            p = self.send(path, self.huren.dicom_port, "HUREN", has_meta)
            if not store_ok(p.stdout) and name in KNOWN_REFUSED:
                counts["known_refused"] = counts.get("known_refused", 0) + 1
                continue
            if not store_ok(p.stdout):
                problems.append("%s: refused by huren: %s" % (name, p.stdout[-400:]))
                continue
            counts["huren"] += 1
            found, study, series = self.find(sop)
            if not found or not study or not series:
                problems.append("%s: not found by C-FIND" % name)
                continue
            counts["found"] += 1
            item = self.qido(sop)
            if item is None:
                problems.append("%s: not found by QIDO-RS" % name)
            else:
                counts["qido"] += 1
                want = want_name
                if name.startswith("chr") and want is not None and \
                        qido_name(item) != want.rstrip("="):
                    problems.append("%s: PatientName %r, want %r" % (name, qido_name(item), want))
            got = self.cget(study, series, sop, ts)
            if got is None:
                problems.append("%s (%s): C-GET failed" % (name, ts))
            else:
                counts["cget"] += 1
                if dataset_part(got) == dataset_part(ref_bytes):
                    counts["cget_identical"] += 1
                else:
                    problems.append("%s (%s): C-GET returned other bytes" % (name, ts))
            got = self.cmove(study, series, sop)
            if got is not None and dataset_part(got) == dataset_part(ref_bytes):
                counts["cmove_identical"] += 1
            else:
                problems.append("%s (%s): C-MOVE %s" % (name, ts, "failed" if got is None
                                                        else "delivered other bytes"))
            got = self.wado(study, series, sop)
            if got is not None and dataset_part(got) == dataset_part(ref_bytes):
                counts["wado"] += 1
            else:
                problems.append("%s: WADO-RS %s" % (name, "failed" if got is None
                                                    else "returned other bytes"))
            try:
                frames = int(ref_ds.get("NumberOfFrames", 1) or 1)
            except ValueError:
                frames = 1  # "1A" in one file: DCMTK reads it as one frame too
            if has_pixels and frames == 1:
                counts["images"] += 1
                st = self.rendered(study, series, sop)
                if st == "200":
                    counts["rendered"] += 1
                elif name in KNOWN_UNRENDERABLE and st == "500":
                    counts["images"] -= 1
                else:
                    problems.append("%s (%s): /rendered answered %s" % (name, ts, st))
        print("\ncorpus: " + ", ".join("%s %d" % kv for kv in counts.items()))
        for pr in problems:
            print("  " + pr)
        self.assertEqual(counts["huren"] + counts.get("known_refused", 0), counts["storescp"],
                         problems)
        self.assertEqual(counts["found"], counts["huren"], problems)
        self.assertEqual(counts["qido"], counts["huren"], problems)
        self.assertEqual(counts["cget"], counts["huren"], problems)
        self.assertEqual(counts["cget_identical"], counts["huren"], problems)
        self.assertEqual(counts["cmove_identical"], counts["huren"], problems)
        self.assertEqual(counts["wado"], counts["huren"], problems)
        self.assertEqual(counts["rendered"], counts["images"], problems)
        self.assertEqual(problems, [])


# compressed corpus files and the DCMTK tool that decompresses each (the reference)
DECOMPRESSIBLE = {
    "MR_small_jpeg_ls_lossless.dcm": "dcmdjpls", "SC_rgb_jpeg_gdcm.dcm": "dcmdjpeg",
    "JPGExtended.dcm": "dcmdjpeg", "MR_small_RLE.dcm": "dcmdrle",
    "SC_rgb_rle_16bit_2frame.dcm": "dcmdrle",
}


@unittest.skipIf(pydicom is None, "python3-pydicom is not installed")
class DecompressOnTheWayOutTest(NodeTestCase):
    """A receiver that takes only uncompressed transfer syntaxes (storescp's default) gets a
    compressed instance decompressed, with the pixels DCMTK's own decompressors give; one whose
    syntax huren cannot decode (JPEG 2000) is a failed sub-operation, not a crash or a wrong
    image."""

    def test_move_to_an_uncompressed_only_receiver(self):
        port = free_port()
        self.node(config_text="[dicom]\nduplicates = replace\n[dicom_aes]\nPLAIN = 127.0.0.1:%d\n"
                  % port).start()
        n = self._procs[-1]
        out = os.path.join(self.tmp, "plain")
        os.makedirs(out)
        self.process(["storescp", "-aet", "PLAIN", "+B", "-od", out, str(port)], "storescp")
        wait_for(lambda: port_open(port), 30, "storescp")
        for name, tool in sorted(DECOMPRESSIBLE.items()) + [("JPEG2000.dcm", None)]:
            path = os.path.join(DATA, "test_files", name)
            p = run(["dcmsend", "-aec", "HUREN", "127.0.0.1", str(n.dicom_port), path])
            self.assertEqual(p.returncode, 0, p.stdout)
            ds = pydicom.dcmread(path)
            for f in glob.glob(os.path.join(out, "*")):
                os.unlink(f)
            p = run(["movescu", "-S", "-aet", "MOVER", "-aec", "HUREN", "-aem", "PLAIN",
                     "-k", "QueryRetrieveLevel=IMAGE", "-k", "StudyInstanceUID=%s" %
                     ds.StudyInstanceUID, "-k", "SeriesInstanceUID=%s" % ds.SeriesInstanceUID,
                     "-k", "SOPInstanceUID=%s" % ds.SOPInstanceUID,
                     "127.0.0.1", str(n.dicom_port)])
            got = glob.glob(os.path.join(out, "*"))
            if tool is None:
                self.assertEqual(got, [], name)
                self.assertIn("SubOperationsCompleteOneOrMoreFailures", p.stdout, name)
                self.assertIn("no decoder for the stored transfer syntax", n.output())
                continue
            self.assertEqual(len(got), 1, "%s: %s" % (name, p.stdout))
            ref = os.path.join(self.tmp, "ref.dcm")
            run([tool, path, ref])
            mine, theirs = pydicom.dcmread(got[0]), pydicom.dcmread(ref)
            self.assertIn(str(mine.file_meta.TransferSyntaxUID),
                          ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"), name)
            self.assertTrue(mine.PixelData == theirs.PixelData, "%s: %d bytes, want %d" % (
                name, len(mine.PixelData), len(theirs.PixelData)))
            self.assertEqual(mine.SOPInstanceUID, ds.SOPInstanceUID)
        self.assertGreater(len(DECOMPRESSIBLE), 4)


PRIVATE_CLASS = "1.2.826.0.1.3680043.9999.1.1"  # a storage SOP class no dictionary knows


@unittest.skipIf(pydicom is None, "python3-pydicom is not installed")
class UnknownSopClassTest(NodeTestCase):
    """A storage SOP class DCMTK does not know (a vendor's private one) is stored, found and
    returned by default, as Orthanc's UnknownSopClassAccepted; `accept_unknown_sop_classes = no`
    refuses its presentation context and stores nothing."""

    def private_file(self):
        ds = pydicom.dcmread(os.path.join(DATA, "test_files", "CT_small.dcm"))
        ds.SOPClassUID = PRIVATE_CLASS
        ds.file_meta.MediaStorageSOPClassUID = PRIVATE_CLASS
        path = os.path.join(self.tmp, "private.dcm")
        ds.save_as(path, write_like_original=False)
        return path, ds

    def test_accepted_by_default_refused_when_off(self):
        path, ds = self.private_file()
        port = free_port()
        self.node(config_text="[dicom_aes]\nANY = 127.0.0.1:%d\n" % port).start()
        n = self._procs[-1]
        p = run(["dcmsend", "-v", "-aec", "HUREN", "127.0.0.1", str(n.dicom_port), path])
        self.assertIn("Received C-STORE Response (Success)", p.stdout, p.stdout)
        p = run(["findscu", "-S", "-aec", "HUREN", "-k", "QueryRetrieveLevel=IMAGE",
                 "-k", "SOPInstanceUID=" + ds.SOPInstanceUID, "-k", "SOPClassUID",
                 "127.0.0.1", str(n.dicom_port)])
        self.assertIn(PRIVATE_CLASS, p.stdout)
        q = subprocess.run(["curl", "-s", n.url("/dicom-web/instances?SOPInstanceUID=%s"
                                                % ds.SOPInstanceUID)],
                           stdout=subprocess.PIPE, timeout=60)
        self.assertEqual(json.loads(q.stdout)[0]["00080016"]["Value"], [PRIVATE_CLASS])
        w = subprocess.run(["curl", "-s", "-o", os.path.join(self.tmp, "w.dcm"), "-w",
                            "%{http_code}", "-H", "Accept: application/dicom; transfer-syntax=*",
                            n.url("/dicom-web/studies/%s/series/%s/instances/%s" % (
                                ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID))],
                           stdout=subprocess.PIPE, timeout=60, text=True)
        self.assertEqual(w.stdout, "200")
        self.assertEqual(pydicom.dcmread(os.path.join(self.tmp, "w.dcm")).SOPClassUID,
                         PRIVATE_CLASS)
        # C-MOVE proposes the private class too: a receiver that takes it gets it
        out = os.path.join(self.tmp, "any")
        os.makedirs(out)
        cfg = os.path.join(self.tmp, "storescp.cfg")
        with open(cfg, "w") as f:
            f.write("[[TransferSyntaxes]]\n[Any]\nTransferSyntax1 = LittleEndianExplicit\n"
                    "TransferSyntax2 = LittleEndianImplicit\n[[PresentationContexts]]\n"
                    "[Private]\nPresentationContext1 = %s\\Any\n[[Profiles]]\n[Default]\n"
                    "PresentationContexts = Private\n" % PRIVATE_CLASS)
        self.process(["storescp", "-aet", "ANY", "-xf", cfg, "Default", "+B", "-od", out,
                      str(port)], "storescp")
        wait_for(lambda: port_open(port), 30, "storescp")
        p = run(["movescu", "-S", "-aet", "MOVER", "-aec", "HUREN", "-aem", "ANY",
                 "-k", "QueryRetrieveLevel=IMAGE", "-k", "StudyInstanceUID=" + ds.StudyInstanceUID,
                 "-k", "SeriesInstanceUID=" + ds.SeriesInstanceUID,
                 "-k", "SOPInstanceUID=" + ds.SOPInstanceUID, "127.0.0.1", str(n.dicom_port)])
        got = glob.glob(os.path.join(out, "*"))
        self.assertEqual(len(got), 1, p.stdout)
        self.assertEqual(pydicom.dcmread(got[0]).SOPClassUID, PRIVATE_CLASS)
        # C-GET: getscu (DCMTK 3.6.7) proposes only the storage classes DCMTK lists and has no
        # option to propose another, so huren has no context to send on: one failed
        # sub-operation, and the log says why
        od = os.path.join(self.tmp, "get")
        os.makedirs(od)
        p = run(["getscu", "-v", "-S", "-aec", "HUREN", "-od", od,
                 "-k", "QueryRetrieveLevel=IMAGE",
                 "-k", "StudyInstanceUID=" + ds.StudyInstanceUID,
                 "-k", "SeriesInstanceUID=" + ds.SeriesInstanceUID,
                 "-k", "SOPInstanceUID=" + ds.SOPInstanceUID, "127.0.0.1", str(n.dicom_port)])
        self.assertIn("SubOperationsCompleteOneOrMoreFailures", p.stdout)
        self.assertEqual(os.listdir(od), [])
        self.assertIn("no accepted presentation context for " + PRIVATE_CLASS, n.output())
        n.stop()

        self.node(name="strict", config_text="[dicom]\naccept_unknown_sop_classes = no\n").start()
        m = self._procs[-1]
        p = run(["dcmsend", "-v", "-aec", "HUREN", "127.0.0.1", str(m.dicom_port), path])
        self.assertNotIn("Received C-STORE Response (Success)", p.stdout)
        self.assertIn("Association Rejected", p.stdout)  # its only context refused
        p = run(["storescu", "-aec", "HUREN", "127.0.0.1", str(m.dicom_port), path])
        self.assertIn("No presentation context for: (unknown SOP class) " + PRIVATE_CLASS,
                      p.stdout)
        self.assertIn("SOP class %s is unknown and accept_unknown_sop_classes = no"
                      % PRIVATE_CLASS, m.output())
        p = run(["findscu", "-S", "-aec", "HUREN", "-k", "QueryRetrieveLevel=IMAGE",
                 "-k", "SOPInstanceUID=" + ds.SOPInstanceUID, "127.0.0.1", str(m.dicom_port)])
        self.assertNotIn(ds.SOPInstanceUID, p.stdout)


TEXT_VRS = ("PN", "LO", "SH", "ST", "LT", "UT", "UC")


def pydicom_texts(ds, path=""):
    """{tag path: [values]} of every text value of ds and its sequences, decoded by pydicom."""
    out = {}
    for el in ds:
        key = path + "%08X" % el.tag
        if el.VR == "SQ":
            for i, item in enumerate(el.value):
                out.update(pydicom_texts(item, "%s[%d]." % (key, i)))
        elif el.VR in TEXT_VRS and el.value not in (None, "") and el.tag.group % 2 == 0:
            # (private elements: their VR is unknown without the creator's dictionary)
            vals = [str(v).rstrip("=") for v in (el.value if el.VM > 1 else [el.value])]
            if any(v.strip("^=") for v in vals):  # a name of only separators is empty (PS3.5)
                out[key] = vals
    return out


def json_texts(obj, path=""):
    """The same from a DICOM JSON dataset (PN groups joined by '=')."""
    out = {}
    for tag, el in obj.items():
        key = path + tag.upper()
        if el.get("vr") == "SQ":
            for i, item in enumerate(el.get("Value", [])):
                out.update(json_texts(item, "%s[%d]." % (key, i)))
        elif el.get("vr") in TEXT_VRS and el.get("Value"):
            vals = []
            for v in el["Value"]:
                if isinstance(v, dict):
                    v = "=".join(v.get(k, "") for k in ("Alphabetic", "Ideographic", "Phonetic"))
                vals.append(str(v).rstrip("="))
            out[key] = vals
    return out


@unittest.skipIf(pydicom is None, "python3-pydicom is not installed")
class MetadataInUtf8Test(NodeTestCase):
    """WADO-RS /metadata gives every text value in UTF-8 whatever the stored Specific Character
    Set, ISO 2022 code extensions (IR 87, 159, 149, 58) and sequence items with a charset of
    their own included, and says ISO_IR 192; pydicom's decoding of the file is the oracle. QIDO-RS
    answers for the same instances are checked the same way."""

    def check_qido(self, n, ds, want, name):
        """QIDO-RS (includefield=all) answers in UTF-8 too: every text attribute it returns reads
        as pydicom decodes it, the patient's name (all three groups) included."""
        p = subprocess.run(["curl", "-s", n.url("/dicom-web/instances?SOPInstanceUID=%s"
                                                "&includefield=all" % ds.SOPInstanceUID)],
                           stdout=subprocess.PIPE, timeout=60)
        item = json.loads(p.stdout.decode("utf-8"))[0]
        self.assertEqual(item["00080005"]["Value"], ["ISO_IR 192"], name)
        got = json_texts(item)
        if "00100010" in want:
            self.assertEqual(got.get("00100010"), want["00100010"], name + " QIDO")
        for key in set(got) & set(want):
            self.assertEqual(got[key], want[key], "%s QIDO %s" % (name, key))

    def test_every_charset_file(self):
        self.node(config_text="[dicom]\nduplicates = replace\n").start()
        n = self._procs[-1]
        files = sorted(glob.glob(os.path.join(DATA, "charset_files", "*.dcm")))
        checked = 0
        for path in files:
            try:
                ds = pydicom.dcmread(path)
                ds.decode()
            except Exception:  # noqa: BLE001 - pydicom cannot decode it: no oracle
                continue
            if run(["dcmsend", "-aec", "HUREN", "127.0.0.1", str(n.dicom_port),
                    path]).returncode != 0:
                continue
            url = n.url("/dicom-web/studies/%s/series/%s/instances/%s/metadata" % (
                ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID))
            p = subprocess.run(["curl", "-s", url], stdout=subprocess.PIPE, timeout=60)
            meta = json.loads(p.stdout.decode("utf-8"))[0]
            self.assertEqual(meta["00080005"]["Value"], ["ISO_IR 192"], path)
            want, got = pydicom_texts(ds), json_texts(meta)
            for key, value in want.items():
                self.assertEqual(got.get(key), value, "%s %s" % (os.path.basename(path), key))
            self.check_qido(n, ds, want, os.path.basename(path))
            checked += 1
        self.assertGreaterEqual(checked, 15)


if __name__ == "__main__":
    unittest.main()
