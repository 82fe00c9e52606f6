#!/usr/bin/python3
# ruff: noqa: S104, S310, S311, UP031 - a test target on the scenario network: binds all interfaces, random traffic
"""Probe app: the application metrics of the metrics contract for two services, mss-frontend (:8081) and mss-api
(:8082), counted from the real requests it serves (a driver sends them, probe_driver.py). Error injection: the
fraction in /etc/probe-app/error_rate (0..1) of requests to /work is answered 503. TLS on :8443 with the
certificate in /etc/probe-app/tls.{crt,key} (a test certificate expiring soon). Stdlib only."""

import random
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
LOCK = threading.Lock()
STATE = {}
VERSION = {"mss-frontend": "1.0.0", "mss-api": "1.0.0"}


def error_rate():
    try:
        return float(open("/etc/probe-app/error_rate").read().strip() or 0)
    except (OSError, ValueError):
        return 0.0


def observe(service, route, status, seconds):
    with LOCK:
        s = STATE.setdefault(service, {"req": {}, "hist": {}, "auth": {"success": 0, "failure": 0},
                                       "interventions": 0, "reports": 0, "features": {}})
        key = ("GET", route, str(status))
        s["req"][key] = s["req"].get(key, 0) + 1
        h = s["hist"].setdefault(("GET", route), {"b": [0] * len(BUCKETS), "sum": 0.0, "count": 0})
        for i, le in enumerate(BUCKETS):
            if seconds <= le:
                h["b"][i] += 1
        h["sum"] += seconds
        h["count"] += 1
        if route == "/login":
            s["auth"]["success" if status == 200 else "failure"] += 1
        if route == "/work" and status == 200:
            s["interventions"] += 1
            s["reports"] += 1 if random.random() < 0.2 else 0
            f = random.choice(["search", "export", "map"])
            s["features"][f] = s["features"].get(f, 0) + 1


def render(service):
    out = []
    with LOCK:
        s = STATE.get(service)
        if s is None:
            return ""
        out.append("# TYPE http_requests_total counter")
        for (m, r, st), v in sorted(s["req"].items()):
            out.append('http_requests_total{service="%s",method="%s",route="%s",status="%s"} %d'
                       % (service, m, r, st, v))
        out.append("# TYPE http_request_duration_seconds histogram")
        for (m, r), h in sorted(s["hist"].items()):
            lab = f'service="{service}",method="{m}",route="{r}"'
            for le, c in zip(BUCKETS, h["b"], strict=False):
                out.append('http_request_duration_seconds_bucket{%s,le="%s"} %d' % (lab, le, c))
            out.append('http_request_duration_seconds_bucket{%s,le="+Inf"} %d' % (lab, h["count"]))
            out.append("http_request_duration_seconds_sum{{{}}} {:f}".format(lab, h["sum"]))
            out.append("http_request_duration_seconds_count{%s} %d" % (lab, h["count"]))
        out.append("# TYPE mss_auth_attempts_total counter")
        for res, v in sorted(s["auth"].items()):
            out.append('mss_auth_attempts_total{service="%s",result="%s"} %d' % (service, res, v))
        out.append("# TYPE mss_user_sessions_active gauge")
        out.append('mss_user_sessions_active{service="%s"} %d' % (service, 10 + s["auth"]["success"] % 7))
        out.append("# TYPE mss_interventions_total counter")
        out.append('mss_interventions_total{service="%s"} %d' % (service, s["interventions"]))
        out.append("# TYPE mss_reports_generated_total counter")
        out.append('mss_reports_generated_total{service="%s"} %d' % (service, s["reports"]))
        out.append("# TYPE mss_feature_usage_total counter")
        for f, v in sorted(s["features"].items()):
            out.append('mss_feature_usage_total{service="%s",feature="%s"} %d' % (service, f, v))
    out.append("# TYPE mss_deployment_info gauge")
    out.append(f'mss_deployment_info{{service="{service}",version="{VERSION[service]}"}} 1')
    return "\n".join(out) + "\n"


def handler(service):
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            start = time.monotonic()
            if self.path == "/metrics":
                body, status = render(service).encode(), 200
            else:
                route = self.path.split("?")[0] if self.path.split("?")[0] in ("/", "/work", "/login") else "/other"
                status = 503 if route == "/work" and random.random() < error_rate() else 200
                if route == "/login" and "fail" in self.path:
                    status = 401
                time.sleep(random.uniform(0.001, 0.02))
                body = b"ok\n"
                observe(service, route, status, time.monotonic() - start)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    return H


def main():
    servers = [ThreadingHTTPServer(("0.0.0.0", 8081), handler("mss-frontend")),
               ThreadingHTTPServer(("0.0.0.0", 8082), handler("mss-api"))]
    tls = ThreadingHTTPServer(("0.0.0.0", 8443), handler("mss-frontend"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain("/etc/probe-app/tls.crt", "/etc/probe-app/tls.key")
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in servers + [tls]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
