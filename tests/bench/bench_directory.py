#!/usr/bin/python3
"""bench_directory.py: the regional directory's figures. Seeds a directory with N entries
(build/bench_directory_seed, about 5 per patient, 1,500 institutions), then measures:
  - lookup latency, p50/p99: in the index (huren_index_dir_find) and end to end over HTTPS with a
    client certificate on one keep-alive connection (GET /api/v1/directory/records);
  - publish throughput, entries/s: in the index (batches, fsync on) and end to end over HTTPS
    (POST /api/v1/directory/entries, batches of 1,000 new entries, 2 connections, fsync on).
Goals (issue 5): lookup p99 < 5 ms, publish >= 20,000 entries/s. Prints figures; asserts nothing.

usage: tests/bench/bench_directory.py [--entries N] [--data DIR] [--publish N] [--lookups N]
  --data DIR reuses (or creates) a seeded directory there; without it a temp folder is used and
  removed. Run after building (build/huren, build/bench_directory_seed)."""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, "build")
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from harness import free_port, port_open, wait_for  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def start_directory(work, data, pki, audit_fsync="yes"):
    with open(os.path.join(pki, "subjects.txt")) as f:
        subjects = dict(line.split("\t") for line in f.read().splitlines())
    conf = os.path.join(work, "directory.conf")
    with open(conf, "w") as f:
        f.write("[http]\ntls_cert = %s/server.crt\ntls_key = %s/server.key\n"
                "tls_client_ca = %s/ca.crt\ntls_client_verify = require\nthreads = 4\n"
                "max_body = 4194304\n[audit]\nfsync = %s\n"
                "[client \"gw\"]\nsubject = %s\ninstitution = H37010002\nrole = peer\n"
                % (pki, pki, pki, audit_fsync, subjects["peer"]))
    port = free_port()
    log = open(os.path.join(work, "directory.log"), "ab")
    p = subprocess.Popen([os.path.join(BUILD, "huren"), "serve", "-c", conf, "--role",
                          "directory", "--data", data, "--http-port", str(port),
                          "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: port_open(port) or p.poll() is not None, 60, "the directory")
    if p.poll() is not None:
        raise SystemExit("directory did not start; see " + log.name)
    return p, port


def connection(port, pki):
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    ctx.load_cert_chain(os.path.join(pki, "peer.crt"), os.path.join(pki, "peer.key"))
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)


def http_lookups(port, pki, sample, n):
    c = connection(port, pki)
    lat = []
    found = 0
    for i in range(n):
        p = sample[(i * 7919) % len(sample)]
        t0 = time.perf_counter()
        c.request("GET", "/api/v1/directory/records?pseudonym=" + p)
        r = c.getresponse()
        body = r.read()
        lat.append((time.perf_counter() - t0) * 1e3)
        if r.status != 200:
            raise SystemExit("lookup: HTTP %d %s" % (r.status, body[:200]))
        found += json.loads(body)["count"]
    c.close()
    return lat, found / n


def make_batches(total, size):
    rnd = random.Random(int(time.time()))
    batches = []
    for b in range(0, total, size):
        entries = []
        for i in range(min(size, total - b)):
            entries.append({"pseudonym": "%064x" % rnd.getrandbits(256),
                            "record_key": "report:%d" % (10 ** 12 + b + i), "version": 1,
                            "kind": "lab", "item_code": "LAB-CBC", "item_name": "血常规",
                            "date": "2024%02d%02d" % (rnd.randint(1, 12), rnd.randint(1, 28)),
                            "hr": True, "hr_scope": "province", "qualified_from": "20230101",
                            "qualified_to": "20271231", "status": "final", "revision": 1,
                            "source_url": "https://gw-b.example:8443"})
        batches.append(json.dumps({"entries": entries}).encode())
    return batches


def http_publish(port, pki, batches, conns=2):
    """Seconds to publish the batches over conns connections, and the 503s retried on the way
    (a store that stalls answers 503 with Retry-After, as a hospital's publisher expects)."""
    errors, retried = [], []

    def worker(mine):
        c = connection(port, pki)
        for body in mine:
            for attempt in range(5):
                c.request("POST", "/api/v1/directory/entries", body,
                          {"Content-Type": "application/json"})
                r = c.getresponse()
                answer = r.read()
                if r.status != 503 or attempt == 4:
                    break
                retried.append(answer[:200])
                time.sleep(float(r.getheader("Retry-After") or 1))
            if r.status != 200 or \
                    json.loads(answer)["stored"] != len(json.loads(body)["entries"]):
                errors.append((r.status, answer[:200]))
        c.close()

    threads = [threading.Thread(target=worker, args=(batches[k::conns],)) for k in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("publish errors: %s" % errors[:3])
    return time.perf_counter() - t0, retried


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--data", help="seeded directory folder to reuse or create")
    ap.add_argument("--publish", type=int, default=200_000, help="entries to publish over HTTPS")
    ap.add_argument("--lookups", type=int, default=5000)
    ap.add_argument("--audit-fsync", default="yes", choices=("yes", "no"),
                    help="the directory's [audit] fsync (yes: each answer waits for its entry)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="huren-bench-dir-")
    data = a.data or os.path.join(work, "data")
    seed = os.path.join(BUILD, "bench_directory_seed")
    proc = None
    try:
        print("huren directory benchmark (%d cores)" % os.cpu_count())
        if not os.path.exists(os.path.join(data, "sample-pseudonyms.txt")):
            os.makedirs(data, exist_ok=True)
            t0 = time.time()
            subprocess.run([seed, "seed", data, str(a.entries)], check=True)
            subprocess.run(["sqlite3", os.path.join(data, "index.db"), "ANALYZE"], check=True)
            print("  seeding took %.0f s" % (time.time() - t0))
        size = os.path.getsize(os.path.join(data, "index.db"))
        print("directory: %s, index.db %.2f GB" % (data, size / 1e9))
        subprocess.run([seed, "lookup", data, str(a.lookups)], check=True)
        pki = os.path.join(work, "pki")
        subprocess.run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), pki], check=True,
                       stdout=subprocess.DEVNULL)
        proc, port = start_directory(work, data, pki, a.audit_fsync)
        with open(os.path.join(data, "sample-pseudonyms.txt")) as f:
            sample = [line.strip() for line in f if len(line.strip()) == 64]
        http_lookups(port, pki, sample, 200)  # warm the connection and the reader pool
        lat, per = http_lookups(port, pki, sample, a.lookups)
        print("HTTPS lookup (mTLS, keep-alive, audit fsync %s, %d lookups, %.1f entries each): "
              "p50 %.2f ms, p99 %.2f ms (goal p99 < 5 ms)"
              % (a.audit_fsync, a.lookups, per, pct(lat, 50), pct(lat, 99)))
        batches = make_batches(a.publish, 1000)
        t, retried = http_publish(port, pki, batches)
        print("HTTPS publish (2 connections, batches of 1,000 new entries, fsync on, audit fsync "
              "%s): %d entries in %.1f s = %.0f entries/s (goal >= 20,000), %d batches retried"
              " after a 503%s" % (a.audit_fsync, a.publish, t, a.publish / t, len(retried),
                                  (": %s" % retried[0]) if retried else ""))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        proc = None
        subprocess.run([seed, "publish", data, "100000", "1000"], check=True)
    finally:
        if proc:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
