"""playbooks/canary.yml end to end against loopback fakes: a Kubernetes API serving VirtualServices and Prometheus.

Real ansible-playbook, real modules, real HTTP (127.0.0.1 only); pauses are 0 s. The same assertions against a real
kube-apiserver live in test_canary_cluster.py.
"""

from __future__ import annotations

import json
import sys

import pytest

from conftest import (
    HEADER_ROUTE,
    base_vars,
    primary_weights,
    run_playbook,
    virtual_service,
    without_weights,
)

SUCCESS = "canary_success_rate"
LATENCY = "canary_p99_ms"


def gates(prom_url):
    return {
        "canary_prometheus_url": prom_url,
        "canary_prometheus_gates": [
            {"name": "request-success-rate", "query": SUCCESS, "op": ">=", "threshold": 99},
            {"name": "request-duration", "query": LATENCY, "op": "<", "threshold": 500},
        ],
    }


def weights_written(api):
    return [primary_weights(w) for w in api.writes]


def setup(tmp_path, fake_kube, fake_prom, **extra):
    fake_kube.put_object(virtual_service())
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig")
    return base_vars(kubeconfig, **gates(fake_prom.url), **extra)


def test_rollout_promotes_when_gates_pass(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: "99.9", LATENCY: "120"}
    data = setup(tmp_path, fake_kube, fake_prom)
    before = fake_kube.get_object("mss", "mss-frontend")
    out = run_playbook(tmp_path, data)
    assert out.returncode == 0, out.stdout + out.stderr
    assert weights_written(fake_kube) == [[90, 10], [50, 50], [0, 100]]
    after = fake_kube.get_object("mss", "mss-frontend")
    assert primary_weights(after) == [0, 100]
    assert without_weights(after) == without_weights(before)
    assert after["spec"]["http"][0] == HEADER_ROUTE  # header-based routing untouched
    assert fake_prom.queries.count(SUCCESS) == 3 and fake_prom.queries.count(LATENCY) == 3
    assert "promoted to 100 %" in out.stdout


def test_failed_gate_rolls_back_with_a_report(tmp_path, fake_kube, fake_prom):
    calls = {"n": 0}

    def degrading():
        calls["n"] += 1
        return "99.5" if calls["n"] == 1 else "97.0"   # fine at 10 %, bad at 50 %

    fake_prom.answers = {SUCCESS: degrading, LATENCY: "120"}
    data = setup(tmp_path, fake_kube, fake_prom)
    before = fake_kube.get_object("mss", "mss-frontend")
    out = run_playbook(tmp_path, data)
    assert out.returncode != 0
    assert weights_written(fake_kube) == [[90, 10], [50, 50], [100, 0]]
    after = fake_kube.get_object("mss", "mss-frontend")
    assert primary_weights(after) == [100, 0]
    assert without_weights(after) == without_weights(before)
    assert "mss/mss-frontend: rolled back to 0 % canary." in out.stdout
    assert "gate request-success-rate (prometheus) failed at step 50 %, attempt 1" in out.stdout
    assert "97.0 >= 99.0 is false" in out.stdout
    assert "request-duration" not in out.stdout.split("Reason:")[1].split("Checks passed")[0]


def test_no_data_fails_closed_and_rolls_back(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: None, LATENCY: "120"}   # no series at all
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom))
    assert out.returncode != 0
    assert weights_written(fake_kube) == [[90, 10], [100, 0]]
    assert "failed at step 10 %" in out.stdout and "no data" in out.stdout


def test_tolerated_failure_reanalyses_the_step_then_promotes(tmp_path, fake_kube, fake_prom):
    calls = {"n": 0}

    def blip():
        calls["n"] += 1
        return "90" if calls["n"] == 2 else "99.9"    # one bad sample at the 50 % step

    fake_prom.answers = {SUCCESS: blip, LATENCY: "120"}
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom, canary_failure_threshold=1))
    assert out.returncode == 0, out.stdout + out.stderr
    assert weights_written(fake_kube) == [[90, 10], [50, 50], [0, 100]]
    assert fake_prom.queries.count(SUCCESS) == 4   # 10 %, 50 % (failed), 50 % again, 100 %
    assert "1 failed" in out.stdout


def test_second_failure_beyond_threshold_rolls_back(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: "99.9", LATENCY: "900"}
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom, canary_failure_threshold=1))
    assert out.returncode != 0
    assert weights_written(fake_kube) == [[90, 10], [100, 0]]
    assert "2 failed gate checks, more than the 1 tolerated" in out.stdout
    assert "gate request-duration (prometheus) failed at step 10 %, attempt 1" in out.stdout
    assert "gate request-duration (prometheus) failed at step 10 %, attempt 2" in out.stdout


def test_conflicts_are_retried(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: "99.9", LATENCY: "120"}
    fake_kube.conflicts = 2
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom))
    assert out.returncode == 0, out.stdout + out.stderr
    after = fake_kube.get_object("mss", "mss-frontend")
    assert primary_weights(after) == [0, 100]
    assert after["metadata"]["annotations"] == {"touched-by": "someone-else"}   # the other writer's change kept


def test_check_mode_writes_nothing(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: "99.9", LATENCY: "120"}
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom), "--check", "--diff")
    assert out.returncode == 0, out.stdout + out.stderr
    assert fake_kube.writes == []
    assert not [r for r in fake_kube.requests if r[0] != "GET"]
    assert '"weight": 10' in out.stdout or "weight: 10" in out.stdout   # the diff shows the planned split


def test_preflight_refuses_bad_steps_before_any_call(tmp_path, fake_kube, fake_prom):
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom, canary_steps=[50, 25, 100]))
    assert out.returncode != 0
    assert "strictly increasing integers from 1 to 100" in out.stdout
    assert fake_kube.requests == [] and fake_prom.queries == []


def test_preflight_refuses_an_ungated_rollout(tmp_path, fake_kube, fake_prom):
    data = setup(tmp_path, fake_kube, fake_prom)
    data["canary_prometheus_gates"] = []
    out = run_playbook(tmp_path, data)
    assert out.returncode != 0
    assert "an ungated canary would be promoted blindly" in out.stdout
    assert fake_kube.requests == []


def test_unknown_route_fails_at_first_step_without_writes(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: "99.9", LATENCY: "120"}
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom, canary_route="nope"))
    assert out.returncode != 0
    assert fake_kube.writes == []
    assert "no http route named 'nope'" in out.stdout
    assert "ROLLBACK TO 0 % FAILED" in out.stdout   # the rollback cannot find the route either, and says so


def test_k6_gate_breach_rolls_back(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: "99.9", LATENCY: "120"}
    summary = tmp_path / "k6-summary.json"
    summary.write_text(json.dumps({"metrics": {
        "http_req_duration": {"avg": 300.0, "min": 10.0, "med": 250.0, "max": 2000.0, "p(90)": 700.0, "p(95)": 900.0},
        "http_req_failed": {"passes": 1, "fails": 999, "value": 0.001},
        "http_reqs": {"count": 1000, "rate": 100.0}}}))
    data = setup(tmp_path, fake_kube, fake_prom, canary_k6_gates=[
        {"name": "k6-latency", "path": str(summary), "thresholds": {"http_req_duration": ["p(95)<500"]}}])
    out = run_playbook(tmp_path, data)
    assert out.returncode != 0, out.stdout
    assert weights_written(fake_kube) == [[90, 10], [100, 0]]
    assert "gate k6-latency (k6) failed at step 10 %" in out.stdout


FAKE_K6 = """
import json, pathlib, sys
state = pathlib.Path(sys.argv[2])
run = int(state.read_text()) + 1 if state.exists() else 1
state.write_text(str(run))
p95 = float(sys.argv[3].split(",")[run - 1])
pathlib.Path(sys.argv[1]).write_text(json.dumps({"metrics": {
    "http_req_duration": {"avg": p95 / 2, "min": 1.0, "med": p95 / 2, "max": p95 * 2, "p(90)": p95, "p(95)": p95},
    "http_reqs": {"count": 100, "rate": 10.0}}}))
sys.exit(99 if p95 >= 500 else 0)
"""


def k6_gate_with_command(tmp_path, p95s, write=True):
    script = tmp_path / "fake_k6.py"
    script.write_text(FAKE_K6 if write else "import sys; sys.exit(0)\n")
    summary = tmp_path / "k6-step-summary.json"
    return summary, [{"name": "k6-latency", "path": str(summary), "thresholds": {"http_req_duration": ["p(95)<500"]},
                      "command": [sys.executable, str(script), str(summary), str(tmp_path / "k6-runs"),
                                  ",".join(str(v) for v in p95s)]}]


def test_k6_command_runs_at_each_step(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: "99.9", LATENCY: "120"}
    _summary, k6 = k6_gate_with_command(tmp_path, [100, 200, 900])   # k6 says the 100 % step is too slow
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom, canary_k6_gates=k6))
    assert out.returncode != 0
    assert (tmp_path / "k6-runs").read_text() == "3"
    assert weights_written(fake_kube) == [[90, 10], [50, 50], [0, 100], [100, 0]]
    assert "gate k6-latency (k6) failed at step 100 %" in out.stdout


def test_k6_command_that_writes_nothing_fails_closed(tmp_path, fake_kube, fake_prom):
    fake_prom.answers = {SUCCESS: "99.9", LATENCY: "120"}
    summary, k6 = k6_gate_with_command(tmp_path, [], write=False)
    summary.write_text('{"metrics": {"http_req_duration": {"p(95)": 1.0}}}')   # stale, passing results
    out = run_playbook(tmp_path, setup(tmp_path, fake_kube, fake_prom, canary_k6_gates=k6))
    assert out.returncode != 0
    assert weights_written(fake_kube) == [[90, 10], [100, 0]]
    assert "gate k6-latency (k6) failed at step 10 %" in out.stdout


PREFLIGHT = {
    "step-above-100": ({"canary_steps": [50, 150]}, "strictly increasing integers from 1 to 100"),
    "step-zero": ({"canary_steps": [0, 50]}, "strictly increasing integers from 1 to 100"),
    "repeated-step": ({"canary_steps": [10, 10, 100]}, "strictly increasing integers from 1 to 100"),
    "string-step": ({"canary_steps": ["10", 100]}, "strictly increasing integers from 1 to 100"),
    "route-and-index": ({"canary_route_index": 1}, "at most one of canary_route / canary_route_index"),
    "same-destinations": ({"canary_canary_destination": {"host": "mss-frontend", "subset": "v1"}},
                          "two different destinations"),
    "bad-op": ({"canary_prometheus_gates": [{"name": "x", "query": "q", "op": "=>", "threshold": 1}]},
               "value of op must be one of"),   # the role's argument_specs catch it first
    "duplicate-gate-names": ({"canary_prometheus_gates": [{"name": "x", "query": "q", "op": "<", "threshold": 1},
                                                          {"name": "x", "query": "r", "op": "<", "threshold": 1}]},
                             "Gate names must be unique"),
    "k6-without-thresholds": ({"canary_k6_gates": [{"name": "k", "path": "/nonexistent", "thresholds": {}}]},
                              "k6 gate k needs name, path"),
}


@pytest.mark.parametrize("extra,message", PREFLIGHT.values(), ids=PREFLIGHT.keys())
def test_preflight_refuses_bad_settings(tmp_path, fake_kube, fake_prom, extra, message):
    data = setup(tmp_path, fake_kube, fake_prom)
    data.update(extra)
    out = run_playbook(tmp_path, data)
    assert out.returncode != 0
    assert message in out.stdout, out.stdout[-3000:]
    assert fake_kube.requests == [] and fake_prom.queries == []
