# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""prometheus_gate against a fake Prometheus: real HTTP on 127.0.0.1 (http.server in a thread)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from ansible_collections.mss.platform.plugins.modules import prometheus_gate
from ansible_collections.mss.platform.tests.unit.plugins.modules.utils import (
    AnsibleExitJson,
    AnsibleFailJson,
    patch_exit_fail,
    set_module_args,
)


class FakePrometheus:
    """Answers /api/v1/query with whatever the test put in self.answer: (HTTP status, body)."""

    def __init__(self):
        self.answer = (200, b"{}")
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                fake.requests.append({"path": url.path, "params": parse_qs(url.query), "headers": dict(self.headers)})
                status, body = fake.answer
                if url.path != "/api/v1/query":
                    status, body = 404, b"404 page not found"
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def prom():
    server = FakePrometheus()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _reset(prom):
    prom.requests.clear()
    prom.answer = (200, b"{}")


def vector(*values, labels=None):
    result = []
    for i, v in enumerate(values):
        metric = dict(labels[i]) if labels else {"pod": f"v2-{i}"}
        result.append({"metric": metric, "value": [1764100000.0, v]})
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def run(monkeypatch, **args):
    patch_exit_fail(monkeypatch)
    args.setdefault("query", "canary_success_rate")
    args.setdefault("op", ">=")
    args.setdefault("threshold", 99)
    with set_module_args(args), pytest.raises((AnsibleExitJson, AnsibleFailJson)) as exc:
        prometheus_gate.main()
    return exc.value


def test_pass_on_a_single_series(monkeypatch, prom):
    prom.answer = (200, vector("99.5"))
    out = run(monkeypatch, url=prom.url, name="success-rate")
    assert isinstance(out, AnsibleExitJson), out.result
    r = out.result
    assert r["passed"] is True and r["changed"] is False
    assert r["value"] == 99.5
    assert r["name"] == "success-rate"
    assert r["condition"] == "99.5 >= 99.0"
    assert r["series"] == [{"metric": {"pod": "v2-0"}, "value": 99.5}]
    assert prom.requests[0]["path"] == "/api/v1/query"
    assert prom.requests[0]["params"] == {"query": ["canary_success_rate"]}


def test_query_is_url_encoded_and_time_passed(monkeypatch, prom):
    prom.answer = (200, vector("1"))
    query = 'sum(rate(istio_requests_total{response_code!~"5.*"}[1m])) / 2 + 1'
    run(monkeypatch, url=prom.url + "/", query=query, op=">", threshold=0, time="2026-11-25T21:00:00Z")
    assert prom.requests[0]["params"] == {"query": [query], "time": ["2026-11-25T21:00:00Z"]}


def test_scalar_result(monkeypatch, prom):
    prom.answer = (200, {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "120"]}})
    out = run(monkeypatch, url=prom.url, op="<", threshold=500)
    assert out.result["passed"] is True and out.result["value"] == 120.0


def test_breach_fails_the_task(monkeypatch, prom):
    prom.answer = (200, vector("97.25"))
    out = run(monkeypatch, url=prom.url, name="success-rate")
    assert isinstance(out, AnsibleFailJson)
    assert out.result["msg"] == "gate success-rate breached: 97.25 >= 99.0 is false"
    assert out.result["passed"] is False and out.result["value"] == 97.25


def test_breach_reported_without_failing(monkeypatch, prom):
    prom.answer = (200, vector("97.25"))
    out = run(monkeypatch, url=prom.url, fail_on_breach=False)
    assert isinstance(out, AnsibleExitJson)
    assert out.result["passed"] is False


@pytest.mark.parametrize("op,threshold,passed", [
    ("<", 10, True), ("<", 5, False), ("<=", 5, True), (">", 5, False), (">=", 5, True),
    ("==", 5, True), ("!=", 5, False), ("!=", 4, True)])
def test_operators(monkeypatch, prom, op, threshold, passed):
    prom.answer = (200, vector("5"))
    out = run(monkeypatch, url=prom.url, op=op, threshold=threshold, fail_on_breach=False)
    assert out.result["passed"] is passed


@pytest.mark.parametrize("aggregate,value", [("min", 1.0), ("max", 5.0), ("sum", 9.0), ("avg", 3.0)])
def test_explicit_aggregation_of_several_series(monkeypatch, prom, aggregate, value):
    prom.answer = (200, vector("1", "3", "5"))
    out = run(monkeypatch, url=prom.url, op=">", threshold=0, aggregate=aggregate)
    assert isinstance(out, AnsibleExitJson)
    assert out.result["value"] == value
    assert len(out.result["series"]) == 3


def test_bearer_token_and_headers_are_sent(monkeypatch, prom):
    prom.answer = (200, vector("100"))
    run(monkeypatch, url=prom.url, bearer_token="s3cret", headers={"X-Scope-OrgID": "mss"})
    headers = {k.lower(): v for k, v in prom.requests[0]["headers"].items()}
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["x-scope-orgid"] == "mss"


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FAIL_CLOSED = {
    "no-data": ((200, {"status": "success", "data": {"resultType": "vector", "result": []}}), {},
                "returned no series (no data)"),
    "nan": ((200, vector("NaN")), {}, "is NaN"),
    "plus-inf": ((200, vector("+Inf")), {"op": "<", "threshold": 500}, "is infinite"),
    "minus-inf": ((200, vector("-Inf")), {"op": "<", "threshold": 500}, "is infinite"),
    "nan-hidden-by-aggregation": ((200, vector("100", "NaN")), {"aggregate": "min"}, "is NaN"),
    "scalar-nan": ((200, {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "NaN"]}}), {},
                   "is NaN"),
    "several-series": ((200, vector("100", "100")), {}, "returned 2 series"),
    "matrix": ((200, {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[1.0, "1"], [2.0, "1"]]}]}}), {}, "result type 'matrix'"),
    "string": ((200, {"status": "success", "data": {"resultType": "string", "result": [1.0, "x"]}}), {},
               "result type 'string'"),
    "bad-query-400": ((400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}), {},
                      "HTTP 400"),
    "unavailable-503": ((503, b"Service Unavailable"), {}, "HTTP 503"),
    "server-error-500": ((500, b""), {}, "HTTP 500"),
    "not-json": ((200, b"<html>proxy login</html>"), {}, "did not answer JSON"),
    "status-error": ((200, {"status": "error", "error": "boom"}), {}, "query failed (status 'error'): boom"),
    "no-data-key": ((200, {"status": "success"}), {}, "no data.resultType"),
    "malformed-sample": ((200, {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}),
                         {}, "malformed sample"),
    "not-a-number": ((200, vector("abc")), {}, "is not a number"),
}


@pytest.mark.parametrize("answer,args,message", FAIL_CLOSED.values(), ids=FAIL_CLOSED.keys())
def test_fails_closed(monkeypatch, prom, answer, args, message):
    prom.answer = answer
    # fail_on_breach false must not soften a failure to get a number
    out = run(monkeypatch, url=prom.url, name="g", fail_on_breach=False, **args)
    assert isinstance(out, AnsibleFailJson), out.result
    assert message in out.result["msg"], out.result["msg"]
    assert out.result["msg"].startswith("gate g failed closed: ")
    assert out.result["passed"] is False
    assert "value" not in out.result


def test_bad_data_error_detail_is_shown(monkeypatch, prom):
    prom.answer = (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
    out = run(monkeypatch, url=prom.url)
    assert "bad_data: parse error at char 5" in out.result["msg"]


def test_wrong_path_fails_closed(monkeypatch, prom):
    out = run(monkeypatch, url=prom.url + "/prometheus")
    assert isinstance(out, AnsibleFailJson)
    assert "HTTP 404" in out.result["msg"]


def test_unreachable_fails_closed(monkeypatch):
    out = run(monkeypatch, url=f"http://127.0.0.1:{_closed_port()}", timeout=2)
    assert isinstance(out, AnsibleFailJson)
    assert "cannot reach Prometheus" in out.result["msg"]
    assert out.result["passed"] is False


def test_check_mode_still_queries(monkeypatch, prom):
    prom.answer = (200, vector("100"))
    out = run(monkeypatch, url=prom.url, _ansible_check_mode=True)
    assert out.result["passed"] is True
    assert len(prom.requests) == 1
