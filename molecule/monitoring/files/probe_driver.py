#!/usr/bin/python3
# ruff: noqa: S104, S310, S311, UP031 - a test target on the scenario network: binds all interfaces, random traffic
"""Bounded request loop for the probe app: about 10 requests/s in total to both services (/, /work, /login),
for --duration seconds (default 3600; the systemd unit restarts it). Loopback only."""

import argparse
import random
import time
import urllib.error
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--duration", type=int, default=3600)
ap.add_argument("--rate", type=float, default=10.0)
args = ap.parse_args()
end = time.monotonic() + args.duration
while time.monotonic() < end:
    port = random.choice([8081, 8082])
    path = random.choice(["/", "/work", "/work", "/login"])
    try:
        urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5).read()
    except (urllib.error.URLError, OSError):
        pass
    time.sleep(1.0 / args.rate)
