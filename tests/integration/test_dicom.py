"""test_dicom.py: a node driven by DCMTK's echoscu, storescu, findscu, movescu and getscu.

Stores several patients (Chinese names in GB18030 and UTF-8, a Latin-1 name), checks exact
C-FIND result sets at every level and matching kind, retrieves with C-MOVE into a storescp the
test starts and with C-GET, restarts the node and finds everything again."""

import os
import re
import unittest

from dicomgen import uid, write_instance
from harness import NodeTestCase, find, run, free_port, wait_for, port_open, dcmdump_values

S1, S2, S3, S4 = uid(1), uid(2), uid(3), uid(4)
# (patient id, name, charset, study, date, time, accession, series [(uid, modality, n)])
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


def make_corpus(folder):
    files = {}
    for pid, name, cs, study, date, time_, acc, series in CORPUS:
        for si, (series_uid, modality, count) in enumerate(series, 1):
            for i in range(1, count + 1):
                sop = series_uid + ".%d" % i
                path = os.path.join(folder, "%s.dcm" % sop)
                write_instance(path, study_uid=study, series_uid=series_uid, sop_uid=sop,
                               patient_id=pid, patient_name=name, charset=cs,
                               modality=modality, study_date=date, study_time=time_,
                               accession=acc, series_number=str(si), instance_number=str(i))
                files[sop] = path
    return files


def store(node, paths, aet="STORESCU"):
    return run(["storescu", "-aet", aet, "-aec", node.aet, "127.0.0.1", str(node.dicom_port)]
               + list(paths))


def values(results, tag):
    return sorted(r.get(tag, None) for r in results)


PATIENT_ID, PATIENT_NAME = (0x0010, 0x0020), (0x0010, 0x0010)
STUDY_UID, SERIES_UID, SOP_UID = (0x0020, 0x000D), (0x0020, 0x000E), (0x0008, 0x0018)
ACCESSION, MODALITIES = (0x0008, 0x0050), (0x0008, 0x0061)


class DicomNodeTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.files = make_corpus(self.tmp)
        self.dest_port = free_port()
        conf = "[dicom_aes]\nDEST = 127.0.0.1:%d\n" % self.dest_port
        self.n = self.node(config_text=conf).start()
        p = store(self.n, sorted(self.files.values()))
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_echo_and_unknown_called_ae(self):
        p = run(["echoscu", "-aec", "HUREN", "127.0.0.1", str(self.n.dicom_port)])
        self.assertEqual(p.returncode, 0, p.stdout)
        p = run(["echoscu", "-aec", "NOT_HUREN", "127.0.0.1", str(self.n.dicom_port)])
        self.assertNotEqual(p.returncode, 0, "an unknown called AE must be refused")
        p = run(["echoscu", "-aec", "HUREN", "127.0.0.1", str(self.n.dicom_port)])
        self.assertEqual(p.returncode, 0, "the node keeps serving after a refusal")

    def test_find_patient_level(self):
        r = find(self.n, "PATIENT", ["PatientID", "PatientName"], model="-P")
        self.assertEqual(values(r, PATIENT_ID), ["P001", "P002", "P003"])
        names = {x[PATIENT_ID]: x[PATIENT_NAME] for x in r}
        self.assertEqual(names["P002"], "Wang^Xiaoming=王^小明")  # GB18030 in, UTF-8 out
        self.assertEqual(names["P001"], "Zhang^San=张^三")
        self.assertEqual(names["P003"], "Müller^Hans")
        r = find(self.n, "PATIENT", ["PatientID", "PatientName=Zhang*"], model="-P")
        self.assertEqual(values(r, PATIENT_ID), ["P001"])
        r = find(self.n, "PATIENT", ["PatientID", "PatientName=王*"], model="-P",
                 extra=["-k", "SpecificCharacterSet=ISO_IR 192"])
        self.assertEqual(values(r, PATIENT_ID), ["P002"])
        r = find(self.n, "PATIENT", ["PatientID", "PatientName=müller*"], model="-P",
                 extra=["-k", "SpecificCharacterSet=ISO_IR 192"])
        self.assertEqual(values(r, PATIENT_ID), ["P003"])
        r = find(self.n, "PATIENT", ["PatientID=P00?", "NumberOfPatientRelatedStudies"],
                 model="-P")
        counts = {x[PATIENT_ID]: x[(0x0020, 0x1200)] for x in r}
        self.assertEqual(counts, {"P001": "1", "P002": "2", "P003": "1"})

    def test_find_study_level_matching(self):
        r = find(self.n, "STUDY", ["PatientID=P002", "StudyInstanceUID", "AccessionNumber"])
        self.assertEqual(values(r, ACCESSION), ["ACC002", "ACC003"])
        r = find(self.n, "STUDY", ["StudyDate=20260101-20261231", "AccessionNumber"])
        self.assertEqual(values(r, ACCESSION), ["ACC001", "ACC002", "ACC004"])
        r = find(self.n, "STUDY", ["StudyDate=-20251231", "AccessionNumber"])
        self.assertEqual(values(r, ACCESSION), ["ACC003"])
        r = find(self.n, "STUDY", ["StudyDate=20261101-", "AccessionNumber"])
        self.assertEqual(values(r, ACCESSION), ["ACC004"])
        r = find(self.n, "STUDY", ["StudyTime=080000-150000", "AccessionNumber"])
        self.assertEqual(values(r, ACCESSION), ["ACC001", "ACC002", "ACC003"])
        r = find(self.n, "STUDY", ["AccessionNumber=ACC00?"])
        self.assertEqual(len(r), 4)
        r = find(self.n, "STUDY", ["AccessionNumber=*3"])
        self.assertEqual(values(r, ACCESSION), ["ACC003"])
        r = find(self.n, "STUDY", ["StudyInstanceUID=%s\\%s" % (S1, S4), "AccessionNumber"])
        self.assertEqual(values(r, ACCESSION), ["ACC001", "ACC004"])
        r = find(self.n, "STUDY", ["ModalitiesInStudy=MR", "AccessionNumber"])
        self.assertEqual(values(r, ACCESSION), ["ACC002"])
        r = find(self.n, "STUDY", ["PatientID=NOBODY", "AccessionNumber"])
        self.assertEqual(r, [])

    def test_find_return_keys(self):
        r = find(self.n, "STUDY", ["StudyInstanceUID=" + S1, "ModalitiesInStudy",
                                   "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
                                   "PatientName", "StudyDescription"])
        self.assertEqual(len(r), 1)
        x = r[0]
        self.assertEqual(x[MODALITIES], "CT")
        self.assertEqual(x[(0x0020, 0x1206)], "2")
        self.assertEqual(x[(0x0020, 0x1208)], "5")
        self.assertEqual(x[PATIENT_NAME], "Zhang^San=张^三")
        self.assertIn((0x0008, 0x1030), x, "a requested key is returned even when empty")
        self.assertNotIn((0x0010, 0x0030), x, "an unrequested key is not returned")
        self.assertEqual(x[(0x0008, 0x0052)], "STUDY")

    def test_find_series_and_image_levels(self):
        r = find(self.n, "SERIES", ["StudyInstanceUID=" + S1, "SeriesInstanceUID", "Modality",
                                    "NumberOfSeriesRelatedInstances"])
        self.assertEqual(values(r, SERIES_UID), sorted([uid(1, 1), uid(1, 2)]))
        self.assertEqual({x[SERIES_UID]: x[(0x0020, 0x1209)] for x in r},
                         {uid(1, 1): "3", uid(1, 2): "2"})
        r = find(self.n, "SERIES", ["Modality=CT", "SeriesInstanceUID"])
        self.assertEqual(values(r, SERIES_UID), sorted([uid(1, 1), uid(1, 2), uid(4, 1)]))
        r = find(self.n, "IMAGE", ["StudyInstanceUID=" + S1, "SeriesInstanceUID=" + uid(1, 1),
                                   "SOPInstanceUID", "InstanceNumber"])
        self.assertEqual(values(r, SOP_UID), sorted(uid(1, 1) + ".%d" % i for i in (1, 2, 3)))
        r = find(self.n, "IMAGE", ["SOPInstanceUID=" + uid(4, 1) + ".1", "PatientID"],
                 model="-P")
        self.assertEqual(values(r, PATIENT_ID), ["P003"])

    def test_move_to_known_and_unknown_destination(self):
        out = os.path.join(self.tmp, "received")
        os.mkdir(out)
        scp = self.process(["storescp", "-aet", "DEST", "-od", out, str(self.dest_port)],
                           "storescp")
        wait_for(lambda: port_open(self.dest_port), 30, "storescp")
        p = run(["movescu", "-v", "-S", "-aet", "MOVESCU", "-aec", "HUREN", "-aem", "DEST",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + S1,
                 "127.0.0.1", str(self.n.dicom_port)])
        self.assertEqual(p.returncode, 0, p.stdout)
        got = sorted(dcmdump_values(os.path.join(out, f))[SOP_UID] for f in os.listdir(out))
        self.assertEqual(got, sorted(s for s in self.files if s.startswith(uid(1) + ".")))
        p = run(["movescu", "-v", "-S", "-aet", "MOVESCU", "-aec", "HUREN", "-aem", "NOWHERE",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + S1,
                 "127.0.0.1", str(self.n.dicom_port)])
        self.assertRegex(p.stdout, re.compile(r"a801|destination ?unknown", re.I), p.stdout)
        scp.stop()

    def test_get(self):
        out = os.path.join(self.tmp, "got")
        os.mkdir(out)
        p = run(["getscu", "-S", "-aet", "GETSCU", "-aec", "HUREN", "-od", out,
                 "-k", "QueryRetrieveLevel=SERIES", "-k", "StudyInstanceUID=" + S2,
                 "-k", "SeriesInstanceUID=" + uid(2, 1), "127.0.0.1", str(self.n.dicom_port)])
        self.assertEqual(p.returncode, 0, p.stdout)
        got = sorted(dcmdump_values(os.path.join(out, f))[SOP_UID] for f in os.listdir(out))
        self.assertEqual(got, [uid(2, 1) + ".1", uid(2, 1) + ".2"])
        names = {dcmdump_values(os.path.join(out, f))[PATIENT_NAME] for f in os.listdir(out)}
        self.assertEqual(names, {"Wang^Xiaoming=王^小明"}, "stored as received (GB18030)")

    def test_restart_keeps_everything(self):
        self.n.stop()
        self.n.start()
        r = find(self.n, "IMAGE", ["SOPInstanceUID"], model="-P",
                 extra=["-k", "PatientID=*", "-k", "StudyInstanceUID=*",
                        "-k", "SeriesInstanceUID=*"])
        self.assertEqual(values(r, SOP_UID), sorted(self.files))

    def test_restore_is_idempotent(self):
        p = store(self.n, sorted(self.files.values()))
        self.assertEqual(p.returncode, 0, p.stdout)
        r = find(self.n, "STUDY", ["StudyInstanceUID=" + S1, "NumberOfStudyRelatedInstances"])
        self.assertEqual(r[0][(0x0020, 0x1208)], "5")


if __name__ == "__main__":
    unittest.main()
