"""test_pacs.py: huren beside a PACS it did not write: DCMTK's dcmqrscp, loaded with storescu.

`huren pacs sync` indexes a few hundred generated studies over several days without copying
them (a day split by StudyTime at the configured result limit), resumes after being killed
mid-way, and the node then answers QIDO-RS and C-FIND for them with InstanceAvailability
NEARLINE;
a WADO - RS or
    C - MOVE of such a study makes the node fetch it from the PACS(C - GET or
                                                                   C - MOVE to its own AE) and
        answer; a periodic sync finds today's studies by itself."""

import datetime
import json
import os
import shutil
import signal
import subprocess
import time
import unittest
import urllib.request

from dicomgen import uid, write_instance
from harness import (NodeTestCase, find, free_port, port_open, run, wait_for, HUREN)

DAYS = ["20250301", "20250302", "20250303", "20250304", "20250305"]
PER_DAY = 60  # 300 studies
LIMIT = 25


def read(path):
    with open(path) as f:
        return f.read()


def qido(node, query):
    with urllib.request.urlopen(node.url("/dicom-web/studies?" + query), timeout=60) as r:
        body = r.read()
    return json.loads(body) if body else []


class PacsTestCase(NodeTestCase):
    def start_pacs(self, days, per_day):
        """dcmqrscp as the PACS, in its own folder, loaded by storescu with one instance per
        study (times spread over the day, so a split by StudyTime finds them all)."""
        self.pacs_port = free_port()
        self.mine_port = free_port()
        db = os.path.join(self.tmp, "pacs-db")
        os.makedirs(db)
        cfg = os.path.join(self.tmp, "dcmqrscp.cfg")
        with open(cfg, "w") as f:
            f.write("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
                    "HostTable BEGIN\nhuren = (HUREN, 127.0.0.1, %d)\n"
                    "dest = (DEST, 127.0.0.1, %d)\nHostTable END\n"
                    "VendorTable BEGIN\nVendorTable END\n"
                    "AETable BEGIN\nDCMQRSCP %s RW (5000, 1024mb) ANY\nAETable END\n"
                    % (self.pacs_port, self.mine_port, self.mine_port + 1, db))
        self.pacs = self.process(["dcmqrscp", "-c", cfg, "-dhl", str(self.pacs_port)], "dcmqrscp")
        wait_for(lambda: port_open(self.pacs_port), 30, "dcmqrscp")
        self.load(days, per_day, "DCMQRSCP")

    def load(self, days, per_day, aec, tls=()):
        src = os.path.join(self.tmp, "src")
        os.makedirs(src)
        self.studies = {}
        for d, day in enumerate(days):
            for i in range(per_day):
                st = uid(7, d, i)
                secs = i * (86000 // per_day)
                write_instance(os.path.join(src, "%d-%d.dcm" % (d, i)), study_uid=st,
                               series_uid=uid(7, d, i, 1), sop_uid=uid(7, d, i, 1, 1),
                               patient_id="PP%d" % (i % 7), study_date=day,
                               study_time="%02d%02d%02d" % (secs // 3600, secs // 60 % 60,
                                                            secs % 60),
                               modality="CT" if i % 2 else "MR", study_desc="study %d" % i)
                self.studies[st] = day
        p = run(["storescu", "-aet", "LOADER", "-aec", aec, "+sd"] + list(tls)
                + ["127.0.0.1", str(self.pacs_port), src], timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout)

    def conf(self, extra="", ae="DCMQRSCP", limit=LIMIT):
        return ("[archive]\nfsync = no\n[pacs \"main\"]\nae_title = %s\n"
                "host = 127.0.0.1\nport = %d\nresult_limit = %d\nqueries_per_minute = 60000\n"
                "max_associations = 2\n%s" % (ae, self.pacs_port, limit, extra))

    def start_orthanc(self, days, per_day, limit, extra=None):
        """Orthanc as the PACS (its JSON configuration in the temp folder, its own answer
        limit LimitFindResults), loaded by storescu."""
        self.pacs_port = free_port()
        self.mine_port = free_port()
        cfg = os.path.join(self.tmp, "orthanc.json")
        with open(cfg, "w") as f:
            json.dump({
                "Name": "test-pacs", "StorageDirectory": os.path.join(self.tmp, "o-storage"),
                "IndexDirectory": os.path.join(self.tmp, "o-index"), "DicomAet": "ORTHANC",
                "DicomPort": self.pacs_port, "HttpPort": free_port(), "HttpServerEnabled": False,
                "RemoteAccessAllowed": False, "DicomCheckCalledAet": False,
                "DicomAlwaysAllowEcho": True, "DicomAlwaysAllowStore": True,
                "DicomAlwaysAllowFind": True, "DicomAlwaysAllowGet": True,
                "DicomAlwaysAllowMove": True, "LimitFindResults": limit,
                "DicomModalities": {"huren": ["HUREN", "127.0.0.1", self.mine_port]},
                "Plugins": [], **(extra or {})}, f)
        self.pacs = self.process(["Orthanc", cfg], "orthanc")
        wait_for(lambda: port_open(self.pacs_port), 60, "Orthanc")
        if extra and extra.get("DicomTlsEnabled"):
            return  # loaded by the caller, over TLS
        self.load(days, per_day, "ORTHANC")

    def sync(self, node, *args):
        return subprocess.run([HUREN, "pacs", "sync", "main", "--data", node.data, "-c",
                               node.config_path] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600)


class SyncTest(PacsTestCase):
    def test_sync_resume_query_fetch(self):
        self.start_pacs(DAYS, PER_DAY)
        node = self.node(config_text=self.conf("sync_interval = 0\n"))
        node.dicom_port = self.mine_port  # the PACS knows us there (C-MOVE destination)
#killed after its first days, then run again : the days done are skipped
        cmd = [HUREN, "pacs", "sync", "main", "--from", DAYS[0], "--to", DAYS[-1], "--data",
               node.data, "-c", node.config_path]
        log = os.path.join(self.tmp, "sync1.log")
        with open(log, "w") as out:
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: read(log).count(" queries\n") >= 2, 300, "two days synced")
            finally:
                p.send_signal(signal.SIGKILL)
                p.wait()
        first = read(log)
        done = [line.split(":")[0] for line in first.splitlines() if "queries" in line]
        self.assertGreaterEqual(len(done), 2, first)
        self.assertIn("%d studies (%d new" % (PER_DAY, PER_DAY), first)
        r = self.sync(node, "--from", DAYS[0], "--to", DAYS[-1])
        self.assertEqual(r.returncode, 0, r.stdout)
        for day in done:
            self.assertIn("%s: already synced, skipped" % day, r.stdout)
#every day that was read needed more than one query : split at the limit
        for line in r.stdout.splitlines():
            if line.startswith("2025") and "queries" in line:
                self.assertIn("%d studies" % PER_DAY, line)
                n = int(line.split(", ")[-1].split()[0])
                self.assertGreater(n, PER_DAY // LIMIT, line)
#again : nothing new, nothing gone
        r = self.sync(node, "--from", DAYS[0], "--to", DAYS[-1], "--again")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("%d studies, 0 new, 0 gone" % (PER_DAY * len(DAYS)), r.stdout)

        node.start()
        for day in DAYS:
            found = qido(node, "StudyDate=%s&limit=1000" % day)
            self.assertEqual(len(found), PER_DAY, day)
            self.assertEqual({s["00080056"]["Value"][0] for s in found}, {"NEARLINE"})
        one = qido(node, "StudyInstanceUID=%s&includefield=00080061" % uid(7, 0, 3))
        self.assertEqual(one[0]["00080061"]["Value"], ["CT"])
        self.assertEqual(one[0]["00201208"]["Value"][0], 1)
#not copied : no instance here
        with urllib.request.urlopen(node.url("/api/v1/health"), timeout=10) as r:
            health = json.loads(r.read())
        self.assertIn("archive", health)
        self.assertEqual(health["archive"]["instances"], 0)
        res = find(node, "STUDY", ["StudyInstanceUID=%s" % uid(7, 1, 4),
                                   "InstanceAvailability"])
        self.assertEqual(len(res), 1)
        self.assertEqual(res[0][(0x0008, 0x0056)], "NEARLINE")

#WADO - RS of a study held only at the PACS : fetched(C - GET), then answered
        st = uid(7, 2, 5)
        with urllib.request.urlopen(node.url("/dicom-web/studies/%s" % st), timeout=120) as r:
            self.assertEqual(r.status, 200)
            body = r.read()
        self.assertIn(uid(7, 2, 5, 1, 1).encode(), body)
        after = qido(node, "StudyInstanceUID=%s" % st)
        self.assertEqual(after[0]["00080056"]["Value"][0], "ONLINE")

#C - MOVE of another : fetched, then sent on to the destination
        dest_port = free_port()
        out = os.path.join(self.tmp, "dest")
        os.makedirs(out)
        self.process(["storescp", "-aet", "DEST", "-od", out, str(dest_port)], "storescp")
        wait_for(lambda: port_open(dest_port), 30, "storescp")
        node.stop()
        with open(node.config_path, "a") as f:
            f.write("[dicom_aes]\nDEST = 127.0.0.1:%d\n" % dest_port)
        node.start()
        p = run(["movescu", "-S", "-aet", "MOVESCU", "-aec", "HUREN", "-aem", "DEST",
                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=%s" % uid(7, 3, 9),
                 "127.0.0.1", str(node.dicom_port)], timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        wait_for(lambda: len(os.listdir(out)) == 1, 30, "the moved instance")
        metrics = urllib.request.urlopen(node.url("/metrics"), timeout=10).read().decode()
        self.assertIn('huren_pacs_requests_total{pacs="main",kind="fetch"} 1', metrics)
        self.assertIn('huren_pacs_studies_only_there{pacs="main"} %d'
                      % (PER_DAY * len(DAYS) - 2), metrics)


class PeriodicTest(PacsTestCase):
    def test_periodic_sync_and_move_fetch(self):
        today = datetime.date.today().strftime("%Y%m%d")
        self.start_pacs([today], 5)
        node = self.node(config_text=self.conf("sync_interval = 2\nsync_window_days = 2\n"
                                               "retrieve = move\n"))
        node.dicom_port = self.mine_port
        node.start()
        wait_for(lambda: len(qido(node, "StudyDate=%s" % today)) == 5, 60, "the periodic sync")
#fetch by C - MOVE to our own AE : the PACS sends the instances to our DICOM port
        st = uid(7, 0, 2)
        with urllib.request.urlopen(node.url("/dicom-web/studies/%s" % st), timeout=120) as r:
            self.assertEqual(r.status, 200)
        self.assertEqual(qido(node, "StudyInstanceUID=%s" % st)[0]["00080056"]["Value"][0],
                         "ONLINE")


@unittest.skipUnless(shutil.which("Orthanc"), "Orthanc (Debian package orthanc) not installed")
class OrthancTest(PacsTestCase):
    """The same against Orthanc: its LimitFindResults cuts the answers (the day is split), its
    study answers carry ModalitiesInStudy and the counts (no series queries). Orthanc answers
    a cut C-FIND with status Success (it only logs "Too many results"), so result_limit must
    name its limit: without it, a day would stop at 10 studies (seen when trying it)."""

    def test_sync_and_fetch(self):
        days = DAYS[:3]
        self.start_orthanc(days, 30, 10)
        node = self.node(config_text=self.conf("sync_interval = 0\n", ae="ORTHANC", limit=10))
        node.dicom_port = self.mine_port
        r = self.sync(node, "--from", days[0], "--to", days[-1])
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("90 studies, 90 new, 0 gone", r.stdout)
        for line in r.stdout.splitlines():
            if line.startswith("2025"):
                self.assertIn("30 studies", line)
                self.assertLess(int(line.split(", ")[-1].split()[0]), 30, line)  # no per-study
        node.start()
        found = qido(node, "StudyDate=%s&limit=1000&includefield=00080061" % days[1])
        self.assertEqual(len(found), 30)
        self.assertEqual({s["00080056"]["Value"][0] for s in found}, {"NEARLINE"})
        st = uid(7, 1, 6)
        with urllib.request.urlopen(node.url("/dicom-web/studies/%s" % st), timeout=120) as r:
            self.assertEqual(r.status, 200)
            self.assertIn(uid(7, 1, 6, 1, 1).encode(), r.read())
        self.assertEqual(qido(node, "StudyInstanceUID=%s" % st)[0]["00080056"]["Value"][0],
                         "ONLINE")


    def test_tls(self):
        """[pacs] tls_ca/tls_cert/tls_key: sync and fetch over DICOM TLS, Orthanc requiring our
        client certificate (the test PKI of conf/make-test-pki.sh)."""
        pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                  "conf", "make-test-pki.sh"), pki], check=True)
        day = DAYS[0]
        self.start_orthanc([day], 5, 100, extra={
            "DicomTlsEnabled": True, "DicomTlsCertificate": pki + "/server.crt",
            "DicomTlsPrivateKey": pki + "/server.key",
            "DicomTlsTrustedCertificates": pki + "/ca.crt",
            "DicomTlsRemoteCertificateRequired": True})
        self.load([day], 5, "ORTHANC", tls=["+tls", pki + "/peer.key", pki + "/peer.crt",
                                            "+cf", pki + "/ca.crt"])
        tls = "tls_ca = %s/ca.crt\ntls_cert = %s/peer.crt\ntls_key = %s/peer.key\n" % (
            pki, pki, pki)
        node = self.node(config_text=self.conf("sync_interval = 0\n" + tls, ae="ORTHANC",
                                               limit=100))
        r = self.sync(node, "--from", day, "--to", day)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("%s: 5 studies (5 new" % day, r.stdout)
        node.start()
        st = uid(7, 0, 3)
        with urllib.request.urlopen(node.url("/dicom-web/studies/%s" % st), timeout=120) as r:
            self.assertEqual(r.status, 200)
        # without our certificate Orthanc refuses: the sync fails and says so
        with open(node.config_path, "w") as f:
            f.write(self.conf("sync_interval = 0\ntls_ca = %s/ca.crt\n" % pki, ae="ORTHANC"))
        r = self.sync(node, "--from", day, "--to", day, "--again")
        self.assertEqual(r.returncode, 1, r.stdout)

def metric(node, name):
    text = urllib.request.urlopen(node.url("/metrics"), timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


class ForwardTest(PacsTestCase):
    """[forward]: a destination down, the instance kept across a restart and sent once it is
    up, exactly once; a rule to the [pacs] by calling AE and modality."""

    def test_forward_outage_restart_exactly_once(self):
        self.start_pacs([DAYS[0]], 1)
        dest_port = free_port()
        node = self.node(config_text=self.conf(
            "sync_interval = 0\n[dicom_aes]\nDEST = 127.0.0.1:%d\n"
            "[forward \"out\"]\nsource = cstore\ndestination = DEST\nretry_min = 1\n"
            "retry_max = 2\n[forward \"to-pacs\"]\nsource = cstore\nsource_ae = CT1\n"
            "modality = CT\ndestination = main\nretry_min = 1\n" % dest_port))
        node.start()
        src = os.path.join(self.tmp, "fwd")
        os.makedirs(src)
        ct = write_instance(os.path.join(src, "ct.dcm"), study_uid=uid(8, 1),
                            series_uid=uid(8, 1, 1), sop_uid=uid(8, 1, 1, 1), modality="CT")
        mr = write_instance(os.path.join(src, "mr.dcm"), study_uid=uid(8, 2),
                            series_uid=uid(8, 2, 1), sop_uid=uid(8, 2, 1, 1), modality="MR")
        for f in (ct, mr):
            p = run(["storescu", "-aet", "CT1", "-aec", "HUREN", "127.0.0.1",
                     str(node.dicom_port), f])
            self.assertEqual(p.returncode, 0, p.stdout)
        # DEST is down: both wait, failing
        wait_for(lambda: metric(node, 'huren_forward_failing{rule="out"}') == 2, 30,
                 "the failed attempts")
        self.assertEqual(metric(node, 'huren_forward_backlog{rule="out"}'), 2)
        # the CT went to the PACS; the MR did not (modality)
        wait_for(lambda: metric(node, 'huren_forward_sent_total{rule="to-pacs"}') == 1, 30,
                 "the CT in the PACS")
        res = run(["findscu", "-S", "-aet", "CHECK", "-aec", "DCMQRSCP", "-k",
                   "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-v", "127.0.0.1",
                   str(self.pacs_port)])
        self.assertIn(uid(8, 1), res.stdout)
        self.assertNotIn(uid(8, 2), res.stdout)
        # kept across a restart of the node
        node.stop()
        node.start()
        self.assertEqual(metric(node, 'huren_forward_backlog{rule="out"}'), 2)
        out = os.path.join(self.tmp, "dest")
        os.makedirs(out)
        self.process(["storescp", "-aet", "DEST", "-od", out, str(dest_port)], "storescp")
        wait_for(lambda: len(os.listdir(out)) == 2, 60, "both forwarded")
        wait_for(lambda: metric(node, 'huren_forward_backlog{rule="out"}') == 0, 30, "empty")
        # stored again: not sent twice
        p = run(["storescu", "-aet", "CT1", "-aec", "HUREN", "127.0.0.1", str(node.dicom_port),
                 ct])
        self.assertEqual(p.returncode, 0, p.stdout)
        time.sleep(3)
        self.assertEqual(len(os.listdir(out)), 2)
        self.assertEqual(metric(node, 'huren_forward_sent_total{rule="out"}'), 2)

    def test_batch_of_20_over_few_associations(self):
        """20 instances queued while the destination is down go over one association (two
        at most: a batch may start as it comes up), counted in storescp's log."""
        self.start_pacs([DAYS[0]], 1)
        dest_port = free_port()
        node = self.node(config_text=self.conf(
            "sync_interval = 0\n[dicom_aes]\nDEST = 127.0.0.1:%d\n"
            "[forward \"out\"]\nsource = cstore\ndestination = DEST\nretry_min = 2\n"
            "retry_max = 2\n" % dest_port))
        node.start()
        src = os.path.join(self.tmp, "fwd")
        os.makedirs(src)
        for i in range(20):
            write_instance(os.path.join(src, "%d.dcm" % i), study_uid=uid(8, 3),
                           series_uid=uid(8, 3, 1), sop_uid=uid(8, 3, 1, i), modality="CT")
        p = run(["storescu", "-aet", "CT1", "-aec", "HUREN", "+sd", "127.0.0.1",
                 str(node.dicom_port), src])
        self.assertEqual(p.returncode, 0, p.stdout)
        wait_for(lambda: metric(node, 'huren_forward_failing{rule="out"}') == 20, 30,
                 "the failed attempts")
        out = os.path.join(self.tmp, "dest")
        os.makedirs(out)
        dest = self.process(["storescp", "-v", "-aet", "DEST", "-od", out, str(dest_port)],
                            "storescp")
        wait_for(lambda: len(os.listdir(out)) == 20, 60, "all forwarded")
        wait_for(lambda: metric(node, 'huren_forward_backlog{rule="out"}') == 0, 30, "empty")
        log = dest.output()
        self.assertLessEqual(log.count("Association Received"), 2, log)
        self.assertGreaterEqual(log.count("Association Received"), 1, log)


if __name__ == "__main__":
    unittest.main()
