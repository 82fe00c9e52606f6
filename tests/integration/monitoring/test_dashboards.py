"""The Grafana dashboards as code (roles/grafana/files/dashboards/*.json) and tests/harness/dashboard_queries.py.

Grafana itself cannot run here (AGPL, not obtainable), so this checks everything about the dashboards that can be
checked without it:
- the seven dashboards exist with stable uids, parse, and round-trip through grafana-foundation-sdk's Dashboard
  model without losing a field (a field the model does not know is a field Grafana's schema does not know);
- our lint rules (dashboard_lint.py) pass, and each rule refuses a dashboard that breaks it, including the
  committed negative fixture with a hard-coded datasource;
- every metric a dashboard queries exists: in the names recorded from the exporter versions we install
  (exporter_metrics/*.txt), the metrics contract's application/backup metrics, or the recording rules of
  roles/prometheus/files/rules;
- the harness: substitution and parsing unit-tested against a fake Prometheus on loopback, then run against a real
  Prometheus 2.42 (Debian's binary, unpacked by tests/harness/host-services.sh) on loopback that loads the rule
  files and scrapes itself and an endpoint serving the contract's application metrics: no query of any dashboard
  is refused by the real PromQL engine, and every panel fed by those metrics returns data.
The live proof for the exporters' panels is the Molecule `monitoring` scenario, which runs the same harness.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "harness"))

import dashboard_lint  # noqa: E402
import dashboard_queries as dq  # noqa: E402
from app_metrics import AppMetrics  # noqa: E402
from fake_prometheus import FakePrometheus  # noqa: E402

COLLECTION = REPO / "collections" / "ansible_collections" / "mss" / "platform"
DASHBOARD_DIR = COLLECTION / "roles" / "grafana" / "files" / "dashboards"
RULES_DIR = COLLECTION / "roles" / "prometheus" / "files" / "rules"
FIXTURES = HERE / "fixtures"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
EXPECTED_UIDS = {
    "mss-system-overview": "MSS / System Overview",
    "mss-application": "MSS / Application Performance",
    "mss-infrastructure": "MSS / Infrastructure",
    "mss-security": "MSS / Security",
    "mss-business": "MSS / Business Metrics",
    "mss-postgresql": "MSS / PostgreSQL",
    "mss-redis": "MSS / Redis",
}
# The metrics contract (METRICS-CONTRACT, copied into docs/monitoring.md): application and backup metrics.
CONTRACT_METRICS = {
    "http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count", "mss_auth_attempts_total", "mss_user_sessions_active",
    "mss_interventions_total", "mss_reports_generated_total", "mss_feature_usage_total", "mss_deployment_info",
    "mss_backup_last_success_timestamp_seconds", "mss_backup_last_size_bytes", "mss_backup_last_duration_seconds",
}
# Series Prometheus itself synthesises.
SYNTHETIC_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added", "ALERTS",
                     "ALERTS_FOR_STATE"}
# Panels whose source the real-Prometheus test below does not run (exporters, Patroni, backups...): allowed empty
# there, never an error. Everything else it runs must return data.
APP_DASHBOARDS = {"application.json", "business.json"}
SLOW_RULES = {"mss:slo_error_budget_remaining:ratio"}  # its group is evaluated every 5 minutes


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _exprs(dashboard: dict):
    for panel in dashboard_lint.iter_panels(dashboard):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                yield panel, target["expr"]


def _leaves(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{path}[{i}]")
    else:
        yield path, node


def _recorded_metric_names() -> set[str]:
    names = set()
    for path in sorted((HERE / "exporter_metrics").glob("*.txt")):
        names |= {ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
    return names


def _recording_rules() -> set[str]:
    names = set()
    for path in sorted(RULES_DIR.glob("*.rules.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []:
            names |= {rule["record"] for rule in group.get("rules") or [] if "record" in rule}
    return names


# --- the dashboards -------------------------------------------------------------------------------------------------

def test_the_seven_dashboards_exist_with_stable_uids():
    found = {_load(p)["uid"]: _load(p)["title"] for p in DASHBOARDS}
    assert found == EXPECTED_UIDS


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_passes_our_lint_rules(path):
    raw = path.read_text()
    assert dashboard_lint.lint(json.loads(raw), raw) == []


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_round_trips_through_grafana_foundation_sdk(path):
    sdk = pytest.importorskip("grafana_foundation_sdk", reason="grafana-foundation-sdk (requirements-dev.txt)")
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, RowPanel
    from grafana_foundation_sdk.models.prometheus import Dataquery

    assert sdk is not None
    register_default_plugins()  # panel options and Prometheus queries decoded by their own models
    data = _load(path)
    model = Dashboard.from_json(data)
    assert model.uid == data["uid"] and model.title == data["title"]
    assert all(isinstance(p, (Panel, RowPanel)) for p in model.panels)
    targets = [t for p in model.panels if isinstance(p, Panel) for t in p.targets or []]
    assert targets and all(isinstance(t, Dataquery) for t in targets), "targets not decoded as Prometheus queries"
    back = json.loads(json.dumps(model, cls=JSONEncoder))
    original, round_trip = dict(_leaves(data)), dict(_leaves(back))
    lost = {k: v for k, v in original.items() if round_trip.get(k, object()) != v and not (k == "/id" and v is None)}
    assert lost == {}, f"fields the SDK's model does not carry (unknown to Grafana's schema?): {lost}"


def test_every_metric_queried_exists_in_the_versions_we_install():
    known = _recorded_metric_names() | CONTRACT_METRICS | SYNTHETIC_METRICS | _recording_rules()
    assert len(_recording_rules()) >= 10, "the recording rules of roles/prometheus were not found"
    unknown = {}
    for path in DASHBOARDS:
        for panel, expr in _exprs(_load(path)):
            for name in dashboard_lint.metric_names(expr) - known:
                unknown.setdefault(name, []).append(f"{path.name} panel {panel['id']}")
    assert unknown == {}


def test_metric_name_extraction():
    expr = ('sum by (service, le) (rate(http_request_duration_seconds_bucket{service=~"$service",le!="0.5"}'
            '[$__rate_interval])) / on (service) group_left mss:http_requests:rate5m or vector(0) * 3600')
    assert dashboard_lint.metric_names(expr) == {"http_request_duration_seconds_bucket", "mss:http_requests:rate5m"}
    assert dashboard_lint.metric_names('time() - max(x_seconds{a="b(c)"} offset 5m)') == {"x_seconds"}


# --- each lint rule refuses what it must ---------------------------------------------------------------------------

def _mutations():
    def hard_coded_panel(d):
        d["panels"][1]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}

    def hard_coded_target(d):
        d["panels"][1]["targets"][0]["datasource"] = "Prometheus"

    def hard_coded_variable(d):
        next(v for v in d["templating"]["list"] if v["type"] == "query")["datasource"] = {"uid": "abc"}

    def ds_inputs(d):
        d["__inputs"] = [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}]
        d["panels"][1]["datasource"] = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

    def numeric_id(d):
        d["id"] = 42

    def no_ds_variable(d):
        d["templating"]["list"] = [v for v in d["templating"]["list"] if v["type"] != "datasource"]

    def ds_variable_elsewhere(d):
        d["templating"]["list"][0]["current"]["value"] = "some-other-uid"

    def rate_fixed_window(d):
        d["panels"][1]["targets"][0]["expr"] = 'sum(rate(http_requests_total{service="x"}[5m]))'

    def increase_fixed_window(d):
        d["panels"][1]["targets"][0]["expr"] = "sum(increase(mss_interventions_total[1h]))"

    def no_unit(d):
        del d["panels"][1]["fieldConfig"]["defaults"]["unit"]

    def duplicate_id(d):
        d["panels"][2]["id"] = d["panels"][1]["id"]

    def no_expr(d):
        d["panels"][1]["targets"] = [{"refId": "A", "datasource": d["panels"][1]["datasource"]}]

    def no_uid(d):
        d["uid"] = "a uid with spaces"

    return [hard_coded_panel, hard_coded_target, hard_coded_variable, ds_inputs, numeric_id, no_ds_variable,
            ds_variable_elsewhere, rate_fixed_window, increase_fixed_window, no_unit, duplicate_id, no_expr, no_uid]


@pytest.mark.parametrize("mutate", _mutations(), ids=lambda f: f.__name__)
def test_lint_refuses_a_broken_dashboard(mutate):
    base = _load(DASHBOARD_DIR / "application.json")
    assert base["panels"][1]["type"] != "row"
    broken = copy.deepcopy(base)
    mutate(broken)
    raw = json.dumps(broken)
    assert dashboard_lint.lint(broken, raw), f"{mutate.__name__} was not refused"


def test_lint_refuses_the_hard_coded_datasource_fixture():
    raw = (FIXTURES / "hardcoded_datasource" / "hardcoded.json").read_text()
    errors = dashboard_lint.lint(json.loads(raw), raw)
    assert any("hard-coded datasource at /panels[0]/datasource" in e for e in errors), errors


def test_lint_refuses_the_exported_dashboard_fixture():
    raw = (FIXTURES / "ds_inputs" / "exported.json").read_text()
    errors = dashboard_lint.lint(json.loads(raw), raw)
    assert any("__inputs" in e for e in errors) and any("${DS_" in e for e in errors), errors


# --- the harness: parsing and substitution ----------------------------------------------------------------------------

def test_substitution_of_variables_and_builtins():
    variables = dq.builtins(600, "1m", "15s")
    variables["env"] = dq.Variable("env", values=["prod", "stag.ing"])
    variables["one"] = dq.Variable("one", values=["a+b"])
    variables["all"] = dq.Variable("all", values=["x"], forced=".*")
    text = ('rate(m{e=~"$env",o="${one}",p="${env:pipe}",c="[[env:csv]]",a=~"$all"}[$__rate_interval])'
            ' $__range_s $__interval_ms')
    assert dq.substitute(text, variables) == (
        'rate(m{e=~"(prod|stag\\.ing)",o="a\\+b",p="prod|stag.ing",c="prod,stag.ing",a=~".*"}[1m]) 600 15000')
    assert dq.unresolved(dq.substitute("up{x=~\"$nope\"}", variables)) == ["nope"]
    assert dq.substitute("$__range", variables) == "600s"


def test_label_values_arguments_and_durations():
    assert dq.split_label_values_args('up{job=~"a,b"}, instance') == ('up{job=~"a,b"}', "instance")
    assert dq.split_label_values_args("environment") == (None, "environment")
    assert dq.split_label_values_args('sum by (a, b) (x{y="1,2"}) , le') == ('sum by (a, b) (x{y="1,2"})', "le")
    assert [dq.parse_duration(d) for d in ("15s", "1m", "1.5h", "500ms")] == [15, 60, 5400, 0.5]
    with pytest.raises(dq.HarnessError):
        dq.parse_duration("soon")


def _run_harness(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = dq.main(list(args))
    return rc, out.getvalue(), err.getvalue()


LABELS = {"environment": ["prod", "staging"], "instance": ["host-1", "host-2"], "service": ["mss-api", "mss-frontend"]}


def test_harness_runs_every_query_of_every_dashboard_with_variables_substituted():
    with FakePrometheus(labels=LABELS) as prom:
        rc, out, err = _run_harness("--prometheus", prom.url, "--dashboards", str(DASHBOARD_DIR))
    assert rc == 0, out + err
    expected = sum(1 for p in DASHBOARDS for _ in _exprs(_load(p)))
    assert len(prom.queries) == expected
    assert not [q for q in prom.queries if "$" in q], "a query reached Prometheus with a variable left in it"
    assert all("[$__rate_interval]" not in q for q in prom.queries)
    assert any("[1m]" in q for q in prom.queries)
    assert 'environment=~".*"' in prom.queries[0]
    assert ("instance", ['up{environment=~".*"}']) in prom.label_requests
    assert f"queries: {expected}, panels without data: 0" in out


def test_harness_fails_listing_every_panel_without_data():
    with FakePrometheus(labels=LABELS, empty=[r"patroni_primary", r"redis_cluster_slots_ok"]) as prom:
        rc, out, err = _run_harness("--prometheus", prom.url, "--dashboards", str(DASHBOARD_DIR))
    assert rc == 1
    assert "postgresql.json panel 3 'Primaries (Patroni)'" in err
    assert "postgresql.json panel 6 'Role per member'" in err
    assert "redis.json panel 6 'Slots ok per instance'" in err
    assert "panels without data: 3" in out


def test_harness_allow_empty_is_explicit_and_reported():
    with FakePrometheus(labels=LABELS, empty=[r"patroni_primary\{"]) as prom:
        rc, out, _ = _run_harness("--prometheus", prom.url, "--dashboards", str(DASHBOARD_DIR),
                                  "--allow-empty", "mss-postgresql:3", "--allow-empty", "mss-postgresql:6")
    assert rc == 0
    assert out.count("allowed-empty") == 2 and "allowed empty: 2" in out


def test_harness_overrides_and_multi_value_variables(tmp_path):
    dash = {"uid": "t", "title": "t", "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "current": {"value": "mss-prometheus"}},
        {"name": "environment", "type": "query", "query": "label_values(up, environment)", "multi": True,
         "includeAll": False, "current": {"value": ["prod"]}},
        {"name": "instance", "type": "query", "query": 'label_values(up{environment=~"$environment"}, instance)',
         "includeAll": True, "current": {"value": ["$__all"]}},
        {"name": "step", "type": "custom", "query": "5m,1h"},
    ]}, "panels": [{"id": 1, "type": "stat", "title": "x", "targets": [
        {"refId": "A", "expr": 'up{environment=~"$environment",instance=~"$instance"} * $step'}]}]}
    (tmp_path / "t.json").write_text(json.dumps(dash))
    with FakePrometheus(labels=LABELS) as prom:
        rc, out, err = _run_harness("--prometheus", prom.url, "--dashboards", str(tmp_path))
        assert rc == 0, out + err
        assert prom.queries == ['up{environment=~"(prod|staging)",instance=~"(host-1|host-2)"} * 5m']
        assert ("instance", ['up{environment=~"(prod|staging)"}']) in prom.label_requests
        rc, out, err = _run_harness("--prometheus", prom.url, "--dashboards", str(tmp_path),
                                    "--var", "environment=prod", "--var", "instance=host-9")
        assert rc == 0, out + err
        assert prom.queries[-1] == 'up{environment=~"prod",instance=~"host-9"} * 5m'


def test_harness_reports_a_variable_without_values_and_a_refused_query(tmp_path):
    with FakePrometheus(labels={"environment": ["prod"]}, errors=[r"node_load1"]) as prom:
        rc, out, err = _run_harness("--prometheus", prom.url, "--dashboards", str(DASHBOARD_DIR))
    assert rc == 1
    assert "variable $instance: no values" in err
    assert "system-overview.json panel 10 'Load average (1 min) per core': A bad_data" in err


def test_harness_basic_auth_from_a_password_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cret-pw\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    with FakePrometheus(labels=LABELS, auth=("grafana", "s3cret-pw")) as prom:
        rc, out, err = _run_harness("--prometheus", prom.url, "--dashboards", str(DASHBOARD_DIR),
                                    "--user", "grafana", "--password-file", str(secret))
        assert rc == 0, out + err
        rc, out, err = _run_harness("--prometheus", prom.url, "--dashboards", str(DASHBOARD_DIR),
                                    "--user", "grafana", "--password-file", str(wrong))
        assert rc == 2 and "HTTP 401" in err
        rc, _, err = _run_harness("--prometheus", prom.url, "--dashboards", str(DASHBOARD_DIR))
        assert rc == 2 and "HTTP 401" in err
    assert "s3cret-pw" not in out + err


def test_harness_runs_with_only_the_standard_library():
    """It runs in containers with nothing but python3: import it with site-packages disabled (-S -I)."""
    proc = subprocess.run([sys.executable, "-S", "-I", str(REPO / "tests" / "harness" / "dashboard_queries.py"),
                           "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--prometheus" in proc.stdout and "--allow-empty" in proc.stdout


# --- the harness against a real Prometheus -------------------------------------------------------------------------

def _prometheus_binary() -> str:
    for cand in (os.environ.get("PROMETHEUS_BIN", ""),
                 str(Path.home() / ".cache" / "mss-monitoring-tools" / "usr" / "bin" / "prometheus"),
                 shutil.which("prometheus") or ""):
        if cand and os.access(cand, os.X_OK):
            return cand
    pytest.skip("no prometheus binary: run tests/harness/host-services.sh (unpacks Debian's prometheus)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _instant(url: str, query: str) -> list:
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}", timeout=5) as r:
        return json.loads(r.read())["data"]["result"]


@pytest.fixture(scope="module")
def real_prometheus(tmp_path_factory):
    binary = _prometheus_binary()
    work = tmp_path_factory.mktemp("prometheus")
    port = _free_port()
    with AppMetrics() as app:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in sorted(RULES_DIR.glob("*.rules.yml"))],
            "scrape_configs": [
                {"job_name": "prometheus", "static_configs": [
                    {"targets": [f"127.0.0.1:{port}"], "labels": {"environment": "test", "instance": "mon-1"}}]},
                {"job_name": "mss-api", "static_configs": [
                    {"targets": [app.address], "labels": {"environment": "test", "instance": "app-1"}}]},
            ],
        }
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = (work / "prometheus.log").open("w")
        proc = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if _instant(url, "mss:http_request_duration_seconds:p95_5m") and _instant(
                            url, "mss:http_error_ratio:rate1h"):
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = (work / "prometheus.log").read_text()[-3000:]
                    pytest.fail(f"Prometheus did not evaluate the recording rules: {tail}")
                time.sleep(1)
            time.sleep(3)  # a few more scrapes, so every rate has two samples in its window
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def test_every_query_is_accepted_by_a_real_prometheus_and_app_panels_have_data(real_prometheus, tmp_path):
    report = tmp_path / "findings.json"
    rc, out, err = _run_harness("--prometheus", real_prometheus, "--dashboards", str(DASHBOARD_DIR),
                                "--rate-interval", "4s", "--json", str(report))
    findings = json.loads(report.read_text())
    errors = [f for f in findings if f["error"] and "unresolved" not in f["error"]]
    assert errors == [], errors
    assert not [f for f in findings if f["error"]], "variables not resolved on a real Prometheus"
    assert len(findings) == sum(1 for p in DASHBOARDS for _ in _exprs(_load(p)))
    app_empty = [f"{f['dashboard']} panel {f['panel_id']} {f['title']} {f['ref']}" for f in findings
                 if f["dashboard"] in APP_DASHBOARDS and f["series"] == 0
                 and not any(rule in f["expr"] for rule in SLOW_RULES)]
    assert app_empty == []
    security_app = [f for f in findings if f["dashboard"] == "security.json"
                    and ("mss_auth_attempts_total" in f["expr"] or "http_requests_total" in f["expr"])]
    assert security_app and all(f["series"] > 0 for f in security_app)
    assert rc == 1, "exporters are not running here: their panels must be reported empty"
    assert "FAILED" in err
