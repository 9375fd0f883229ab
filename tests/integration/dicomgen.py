"""dicomgen.py: writes small, valid DICOM Part-10 files for the tests and the benchmark.

Explicit VR Little Endian with a meta header; patient names encoded in the character set the
test asks for (GB18030, ISO_IR 192, ISO_IR 100 or the default repertoire), so that the node's
conversion to UTF-8 is exercised with real bytes. Stdlib only."""

import struct

EXPLICIT_LE = "1.2.840.10008.1.2.1"
SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "OT": "1.2.840.10008.5.1.4.1.1.7",
}
LONG_VRS = {"OB", "OW", "OF", "SQ", "UT", "UN", "UC", "UR", "OD", "OL", "OV"}
PY_CODECS = {"GB18030": "gb18030", "GBK": "gbk", "ISO_IR 192": "utf-8",
             "ISO_IR 100": "latin-1", "": "ascii"}


def element(group, elem, vr, value):
    if isinstance(value, str):
        value = value.encode("ascii")
    if len(value) % 2:
        value += b"\0" if vr in ("UI", "OB", "OW") else b" "
    head = struct.pack("<HH", group, elem) + vr.encode("ascii")
    if vr in LONG_VRS:
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def us(n):
    return struct.pack("<H", n)


def instance_bytes(study_uid, series_uid, sop_uid, patient_id="P1", patient_name="Test^Patient",
                   charset="", modality="CT", study_date="20260101", study_time="101010",
                   accession="", study_desc="", series_number="1", instance_number="1",
                   body_part="", birth_date="19700101", sex="M", rows=8, cols=8,
                   pixel_bytes=None, institution="", omit=(), extra=()):
    """Return the bytes of one instance. `omit` lists (group, elem) tags to leave out; `extra`
    adds (group, elem, vr, bytes-or-str) elements. Elements are written in tag order."""
    codec = PY_CODECS[charset]
    sop_class = SOP_CLASSES.get(modality, SOP_CLASSES["OT"])
    if pixel_bytes is None:
        pixel_bytes = bytes((i * 7) % 256 for i in range(rows * cols * 2))
    els = [
        (0x0008, 0x0005, "CS", charset),
        (0x0008, 0x0016, "UI", sop_class),
        (0x0008, 0x0018, "UI", sop_uid),
        (0x0008, 0x0020, "DA", study_date),
        (0x0008, 0x0021, "DA", study_date),
        (0x0008, 0x0030, "TM", study_time),
        (0x0008, 0x0050, "SH", accession),
        (0x0008, 0x0060, "CS", modality),
        (0x0008, 0x0080, "LO", institution.encode(codec)),
        (0x0008, 0x0090, "PN", ""),
        (0x0008, 0x1030, "LO", study_desc.encode(codec)),
        (0x0010, 0x0010, "PN", patient_name.encode(codec)),
        (0x0010, 0x0020, "LO", patient_id),
        (0x0010, 0x0030, "DA", birth_date),
        (0x0010, 0x0040, "CS", sex),
        (0x0018, 0x0015, "CS", body_part),
        (0x0020, 0x000D, "UI", study_uid),
        (0x0020, 0x000E, "UI", series_uid),
        (0x0020, 0x0010, "SH", "1"),
        (0x0020, 0x0011, "IS", series_number),
        (0x0020, 0x0013, "IS", instance_number),
        (0x0028, 0x0002, "US", us(1)),
        (0x0028, 0x0004, "CS", "MONOCHROME2"),
        (0x0028, 0x0010, "US", us(rows)),
        (0x0028, 0x0011, "US", us(cols)),
        (0x0028, 0x0100, "US", us(16)),
        (0x0028, 0x0101, "US", us(12)),
        (0x0028, 0x0102, "US", us(11)),
        (0x0028, 0x0103, "US", us(0)),
        (0x7FE0, 0x0010, "OW", pixel_bytes),
    ]
    els += list(extra)
    els = [e for e in els if (e[0], e[1]) not in omit]
    els.sort(key=lambda e: (e[0], e[1]))
    body = b"".join(element(*e) for e in els)
    meta_items = (element(0x0002, 0x0001, "OB", b"\0\1")
                  + element(0x0002, 0x0002, "UI", sop_class)
                  + element(0x0002, 0x0003, "UI", sop_uid)
                  + element(0x0002, 0x0010, "UI", EXPLICIT_LE)
                  + element(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.10.1492.1")
                  + element(0x0002, 0x0013, "SH", "HUREN_TEST"))
    meta = element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta_items))) + meta_items
    return b"\0" * 128 + b"DICM" + meta + body


def write_instance(path, **kw):
    data = instance_bytes(**kw)
    with open(path, "wb") as f:
        f.write(data)
    return path


def uid(*parts):
    """A valid UID under a test root: uid(1, 2, 3) -> '1.2.826.0.1.3680043.10.1492.1.2.3'."""
    return "1.2.826.0.1.3680043.10.1492." + ".".join(str(int(p)) for p in parts)
