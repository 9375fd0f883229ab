"""test_hostile.py: bad input gets the right refusal, stores nothing, and the node goes on
serving: datasets without required UIDs, UIDs with path characters or too long, a calling AE
that is not allowed, a C-MOVE without any key, and garbage bytes on the DICOM port. Over HTTP:
every route of both roles with invalid UTF-8, NULs, bad percent-escapes and overlong values in
its path, query and body gets a 4xx with a JSON error body (never 500), audited as a refusal."""

import http.client
import json
import os
import re
import socket

from dicomgen import uid, write_instance
from harness import HUREN, NodeTestCase, find, run

SOP_UID = (0x0008, 0x0018)


class HostileDicomTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        conf = "[dicom]\nallowed_calling_aes = GOODSCU, FINDSCU, ECHOSCU\n"
        self.n = self.node(config_text=conf).start()

    def send(self, path, aet="GOODSCU"):
        return run(["storescu", "-v", "-aet", aet, "-aec", "HUREN", "127.0.0.1",
                    str(self.n.dicom_port), path])

    def stored_sops(self):
        return sorted(x.get(SOP_UID) for x in find(
            self.n, "IMAGE", ["SOPInstanceUID"], model="-P",
            extra=["-k", "PatientID=*", "-k", "StudyInstanceUID=*", "-k", "SeriesInstanceUID=*"]))

    def instance(self, name, **kw):
        args = dict(study_uid=uid(9), series_uid=uid(9, 1), sop_uid=uid(9, 1, 1))
        args.update(kw)
        return write_instance(os.path.join(self.tmp, name), **args)

    def assert_refused(self, p):
        self.assertRegex(p.stdout, r"Store Response \((?!Success)", p.stdout)

    def test_missing_series_uid(self):
        p = self.send(self.instance("noseries.dcm", omit=[(0x0020, 0x000E)]))
        self.assert_refused(p)
        self.assertEqual(self.stored_sops(), [])

    def test_hostile_uids(self):
        for name, bad in [("slash.dcm", "1.2.3/../../etc"), ("dots.dcm", "1..2.3"),
                          ("long.dcm", "1." + "2" * 70)]:
            p = self.send(self.instance(name, sop_uid=bad))
            self.assertNotIn("Store Response (Success)", p.stdout, name)
        p = self.send(self.instance("badstudy.dcm", study_uid="../1.2"))
        self.assert_refused(p)
        self.assertEqual(self.stored_sops(), [])
        ok = self.send(self.instance("good.dcm"))
        self.assertIn("Store Response (Success)", ok.stdout)
        self.assertEqual(self.stored_sops(), [uid(9, 1, 1)])
        blobs = os.path.join(self.n.data, "blobs")
        for root, _, files in os.walk(blobs):
            for f in files:
                self.assertNotIn("1.2.826", f, "no file name is built from a UID")

    def test_calling_ae_not_allowed(self):
        p = self.send(self.instance("x.dcm"), aet="INTRUDER")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.stored_sops(), [])
        self.assertEqual(run(["echoscu", "-aet", "ECHOSCU", "-aec", "HUREN", "127.0.0.1",
                              str(self.n.dicom_port)]).returncode, 0)

    def test_move_without_keys_and_unknown_destination(self):
        self.send(self.instance("x.dcm"))
        p = run(["movescu", "-v", "-S", "-aet", "GOODSCU", "-aec", "HUREN", "-aem", "NOWHERE",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=" + uid(9),
                 "127.0.0.1", str(self.n.dicom_port)])
        self.assertRegex(p.stdout.lower(), r"a801|destination ?unknown")

    def test_garbage_on_the_port(self):
        for payload in [b"\x00" * 10, b"GET / HTTP/1.1\r\n\r\n", os.urandom(4096),
                        b"\x01\x00\x00\xff\xff\xff\xff"]:
            with socket.create_connection(("127.0.0.1", self.n.dicom_port), timeout=5) as s:
                try:
                    s.sendall(payload)
                    s.settimeout(5)
                    s.recv(100)
                except OSError:
                    pass
        self.assertEqual(run(["echoscu", "-aet", "ECHOSCU", "-aec", "HUREN", "127.0.0.1",
                              str(self.n.dicom_port)]).returncode, 0)
        self.assertTrue(self.n.healthy())



# Every route (method, path with '*' for a segment) of the hospital and directory roles.
HOSPITAL_ROUTES = [
    ("GET", "/api/v1/health"), ("GET", "/metrics"), ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/patients/*/reports"), ("GET", "/api/v1/reports/*"),
    ("GET", "/api/v1/patients/*/visits/*"),
    ("GET", "/dicom-web/studies"), ("GET", "/dicom-web/series"), ("GET", "/dicom-web/instances"),
    ("GET", "/dicom-web/studies/*/series"), ("GET", "/dicom-web/studies/*/instances"),
    ("GET", "/dicom-web/studies/*/series/*/instances"), ("GET", "/dicom-web/studies/*"),
    ("GET", "/dicom-web/studies/*/series/*"), ("GET", "/dicom-web/studies/*/series/*/instances/*"),
    ("GET", "/dicom-web/studies/*/metadata"),
    ("GET", "/dicom-web/studies/*/series/*/instances/*/frames/*"),
    ("GET", "/dicom-web/studies/*/series/*/instances/*/bulkdata/*"),
    ("GET", "/dicom-web/studies/*/series/*/instances/*/rendered"),
    ("GET", "/dicom-web/studies/*/thumbnail"), ("GET", "/dicom-web/wado"), ("GET", "/wado"),
    ("POST", "/dicom-web/studies"), ("POST", "/dicom-web/studies/*"),
    ("POST", "/api/v1/consents"), ("GET", "/api/v1/patients/*/consents"),
    ("POST", "/api/v1/consents/*/revoke"), ("DELETE", "/api/v1/consents/*"),
    ("GET", "/ui"), ("GET", "/ui/static/*"), ("GET", "/ui/*"),
    ("POST", "/api/v1/claims"), ("GET", "/api/v1/claims/*"),
    ("GET", "/api/v1/recognition"), ("POST", "/api/v1/recognition/decisions"),
    ("GET", "/api/v1/recognition/stats"), ("POST", "/api/v1/retrievals"),
    ("GET", "/api/v1/retrievals/*"),
]
DIRECTORY_ROUTES = [
    ("GET", "/api/v1/health"), ("GET", "/api/v1/audit"), ("POST", "/api/v1/directory/entries"),
    ("GET", "/api/v1/directory/records"),
]
# raw (already escaped) bytes for a path segment or a query value
BAD_SEGMENTS = ["%FF", "a%00b", "%C0%AF", "%ED%A0%80", "%zz", "a%4", "%0A", "%C3"]
BAD_QUERIES = ["x=%FF", "%FF=1", "x=%00", "%00", "x=a%2", "x=%GG", "x=%0D%0Aevil",
               "x=" + "%E4" * 3000, "includefield=%C3%28", "patient=%F4%90%80%80"]
BAD_BODIES = [b'{"patient":"\xff"}', b'{"a":"\\u0000"}', b"\xef\xbb\xbf{", b'{"a":',
              b"[" * 50000, b'{"a":"' + b"x" * 900000 + b'"}', b"\x00" * 64, b"null",
              b'{"patient":"P\xc0\xaf","visit":"V"}', b'{"entries":[{"pseudonym":"\xfe"}]}']


class HostileHttpTest(NodeTestCase):
    """A sweep of the routes with malformed bytes: 4xx with a JSON body, never 500."""

    def request(self, node, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=60)
        try:
            # http.client would refuse or re-encode some of these paths: send them as bytes
            c.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                c.putheader(k, v)
            c.putheader("Content-Length", str(len(body or b"")))
            c.endheaders(body or b"")
            r = c.getresponse()
            return r.status, r.getheader("Content-Type") or "", r.read()
        finally:
            c.close()

    def assert_json_refusal(self, node, method, path, body=None, want=None, headers=None):
        st, ctype, data = self.request(node, method, path, body, headers)
        what = "%s %s %r -> %d %r" % (method, path[:120], (body or b"")[:40], st, data[:160])
        self.assertNotEqual(st, 500, what)
        if want:
            self.assertEqual(st, want, what)
        else:
            self.assertTrue(400 <= st < 500 or st == 503, what)  # 503: feature not configured
        self.assertTrue(ctype.startswith("application/json"), what)
        self.assertIn("error", json.loads(data.decode("utf-8")), what)

    def sweep(self, node, routes):
        for method, pattern in routes:
            for bad in BAD_SEGMENTS:
                if "*" in pattern:
                    path = pattern.replace("*", bad, 1).replace("*", "1.2.3")
                else:
                    path = pattern + "/" + bad
                self.assert_json_refusal(node, method, path, b"" if method == "POST" else None,
                                         want=400)
            concrete = pattern.replace("*", "1.2.3")
            for q in BAD_QUERIES:
                self.assert_json_refusal(node, method, concrete + "?" + q, want=400)
            # a segment too long to route: 404, still JSON
            self.assert_json_refusal(node, method, pattern.replace("*", "9" * 400) + "x" * 400
                                     if "*" in pattern else pattern + "/" + "x" * 4000)
            if method == "POST" and not pattern.startswith("/dicom-web"):
                for body in BAD_BODIES:
                    self.assert_json_refusal(node, method, concrete, body,
                                             headers={"Content-Type": "application/json"})

    def assert_no_internal_errors(self, node):
        with open(os.path.join(node.data, "audit.log"), encoding="utf-8") as f:
            entries = [json.loads(line) for line in f if line.strip()]
        self.assertTrue(any(e["action"] == "http.bad_request" for e in entries))
        errors = [e for e in entries if e.get("outcome") == "error" and e.get("status") == 500]
        self.assertEqual(errors, [])
        st, _, metrics = self.request(node, "GET", "/metrics")
        self.assertEqual(st, 200)
        text = metrics.decode("utf-8")
        self.assertRegex(text, r'huren_http_responses_total\{family="[a-z]+",class="4xx"\} [1-9]')
        p = run([HUREN, "audit", "verify", "--data", node.data])
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_hospital_routes(self):
        n = self.node().start()
        self.sweep(n, HOSPITAL_ROUTES)
        self.assert_no_internal_errors(n)
        self.assertTrue(n.healthy())

    def test_directory_routes(self):
        n = self.node(name="dir", extra_args=["--role", "directory"]).start()
        self.sweep(n, DIRECTORY_ROUTES)
        self.assert_no_internal_errors(n)
        self.assertTrue(n.healthy())

if __name__ == "__main__":
    import unittest
    unittest.main()
