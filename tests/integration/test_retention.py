"""test_retention.py: [retention] rules. `huren retention --dry-run` lists the studies older
than max_age_days (oldest first) and deletes nothing; protected = yes keeps a study of a
patient with an insurer claim; `huren retention` deletes (audited, actor retention); the disk
rule lists the oldest first; serve runs the rules on its own every [retention] interval."""

import datetime
import json
import os
import sqlite3
import urllib.error
import urllib.parse
import urllib.request

from dicomgen import uid, write_instance
from harness import HUREN, NodeTestCase, run, wait_for

TODAY = datetime.date.today().strftime("%Y%m%d")
STUDIES = [(1, "20000101", "RA"), (2, "20100101", "RB"), (3, TODAY, "RC")]


def wado_status(node, s):
    q = urllib.parse.urlencode({"requestType": "WADO", "studyUID": uid(60, s),
                                "seriesUID": uid(60, s, 1), "objectUID": uid(60, s, 1, 0),
                                "contentType": "application/dicom"})
    try:
        with urllib.request.urlopen(node.url("/wado?" + q), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class RetentionTest(NodeTestCase):

    def files(self):
        out = []
        for s, date, pid in STUDIES:
            for i in range(2):
                out.append(write_instance(os.path.join(self.tmp, "s%d_%d.dcm" % (s, i)),
                                          study_uid=uid(60, s), series_uid=uid(60, s, 1),
                                          sop_uid=uid(60, s, 1, i), study_date=date,
                                          patient_id=pid))
        return out

    def conf(self, text):
        path = os.path.join(self.tmp, "r%d.conf" % len(os.listdir(self.tmp)))
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_dry_run_protect_delete(self):
        data = os.path.join(self.tmp, "data")
        run([HUREN, "import", "--data", data] + self.files(), check=True)
        db = sqlite3.connect(os.path.join(data, "index.db"))
        db.execute("INSERT INTO claims(claim_id, insurer, request_id, request_hash, consent_pk,"
                   " patient_id, visit_number, jws, created_at)"
                   " VALUES ('c1', 'INS', 'r1', 'h', 1, 'RB', 'V1', x'00', 0)")
        db.commit()
        db.close()
        self.assertEqual(run([HUREN, "retention", "--data", data]).returncode, 2, "no rule")
        keep = self.conf("[retention]\nmax_age_days = 3650\n")
        p = run([HUREN, "retention", "--dry-run", "-c", keep, "--data", data], check=True)
        self.assertEqual(p.stdout.count("would delete"), 1, p.stdout)
        self.assertIn(uid(60, 1) + " (StudyDate 20000101", p.stdout)
        nokeep = self.conf("[retention]\nmax_age_days = 3650\nprotected = no\n")
        p = run([HUREN, "retention", "--dry-run", "-c", nokeep, "--data", data], check=True)
        lines = [l for l in p.stdout.splitlines() if l.startswith("would delete")]
        self.assertEqual([uid(60, 1) in lines[0], uid(60, 2) in lines[1]], [True, True], lines)
        disk = self.conf("[retention]\nmin_free_mb = 100000000\n")  # never that much free
        p = run([HUREN, "retention", "--dry-run", "-c", disk, "--data", data], check=True)
        lines = [l for l in p.stdout.splitlines() if l.startswith("would delete")]
        self.assertEqual(len(lines), 2, p.stdout)  # RB is protected
        self.assertTrue(lines[0].startswith("would delete study " + uid(60, 1)), lines)
        self.assertIn("disk)", lines[1])
        self.assertEqual(run([HUREN, "import", "--data", data] + self.files()[:1]).returncode,
                         0)
        self.assertIn("1 duplicates", run([HUREN, "import", "--data", data]
                                          + self.files()[:1]).stdout, "a dry run deletes nothing")

        p = run([HUREN, "retention", "-c", keep, "--data", data], check=True)
        self.assertIn("1 study deleted", p.stdout)
        p = run([HUREN, "retention", "--dry-run", "-c", keep, "--data", data], check=True)
        self.assertIn("0 studies would be deleted", p.stdout)
        with open(os.path.join(data, "audit.log"), encoding="utf-8") as f:
            audit = [json.loads(line) for line in f]
        self.assertEqual([(e["actor"], e["action"], e["patient"], e["outcome"]) for e in audit],
                         [("retention", "study.delete", "RA", "success")])
        run([HUREN, "audit", "verify", "--data", data], check=True)

    def test_serve_runs_the_rules(self):
        n = self.node(config_text="[retention]\nmax_age_days = 3650\ninterval = 1\n").start()
        run(["storescu", "-aec", "HUREN", "127.0.0.1", str(n.dicom_port)] + self.files(),
            check=True)
        wait_for(lambda: wado_status(n, 1) == 404 and wado_status(n, 2) == 404, 30,
                 "the retention job")
        self.assertEqual(wado_status(n, 3), 200)
        n.stop()
        with open(os.path.join(n.data, "audit.log"), encoding="utf-8") as f:
            dels = [json.loads(line) for line in f if '"study.delete"' in line]
        self.assertEqual(sorted(e["patient"] for e in dels), ["RA", "RB"])
        self.assertTrue(all(e["actor"] == "retention" for e in dels))


if __name__ == "__main__":
    import unittest
    unittest.main()
