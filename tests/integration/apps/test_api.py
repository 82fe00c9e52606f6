"""The API image (apps/api) as Kubernetes runs it: probes, contract metrics, PostgreSQL + Redis Cluster round trip,
readiness following its data stores, tracing, login metrics, and a SIGTERM that drains in-flight requests."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from apps_helpers import assert_contract, docker, parse_exposition, sample, version, wait_for


def metrics(app) -> dict:
    status, headers, text = app.http.get("/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain"), headers["Content-Type"]
    return parse_exposition(text)


def test_liveness_readiness_and_contract_metrics(api):
    status, body = api.http.json("GET", "/health")
    assert (status, body["status"], body["service"]) == (200, "ok", "mss-api")
    status, body = api.http.json("GET", "/ready")
    assert status == 200, body
    assert body["checks"] == {"postgresql": "ok", "redis": "ok"}, body
    assert_contract(metrics(api), "mss-api", version("api"))


def test_runs_hardened(api):
    """Non-root 10001:10001, read-only root, no capabilities: as the app role's Pod securityContext demands."""
    cfg = json.loads(docker("inspect", "--format", "{{json .HostConfig}}", api.name).stdout)
    assert cfg["ReadonlyRootfs"] is True and cfg["CapDrop"] == ["ALL"], cfg
    ids = docker("exec", api.name, "sh", "-c", "id -u; id -g; grep ^CapEff /proc/1/status").stdout.split()
    assert ids[:2] == ["10001", "10001"] and ids[-1] == "0000000000000000", ids
    # Even root (the owner of /app) cannot write outside /tmp: the root filesystem is read-only.
    probe = docker("exec", "--user", "0", api.name, "touch", "/app/x", check=False)
    assert probe.returncode != 0 and "Read-only file system" in probe.stderr, probe.stderr
    assert docker("exec", api.name, "touch", "/tmp/x", check=False).returncode == 0


def test_data_round_trip_through_postgresql_and_redis_cluster(api, datastore):
    before = sample(metrics(api), "mss_interventions_total")
    title = f"smoke-{time.time_ns()}"
    status, row = api.http.json("POST", "/api/interventions", {"title": title})
    assert status == 201, row
    ident = row["id"]
    # Really in PostgreSQL and really in the Redis Cluster (read with redis-cli in cluster mode).
    assert datastore.psql(f"SELECT title FROM mss_interventions WHERE id = {int(ident)}") == title
    assert json.loads(datastore.redis("GET", f"mss:intervention:{ident}"))["title"] == title
    status, got = api.http.json("GET", f"/api/interventions/{ident}")
    assert (status, got["title"], got["source"]) == (200, title, "redis"), got
    # Cache evicted: read from PostgreSQL, then cached again.
    assert datastore.redis("DEL", f"mss:intervention:{ident}") == "1"
    status, got = api.http.json("GET", f"/api/interventions/{ident}")
    assert (status, got["title"], got["source"]) == (200, title, "postgresql"), got
    assert datastore.redis("EXISTS", f"mss:intervention:{ident}") == "1"
    status, summary = api.http.json("GET", "/api/summary")
    assert status == 200
    assert summary["interventions"] == int(datastore.psql("SELECT count(*) FROM mss_interventions"))
    assert summary["created_via_api"] == int(datastore.redis("GET", "mss:interventions:created"))
    after = metrics(api)
    assert sample(after, "mss_interventions_total") == before + 1
    assert sample(after, "http_requests_total", route="/api/interventions", method="POST", status="201") >= 1
    assert sample(after, "http_requests_total", route="/api/interventions/:id", method="GET", status="200") >= 2
    assert sample(after, "http_request_duration_seconds_count", route="/api/summary", method="GET") >= 1
    status, _ = api.http.json("GET", "/api/interventions/999999999")
    assert status == 404
    status, _ = api.http.json("POST", "/api/interventions", {"title": ""})
    assert status == 400


@pytest.mark.parametrize("store", ["postgresql", "redis"])
def test_readiness_follows_each_store(api, datastore, store):
    other = {"postgresql": "redis", "redis": "postgresql"}[store]
    datastore.run(f"stop-{store}")
    try:
        def not_ready():
            status, body = api.http.json("GET", "/ready", timeout=5)
            return (status, body) if status == 503 and body["checks"][store] != "ok" else None

        status, body = wait_for(not_ready, 20, f"/ready false with {store} down")
        assert body["ready"] is False and body["checks"][other] == "ok", body
        # Liveness does not depend on the stores (a restart would not help).
        assert api.http.get("/health")[0] == 200
        status, _ = api.http.json("GET", "/api/summary")
        assert status >= 500
    finally:
        datastore.run(f"start-{store}")
    wait_for(lambda: api.http.get("/ready", timeout=5)[0] == 200, 30, f"/ready true with {store} back")
    status, _ = api.http.json("POST", "/api/interventions", {"title": f"after-{store}-restart"})
    assert status == 201


def test_login_attempts_and_sessions_metrics(api, passwords):
    before = metrics(api)
    status, _ = api.http.json("POST", "/api/login", {"token": "wrong"})
    assert status == 401
    status, body = api.http.json("POST", "/api/login", {"token": passwords["login"]})
    assert status == 201 and body["session"], body
    after = metrics(api)
    for result in ("failure", "success"):
        assert sample(after, "mss_auth_attempts_total", result=result) == \
            sample(before, "mss_auth_attempts_total", result=result) + 1
    assert sample(after, "mss_user_sessions_active") == sample(before, "mss_user_sessions_active") + 1
    assert sample(after, "mss_feature_usage_total", feature="login") == \
        sample(before, "mss_feature_usage_total", feature="login") + 2


def test_traces_reach_the_otlp_endpoint(api, datastore):
    status, row = api.http.json("POST", "/api/interventions", {"title": "traced"})
    assert status == 201

    def spans():
        found = []
        for body in datastore.otlp_bodies():
            for rs in body.get("resourceSpans", []):
                res = {a["key"]: a["value"].get("stringValue") for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for span in ss["spans"]:
                        attrs = {a["key"]: next(iter(a["value"].values()), None) for a in span.get("attributes", [])}
                        found.append((res.get("service.name"), span["name"], span["traceId"], attrs))
        return found

    def complete():
        found = spans()
        servers = [s for s in found if s[1] == "POST /api/interventions"]
        for _, _, trace_id, _ in servers:
            systems = {str(a.get("db.system") or a.get("db.system.name")) for _, _, t, a in found if t == trace_id}
            if "postgresql" in systems and "redis" in systems:
                return found
        return None

    found = wait_for(complete, 30, "a POST /api/interventions trace with PostgreSQL and Redis spans", interval=1)
    assert {s[0] for s in found} == {"mss-api"}
    # Probes are not traced.
    assert not [s for s in found if s[1] in ("GET /health", "GET /ready", "GET /metrics")]


def test_standalone_redis_mode(start_app, api_env, datastore, passwords):
    """REDIS_URL (one server) instead of REDIS_CLUSTER_NODES: ready, and the cache really is that server."""
    env = {k: v for k, v in api_env.items() if k not in ("REDIS_CLUSTER_NODES", "OTEL_EXPORTER_OTLP_ENDPOINT")}
    app = start_app("api", {**env, "REDIS_URL": "redis://datastore:6379", "REDIS_KEY_PREFIX": "single:"})
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(app.http.json("GET", "/ready")), 60,
                            "standalone api /ready")
    assert body["checks"] == {"postgresql": "ok", "redis": "ok"}, body
    status, row = app.http.json("POST", "/api/interventions", {"title": "standalone"})
    assert status == 201, row
    got = docker("exec", "-e", "REDISCLI_AUTH", datastore.container, "redis-cli", "-p", "6379", "GET",
                 f"single:intervention:{row['id']}", env={**os.environ, "REDISCLI_AUTH": passwords["redis"]})
    assert json.loads(got.stdout)["title"] == "standalone"
    assert app.http.json("GET", f"/api/interventions/{row['id']}")[1]["source"] == "redis"


def test_logs_are_json(api):
    lines = api.logs()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "service", "msg"} <= set(record) and record["service"] == "mss-api", record
    assert any(json.loads(line)["msg"] == "request" for line in lines)


def test_sigterm_drains_in_flight_requests(start_app, api_env):
    app = start_app("api", api_env)
    wait_for(lambda: app.http.get("/ready", timeout=3)[0] == 200, 60, "api /ready")
    results: dict[str, object] = {}

    def slow():
        try:
            results["slow"] = app.http.json("GET", "/api/work?ms=4000", timeout=20)
        except OSError as exc:  # a dropped connection is the failure this test exists for
            results["slow"] = exc

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(1.0)
    docker("kill", "--signal", "TERM", app.name)
    # During the shutdown delay: still serving, but not ready (the Pod leaves the Service's endpoints).
    status, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(app.http.json("GET", "/ready")), 5,
                            "/ready 503 after SIGTERM")
    assert body["shutting_down"] is True, body
    worker.join(30)
    got = results.get("slow")
    assert isinstance(got, tuple) and got[0] == 200 and got[1]["worked_ms"] == 4000, got
    state = wait_for(lambda: (lambda s: s if not s["Running"] else None)(app.state()), 20, "api exited")
    assert state["ExitCode"] == 0, state
    msgs = [json.loads(line)["msg"] for line in app.logs()]
    assert "shutdown requested" in msgs and msgs[-1] == "stopped", msgs
