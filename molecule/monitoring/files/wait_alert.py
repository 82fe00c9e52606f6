#!/usr/bin/python3
"""Wait until the webhook receiver recorded a notification for an alert: --receiver pager --alert RedisDown
--status firing|resolved --since <unix time> [--label k=v] --timeout 240. Prints the matching record's
{received, auth_ok, labels, status, receiver}; exit 1 on timeout."""

import argparse
import json
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--receiver", required=True)
ap.add_argument("--alert", required=True)
ap.add_argument("--status", default="firing")
ap.add_argument("--since", type=float, default=0)
ap.add_argument("--label", action="append", default=[])
ap.add_argument("--timeout", type=float, default=240)
args = ap.parse_args()
want = dict(kv.split("=", 1) for kv in args.label)
path = f"/var/lib/webhook-receiver/{args.receiver}.jsonl"
end = time.time() + args.timeout
while time.time() < end:
    if os.path.exists(path):
        for line in open(path):
            rec = json.loads(line)
            if rec["received"] < args.since:
                continue
            for a in rec["body"].get("alerts", []):
                labels = a.get("labels", {})
                if labels.get("alertname") == args.alert and a.get("status") == args.status and \
                        all(labels.get(k) == v for k, v in want.items()):
                    print(json.dumps({"received": rec["received"], "auth_ok": rec["auth_ok"], "labels": labels,
                                      "status": a["status"], "receiver": rec["body"].get("receiver"),
                                      "after": rec["received"] - args.since}))
                    sys.exit(0)
    time.sleep(0.5)
print(f"no {args.status} {args.alert} notification at {args.receiver} since {args.since}", file=sys.stderr)
sys.exit(1)
