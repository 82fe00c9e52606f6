"""mss.platform.kube_monitoring on the simulated cluster's real API server, with the Prometheus Operator's CRDs.

- Without the CRDs (a monitoring API version the server does not serve) the role skips with a clear message and
  changes nothing; with kube_monitoring_require_crds it fails saying what is missing.
- With them: ServiceMonitors for mss-frontend and mss-api (environment/instance relabeling of the contract), one
  PrometheusRule per file of roles/prometheus/files/rules, read at run time: every group, alert and recording rule of
  the files is in the objects exactly as written (labels, annotations with their own templates untouched).
- A second run changes nothing; check mode reports the changes and makes none; a target switched to a PodMonitor
  replaces its ServiceMonitor (the stale object is pruned); a missing namespace is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
COLLECTION = REPO / "collections" / "ansible_collections" / "mss" / "platform"
RULES_DIR = COLLECTION / "roles" / "prometheus" / "files" / "rules"
RULE_FILES = sorted(RULES_DIR.glob("*.rules.yml"))
MANAGED = "app.kubernetes.io/managed-by=mss.platform.kube_monitoring"


def _get(kubectl, kind: str, namespace: str) -> list[dict]:
    out = kubectl("get", kind, "-n", namespace, "-l", MANAGED, "-o", "json").stdout
    return json.loads(out)["items"]


def _object_name(path: Path) -> str:
    return "mss-" + path.name.removesuffix(".rules.yml").replace("_", "-")


def _changed_items(output: str) -> set[str]:
    """kind/name of every object the run reported created or changed (the role lists them)."""
    return set(re.findall(r"changed ([A-Za-z]+/[\w.-]+);", output))


def test_skips_without_the_crds_and_fails_when_they_are_required(run_role, api_client):
    without = {"_kube_monitoring_api": "monitoring.coreos.com/v9", "kube_monitoring_namespace": "not-created"}
    run = run_role(without)
    assert run.rc == 0, run.tail()
    assert "Skipping ServiceMonitor/PodMonitor/PrometheusRule: the cluster does not serve" in run.text
    assert "ServiceMonitor, PodMonitor, PrometheusRule (monitoring.coreos.com/v9)" in run.text
    assert run.changed == 0
    run = run_role({**without, "kube_monitoring_require_crds": True})
    assert run.rc != 0
    assert "install the Prometheus Operator (its CRDs) first" in run.text


def test_objects_applied_with_every_rule_of_the_source_idempotent(run_role, prometheus_operator_crds, kubectl,
                                                                  namespace):
    assert RULE_FILES, f"no rule files in {RULES_DIR}"
    role_vars = {"kube_monitoring_namespace": namespace, "kube_monitoring_environment": "test",
                 "kube_monitoring_selector_labels": {"release": "kube-prometheus-stack"}}

    check = run_role(role_vars, "--check", "--diff")
    assert check.rc == 0, check.tail()
    declared = {"ServiceMonitor/mss-frontend", "ServiceMonitor/mss-api"} | {
        f"PrometheusRule/{_object_name(p)}" for p in RULE_FILES}
    assert _changed_items(check.text) == declared, check.tail()
    assert _get(kubectl, "servicemonitors", namespace) == [] and _get(kubectl, "prometheusrules", namespace) == []

    first = run_role(role_vars)
    assert first.rc == 0, first.tail()
    assert _changed_items(first.text) == declared, first.tail()

    monitors = {m["metadata"]["name"]: m for m in _get(kubectl, "servicemonitors", namespace)}
    assert set(monitors) == {"mss-frontend", "mss-api"}
    for name, mon in monitors.items():
        assert mon["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert mon["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": name}}
        assert mon["spec"]["namespaceSelector"] == {"matchNames": [namespace]}
        (endpoint,) = mon["spec"]["endpoints"]
        assert endpoint["port"] == "http" and endpoint["path"] == "/metrics" and endpoint["interval"] == "15s"
        relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
        assert relabel["environment"]["replacement"] == "test"
        assert relabel["instance"]["sourceLabels"] == ["__meta_kubernetes_pod_name"]

    rules = {r["metadata"]["name"]: r for r in _get(kubectl, "prometheusrules", namespace)}
    assert set(rules) == {_object_name(p) for p in RULE_FILES}
    alerts_in_files, alerts_in_cluster = set(), set()
    for path in RULE_FILES:
        source = yaml.safe_load(path.read_text())
        obj = rules[_object_name(path)]
        assert obj["metadata"]["annotations"]["mss.platform/rule-file"] == path.name
        assert obj["spec"]["groups"] == source["groups"], f"{path.name} differs in the PrometheusRule"
        alerts_in_files |= {r["alert"] for g in source["groups"] for r in g["rules"] if "alert" in r}
        alerts_in_cluster |= {r["alert"] for g in obj["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert alerts_in_files and alerts_in_cluster == alerts_in_files
    assert any("{{ $labels" in json.dumps(r["spec"]) for r in rules.values()), "annotation templates were rendered"

    second = run_role(role_vars)
    assert second.rc == 0, second.tail()
    assert second.changed == 0, second.tail()

    switched = run_role({**role_vars, "kube_monitoring_targets": [
        {"name": "mss-frontend", "kind": "ServiceMonitor", "port": "http"},
        {"name": "mss-api", "kind": "PodMonitor", "port": "http", "interval": "30s"},
    ]})
    assert switched.rc == 0, switched.tail()
    assert {m["metadata"]["name"] for m in _get(kubectl, "servicemonitors", namespace)} == {"mss-frontend"}
    (pod_monitor,) = _get(kubectl, "podmonitors", namespace)
    assert pod_monitor["metadata"]["name"] == "mss-api"
    assert pod_monitor["spec"]["podMetricsEndpoints"][0]["interval"] == "30s"
    assert len(_get(kubectl, "prometheusrules", namespace)) == len(RULE_FILES)


def test_a_missing_namespace_is_refused(run_role, prometheus_operator_crds):
    run = run_role({"kube_monitoring_namespace": "mss-no-such-namespace"})
    assert run.rc != 0
    assert "Namespace mss-no-such-namespace does not exist" in run.text
    assert run.changed == 0
