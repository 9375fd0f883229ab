#!/usr/bin/python3
"""bench_dicomweb.py: DICOMweb figures for huren, side by side with Orthanc and its DICOMweb
plugin (Debian packages orthanc, orthanc-dicomweb: installed here if missing) in one run.
Prints figures; asserts nothing.

  /usr/bin/python3 tests/bench/bench_dicomweb.py [--index 100000] [--orthanc-index N]
                                                 [--queries 500] [--study 200] [--no-orthanc]

QIDO-RS: study searches by PatientID, by StudyDate range + ModalitiesInStudy, and by a
PatientName prefix (limit=100, as viewers page), each query a different patient or month, on
one keep-alive connection (plain HTTP on loopback for both servers); p50/p99 latency. huren is
seeded with metadata-only instances by build/bench_seed (20 per study, 3 studies per patient)
and measured as configured by default (each answer's audit entry fsync'ed) and with [audit]
fsync = no; Orthanc is loaded with the same layout by storescu over 4 associations.
WADO-RS: one study of --study CT-like instances (512x512x16 bit, 0.5 MB each) stored by storescu
in both, retrieved whole as multipart/related; type="application/dicom" five times by curl; MB/s,
over plain HTTP and over HTTPS (test PKI from conf/make-test-pki.sh; huren asks for the client
certificate, Orthanc serves TLS without one)."""

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from dicomgen import instance_bytes, uid  # noqa: E402
from harness import HUREN, Process, free_port, port_open, wait_for  # noqa: E402

ENV = dict(os.environ, TCP_NODELAY="1")
SEED = os.path.join(os.path.dirname(HUREN), "bench_seed")
PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
MODALITIES = ["CT", "MR", "CR", "US"]
ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def ensure_orthanc():
    if shutil.which("Orthanc") and os.path.exists(PLUGIN):
        return True
    print("installing orthanc orthanc-dicomweb (Debian packages) ...", flush=True)
    p = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "orthanc",
                        "orthanc-dicomweb"], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0 or not os.path.exists(PLUGIN):
        print("cannot install Orthanc's DICOMweb plugin; Orthanc left out:\n" + p.stdout[-800:])
        return False
    return True


def make_pki(work):
    pki = os.path.join(work, "pki")
    subprocess.run(["bash", os.path.join(HERE, "..", "..", "conf", "make-test-pki.sh"), pki],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(pki, "server.pem"), "w") as out:  # Orthanc wants cert and key in one
        for f in ("server.crt", "server.key"):
            with open(os.path.join(pki, f)) as src:
                out.write(src.read())
    with open(os.path.join(pki, "subjects.txt")) as f:
        subjects = dict(line.split("\t") for line in f.read().splitlines())
    return pki, subjects["clinician"]


class Server:
    def __init__(self, kind, work, data=None, tls=None, conf_text=None):
        self.kind, self.dir = kind, tempfile.mkdtemp(prefix=kind + "-", dir=work)
        self.dicom_port, self.http_port = free_port(), free_port()
        self.tls = tls
        if kind == "huren":
            cmd = [HUREN, "serve", "--data", data or os.path.join(self.dir, "data"),
                   "--dicom-port", str(self.dicom_port), "--http-port", str(self.http_port),
                   "--hl7-port", str(free_port()), "--log-level", "warn"]
            if conf_text:
                conf = os.path.join(self.dir, "huren.conf")
                with open(conf, "w") as f:
                    f.write(conf_text)
                cmd += ["-c", conf]
            if tls:
                pki, subject = tls
                conf = os.path.join(self.dir, "huren.conf")
                with open(conf, "w") as f:
                    f.write("[http]\ntls_cert = %s/server.crt\ntls_key = %s/server.key\n"
                            "tls_client_ca = %s/ca.crt\ntls_client_verify = require\n"
                            '[client "bench"]\nsubject = %s\ninstitution = H1\n'
                            "role = clinician\n" % (pki, pki, pki, subject))
                cmd += ["-c", conf]
            self.aet = "HUREN"
        else:
            cfg = {"Name": "bench", "StorageDirectory": os.path.join(self.dir, "storage"),
                   "IndexDirectory": os.path.join(self.dir, "index"), "DicomAet": "ORTHANC",
                   "DicomPort": self.dicom_port, "HttpPort": self.http_port,
                   "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
                   "Plugins": [PLUGIN], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}}
            if tls:
                cfg.update({"SslEnabled": True,
                            "SslCertificate": os.path.join(tls[0], "server.pem")})
            with open(os.path.join(self.dir, "orthanc.json"), "w") as f:
                json.dump(cfg, f)
            cmd = ["Orthanc", os.path.join(self.dir, "orthanc.json")]
            self.aet = "ORTHANC"
        self.proc = Process(cmd, os.path.join(self.dir, "log"), env=ENV)
        wait_for(lambda: port_open(self.http_port) and port_open(self.dicom_port), 120, kind)

    def stop(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def store(port, aet, paths, assocs=4):
    chunks = [paths[i::assocs] for i in range(assocs)]
    procs = [subprocess.Popen(["storescu", "--max-pdu", "131072", "-aec", aet, "127.0.0.1",
                               str(port)] + c, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for c in chunks if c]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError("storescu: " + err.decode(errors="replace")[-500:])


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def queries(size, n, rnd):
    """(name, [paths]) with n different queries of each kind over the seeded layout."""
    patients = max(1, size // 60)
    kinds = [("PatientID", ["/dicom-web/studies?PatientID=PAT%07d" % rnd.randrange(patients)
                            for _ in range(n)]),
             ("StudyDate range + ModalitiesInStudy",
              ["/dicom-web/studies?StudyDate=%d%02d01-%d%02d28&ModalitiesInStudy=%s" % (
                  y, m, y, m, rnd.choice(MODALITIES))
               for y, m in ((2020 + rnd.randrange(7), 1 + rnd.randrange(12)) for _ in range(n))]),
             ("PatientName prefix, limit=100", ["/dicom-web/studies?PatientName=Patient%d*"
                                                "&limit=100" % rnd.randrange(patients)
                                                for _ in range(n)])]
    return kinds


def time_queries(port, paths):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    lat, matches = [], 0
    for p in paths:
        t0 = time.perf_counter()
        c.request("GET", p, headers={"Accept": "application/dicom+json"})
        r = c.getresponse()
        body = r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        if r.status == 200:
            matches += len(json.loads(body))
        elif r.status != 204:
            raise RuntimeError("%s -> %d %s" % (p, r.status, body[:200]))
    c.close()
    return lat, matches / max(1, len(paths))


def seed_orthanc(srv, size, work):
    """The layout of tests/bench/seed.c, as files, stored with storescu."""
    folder = tempfile.mkdtemp(prefix="orthanc-seed-", dir=work)
    paths = []
    for i in range(size):
        study, patient, series = i // 20, i // 60, i // 10
        p = os.path.join(folder, "%07d.dcm" % i)
        with open(p, "wb") as f:
            f.write(instance_bytes(
                study_uid="1.2.826.0.1.3680043.10.1492.8.%d" % study,
                series_uid="1.2.826.0.1.3680043.10.1492.8.%d.%d" % (study, series),
                sop_uid="1.2.826.0.1.3680043.10.1492.8.%d.%d.%d" % (study, series, i),
                patient_id="PAT%07d" % patient, charset="ISO_IR 192",
                patient_name="Patient%d^Test=患者^%d" % (patient, patient % 1000),
                modality=MODALITIES[study % 4], accession="A%09d" % study,
                study_date="%04d%02d%02d" % (2020 + study % 7, 1 + study % 12, 1 + study % 28),
                study_time="101500", rows=2, cols=2, pixel_bytes=b"\0" * 8))
        paths.append(p)
    t0 = time.monotonic()
    store(srv.dicom_port, srv.aet, paths, 4)
    shutil.rmtree(folder, ignore_errors=True)
    return time.monotonic() - t0


def qido(work, size, orthanc_size, n):
    print("\n== QIDO-RS /studies latency, %d different queries of each kind, one connection"
          % n)
    print("%-8s %10s %-38s %8s %8s %8s" % ("server", "instances", "query", "matches", "p50 ms",
                                           "p99 ms"))
    # huren as configured by default (every answer audited, the audit entry fsync'ed before
    # the answer), then with [audit] fsync = no to show what the audit's fsync costs
    targets = [("huren", size, None), ("huren*", size, "[audit]\nfsync = no\n")]
    targets += [("orthanc", orthanc_size, None)] if orthanc_size else []
    d = tempfile.mkdtemp(prefix="seed-", dir=work)
    subprocess.run([SEED, os.path.join(d, "data"), str(size)], check=True,
                   stdout=subprocess.DEVNULL)
    for kind, count, conf in targets:
        if kind.startswith("huren"):
            srv = Server("huren", work, data=os.path.join(d, "data"), conf_text=conf)
        else:
            srv = Server("orthanc", work)
            secs = seed_orthanc(srv, count, work)
            print("(orthanc loaded %d instances in %.0f s)" % (count, secs), flush=True)
        try:
            time_queries(srv.http_port, [q for _, qs in queries(count, 20, random.Random(7))
                                         for q in qs])  # warm up
            for name, paths in queries(count, n, random.Random(1)):
                lat, matches = time_queries(srv.http_port, paths)
                print("%-8s %10d %-38s %8.1f %8.2f %8.2f" % (kind, count, name, matches,
                                                           pct(lat, 0.5), pct(lat, 0.99)),
                      flush=True)
        finally:
            srv.stop()
    shutil.rmtree(d, ignore_errors=True)
    print("(huren: default configuration, each answer's audit entry fsync'ed first; "
          "huren*: [audit] fsync = no)")


def retrieve(port, path, tls=None, cert=False):
    """(bytes, seconds) of one retrieval, read by curl (a Python reader would be the limit)."""
    if shutil.which("curl"):
        opts = []
        if tls:
            opts = ["--cacert", os.path.join(tls[0], "ca.crt")]
            if cert:
                opts += ["--cert", os.path.join(tls[0], "clinician.crt"), "--key",
                         os.path.join(tls[0], "clinician.key")]
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Accept: " + ACCEPT_DICOM,
                            "-w", "%{http_code} %{size_download} %{time_total}"] + opts +
                           ["%s://127.0.0.1:%d%s" % ("https" if tls else "http", port, path)],
                           stdout=subprocess.PIPE, text=True, check=True)
        code, n, secs = p.stdout.split()
        if code != "200":
            raise RuntimeError("%s -> %s" % (path, code))
        return int(n), float(secs)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    c.request("GET", path, headers={"Accept": ACCEPT_DICOM})
    r = c.getresponse()
    n = 0
    while True:
        b = r.read(1 << 20)
        if not b:
            break
        n += len(b)
    secs = time.perf_counter() - t0
    c.close()
    if r.status != 200:
        raise RuntimeError("%s -> %d" % (path, r.status))
    return n, secs


def wado(work, count, with_orthanc):
    folder = tempfile.mkdtemp(prefix="wado-", dir=work)
    study = uid(7777)
    pixels = os.urandom(512 * 512 * 2)
    paths = []
    for i in range(count):
        p = os.path.join(folder, "%05d.dcm" % i)
        with open(p, "wb") as f:
            f.write(instance_bytes(study_uid=study, series_uid=uid(7777, i % 4 + 1),
                                   sop_uid=uid(7777, i % 4 + 1, i), patient_id="WADO",
                                   rows=512, cols=512, pixel_bytes=pixels,
                                   instance_number=str(i)))
        paths.append(p)
    mb = sum(os.path.getsize(p) for p in paths) / 1e6
    print("\n== WADO-RS study retrieval: %d instances, %.0f MB, multipart/related; "
          "type=\"application/dicom\", 5 runs" % (count, mb))
    print("%-8s %-6s %10s %10s %10s" % ("server", "scheme", "best MB/s", "median", "bytes"))
    rates = {}
    pki = make_pki(work)
    for tls in (None, pki):
        for kind in ["huren"] + (["orthanc"] if with_orthanc else []):
            srv = Server(kind, work, tls=tls)
            try:
                store(srv.dicom_port, srv.aet, paths, 4)
                try:
                    runs = [retrieve(srv.http_port, "/dicom-web/studies/" + study, tls,
                                     kind == "huren") for _ in range(5)]
                except (subprocess.CalledProcessError, RuntimeError):
                    if kind != "orthanc" or not tls:
                        raise
                    print("orthanc  https  n/a: the connection is reset after the handshake and "
                          "Orthanc exits (its civetweb TLS with Debian 12's OpenSSL 3)",
                          flush=True)
                    continue
                r = sorted(n / s / 1e6 for n, s in runs)
                scheme = "https" if tls else "http"
                rates[kind, scheme] = r[2]
                print("%-8s %-6s %10.0f %10.0f %10d" % (kind, scheme, r[-1], r[2], runs[0][0]),
                      flush=True)
            finally:
                srv.stop()
    shutil.rmtree(folder, ignore_errors=True)
    for scheme in ("http", "https"):
        if ("orthanc", scheme) in rates:
            print("huren / orthanc (median, %s): %.1fx" % (
                scheme, rates["huren", scheme] / rates["orthanc", scheme]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=int, default=100000, help="instances seeded into huren")
    ap.add_argument("--orthanc-index", type=int, default=100000,
                    help="instances stored into Orthanc for QIDO (0: none)")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--study", type=int, default=200, help="instances of the WADO study")
    ap.add_argument("--no-orthanc", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(SEED):
        sys.exit("build/bench_seed is missing: build the project first")
    with_orthanc = not a.no_orthanc and ensure_orthanc()
    work = tempfile.mkdtemp(prefix="huren-bench-dw-")
    try:
        qido(work, a.index, a.orthanc_index if with_orthanc else 0, a.queries)
        wado(work, a.study, with_orthanc)
        print("\n(Orthanc figures quoted in issue 4 at 104,000 instances: by PatientID p50 71 / "
              "p99 83 ms, by date range and modality p99 380 ms.)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
