#!/usr/bin/python3
"""his-launch-url.py: make a signed huren launch URL, as a HIS does (docs/api/his.md).

  tools/his-launch-url.py --base https://huren.hospital-a.example:8443 --his his-a \\
      --key /etc/huren/his-a.key --patient P100 --doctor D017 --doctor-name 王医生 \\
      --department 放射科 --order O1=CT-CHEST [--order O2=HGB] [--resident-id 3701...] [--ttl 120]

The key file holds the HMAC-SHA256 key as bytes (32 or more, e.g. `head -c 32 /dev/urandom`),
the same file as [his "NAME"] key_file. Prints the URL."""

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import sys
import time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def launch_url(base, his, key, patient=None, resident_id=None, doctor=None, doctor_name="",
               department="", visit="", orders=(), ttl=120, now=None, nonce=None):
    """The launch URL for these values (ttl: seconds until exp, at most 300)."""
    iat = int(time.time() if now is None else now)
    ctx = {"his": his, "patient": {}, "doctor": {"id": doctor, "name": doctor_name},
           "department": department, "visit": visit,
           "orders": [{"id": i, "code": c} for i, c in orders],
           "iat": iat, "exp": iat + ttl, "nonce": nonce or secrets.token_urlsafe(18)}
    if patient:
        ctx["patient"]["id"] = patient
    if resident_id:
        ctx["patient"]["resident_id"] = resident_id
    text = b64url(json.dumps(ctx, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    sig = b64url(hmac.new(key, text.encode("ascii"), hashlib.sha256).digest())
    return "%s/ui/launch?ctx=%s&sig=%s" % (base.rstrip("/"), text, sig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the gateway, https://host:port")
    ap.add_argument("--his", required=True, help='the NAME of [his "NAME"]')
    ap.add_argument("--key", required=True, help="the key file")
    ap.add_argument("--patient", help="the local patient id")
    ap.add_argument("--resident-id")
    ap.add_argument("--doctor", required=True)
    ap.add_argument("--doctor-name", default="")
    ap.add_argument("--department", default="")
    ap.add_argument("--visit", default="")
    ap.add_argument("--order", action="append", default=[], help="ORDER_ID=ITEM_CODE")
    ap.add_argument("--ttl", type=int, default=120)
    a = ap.parse_args()
    if not a.patient and not a.resident_id:
        ap.error("--patient or --resident-id")
    with open(a.key, "rb") as f:
        key = f.read()
    orders = [tuple(o.split("=", 1)) if "=" in o else ("", o) for o in a.order]
    print(launch_url(a.base, a.his, key, a.patient, a.resident_id, a.doctor, a.doctor_name,
                     a.department, a.visit, orders, a.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
