#!/usr/bin/python3
# ruff: noqa: S104, S310, S311, UP031 - a test target on the scenario network: binds all interfaces, random traffic
"""Test webhook receiver: records every POST Alertmanager sends, one JSON line per notification, in
/var/lib/webhook-receiver/<path>.jsonl (pager, chat, low-noise, watchdog), with whether the bearer token matched
the receiver's secret (/etc/webhook-receiver/tokens.json: path -> token). Stdlib only."""

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = "/var/lib/webhook-receiver"
TOKENS = json.load(open("/etc/webhook-receiver/tokens.json"))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        name = self.path.strip("/").replace("/", "_") or "root"
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        auth = self.headers.get("Authorization", "")
        record = {"received": time.time(), "path": name,
                  "auth_ok": auth == "Bearer " + TOKENS.get(name, "\0"), "body": json.loads(body or b"{}")}
        with open(os.path.join(DIR, name + ".jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


os.makedirs(DIR, exist_ok=True)
ThreadingHTTPServer(("0.0.0.0", 9099), Handler).serve_forever()
