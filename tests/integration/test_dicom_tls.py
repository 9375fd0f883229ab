"""test_dicom_tls.py: DICOM TLS ([dicom] tls_port) black-box, with DCMTK's own TLS clients.
Certificates come from conf/make-test-pki.sh in the test's folder. storescu --enable-tls stores
an instance over the TLS port, findscu finds it, echoscu echoes; a client without a certificate,
with one of another CA, of no [client], of another AE title or of an insurer is refused (the
refusals audited); a client that stalls in the handshake delays nobody; the plain port goes on
working; TLS below 1.2 is refused; check-config and
serve refuse the bad files with a line naming file, section and key."""

import json
import os
import re
import shutil
import socket
import tempfile
import unittest
import urllib.request

from dicomgen import uid, write_instance
from harness import HUREN, NodeTestCase, dcmdump_values, free_port, run

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make_pki(where):
    pki = os.path.join(where, "pki")
    run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), pki], check=True)
    with open(os.path.join(pki, "subjects.txt")) as f:
        subjects = dict(line.split("\t") for line in f.read().splitlines())
    return pki, subjects


def tls_conf(pki, subjects, port, require="yes", extra=()):
    """[dicom] TLS keys plus the clients: CT1 and CT1_Q are the clinician certificate's AE
    titles."""
    conf = ["[dicom]",
            "tls_port = %d" % port,
            "tls_cert = %s/server.crt" % pki,
            "tls_key = %s/server.key" % pki,
            "tls_client_ca = %s/ca.crt" % pki,
            "tls_require_client_cert = " + require]
    conf += list(extra)
    conf += ['[client "ct1"]', "subject = " + subjects["clinician"], "ae_title = CT1 CT1_Q",
             "institution = H37010001", "role = clinician",
             '[client "claims"]', "subject = " + subjects["insurer"], "ae_title = INS",
             "institution = INS01", "role = insurer",
             "[audit]", "fsync = yes"]
    return "\n".join(conf) + "\n"


class DicomTlsTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        self.pki, self.subjects = make_pki(self.tmp)
        self.tls_port = free_port()
        conf = tls_conf(self.pki, self.subjects, self.tls_port, extra=["negotiation_timeout = 2"])
        self.n = self.node(config_text=conf).start()

    def tls(self, who):
        """DCMTK's TLS options for a certificate of the test PKI (None: no certificate)."""
        ca = ["--add-cert-file", os.path.join(self.pki, "ca.crt")]
        if who is None:
            return ["--anonymous-tls"] + ca
        return ["--enable-tls", os.path.join(self.pki, who + ".key"),
                os.path.join(self.pki, who + ".crt")] + ca

    def dimse(self, tool, aet, who, args=(), port=None, files=()):
        cmd = [tool, "-aet", aet, "-aec", self.n.aet] + (self.tls(who) if who != "plain" else [])
        cmd += list(args) + ["127.0.0.1", str(port or self.tls_port)] + list(files)
        return run(cmd)

    def find_tls(self, aet, who, keys):
        out = tempfile.mkdtemp(prefix="find-", dir=self.tmp)
        args = ["-S", "-X", "-od", out, "-k", "QueryRetrieveLevel=STUDY"]
        for k in keys:
            args += ["-k", k]
        p = self.dimse("findscu", aet, who, args)
        self.assertEqual(p.returncode, 0, p.stdout)
        found = [dcmdump_values(os.path.join(out, f)) for f in sorted(os.listdir(out))]
        shutil.rmtree(out, ignore_errors=True)
        return found

    def audit(self):
        with open(os.path.join(self.n.data, "audit.log")) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_store_find_echo_over_tls(self):
        study = uid(1, 9001)
        path = os.path.join(self.tmp, "ct.dcm")
        write_instance(path, study_uid=study, series_uid=uid(2, 9001), sop_uid=uid(3, 9001),
                       patient_id="TLS1")
        p = self.dimse("storescu", "CT1", "clinician", files=[path])
        self.assertEqual(p.returncode, 0, p.stdout)
        found = self.find_tls("CT1", "clinician", ["StudyInstanceUID=" + study, "PatientID"])
        self.assertEqual([r.get((0x0010, 0x0020)) for r in found], ["TLS1"])
        p = self.dimse("echoscu", "CT1", "clinician")
        self.assertEqual(p.returncode, 0, p.stdout)
        log = self.n.output()
        self.assertIn("DICOM TLS listening: AE HUREN on 127.0.0.1 port %d" % self.tls_port, log)
        self.assertIn("accepted over TLS as " + self.subjects["clinician"], log)
        # the plain port is unchanged: no TLS, any calling AE
        p = self.dimse("echoscu", "PLAIN", "plain", port=self.n.dicom_port)
        self.assertEqual(p.returncode, 0, p.stdout)
        # TLS on the plain port, plain DICOM on the TLS port: neither gets through
        p = self.dimse("echoscu", "CT1", "clinician", port=self.n.dicom_port)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        p = self.dimse("echoscu", "CT1", "plain")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        stores = [e for e in self.audit() if e["action"] == "dimse.c-store"]
        self.assertEqual([(e["actor"], e["role"], e["outcome"]) for e in stores],
                         [("CT1", "clinician", "success")])

    def test_refused_clients(self):
        cases = [  # (calling AE, certificate, refused at the handshake?)
            ("CT1", None, True),                # no certificate, one is required
            ("CT1", "otherca-client", True),    # signed by a CA not trusted
            ("CT1", "expired", True),           # out of its validity period
            ("CT1", "unmapped", False),         # verified, but no [client]'s
            ("OTHER", "clinician", False),      # a client's, with another AE title
            ("INS", "insurer", False),          # an insurer: claims only, no DICOM
        ]
        for aet, who, handshake in cases:
            with self.subTest(who=who, aet=aet):
                p = self.dimse("echoscu", aet, who)
                self.assertNotEqual(p.returncode, 0, p.stdout)
                if not handshake:
                    self.assertIn("Calling AE Title Not Recognized", p.stdout)
        log = self.n.output()
        self.assertIn("handshake failed", log)
        self.assertIn('certificate "CN=stranger,O=Hospital A,C=CN" is no [client]\'s', log)
        self.assertIn('calling AE title "OTHER" is not [client "ct1"]\'s (CT1 CT1_Q)', log)
        self.assertIn('[client "claims"] has role insurer', log)
        refused = [e for e in self.audit() if e["action"] == "dimse.associate"]
        self.assertEqual([(e["actor"], e["object"], e["outcome"]) for e in refused],
                         [("CN=stranger,O=Hospital A,C=CN", "CT1", "refused"),
                          ("ct1", "OTHER", "refused"), ("claims", "INS", "refused")])
        self.assertEqual(run([HUREN, "audit", "verify", "--data", self.n.data]).returncode, 0)
        with urllib.request.urlopen(self.n.url("/metrics"), timeout=10) as r:
            metrics = r.read().decode()
        closed = re.search(r'huren_dicom_connections_closed_total\{reason="tls_handshake"\} (\d+)',
                           metrics)
        self.assertGreaterEqual(int(closed.group(1)), 3, metrics)
        self.assertIn('huren_dicom_associations_refused_total{reason="ae_title"} 3', metrics)
        # after all that, a good client still gets in, with either of its AE titles
        self.assertEqual(self.dimse("echoscu", "CT1", "clinician").returncode, 0)
        self.assertEqual(self.dimse("echoscu", "CT1_Q", "clinician").returncode, 0)

    def test_silent_client_delays_nobody(self):
        """The handshake is driven off the listener's poll loop: a client that starts a TLS
        record and stops, or says nothing, holds no one up and is closed in time."""
        half = socket.create_connection(("127.0.0.1", self.tls_port))
        half.sendall(b"\x16\x03\x01\x02\x00")  # a ClientHello record header, no body
        silent = socket.create_connection(("127.0.0.1", self.tls_port))
        try:
            p = self.dimse("echoscu", "CT1", "clinician")
            self.assertEqual(p.returncode, 0, p.stdout)
            half.settimeout(60)
            self.assertEqual(half.recv(100), b"")  # closed after negotiation_timeout (2 s)
        finally:
            half.close()
            silent.close()
        self.assertIn("no association request within 2 s", self.n.output())

    def test_old_tls_refused(self):
        p = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.tls_port, "-tls1_1",
                 "-CAfile", os.path.join(self.pki, "ca.crt")], timeout=30)
        self.assertIn("alert protocol version", p.stdout)
        p = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.tls_port, "-tls1_2",
                 "-cert", os.path.join(self.pki, "clinician.crt"),
                 "-key", os.path.join(self.pki, "clinician.key"),
                 "-CAfile", os.path.join(self.pki, "ca.crt")], timeout=30)
        self.assertIn("Protocol  : TLSv1.2", p.stdout)
        self.assertIn("Verify return code: 0 (ok)", p.stdout)


class OptionalClientCertTest(NodeTestCase):
    """tls_require_client_cert = no: encryption without a certificate, the AE rules applying;
    a certificate that is shown must still be a client's."""

    def test_optional(self):
        pki, subjects = make_pki(self.tmp)
        port = free_port()
        n = self.node(config_text=tls_conf(pki, subjects, port, require="no",
                                           extra=["allowed_calling_aes = CT1 ANON"])).start()
        ca = ["--add-cert-file", os.path.join(pki, "ca.crt")]
        anon = run(["echoscu", "-aet", "ANON", "-aec", "HUREN", "--anonymous-tls"] + ca +
                   ["127.0.0.1", str(port)])
        self.assertEqual(anon.returncode, 0, anon.stdout)
        stranger = run(["echoscu", "-aet", "ANON", "-aec", "HUREN", "--enable-tls",
                        os.path.join(pki, "unmapped.key"), os.path.join(pki, "unmapped.crt")] +
                       ca + ["127.0.0.1", str(port)])
        self.assertIn("Calling AE Title Not Recognized", stranger.stdout)
        other = run(["echoscu", "-aet", "NOPE", "-aec", "HUREN", "--anonymous-tls"] + ca +
                    ["127.0.0.1", str(port)])
        self.assertIn("Calling AE Title Not Recognized", other.stdout)
        self.assertIn("accepted over TLS without client certificate", n.output())


class CheckConfigTest(NodeTestCase):
    """check-config and serve refuse bad TLS files with file, section and key."""

    def check(self, lines):
        path = os.path.join(self.tmp, "bad.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path, run([HUREN, "check-config", "-c", path])

    def test_bad_files(self):
        pki, subjects = make_pki(self.tmp)
        good = ["tls_port = 2762", "tls_cert = %s/server.crt" % pki,
                "tls_key = %s/server.key" % pki, "tls_client_ca = %s/ca.crt" % pki]
        cases = [
            ({"tls_cert": "%s/missing.crt" % pki}, "tls_cert",
             "%s/missing.crt: No such file or directory" % pki),
            ({"tls_key": "%s/peer.key" % pki}, "tls_key",
             "%s/peer.key is not the key of %s/server.crt" % (pki, pki)),
            ({"tls_key": "%s/server.crt" % pki}, "tls_key", "no PEM private key"),
            ({"tls_client_ca": "%s/nothing.pem" % pki}, "tls_client_ca", "No such file"),
            ({"tls_client_ca": "%s/ca.key" % pki}, "tls_client_ca", "no PEM certificate"),
            ({"tls_client_ca": ""}, "tls_client_ca", "client certificates are required"),
            ({"tls_cert": "%s/expired.crt" % pki, "tls_key": "%s/expired.key" % pki},
             "tls_cert", "has expired"),
            ({"tls_cert": "%s/clinician.crt" % pki, "tls_key": "%s/clinician.key" % pki},
             "tls_cert", "not a TLS server certificate"),
            ({"tls_port": "0"}, "tls_cert", "set, but tls_port is not"),
            ({"tls_cert": ""}, "tls_cert", "needs tls_cert and tls_key"),
        ]
        for change, key, why in cases:
            with self.subTest(change=change):
                lines = ["[dicom]"]
                for line in good:
                    k = line.split(" = ")[0]
                    lines.append("%s = %s" % (k, change[k]) if k in change else line)
                path, p = self.check(lines)
                self.assertEqual(p.returncode, 2, p.stdout)
                self.assertIn("%s: [dicom] %s: " % (path, key), p.stdout)
                self.assertIn(why, p.stdout)
        # serve refuses the same file with the same line, before it listens
        lines = ["[dicom]"] + good[:2] + ["tls_key = %s/peer.key" % pki] + good[3:]
        path, p = self.check(lines)
        serve = run([HUREN, "serve", "-c", path, "--data", os.path.join(self.tmp, "d")],
                    timeout=60)
        self.assertEqual(serve.returncode, 2, serve.stdout)
        line = p.stdout.splitlines()[0]
        self.assertTrue(line.startswith("huren: "), p.stdout)
        self.assertIn(line[len("huren: "):], serve.stdout)
        self.assertIn("not starting", serve.stdout)
        path, p = self.check(["[dicom]"] + good)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("configuration OK", p.stdout)


if __name__ == "__main__":
    unittest.main()
