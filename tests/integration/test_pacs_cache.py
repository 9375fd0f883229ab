"""test_pacs_cache.py: the fetch cache of studies held at a PACS (dcmqrscp), with a budget of
about two studies: studies fetched on demand by WADO-RS, the least recently read evicted
(NEARLINE again), one being read (a WADO-RS answer stalled by its client) never evicted, and
an evicted study fetched again."""

import os
import socket
import time
import unittest
import urllib.request

from dicomgen import uid, write_instance
from harness import run
from test_pacs import PacsTestCase, metric, qido

DAY = "20250310"
SIDE = 1448  # 1448 x 1448 x 2 bytes: a 4 MiB instance
BUDGET = 10 * 1024 * 1024  # two studies fit, three do not


class CacheTest(PacsTestCase):
    def load(self, days, per_day, aec, tls=()):
        self.load_big(4)  # start_pacs loads these instead of its small studies

    def load_big(self, n):
        src = os.path.join(self.tmp, "src")
        os.makedirs(src)
        pixels = bytes(SIDE * SIDE * 2)
        for i in range(n):
            write_instance(os.path.join(src, "%d.dcm" % i), study_uid=uid(8, i),
                           series_uid=uid(8, i, 1), sop_uid=uid(8, i, 1, 1),
                           patient_id="PC%d" % i, study_date=DAY, study_time="1%d0000" % i,
                           rows=SIDE, cols=SIDE, pixel_bytes=pixels)
        p = run(["storescu", "-aet", "LOADER", "-aec", "DCMQRSCP", "+sd", "127.0.0.1",
                 str(self.pacs_port), src], timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout)

    def availability(self, node, i):
        return qido(node, "StudyInstanceUID=%s" % uid(8, i))[0]["00080056"]["Value"][0]

    def wado(self, node, i):
        with urllib.request.urlopen(node.url("/dicom-web/studies/%s" % uid(8, i)),
                                    timeout=120) as r:
            self.assertEqual(r.status, 200)
            body = r.read()
        self.assertIn(uid(8, i, 1, 1).encode(), body)

    def stalled_read(self, node, i):
        """A WADO-RS answer whose client reads its first bytes and then nothing (a small
        receive window): the study stays being read until the socket is closed."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.connect(("127.0.0.1", node.http_port))
        s.sendall(("GET /dicom-web/studies/%s HTTP/1.1\r\nHost: x\r\n\r\n"
                   % uid(8, i)).encode())
        first = s.recv(4096)
        self.assertIn(b"200", first.split(b"\r\n")[0])
        return s

    def test_budget_lru_pin_refetch(self):
        self.start_pacs([], 0)
        node = self.node(config_text=self.conf("sync_interval = 0\ncache_budget = %d\n"
                                               % BUDGET))
        r = self.sync(node, "--from", DAY, "--to", DAY)
        self.assertEqual(r.returncode, 0, r.stdout)
        node.start()
        self.assertEqual({self.availability(node, i) for i in range(4)}, {"NEARLINE"})
        # 0 and 1 fetched; 0 read again later: 1 is the least recently read
        self.wado(node, 0)
        time.sleep(1.1)
        self.wado(node, 1)
        time.sleep(1.1)
        self.wado(node, 0)
        time.sleep(1.1)
        self.assertEqual(metric(node, 'huren_pacs_cache_studies{pacs="main"}'), 2)
        self.wado(node, 2)  # three over the budget: 1 evicted
        self.assertEqual(self.availability(node, 1), "NEARLINE")
        self.assertEqual(self.availability(node, 0), "ONLINE")
        self.assertEqual(self.availability(node, 2), "ONLINE")
        self.assertEqual(metric(node, 'huren_pacs_cache_evictions_total{pacs="main"}'), 1)
        self.assertLessEqual(metric(node, 'huren_pacs_cache_bytes{pacs="main"}'), BUDGET)
        # 0 being read (its answer stalled), 2 read after it: 0 is the least recently read
        # but in use, so fetching 3 evicts 2
        time.sleep(1.1)
        stalled = self.stalled_read(node, 0)
        try:
            time.sleep(1.1)
            self.wado(node, 2)
            time.sleep(1.1)
            self.wado(node, 3)
            self.assertEqual(self.availability(node, 0), "ONLINE")
            self.assertEqual(self.availability(node, 2), "NEARLINE")
            self.assertEqual(self.availability(node, 3), "ONLINE")
            # the evicted study 1 fetched again
            self.wado(node, 1)
            self.assertEqual(self.availability(node, 1), "ONLINE")
        finally:
            stalled.close()
        self.assertGreaterEqual(
            metric(node, 'huren_pacs_cache_evictions_total{pacs="main"}'), 2)
        self.assertEqual(metric(node, 'huren_pacs_requests_total{pacs="main",kind="fetch"}'), 5)


if __name__ == "__main__":
    unittest.main()
