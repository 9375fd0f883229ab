#!/usr/bin/python3
"""bench_hl7.py: HL7 v2 ingest throughput of huren: ORU^R01 messages (10 OBX each) over MLLP,
each sender waiting for its ACK (AA only after the commit) before the next message, from 1 and
from 16 concurrent senders. Senders are separate processes (no GIL between them). Prints
messages/s; asserts nothing, but checks that every message got AA and is counted stored.

  /usr/bin/python3 tests/bench/bench_hl7.py [--messages N] [--senders 1,16] [--no-fsync]

fsync stays on (the production default) unless --no-fsync."""

import argparse
import multiprocessing
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import HUREN, Process, free_port, wait_for  # noqa: E402

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def message(sender, i):
    cid = "B%d-%d" % (sender, i)
    segs = ["MSH|^~\\&|LIS|H1|HUREN|H1|20240105083000||ORU^R01|%s|P|2.5.1|||||CHN|UNICODE UTF-8"
            % cid,
            "PID|1||BP%d^^^H1^PI||王^小明||19491231|M" % (i % 1000),
            "PV1|1|O|内科||||||||||||||||V%d" % (i % 5000),
            "ORC|RE|%s|F%s" % (cid, cid),
            "OBR|1|%s|F%s|CBC^血常规^L|||20240105080000|||||||||||||||20240105090000||LAB|F"
            % (cid, cid)]
    for k in range(10):
        segs.append("OBX|%d|NM|T%d^项目%d^L||%d.%d|g/L|1-100|N|||F" % (k + 1, k, k, k + 5, i % 10))
    return VT + ("\r".join(segs) + "\r").encode() + FS + CR


def sender_main(port, sender, count, start, out):
    msgs = [message(sender, i) for i in range(count)]
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start.wait()
    aa = 0
    for m in msgs:
        s.sendall(m)
        buf = b""
        while not buf.endswith(FS + CR):
            buf += s.recv(4096)
        aa += b"MSA|AA|" in buf
    s.close()
    out.put(aa)


def metric(port, name):
    """A counter from /metrics; -1 while the node is not up."""
    try:
        return metric_read(port, name)
    except OSError:
        return -1


def metric_read(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        m = re.search(r"^%s (\d+)" % re.escape(name), r.read().decode(), re.M)
        return int(m.group(1)) if m else 0


def run_once(senders, per_sender, fsync):
    tmp = tempfile.mkdtemp(prefix="bench-hl7-")
    http, hl7 = free_port(), free_port()
    conf = os.path.join(tmp, "huren.conf")
    with open(conf, "w") as f:
        f.write("[archive]\nfsync = %s\n[hl7]\nmax_connections = 64\n" % ("yes" if fsync
                                                                           else "no"))
    node = Process([HUREN, "serve", "-c", conf, "--data", os.path.join(tmp, "data"),
                    "--dicom-port", "0", "--http-port", str(http), "--hl7-port", str(hl7),
                    "--log-level", "warn"], os.path.join(tmp, "huren.log"))
    try:
        wait_for(lambda: metric(http, "huren_hl7_stored_total") == 0, 30, "huren")
        start = multiprocessing.Event()
        out = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=sender_main,
                                         args=(hl7, k, per_sender, start, out))
                 for k in range(senders)]
        for p in procs:
            p.start()
        time.sleep(0.5 + 0.05 * senders)  # connections open, messages built
        t0 = time.monotonic()
        start.set()
        aa = sum(out.get() for _ in procs)
        dt = time.monotonic() - t0
        for p in procs:
            p.join()
        stored = metric(http, "huren_hl7_stored_total")
        total = senders * per_sender
        print("%2d sender(s): %6d messages in %6.2f s = %7.0f msg/s  (AA %d, stored %d%s)"
              % (senders, total, dt, total / dt, aa, stored,
                 "" if aa == stored == total else "  MISMATCH"))
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000, help="messages per run")
    ap.add_argument("--senders", default="1,16")
    ap.add_argument("--no-fsync", action="store_true")
    a = ap.parse_args()
    print("huren HL7 ingest: ORU^R01 with 10 OBX, ACK after commit, fsync %s, %d CPUs"
          % ("off" if a.no_fsync else "on", os.cpu_count()))
    for s in (int(x) for x in a.senders.split(",")):
        run_once(s, max(1, a.messages // s), not a.no_fsync)


if __name__ == "__main__":
    main()
