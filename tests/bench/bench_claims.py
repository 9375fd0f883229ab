#!/usr/bin/python3
"""bench_claims.py: insurer claim bundles from huren. A TLS node (certificates from
conf/make-test-pki.sh) is fed one large visit over MLLP (500 charges, 200 lab observations in
20 reports, 20 diagnoses, an imaging report and a discharge summary), a consent is recorded,
then insurer clients (HTTPS keep-alive with a client certificate, separate processes) ask for
claims, each with a new request_id: every answer is a bundle read, built, signed (ES256) and
stored (fsync on unless --no-fsync). Prints bundles/s and client latency p50/p99, the node's
own build+sign and store times (from its log), and the same for replayed requests (the stored
bundle again). Asserts nothing beyond every answer being 201/200.

  /usr/bin/python3 tests/bench/bench_claims.py [--claims N] [--clients 1,4] [--no-fsync]"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import HUREN, Process, free_port, port_open, wait_for  # noqa: E402

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def resident_id(prefix17):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return prefix17 + "10X98765432"[sum(int(c) * k for c, k in zip(prefix17, w)) % 11]


NID = resident_id("11010519491231002")
PID = "PID|1||PBIG^^^H1^PI~%s^^^CHN^ID||王^小明||19491231|M" % NID
PV1 = "PV1|1|I|心内科||||||||||||||||VBIG"


def msh(kind, cid):
    return "MSH|^~\\&|HIS|H1|HUREN|H1|20240105083000||%s|%s|P|2.5.1|||||CHN|UNICODE UTF-8" % (
        kind, cid)


def messages():
    ft1 = ["FT1|%d|T%d||20240105||CG|%09d^收费项目%d|||1|%d.%02d|%d.%02d|" % (
        i + 1, i + 1, 110000000 + i, i, 10 + i, i % 100, 10 + i, i % 100) for i in range(500)]
    dg1 = ["DG1|%d|ICD-10|I%02d.%d^诊断%d^ICD-10||20240105|F" % (i + 1, 10 + i, i % 10, i)
           for i in range(20)]
    out = ["\r".join([msh("DFT^P03", "B-DFT"), "EVN|P03|20240105", PID, PV1] + ft1 + dg1)]
    for r in range(20):
        segs = [msh("ORU^R01", "B-ORU-%d" % r), PID, PV1, "ORC|RE|L%d|FL%d" % (r, r),
                "OBR|1|L%d|FL%d|LAB%d^检验%d^L|||20240105080000|||||||||||||||20240105090000"
                "||LAB|F" % (r, r, r, r)]
        segs += ["OBX|%d|NM|T%d-%d^项目%d^L||%d.%d|g/L|1-100|N|||F" % (k + 1, r, k, k, k + 5, r)
                 for k in range(10)]
        out.append("\r".join(segs))
    out.append("\r".join([msh("ORU^R01", "B-CT"), PID, PV1, "ORC|RE|CT1|FCT1",
                          "OBR|1|CT1|FCT1|CT-CHEST^胸部CT^L|||20240105080000|||||||||||ACC1"
                          "||||20240105090000||CT|F",
                          "OBX|1|TX|IMP^印象^L||双肺未见明显异常。||||||F"]))
    out.append("\r".join([msh("ORU^R01", "B-DS"), PID, PV1, "ORC|RE|DS1|FDS1",
                          "OBR|1|DS1|FDS1|18842-5^出院小结^LN|||20240110080000||||||||||||||"
                          "|20240110090000||DS|F",
                          "OBX|1|TX|18842-5^出院小结^LN||好转出院。||||||F"]))
    return [m + "\r" for m in out]


def feed(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    for m in messages():
        s.sendall(VT + m.encode() + FS + CR)
        buf = b""
        while not buf.endswith(FS + CR):
            buf += s.recv(65536)
        if b"MSA|AA|" not in buf:
            raise SystemExit("HL7 refused: %r" % buf[:300])
    s.close()


def tls(pki, who):
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
    ctx.load_cert_chain(os.path.join(pki, who + ".crt"), os.path.join(pki, who + ".key"))
    return ctx


def request(conn, method, path, body):
    conn.request(method, path, body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()


def client_main(port, pki, k, count, replay, start, out):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls(pki, "insurer"))
    request(conn, "GET", "/api/v1/health", {})  # handshake before the clock starts
    lat, bad, size = [], 0, 0
    start.wait()
    for i in range(count):
        rid = "warm" if replay else "b%d-%d-%d" % (os.getpid(), k, i)  # new in every run
        t = time.perf_counter()
        st, data = request(conn, "POST", "/api/v1/claims",
                           {"visit": "VBIG", "national_id": NID, "request_id": rid})
        lat.append(time.perf_counter() - t)
        bad += st not in (200, 201)
        size = len(data)
    conn.close()
    out.put((lat, bad, size))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def run(port, pki, clients, total, replay):
    start, out = multiprocessing.Event(), multiprocessing.Queue()
    per = max(1, total // clients)
    procs = [multiprocessing.Process(target=client_main,
                                     args=(port, pki, k, per, replay, start, out))
             for k in range(clients)]
    for p in procs:
        p.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    start.set()
    res = [out.get() for _ in procs]
    dt = time.monotonic() - t0
    for p in procs:
        p.join()
    lat = [x for r in res for x in r[0]]
    bad = sum(r[1] for r in res)
    print("  %-8s %d client(s): %5d bundles in %6.2f s = %7.1f bundles/s, latency p50 %6.2f ms"
          " p99 %6.2f ms, %d bytes each%s"
          % ("replayed" if replay else "new", clients, len(lat), dt, len(lat) / dt,
             pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, res[0][2],
             "" if not bad else "  (%d NOT 200/201)" % bad))


def server_times(log, skip):
    """The node's own times of the claims after the first `skip` ones; returns their count."""
    with open(log, encoding="utf-8", errors="replace") as f:
        m = re.findall(r"built and signed in ([\d.]+) ms, stored in ([\d.]+) ms", f.read())
    m = m[skip:]
    build = [float(a) for a, _ in m]
    store = [float(b) for _, b in m]
    if build:
        print("  node: read+build+sign p50 %.2f ms p99 %.2f ms max %.2f ms; store p50 %.2f ms"
              " p99 %.2f ms  (%d claims)" % (pct(build, 50), pct(build, 99), max(build),
                                              pct(store, 50), pct(store, 99), len(build)))
    return skip + len(m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=1000, help="claims per run")
    ap.add_argument("--clients", default="1,4")
    ap.add_argument("--no-fsync", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-claims-")
    pki = os.path.join(tmp, "pki")
    subprocess.run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), pki], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(pki, "subjects.txt")) as f:
        subj = dict(line.split("\t") for line in f.read().splitlines())
    http_port, hl7 = free_port(), free_port()
    conf = os.path.join(tmp, "huren.conf")
    with open(conf, "w") as f:
        f.write("\n".join([
            "[archive]", "fsync = " + ("no" if a.no_fsync else "yes"),
            "[http]", "tls_cert = %s/server.crt" % pki, "tls_key = %s/server.key" % pki,
            "tls_client_ca = %s/ca.crt" % pki, "tls_client_verify = optional", "threads = 8",
            "[audit]", "fsync = " + ("no" if a.no_fsync else "yes"),
            "[claims]", "key = %s/claims-signer.key" % pki, "cert = %s/claims-signer.crt" % pki,
            "chain = %s/ca.crt" % pki, "rate_per_minute = 1000000", "burst = 100000",
            '[client "insurer"]', "subject = " + subj["insurer"], "institution = INS-Z",
            "role = insurer", '[client "clinician"]', "subject = " + subj["clinician"],
            "institution = H1", "role = clinician"]) + "\n")
    log = os.path.join(tmp, "huren.log")
    node = Process([HUREN, "serve", "-c", conf, "--data", os.path.join(tmp, "data"),
                    "--dicom-port", "0", "--http-port", str(http_port), "--hl7-port", str(hl7)],
                   log)
    try:
        wait_for(lambda: port_open(http_port) and " ready" in open(log).read(), 30, "huren")
        feed(hl7)
        conn = http.client.HTTPSConnection("127.0.0.1", http_port, context=tls(pki, "clinician"))
        st, body = request(conn, "POST", "/api/v1/consents", {
            "patient": NID, "purpose": "claim", "grantee": "INS-Z", "visits": ["VBIG"],
            "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400)),
            "form_ref": "BENCH"})
        assert st == 201, body
        conn.close()
        warm = http.client.HTTPSConnection("127.0.0.1", http_port, context=tls(pki, "insurer"))
        st, body = request(warm, "POST", "/api/v1/claims",
                           {"visit": "VBIG", "national_id": NID, "request_id": "warm"})
        assert st == 201, body
        warm.close()
        print("huren claim bundles: one visit with 500 charges, 200 observations (20 reports),"
              " 20 diagnoses; HTTPS keep-alive, mTLS; fsync %s; %d CPUs"
              % ("off" if a.no_fsync else "on", os.cpu_count()))
        seen = 1
        for c in (int(x) for x in a.clients.split(",")):
            run(http_port, pki, c, a.claims, False)
            seen = server_times(log, seen)
        for c in (int(x) for x in a.clients.split(",")):
            run(http_port, pki, c, a.claims, True)
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
