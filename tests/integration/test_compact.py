"""test_compact.py: deleting a study and compacting packs. DELETE /api/v1/studies/{uid} is for
admins only (401, 403, 400, 404 otherwise, nothing changed), audited; own files go at once,
packed bytes show as huren_pack_garbage_bytes until POST /api/v1/admin/compact frees them.
`huren delete-study` then `huren compact` killed after each named step
(HUREN_TEST_CRASH_AT): every remaining instance is byte-identical after the crash, and a
rerun frees the space (bytes on disk = bytes of the indexed instances). The same inside a
serving node (its environment carries the step), and kill -9 of a node while it compacts."""

import hashlib
import json
import os
import re
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from dicomgen import uid, write_instance
from harness import DCMTK_ENV, HUREN, NodeTestCase, Process, run, wait_for

ADMIN, CLINICIAN = "adm-token-1234567890", "cli-token-1234567890"
CONF = ("[access]\nloopback_full_access = no\n"
        '[client "ops"]\ntoken_sha256 = %s\ninstitution = H1\nrole = admin\n'
        '[client "ward"]\ntoken_sha256 = %s\ninstitution = H1\nrole = clinician\n'
        % (hashlib.sha256(ADMIN.encode()).hexdigest(),
           hashlib.sha256(CLINICIAN.encode()).hexdigest()))
STEPS = ["copied", "synced", "committed", "unlinked"]


def call(node, path, method="GET", token=ADMIN):
    req = urllib.request.Request(node.url(path), method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wado(node, study, sop, token=CLINICIAN):
    q = urllib.parse.urlencode({"requestType": "WADO", "studyUID": study,
                                "seriesUID": study + ".1", "objectUID": sop,
                                "contentType": "application/dicom"})
    return call(node, "/wado?" + q, token=token)


def metric(node, name, token=ADMIN):
    st, body = call(node, "/metrics", token=token)
    assert st == 200, st
    m = re.search(r"^%s (\d+)" % name, body.decode(), re.M)
    return int(m.group(1))


def disk_bytes(data, node=None):
    """Bytes of the archive's files; of a running node, less the zeros its pack being filled
    has ahead of its end (index/pack.c)."""
    total = sum(os.path.getsize(os.path.join(d, f))
                for d, _, fs in os.walk(os.path.join(data, "blobs")) for f in fs)
    return total - (metric(node, "huren_pack_ahead_bytes") if node else 0)


class CompactTest(NodeTestCase):

    def make(self, name, study, n, size=32):
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        return [write_instance(os.path.join(d, "%03d.dcm" % i), study_uid=uid(study),
                               series_uid=uid(study, 1), sop_uid=uid(study, 1, i),
                               instance_number=str(i), patient_id="PC%d" % study, rows=size,
                               cols=size) for i in range(n)]

    def store(self, node, files):
        run(["storescu", "-aec", "HUREN", "127.0.0.1", str(node.dicom_port)] + files,
            check=True, timeout=300)

    def snapshot(self, node, study, n):
        out = {}
        for i in range(n):
            st, body = wado(node, uid(study), uid(study, 1, i))
            self.assertEqual(st, 200)
            out[i] = body
        return out

    def test_delete_api_and_online_compaction(self):
        n = self.node(config_text=CONF, ready_from_log=True).start()
        self.store(n, self.make("a", 31, 40) + self.make("b", 32, 40))
        self.store(n, self.make("c", 33, 3, size=800))  # over pack_max_instance: own files
        keep = self.snapshot(n, 32, 40)
        own_before = disk_bytes(n.data, n) - metric(n, "huren_pack_bytes")
        self.assertGreater(own_before, 3 * 800 * 800)

        self.assertEqual(call(n, "/api/v1/studies/" + uid(31), "DELETE", token=None)[0], 401)
        self.assertEqual(call(n, "/api/v1/studies/" + uid(31), "DELETE", CLINICIAN)[0], 403)
        self.assertEqual(call(n, "/api/v1/studies/1.2.x", "DELETE")[0], 400)
        self.assertEqual(call(n, "/api/v1/studies/" + uid(99), "DELETE")[0], 404)
        self.assertEqual(metric(n, "huren_pack_garbage_bytes"), 0)
        self.assertEqual(wado(n, uid(31), uid(31, 1, 0))[0], 200, "nothing deleted yet")

        st, body = call(n, "/api/v1/studies/" + uid(31), "DELETE")
        self.assertEqual(st, 200, body)
        d = json.loads(body)
        self.assertEqual((d["instances"], d["files_removed"]), (40, 0))
        self.assertGreater(d["pack_garbage_bytes"], 0)
        self.assertEqual(metric(n, "huren_pack_garbage_bytes"), d["pack_garbage_bytes"])
        self.assertEqual(wado(n, uid(31), uid(31, 1, 0))[0], 404)
        st, body = call(n, "/api/v1/studies/" + uid(33), "DELETE")
        self.assertEqual(json.loads(body)["files_removed"], 3)
        self.assertEqual(disk_bytes(n.data, n), metric(n, "huren_pack_bytes"), "own files gone")
        self.assertEqual(call(n, "/api/v1/studies/" + uid(31), "DELETE")[0], 404)

        st, body = call(n, "/api/v1/admin/compact?threshold=0.1", "POST", CLINICIAN)
        self.assertEqual(st, 403)
        self.assertEqual(call(n, "/api/v1/admin/compact?threshold=7", "POST")[0], 400)
        self.assertEqual(call(n, "/api/v1/admin/compact?grace=-1", "POST")[0], 400)
        st, body = call(n, "/api/v1/admin/compact?threshold=0.1", "POST")
        self.assertEqual(st, 200, body)
        c = json.loads(body)
        self.assertEqual((c["instances_moved"], c["packs_retired"], c["bytes_freed"]), (40, 1, 0))
        self.assertEqual(self.snapshot(n, 32, 40), keep, "the retired pack is still readable")
        st, body = call(n, "/api/v1/admin/compact?threshold=0.1&grace=0", "POST")
        self.assertEqual(st, 200, body)
        c = json.loads(body)
        self.assertEqual(c["instances_moved"], 0)
        self.assertGreater(c["bytes_freed"], 0)
        self.assertEqual(metric(n, "huren_pack_garbage_bytes"), 0)
        self.assertEqual(metric(n, "huren_archive_bytes"), disk_bytes(n.data, n))
        self.assertEqual(self.snapshot(n, 32, 40), keep)
        # still a working archive: a new store lands and reads back
        self.store(n, self.make("e", 34, 2))
        self.assertEqual(wado(n, uid(34), uid(34, 1, 1))[0], 200)
        n.stop()
        with open(os.path.join(n.data, "audit.log"), encoding="utf-8") as f:
            audit = [json.loads(line) for line in f]
        dels = [e for e in audit if e["action"] == "study.delete"]
        ok = [e for e in dels if e["outcome"] == "success"]
        self.assertEqual(len(ok), 2, dels)
        self.assertEqual((ok[0]["actor"], ok[0]["patient"]), ("ops", "PC31"))
        self.assertTrue(any(e["outcome"] == "refused" for e in dels), dels)
        run([HUREN, "audit", "verify", "--data", n.data], check=True)

    def test_cli_delete_and_compaction_killed_at_each_step(self):
        data = os.path.join(self.tmp, "base")
        run([HUREN, "import", "--data", data] + self.make("a", 41, 30) + self.make("b", 42, 30),
            check=True)
        r = run([HUREN, "delete-study", uid(41), "--data", data], check=True)
        self.assertIn("30 instances", r.stdout)
        self.assertEqual(run([HUREN, "delete-study", uid(41), "--data", data]).returncode, 1)
        self.assertEqual(run([HUREN, "delete-study", "x.1", "--data", data]).returncode, 2)
        self.assertEqual(run([HUREN, "compact", "--data", data, "--threshold", "9"]).returncode,
                         2)
        base = self.node(name="base", config_text=CONF, ready_from_log=True)
        base.data = data
        base.start()
        keep = self.snapshot(base, 42, 30)
        self.assertGreater(metric(base, "huren_pack_garbage_bytes"), 0)
        base.stop()
        for step in STEPS:
            d = os.path.join(self.tmp, "data-" + step)
            shutil.copytree(data, d)
            env = dict(os.environ, HUREN_TEST_CRASH_AT=step)
            p = run([HUREN, "compact", "--data", d, "--threshold", "0.2"], env=env)
            self.assertEqual(p.returncode, 77, "%s: %s" % (step, p.stdout))
            n = self.node(name="n-" + step, config_text=CONF, ready_from_log=True)
            n.data = d
            n.start()
            self.assertEqual(self.snapshot(n, 42, 30), keep, "instances changed after a crash at " + step)
            n.stop()
            p = run([HUREN, "compact", "--data", d, "--threshold", "0.2"], check=True)
            self.assertIn("pack garbage", p.stdout)
            self.assertRegex(p.stdout, r"-> 0 bytes")
            n.start()
            self.assertEqual(self.snapshot(n, 42, 30), keep, step)
            self.assertEqual(metric(n, "huren_archive_bytes"), disk_bytes(d, n), step)
            self.assertEqual(metric(n, "huren_pack_garbage_bytes"), 0, step)
            n.stop()
        with open(os.path.join(data, "audit.log"), encoding="utf-8") as f:
            audit = [json.loads(line) for line in f]
        self.assertEqual([(e["action"], e["outcome"]) for e in audit
                          if e["action"] == "study.delete"],
                         [("study.delete", "success"), ("study.delete", "failed")])


    def test_online_compaction_crash_at_each_step(self):
        """The serving node dies inside POST /api/v1/admin/compact (HUREN_TEST_CRASH_AT in its
        environment): restarted, it serves every instance unchanged; a rerun frees the space."""
        base = self.node(name="base", config_text=CONF, ready_from_log=True).start()
        self.store(base, self.make("a", 51, 30) + self.make("b", 52, 30))
        keep = self.snapshot(base, 52, 30)
        self.assertEqual(call(base, "/api/v1/studies/" + uid(51), "DELETE")[0], 200)
        base.stop()
        for step in STEPS:
            n = self.node(name="on-" + step, config_text=CONF, ready_from_log=True)
            shutil.copytree(base.data, n.data)
            n.proc = Process(n.args(), os.path.join(self.tmp, n.name + ".log"),
                             env=dict(DCMTK_ENV, HUREN_TEST_CRASH_AT=step))
            wait_for(n.healthy, 60, "the node to start")
            try:
                call(n, "/api/v1/admin/compact?threshold=0.1&grace=0", "POST")
            except OSError:
                pass  # the connection dies with the node
            self.assertEqual(n.proc.proc.wait(timeout=60), 77, step)
            n.proc.stop()
            n.proc = None
            n.start()
            self.assertEqual(self.snapshot(n, 52, 30), keep, "after a crash at " + step)
            st, body = call(n, "/api/v1/admin/compact?threshold=0.1&grace=0", "POST")
            self.assertEqual(st, 200, body)
            self.assertEqual(metric(n, "huren_pack_garbage_bytes"), 0, step)
            self.assertEqual(metric(n, "huren_archive_bytes"), disk_bytes(n.data, n), step)
            self.assertEqual(self.snapshot(n, 52, 30), keep, step)
            n.stop()


    def test_kill9_during_online_compaction(self):
        """kill -9 of the node at a few moments after POST /api/v1/admin/compact began."""
        n = self.node(config_text=CONF, ready_from_log=True).start()
        self.store(n, self.make("a", 61, 300, size=64) + self.make("b", 62, 300, size=64))
        keep = self.snapshot(n, 62, 300)
        self.assertEqual(call(n, "/api/v1/studies/" + uid(61), "DELETE")[0], 200)
        for delay in (0.0, 0.02, 0.1):
            t = threading.Thread(target=lambda: self.post_quietly(n), daemon=True)
            t.start()
            time.sleep(delay)
            n.kill9()
            t.join(timeout=60)
            n.start()
            self.assertEqual(self.snapshot(n, 62, 300), keep, "after kill -9 at %.2fs" % delay)
        st, body = call(n, "/api/v1/admin/compact?threshold=0.1&grace=0", "POST")
        self.assertEqual(st, 200, body)
        self.assertEqual(metric(n, "huren_pack_garbage_bytes"), 0)
        self.assertEqual(metric(n, "huren_archive_bytes"), disk_bytes(n.data, n))
        self.assertEqual(self.snapshot(n, 62, 300), keep)

    @staticmethod
    def post_quietly(n):
        try:
            call(n, "/api/v1/admin/compact?threshold=0.1&grace=0", "POST")
        except OSError:
            pass


if __name__ == "__main__":
    import unittest
    unittest.main()
