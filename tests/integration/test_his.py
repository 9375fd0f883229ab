"""test_his.py: the HIS launch (gateway/his/, docs/api/his.md) over real HTTP.

A launch URL made by tools/his-launch-url.py opens a session without any client credential;
its cookie is HttpOnly, Secure, SameSite=Strict; the session reaches its own patient only;
tampered, expired, too long-lived and replayed launches are refused (a replay also after a
restart); the audit trail names the doctor. Plain HTTP launches need the HIS's test switch."""

import hashlib
import http.client
import importlib.util
import json
import os
import secrets
import time
import urllib.parse

from harness import NodeTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "tools", "his-launch-url.py")
_spec = importlib.util.spec_from_file_location("his_launch_url", TOOL)
his_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(his_tool)


def request(port, path, headers=None, method="GET", body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def his_conf(tmp, admin_token, his_token=None):
    """A node config with two HIS sections (his-a may launch over plain HTTP, his-b not)."""
    key = secrets.token_bytes(32)
    path = os.path.join(tmp, "his-a.key")
    with open(path, "wb") as f:
        f.write(key)
    conf = ("[access]\nloopback_full_access = no\n"
            '[client "admin"]\ntoken_sha256 = %s\ninstitution = H1\nrole = admin\n'
            '[his "his-a"]\nkey_file = %s\norigin = http://127.0.0.1:9\n'
            "allow_plain_http = yes\nsession_idle = 60\n"
            '[his "his-b"]\nkey_file = %s\n'
            % (hashlib.sha256(admin_token.encode()).hexdigest(), path, path))
    if his_token:
        conf += ('[client "his-a-api"]\ntoken_sha256 = %s\ninstitution = H1\nrole = his\n'
                 % hashlib.sha256(his_token.encode()).hexdigest())
    return conf, key


class HISLaunchTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.admin = secrets.token_hex(32)
        conf, self.key = his_conf(self.tmp, self.admin)
        self.n = self.node(config_text=conf, ready_from_log=True).start()

    def url(self, **kw):
        args = dict(base="", his="his-a", key=self.key, patient="P100", doctor="D017",
                    doctor_name="王医生", department="放射科", visit="V1",
                    orders=[("O1", "CT-CHEST"), ("O2", "HGB")])
        args.update(kw)
        return his_tool.launch_url(**args)

    def launch(self, path):
        status, headers, body = request(self.n.http_port, path)
        cookies = [v for k, v in headers if k.lower() == "set-cookie"]
        return status, cookies, body

    def cookie_of(self, cookies):
        self.assertEqual(len(cookies), 1, cookies)
        return {"Cookie": cookies[0].split(";")[0]}

    def test_launch_opens_a_bound_session(self):
        status, cookies, body = self.launch(self.url())
        self.assertEqual(status, 200, body)
        attrs = [a.strip() for a in cookies[0].split(";")]
        self.assertTrue(attrs[0].startswith("huren_session="))
        self.assertGreaterEqual(len(attrs[0].split("=", 1)[1]), 32)  # >= 128 bits as hex
        for a in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
            self.assertIn(a, attrs)
        self.assertIn(b"/ui/recognition?launch=1", body)
        ck = self.cookie_of(cookies)
        p = self.n.http_port
        self.assertEqual(request(p, "/ui/recognition?launch=1")[0], 401)  # no cookie
        status, _, body = request(p, "/api/v1/his/session", ck)
        self.assertEqual(status, 200, body)
        s = json.loads(body)
        self.assertEqual((s["patient"], s["doctor"]["id"], s["doctor"]["name"]),
                         ("P100", "D017", "王医生"))
        self.assertEqual([o["code"] for o in s["orders"]], ["CT-CHEST", "HGB"])
        self.assertEqual(s["origin"], "http://127.0.0.1:9")
        for path, want in (("/ui/recognition?launch=1", 200), ("/ui/static/app.js", 200),
                           ("/ui/patient?id=P100", 200), ("/ui/patient?id=P999", 403),
                           ("/api/v1/patients/P999/reports", 403),
                           ("/dicom-web/studies", 403),  # a search naming no patient
                           ("/dicom-web/studies?PatientID=P999", 403),
                           ("/dicom-web/studies?PatientID=P100", 204),
                           ("/api/v1/recognition?patient=P999&item=X", 403),
                           ("/api/v1/recognition/stats", 403),  # not a doctor's patient view
                           ("/api/v1/audit", 403)):
            status, _, body = request(p, path, ck)
            self.assertEqual(status, want, "%s: %s" % (path, body[:200]))
        bad = {"Cookie": "huren_session=" + "0" * 64}
        self.assertEqual(request(p, "/api/v1/his/session", bad)[0], 401)
        # the audit trail names the doctor for what the session did
        status, _, body = request(p, "/api/v1/audit?patient=P100",
                                  {"Authorization": "Bearer " + self.admin})
        self.assertEqual(status, 200, body)
        text = body.decode("utf-8")
        self.assertIn("D017", text)
        self.assertIn("王医生", text)

    def test_refusals(self):
        p = self.n.http_port
        good = self.url()
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(good).query)
        ctx, sig = q["ctx"][0], q["sig"][0]
        tampered_sig = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
        other = self.url(patient="P999")
        other_ctx = urllib.parse.parse_qs(urllib.parse.urlsplit(other).query)["ctx"][0]
        now = int(time.time())
        cases = {
            "tampered signature": "/ui/launch?ctx=%s&sig=%s" % (ctx, tampered_sig),
            "tampered context": "/ui/launch?ctx=%s&sig=%s" % (other_ctx, sig),
            "expired": self.url(now=now - 400),
            "too long-lived": self.url(ttl=600),
            "from the future": self.url(now=now + 600),
            "unknown HIS": self.url(his="his-x"),
            "plain HTTP without the switch": self.url(his="his-b"),
            "wrong key": self.url(key=secrets.token_bytes(32)),
        }
        for what, path in cases.items():
            status, cookies, body = self.launch(path)
            self.assertEqual(status, 403, "%s: %s" % (what, body))
            self.assertEqual(cookies, [], what)
        self.assertEqual(self.launch("/ui/launch?ctx=!!&sig=x")[0], 400)
        self.assertEqual(self.launch("/ui/launch")[0], 400)
        # a replay is refused, also once the node has restarted
        self.assertEqual(self.launch(good)[0], 200)
        status, cookies, body = self.launch(good)
        self.assertEqual((status, cookies), (403, []), body)
        self.assertIn(b"replayed", body)
        self.n.stop()
        self.n.start()
        self.assertEqual(self.launch(good)[0], 403)
        self.assertEqual(self.launch(self.url())[0], 200)  # a new nonce goes
        status, _, body = request(p, "/api/v1/audit", {"Authorization": "Bearer " + self.admin})
        self.assertIn("bad signature", body.decode("utf-8"))


try:  # the live recognition set-up (a directory and two hospitals over mutual TLS)
    import test_recognition as rt
    from dicomgen import uid, write_instance
    from harness import run, wait_for
    from test_hl7 import NID, oru
except ImportError:  # pragma: no cover
    rt = None


def check_cds_card(test, card):
    """A card as CDS Hooks 2.0 defines it (the spec's field list, "Card attributes")."""
    allowed = {"uuid", "summary", "detail", "indicator", "source", "suggestions",
               "selectionBehavior", "overrideReasons", "links"}
    test.assertLessEqual(set(card), allowed, card)
    for k in ("summary", "indicator", "source"):
        test.assertIn(k, card)
    test.assertIsInstance(card["summary"], str)
    test.assertLess(len(card["summary"]), 140)
    test.assertIn(card["indicator"], ("info", "warning", "critical"))
    test.assertIsInstance(card["source"].get("label"), str)
    test.assertLessEqual(set(card["source"]), {"label", "url", "icon", "topic"})
    for s in card.get("suggestions", []):
        test.assertIn("selectionBehavior", card)  # required when suggestions are given
        test.assertIn(card["selectionBehavior"], ("at-most-one", "any"))
        test.assertLessEqual(set(s), {"label", "uuid", "isRecommended", "actions"})
        test.assertIsInstance(s["label"], str)
        for a in s.get("actions", []):
            test.assertLessEqual(set(a), {"type", "description", "resource", "resourceId"})
            test.assertIn(a["type"], ("create", "update", "delete"))
            test.assertIsInstance(a["description"], str)
            if a["type"] == "delete":
                test.assertRegex(a["resourceId"], r"^[A-Za-z]+/[A-Za-z0-9.-]+$")
    for link in card.get("links", []):
        test.assertLessEqual(set(link), {"label", "url", "type", "appContext"})
        test.assertIn(link["type"], ("absolute", "smart"))
        test.assertIsInstance(link["label"], str)
        test.assertTrue(link["url"].startswith("https://"), link)


class HISOrderCheckTest(NodeTestCase):
    """The order check and the CDS Hooks service on a live region (directory, A, B)."""

    if rt:
        directory_conf = rt.RecognitionTest.directory_conf
        client_sections = rt.RecognitionTest.client_sections
        hospital_node = rt.RecognitionTest.hospital_node
        send = rt.RecognitionTest.send
        call = rt.RecognitionTest.call
        lookup = rt.RecognitionTest.lookup

    def setUp(self):
        if not rt:
            self.skipTest("test_recognition not importable")
        NodeTestCase.setUp(self)
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(rt.td.REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            self.subjects = dict(line.split("\t") for line in f.read().splitlines())
        self.key = secrets.token_hex(32)
        self.key_file = os.path.join(self.tmp, "region.key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        self.dir = self.node(name="directory", https=True, config_text=self.directory_conf(),
                             extra_args=["--role", "directory"]).start()

    def his_call(self, path, body, token=None):
        p = self.pki
        cmd = ["curl", "-s", "--noproxy", "*", "-w", "\n%{http_code}", "--cacert",
               p + "/ca.crt", "--cert", p + "/clinician.crt", "--key", p + "/clinician.key",
               "-H", "Content-Type: application/json", "-H",
               "Authorization: Bearer " + (token or self.token)]
        if body is not None:
            cmd += ["--data-binary", json.dumps(body)]
        out = run(cmd + [self.a.url(path)], check=True).stdout
        text, code = out.rsplit("\n", 1)
        return int(code), json.loads(text) if text.startswith(("{", "[")) else text

    def test_order_check_and_cds_hooks(self):
        if not rt:
            self.skipTest("test_recognition not importable")
        today = time.strftime("%Y%m%d")
        self.b = self.hospital_node("hospital-b", "GW_B", rt.B_INST, publish=True)
        self.token = secrets.token_hex(32)
        self.a = self.hospital_node("hospital-a", "GW_A", rt.A_INST, publish=False, extra=[
            '[client "his-a-api"]', "token_sha256 = " +
            hashlib.sha256(self.token.encode()).hexdigest(),
            "institution = " + rt.A_INST, "role = his"])
        d = os.path.join(self.tmp, "dcm")
        os.makedirs(d)
        for i in range(2):
            write_instance(os.path.join(d, "%d.dcm" % i), study_uid=uid(91),
                           series_uid=uid(91, 1), sop_uid=uid(91, 1, i + 1), patient_id="B100",
                           patient_name="Zhang^Wei=张^伟", charset="ISO_IR 192", modality="CT",
                           study_date=today, study_desc="胸部CT平扫", body_part="CHEST",
                           extra=[(0x0010, 0x1000, "LO", NID)])
        run(["storescu", "-aet", "MODALITY", "-aec", self.b.aet, "127.0.0.1",
             str(self.b.dicom_port)] + [os.path.join(d, f) for f in sorted(os.listdir(d))],
            check=True)
        p = rt.pseudonym(self.key, NID)
        wait_for(lambda: self.lookup(p)["count"] >= 1, 60, "B's study at the directory")
        self.send(self.a, oru("a1", pid="A100", nid=NID, order="AORD1"))
        status, body = self.call(self.a, "/api/v1/consents", method="POST", body=dict(
            patient="A100", purpose="recognition", grantee="*", form_ref="F-1",
            expires="2099-12-31"))
        self.assertEqual(status, 201, body)

        req = {"patient": "A100", "doctor": "D017", "department": "RAD", "visit": "V1",
               "orders": [{"id": "O1", "code": "CT-CHEST"}, {"id": "O2", "code": "NOPE"}]}
        status, body = self.his_call("/api/v1/recognition/order-check", req)
        self.assertEqual(status, 200, body)
        o1, o2 = body["orders"]
        self.assertEqual((o1["id"], o1["code"], o1["status"], o1["recognisable"]),
                         ("O1", "CT-CHEST", 200, 1), o1)
        self.assertEqual(o1["prompt"]["results"][0]["result_key"],
                         "%s/study:%s" % (rt.B_INST, uid(91)))
        self.assertEqual(o1["prompt"]["order"], "O1")
        self.assertEqual((o2["status"], o2["recognisable"]), (404, 0), o2)
        self.assertIn("catalogue", o2["error"])
        # only the HIS role: a clinician's certificate alone is refused
        status, body = self.call(self.a, "/api/v1/recognition/order-check", method="POST",
                                 body=req)
        self.assertEqual(status, 403, body)
        status, body = self.his_call("/api/v1/recognition/order-check", {"orders": []})
        self.assertEqual(status, 400, body)

        # CDS Hooks: discovery, then order-select with a Bundle of ServiceRequest
        status, disc = self.his_call("/cds-services", None)
        self.assertEqual(status, 200, disc)
        (svc,) = disc["services"]
        self.assertEqual((svc["hook"], svc["id"]), ("order-select", "huren-order-select"))
        for k in ("title", "description"):
            self.assertIsInstance(svc[k], str)
        hook = {"hook": "order-select", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                "context": {"userId": "Practitioner/D017", "patientId": "A100",
                            "encounterId": "V1", "selections": ["ServiceRequest/O1"],
                            "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                            "entry": [{"resource": {
                                                "resourceType": "ServiceRequest", "id": "O1",
                                                "status": "draft", "intent": "order",
                                                "subject": {"reference": "Patient/A100"},
                                                "code": {"coding": [{
                                                    "system": "urn:huren:item",
                                                    "code": "CT-CHEST"}]}}}, {"resource": {
                                                "resourceType": "MedicationRequest",
                                                "id": "M1"}}]}}}
        status, body = self.his_call("/cds-services/huren-order-select", hook)
        self.assertEqual(status, 200, body)
        self.assertEqual(set(body), {"cards"})
        (card,) = body["cards"]
        check_cds_card(self, card)
        self.assertIn("胸部CT平扫", card["summary"])
        (sugg,) = card["suggestions"]
        self.assertEqual(sugg["actions"][0]["resourceId"], "ServiceRequest/O1")
        self.assertIn("/ui/recognition?patient=A100&item=CT-CHEST&order=O1", card["links"][0]["url"])
        bad = dict(hook, hook="patient-view")
        status, body = self.his_call("/cds-services/huren-order-select", bad)
        self.assertEqual(status, 400, body)


try:
    from test_ui import BrowserCase
except ImportError:  # pragma: no cover
    BrowserCase = None


if BrowserCase:
    import http.server
    import threading

    class HISBrowserTest(BrowserCase):
        """The launch in Debian's chromium: opener window, prompt, postMessage, refusals."""

        def test_launch_in_the_browser(self):
            page = (b"<!doctype html><title>HIS</title><script>window.msgs=[];"
                    b"addEventListener('message',function(e){msgs.push({origin:e.origin,"
                    b"data:e.data})});</script><p>HIS</p>")

            class Opener(http.server.BaseHTTPRequestHandler):
                def do_GET(self):  # noqa: N802
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    self.wfile.write(page)

                def log_message(self, *args):
                    pass

            srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Opener)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self.addCleanup(srv.server_close)
            self.addCleanup(srv.shutdown)
            his_base = "http://127.0.0.1:%d" % srv.server_address[1]
            admin = secrets.token_hex(32)
            conf, key = his_conf(self.tmp, admin)
            conf = conf.replace("origin = http://127.0.0.1:9", "origin = " + his_base)
            n = self.node(config_text=conf, ready_from_log=True).start()
            base = "http://127.0.0.1:%d" % n.http_port

            def url(**kw):
                a = dict(base=base, his="his-a", key=key, patient="P100", doctor="D017",
                         doctor_name="王医生", department="放射科", visit="V1",
                         orders=[("O1", "CT-CHEST"), ("O2", "HGB")])
                a.update(kw)
                return his_tool.launch_url(**a)
            good = url()
            tampered = good.replace("sig=", "sig=A")
            shots = self.browse(n, "his-launch", his_base=his_base, launch=good,
                                tampered=tampered, expired=url(now=int(time.time()) - 600),
                                patient="P100", doctor_name="王医生")
            for name in ("his-prompt", "his-prompt-phone"):
                self.assertTrue(os.path.getsize(os.path.join(shots, name + ".png")) > 0, name)
