"""test_security_service.py: running as a service. As root with `[node] user = nobody`, serve
binds DICOM port 104 (and free HTTP and HL7 ports), then runs as nobody: /proc/PID/status shows
nobody's ids everywhere and no capability, echoscu and storescu to port 104 work, and every file
of the archive is nobody's. As root without a user it refuses a non-loopback address and warns
on loopback; a data folder of another owner, an unknown user or group are refused by
check-config and serve with the key named. conf/huren.service passes `systemd-analyze verify`
(its ExecStart paths pointed at the built binary), skipped where that tool is missing."""

import os
import pwd
import grp
import shutil
import subprocess
import unittest

from dicomgen import uid, write_instance
from harness import HUREN, NodeTestCase, free_port, port_open, run, wait_for

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def status_ids(pid):
    """{"Uid": [...], "Gid": [...], "Groups": [...], "CapEff": "...", "CapPrm": "..."}."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(v) for v in value.split()]
            elif key in ("CapEff", "CapPrm", "CapAmb"):
                out[key] = value.strip()
    return out


def need_root(test):
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (the tests of this machine run as root)")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise unittest.SkipTest("no user nobody")


class ServiceTest(NodeTestCase):

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)  # the user must reach its data folder

    def conf(self, name, text):
        path = os.path.join(self.tmp, name + ".conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def serve(self, name, conf):
        return self.process([HUREN, "serve", "-c", conf], name)

    def test_drops_to_nobody_on_port_104(self):
        nobody = need_root(self)
        group = grp.getgrgid(nobody.pw_gid).gr_name
        # port 104 is the machine's: wait (bounded) for another test to free it
        try:
            wait_for(lambda: not port_open(104), 120, "port 104 free")
        except AssertionError:
            self.skipTest("port 104 stays in use")
        data = os.path.join(self.tmp, "srv", "huren")  # made by serve, for nobody
        http_port, hl7_port = free_port(), free_port()
        conf = self.conf("node", "[node]\nuser = nobody\ngroup = %s\ndata_dir = %s\n"
                         "[dicom]\nport = 104\n[http]\nport = %d\n[hl7]\nport = %d\n"
                         % (group, data, http_port, hl7_port))
        p = self.serve("node", conf)
        wait_for(lambda: " ready" in p.output() or not p.alive(), 60, "ready")
        self.assertTrue(p.alive(), p.output())
        ids = status_ids(p.proc.pid)
        self.assertEqual(ids["Uid"], [nobody.pw_uid] * 4, ids)
        self.assertEqual(ids["Gid"], [nobody.pw_gid] * 4, ids)
        self.assertIn(nobody.pw_gid, ids["Groups"], ids)
        self.assertNotIn(0, ids["Groups"], ids)
        self.assertEqual(int(ids["CapEff"], 16), 0, ids)
        self.assertEqual(int(ids["CapPrm"], 16), 0, ids)
        self.assertIn("running as uid %d gid %d" % (nobody.pw_uid, nobody.pw_gid), p.output())

        run(["echoscu", "-aec", "HUREN", "127.0.0.1", "104"], check=True)
        study = uid(900)
        files = [write_instance(os.path.join(self.tmp, "%d.dcm" % i), study_uid=study,
                                series_uid=study + ".1", sop_uid="%s.1.%d" % (study, i),
                                patient_id="P-SVC", modality="CT", study_date="20240105")
                 for i in range(3)]
        files.append(os.path.join(self.tmp, "big.dcm"))  # its own blob file, not a pack
        write_instance(files[-1], study_uid=study, series_uid=study + ".1",
                       sop_uid=study + ".1.9", patient_id="P-SVC", modality="CT",
                       study_date="20240105", rows=1024, cols=1024)
        run(["storescu", "-aec", "HUREN", "127.0.0.1", "104"] + files, check=True)
        p2 = run(["findscu", "-S", "-aec", "HUREN", "-k", "QueryRetrieveLevel=STUDY",
                  "-k", "PatientID=P-SVC", "-k", "StudyInstanceUID", "127.0.0.1", "104"])
        self.assertIn(study, p2.stdout)
        paths = []
        for root, dirs, names in os.walk(data):
            paths += [os.path.join(root, n) for n in dirs + names]
        self.assertGreater(len(paths), 5, paths)
        for path in [data] + paths:
            st = os.lstat(path)
            self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid), path)
        self.assertEqual(p.stop(), 0, p.output())

    def test_root_without_user(self):
        need_root(self)
        pki = os.path.join(self.tmp, "pki")
        run(["bash", os.path.join(REPO, "conf", "make-test-pki.sh"), pki], check=True)
        conf = self.conf("wide", "[node]\nbind_address = 0.0.0.0\ndata_dir = %s/w\n"
                         "[dicom]\nport = %d\n[http]\nport = %d\ntls_cert = %s/server.crt\n"
                         "tls_key = %s/server.key\n[hl7]\nport = %d\n"
                         % (self.tmp, free_port(), free_port(), pki, pki, free_port()))
        p = self.serve("wide", conf)
        wait_for(lambda: not p.alive(), 30, "serve to refuse")
        self.assertEqual(p.stop(), 1)
        self.assertIn("not starting as root on 0.0.0.0: set [node] user", p.output())
        self.assertNotIn("listening", p.output())
        # on loopback it starts, with a warning
        n = self.node(name="loop").start()
        self.assertIn("WARN  serve: running as root: set [node] user", n.output())

    def test_bad_user_group_and_data_owner(self):
        need_root(self)
        data = os.path.join(self.tmp, "rootdata")
        os.mkdir(data)  # root's
        cases = [
            ("[node]\nuser = nobody\ndata_dir = %s\n" % data,
             "[node] data_dir: %s is owned by root, not by the [node] user nobody, who must "
             "write to it (chown -R nobody: %s)" % (data, data)),
            ("[node]\nuser = huren-no-such-user\ndata_dir = %s/x\n" % self.tmp,
             "[node] user: no such user: huren-no-such-user"),
            ("[node]\nuser = nobody\ngroup = no-such-group\ndata_dir = %s/x\n" % self.tmp,
             "[node] group: no such group: no-such-group"),
            ("[node]\ngroup = nogroup\ndata_dir = %s/x\n" % self.tmp,
             "[node] group: nogroup needs [node] user"),
        ]
        hidden = os.path.join(self.tmp, "hidden")
        os.mkdir(hidden, 0o700)  # root's, closed: nobody cannot reach what is inside
        cases.append(("[node]\nuser = nobody\ndata_dir = %s/data\n" % hidden,
                      "[node] data_dir: %s/data: not reachable for the [node] user nobody: "
                      "Permission denied" % hidden))
        for i, (text, line) in enumerate(cases):
            conf = self.conf("bad%d" % i, text + "[dicom]\nport = %d\n[http]\nport = %d\n"
                             "[hl7]\nport = %d\n" % (free_port(), free_port(), free_port()))
            c = run([HUREN, "check-config", "-c", conf])
            self.assertEqual(c.returncode, 2, c.stdout)
            self.assertIn("huren: %s: %s" % (conf, line), c.stdout)
            p = self.serve("bad%d" % i, conf)
            wait_for(lambda: not p.alive(), 30, "serve to refuse")
            self.assertNotEqual(p.stop(), 0)
            self.assertIn(line, p.output())
            self.assertNotIn("listening", p.output())

    def test_systemd_unit_verifies(self):
        tool = shutil.which("systemd-analyze")
        if not tool:
            self.skipTest("systemd-analyze is not installed: conf/huren.service not verified")
        with open(os.path.join(REPO, "conf", "huren.service")) as f:
            unit = f.read()
        for opt in ("ProtectSystem=strict", "ReadWritePaths=/var/lib/huren",
                    "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
                    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                    "AmbientCapabilities=CAP_NET_BIND_SERVICE", "RestrictAddressFamilies=",
                    "SystemCallFilter=@system-service", "User=huren",
                    "ExecReload=/bin/kill -HUP $MAINPID"):
            self.assertIn(opt, unit)
        path = os.path.join(self.tmp, "huren.service")
        with open(path, "w") as f:
            f.write(unit.replace("/usr/local/bin/huren", HUREN))
        p = run([tool, "verify", path])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(p.stdout.strip(), "")


if __name__ == "__main__":
    unittest.main()
