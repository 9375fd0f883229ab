"""test_directory_replication.py: the regional directory on a replicated PostgreSQL, black-box.
A primary and a streaming standby (pg_basebackup -R) run in temp folders (pg.py); the directory
node publishes to dsn = primary,standby (target_session_attrs=read-write) and looks up from
read_dsn = the standby, replication synchronous (remote_apply); hospital B publishes through its
outbox. Lookups are answered from the standby, an acknowledged publish at once; the primary is killed: publishes are answered 503 and B's outbox keeps them, lookups go
on; the standby is promoted: B's backlog drains without restarting huren, and every entry
acknowledged before is there."""

import os
import secrets
import unittest

import pg
import test_directory as td
from harness import NodeTestCase, run, wait_for
from test_directory import pseudonym
from test_hl7 import NID


@unittest.skipUnless(pg.available(), "PostgreSQL's server binaries are not installed")
class ReplicationTest(NodeTestCase):

    hospital = td.DirectoryTest.hospital
    lookup = td.DirectoryTest.lookup
    publish = td.DirectoryTest.publish
    health = td.DirectoryTest.health
    store_study = td.DirectoryTest.store_study
    send_lab = td.DirectoryTest.send_lab
    wait_records = td.DirectoryTest.wait_records

    def setUp(self):
        super().setUp()
        self.primary = pg.Cluster("primary")
        self.addCleanup(self.primary.destroy)  # after tearDown has stopped the nodes
        self.primary.start()
        self.standby = pg.Cluster("standby", standby_of=self.primary)
        self.addCleanup(self.standby.destroy)
        self.standby.start()
        # synchronous replication, applied: an acknowledged publish is on the standby already
        # (what a province runs so that losing the primary loses nothing acknowledged)
        self.primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.primary.sql("ALTER SYSTEM SET synchronous_commit = remote_apply")
        self.primary.sql("SELECT pg_reload_conf()")
        wait_for(lambda: self.primary.sql("SELECT sync_state FROM pg_stat_replication").strip()
                 == "sync", 30, "the standby to be synchronous")
        self.pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(td.REPO, "conf", "make-test-pki.sh"), self.pki], check=True)
        with open(os.path.join(self.pki, "subjects.txt")) as f:
            self.subjects = dict(line.split("\t") for line in f.read().splitlines())
        self.key = secrets.token_hex(32)
        self.key_file = os.path.join(self.tmp, "region.key")
        with open(self.key_file, "w") as f:
            f.write(self.key + "\n")
        p, s = self.primary, self.standby
        store = ["store = postgresql",
                 "dsn = host=%s,%s port=%d,%d dbname=huren user=huren"
                 " target_session_attrs=read-write connect_timeout=2" % (p.dir, s.dir, p.port,
                                                                         s.port),
                 "read_dsn = host=%s port=%d dbname=huren user=huren"
                 " application_name=huren-lookups connect_timeout=2" % (s.dir, s.port),
                 "pool = 2", "statement_timeout = 3000"]
        conf = td.DirectoryTest.directory_conf(self).replace(
            "[directory]\n", "[directory]\n" + "\n".join(store) + "\n", 1)
        self.dir = self.node(name="directory", https=True, config_text=conf,
                             extra_args=["--role", "directory"]).start()

    def lookups_on(self, cluster):
        return int(cluster.sql("SELECT count(*) FROM pg_stat_activity"
                               " WHERE application_name = 'huren-lookups'").strip())

    def test_failover(self):
        b = self.hospital()
        p = pseudonym(self.key, NID)
        self.store_study(b, 1)
        self.send_lab(b, "m1", order="ORD1")
        self.wait_records(p, 2)  # answered by the standby, once it has replayed them
        wait_for(lambda: self.health(b)["directory"]["backlog"] == 0, 30, "B's outbox acked")
        self.assertGreaterEqual(self.lookups_on(self.standby), 1)
        self.assertEqual(self.lookups_on(self.primary), 0)
        sync = {"pseudonym": p, "record_key": "report:sync", "version": 1, "kind": "lab",
                "date": "20240106"}
        status, body = self.publish([sync])
        self.assertEqual((status, body["results"][0]["status"]), (200, "stored"), body)
        self.assertEqual(self.lookup(p)["count"], 3)  # at once, from the standby

        # the primary dies: publishes fail (503), B keeps them; lookups go on from the standby
        self.primary.kill()
        self.send_lab(b, "m2", order="ORD2")
        wait_for(lambda: "503" in (self.health(b)["directory"]["last_error"] or ""), 30,
                 "a publish answered 503")
        self.assertEqual(self.health(b)["directory"]["backlog"], 1)
        entry = {"pseudonym": p, "record_key": "report:direct", "version": 1, "kind": "lab",
                 "date": "20240105"}
        heads = {}
        status, body = self.publish([entry], headers_out=heads)
        self.assertEqual(status, 503, body)
        self.assertEqual(heads.get("retry-after"), "1", heads)  # a store that will be back
        self.assertEqual(self.lookup(p)["count"], 3)
        self.assertTrue(self.dir.proc.alive())

        # promoted: the directory finds the new primary by itself, B's backlog drains
        self.standby.promote()
        wait_for(lambda: self.health(b)["directory"]["backlog"] == 0, 60,
                 "B's backlog to drain after the promotion")
        status, body = self.publish([entry])
        self.assertEqual((status, body["results"][0]["status"]), (200, "stored"), body)
        recs = self.lookup(p)["records"]
        self.assertEqual(len(recs), 5)
        self.assertEqual(sorted(r["record_key"].split(":")[0] for r in recs),
                         ["report"] * 4 + ["study"])
        # every acknowledged entry is on the new primary
        self.assertEqual(self.standby.sql("SELECT count(*) FROM dir_entries").strip(), "5")
        status, text = td.curl_json(self.dir.url("/metrics"), self.pki, "admin")
        self.assertIn("huren_directory_store_reconnects_total", text)
        self.assertNotIn("huren_directory_store_reconnects_total 0\n", text)


if __name__ == "__main__":
    unittest.main()
