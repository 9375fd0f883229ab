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
