"""test_region_kit.py: the "Set up a region" walk-through of docs/operate.md, run as written.

The `sh` blocks of that section (conf/make-test-pki.sh, check-config of each configuration of
conf/region-example/, the directory and three hospitals started, a CT stored at A with storescu,
a blood count sent to B with mllp_send, C's timeline and prompt, the retrieval into C) run in
order as one bash script in a temp folder. The only rewriting is the one the section documents:
the ports' prefix 184 becomes a free one (in the commands, and in the configurations with the
section's own sed line). Then each step's output is checked."""

import os
import random
import re
import signal
import subprocess
import time
import unittest

from harness import HUREN, NodeTestCase, port_open

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(REPO, "docs", "operate.md")
PORTS = ["00", "10", "11", "12", "20", "21", "22", "30", "31", "32"]
STUDY = "1.2.826.0.1.3680043.10.1492.900.1"


def section(text, title):
    start = text.index("\n## " + title + "\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def steps(sec):
    """[(name, commands)] of the section's ```sh step=NAME blocks, in order."""
    return re.findall(r"^```sh step=(\w+)\n(.*?)^```$", sec, re.M | re.S)


def free_prefix():
    """A three-digit prefix P whose ports P00..P32 are all free, below the kernel's ephemeral
    range (32768 up): other tests' servers and clients get their ports there, so none can take
    one of ours between this check and the script's bind."""
    for _ in range(200):
        p = str(random.randint(200, 326))
        if not any(port_open(int(p + s)) for s in PORTS):
            return p
    raise AssertionError("no free port prefix")


class RegionKitTest(NodeTestCase):

    def tearDown(self):
        # the nodes the script started (their pid files), if it stopped before its last step
        region = os.path.join(self.tmp, "region")
        for name in os.listdir(region) if os.path.isdir(region) else []:
            if name.endswith(".pid"):
                with open(os.path.join(region, name)) as f:
                    pid = int(f.read().strip() or 0)
                try:
                    os.kill(pid, signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass
        super().tearDown()

    def test_walk_through_as_documented(self):
        with open(DOC, encoding="utf-8") as f:
            sec = section(f.read(), "Set up a region")
        found = steps(sec)
        self.assertEqual([n for n, _ in found],
                         ["setup", "pki", "check", "start", "store", "prompt", "retrieve",
                          "stop"])
        # the documented port rewrite: this sed line, with our prefix instead of 190
        sed = re.search(r"`(sed -i 's/184\\\(\[0-9\]\[0-9\]\\\)/190\\1/g' \*\.conf)`", sec)
        self.assertIsNotNone(sed, "the section's sed line")
        prefix = free_prefix()
        script = ["set -euo pipefail"]
        for name, cmds in found:
            script.append("echo '=== %s'" % name)
            script.append(re.sub(r"\b184(\d\d)\b", prefix + r"\1", cmds))
            if name == "setup":
                script.append(sed.group(1).replace("/190", "/" + prefix))
        env = dict(os.environ, HUREN_SRC=REPO, HUREN_BUILD=os.path.dirname(HUREN),
                   TCP_NODELAY="1")
        p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=self.tmp, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace", timeout=600)
        out = dict(re.findall(r"^=== (\w+)\n(.*?)(?=^=== |\Z)", p.stdout, re.M | re.S))
        region = os.path.join(self.tmp, "region")
        logs = ""
        for name in ("directory", "hospital-a", "hospital-b", "hospital-c"):
            path = os.path.join(region, name + ".log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    logs += "--- %s.log\n%s" % (name, f.read()[-3000:])
        self.assertEqual(p.returncode, 0, p.stdout + logs)

        # the PKI: a gateway certificate for server and client use; a signer naming the hospital
        self.assertIn("test PKI written to pki", out["pki"])
        pki = os.path.join(region, "pki")
        ext = subprocess.run(["openssl", "x509", "-noout", "-ext", "extendedKeyUsage", "-in",
                              os.path.join(pki, "H37010001", "gateway.crt")],
                             stdout=subprocess.PIPE, text=True, check=True).stdout
        self.assertIn("TLS Web Server Authentication", ext)
        self.assertIn("TLS Web Client Authentication", ext)
        subj = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt",
                               "RFC2253,-esc_msb", "-in",
                               os.path.join(pki, "H37020002", "claims-signer.crt")],
                              stdout=subprocess.PIPE, text=True, check=True).stdout
        self.assertIn("O=青岛市市立医院", subj)
        self.assertIn("OU=H37020002", subj)
        for f in ("directory.crt", "H37030003/insurer.crt", "H37030003/clinician.crt"):
            self.assertTrue(os.path.exists(os.path.join(pki, f)), f)

        # every configuration checked OK, on the rewritten ports
        self.assertEqual(out["check"].count("configuration OK"), 4, out["check"])
        with open(os.path.join(region, "hospital-c.conf")) as f:
            self.assertIn("port = %s30" % prefix, f.read())
        # B acknowledged its LIS message after the commit
        self.assertIn("MSA|AA|B-CBC-0001", out["store"])
        # C: the consent, both hospitals' results, A's CT in the prompt
        self.assertIn('"resourceType":"Consent"', out["prompt"])
        self.assertIn('["H37010001","CT-CHEST-PLAIN","imaging"]', out["prompt"])
        self.assertIn('["H37020002","LAB-CBC","lab"]', out["prompt"])
        self.assertIn('["H37010001","H37010001/study:%s"]' % STUDY, out["prompt"])
        # the study retrieved from A and found at C by the resident id
        self.assertIn('"status":"complete","stored":1', out["retrieve"])
        self.assertIn('["%s"]' % STUDY, out["retrieve"])
        # every node stopped cleanly on SIGTERM
        for name in ("directory", "hospital-a", "hospital-b", "hospital-c"):
            path = os.path.join(region, name + ".log")
            for _ in range(600):
                with open(path, errors="replace") as f:
                    if "INFO  serve: stopped" in f.read():
                        break
                time.sleep(0.1)
            with open(path, errors="replace") as f:
                self.assertIn("serve: stopped", f.read(), name)
            os.unlink(os.path.join(region, name + ".pid"))


if __name__ == "__main__":
    unittest.main()
