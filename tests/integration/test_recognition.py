"""test_recognition.py: mutual recognition (鲁医互认) across hospitals, black-box. Certificates
come from conf/make-test-pki.sh in the test's folder. A directory node and hospitals A
(H37020001, Qingdao) and B (H37010002, Jinan) run on loopback with mutual TLS; a CT study stored
at B with storescu and a blood count sent to B over MLLP reach the directory; A's clinician
records a recognition consent, queries (windows counted back from `at`, an entry whose city-wide
HR mark does not reach Qingdao left out), records decisions (a double post recorded once, a
result never shown refused) and reads the statistics; with B stopped its results are listed
as unavailable and the call still answers."""

import json
import os
import secrets
import time
import urllib.parse

from dicomgen import uid
from harness import NodeTestCase, free_port, port_open, run, wait_for
import test_directory as td
from test_directory import CATALOGUE, curl_json, pseudonym
from test_hl7 import NID, NID2, Client, oru

A_INST, B_INST = "H37020001", "H37010002"
REC_PEER_TIMEOUT_S = 5  # gateway/recognition/recognition_int.h


class RecognitionTest(NodeTestCase):

    directory_conf = td.DirectoryTest.directory_conf
    store_study = td.DirectoryTest.store_study
    lookup = td.DirectoryTest.lookup
    publish = td.DirectoryTest.publish

    def setUp(self):
        super().setUp()
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(td.REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            self.subjects = dict(line.split("\t") for line in f.read().splitlines())
        self.key = secrets.token_hex(32)
        self.key_file = os.path.join(self.tmp, "region.key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        self.dir = self.node(name="directory", https=True, config_text=self.directory_conf(),
                             extra_args=["--role", "directory"]).start()

    def client_sections(self, mapping):
        conf = []
        for role, inst, as_role in mapping:
            conf += ['[client "%s"]' % role, "subject = " + self.subjects[role],
                     "institution = " + inst, "role = " + as_role]
        return conf

    def hospital_node(self, name, aet, inst, publish, extra=()):
        """A hospital on HTTPS (client certificates required); peer.crt is what both
        hospitals present to the directory and to each other."""
        p = self.pki
        n = self.node(name=name, aet=aet, https=True, config_text="")
        conf = ["[http]", "tls_cert = %s/server.crt" % p, "tls_key = %s/server.key" % p,
                "tls_client_ca = %s/ca.crt" % p, "tls_client_verify = require",
                "[directory]", "publish = %s" % ("yes" if publish else "no"),
                "url = https://127.0.0.1:%d" % self.dir.http_port,
                "region_key = " + self.key_file, "institution = " + inst,
                "source_url = https://127.0.0.1:%d" % n.http_port, "hr_scope = province",
                "qualified_from = 20230101", "qualified_to = 20271231",
                "catalogue = " + CATALOGUE, "tls_cert = %s/peer.crt" % p,
                "tls_key = %s/peer.key" % p, "tls_ca = %s/ca.crt" % p,
                "retry_min_ms = 100", "retry_max_ms = 1000", "poll_ms = 50", "timeout = 5"]
        conf += self.client_sections([("clinician", inst, "clinician"),
                                      ("admin", inst, "admin"),
                                      ("peer", "H37000000", "peer"),
                                      ("insurer", "INS01", "insurer")])
        conf += list(extra)
        with open(n.config_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        return n.start()

    def send(self, node, msg):
        c = Client(node.hl7_port)
        try:
            code, segs = c.code(msg)
            self.assertEqual(code, "AA", segs)
        finally:
            c.close()

    def call(self, node, path, who="clinician", method="GET", body=None):
        return curl_json(node.url(path), self.pki, who, method,
                         None if body is None else json.dumps(body))

    def query(self, patient, item, at, **extra):
        q = dict(patient=patient, item=item, at=at, **extra)
        return self.call(self.a, "/api/v1/recognition?" + urllib.parse.urlencode(q))

    def decide(self, body):
        return self.call(self.a, "/api/v1/recognition/decisions", method="POST", body=body)

    def stats(self, by, fmt=None):
        path = "/api/v1/recognition/stats?from=20000101&to=29991231&by=" + by
        if fmt:
            path += "&format=" + fmt
        return self.call(self.a, path)

    def test_recognition_across_hospitals(self):
        self.b = self.hospital_node("hospital-b", "GW_B", B_INST, publish=True)
        pacs_port = free_port()  # A's PACS: a storescp that A moves retrieved studies to
        self.a = self.hospital_node("hospital-a", "GW_A", A_INST, publish=False,
                                    extra=["[recognition]", "retrieve_on_move = yes",
                                           "[dicom_aes]", "PACS_A = 127.0.0.1:%d" % pacs_port])
        p = pseudonym(self.key, NID)

        # B: a CT of the chest (2024-01-05) and a blood count (observed 2024-01-05)
        self.store_study(self.b, 1)
        self.send(self.b, oru("m1", pid="P100", nid=NID))
        wait_for(lambda: self.lookup(p)["count"] == 2, 60, "B's two entries at the directory")
        # B also announces a CT whose HR mark is city-wide only: Jinan, not Qingdao (A)
        status, body = self.publish([{
            "pseudonym": p, "record_key": "study:" + uid(77), "version": 1, "kind": "imaging",
            "item_code": "CT-CHEST-PLAIN", "item_name": "胸部CT平扫", "modality": "CT",
            "body_part": "CHEST", "date": "20240103", "hr": True, "hr_scope": "city",
            "qualified_from": "20230101", "qualified_to": "20271231",
            "source_url": "https://127.0.0.1:%d" % self.b.http_port}])
        self.assertEqual((status, body["stored"]), (200, 1), body)

        # A knows the patient under its own id A100 (an HL7 result carrying the resident id)
        self.send(self.a, oru("a1", pid="A100", nid=NID, order="AORD1"))

        # no consent yet: 403 with the reason
        status, body = self.query("A100", "CT-CHEST-PLAIN", "20240110")
        self.assertEqual(status, 403, body)
        self.assertIn("consent", body["error"])
        # the clinician records the patient's recognition consent for any hospital
        status, consent = self.call(self.a, "/api/v1/consents", method="POST", body=dict(
            patient="A100", purpose="recognition", grantee="*", form_ref="FORM-R-1",
            expires="2099-12-31"))
        self.assertEqual(status, 201, consent)

        # bad input: a resident id with a wrong check character, an unknown item, no patient
        bad = NID[:-1] + ("0" if NID[-1] != "0" else "1")
        status, body = self.query(bad, "CT-CHEST-PLAIN", "20240110")
        self.assertEqual(status, 400, body)
        self.assertIn("check", body["error"])
        status, body = self.query("A100", "NOT-AN-ITEM", "20240110")
        self.assertEqual((status, body.get("error")), (404, "item not in the catalogue"))
        status, body = self.query("A100", "CT-CHEST-PLAIN", "2024-01-10")
        self.assertEqual(status, 400, body)
        # another patient without a consent at A: 403
        status, body = self.query(NID2, "CT-CHEST-PLAIN", "20240110")
        self.assertEqual(status, 403, body)

        # the CT, by the local alias of the item, inside its 30 days: the city-wide one left out
        status, ct = self.query("A100", "胸部CT平扫", "20240110", doctor="D1", dept="RAD")
        self.assertEqual(status, 200, ct)
        self.assertEqual(ct["patient"], "A100")
        self.assertEqual(ct["item"], {"code": "CT-CHEST-PLAIN", "name": "胸部CT平扫",
                                      "kind": "imaging", "validity_days": 30,
                                      "hr_scope": "province"})
        self.assertEqual(ct["at"], "20240110")
        self.assertEqual(len(ct["results"]), 1, ct)
        r = ct["results"][0]
        b_url = "https://127.0.0.1:%d" % self.b.http_port
        self.assertEqual(r["result_key"], "%s/study:%s" % (B_INST, uid(1)))
        self.assertEqual((r["institution"], r["kind"], r["item_code"], r["date"]),
                         (B_INST, "imaging", "CT-CHEST-PLAIN", "20240105"))
        self.assertEqual((r["modality"], r["body_part"], r["hr_scope"], r["valid_until"]),
                         ("CT", "CHEST", "province", "20240204"))
        self.assertEqual(r["source"], b_url)
        self.assertEqual(r["open"], {"type": "study", "study_uid": uid(1),
                                     "dicomweb": b_url + "/dicom-web/studies/" + uid(1)})
        self.assertEqual(r["summary"]["0020000D"]["Value"], [uid(1)])
        self.assertEqual(ct["unavailable"], [])
        self.assertEqual(ct["excluded"], {"the HR scope does not reach this institution": 1})
        # the same patient by resident id; the study opens at B with the peer certificate
        status, by_id = self.query(NID, "CT-CHEST-PLAIN", "20240110")
        self.assertEqual((status, len(by_id["results"])), (200, 1), by_id)
        status, meta = curl_json(r["open"]["dicomweb"] + "/metadata", self.pki, "peer")
        self.assertEqual(status, 200, meta)

        # expired: on 2024-02-05 the CT (valid until 2024-02-04) is no longer listed
        status, late = self.query("A100", "CT-CHEST-PLAIN", "20240205")
        self.assertEqual((status, late["results"]), (200, []), late)

        # the blood count: 7 days
        status, lab = self.query("A100", "LAB-CBC", "20240110", doctor="D2", dept="LAB")
        self.assertEqual((status, len(lab["results"])), (200, 1), lab)
        lr = lab["results"][0]
        self.assertEqual((lr["kind"], lr["item_code"], lr["valid_until"], lr["open"]["type"]),
                         ("lab", "LAB-CBC", "20240112", "report"))
        self.assertTrue(lr["open"]["url"].startswith(b_url + "/api/v1/reports/"))
        self.assertEqual(lr["summary"]["resourceType"], "DiagnosticReport")
        status, late = self.query("A100", "LAB-CBC", "20240113")
        self.assertEqual((status, late["results"]), (200, []), late)

        # decisions: accepted once (a double post answers the same id), a rejection
        accept = dict(prompt_id=ct["prompt_id"], result_key=r["result_key"],
                      decision="accepted", doctor="D1", department="RAD", order_id="ORD-9",
                      visit_id="V-9")
        status, d1 = self.decide(accept)
        self.assertEqual(status, 201, d1)
        status, d1b = self.decide(accept)
        self.assertEqual((status, d1b["decision_id"]), (200, d1["decision_id"]), d1b)
        status, body = self.decide(dict(accept, decision="rejected", reason="too_old"))
        self.assertEqual(status, 409, body)
        reject = dict(prompt_id=lab["prompt_id"], result_key=lr["result_key"],
                      decision="rejected", reason="fast_changing", doctor="D2",
                      department="LAB")
        status, d2 = self.decide(reject)
        self.assertEqual(status, 201, d2)
        # refused: a result the prompt never showed, an unknown prompt, bad reasons
        status, body = self.decide(dict(accept, result_key="%s/study:%s" % (B_INST, uid(77))))
        self.assertEqual(status, 422, body)
        self.assertIn("never shown", body["error"])
        status, body = self.decide(dict(accept, prompt_id="nope"))
        self.assertEqual(status, 422, body)
        status, body = self.decide(dict(reject, reason="other"))
        self.assertEqual(status, 400, body)
        self.assertIn("reason_text", body["error"])
        status, body = self.decide(dict(reject, reason="bored"))
        self.assertEqual(status, 400, body)
        for raw in ("[]", "{", '{"prompt_id": 5}', json.dumps(dict(accept, doctor="x" * 5000))):
            status, body = curl_json(self.a.url("/api/v1/recognition/decisions"), self.pki,
                                     "clinician", "POST", raw)
            self.assertEqual(status, 400, (raw[:40], body))

        # statistics: one prompt per patient, item and day (no order given), however often it
        # was asked (CT: 3 times, by local id and by resident id; LAB: twice), each result
        # shown counted once: the CT's rate is 1 of 1
        self.assertEqual(by_id["prompt_id"], ct["prompt_id"])
        self.assertTrue(by_id["repeated"])
        status, st = self.stats("item")
        self.assertEqual(status, 200, st)
        rows = {x["key"]: x for x in st["rows"]}
        self.assertEqual({k: (v["prompts"], v["shown"], v["accepted"], v["rejected"])
                          for k, v in rows.items()},
                         {"CT-CHEST-PLAIN": (1, 1, 1, 0), "LAB-CBC": (1, 1, 0, 1)})
        self.assertEqual(rows["LAB-CBC"]["by_reason"], {"fast_changing": 1})
        self.assertEqual(rows["CT-CHEST-PLAIN"]["rate"], 1.0)
        self.assertEqual((st["totals"]["prompts"], st["totals"]["shown"],
                          st["totals"]["accepted"], st["totals"]["rejected"]), (2, 2, 1, 1))
        status, st = self.stats("institution")
        self.assertEqual([(x["key"], x["shown"], x["accepted"], x["rejected"])
                          for x in st["rows"]], [(B_INST, 2, 1, 1)])
        status, st = self.stats("department")
        self.assertEqual({x["key"]: x["prompts"] for x in st["rows"]}, {"RAD": 1, "LAB": 1})
        status, st = self.stats("month")
        self.assertEqual(len(st["rows"]), 1)
        status, csv = self.stats("item", "csv")
        self.assertEqual(status, 200)
        lines = csv.strip().splitlines()
        self.assertTrue(lines[0].startswith("key,prompts,shown,accepted,rejected,rate,"))
        self.assertIn("LAB-CBC,1,1,0,1,0.0000", lines[2])
        status, body = self.stats("weekday")
        self.assertEqual(status, 400)
        # insurers and peers have no access to recognition
        status, _ = self.call(self.a, "/api/v1/recognition/stats", who="insurer")
        self.assertEqual(status, 403)

        # A's PACS asks A for the CT with C-MOVE: A does not hold it, but a prompt listed it
        # ([recognition] retrieve_on_move): A fetches it from B (WADO-RS, mTLS), then moves it
        out = os.path.join(self.tmp, "pacs")
        os.mkdir(out)
        self.process(["storescp", "-aet", "PACS_A", "-od", out, str(pacs_port)], "storescp")
        wait_for(lambda: port_open(pacs_port), 30, "storescp")
        p = run(["movescu", "-S", "-aet", "PACS_A", "-aec", "GW_A", "-aem", "PACS_A",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + uid(1),
                 "127.0.0.1", str(self.a.dicom_port)])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(len(os.listdir(out)), 2)
        # now a local study at A
        status, found = self.call(self.a, "/dicom-web/studies?StudyInstanceUID=" + uid(1))
        self.assertEqual((status, len(found)), (200, 1), found)
        self.assertEqual(found[0]["00201208"]["Value"], [2])
        # the retrieval API: everything is already held
        fetch = dict(prompt_id=ct["prompt_id"], result_key=r["result_key"])
        status, got = self.call(self.a, "/api/v1/retrievals", method="POST", body=fetch)
        self.assertEqual(status, 200, got)
        self.assertEqual((got["status"], got["stored"], got["already_held"], got["refused"],
                          got["study_uid"]), ("complete", 0, 2, 0, uid(1)))
        # asked again (a retry after a failure): nothing stored twice
        status, again = self.call(self.a, "/api/v1/retrievals", method="POST", body=fetch)
        self.assertEqual((status, again["stored"], again["already_held"]), (200, 0, 2), again)
        # in the background: 202 at once, then its progress until it is complete
        status, job = self.call(self.a, "/api/v1/retrievals", method="POST",
                                body=dict(fetch, background=True))
        self.assertEqual((status, job["status"]), (202, "running"), job)
        self.assertEqual(job["progress"], "/api/v1/retrievals/" + job["retrieval_id"])
        got = {}

        def finished():
            got["s"], got["b"] = self.call(self.a, job["progress"])
            return got["s"] == 200 and got["b"]["status"] != "running"
        wait_for(finished, 60, "the background retrieval")
        self.assertEqual((got["b"]["status"], got["b"]["already_held"], got["b"]["stored"]),
                         ("complete", 2, 0), got["b"])
        self.assertGreater(got["b"]["bytes"], 0)
        status, body = self.call(self.a, "/api/v1/retrievals/nope")
        self.assertEqual(status, 404, body)
        # and a study no prompt listed is not fetched: the C-MOVE finds nothing
        p = run(["movescu", "-S", "-aet", "PACS_A", "-aec", "GW_A", "-aem", "PACS_A",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + uid(88),
                 "127.0.0.1", str(self.a.dicom_port)])
        self.assertEqual(len(os.listdir(out)), 2)
        # a report is fetched as JSON and shown with the institution that issued it
        status, rep = self.call(self.a, "/api/v1/retrievals", method="POST", body=dict(
            prompt_id=lab["prompt_id"], result_key=lr["result_key"]))
        self.assertEqual(status, 200, rep)
        self.assertEqual((rep["institution"], rep["source"], rep["report"]["resourceType"]),
                         (B_INST, b_url, "DiagnosticReport"))
        # refused: a result the prompt never listed
        status, body = self.call(self.a, "/api/v1/retrievals", method="POST", body=dict(
            fetch, result_key="%s/study:%s" % (B_INST, uid(77))))
        self.assertEqual(status, 422, body)

        # B stopped: its results are listed as unavailable, the call still answers
        self.b.stop()
        status, body = self.call(self.a, "/api/v1/retrievals", method="POST", body=fetch)
        self.assertEqual((status, body["status"]), (502, "incomplete"), body)
        status, job = self.call(self.a, "/api/v1/retrievals", method="POST",
                                body=dict(fetch, background=True))
        self.assertEqual(status, 202, job)
        wait_for(lambda: self.call(self.a, job["progress"])[1]["status"] != "running", 60,
                 "the background retrieval to give up")
        status, body = self.call(self.a, job["progress"])
        self.assertEqual(body["status"], "incomplete", body)
        self.assertTrue(body["error"])
        status, down = self.query("A100", "CT-CHEST-PLAIN", "20240110")
        self.assertEqual(status, 200, down)
        self.assertEqual(down["results"], [])
        self.assertEqual(len(down["unavailable"]), 1, down)
        u = down["unavailable"][0]
        self.assertEqual((u["institution"], u["source"], u["results"]), (B_INST, b_url, 1))
        self.assertTrue(u["reason"])

        # the directory stopped: 502 with the reason, nothing recorded as shown
        self.dir.stop()
        status, body = self.query("A100", "CT-CHEST-PLAIN", "20240110")
        self.assertEqual(status, 502, body)
        self.assertIn("directory", body["error"])

        # every query, decision and statistics read is in A's audit trail
        self.a.stop()
        with open(os.path.join(self.a.data, "audit.log"), encoding="utf-8") as fh:
            audit = [json.loads(line) for line in fh]
        actions = [e["action"] for e in audit]
        self.assertGreaterEqual(actions.count("recognition.query"), 10)
        self.assertGreaterEqual(actions.count("recognition.decision"), 3)
        self.assertIn("recognition.stats", actions)
        refused = [e for e in audit if e["action"] == "recognition.query"
                   and e["outcome"] != "success"]
        self.assertTrue(any("consent" in (e.get("object") or "") for e in refused), refused)

    def test_slow_peer_is_unavailable(self):
        """A peer that accepts and never answers in time is listed as unavailable."""
        import http.server
        import ssl
        import threading

        class Slow(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                time.sleep(REC_PEER_TIMEOUT_S + 3)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
        srv.daemon_threads = True
        srv.block_on_close = False
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.pki, "server.crt"),
                            os.path.join(self.pki, "server.key"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        slow_url = "https://127.0.0.1:%d" % srv.server_address[1]

        self.a = self.hospital_node("hospital-a", "GW_A", A_INST, publish=False)
        p = pseudonym(self.key, NID)
        status, body = self.publish([{
            "pseudonym": p, "record_key": "report:42", "version": 1, "kind": "lab",
            "item_code": "LAB-CBC", "item_name": "血常规", "date": "20240105", "hr": True,
            "hr_scope": "province", "qualified_from": "20230101", "qualified_to": "20271231",
            "source_url": slow_url}])
        self.assertEqual((status, body["stored"]), (200, 1), body)
        status, body = self.query(NID, "LAB-CBC", "20240106")
        self.assertEqual(status, 403, body)  # no consent yet
        self.send(self.a, oru("a1", pid="A100", nid=NID, order="AORD1"))
        status, consent = self.call(self.a, "/api/v1/consents", method="POST", body=dict(
            patient="A100", purpose="recognition", grantee=A_INST, form_ref="FORM-R-2",
            expires="2099-12-31"))
        self.assertEqual(status, 201, consent)
        status, body = self.query(NID, "LAB-CBC", "20240106")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["results"], [])
        self.assertEqual([(u["institution"], u["source"]) for u in body["unavailable"]],
                         [(B_INST, slow_url)])


if __name__ == "__main__":
    import unittest
    unittest.main()
