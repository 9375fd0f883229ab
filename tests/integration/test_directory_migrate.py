"""test_directory_migrate.py: the directory's schema and store migrations against a real
PostgreSQL the test starts (pg.py). `huren migrate` runs the archive's SQLite migrations and,
with [directory] store = postgresql, the PostgreSQL ones, printing each schema's version before
and after, and fails cleanly when the database cannot be reached. `huren directory
migrate-store` copies a SQLite directory seeded with build/bench_directory_seed into PostgreSQL:
killed with SIGKILL mid-way, run again, it resumes after the last batch committed; then every
entry of both stores is compared, and two directory nodes (one per store) answer the same
lookups over HTTPS with client certificates. /readyz of a directory on PostgreSQL follows the
store: 503 with the pool's reason while the server is down, 200 once it is back."""

import json
import os
import re
import signal
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import pg
from harness import HUREN, NodeTestCase, run, wait_for
from test_directory import curl_json

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEED = os.path.join(os.path.dirname(HUREN), "bench_directory_seed")
ENTRIES = 60000

SQLITE_ROWS = ("SELECT pseudonym||'|'||institution||'|'||record_key||'|'||version||'|'||kind||'|'"
               "||ifnull(item_code,'')||'|'||ifnull(item_name,'')||'|'||ifnull(modality,'')||'|'"
               "||ifnull(item_date,'')||'|'||hr||'|'||ifnull(hr_scope,'')||'|'"
               "||ifnull(source_url,'')||'|'||deleted||'|'||ifnull(status,'')||'|'"
               "||ifnull(revision,'')||'|'||received_at FROM dir_entries ORDER BY 1")
PG_ROWS = ("SELECT pseudonym||'|'||institution||'|'||record_key||'|'||version||'|'||kind||'|'"
           "||coalesce(item_code,'')||'|'||coalesce(item_name,'')||'|'||coalesce(modality,'')||'|'"
           "||coalesce(item_date,'')||'|'||hr::int||'|'||coalesce(hr_scope,'')||'|'"
           "||coalesce(source_url,'')||'|'||deleted::int||'|'||coalesce(status,'')||'|'"
           "||coalesce(revision::text,'')||'|'"
           "||to_char(received_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS') FROM dir_entries")


class DirectoryMigrateTest(NodeTestCase):

    @classmethod
    def setUpClass(cls):
        if not pg.available():
            raise unittest.SkipTest("PostgreSQL's server binaries are not installed")
        cls.pg = pg.Cluster("migrate")
        try:
            cls.pg.start()
        except BaseException:
            cls.pg.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def setUp(self):
        super().setUp()
        self.pg.sql("DROP TABLE IF EXISTS dir_entries, schema_version, migrate_progress")
        self.conf = os.path.join(self.tmp, "pg.conf")
        with open(self.conf, "w") as f:
            f.write("[directory]\nstore = postgresql\ndsn = %s\n" % self.pg.dsn())

    def test_migrate(self):
        data = os.path.join(self.tmp, "data")
        p = run([HUREN, "migrate", "--data", data])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertRegex(p.stdout, r"archive .*index.db \(sqlite\): schema version 0 -> \d+")
        self.assertNotIn("postgresql", p.stdout)  # the SQLite store: nothing more to migrate
        p = run([HUREN, "migrate", "--data", data, "-c", self.conf])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertRegex(p.stdout, r"index.db \(sqlite\): schema version \d+, up to date")
        self.assertIn("directory (postgresql, [directory] dsn): schema version 0 -> 2", p.stdout)
        self.assertEqual(self.pg.sql("SELECT max(version) FROM schema_version").strip(), "2")
        self.assertEqual(self.pg.sql("SELECT count(*) FROM pg_inherits WHERE inhparent ="
                                     " 'dir_entries'::regclass").strip(), "64")
        p = run([HUREN, "migrate", "--data", data, "-c", self.conf])
        self.assertIn("directory (postgresql, [directory] dsn): schema version 2, up to date",
                      p.stdout)
        # serve finds the schema current and changes nothing
        self.assertEqual(self.pg.sql("SELECT count(*) FROM schema_version").strip(), "2")
        bad = os.path.join(self.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[directory]\nstore = postgresql\n"
                    "dsn = host=/nonexistent-huren port=1 dbname=huren user=huren\n")
        p = run([HUREN, "migrate", "--data", data, "-c", bad])
        self.assertEqual(p.returncode, 1)
        self.assertIn("huren migrate: directory (postgresql): connecting", p.stdout)
        self.assertEqual(run([HUREN, "migrate", "--help"]).returncode, 0)

    def test_migrate_store(self):
        src = os.path.join(self.tmp, "src")
        run([SEED, "seed", src, str(ENTRIES)], check=True, timeout=300)
        # usage errors
        for args in (["--from", src, "--to", "postgresql"],
                     ["--from", "sqlite:" + src, "--to", "mysql"],
                     ["--from", "sqlite:" + src, "--to", "postgresql"],  # no PG in the config
                     ["--from", "sqlite:" + os.path.join(self.tmp, "nowhere"), "--to",
                      "postgresql", "-c", self.conf]):
            p = run([HUREN, "directory", "migrate-store"] + args)
            self.assertEqual(p.returncode, 2, (args, p.stdout))
        cmd = [HUREN, "directory", "migrate-store", "--from", "sqlite:" + src,
               "--to", "postgresql", "--batch", "200", "-c", self.conf]
        # first run: killed once some batches are committed
        first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def some_done():
                if first.poll() is not None:
                    return True
                out = self.pg.sql("SELECT coalesce(max(done), 0) FROM migrate_progress"
                                  if self._has_progress() else "SELECT 0")
                return int(out.strip() or 0) >= 5000
            wait_for(some_done, 120, "the first batches")
            first.send_signal(signal.SIGKILL)
        finally:
            first.wait()
        self.assertEqual(first.returncode, -signal.SIGKILL, "finished before the kill")
        done = int(self.pg.sql("SELECT done FROM migrate_progress").strip())
        self.assertLess(done, ENTRIES)
        # second run: resumes, copies the rest, changes nothing already there
        p = run(cmd, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout)
        m = re.search(r"migrate-store: %d of %d entries in PostgreSQL \((\d+) by an earlier run\);"
                      r" this run: (\d+) stored, 0 replaced, (\d+) unchanged, 0 refused"
                      % (ENTRIES, ENTRIES), p.stdout)
        self.assertTrue(m, p.stdout)
        resumed, stored, unchanged = (int(g) for g in m.groups())
        self.assertGreaterEqual(resumed, done)
        self.assertEqual(stored + unchanged, ENTRIES - resumed)
        self.assertLessEqual(unchanged, 200)  # at most the batch the kill cut off
        self.assertIn("migrate-store: %d / %d entries (100.0%%)" % (ENTRIES, ENTRIES), p.stdout)
        # every entry, field by field
        lite = run(["sqlite3", os.path.join(src, "index.db"), SQLITE_ROWS], timeout=120).stdout
        self.assertEqual(len(lite.splitlines()), ENTRIES)
        self.assertEqual(sorted(self.pg.sql(PG_ROWS).splitlines()), sorted(lite.splitlines()))
        # a third run copies nothing
        p = run(cmd, timeout=600)
        self.assertIn("(%d by an earlier run); this run: 0 stored" % ENTRIES, p.stdout)
        self.lookups_agree(src)

    def test_readyz_follows_the_store(self):
        """A directory on PostgreSQL is ready while its store answers; with the server gone,
        /readyz answers 503 within a few seconds, with the pool's reason and nothing of the
        entries; back once the server is."""
        n = self.node(name="dir", config_text="[directory]\nstore = postgresql\ndsn = %s\n"
                      % self.pg.dsn(), extra_args=["--role", "directory"]).start()

        def ready():
            with urllib.request.urlopen(n.url("/readyz"), timeout=30) as r:
                return r.status, json.loads(r.read())
        status, body = ready()
        self.assertEqual((status, body["checks"]["directory_store"]), (200, "ok"), body)
        self.assertNotIn("directory_store_writes", body["checks"])  # no read_dsn
        self.pg.stop("immediate")
        try:
            t0 = time.monotonic()
            with self.assertRaises(urllib.error.HTTPError) as e:
                ready()
            self.assertLess(time.monotonic() - t0, 15)
            self.assertEqual(e.exception.code, 503)
            body = json.loads(e.exception.read())
            self.assertEqual(body["status"], "not ready")
            why = body["checks"]["directory_store"]
            self.assertRegex(why, r"^(dsn: |connecting \(dsn\))", body)
            self.assertNotIn("dir_entries", why)
        finally:
            self.pg.restart()
        wait_for(lambda: ready()[0] == 200, 30, "ready again")
        self.assertEqual(ready()[1]["checks"]["directory_store"], "ok")

    def _has_progress(self):
        return self.pg.sql("SELECT to_regclass('migrate_progress') IS NOT NULL").strip() == "t"

    def lookups_agree(self, src):
        """A directory on each store answers every sampled lookup alike."""
        pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), pki], check=True)
        with open(os.path.join(pki, "subjects.txt")) as f:
            subjects = dict(line.split("\t") for line in f.read().splitlines())
        base = ["[http]", "tls_cert = %s/server.crt" % pki, "tls_key = %s/server.key" % pki,
                "tls_client_ca = %s/ca.crt" % pki, "tls_client_verify = require",
                '[client "clinician"]', "subject = " + subjects["clinician"],
                "institution = H37010001", "role = clinician"]
        nodes = []
        for name, store in (("lite", []), ("pg", ["[directory]", "store = postgresql",
                                                   "dsn = " + self.pg.dsn()])):
            n = self.node(name=name, https=True, config_text="\n".join(base + store) + "\n",
                          extra_args=["--role", "directory"])
            if name == "lite":
                n.data = src
            nodes.append(n.start())
        with open(os.path.join(src, "sample-pseudonyms.txt")) as f:
            sample = [line.strip() for line in f if len(line.strip()) == 64][:40]
        for p in sample:
            answers = []
            for n in nodes:
                status, body = curl_json(n.url("/api/v1/directory/records?pseudonym=%s"
                                               "&include_deleted=1" % p), pki, "clinician")
                self.assertEqual(status, 200, body)
                answers.append(body)
            self.assertGreater(answers[0]["count"], 0)
            self.assertEqual(answers[1], answers[0], p)


if __name__ == "__main__":
    unittest.main()
