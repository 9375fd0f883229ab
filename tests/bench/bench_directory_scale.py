#!/usr/bin/python3
"""bench_directory_scale.py: the regional directory at scale on both stores in the same run (not
a test; asserts nothing). For SQLite and for PostgreSQL (pg.py: initdb + pg_ctl in a temp folder,
fsync on, synchronous_commit on):
  1. publish N entries through the store interface (build/bench_directory_store: batches of
     1,000, each from one institution, T threads, fsync on), printing the rate every tenth;
  2. start `huren serve --role directory` on that store and measure lookups end to end over
     HTTPS with a client certificate (bench_directory.py's client: one keep-alive connection),
     p50/p99, then publishing over HTTPS (POST /api/v1/directory/entries, 2 connections);
  3. sizes: index.db; PostgreSQL's pg_total_relation_size of dir_entries, its heap and its
     primary-key indexes, bytes per entry.

usage: tests/bench/bench_directory_scale.py [--entries N] [--threads T] [--lookups K]
    [--publish M] [--store both|sqlite|postgresql] [--audit-fsync yes|no]
    [--pg-setting KEY=VALUE ...]"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
import pg  # noqa: E402
from bench_directory import http_lookups, http_publish, make_batches, pct  # noqa: E402
from harness import free_port, port_open, wait_for  # noqa: E402

BUILD = os.path.join(REPO, "build")
PER_PATIENT = 5
M64 = (1 << 64) - 1


def mix(x):  # bench_directory_store.c's mix()
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def pseudonym(patient):
    return "".join("%016x" % mix(patient * 4 + i) for i in range(4))


def serve(work, name, data, pki, store_lines, audit_fsync):
    with open(os.path.join(pki, "subjects.txt")) as f:
        subjects = dict(line.split("\t") for line in f.read().splitlines())
    conf = os.path.join(work, name + ".conf")
    with open(conf, "w") as f:
        f.write("[http]\ntls_cert = %s/server.crt\ntls_key = %s/server.key\n"
                "tls_client_ca = %s/ca.crt\ntls_client_verify = require\nthreads = 4\n"
                "max_body = 4194304\n[audit]\nfsync = %s\n%s"
                "[client \"gw\"]\nsubject = %s\ninstitution = H37010002\nrole = peer\n"
                % (pki, pki, pki, audit_fsync, store_lines, subjects["peer"]))
    port = free_port()
    log = open(os.path.join(work, name + ".log"), "ab")
    p = subprocess.Popen([os.path.join(BUILD, "huren"), "serve", "-c", conf, "--role",
                          "directory", "--data", data, "--http-port", str(port), "--dicom-port",
                          "0", "--hl7-port", "0", "--log-level", "warn"],
                         stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: port_open(port) or p.poll() is not None, 120, "the directory")
    if p.poll() is not None:
        raise SystemExit("directory did not start; see " + log.name)
    return p, port


def print_log_tail(path, lines=30):
    """What the directory said before a failure: the work folder is removed afterwards."""
    with open(path, errors="replace") as f:
        tail = f.read().splitlines()[-lines:]
    print("  the directory's log (%s), last %d lines:\n    %s"
          % (os.path.basename(path), len(tail), "\n    ".join(tail)))


def over_https(work, name, data, pki, store_lines, a):
    p, port = serve(work, name, data, pki, store_lines, a.audit_fsync)
    try:
        n = a.entries // PER_PATIENT
        sample = [pseudonym(mix(i) % n) for i in range(2000)]
        http_lookups(port, pki, sample, 200)  # warm the connection and the pools
        lat, per = http_lookups(port, pki, sample, a.lookups)
        print("  HTTPS lookup (mTLS, keep-alive, audit fsync %s, %d lookups, %.1f entries each):"
              " p50 %.2f ms, p99 %.2f ms (load average %.2f)"
              % (a.audit_fsync, a.lookups, per, pct(lat, 50), pct(lat, 99), os.getloadavg()[0]))
        try:
            t, retried = http_publish(port, pki, make_batches(a.publish, 1000))
        except SystemExit:
            print_log_tail(os.path.join(work, name + ".log"))
            raise
        print("  HTTPS publish (2 connections, batches of 1,000 new entries): %d entries in"
              " %.1f s = %.0f entries/s, %d batches retried after a 503"
              % (a.publish, t, a.publish / t, len(retried)))
        if retried:
            print_log_tail(os.path.join(work, name + ".log"))
        sys.stdout.flush()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


def load(args, label, a):
    print("== %s: publish %d entries through the store, %d threads (load average %.2f)"
          % (label, a.entries, a.threads, os.getloadavg()[0]))
    sys.stdout.flush()
    subprocess.run([os.path.join(BUILD, "bench_directory_store")] + args, check=True)
    sys.stdout.flush()


def sqlite_run(work, pki, a):
    d = os.path.join(work, "sqlite")
    load(["sqlite", d, str(a.entries), "1000", "2000", "1", str(a.threads)], "sqlite", a)
    print("  index.db: %.2f GB (%.0f bytes per entry, the node's other tables empty)"
          % (os.path.getsize(os.path.join(d, "index.db")) / 1e9,
             os.path.getsize(os.path.join(d, "index.db")) / a.entries))
    over_https(work, "dir-sqlite", d, pki, "", a)
    shutil.rmtree(d, ignore_errors=True)


def pg_sizes(c, n):
    q = ("SELECT sum(pg_total_relation_size(c.oid)), sum(pg_relation_size(c.oid)),"
         " sum(pg_indexes_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
         " WHERE i.inhparent = 'dir_entries'::regclass")
    total, heap, idx = (int(x) for x in c.sql(q).strip().split("|"))
    print("  dir_entries: %.2f GB in all (heap %.2f GB, primary-key indexes %.2f GB, rest TOAST"
          " and maps): %.0f bytes per entry (heap %.0f, index %.0f)"
          % (total / 1e9, heap / 1e9, idx / 1e9, total / n, heap / n, idx / n))
    print("  an index's depth: %s levels (bt_metap of dir_entries_p00_pkey)"
          % c.sql("CREATE EXTENSION IF NOT EXISTS pageinspect; SELECT level + 1 FROM"
                  " bt_metap('dir_entries_p00_pkey')").strip().splitlines()[-1])


def pg_run(work, pki, a):
    c = pg.Cluster("scale")
    try:
        c.start()
        c.sql("ALTER SYSTEM SET fsync = on")
        c.sql("ALTER SYSTEM SET full_page_writes = on")
        c.sql("ALTER SYSTEM SET shared_buffers = '512MB'")
        c.sql("ALTER SYSTEM SET max_wal_size = '4GB'")
        for kv in a.pg_setting:
            k, v = kv.split("=", 1)
            c.sql("ALTER SYSTEM SET %s = '%s'" % (k, v))
        c.stop()
        c.restart()
        print("postgresql %s: shared_buffers %s, synchronous_commit %s"
              % (c.sql("SHOW server_version").strip(), c.sql("SHOW shared_buffers").strip(),
                 c.sql("SHOW synchronous_commit").strip()))
        load(["postgresql", c.dsn(), str(a.entries), "1000", "2000", str(a.threads)],
             "postgresql", a)
        # what a bulk load leaves to do (hint bits, statistics, dirty pages) done before measuring
        c.sql("VACUUM ANALYZE dir_entries")
        c.sql("CHECKPOINT")
        pg_sizes(c, a.entries)
        d = os.path.join(work, "pg-node")
        over_https(work, "dir-pg", d, pki, "[directory]\nstore = postgresql\ndsn = %s\n"
                   "pool = 8\n" % c.dsn(), a)
    finally:
        c.destroy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--lookups", type=int, default=5000)
    ap.add_argument("--publish", type=int, default=100_000)
    ap.add_argument("--store", default="both", choices=("both", "sqlite", "postgresql"))
    ap.add_argument("--audit-fsync", default="yes", choices=("yes", "no"),
                    help="the directory's [audit] fsync (yes: each answer waits for its entry)")
    ap.add_argument("--pg-setting", action="append", default=[], metavar="KEY=VALUE",
                    help="a PostgreSQL setting for the run (ALTER SYSTEM), repeatable")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="huren-bench-scale-")
    try:
        print("huren directory at scale: %d entries, %d cores, load average %.2f"
              % (a.entries, os.cpu_count(), os.getloadavg()[0]))
        pki = os.path.join(work, "pki")
        subprocess.run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), pki],
                       check=True, stdout=subprocess.DEVNULL)
        if a.store in ("both", "sqlite"):
            sqlite_run(work, pki, a)
        if a.store in ("both", "postgresql"):
            pg_run(work, pki, a)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
