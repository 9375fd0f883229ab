"""pg.py: a real PostgreSQL for the tests (Debian's postgresql-15), started by the test itself.

initdb and pg_ctl in a temp folder of their own, listening on a Unix socket in that folder only
(no TCP) with a free port number (the socket's name), a database "huren" owned by user "huren",
trust authentication (nothing leaves the socket folder). The server refuses to run as root, so
when the tests run as root (CI containers) it runs as the unprivileged user "nobody": the folder
is made for it, outside the test's own temp folder, which nobody may not enter. stop() always
runs from the test's cleanup, also when the test failed."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from harness import free_port

PG_BIN = os.environ.get("HUREN_PG_BIN") or next(
    iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), "")
RUN_AS = "nobody"


def available():
    """Are the server binaries there? (Debian's postgresql-15; .ci/setup installs it.)"""
    return bool(PG_BIN) and os.path.exists(os.path.join(PG_BIN, "initdb"))


def _as_user(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", RUN_AS, "--"] + cmd
    return cmd


class Cluster:
    """One PostgreSQL server in its own folder. `standby_of` makes it a streaming standby of
    another Cluster (pg_basebackup -R) instead of a new database."""

    def __init__(self, name="pg", standby_of=None):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="huren-%s-" % name)
        os.chmod(self.dir, 0o700)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.log = os.path.join(self.dir, "server.log")
        self.standby_of = standby_of
        self.running = False

    def _run(self, cmd, timeout=120):
        p = subprocess.run(_as_user(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout, cwd=self.dir)
        if p.returncode != 0:
            raise AssertionError("%s exited %d:\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                           self.server_log()))
        return p.stdout

    def bin(self, tool):
        return os.path.join(PG_BIN, tool)

    def start(self):
        if self.standby_of:
            self._run([self.bin("pg_basebackup"), "-h", self.standby_of.dir, "-p",
                       str(self.standby_of.port), "-U", "huren", "-D", self.data, "-R",
                       "-X", "stream", "-c", "fast"])
        elif not os.path.exists(self.data):
            self._run([self.bin("initdb"), "-D", self.data, "-U", "huren", "--auth=trust",
                       "-E", "UTF8", "--locale=C", "--no-sync"])
            with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
                # replication needs wal_level replica (the default) and a sender slot
                f.write("fsync = off\nfull_page_writes = off\nmax_wal_senders = 4\n"
                        "wal_keep_size = 64MB\nhot_standby = on\n")
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write("local replication all trust\n")
        self.restart()
        if not self.standby_of:
            if "huren" not in self.sql("SELECT datname FROM pg_database", db="postgres"):
                self._run([self.bin("createdb"), "-h", self.dir, "-p", str(self.port),
                           "-U", "huren", "huren"])
        return self

    def restart(self):
        self._run([self.bin("pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o",
                   "-p %d -k %s -c listen_addresses=''" % (self.port, self.dir), "start"])
        self.running = True

    def dsn(self):
        return "host=%s port=%d dbname=huren user=huren" % (self.dir, self.port)

    def sql(self, query, db="huren"):
        """psql -At: rows as text lines."""
        return self._run([self.bin("psql"),
                          "-h", self.dir, "-p", str(self.port), "-U", "huren", "-d", db,
                          "-v", "ON_ERROR_STOP=1", "-At", "-c", query])

    def reset(self):
        """An empty database for the next test (the server keeps running)."""
        self.sql("DROP DATABASE IF EXISTS huren WITH (FORCE)", db="postgres")
        self.sql("CREATE DATABASE huren", db="postgres")

    def promote(self):
        self._run([self.bin("pg_ctl"), "-D", self.data, "-w", "promote"])

    def wait_replayed(self, primary, timeout=30):
        """Until this standby has replayed everything the primary has written."""
        lsn = primary.sql("SELECT pg_current_wal_lsn()").strip()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sql("SELECT pg_last_wal_replay_lsn() >= '%s'" % lsn).strip() == "t":
                return
            time.sleep(0.05)
        raise AssertionError("standby did not catch up")

    def stop(self, mode="fast"):
        if self.running:
            try:
                self._run([self.bin("pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"])
            except AssertionError:
                pass
            self.running = False

    def kill(self):
        """The primary dies: immediate shutdown, no checkpoint, connections cut."""
        self.stop("immediate")

    def server_log(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
