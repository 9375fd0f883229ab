"""test_cors.py: cross-origin access to DICOMweb and the REST API ([dicomweb] cors_origins),
OPTIONS and Allow, and WADO-URI's answer to a transfer syntax it cannot give, driven with curl.

A listed origin gets its own origin back (never "*") with credentials, on preflights and on
actual answers (errors included); an unlisted one gets no CORS header and a refused preflight;
preflights need no credentials, run no route and are not audited; every 405 says Allow. Data:
CT_small.dcm and MR_small_RLE.dcm from Debian's python3-pydicom."""

import hashlib
import json
import os
import secrets
import subprocess
import unittest
import urllib.parse

from harness import HUREN, NodeTestCase, run

PYDICOM_FILES = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
VIEWER = "http://127.0.0.1:3000"
OTHER = "https://viewer.hospital.cn"
CONF = "[dicomweb]\ncors_origins = %s, %s\n" % (VIEWER, OTHER)
# CT_small.dcm's UIDs (stored as is: Explicit VR Little Endian)
CT = {"study": "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
      "series": "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322",
      "object": "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322",
      "ts": "1.2.840.10008.1.2.1"}
ALLOW_HEADERS = ("authorization", "accept", "content-type")
EXPOSE = ("content-type", "content-length", "warning", "location")


def curl(url, *args):
    """(status, {lower-case header: value}, body) of one curl request; a repeated header's
    values are joined with ", "."""
    p = subprocess.run(["curl", "-s", "-S", "-i", "--max-time", "60"] + list(args) + [url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90)
    if p.returncode != 0:
        raise AssertionError("curl %s: %s" % (url, p.stderr.decode()))
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        headers[k] = headers[k] + ", " + v.strip() if k in headers else v.strip()
    return int(lines[0].split()[1]), headers, body


def preflight(node, path, origin, method="GET", req_headers=None):
    args = ["-X", "OPTIONS", "-H", "Origin: " + origin,
            "-H", "Access-Control-Request-Method: " + method]
    if req_headers:
        args += ["-H", "Access-Control-Request-Headers: " + req_headers]
    return curl(node.url(path), *args)


def words(value):
    return [w.strip().lower() for w in (value or "").split(",") if w.strip()]


def cors_headers(headers):
    return {k: v for k, v in headers.items() if k.startswith("access-control-")}


class CorsTest(NodeTestCase):
    """A node with two listed origins, plain HTTP on loopback (full local access)."""

    def setUp(self):
        super().setUp()
        self.n = self.node(config_text=CONF).start()

    def assert_listed(self, headers, origin, what):
        self.assertEqual(headers.get("access-control-allow-origin"), origin, what)
        self.assertEqual(headers.get("access-control-allow-credentials"), "true", what)
        self.assertIn("origin", words(headers.get("vary")), what)

    def test_preflight_from_listed_origins(self):
        for origin in (VIEWER, OTHER):
            st, h, body = preflight(self.n, "/dicom-web/studies", origin, "GET",
                                    "authorization, accept")
            self.assertEqual(st, 204, body)
            self.assert_listed(h, origin, origin)
            self.assertEqual(body, b"")
            self.assertEqual(words(h["access-control-allow-methods"]), ["get", "post", "options"])
            for name in ALLOW_HEADERS:
                self.assertIn(name, words(h["access-control-allow-headers"]))
            self.assertGreater(int(h["access-control-max-age"]), 0)
        # a STOW-RS preflight (POST with a multipart Content-Type), the REST API, WADO-URI
        for path, method in (("/dicom-web/studies/1.2.3", "POST"), ("/api/v1/health", "GET"),
                             ("/wado", "GET"), ("/dicom-web/wado", "GET")):
            st, h, _ = preflight(self.n, path, VIEWER, method, "content-type")
            self.assertEqual(st, 204, path)
            self.assert_listed(h, VIEWER, path)
            self.assertIn(method.lower(), words(h["access-control-allow-methods"]), path)

    def test_actual_answers_carry_the_origin(self):
        for path in ("/dicom-web/studies", "/api/v1/health",
                     "/dicom-web/studies/1.2.3/series/1.2.4/instances/1.2.5/metadata",
                     "/dicom-web/studies/not-a-uid"):
            st, h, _ = curl(self.n.url(path), "-H", "Origin: " + VIEWER)
            self.assertIn(st, (200, 204, 400, 404), path)
            self.assert_listed(h, VIEWER, path)
            for name in EXPOSE:
                self.assertIn(name, words(h["access-control-expose-headers"]), path)
        # a 405 too, with Allow
        st, h, _ = curl(self.n.url("/dicom-web/studies"), "-X", "PUT", "-H", "Origin: " + VIEWER)
        self.assertEqual(st, 405)
        self.assertEqual(words(h["allow"]), ["get", "post", "options"])
        self.assert_listed(h, VIEWER, "405")

    def test_unlisted_origins_get_nothing(self):
        # near misses of a listed origin are other origins: port, scheme, case, path, null
        for origin in ("http://127.0.0.1:3001", "https://127.0.0.1:3000", "http://localhost:3000",
                       "HTTPS://VIEWER.HOSPITAL.CN", OTHER + "/", "null", "*", "http://evil.cn"):
            st, h, body = preflight(self.n, "/dicom-web/studies", origin, "GET", "authorization")
            self.assertEqual(st, 403, origin)
            self.assertEqual(cors_headers(h), {}, origin)
            self.assertIn(b"cors_origins", body)
            st, h, _ = curl(self.n.url("/dicom-web/studies"), "-H", "Origin: " + origin)
            self.assertEqual(st, 204, origin)  # served (the browser withholds it), but not shared
            self.assertEqual(cors_headers(h), {}, origin)
            self.assertIn("origin", words(h.get("vary")), origin)
        # the web page and /metrics are same-origin only, even for a listed origin
        for path in ("/ui/", "/metrics"):
            st, h, _ = preflight(self.n, path, VIEWER)
            self.assertEqual(st, 403, path)
            self.assertEqual(cors_headers(h), {}, path)
            st, h, _ = curl(self.n.url(path), "-H", "Origin: " + VIEWER)
            self.assertEqual(cors_headers(h), {}, path)

    def test_options_allow_and_405(self):
        cases = {"/dicom-web/studies": ["get", "post", "options"],
                 "/dicom-web/studies/1.2.3/series": ["get", "options"],
                 "/api/v1/consents/c1": ["delete", "options"],
                 "/api/v1/health": ["get", "options"]}
        for path, allow in cases.items():
            st, h, body = curl(self.n.url(path), "-X", "OPTIONS")
            self.assertEqual((st, words(h.get("allow"))), (204, allow), path)
            self.assertEqual(cors_headers(h), {}, path)  # no Origin: no CORS
            self.assertEqual(body, b"")
        st, h, _ = curl(self.n.url("/"), "-X", "OPTIONS", "--request-target", "*")
        self.assertEqual(st, 204)
        self.assertIn("delete", words(h["allow"]))
        self.assertEqual(curl(self.n.url("/nothing/here"), "-X", "OPTIONS")[0], 404)
        for path, method in (("/dicom-web/studies", "PUT"), ("/dicom-web/studies", "DELETE"),
                             ("/api/v1/health", "POST"), ("/api/v1/consents/c1", "GET"),
                             ("/wado", "POST")):
            st, h, _ = curl(self.n.url(path), "-X", method)
            self.assertEqual(st, 405, (path, method))
            self.assertIn("allow", h, (path, method))
            self.assertNotIn(method.lower(), words(h["allow"]))
            self.assertIn("options", words(h["allow"]))

    def test_keep_alive_across_preflights(self):
        """curl sends a preflight, a GET and a preflight again on one connection."""
        p = subprocess.run(
            ["curl", "-s", "-v", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
             "-X", "OPTIONS", "-H", "Origin: " + VIEWER, "-H",
             "Access-Control-Request-Method: GET", self.n.url("/dicom-web/studies"),
             "--next", "-s", "-o", "/dev/null", "-H", "Origin: " + VIEWER,
             self.n.url("/dicom-web/studies"),
             "--next", "-s", "-o", "/dev/null", "-X", "OPTIONS", "-H", "Origin: " + VIEWER,
             "-H", "Access-Control-Request-Method: GET", self.n.url("/dicom-web/series")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
        log = p.stdout.decode("latin-1")
        self.assertEqual(p.returncode, 0, log)
        self.assertEqual(log.count("Connected to"), 1, log)
        self.assertEqual(log.count("Re-using existing connection"), 2, log)
        self.assertEqual(log.count("< HTTP/1.1 204"), 3, log)

    def test_bad_origin_lists_are_refused(self):
        for bad in ("*", "http://a.cn/", "http://a.cn/path", "viewer.hospital.cn", "ftp://a.cn",
                    "http://A.cn", "http://a.cn:0", "http://a.cn:70000", "null",
                    VIEWER + " *"):
            path = os.path.join(self.tmp, "bad.conf")
            with open(path, "w") as f:
                f.write("[dicomweb]\ncors_origins = %s\n" % bad)
            p = run([HUREN, "check-config", "-c", path])
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("cors_origins", p.stdout, bad)
        with open(path, "w") as f:
            f.write(CONF.replace(", ", " ") + "\n")
        p = run([HUREN, "check-config", "-c", path])
        self.assertEqual(p.returncode, 0, p.stdout)


class CorsOffTest(NodeTestCase):
    """Without cors_origins (the default) no origin is shared and preflights are refused."""

    def test_no_cors_by_default(self):
        n = self.node().start()
        st, h, _ = preflight(n, "/dicom-web/studies", VIEWER)
        self.assertEqual(st, 403)
        self.assertEqual(cors_headers(h), {})
        st, h, _ = curl(n.url("/dicom-web/studies"), "-H", "Origin: " + VIEWER)
        self.assertEqual(st, 204)
        self.assertEqual(cors_headers(h), {})
        self.assertNotIn("vary", h)
        st, h, _ = curl(n.url("/dicom-web/studies"), "-X", "OPTIONS")
        self.assertEqual((st, words(h["allow"])), (204, ["get", "post", "options"]))


class CorsCredentialsTest(NodeTestCase):
    """Loopback without full access: clients show a bearer token. Preflights carry none (a
    browser never sends credentials on one) and must pass, without running or auditing a
    route; the actual requests are authenticated as always, and their refusals still carry
    the CORS headers so that the viewer can read the 401."""

    def test_preflight_without_credentials(self):
        tokens = {r: secrets.token_hex(32) for r in ("clinician", "admin")}
        conf = CONF + "[access]\nloopback_full_access = no\n"
        for role, tok in tokens.items():
            conf += ('[client "%s"]\ntoken_sha256 = %s\ninstitution = H1\nrole = %s\n'
                     % (role, hashlib.sha256(tok.encode()).hexdigest(), role))
        n = self.node(config_text=conf, ready_from_log=True).start()
        audit_before = self.audit(n, tokens["admin"])
        for path, method in (("/dicom-web/studies", "GET"), ("/dicom-web/studies", "POST"),
                             ("/api/v1/audit", "GET"), ("/wado", "GET")):
            st, h, _ = preflight(n, path, VIEWER, method, "authorization, accept")
            self.assertEqual(st, 204, path)
            self.assertEqual(h["access-control-allow-origin"], VIEWER)
            self.assertEqual(h["access-control-allow-credentials"], "true")
            self.assertIn("authorization", words(h["access-control-allow-headers"]))
            self.assertNotIn("www-authenticate", h)
        self.assertEqual(self.audit(n, tokens["admin"]), audit_before + 1,
                         "a preflight was audited (only the audit read itself is)")
        st, h, _ = curl(n.url("/dicom-web/studies"), "-H", "Origin: " + VIEWER)
        self.assertEqual(st, 401)
        self.assertEqual(h["access-control-allow-origin"], VIEWER)
        self.assertIn("www-authenticate", words(h["access-control-expose-headers"]))
        st, h, _ = curl(n.url("/dicom-web/studies"), "-H", "Origin: " + VIEWER,
                        "-H", "Authorization: Bearer " + tokens["clinician"])
        self.assertEqual(st, 204)
        self.assertEqual(h["access-control-allow-origin"], VIEWER)
        self.assertEqual(h["access-control-allow-credentials"], "true")

    def audit(self, n, token):
        st, _, body = curl(n.url("/api/v1/audit?limit=1000"), "-H", "Authorization: Bearer " + token)
        self.assertEqual(st, 200, body)
        entries = json.loads(body)["entries"]
        for e in entries:
            self.assertNotIn("OPTIONS", e.get("object", ""), e)
        return len(entries)


@unittest.skipUnless(os.path.isdir(PYDICOM_FILES), "python3-pydicom's test files not installed")
class WadoUriTransferSyntaxTest(NodeTestCase):
    """WADO-URI with transferSyntax: the stored one is served, another one is 406 (no
    transcoding), like WADO-RS; a malformed one is 400."""

    def test_transfer_syntax(self):
        n = self.node().start()
        files = [os.path.join(PYDICOM_FILES, f) for f in ("CT_small.dcm",)]
        run(["dcmsend", "-aec", n.aet, "127.0.0.1", str(n.dicom_port)] + files, check=True)
        q = {"requestType": "WADO", "studyUID": CT["study"], "seriesUID": CT["series"],
             "objectUID": CT["object"], "contentType": "application/dicom"}

        def wado(**kw):
            return curl(n.url("/wado?" + urllib.parse.urlencode(dict(q, **kw))))

        st, _, stored = wado()
        self.assertEqual((st, stored[128:132]), (200, b"DICM"))
        for kw in ({"transferSyntax": CT["ts"]}, {"transferSyntax": "*"},
                   {"contentType": "application/dicom; transfer-syntax=" + CT["ts"]}):
            st, h, body = wado(**kw)
            self.assertEqual((st, h["content-type"]), (200, "application/dicom"), kw)
            self.assertEqual(body, stored, kw)
        for ts in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.80"):
            for kw in ({"transferSyntax": ts},
                       {"contentType": "application/dicom;transfer-syntax=" + ts}):
                st, h, body = wado(**kw)
                self.assertEqual(st, 406, (kw, body))
                self.assertIn(CT["ts"], json.loads(body)["error"])
        for bad in ("jpeg", "1.2.840.10008.1.2.4.50;x", ""):
            st, _, body = wado(transferSyntax=bad)
            self.assertEqual(st, 400, (bad, body))
        # a rendered image has no transfer syntax: the parameter does not apply to it
        st, h, body = wado(contentType="image/jpeg", transferSyntax="1.2.840.10008.1.2.4.50")
        self.assertEqual((st, h["content-type"]), (200, "image/jpeg"))
        self.assertEqual(body[:2], b"\xff\xd8")


if __name__ == "__main__":
    unittest.main()
