"""test_share.py: cloud film shares (云胶片, gateway/share/) on a running node.

API (curl): staff make a share (token, expiry, a PIN given once), list it, print its slip
(the QR code, rendered to PNG by rsvg-convert and decoded by zbarimg, is the share URL) and
revoke it; every step is in the audit trail and the token is in no log. The patient's side
(no credentials): the viewer page and the images of that study only, 410 once revoked or
expired, a PIN form that locks after five wrong PINs. Roles: insurers, peers and the unknown
cannot make shares. Browser: Debian's chromium at a phone's 390x844 opens a share and sees an
image, a revoked one is refused, a wrong PIN is refused and the right one opens it."""

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import time
import unittest

from dicomgen import uid, write_instance
from harness import NodeTestCase, run
from test_ui import BrowserCase, UI_TEST

STUDY = uid(90)
OTHER = uid(91)


def curl(port, path, method="GET", body=None, token=None, cookie=None, extra=()):
    """(status, headers {lower: value}, body bytes) of one request by curl."""
    cmd = ["curl", "-s", "-S", "-D", "-", "-X", method, "--max-time", "60"]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary",
                body if isinstance(body, str) else json.dumps(body)]
    if token:
        cmd += ["-H", "Authorization: Bearer " + token]
    if cookie:
        cmd += ["-H", "Cookie: " + cookie]
    cmd += list(extra) + ["http://127.0.0.1:%d%s" % (port, path)]
    p = subprocess.run(cmd, capture_output=True, timeout=90)
    assert p.returncode == 0, p.stderr
    head, _, data = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, data


def seed(test, node):
    """A 2-image CT study of P900 and another patient's study (P901)."""
    paths = []
    for i in (1, 2):
        pixels = b"".join(int(v).to_bytes(2, "little", signed=True)
                          for v in [((x + y) * 16 - 1000) for y in range(64) for x in range(64)])
        p = os.path.join(test.tmp, "ct%d.dcm" % i)
        write_instance(p, study_uid=STUDY, series_uid=uid(90, 1), sop_uid=uid(90, 1, i),
                       patient_id="P900", patient_name="Li^Lei=李^雷", charset="ISO_IR 192",
                       modality="CT", study_date="20261120", accession="ACCSH1",
                       study_desc="CHEST", instance_number=str(i), rows=64, cols=64,
                       pixel_bytes=pixels)
        paths.append(p)
    p = os.path.join(test.tmp, "other.dcm")
    write_instance(p, study_uid=OTHER, series_uid=uid(91, 1), sop_uid=uid(91, 1, 1),
                   patient_id="P901", modality="CT", rows=64, cols=64,
                   pixel_bytes=bytes(64 * 64 * 2))
    paths.append(p)
    run(["storescu", "-aec", node.aet, "127.0.0.1", str(node.dicom_port)] + paths, check=True)


def make(port, token=None, **kw):
    body = {"study_uid": STUDY}
    body.update(kw)
    return curl(port, "/api/v1/shares", "POST", body, token=token)


def image_path(token, study=STUDY, series=uid(90, 1), sop=uid(90, 1, 1)):
    return "/s/%s/studies/%s/series/%s/instances/%s/rendered" % (token, study, series, sop)


class ShareApiTest(NodeTestCase):
    def setUp(self):
        super().setUp()
        self.n = self.node().start()
        seed(self, self.n)
        self.port = self.n.http_port

    def test_create_list_open_revoke(self):
        st, _, body = make(self.port)
        self.assertEqual(st, 201, body)
        s = json.loads(body)
        self.assertRegex(s["token"], r"^[A-Za-z0-9_-]{32}$")  # 192 bits, base64url
        self.assertNotIn("pin_code", s)
        self.assertEqual(s["status"], "active")
        self.assertTrue(s["url"].endswith("/s/" + s["token"]))
        self.assertTrue(s["expires"].startswith(
            time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400))))
        st2, _, body2 = make(self.port, expires_in_days=365, pin=False)
        self.assertEqual(st2, 201, body2)
        self.assertNotEqual(json.loads(body2)["token"], s["token"])
        for bad in ({"study_uid": STUDY, "expires_in_days": 0},
                    {"study_uid": STUDY, "expires_in_days": 366},
                    {"study_uid": STUDY, "pin": "yes"}, {"study_uid": "x"}, {}):
            self.assertEqual(curl(self.port, "/api/v1/shares", "POST", bad)[0], 400, bad)
        self.assertEqual(make(self.port, study_uid=uid(99))[0], 404)
        st, _, body = curl(self.port, "/api/v1/shares?study_uid=" + STUDY)
        self.assertEqual(st, 200, body)
        listed = json.loads(body)["shares"]
        self.assertEqual([x["id"] for x in listed], [json.loads(body2)["id"], s["id"]])
        self.assertNotIn("token\"", body.decode())  # the list gives URLs, never PIN or hash
        self.assertNotIn("pin_code", body.decode())

        # the patient's side, no credentials needed on loopback either way
        st, h, page = curl(self.port, "/s/" + s["token"])
        self.assertEqual(st, 200, page)
        self.assertEqual(h["cache-control"], "no-store")
        self.assertEqual(h["referrer-policy"], "no-referrer")
        text = page.decode()
        self.assertIn("云胶片", text)
        self.assertIn("李雷", text)
        self.assertIn("2026-11-20", text)
        self.assertEqual(text.count('class="frame"'), 2)
        self.assertIn(image_path(s["token"]), text)
        self.assertNotIn(OTHER, text)
        st, h, img = curl(self.port, image_path(s["token"]))
        self.assertEqual(st, 200, img[:200])
        self.assertEqual(h["content-type"], "image/jpeg")
        self.assertEqual(h["cache-control"], "no-store")
        # never another study: neither by its own path nor under the shared study's UID
        self.assertEqual(curl(self.port, image_path(s["token"], OTHER, uid(91, 1),
                                                    uid(91, 1, 1)))[0], 404)
        self.assertEqual(curl(self.port, image_path(s["token"], STUDY, uid(91, 1),
                                                    uid(91, 1, 1)))[0], 404)
        self.assertEqual(curl(self.port, "/s/" + s["token"] + "/studies/" + STUDY)[0], 404)
        wrong = s["token"][:-1] + ("A" if s["token"][-1] != "A" else "B")
        self.assertEqual(curl(self.port, "/s/" + wrong)[0], 404)
        self.assertEqual(curl(self.port, image_path(wrong))[0], 404)

        st, _, body = curl(self.port, "/api/v1/shares/%d" % s["id"], "DELETE")
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["status"], "revoked")
        st, h, page = curl(self.port, "/s/" + s["token"])
        self.assertEqual(st, 410)
        self.assertIn("已失效", page.decode())
        self.assertEqual(curl(self.port, image_path(s["token"]))[0], 410)
        self.assertEqual(curl(self.port, "/api/v1/shares/999", "DELETE")[0], 404)

        # audited, with the patient; the token is in no log and not in the audit trail
        st, _, body = curl(self.port, "/api/v1/audit?patient=P900")
        self.assertEqual(st, 200, body)
        audit = body.decode()
        for action in ("share.create", "share.read", "share.open", "share.image",
                       "share.revoke"):
            self.assertIn(action, audit)
        for f in (os.path.join(self.n.data, "audit.log"), os.path.join(self.tmp, "node.log")):
            with open(f, encoding="utf-8", errors="replace") as fh:
                self.assertNotIn(s["token"], fh.read(), f)

    def test_expired(self):
        st, _, body = make(self.port)
        s = json.loads(body)
        self.n.stop()
        db = sqlite3.connect(os.path.join(self.n.data, "index.db"))
        db.execute("UPDATE shares SET expires_at = 1000 WHERE pk = ?", (s["id"],))
        db.commit()
        db.close()
        self.n.start()
        st, _, page = curl(self.port, "/s/" + s["token"])
        self.assertEqual(st, 410)
        self.assertIn("过有效期", page.decode())

    def test_pin(self):
        st, _, body = make(self.port, pin=True)
        self.assertEqual(st, 201, body)
        s = json.loads(body)
        pin = s["pin_code"]
        self.assertRegex(pin, r"^\d{6}$")
        st, _, page = curl(self.port, "/s/" + s["token"])
        self.assertEqual(st, 200)
        self.assertIn('name="pin"', page.decode())
        self.assertNotIn('class="frame"', page.decode())
        self.assertEqual(curl(self.port, image_path(s["token"]))[0], 403)
        bad = "%06d" % ((int(pin) + 1) % 1000000)
        form = ["-H", "Content-Type: application/x-www-form-urlencoded"]
        st, _, page = curl(self.port, "/s/" + s["token"], "POST",
                           extra=form + ["--data", "pin=" + bad])
        self.assertEqual(st, 403)
        self.assertIn("还可尝试 4 次", page.decode())
        st, h, _ = curl(self.port, "/s/" + s["token"], "POST",
                        extra=form + ["--data", "pin=" + pin])
        self.assertEqual(st, 303)
        self.assertEqual(h["location"], "/s/" + s["token"])
        cookie = h["set-cookie"].split(";")[0]
        self.assertIn("HttpOnly", h["set-cookie"])
        self.assertIn("SameSite=Strict", h["set-cookie"])
        st, _, page = curl(self.port, "/s/" + s["token"], cookie=cookie)
        self.assertEqual(st, 200)
        self.assertIn('class="frame"', page.decode())
        self.assertEqual(curl(self.port, image_path(s["token"]), cookie=cookie)[0], 200)
        self.assertEqual(curl(self.port, image_path(s["token"]), cookie="hs=" + "0" * 64)[0],
                         403)
        # five wrong in a row lock it, even for the right PIN afterwards
        for i in range(5):
            st, _, _ = curl(self.port, "/s/" + s["token"], "POST",
                            extra=form + ["--data", "pin=" + bad])
            self.assertEqual(st, 403)
        st, _, page = curl(self.port, "/s/" + s["token"], "POST",
                           extra=form + ["--data", "pin=" + pin])
        self.assertEqual(st, 403)
        self.assertIn("已锁定", page.decode())
        self.assertEqual(curl(self.port, "/s/" + s["token"], cookie=cookie)[0], 403)
        st, _, body = curl(self.port, "/api/v1/audit?patient=P900")
        self.assertIn("pin refused", body.decode())
        self.assertIn("pin accepted", body.decode())


@unittest.skipUnless(shutil.which("zbarimg") and shutil.which("rsvg-convert"),
                     "zbar-tools and librsvg2-bin are needed to decode the slip's QR code")
class ShareSlipTest(NodeTestCase):
    def test_slip_qr_decodes_to_url(self):
        n = self.node(config_text="[share]\nbase_url = https://film.hospital.example/\n"
                                  "hospital_name = 济南市第一人民医院\n").start()
        seed(self, n)
        st, _, body = make(n.http_port, pin=True)
        s = json.loads(body)
        self.assertEqual(s["url"], "https://film.hospital.example/s/" + s["token"])
        st, h, page = curl(n.http_port, "/api/v1/shares/%d/slip" % s["id"])
        self.assertEqual(st, 200, page[:300])
        self.assertTrue(h["content-type"].startswith("text/html"))
        text = page.decode()
        for want in ("济南市第一人民医院", "2026-11-20", "CT", "CHEST", "有效期至", "需要"):
            self.assertIn(want, text)
        self.assertNotIn(s["pin_code"], text)
        svg = re.search(r"<svg.*?</svg>", text, re.S).group(0)
        with open(os.path.join(self.tmp, "qr.svg"), "w") as f:
            f.write(svg)
        png = os.path.join(self.tmp, "qr.png")
        run(["rsvg-convert", "-w", "400", "-h", "400", "-b", "white", "-o", png,
             os.path.join(self.tmp, "qr.svg")], check=True)
        p = run(["zbarimg", "-q", "--raw", png], check=True)
        # (zbarimg may say something about D-Bus on stdout first)
        self.assertIn(s["url"], p.stdout.strip().splitlines())
        curl(n.http_port, "/api/v1/shares/%d" % s["id"], "DELETE")
        self.assertEqual(curl(n.http_port, "/api/v1/shares/%d/slip" % s["id"])[0], 410)
        st, _, body = curl(n.http_port, "/api/v1/audit?patient=P900")
        self.assertIn("share.slip", body.decode())


class ShareRolesTest(NodeTestCase):
    def test_roles(self):
        tokens = {r: secrets.token_hex(32) for r in ("clinician", "admin", "insurer", "peer")}
        conf = "[access]\nloopback_full_access = no\n"
        for role, tok in tokens.items():
            conf += ('[client "%s"]\ntoken_sha256 = %s\ninstitution = H1\nrole = %s\n'
                     % (role, hashlib.sha256(tok.encode()).hexdigest(), role))
        n = self.node(config_text=conf, ready_from_log=True).start()
        seed(self, n)
        self.assertEqual(make(n.http_port)[0], 401)
        for role in ("insurer", "peer"):
            self.assertEqual(make(n.http_port, token=tokens[role])[0], 403, role)
            self.assertEqual(curl(n.http_port, "/api/v1/shares?study_uid=" + STUDY,
                                  token=tokens[role])[0], 403, role)
        made = {}
        for role in ("clinician", "admin"):
            st, _, body = make(n.http_port, token=tokens[role])
            self.assertEqual(st, 201, body)
            made[role] = json.loads(body)
        # the patient needs no credentials at all
        self.assertEqual(curl(n.http_port, "/s/" + made["clinician"]["token"])[0], 200)
        self.assertEqual(curl(n.http_port, image_path(made["clinician"]["token"]))[0], 200)
        self.assertEqual(curl(n.http_port, "/api/v1/shares/%d" % made["admin"]["id"], "DELETE",
                              token=tokens["insurer"])[0], 403)
        st, _, body = curl(n.http_port, "/api/v1/audit?patient=P900", token=tokens["admin"])
        audit = body.decode()
        self.assertIn("clinician", audit)  # who made it
        self.assertIn("share.create", audit)


class ShareBrowserTest(BrowserCase):
    """Chromium at 390x844 (a phone): open, revoked, wrong PIN then the right one."""

    def test_phone(self):
        n = self.node().start()
        seed(self, n)
        ok = json.loads(make(n.http_port)[2])
        gone = json.loads(make(n.http_port)[2])
        curl(n.http_port, "/api/v1/shares/%d" % gone["id"], "DELETE")
        locked = json.loads(make(n.http_port, pin=True)[2])
        shots = os.path.join(self.tmp, "screenshots-share")
        os.makedirs(shots)
        cfg = {"base": "http://127.0.0.1:%d" % n.http_port, "ok": ok["token"],
               "revoked": gone["token"], "pinned": locked["token"], "pin": locked["pin_code"],
               "shots": shots, "profile": os.path.join(self.tmp, "chromium-profile-share")}
        p = subprocess.run(["node", os.path.join(UI_TEST, "share.js"), json.dumps(cfg)],
                           cwd=UI_TEST, capture_output=True, text=True, timeout=600,
                           start_new_session=True)
        self.assertEqual(p.returncode, 0, p.stdout[-4000:] + p.stderr[-4000:])
        self.assertTrue(os.path.exists(os.path.join(shots, "share-open.png")))


if __name__ == "__main__":
    unittest.main()
