"""The frontend image (apps/frontend, Next.js standalone) as Kubernetes runs it: health, homepage, a dashboard that
calls the API, contract metrics, JSON logs, read-only root filesystem."""

from __future__ import annotations

import json
import re

import pytest
from apps_helpers import assert_contract, docker, parse_exposition, sample, version


@pytest.fixture(scope="module")
def frontend(start_app, api):
    return start_app("frontend", {"API_URL": "http://api:8080", "LOG_LEVEL": "info"})


@pytest.fixture(scope="module")
def frontend_without_api(start_app, datastore):
    """API_URL points at a closed port of a container of ours (no outside DNS lookup)."""
    return start_app("frontend", {"API_URL": "http://datastore:9", "API_TIMEOUT_MS": "1500"})


def metrics(app) -> dict:
    status, _, text = app.http.get("/metrics")
    assert status == 200
    return parse_exposition(text)


def test_health_and_homepage(frontend):
    status, _, body = frontend.http.get("/api/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, headers, body = frontend.http.get("/")
    assert status == 200 and "text/html" in headers["Content-Type"]
    assert "<h1>MSS Platform</h1>" in body
    assert "X-Powered-By" not in headers
    # The page's JavaScript is served (static assets copied into the standalone server).
    chunk = re.search(r'src="(/_next/static/[^"]+\.js)"', body)
    assert chunk and frontend.http.get(chunk.group(1))[0] == 200


def test_dashboard_calls_the_api(frontend, api, datastore):
    status, _ = api.http.json("POST", "/api/interventions", {"title": "from-the-dashboard-test"})
    assert status == 201
    count = int(datastore.psql("SELECT count(*) FROM mss_interventions"))
    status, _, body = frontend.http.get("/dashboard")
    assert status == 200
    assert f'<td id="interventions">{count}</td>' in body, body[-1500:]
    assert '<td id="api-version">' + version("api") + "</td>" in body


def test_dashboard_reports_an_unreachable_api(frontend_without_api):
    status, _, body = frontend_without_api.http.get("/dashboard")
    assert status == 200
    assert 'id="api-error"' in body and "The API is not answering" in body


def test_contract_metrics(frontend):
    before = metrics(frontend)
    assert frontend.http.get("/dashboard")[0] == 200
    assert frontend.http.get("/no-such-page")[0] == 404
    after = metrics(frontend)
    assert_contract(after, "mss-frontend", version("frontend"))
    assert sample(after, "http_requests_total", route="/dashboard", method="GET", status="200") == \
        sample(before, "http_requests_total", route="/dashboard", method="GET", status="200") + 1
    assert sample(after, "http_requests_total", route="unmatched", method="GET", status="404") >= 1
    assert sample(after, "mss_reports_generated_total") == sample(before, "mss_reports_generated_total") + 1
    assert sample(after, "mss_feature_usage_total", feature="dashboard") == \
        sample(before, "mss_feature_usage_total", feature="dashboard") + 1


def test_runs_hardened_and_logs_json(frontend):
    cfg = json.loads(docker("inspect", "--format", "{{json .HostConfig}}", frontend.name).stdout)
    assert cfg["ReadonlyRootfs"] is True and cfg["CapDrop"] == ["ALL"], cfg
    ids = docker("exec", frontend.name, "sh", "-c", "id -u; id -g; grep ^CapEff /proc/1/status").stdout.split()
    assert ids[:2] == ["10001", "10001"] and ids[-1] == "0000000000000000", ids
    lines = frontend.logs()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert record["service"] == "mss-frontend" and record["level"] in ("debug", "info", "warn"), record
    text = "\n".join(lines)
    assert "EROFS" not in text and "read-only" not in text.lower(), text[-2000:]
    assert any(json.loads(line)["msg"] == "request" for line in lines)
