"""A loopback HTTP endpoint serving the metrics contract's application metrics (the names the probe app and the
reference apps expose), with counters that grow between scrapes, for a real Prometheus to scrape in the tests."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]


class AppMetrics:
    def __init__(self) -> None:
        self.scrapes = 0
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                app.scrapes += 1
                body = app.render(app.scrapes).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def render(n: int) -> str:
        lines = []
        for service, route in (("mss-frontend", "/"), ("mss-api", "/api/interventions")):
            ok, err, auth = 100 * n, n, 3 * n
            lines += [
                f'http_requests_total{{service="{service}",method="GET",route="{route}",status="200"}} {ok}',
                f'http_requests_total{{service="{service}",method="GET",route="{route}",status="503"}} {err}',
                f'http_requests_total{{service="{service}",method="POST",route="/login",status="401"}} {n}',
                f'mss_auth_attempts_total{{service="{service}",result="success"}} {auth}',
                f'mss_auth_attempts_total{{service="{service}",result="failure"}} {n}',
                f'mss_user_sessions_active{{service="{service}"}} {5 + n % 3}',
                f'mss_interventions_total{{service="{service}"}} {2 * n}',
                f'mss_reports_generated_total{{service="{service}"}} {n}',
                f'mss_feature_usage_total{{service="{service}",feature="search"}} {4 * n}',
                f'mss_deployment_info{{service="{service}",version="1.4.2"}} 1',
            ]
            count = ok + err
            for i, le in enumerate(BUCKETS):
                share = min(1.0, (i + 1) / 6)
                lines.append(f'http_request_duration_seconds_bucket{{service="{service}",method="GET",route="{route}",'
                             f'le="{le}"}} {int(count * share)}')
            lines.append(f'http_request_duration_seconds_sum{{service="{service}",method="GET",route="{route}"}} '
                         f'{count * 0.04:.3f}')
            lines.append(f'http_request_duration_seconds_count{{service="{service}",method="GET",route="{route}"}} '
                         f'{count}')
        return "\n".join(lines) + "\n"

    def __enter__(self) -> AppMetrics:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
