#!/usr/bin/python3
"""bench.py: ingest and query figures for huren, side by side with DCMTK's storescp and Orthanc,
measured in one run on this machine. Prints figures; asserts nothing.

  /usr/bin/python3 tests/bench/bench.py [--ct N] [--small N] [--index 100000,1000000]
                                        [--orthanc-index N] [--no-orthanc]

Ingest: CT-like instances (512x512x16 bit, 0.5 MB) and small ones (~10 KB) sent with storescu
(--max-pdu 131072, TCP_NODELAY=1 for every DCMTK tool and Orthanc) over 1 and 4 parallel
associations into: huren (fsync on, the production default), storescp writing to disk (no
fsync), Orthanc (Debian package, default settings but for ports and storage folders).
Query: C-FIND STUDY level by PatientID, many queries inside one association (findscu --repeat,
each request/response timed from findscu's own log), p50/p99, at the index sizes asked for;
huren is seeded with metadata-only instances by build/bench_seed. Memory: huren's idle RSS."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from dicomgen import uid, write_instance  # noqa: E402
from harness import HUREN, Process, free_port, port_open, wait_for  # noqa: E402

ENV = dict(os.environ, TCP_NODELAY="1")
SEED = os.path.join(os.path.dirname(HUREN), "bench_seed")
FIND_LOG_CFG = os.path.join(HERE, "findscu-timing.cfg")


def gen(folder, n, rows, cols, prefix, patient="BENCH"):
    os.makedirs(folder)
    pixels = bytes(os.urandom(rows * cols * 2))
    paths = []
    for i in range(n):
        p = os.path.join(folder, "%06d.dcm" % i)
        series = uid(prefix, i % 4 + 1)
        write_instance(p, study_uid=uid(prefix), series_uid=series, sop_uid="%s.%d" % (series, i),
                       patient_id=patient, rows=rows, cols=cols, pixel_bytes=pixels,
                       instance_number=str(i))
        paths.append(p)
    return paths


def send(port, aet, paths, assocs):
    """storescu over `assocs` parallel associations; returns seconds."""
    chunks = [paths[i::assocs] for i in range(assocs)]
    t0 = time.monotonic()
    procs = [subprocess.Popen(["storescu", "--max-pdu", "131072", "-aec", aet, "127.0.0.1",
                               str(port)] + c, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for c in chunks]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError("storescu failed: %s" % err.decode(errors="replace")[-500:])
    return time.monotonic() - t0


class Target:
    def __init__(self, kind, work):
        self.kind, self.work = kind, work
        self.port = free_port()
        self.proc = None

    def start(self):
        d = tempfile.mkdtemp(prefix=self.kind + "-", dir=self.work)
        self.dir = d
        if self.kind == "huren":
            cmd = [HUREN, "serve", "--data", os.path.join(d, "data"), "--dicom-port",
                   str(self.port), "--http-port", str(free_port()), "--hl7-port",
                   str(free_port()), "--log-level", "warn"]
            self.aet = "HUREN"
        elif self.kind == "storescp":
            os.mkdir(os.path.join(d, "out"))
            cmd = ["storescp", "--max-pdu", "131072", "-od", os.path.join(d, "out"),
                   str(self.port)]
            self.aet = "ANY-SCP"
        else:
            cfg = {"Name": "bench", "StorageDirectory": os.path.join(d, "storage"),
                   "IndexDirectory": os.path.join(d, "index"), "DicomAet": "ORTHANC",
                   "DicomPort": self.port, "HttpPort": free_port(),
                   "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
                   "DicomAlwaysAllowFind": True}
            with open(os.path.join(d, "orthanc.json"), "w") as f:
                json.dump(cfg, f)
            cmd = ["Orthanc", os.path.join(d, "orthanc.json")]
            self.aet = "ORTHANC"
        self.proc = Process(cmd, os.path.join(d, "log"), env=ENV)
        wait_for(lambda: port_open(self.port), 60, self.kind)
        return self

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def ingest(work, targets, sets):
    print("\n== ingest (storescu --max-pdu 131072, TCP_NODELAY=1)")
    print("%-10s %-6s %6s %10s %10s %10s" % ("target", "set", "assoc", "inst/s", "MB/s",
                                               "seconds"))
    for name, paths in sets:
        mb = sum(os.path.getsize(p) for p in paths) / 1e6
        for kind in targets:
            for assocs in (1, 4):
                t = Target(kind, work).start()
                try:
                    secs = send(t.port, t.aet, paths, assocs)
                finally:
                    t.stop()
                print("%-10s %-6s %6d %10.0f %10.1f %10.2f" % (kind, name, assocs,
                                                               len(paths) / secs, mb / secs, secs),
                      flush=True)


def find_latencies(port, aet, patient, repeat):
    """Per-query latency (ms) of `repeat` C-FINDs in one association, from findscu's log."""
    p = subprocess.run(["findscu", "-S", "-aec", aet, "--repeat", str(repeat), "-lc",
                        FIND_LOG_CFG, "-k", "QueryRetrieveLevel=STUDY", "-k",
                        "PatientID=" + patient, "-k", "StudyInstanceUID", "-k", "StudyDate",
                        "127.0.0.1", str(port)], env=ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    lat, start, matches = [], None, 0
    for line in p.stdout.splitlines():
        stamp, _, msg = line.partition(" ")
        try:
            s, ms, us = stamp.split(".")
            t = int(s) + int(ms) / 1e3 + int(us) / 1e6
        except ValueError:
            continue
        if msg.startswith("Sending Find Request"):
            start = t
        elif msg.startswith("Find Response:") and start is not None and not lat:
            matches += 1
        elif msg.startswith("Received Final Find Response") and start is not None:
            lat.append((t - start) * 1000)
            start = None
    if not lat:
        raise RuntimeError("no C-FIND timings:\n" + p.stdout[-1500:])
    return sorted(lat), matches


def pct(v, q):
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def query(work, sizes, orthanc_size):
    print("\n== C-FIND STUDY level by PatientID, one association, 200 queries")
    print("%-10s %12s %9s %9s %9s" % ("target", "instances", "matches", "p50 ms", "p99 ms"))
    for size in sizes:
        t = Target("huren", work)
        t.dir = tempfile.mkdtemp(prefix="seed-", dir=work)
        data = os.path.join(t.dir, "data")
        subprocess.run([SEED, data, str(size)], check=True, stdout=subprocess.DEVNULL)
        cmd = [HUREN, "serve", "--data", data, "--dicom-port", str(t.port), "--http-port",
               str(free_port()), "--hl7-port", str(free_port()), "--log-level", "warn"]
        t.proc = Process(cmd, os.path.join(t.dir, "log"), env=ENV)
        t.aet = "HUREN"
        try:
            wait_for(lambda: port_open(t.port), 120, "huren")
            time.sleep(1)
            rss = rss_kb(t.proc.proc.pid)
            lat, matches = find_latencies(t.port, "HUREN", "PAT%07d" % (size // 60 // 2), 200)
            print("%-10s %12d %9d %9.2f %9.2f   (idle RSS %.1f MB)" % (
                "huren", size, matches, pct(lat, 0.5), pct(lat, 0.99), rss / 1024), flush=True)
        finally:
            t.stop()
    if orthanc_size:
        t = Target("orthanc", work).start()
        try:
            folder = os.path.join(work, "orthanc-seed")
            # 20 instances per study, patients of 3 studies each, as bench_seed lays them out
            n = 0
            os.makedirs(folder)
            pixels = b"\0" * 32
            while n < orthanc_size:
                pat, study = n // 60, n // 20
                write_instance(os.path.join(folder, "%07d.dcm" % n),
                               study_uid=uid(8, study), series_uid=uid(8, study, 1),
                               sop_uid=uid(8, study, 1, n), patient_id="PAT%07d" % pat,
                               rows=4, cols=4, pixel_bytes=pixels)
                n += 1
            send(t.port, t.aet, [os.path.join(folder, f) for f in sorted(os.listdir(folder))], 4)
            shutil.rmtree(folder, ignore_errors=True)
            lat, matches = find_latencies(t.port, t.aet, "PAT%07d" % (orthanc_size // 60 // 2),
                                          200)
            print("%-10s %12d %9d %9.2f %9.2f" % ("orthanc", orthanc_size, matches,
                                                  pct(lat, 0.5), pct(lat, 0.99)), flush=True)
        finally:
            t.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ct", type=int, default=200, help="CT-like instances (0.5 MB each)")
    ap.add_argument("--small", type=int, default=2000, help="small instances (~10 KB each)")
    ap.add_argument("--index", default="100000,1000000", help="index sizes for C-FIND")
    ap.add_argument("--orthanc-index", type=int, default=0,
                    help="also load Orthanc with N instances for C-FIND (slow: ~200/s)")
    ap.add_argument("--no-orthanc", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="huren-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    try:
        print("huren benchmark, %s, %d cores" % (time.strftime("%Y-%m-%d %H:%M"), os.cpu_count()))
        if not a.skip_ingest:
            sets = [("ct", gen(os.path.join(work, "ct"), a.ct, 512, 512, 1)),
                    ("small", gen(os.path.join(work, "small"), a.small, 64, 64, 2))]
            targets = ["huren", "storescp"] + ([] if a.no_orthanc else ["orthanc"])
            ingest(work, targets, sets)
        sizes = [int(s) for s in a.index.split(",") if s]
        query(work, sizes, 0 if a.no_orthanc else a.orthanc_index)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
