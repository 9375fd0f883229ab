"""harness.py: runs build/huren and DCMTK's tools for the integration tests.

Every test works in its own temp folder, picks free ports, and stops every process it started
(by PID, also when it fails). Nothing here asserts timings: waits are bounded polls."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

HUREN = os.environ.get("HUREN_BIN") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build", "huren"))
DCMTK_ENV = dict(os.environ, TCP_NODELAY="1")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def run(cmd, timeout=120, check=False, cwd=None, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       cwd=cwd, env=env or DCMTK_ENV, text=True, errors="replace")
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(cmd), p.returncode, p.stdout))
    return p


class Process:
    """A child process with its output in a log file; stopped by PID."""

    def __init__(self, cmd, log_path, env=None, cwd=None):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env or DCMTK_ENV, cwd=cwd)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL, timeout=30)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Node:
    """One `huren serve` in a data folder, on free ports."""

    def __init__(self, workdir, name="node", config_text=None, aet="HUREN", extra_args=(),
                 https=False, ready_from_log=None):
        self.workdir = workdir
        self.name = name
        self.data = os.path.join(workdir, name + "-data")
        self.aet = aet
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.hl7_port = free_port()
        self.config_path = None
        if config_text is not None:
            self.config_path = os.path.join(workdir, name + ".conf")
            with open(self.config_path, "w") as f:
                f.write(config_text)
        self.extra_args = list(extra_args)
        self.https = https
        # nodes that want credentials (HTTPS, tokens) are ready when their log says so
        self.ready_from_log = https if ready_from_log is None else ready_from_log
        self.proc = None

    def args(self):
        a = [HUREN, "serve", "--data", self.data, "--aet", self.aet,
             "--dicom-port", str(self.dicom_port), "--http-port", str(self.http_port),
             "--hl7-port", str(self.hl7_port)]
        if self.config_path:
            a += ["-c", self.config_path]
        return a + self.extra_args

    def start(self):
        self.proc = Process(self.args(), os.path.join(self.workdir, self.name + ".log"))
        try:
            wait_for(lambda: not self.proc.alive() or self.healthy(), 60, "huren to start")
        except AssertionError:
            self.stop()
            raise
        if not self.proc.alive():
            raise AssertionError("huren exited at start:\n" + self.proc.output())
        return self

    def healthy(self):
        if self.ready_from_log:
            return port_open(self.http_port) and " ready" in self.output()
        try:
            with urllib.request.urlopen(self.url("/api/v1/health"), timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % ("https" if self.https else "http", self.http_port, path)

    def stop(self):
        if self.proc:
            rc = self.proc.stop()
            self.proc = None
            return rc
        return None

    def kill9(self):
        if self.proc:
            self.proc.kill9()
            self.proc = None

    def output(self):
        with open(os.path.join(self.workdir, self.name + ".log"), "rb") as f:
            return f.read().decode("utf-8", "replace")


class NodeTestCase(unittest.TestCase):
    """Gives each test a temp folder and stops whatever it registered, whatever happens."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="huren-it-")
        self._procs = []

    def tearDown(self):
        for p in reversed(self._procs):
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        if os.environ.get("HUREN_KEEP_TMP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def node(self, **kw):
        n = Node(self.tmp, **kw)
        self._procs.append(n)
        return n

    def process(self, cmd, name, **kw):
        p = Process(cmd, os.path.join(self.tmp, name + ".log"), **kw)
        self._procs.append(p)
        return p


def dcmdump_values(path):
    """{(group, elem): value} of the top-level elements of a DICOM file, values as UTF-8."""
    p = run(["dcmdump", "-q", "+U8", "+L", path], check=True)
    out = {}
    for line in p.stdout.splitlines():
        # top-level elements start at column 0; items of sequences are indented
        m = re.match(r"^\(([0-9a-f]{4}),([0-9a-f]{4})\) (\w\w) (.*?)\s+#", line)
        if not m:
            continue
        g, e, vr, raw = int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4)
        if raw.startswith("["):
            val = raw[1:raw.rfind("]")]
        elif raw.startswith("(no value"):
            val = ""
        else:
            val = raw.strip()
        out.setdefault((g, e), val)
    return out


def find(node, level, keys, model="-S", aet="FINDSCU", extra=()):
    """Run findscu; return a list of {(g,e): value} responses."""
    outdir = tempfile.mkdtemp(prefix="find-", dir=node.workdir)
    cmd = ["findscu", model, "-aet", aet, "-aec", node.aet, "-X", "-od", outdir,
           "-k", "QueryRetrieveLevel=" + level]
    for k in keys:
        cmd += ["-k", k]
    cmd += list(extra) + ["127.0.0.1", str(node.dicom_port)]
    p = run(cmd)
    if p.returncode != 0:
        raise AssertionError("findscu failed (%d):\n%s" % (p.returncode, p.stdout))
    results = [dcmdump_values(os.path.join(outdir, f)) for f in sorted(os.listdir(outdir))]
    shutil.rmtree(outdir, ignore_errors=True)
    return results


def curl(url, cacert=None, cert=None, key=None, headers=(), timeout=30):
    """GET url with curl (a real TLS client). Returns (status, headers text, body text);
    status 0 when no HTTP answer came (TLS handshake refused, ...)."""
    d = tempfile.mkdtemp(prefix="curl-")
    try:
        hdr, body = os.path.join(d, "h"), os.path.join(d, "b")
        cmd = ["curl", "-s", "--noproxy", "*", "-o", body, "-D", hdr, "-w", "%{http_code}",
               "--max-time", str(timeout)]
        if cacert:
            cmd += ["--cacert", cacert]
        if cert:
            cmd += ["--cert", cert, "--key", key]
        for h in headers:
            cmd += ["-H", h]
        p = run(cmd + [url], timeout=timeout + 10)
        code = p.stdout.strip()[-3:]
        return int(code) if code.isdigit() else 0, _text(hdr), _text(body)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _text(path):
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()
