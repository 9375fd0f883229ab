"""test_directory.py: the regional directory and publishing to it, black-box. Certificates come
from conf/make-test-pki.sh in the test's folder. A directory node (role directory, HTTPS with
client certificates required) and a hospital node B (publishing with the peer certificate) run
on loopback; images stored at B with storescu and lab results sent to B over MLLP must appear at
the directory under the patient's pseudonym only (its files hold neither the name nor the id);
a correction propagates; the directory stopped while B ingests loses nothing; bad batches are
refused with a reason and audited; a directory answering garbage or too slowly keeps B's rows.
With HUREN_DIR_STORE=postgresql (ctest integration_directory_pg) the directory keeps its entries
in a real PostgreSQL the test starts (pg.py), emptied before each test; the same cases must pass."""

import hashlib
import hmac
import http.server
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
import unittest
import urllib.request

from dicomgen import uid, write_instance
import pg
from harness import HUREN, NodeTestCase, free_port, run, wait_for
from test_hl7 import NID, NID2, Client, oru

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CATALOGUE = os.path.join(REPO, "conf", "recognition-catalogue.csv")
NAME = "王^小明"
LOCAL_ID = "P100"


def pseudonym(key_hex, nid):
    return hmac.new(bytes.fromhex(key_hex), ("CN-ID|" + nid).encode(), hashlib.sha256).hexdigest()


def curl_json(url, pki, who, method="GET", body=None, timeout=30, headers_out=None):
    """(status, JSON or text) of a request with a role's client certificate; the answer's
    headers (lower-case names) go into headers_out when it is a dict."""
    d = tempfile.mkdtemp(prefix="curl-")
    try:
        out = os.path.join(d, "b")
        heads = os.path.join(d, "h")
        cmd = ["curl", "-s", "--noproxy", "*", "-o", out, "-D", heads, "-w", "%{http_code}",
               "--max-time", str(timeout), "--cacert", os.path.join(pki, "ca.crt"),
               "--cert", os.path.join(pki, who + ".crt"), "--key", os.path.join(pki, who + ".key"),
               "-X", method]
        if body is not None:
            path = os.path.join(d, "req")
            with open(path, "wb") as f:
                f.write(body if isinstance(body, bytes) else body.encode())
            cmd += ["-H", "Content-Type: application/json", "--data-binary", "@" + path]
        p = run(cmd + [url], timeout=timeout + 10)
        code = p.stdout.strip()[-3:]
        if headers_out is not None and os.path.exists(heads):
            with open(heads, encoding="latin-1") as f:
                for line in f.read().splitlines()[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers_out[name.strip().lower()] = value.strip()
        text = ""
        if os.path.exists(out):
            with open(out, encoding="utf-8", errors="replace") as f:
                text = f.read()
        try:
            return int(code), json.loads(text)
        except ValueError:
            return int(code) if code.isdigit() else 0, text
    finally:
        shutil.rmtree(d, ignore_errors=True)


STORE = os.environ.get("HUREN_DIR_STORE", "sqlite")


class DirectoryTest(NodeTestCase):
    pg = None  # the PostgreSQL of the class, when STORE is postgresql

    @classmethod
    def setUpClass(cls):
        if STORE == "postgresql":
            if not pg.available():
                raise unittest.SkipTest("PostgreSQL's server binaries are not installed")
            cls.pg = pg.Cluster("dir")
            try:
                cls.pg.start()
            except BaseException:
                cls.pg.destroy()
                raise

    @classmethod
    def tearDownClass(cls):
        if cls.pg:
            cls.pg.destroy()

    def setUp(self):
        super().setUp()
        if self.pg:
            self.pg.sql("DROP TABLE IF EXISTS dir_entries, schema_version, migrate_progress")
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            self.subjects = dict(line.split("\t") for line in f.read().splitlines())
        self.key = secrets.token_hex(32)
        self.key_file = os.path.join(self.tmp, "region.key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        self.dir = self.node(name="directory", https=True, config_text=self.directory_conf(),
                             extra_args=["--role", "directory"]).start()

    def directory_conf(self):
        p = self.pki
        conf = ["[http]", "tls_cert = %s/server.crt" % p, "tls_key = %s/server.key" % p,
                "tls_client_ca = %s/ca.crt" % p, "tls_client_verify = require",
                "[directory]", "max_batch = 50"]
        if getattr(self, "pg", None):  # test_recognition, test_region borrow this
            conf += ["store = postgresql", "dsn = " + self.pg.dsn(), "pool = 4"]
        for role, inst in (("peer", "H37010002"), ("clinician", "H37010001"),
                           ("admin", "H37010001"), ("insurer", "INS01"),
                           ("operator", "SD-PLATFORM")):
            conf += ['[client "%s"]' % role, "subject = " + self.subjects[role],
                     "institution = " + inst, "role = " + role]
        return "\n".join(conf) + "\n"

    def hospital(self, url=None, name="hospital-b", timeout=5):
        p = self.pki
        conf = ["[directory]", "publish = yes",
                "url = %s" % (url or "https://127.0.0.1:%d" % self.dir.http_port),
                "region_key = " + self.key_file, "institution = H37010002",
                "source_url = https://gw-b.example:8443", "hr_scope = province",
                "qualified_from = 20230101", "qualified_to = 20271231",
                "catalogue = " + CATALOGUE, "tls_cert = %s/peer.crt" % p,
                "tls_key = %s/peer.key" % p, "tls_ca = %s/ca.crt" % p,
                "retry_min_ms = 100", "retry_max_ms = 1000", "poll_ms = 50",
                "timeout = %d" % timeout, "batch_size = 20"]
        return self.node(name=name, config_text="\n".join(conf) + "\n", aet="GW_B").start()

    def lookup(self, pseud, query="", who="clinician"):
        status, body = curl_json(self.dir.url("/api/v1/directory/records?pseudonym=%s%s"
                                              % (pseud, query)), self.pki, who)
        self.assertEqual(status, 200, body)
        return body

    def publish(self, entries, who="peer", headers_out=None):
        return curl_json(self.dir.url("/api/v1/directory/entries"), self.pki, who, "POST",
                         json.dumps({"entries": entries}), headers_out=headers_out)

    def health(self, node):
        return json.loads(run(["curl", "-s", "--noproxy", "*", node.url("/api/v1/health")]).stdout)

    def store_study(self, node, study, n=2, nid=NID, desc="胸部CT平扫", patient_id=LOCAL_ID):
        d = tempfile.mkdtemp(prefix="dcm-", dir=self.tmp)
        for i in range(n):
            write_instance(os.path.join(d, "%d.dcm" % i), study_uid=uid(study), series_uid=uid(
                study, 1), sop_uid=uid(study, 1, i + 1), patient_id=patient_id,
                patient_name=NAME, charset="ISO_IR 192", modality="CT", study_date="20240105",
                study_desc=desc, body_part="CHEST", extra=[(0x0010, 0x1000, "LO", nid)])
        run(["storescu", "-aet", "MODALITY", "-aec", node.aet, "127.0.0.1", str(node.dicom_port)]
            + [os.path.join(d, f) for f in sorted(os.listdir(d))], check=True)

    def send_lab(self, node, control, status="F", order="ORD1", nid=NID):
        c = Client(node.hl7_port)
        try:
            code, segs = c.code(oru(control, pid=LOCAL_ID, nid=nid, name=NAME, order=order,
                                    status=status))
            self.assertEqual(code, "AA", segs)
        finally:
            c.close()

    def wait_records(self, pseud, n, query=""):
        got = {}

        def ready():
            got["b"] = self.lookup(pseud, query)
            return got["b"]["count"] == n
        wait_for(ready, 60, "%d directory records (have %s)" % (n, got.get("b")))
        return got["b"]["records"]

    def test_publish_privacy_correction(self):
        b = self.hospital()
        p = pseudonym(self.key, NID)
        self.store_study(b, 1)
        self.send_lab(b, "m1")
        recs = self.wait_records(p, 2)
        study = [r for r in recs if r["record_key"].startswith("study:")][0]
        lab = [r for r in recs if r["record_key"].startswith("report:")][0]
        self.assertEqual(study["record_key"], "study:" + uid(1))
        self.assertEqual((study["kind"], study["item_code"], study["item_name"]),
                         ("imaging", "CT-CHEST-PLAIN", "胸部CT平扫"))
        self.assertEqual((study["modality"], study["body_part"], study["date"]),
                         ("CT", "CHEST", "20240105"))
        self.assertEqual((study["hr"], study["hr_scope"]), (True, "province"))
        self.assertEqual((study["institution"], study["source_url"]),
                         ("H37010002", "https://gw-b.example:8443"))
        self.assertEqual((lab["kind"], lab["item_code"], lab["status"], lab["version"]),
                         ("lab", "LAB-CBC", "final", 1))
        # the item is national, the institution qualified for the province: the narrower
        self.assertEqual((lab["hr"], lab["hr_scope"]), (True, "province"))
        self.assertEqual(self.lookup(p, "&kind=lab&item=LAB-CBC&since=20240101")["count"], 1)
        self.assertEqual(self.lookup(p, "&since=20240106")["count"], 0)
        # peers may look up; insurers may not
        self.assertEqual(self.lookup(p, who="peer")["count"], 2)
        status, _ = curl_json(self.dir.url("/api/v1/directory/records?pseudonym=" + p),
                              self.pki, "insurer")
        self.assertEqual(status, 403)

        # a corrected result: a new version replaces the entry
        self.send_lab(b, "m2", status="C")
        wait_for(lambda: [r for r in self.lookup(p)["records"]
                          if r["record_key"] == lab["record_key"]][0]["version"] == 2, 30,
                 "the correction")
        lab2 = [r for r in self.lookup(p)["records"] if r["record_key"] == lab["record_key"]][0]
        self.assertEqual((lab2["status"], lab2["revision"]), ("corrected", 2))
        self.assertEqual(self.lookup(p)["count"], 2)

        # B's health says everything went; the directory's files hold no name and no id
        wait_for(lambda: self.health(b)["directory"]["backlog"] == 0, 30, "empty outbox")
        h = self.health(b)["directory"]
        self.assertIsNotNone(h["last_success"])
        self.assertGreaterEqual(h["sent"], 3)
        self.dir.stop()
        needles = [s.encode("utf-8") for s in (NAME, "小明", NID, NID.lower(), LOCAL_ID)]
        if self.pg:
            # the rows as text hold none; the server's files (WAL too) not the long needles
            # ("P100" turns up by chance in binary WAL)
            rows = self.pg.sql("SELECT d::text FROM dir_entries d")
            self.assertIn(uid(1), rows)
            for n in needles:
                self.assertFalse(n in rows.encode("utf-8"), "%s in dir_entries" % n)
            self.pg.sql("CHECKPOINT")
            for root, _, files in os.walk(self.pg.data):
                for f in files:
                    with open(os.path.join(root, f), "rb") as fh:
                        data = fh.read()
                    for n in needles[:4]:
                        self.assertFalse(n in data, "%s found in PostgreSQL's %s" % (n, f))
        for root, _, files in os.walk(self.dir.data):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    data = fh.read()
                for n in needles:
                    self.assertNotIn(n, data, "%s found in the directory's %s" % (n, f))
        # and its lookups were audited under the pseudonym
        with open(os.path.join(self.dir.data, "audit.log"), encoding="utf-8") as fh:
            audit = [json.loads(line) for line in fh]
        reads = [e for e in audit if e["action"] == "directory.read"]
        self.assertTrue(reads and all(e["patient"] == p for e in reads
                                      if e["outcome"] == "success"))
        self.assertTrue(any(e["action"] == "directory.publish" and e["institution"] == "H37010002"
                            for e in audit))

    def test_study_deleted_tombstone(self):
        b = self.hospital()
        p = pseudonym(self.key, NID)
        self.store_study(b, 6)
        self.store_study(b, 7)
        keys = sorted(r["record_key"] for r in self.wait_records(p, 2))
        self.assertEqual(keys, ["study:" + uid(6), "study:" + uid(7)])
        req = urllib.request.Request(b.url("/api/v1/studies/" + uid(6)), method="DELETE")
        with urllib.request.urlopen(req, timeout=30) as r:
            self.assertEqual(json.load(r)["instances"], 2)
        recs = self.wait_records(p, 1)  # the tombstone reached the directory
        self.assertEqual(recs[0]["record_key"], "study:" + uid(7))
        wait_for(lambda: self.health(b)["directory"]["backlog"] == 0, 30, "empty outbox")
        # stored again later, it is published anew
        self.store_study(b, 6)
        self.wait_records(p, 2)

    def test_directory_down_backlog_drains(self):
        b = self.hospital()
        p1, p2 = pseudonym(self.key, NID), pseudonym(self.key, NID2)
        self.store_study(b, 1)
        self.wait_records(p1, 1)
        self.dir.stop()
        for i in range(6):
            self.send_lab(b, "d%d" % i, order="ORD%d" % i, nid=NID2)
        self.store_study(b, 2, nid=NID2)
        # a study without any national id is counted, never published
        self.store_study(b, 3, nid="", patient_id="P300")
        wait_for(lambda: self.health(b)["directory"]["last_error"] is not None, 30,
                 "a failed send")
        h = self.health(b)["directory"]
        self.assertEqual(h["backlog"], 7)
        self.assertEqual(h["unpublishable"], 1)
        # B restarts too while the directory is down: the outbox persists
        b.stop()
        b.start()
        self.assertEqual(self.health(b)["directory"]["backlog"], 7)
        self.dir.start()
        wait_for(lambda: self.health(b)["directory"]["backlog"] == 0, 60, "the backlog to drain")
        self.assertEqual(self.lookup(p2)["count"], 7)
        self.assertEqual(self.lookup(p1)["count"], 1)
        status, text = curl_json(self.dir.url("/metrics"), self.pki, "admin")
        # counters start at the directory's restart: the 7 entries of the backlog
        self.assertIn('huren_directory_entries_total{outcome="stored"} 7', text)

    def test_refusals(self):
        p = pseudonym(self.key, NID)
        good = {"pseudonym": p, "record_key": "report:1", "version": 2, "kind": "lab",
                "item_code": "LAB-CBC", "date": "20240105"}
        status, body = self.publish([good])
        self.assertEqual((status, body["results"][0]["status"]), (200, "stored"), body)
        cases = [
            (dict(good, institution="H37019999"), "institution"),
            ({k: v for k, v in good.items() if k != "pseudonym"}, "pseudonym"),
            (dict(good, pseudonym=p.upper()), "pseudonym"),
            (dict(good, patient_name=NAME), "unknown field"),
            (dict(good, national_id=NID), "unknown field"),
            (dict(good, version="3"), "version"),
            (dict(good, kind="pathology"), "kind"),
        ]
        status, body = self.publish([c for c, _ in cases] + [dict(good, version=1)])
        self.assertEqual(status, 200, body)
        for (_, why), r in zip(cases, body["results"]):
            self.assertEqual(r["status"], "refused", r)
            self.assertIn(why, r["reason"])
        replay = body["results"][-1]
        self.assertEqual((replay["status"], replay["held_version"]), ("ignored", 2))
        self.assertEqual(body["refused"], len(cases))
        # nothing of it was stored: still the one good entry, version 2
        recs = self.lookup(p)["records"]
        self.assertEqual([(r["record_key"], r["version"]) for r in recs], [("report:1", 2)])
        # whole batches refused
        status, body = curl_json(self.dir.url("/api/v1/directory/entries"), self.pki, "peer",
                                 "POST", '{"entries": [ {"pseudonym": ')
        self.assertEqual(status, 400)
        self.assertIn("malformed JSON", body["error"])
        status, body = self.publish([good] * 51)
        self.assertEqual(status, 413)
        self.assertIn("at most 50", body["error"])
        status, body = self.publish([good], who="clinician")
        self.assertEqual(status, 403)
        status, body = curl_json(self.dir.url("/api/v1/directory/records?pseudonym=P100"),
                                 self.pki, "clinician")
        self.assertEqual(status, 400)
        # audited: each refused entry with its reason, and the refused batches
        status, body = curl_json(self.dir.url("/api/v1/audit?limit=1000"), self.pki, "admin")
        entries = [e for e in body["entries"] if e["action"] == "directory.publish"]
        refused = [e for e in entries if e["outcome"] == "refused" and "entry" in e["object"]]
        self.assertEqual(len(refused), len(cases))
        self.assertTrue(any("not the caller's institution" in e["object"] for e in refused))
        self.assertTrue(any(e["outcome"] == "failed" and e["status"] == 413 for e in entries))

    def test_check_config(self):
        bad = os.path.join(self.tmp, "bad.csv")
        with open(bad, "w") as f:
            f.write("code,name,kind,modality,body_part,window_days,hr_scope,aliases\n"
                    "LAB-CBC,血常规,lab,,,7,national,CBC\nLAB-X,x,lab,,,seven,none,\n")
        cases = [
            ("[directory]\ncatalogue = %s\n" % bad, "bad.csv:3: window_days"),
            ("[directory]\npublish = yes\nurl = https://d:8443\ninstitution = H1\n",
             "region_key is not set"),
            ("[directory]\npublish = yes\nurl = https://d:8443\ninstitution = H1\n"
             "region_key = 00ff\n", "region_key"),
            ("[directory]\npublish = yes\nurl = http://10.0.0.1\ninstitution = H1\n"
             "region_key = %s\n" % self.key_file, "url = https://"),
            ("[directory]\nhr_scope = world\n", "hr_scope"),
            ("[directory]\nstore = mysql\n", "store"),
            ("[directory]\nstore = postgresql\n", "store = postgresql needs dsn"),
            ("[directory]\nstore = postgresql\ndsn = host=/tmp dbname=huren password=hunter2\n",
             "a password is not allowed"),
            ("[directory]\nstore = postgresql\ndsn = postgresql://huren:hunter2@db1/huren\n",
             "passfile"),
            ("[directory]\nstore = postgresql\ndsn = host=/tmp\nread_dsn = host='/tmp\n",
             "read_dsn: not a PostgreSQL connection string"),
        ]
        for i, (text, needle) in enumerate(cases):
            path = os.path.join(self.tmp, "c%d.conf" % i)
            with open(path, "w") as f:
                f.write(text)
            p = run([HUREN, "check-config", "-c", path])
            self.assertEqual(p.returncode, 2, text)
            self.assertIn(needle, p.stdout)
            self.assertNotIn(self.key, p.stdout)  # the key is never printed
            self.assertNotIn("hunter2", p.stdout)  # nor a password
        path = os.path.join(self.tmp, "good.conf")
        with open(path, "w") as f:
            f.write("[directory]\npublish = yes\nurl = https://d:8443\ninstitution = H1\n"
                    "region_key = %s\ncatalogue = %s\n" % (self.key_file, CATALOGUE))
        p = run([HUREN, "check-config", "-c", path])
        self.assertEqual(p.returncode, 0, p.stdout)
        # a directory on PostgreSQL: checked without connecting (the server may be elsewhere)
        with open(path, "w") as f:
            f.write("[directory]\nstore = postgresql\ndsn = host=db1,db2 port=5432 dbname=huren"
                    " user=huren target_session_attrs=read-write sslmode=verify-full\n"
                    "read_dsn = host=db2,db1 dbname=huren user=huren"
                    " target_session_attrs=prefer-standby\npool = 16\nstatement_timeout = 2000\n")
        p = run([HUREN, "check-config", "-c", path])
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_garbage_and_slow_directory(self):
        answers = {"mode": "garbage"}

        class Bad(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if answers["mode"] == "slow":
                    time.sleep(4)
                body = b"this is not JSON" if answers["mode"] == "garbage" else \
                    b'{"results": [{"record_key": "x", "version": 1, "status": "stored"}]}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        port = free_port()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Bad)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            b = self.hospital(url="http://127.0.0.1:%d" % port, name="hospital-c", timeout=1)
            self.send_lab(b, "g1")
            wait_for(lambda: self.health(b)["directory"]["failures"] >= 2, 30, "failed sends")
            h = self.health(b)["directory"]
            self.assertEqual(h["backlog"], 1)
            self.assertIn("answer", h["last_error"])
            answers["mode"] = "mismatch"
            f = h["failures"]
            wait_for(lambda: self.health(b)["directory"]["failures"] > f, 30, "a mismatch")
            self.assertIn("match", self.health(b)["directory"]["last_error"])
            answers["mode"] = "slow"
            wait_for(lambda: "imeout" in (self.health(b)["directory"]["last_error"] or ""), 30,
                     "a timeout")
            self.assertEqual(self.health(b)["directory"]["backlog"], 1)
            self.assertEqual(self.health(b)["directory"]["sent"], 0)
            b.stop()
        finally:
            srv.shutdown()
            srv.server_close()


if __name__ == "__main__":
    unittest.main()
