"""bench_directory_store.py: the directory's SQLite and PostgreSQL stores side by side, in the same
run on the same machine (not a test; never asserts a time).

    /usr/bin/python3 tests/bench/bench_directory_store.py [--entries N] [--batch B]
        [--lookups K] [--threads 1,4] [--synchronous-commit on|off]

Builds nothing: runs build/bench_directory_store against a fresh SQLite index and a fresh
PostgreSQL (tests/integration/pg.py: initdb + pg_ctl in a temp folder), both with fsync on, and
prints their publish rate (every tenth of N, then overall) and lookup latencies, once per thread
count (each count on fresh stores). --synchronous-commit off shows what PostgreSQL gains by
acknowledging before the WAL is flushed (not durable: huren's default is on)."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import pg  # noqa: E402

BIN = os.path.join(HERE, "..", "..", "build", "bench_directory_store")


def run(a, threads):
    d = tempfile.mkdtemp(prefix="bench-dir-")
    c = pg.Cluster("bench")
    try:
        print("== sqlite (fsync on), %d thread%s" % (threads, "s" if threads > 1 else ""))
        sys.stdout.flush()
        subprocess.run([BIN, "sqlite", d, str(a.entries), str(a.batch), str(a.lookups), "1",
                        str(threads)], check=True)
        c.start()
        # pg.py turns fsync off for tests; a benchmark compares durable commits
        c.sql("ALTER SYSTEM SET fsync = on")
        c.sql("ALTER SYSTEM SET full_page_writes = on")
        c.sql("ALTER SYSTEM SET synchronous_commit = %s" % a.synchronous_commit)
        c.sql("SELECT pg_reload_conf()")
        print("== postgresql %s (fsync on, synchronous_commit %s), %d thread%s"
              % (c.sql("SHOW server_version").strip(), a.synchronous_commit, threads,
                 "s" if threads > 1 else ""))
        sys.stdout.flush()
        subprocess.run([BIN, "postgresql", c.dsn(), str(a.entries), str(a.batch), str(a.lookups),
                        str(threads)], check=True)
    finally:
        c.destroy()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--threads", default="1", help="publishing threads, a comma list: 1,4")
    ap.add_argument("--synchronous-commit", default="on", choices=("on", "off"))
    a = ap.parse_args()
    print("directory store benchmark: %d cores, load average %.2f"
          % (os.cpu_count(), os.getloadavg()[0]))
    for t in (int(x) for x in a.threads.split(",")):
        run(a, t)


if __name__ == "__main__":
    main()
