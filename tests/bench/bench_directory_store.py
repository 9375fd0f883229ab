"""bench_directory_store.py: the directory's SQLite and PostgreSQL stores side by side, in the same
run on the same machine (not a test; never asserts a time).

    /usr/bin/python3 tests/bench/bench_directory_store.py [N [BATCH [LOOKUPS]]]

Builds nothing: runs build/bench_directory_store against a fresh SQLite index and a fresh
PostgreSQL (tests/integration/pg.py: initdb + pg_ctl in a temp folder), both with fsync on, and
prints their publish rate and lookup latencies."""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import pg  # noqa: E402

BIN = os.path.join(HERE, "..", "..", "build", "bench_directory_store")


def main():
    n, batch, k = (int(a) for a in (sys.argv[1:] + ["200000", "1000", "2000"][len(sys.argv[1:]):]))
    d = tempfile.mkdtemp(prefix="bench-dir-")
    c = pg.Cluster("bench")
    try:
        print("== sqlite (fsync on)")
        sys.stdout.flush()
        subprocess.run([BIN, "sqlite", d, str(n), str(batch), str(k), "1"], check=True)
        c.start()
        # pg.py turns fsync off for tests; a benchmark compares durable commits
        c.sql("ALTER SYSTEM SET fsync = on")
        c.sql("ALTER SYSTEM SET full_page_writes = on")
        c.sql("SELECT pg_reload_conf()")
        print("== postgresql %s (fsync on)" % c.sql("SHOW server_version").strip())
        sys.stdout.flush()
        subprocess.run([BIN, "postgresql", c.dsn(), str(n), str(batch), str(k)], check=True)
    finally:
        c.destroy()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
