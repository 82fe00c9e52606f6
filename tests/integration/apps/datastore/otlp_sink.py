"""OTLP/HTTP sink for the app tests: stores every POSTed body as <dir>/<n>-<path>.json and answers {}."""

import gzip
import itertools
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OUT = Path(sys.argv[1])
COUNTER = itertools.count()


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    break
                body += chunk
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        name = self.path.strip("/").replace("/", "_") or "root"
        target = OUT / f"{next(COUNTER):05d}-{name}.json"
        tmp = target.with_suffix(".part")
        tmp.write_bytes(body)
        tmp.rename(target)  # readers never see a partly written body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", 4318), Sink).serve_forever()
