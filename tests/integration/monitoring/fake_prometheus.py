"""A small stand-in for Prometheus's HTTP API on loopback, to unit-test tests/harness/dashboard_queries.py.

It answers /api/v1/query (a vector with one series, or no series for queries matching one of `empty`, or a
400 bad_data error for queries matching one of `errors`), /api/v1/label/<name>/values (from `labels`, keyed by
label name; the match[] selectors are recorded) and /api/v1/labels; it records every request and, when `auth`
is set, answers 401 to requests without that basic auth header.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakePrometheus:
    def __init__(self, labels: dict[str, list[str]] | None = None, empty: list[str] | None = None,
                 errors: list[str] | None = None, auth: tuple[str, str] | None = None) -> None:
        self.labels = labels or {}
        self.empty = [re.compile(p) for p in empty or []]
        self.errors = [re.compile(p) for p in errors or []]
        self.auth = None if auth is None else "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        self.queries: list[str] = []
        self.label_requests: list[tuple[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 (http.server's naming)
                if fake.auth is not None and self.headers.get("Authorization") != fake.auth:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="prometheus"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                url = urllib.parse.urlparse(self.path)
                params = urllib.parse.parse_qs(url.query)
                if url.path == "/api/v1/query":
                    query = params.get("query", [""])[0]
                    fake.queries.append(query)
                    if any(p.search(query) for p in fake.errors):
                        self._send(400, {"status": "error", "errorType": "bad_data",
                                         "error": "1:1: parse error: unexpected character"})
                        return
                    result = [] if any(p.search(query) for p in fake.empty) else [
                        {"metric": {"instance": "host-1"}, "value": [0, "1"]}]
                    self._send(200, {"status": "success", "data": {"resultType": "vector", "result": result}})
                elif url.path.startswith("/api/v1/label/") and url.path.endswith("/values"):
                    name = urllib.parse.unquote(url.path[len("/api/v1/label/"):-len("/values")])
                    fake.label_requests.append((name, params.get("match[]", [])))
                    self._send(200, {"status": "success", "data": fake.labels.get(name, [])})
                elif url.path == "/api/v1/labels":
                    self._send(200, {"status": "success", "data": sorted(fake.labels)})
                else:
                    self._send(404, {"status": "error", "errorType": "not_found", "error": url.path})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakePrometheus:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
