"""test_dicom_tls_reload.py: SIGHUP reloads the certificates without dropping anyone. A node
serves HTTPS and a DICOM TLS port from one certificate file; a keep-alive HTTPS connection and
a DICOM TLS association (our own upper-layer client over Python's ssl, certificate of the CT)
are opened; the certificate and key files are replaced by a new pair from the same CA and the
node gets SIGHUP. New HTTPS connections and new DICOM TLS connections (Python's ssl, and
DCMTK's storescu +tls) then see the new certificate, while the connection and the association
opened before keep working on the old one. A bad new key is refused with a line naming
[http] tls_key, and the node keeps the certificate it had; /metrics counts both reloads.
The recognition catalogue is reloaded too: an item added to the file is known to the prompt
after SIGHUP, and a broken file is refused with its line while the item stays known."""

import hashlib
import os
import shutil
import signal
import socket
import ssl
import http.client
import json
import struct
import urllib.error
import urllib.request

import dul
from dicomgen import uid, write_instance
from harness import NodeTestCase, free_port, run, wait_for
from test_directory import CATALOGUE
from test_dicom_tls import make_pki, tls_conf

VERIFICATION = "1.2.840.10008.1.1"


def fingerprint(der):
    return hashlib.sha256(der).hexdigest()


def echo_command(msg_id):
    els = dul._element(0x0000, 0x0002, VERIFICATION) + dul._element(0x0000, 0x0100, 0x0030)
    els += dul._element(0x0000, 0x0110, msg_id) + dul._element(0x0000, 0x0800, 0x0101)
    return struct.pack("<HHI", 0, 0, 4) + struct.pack("<I", len(els)) + els


class TlsAssociation(dul.Association):
    """dul's association over TLS with a client certificate."""

    def __init__(self, port, ctx, calling):
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.s.sendall(dul.associate_rq("HUREN", calling, [(1, VERIFICATION,
                                                               [dul.IMPLICIT_LE])]))
        kind, body = self.read_pdu()
        if kind != 0x02:
            raise AssertionError("association not accepted: PDU type 0x%02x" % kind)
        self.pcid = self._accepted(body[68:])

    def echo(self, msg_id):
        self._send_pdvs(echo_command(msg_id), True)
        return self._read_response()

    def server_cert(self):
        return fingerprint(self.s.getpeercert(binary_form=True))


class ReloadTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.pki, self.subjects = make_pki(self.tmp)
        self.cert = os.path.join(self.tmp, "live.crt")  # what the configuration names
        self.key = os.path.join(self.tmp, "live.key")
        self.install(os.path.join(self.pki, "server"))
        self.tls_port = free_port()
        conf = tls_conf(self.pki, self.subjects, self.tls_port).replace(
            "%s/server.crt" % self.pki, self.cert).replace("%s/server.key" % self.pki, self.key)
        conf += ("[http]\ntls_cert = %s\ntls_key = %s\ntls_client_ca = %s/ca.crt\n"
                 "tls_client_verify = optional\n" % (self.cert, self.key, self.pki))
        conf += ('[client "admin"]\nsubject = %s\ninstitution = H37010001\nrole = admin\n'
                 % self.subjects["admin"])
        self.n = self.node(config_text=conf, https=True).start()

    def install(self, base):
        """Replace the live files by base.crt/base.key, each by a rename (as an admin would)."""
        for src, dst in ((base + ".crt", self.cert), (base + ".key", self.key)):
            shutil.copy(src, dst + ".new")
            os.replace(dst + ".new", dst)

    def new_server_cert(self):
        """A second server certificate from the test CA (same names, another key)."""
        base = os.path.join(self.tmp, "server2")
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n")
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", base + ".key"], check=True)
        run(["openssl", "req", "-new", "-key", base + ".key", "-out", base + ".csr", "-subj",
             "/C=CN/O=Hospital A/CN=localhost"], check=True)
        run(["openssl", "x509", "-req", "-in", base + ".csr", "-CA",
             os.path.join(self.pki, "ca.crt"), "-CAkey", os.path.join(self.pki, "ca.key"),
             "-CAcreateserial", "-days", "30", "-sha256", "-extfile", ext, "-out",
             base + ".crt"], check=True)
        return base

    def ctx(self):
        c = ssl.create_default_context(cafile=os.path.join(self.pki, "ca.crt"))
        c.load_cert_chain(os.path.join(self.pki, "clinician.crt"),
                          os.path.join(self.pki, "clinician.key"))
        return c

    def https(self):
        return http.client.HTTPSConnection("127.0.0.1", self.n.http_port, context=self.ctx(),
                                           timeout=30)

    def get(self, conn, path="/healthz"):
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        return r.status, body

    def pem_fingerprint(self, path):
        with open(path) as f:
            return fingerprint(ssl.PEM_cert_to_DER_cert(f.read()))

    def hup(self, expect):
        before = self.n.output().count("reload ")
        self.n.proc.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.n.output().count("reload ") > before, 30, "the reload's line")
        self.assertIn(expect, self.n.output())

    def test_new_certificate_for_new_connections_only(self):
        old = self.pem_fingerprint(self.cert)
        web = self.https()
        self.assertEqual(self.get(web)[0], 200)
        web_sock = web.sock
        self.assertEqual(fingerprint(web_sock.getpeercert(binary_form=True)), old)
        assoc = TlsAssociation(self.tls_port, self.ctx(), "CT1")
        self.assertEqual(assoc.server_cert(), old)
        self.assertEqual(assoc.echo(1), 0x0000)

        new_base = self.new_server_cert()
        new = self.pem_fingerprint(new_base + ".crt")
        self.assertNotEqual(new, old)
        self.install(new_base)
        self.hup("reload done: HTTPS and DICOM TLS")

        # new connections: the new certificate
        web2 = self.https()
        self.assertEqual(self.get(web2)[0], 200)
        self.assertEqual(fingerprint(web2.sock.getpeercert(binary_form=True)), new)
        assoc2 = TlsAssociation(self.tls_port, self.ctx(), "CT1")
        self.assertEqual(assoc2.server_cert(), new)
        self.assertEqual(assoc2.echo(1), 0x0000)
        assoc2.release()
        p = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.tls_port,
                 "-CAfile", os.path.join(self.pki, "ca.crt"), "-cert",
                 os.path.join(self.pki, "clinician.crt"), "-key",
                 os.path.join(self.pki, "clinician.key")], timeout=30)
        self.assertIn("CN = localhost", p.stdout)
        path = os.path.join(self.tmp, "ct.dcm")
        write_instance(path, study_uid=uid(1, 77), series_uid=uid(2, 77), sop_uid=uid(3, 77),
                       patient_id="RELOAD1")
        p = run(["storescu", "-aet", "CT1", "-aec", "HUREN", "--enable-tls",
                 os.path.join(self.pki, "clinician.key"), os.path.join(self.pki, "clinician.crt"),
                 "--add-cert-file", os.path.join(self.pki, "ca.crt"), "127.0.0.1",
                 str(self.tls_port), path])
        self.assertEqual(p.returncode, 0, p.stdout)

        # opened before: still there, still on the old certificate
        self.assertEqual(self.get(web)[0], 200)
        self.assertIs(web.sock, web_sock, "the keep-alive connection was not dropped")
        self.assertEqual(fingerprint(web.sock.getpeercert(binary_form=True)), old)
        self.assertEqual(assoc.echo(2), 0x0000)
        self.assertEqual(assoc.server_cert(), old)
        assoc.release()
        web.close()

        # a bad new key (another certificate's): refused, the node keeps the one it has
        shutil.copy(os.path.join(self.pki, "peer.key"), self.key)
        self.hup("reload refused")
        out = self.n.output()
        self.assertIn("[http] tls_key: %s is not the key of" % self.key, out)
        web3 = self.https()
        self.assertEqual(self.get(web3)[0], 200)
        self.assertEqual(fingerprint(web3.sock.getpeercert(binary_form=True)), new)
        assoc3 = TlsAssociation(self.tls_port, self.ctx(), "CT1")
        self.assertEqual(assoc3.server_cert(), new)
        assoc3.release()
        web3.close()
        web2.close()
        # the outcomes in /metrics (an admin's certificate)
        ctx = ssl.create_default_context(cafile=os.path.join(self.pki, "ca.crt"))
        ctx.load_cert_chain(os.path.join(self.pki, "admin.crt"),
                            os.path.join(self.pki, "admin.key"))
        m = http.client.HTTPSConnection("127.0.0.1", self.n.http_port, context=ctx, timeout=30)
        status, body = self.get(m, "/metrics")
        self.assertEqual(status, 200, body)
        text = body.decode()
        self.assertIn('huren_reloads_total{outcome="done"} 1', text)
        self.assertIn('huren_reloads_total{outcome="refused"} 1', text)
        m.close()
        self.assertEqual(self.n.stop(), 0)


class CatalogueReloadTest(NodeTestCase):

    def test_catalogue_reloaded_or_kept(self):
        cat = os.path.join(self.tmp, "catalogue.csv")
        shutil.copy(CATALOGUE, cat)
        key = os.path.join(self.tmp, "region.key")
        with open(key, "w") as f:
            f.write("ab" * 32 + "\n")
        conf = ("[directory]\nurl = https://127.0.0.1:%d\nregion_key = %s\n"
                "institution = H37010001\ncatalogue = %s\n" % (free_port(), key, cat))
        n = self.node(config_text=conf).start()

        def prompt_status():
            url = n.url("/api/v1/recognition?patient=P1&item=LAB-NEW&doctor=D1&dept=LAB")
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        def hup(expect):
            before = n.output().count("reload ")
            n.proc.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: n.output().count("reload ") > before, 30, "the reload's line")
            self.assertIn(expect, n.output())

        status, body = prompt_status()
        self.assertEqual((status, body.get("error")), (404, "item not in the catalogue"), body)
        with open(cat, "a") as f:
            f.write("LAB-NEW,新检验项目,lab,,,7,province,NEW01\n")
        hup("reload done: catalogue")
        status, body = prompt_status()
        self.assertNotEqual(body.get("error"), "item not in the catalogue", (status, body))
        # a broken file: refused with its line, the item still known
        with open(cat, "a") as f:
            f.write("LAB-BAD,坏的,lab,,,99999,province,\n")
        hup("reload refused: [directory] catalogue: %s:" % cat)
        status, body = prompt_status()
        self.assertNotEqual(body.get("error"), "item not in the catalogue", (status, body))
        self.assertEqual(n.stop(), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
