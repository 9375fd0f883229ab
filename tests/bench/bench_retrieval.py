#!/usr/bin/python3
"""bench_retrieval.py: end-to-end time for hospital A to retrieve a CT study from hospital B over
loopback mutual TLS through the recognition API, against storescu -> storescp for the same files,
measured in one run on this machine. Prints figures; asserts nothing (not a test).

  /usr/bin/python3 tests/bench/bench_retrieval.py [--instances 300] [--runs 3] [--background]

Data: N CT instances of one study (512x512x16 bit, ~0.5 MB each), the resident id in
OtherPatientIDs, as tests/integration/test_recognition.py lays them out.
Baseline: storescu -> storescp (both --max-pdu 131072, TCP_NODELAY=1, one association, storescp
writing to disk without fsync), seconds and MB/s.
Retrieval: a directory and hospital B (publishing) on loopback HTTPS with client certificates
(conf/make-test-pki.sh); the study is stored at B with storescu and reaches the directory; for
each run a fresh hospital A (empty archive) gets the patient over MLLP, a recognition consent,
GET /api/v1/recognition (which lists B's study), then POST /api/v1/retrievals is timed from the
request to the answer (synchronous, the default) or to the progress URL saying it is complete
(--background, polled every 20 ms). A stores with fsync on, as in production. The goal in
issue 5 is retrieval <= 1.5 x storescu -> storescp."""

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from dicomgen import uid, write_instance  # noqa: E402
from harness import DCMTK_ENV, Node, Process, free_port, port_open, run, wait_for  # noqa: E402
from test_directory import CATALOGUE, REPO, curl_json, pseudonym  # noqa: E402
from test_hl7 import NID, Client, oru  # noqa: E402

A_INST, B_INST = "H37020001", "H37010002"
STUDY = 5  # uid(5) is the benchmark study
ITEM, AT = "CT-CHEST-PLAIN", "20240110"  # the study is of 2024-01-05; a CT is valid 30 days


def gen(folder, n):
    os.makedirs(folder)
    pixels = bytes(os.urandom(512 * 512 * 2))
    paths = []
    for i in range(n):
        p = os.path.join(folder, "%06d.dcm" % i)
        write_instance(p, study_uid=uid(STUDY), series_uid=uid(STUDY, 1),
                       sop_uid=uid(STUDY, 1, i + 1), patient_id="P100", patient_name="王^小明",
                       charset="ISO_IR 192", modality="CT", study_date="20240105",
                       study_desc="胸部CT平扫", body_part="CHEST", rows=512, cols=512,
                       pixel_bytes=pixels, instance_number=str(i + 1),
                       extra=[(0x0010, 0x1000, "LO", NID)])
        paths.append(p)
    return paths


def storescu(port, aet, paths):
    t0 = time.monotonic()
    p = subprocess.run(["storescu", "--max-pdu", "131072", "-aet", "MODALITY", "-aec", aet,
                        "127.0.0.1", str(port)] + paths, env=DCMTK_ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    secs = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError("storescu failed: %s" % p.stderr.decode(errors="replace")[-500:])
    return secs


class Bench:
    def __init__(self, work):
        self.work = work
        self.procs = []  # everything started, stopped in reverse order by stop_all

    def stop_all(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - cleanup goes on
                pass
        self.procs = []

    def node(self, **kw):
        n = Node(self.work, **kw)
        self.procs.append(n)
        return n

    # --- baseline -------------------------------------------------------------------------
    def storescp_run(self, paths, i):
        out = os.path.join(self.work, "storescp-out-%d" % i)
        os.mkdir(out)
        port = free_port()
        p = Process(["storescp", "--max-pdu", "131072", "-od", out, str(port)],
                    os.path.join(self.work, "storescp-%d.log" % i), env=DCMTK_ENV)
        self.procs.append(p)
        try:
            wait_for(lambda: port_open(port), 30, "storescp")
            secs = storescu(port, "ANY-SCP", paths)
            n = len(os.listdir(out))
        finally:
            p.stop()
            self.procs.remove(p)
            shutil.rmtree(out, ignore_errors=True)
        if n != len(paths):
            raise RuntimeError("storescp stored %d of %d" % (n, len(paths)))
        return secs

    # --- recognition setup, as test_recognition.py ----------------------------------------
    def pki_setup(self):
        self.pki = os.path.join(self.work, "pki")
        run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            self.subjects = dict(line.split("\t") for line in f.read().splitlines())
        self.key = secrets.token_hex(32)
        self.key_file = os.path.join(self.work, "region.key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")

    def tls_server(self):
        p = self.pki
        return ["[http]", "tls_cert = %s/server.crt" % p, "tls_key = %s/server.key" % p,
                "tls_client_ca = %s/ca.crt" % p, "tls_client_verify = require"]

    def clients(self, mapping):
        conf = []
        for role, inst, as_role in mapping:
            conf += ['[client "%s"]' % role, "subject = " + self.subjects[role],
                     "institution = " + inst, "role = " + as_role]
        return conf

    def directory(self):
        conf = self.tls_server() + ["[directory]", "max_batch = 50"]
        conf += self.clients([("peer", B_INST, "peer"), ("clinician", "H37010001", "clinician"),
                              ("admin", "H37010001", "admin")])
        self.dir = self.node(name="directory", https=True, config_text="\n".join(conf) + "\n",
                             extra_args=["--role", "directory"]).start()

    def hospital(self, name, aet, inst, publish):
        p = self.pki
        n = self.node(name=name, aet=aet, https=True, config_text="")
        conf = self.tls_server() + [
            "[directory]", "publish = %s" % ("yes" if publish else "no"),
            "url = https://127.0.0.1:%d" % self.dir.http_port,
            "region_key = " + self.key_file, "institution = " + inst,
            "source_url = https://127.0.0.1:%d" % n.http_port, "hr_scope = province",
            "qualified_from = 20230101", "qualified_to = 20271231",
            "catalogue = " + CATALOGUE, "tls_cert = %s/peer.crt" % p,
            "tls_key = %s/peer.key" % p, "tls_ca = %s/ca.crt" % p,
            "retry_min_ms = 100", "retry_max_ms = 1000", "poll_ms = 50", "timeout = 5"]
        conf += self.clients([("clinician", inst, "clinician"), ("admin", inst, "admin"),
                              ("peer", "H37000000", "peer")])
        with open(n.config_path, "w") as f:
            f.write("\n".join(conf) + "\n")
        return n.start()

    def call(self, node, path, method="GET", body=None, timeout=30):
        return curl_json(node.url(path), self.pki, "clinician", method,
                         None if body is None else json.dumps(body), timeout=timeout)

    def setup_b(self, paths):
        self.pki_setup()
        self.directory()
        self.b = self.hospital("hospital-b", "GW_B", B_INST, publish=True)
        secs = storescu(self.b.dicom_port, "GW_B", paths)
        p = pseudonym(self.key, NID)

        def listed():
            status, body = curl_json(self.dir.url("/api/v1/directory/records?pseudonym=" + p),
                                     self.pki, "clinician")
            return status == 200 and body.get("count") == 1
        wait_for(listed, 120, "B's study at the directory")
        return secs

    def retrieval_run(self, i, background):
        """A fresh hospital A; returns (seconds, answer)."""
        a = self.hospital("hospital-a-%d" % i, "GW_A", A_INST, publish=False)
        try:
            c = Client(a.hl7_port)
            try:
                code, segs = c.code(oru("a%d" % i, pid="A100", nid=NID, order="AORD%d" % i))
            finally:
                c.close()
            if code != "AA":
                raise RuntimeError("A refused the ORU: %s" % (segs,))
            status, body = self.call(a, "/api/v1/consents", "POST", dict(
                patient="A100", purpose="recognition", grantee="*", form_ref="FORM-B-%d" % i,
                expires="2099-12-31"))
            if status != 201:
                raise RuntimeError("consent: %d %s" % (status, body))
            q = urllib.parse.urlencode(dict(patient="A100", item=ITEM, at=AT))
            status, ct = self.call(a, "/api/v1/recognition?" + q)
            if status != 200 or len(ct.get("results", [])) != 1:
                raise RuntimeError("recognition query: %d %s" % (status, ct))
            fetch = dict(prompt_id=ct["prompt_id"], result_key=ct["results"][0]["result_key"])
            if background:
                fetch["background"] = True
            t0 = time.monotonic()
            status, got = self.call(a, "/api/v1/retrievals", "POST", fetch, timeout=900)
            if background:
                if status != 202:
                    raise RuntimeError("retrieval: %d %s" % (status, got))
                progress = got["progress"]
                while True:
                    status, got = self.call(a, progress)
                    if status != 200 or got.get("status") != "running":
                        break
                    time.sleep(0.02)
            secs = time.monotonic() - t0
            if status != 200 or got.get("status") != "complete":
                raise RuntimeError("retrieval: %d %s" % (status, got))
            return secs, got
        finally:
            a.stop()
            self.procs.remove(a)
            shutil.rmtree(a.data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=300, help="CT instances (~0.5 MB each)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each side (median shown)")
    ap.add_argument("--background", action="store_true",
                    help="retrieve in the background and poll the progress URL")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="huren-bench-retrieval-",
                            dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    bench = Bench(work)
    try:
        print("huren retrieval benchmark, %s, %d cores" % (time.strftime("%Y-%m-%d %H:%M"),
                                                          os.cpu_count()))
        paths = gen(os.path.join(work, "ct"), a.instances)
        mb = sum(os.path.getsize(p) for p in paths) / 1e6
        print("study: %d CT instances, 512x512x16 bit, %.1f MB" % (len(paths), mb), flush=True)

        base = []
        for i in range(a.runs):
            secs = bench.storescp_run(paths, i)
            base.append(secs)
            print("storescu -> storescp  run %d: %7.2f s %8.1f MB/s" % (i + 1, secs, mb / secs),
                  flush=True)

        secs = bench.setup_b(paths)
        print("(setup) storescu -> B: %7.2f s %8.1f MB/s (fsync on)" % (secs, mb / secs),
              flush=True)
        ret = []
        for i in range(a.runs):
            secs, got = bench.retrieval_run(i, a.background)
            ret.append(secs)
            print("A retrieves from B    run %d: %7.2f s %8.1f MB/s  (stored %s, already held %s,"
                  " refused %s)" % (i + 1, secs, mb / secs, got.get("stored"),
                                    got.get("already_held"), got.get("refused")), flush=True)

        b, r = statistics.median(base), statistics.median(ret)
        print("\nmedian of %d: storescu -> storescp %.2f s (%.1f MB/s); retrieval (%s) %.2f s "
              "(%.1f MB/s)" % (a.runs, b, mb / b, "background" if a.background else "synchronous",
                               r, mb / r))
        print("ratio retrieval / storescu->storescp: %.2f (goal <= 1.5)" % (r / b))
    finally:
        bench.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
