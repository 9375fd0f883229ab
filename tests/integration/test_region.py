"""test_region.py: a test region on loopback: the regional directory and hospitals A, B and C,
each with certificates of its own from `conf/make-test-pki.sh DIR A B C` (mutual TLS between
all of them). B stores a CT with storescu and its report over MLLP; A knows the patient from an
ADT under another local id; A's doctor gets the recognition prompt (curl) and retrieves the
study. Then: the directory never lists A (or C) for B's study; A's next prompt lists the exam
once, at B; QIDO-RS and C-FIND at A by A's local id find it; C-MOVE from A into a storescp
started here delivers instances with A's PatientID and IssuerOfPatientID and B's ids in
OtherPatientIDsSequence (dcmdump of the received files), C-GET (getscu) likewise; WADO-RS
from A gives A's PatientID too; the bytes B sent are kept at A as received (read back from A's SQLite index and blob
store), while own instances go out byte-identical. C, which has no ADT for the patient, finds
its copy by the resident id. And with B's images only in B's PACS (dcmqrscp): a `huren pacs
sync` publishes them without copying; A's retrieval through B's gateway makes B fetch them
from its PACS on demand; A's [forward] rule puts the prior into A's PACS by itself, across
that PACS's outage, once, with A's patient ids."""

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import time
import urllib.parse

from dicomgen import uid, write_instance
from harness import HUREN, NodeTestCase, find, free_port, port_open, run, wait_for
import test_directory as td
from test_directory import CATALOGUE, NAME, curl_json, pseudonym
from test_hl7 import NID, Client, msh, oru

A, B, C = "H37020001", "H37010002", "H37030003"
A_ID, B_ID = "A-900", "B-555"  # the patient's local ids at A and at B
A_ISSUER, B_ISSUER = "HOSP-A", "HOSP-B"
STUDY = uid(500)
OWN_STUDY = uid(501)  # A's own CT of the patient


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def dump(path):
    """dcmdump's text of a file (sequence items indented)."""
    return run(["dcmdump", "-q", "+U8", "+L", path], check=True).stdout


def top_value(text, tag):
    """The value of a top-level element "(gggg,eeee)" in dcmdump's text, or None."""
    m = re.search(r"^\(%s\) \w\w \[(.*?)\]" % re.escape(tag), text, re.M)
    return m.group(1) if m else None


def other_ids(text):
    """[(PatientID, IssuerOfPatientID, TypeOfPatientID)] of OtherPatientIDsSequence."""
    out, cur, inside = [], None, False
    for line in text.splitlines():
        if line.startswith("(0010,1002) SQ"):
            inside = True
            continue
        if inside and not line.startswith(" "):
            break
        if not inside:
            continue
        if "(fffe,e000)" in line:
            cur = {}
            out.append(cur)
        m = re.match(r"^\s+\((0010,00(?:20|21|22))\) \w\w \[(.*?)\]", line)
        if m and cur is not None:
            cur[m.group(1)] = m.group(2)
    return [(i.get("0010,0020"), i.get("0010,0021"), i.get("0010,0022")) for i in out]


class RegionTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(td.REPO, "conf", "make-test-pki.sh"), self.pki, A, B, C],
            check=True)
        self.subjects = {}
        for inst in (A, B, C):
            with open(os.path.join(self.pki, inst, "subjects.txt")) as f:
                self.subjects[inst] = dict(line.split("\t") for line in f.read().splitlines())
        self.key_file = os.path.join(self.tmp, "region.key")
        self.key = secrets.token_hex(32)
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        p = self.pki
        conf = ["[http]", "tls_cert = %s/server.crt" % p, "tls_key = %s/server.key" % p,
                "tls_client_ca = %s/ca.crt" % p, "tls_client_verify = require"]
        for inst in (A, B, C):  # each gateway publishes and looks up as itself
            conf += ['[client "gw-%s"]' % inst, "subject = " + self.subjects[inst]["peer"],
                     "institution = " + inst, "role = peer"]
        self.dir = self.node(name="directory", https=True, config_text="\n".join(conf) + "\n",
                             extra_args=["--role", "directory"]).start()

    def hospital(self, inst, aet, extra=()):
        p = os.path.join(self.pki, inst)
        n = self.node(name="hospital-" + inst, aet=aet, https=True, config_text="")
        conf = ["[node]", "patient_id_issuer = HOSP-%s" % {A: "A", B: "B", C: "C"}[inst],
                "[http]", "tls_cert = %s/server.crt" % p, "tls_key = %s/server.key" % p,
                "tls_client_ca = %s/ca.crt" % p, "tls_client_verify = require",
                "[directory]", "publish = yes",
                "url = https://127.0.0.1:%d" % self.dir.http_port,
                "region_key = " + self.key_file, "institution = " + inst,
                "source_url = https://127.0.0.1:%d" % n.http_port, "hr_scope = province",
                "qualified_from = 20230101", "qualified_to = 20271231",
                "catalogue = " + CATALOGUE, "tls_cert = %s/peer.crt" % p,
                "tls_key = %s/peer.key" % p, "tls_ca = %s/ca.crt" % p,
                "retry_min_ms = 100", "retry_max_ms = 1000", "poll_ms = 50", "timeout = 5"]
        for role in ("clinician", "admin"):
            conf += ['[client "%s"]' % role, "subject = " + self.subjects[inst][role],
                     "institution = " + inst, "role = " + role]
        for other in (A, B, C):
            if other != inst:
                conf += ['[client "gw-%s"]' % other, "subject = " + self.subjects[other]["peer"],
                         "institution = " + other, "role = peer"]
        conf += list(extra)
        with open(n.config_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        return n.start()

    def call(self, node, inst, path, method="GET", body=None, who="clinician"):
        return curl_json(node.url(path), os.path.join(self.pki, inst), who, method,
                         None if body is None else json.dumps(body))

    def send(self, node, msg):
        c = Client(node.hl7_port)
        try:
            code, segs = c.code(msg)
            self.assertEqual(code, "AA", segs)
        finally:
            c.close()

    def directory_entries(self):
        status, body = curl_json(self.dir.url("/api/v1/directory/records?pseudonym="
                                              + pseudonym(self.key, NID)),
                                 os.path.join(self.pki, A), "peer")
        self.assertEqual(status, 200, body)
        return [(e["institution"], e["record_key"]) for e in body["records"]]

    def write_study(self, study, patient_id, issuer, n, accession):
        d = tempfile.mkdtemp(prefix="dcm-", dir=self.tmp)
        files = []
        for i in range(n):
            files.append(write_instance(
                os.path.join(d, "%d.dcm" % i), study_uid=study, series_uid=study + ".1",
                sop_uid="%s.1.%d" % (study, i + 1), patient_id=patient_id, patient_name=NAME,
                charset="ISO_IR 192", modality="CT", study_date="20240105",
                study_desc="胸部CT平扫", body_part="CHEST", accession=accession,
                instance_number=str(i + 1),
                extra=[(0x0010, 0x0021, "LO", issuer), (0x0010, 0x1000, "LO", NID)]))
        return files

    def storescu(self, node, files):
        run(["storescu", "-aet", "MODALITY", "-aec", node.aet, "127.0.0.1",
             str(node.dicom_port)] + files, check=True)

    def wado(self, node, inst, study):
        """WADO-RS of a study: the parts' bytes (curl, mTLS; binary body)."""
        d = tempfile.mkdtemp(prefix="wado-", dir=self.tmp)
        body, hdr = os.path.join(d, "b"), os.path.join(d, "h")
        pki = os.path.join(self.pki, inst)
        p = run(["curl", "-s", "--noproxy", "*", "-o", body, "-D", hdr, "-w", "%{http_code}",
                 "--cacert", os.path.join(pki, "ca.crt"), "--cert", os.path.join(pki, "clinician.crt"),
                 "--key", os.path.join(pki, "clinician.key"),
                 "-H", 'Accept: multipart/related; type="application/dicom"',
                 node.url("/dicom-web/studies/" + study)], check=True)
        self.assertEqual(p.stdout.strip(), "200")
        with open(hdr, encoding="latin-1") as f:
            ct = re.search(r"^content-type:(.*)$", f.read(), re.I | re.M).group(1)
        boundary = re.search(r'boundary="?([^";\s]+)', ct).group(1).encode()
        with open(body, "rb") as f:
            data = f.read()
        parts = []
        for chunk in data.split(b"--" + boundary)[1:]:
            if chunk.startswith(b"--"):
                break
            head, _, payload = chunk.partition(b"\r\n\r\n")
            parts.append(payload[:-2] if payload.endswith(b"\r\n") else payload)
        return parts

    def held_bytes(self, node, study):
        """{SOP instance UID: sha256} of the bytes node's archive holds for a study, read from
        its SQLite index and blob store (files of their own or packs)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(node.data, "index.db"), uri=True)
        try:
            rows = db.execute(
                "SELECT i.sop_instance_uid, i.blob_name, i.blob_offset, i.blob_size FROM"
                " instances i JOIN series se ON se.pk=i.series_pk JOIN studies st"
                " ON st.pk=se.study_pk WHERE st.study_uid=?", (study,)).fetchall()
        finally:
            db.close()
        out = {}
        for sop, name, offset, size in rows:
            with open(os.path.join(node.data, "blobs", name), "rb") as f:
                f.seek(offset)
                out[sop] = sha256(f.read(size))
        return out

    def prompt(self, node, inst, patient):
        q = urllib.parse.urlencode(dict(patient=patient, item="CT-CHEST-PLAIN", at="20240110",
                                        doctor="D1", dept="RAD"))
        status, body = self.call(node, inst, "/api/v1/recognition?" + q)
        self.assertEqual(status, 200, body)
        return body

    def study_results(self, prompt):
        return [r for r in prompt["results"] if r["result_key"].endswith("/study:" + STUDY)]

    def test_retrieved_copy_belongs_to_local_patient(self):
        pacs_port = free_port()
        self.b = self.hospital(B, "GW_B")
        self.a = self.hospital(A, "GW_A", extra=["[recognition]", "retrieve_on_move = yes",
                                                 "[dicom_aes]", "PACS_A = 127.0.0.1:%d" % pacs_port])
        self.c = self.hospital(C, "GW_C")

        # B: the CT (storescu) and its report (HL7, linked by accession number)
        self.storescu(self.b, self.write_study(STUDY, B_ID, B_ISSUER, 2, "ACC-B1"))
        original = self.held_bytes(self.b, STUDY)  # B's bytes as B stored them
        self.assertEqual(len(original), 2)
        self.send(self.b, oru("b1", pid=B_ID, nid=NID, order="BORD1", item="CTCHEST^胸部CT平扫^L",
                              section="CT", accession="ACC-B1", observed="20240105100000",
                              obx=["OBX|1|TX|IMP^印象^L||右肺下叶小结节||||||F"]))
        wait_for(lambda: (B, "study:" + STUDY) in self.directory_entries(), 60,
                 "B's study at the directory")

        # A: the patient from its HIS (ADT) under A's own id, with the resident id; A's own CT
        adt = "\r".join([msh("ADT^A01", "a-adt-1"), "EVN|A01|20240108",
                         "PID|1||%s^^^H1^PI~%s^^^CHN^ID||%s||19491231|M" % (A_ID, NID, NAME),
                         "PV1|1|O|内科||||||||||||||||VA1"]) + "\r"
        self.send(self.a, adt)
        self.storescu(self.a, self.write_study(OWN_STUDY, A_ID, A_ISSUER, 1, "ACC-A1"))
        wait_for(lambda: (A, "study:" + OWN_STUDY) in self.directory_entries(), 60,
                 "A's own study at the directory")
        status, consent = self.call(self.a, A, "/api/v1/consents", method="POST", body=dict(
            patient=A_ID, purpose="recognition", grantee="*", form_ref="FORM-R-A",
            expires="2099-12-31"))
        self.assertEqual(status, 201, consent)

        # A's doctor: the prompt lists B's CT; the study is retrieved into A
        first = self.prompt(self.a, A, A_ID)
        listed = self.study_results(first)
        self.assertEqual([r["institution"] for r in listed], [B], first)
        status, got = self.call(self.a, A, "/api/v1/retrievals", method="POST", body=dict(
            prompt_id=first["prompt_id"], result_key=listed[0]["result_key"]))
        self.assertEqual((status, got["status"], got["stored"]), (200, "complete", 2), got)

        # the directory never lists A for B's study: A's outbox has nothing for it (A's health
        # shows an empty backlog once its own study is published)
        def drained():
            status, h = self.call(self.a, A, "/api/v1/health", who="admin")
            return status == 200 and h.get("directory", {}).get("backlog") == 0
        wait_for(drained, 60, "A's outbox drained")
        entries = self.directory_entries()
        self.assertIn((B, "study:" + STUDY), entries)
        self.assertNotIn((A, "study:" + STUDY), entries)
        self.assertIn((A, "study:" + OWN_STUDY), entries)

        # A's next prompt lists the exam once, at B
        again = self.prompt(self.a, A, A_ID)
        self.assertEqual([(r["institution"], r["source"]) for r in self.study_results(again)],
                         [(B, self.b.url("").rstrip("/"))], again)

        # QIDO-RS and C-FIND at A by A's local id find it, under A's id and issuer
        status, qido = self.call(self.a, A, "/dicom-web/studies?PatientID=" + A_ID)
        self.assertEqual(status, 200, qido)
        by_uid = {s["0020000D"]["Value"][0]: s for s in qido}
        self.assertIn(STUDY, by_uid)
        self.assertIn(OWN_STUDY, by_uid)
        self.assertEqual(by_uid[STUDY]["00100020"]["Value"], [A_ID])
        # B's id means nothing at A: it finds nothing
        status, qido = self.call(self.a, A, "/dicom-web/studies?PatientID=" + B_ID)
        self.assertIn(status, (200, 204), qido)
        self.assertFalse(qido)
        found = find(self.a, "STUDY", ["PatientID=" + A_ID, "StudyInstanceUID",
                                       "IssuerOfPatientID"], aet="PACS_A")
        self.assertIn(STUDY, [r.get((0x0020, 0x000D)) for r in found])
        self.assertEqual({r.get((0x0010, 0x0020)) for r in found}, {A_ID})

        # C-MOVE from A into A's PACS (a storescp): A's PatientID and issuer, B's ids kept
        out = os.path.join(self.tmp, "pacs")
        os.mkdir(out)
        self.process(["storescp", "-aet", "PACS_A", "-od", out, str(pacs_port)], "storescp")
        wait_for(lambda: port_open(pacs_port), 30, "storescp")
        p = run(["movescu", "-S", "-aet", "PACS_A", "-aec", "GW_A", "-aem", "PACS_A",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + STUDY,
                 "127.0.0.1", str(self.a.dicom_port)])
        self.assertEqual(p.returncode, 0, p.stdout)
        received = sorted(os.listdir(out))
        self.assertEqual(len(received), 2)
        for name in received:
            text = dump(os.path.join(out, name))
            self.assertEqual(top_value(text, "0010,0020"), A_ID, text)
            self.assertEqual(top_value(text, "0010,0021"), A_ISSUER, text)
            self.assertEqual(other_ids(text), [(B_ID, B_ISSUER, "TEXT")], text)
            self.assertEqual(top_value(text, "0008,0050"), "ACC-B1")
        # C-GET likewise
        got = os.path.join(self.tmp, "got")
        os.mkdir(got)
        p = run(["getscu", "-S", "-aet", "VIEWER", "-aec", "GW_A", "-od", got,
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + STUDY,
                 "127.0.0.1", str(self.a.dicom_port)])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(len(os.listdir(got)), 2)
        for name in os.listdir(got):
            text = dump(os.path.join(got, name))
            self.assertEqual(top_value(text, "0010,0020"), A_ID, text)
            self.assertEqual(other_ids(text), [(B_ID, B_ISSUER, "TEXT")], text)
        # A's own study goes out as stored: no second identity added
        shutil.rmtree(out)
        os.mkdir(out)
        p = run(["movescu", "-S", "-aet", "PACS_A", "-aec", "GW_A", "-aem", "PACS_A",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + OWN_STUDY,
                 "127.0.0.1", str(self.a.dicom_port)])
        self.assertEqual(p.returncode, 0, p.stdout)
        own_sent = os.listdir(out)
        self.assertEqual(len(own_sent), 1)
        self.assertEqual(other_ids(dump(os.path.join(out, own_sent[0]))), [])

        # WADO-RS from A: A's PatientID too; metadata likewise
        parts = self.wado(self.a, A, STUDY)
        self.assertEqual(len(parts), 2)
        for i, data in enumerate(parts):
            path = os.path.join(self.tmp, "wado-%d.dcm" % i)
            with open(path, "wb") as f:
                f.write(data)
            text = dump(path)
            self.assertEqual(top_value(text, "0010,0020"), A_ID)
            self.assertEqual(other_ids(text), [(B_ID, B_ISSUER, "TEXT")])
            self.assertNotIn(sha256(data), original.values())
        status, meta = self.call(self.a, A, "/dicom-web/studies/%s/metadata" % STUDY)
        self.assertEqual(status, 200, meta)
        self.assertEqual({m["00100020"]["Value"][0] for m in meta}, {A_ID})
        self.assertEqual({m["00101002"]["Value"][0]["00100020"]["Value"][0] for m in meta},
                         {B_ID})
        # own instances go out byte-identical as stored: A's own CT at A, B's CT at B
        self.assertEqual([sha256(x) for x in self.wado(self.a, A, OWN_STUDY)],
                         list(self.held_bytes(self.a, OWN_STUDY).values()))
        self.assertEqual(sorted(sha256(x) for x in self.wado(self.b, B, STUDY)),
                         sorted(original.values()))
        # and A keeps B's bytes as received (its index and blob store, read directly)
        self.assertEqual(self.held_bytes(self.a, STUDY), original)

        # C has no ADT for the patient: the consent and the prompt by resident id; its copy
        # is indexed under the resident id and found by it; C publishes nothing for it either
        status, consent = self.call(self.c, C, "/api/v1/consents", method="POST", body=dict(
            patient=NID, purpose="recognition", grantee="*", form_ref="FORM-R-C",
            expires="2099-12-31"))
        self.assertEqual(status, 201, consent)
        at_c = self.prompt(self.c, C, NID)
        listed = self.study_results(at_c)
        self.assertEqual([r["institution"] for r in listed], [B], at_c)
        status, got = self.call(self.c, C, "/api/v1/retrievals", method="POST", body=dict(
            prompt_id=at_c["prompt_id"], result_key=listed[0]["result_key"]))
        self.assertEqual((status, got["stored"]), (200, 2), got)
        status, qido = self.call(self.c, C, "/dicom-web/studies?PatientID=" + NID
                                 + "&includefield=00100021")
        self.assertEqual(status, 200, qido)
        self.assertEqual([s["0020000D"]["Value"][0] for s in qido], [STUDY])
        self.assertEqual(qido[0]["00100021"]["Value"], ["RESIDENT-ID"])
        self.assertEqual(self.held_bytes(self.c, STUDY), original)
        wait_for(lambda: self.call(self.c, C, "/api/v1/health", who="admin")[1]
                 .get("directory", {}).get("backlog") == 0, 60, "C's outbox drained")
        self.assertEqual(sorted(i for i, k in self.directory_entries() if k == "study:" + STUDY),
                         [B])

        # entries an older gateway published for its copies (A's own, C's): the prompt still
        # lists the exam once, at B, the first to announce it
        for inst, node in ((A, self.a), (C, self.c)):
            status, body = curl_json(self.dir.url("/api/v1/directory/entries"),
                                     os.path.join(self.pki, inst), "peer", "POST", json.dumps(
                {"entries": [{"pseudonym": pseudonym(self.key, NID), "record_key": "study:" + STUDY,
                              "version": 1, "kind": "imaging", "item_code": "CT-CHEST-PLAIN",
                              "item_name": "胸部CT平扫", "modality": "CT", "body_part": "CHEST",
                              "date": "20240105", "hr": True, "hr_scope": "province",
                              "qualified_from": "20230101", "qualified_to": "20271231",
                              "source_url": node.url("").rstrip("/")}]}))
            self.assertEqual((status, body["stored"]), (200, 1), body)
        stale = self.prompt(self.a, A, A_ID)
        self.assertEqual([r["institution"] for r in self.study_results(stale)], [B], stale)
        self.assertEqual(stale["excluded"].get("a copy held here"), 1, stale)
        self.assertEqual(stale["excluded"].get("listed at another institution"), 1, stale)


    def test_prior_at_pacs_fetched_on_demand_and_forwarded(self):
        """B's images live only in B's PACS (dcmqrscp): after a sync they are published
        without being copied; A's doctor retrieves the CT through B's gateway, which fetches
        it from its PACS on demand; A forwards the retrieved prior into A's PACS by itself,
        across an outage of that PACS, with A's patient ids."""
        pacs_b, pacs_a = free_port(), free_port()
        db = os.path.join(self.tmp, "pacs-b")
        os.makedirs(db)
        cfg = os.path.join(self.tmp, "dcmqrscp.cfg")
        with open(cfg, "w") as f:
            f.write("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
                    "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                    "AETable BEGIN\nPACS_B %s RW (100, 1024mb) ANY\nAETable END\n" % (pacs_b, db))
        self.process(["dcmqrscp", "-c", cfg, "-dhl", str(pacs_b)], "dcmqrscp")
        wait_for(lambda: port_open(pacs_b), 30, "B's PACS")
        run(["storescu", "-aet", "MODALITY", "-aec", "PACS_B", "127.0.0.1", str(pacs_b)]
            + self.write_study(STUDY, B_ID, B_ISSUER, 2, "ACC-B1"), check=True)
        self.b = self.hospital(B, "GW_B", extra=[
            '[pacs "pacs-b"]', "ae_title = PACS_B", "host = 127.0.0.1", "port = %d" % pacs_b,
            "sync_interval = 0", "queries_per_minute = 6000"])
        self.a = self.hospital(A, "GW_A", extra=[
            "[dicom_aes]", "PACS_A = 127.0.0.1:%d" % pacs_a, '[forward "priors"]',
            "source = retrieval", "destination = PACS_A", "retry_min = 1", "retry_max = 2"])
        # B's report names the resident id; the sync (a backfill beside the running node)
        # finds the study at the PACS and the node publishes it, copying nothing
        self.send(self.b, oru("b1", pid=B_ID, nid=NID, order="BORD1", item="CTCHEST^胸部CT平扫^L",
                              section="CT", accession="ACC-B1", observed="20240105100000",
                              obx=["OBX|1|TX|IMP^印象^L||右肺下叶小结节||||||F"]))
        r = run([HUREN, "pacs", "sync",
                 "pacs-b", "--from", "20240101", "--to", "20240110", "--data", self.b.data,
                 "-c", self.b.config_path], timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("20240105: 1 studies (1 new, 0 gone)", r.stdout)
        wait_for(lambda: (B, "study:" + STUDY) in self.directory_entries(), 60,
                 "B's PACS-held study at the directory")
        self.assertEqual(self.held_bytes(self.b, STUDY), {})  # not copied

        adt = "\r".join([msh("ADT^A01", "a-adt-1"), "EVN|A01|20240108",
                         "PID|1||%s^^^H1^PI~%s^^^CHN^ID||%s||19491231|M" % (A_ID, NID, NAME),
                         "PV1|1|O|内科||||||||||||||||VA1"]) + "\r"
        self.send(self.a, adt)
        status, consent = self.call(self.a, A, "/api/v1/consents", method="POST", body=dict(
            patient=A_ID, purpose="recognition", grantee="*", form_ref="FORM-R-A",
            expires="2099-12-31"))
        self.assertEqual(status, 201, consent)
        first = self.prompt(self.a, A, A_ID)
        listed = self.study_results(first)
        self.assertEqual([r["institution"] for r in listed], [B], first)
        # A's PACS is down while A retrieves
        status, got = self.call(self.a, A, "/api/v1/retrievals", method="POST", body=dict(
            prompt_id=first["prompt_id"], result_key=listed[0]["result_key"]))
        self.assertEqual((status, got["status"], got["stored"]), (200, "complete", 2), got)
        self.assertEqual(len(self.held_bytes(self.b, STUDY)), 2)  # B fetched it on demand
        out = os.path.join(self.tmp, "pacs-a")
        os.mkdir(out)
        time.sleep(2)  # a failed attempt or two
        self.process(["storescp", "-aet", "PACS_A", "-od", out, str(pacs_a)], "storescp")
        wait_for(lambda: len(os.listdir(out)) == 2, 60, "the prior in A's PACS")
        for name in os.listdir(out):
            text = dump(os.path.join(out, name))
            self.assertEqual(top_value(text, "0010,0020"), A_ID, text)
            self.assertEqual(other_ids(text), [(B_ID, B_ISSUER, "TEXT")], text)
        time.sleep(2)
        self.assertEqual(len(os.listdir(out)), 2)  # once each

if __name__ == "__main__":
    import unittest
    unittest.main()
