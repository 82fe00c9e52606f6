# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k6_gate module: verdicts, reports, check mode and fail-closed paths.

Fixtures (fixtures/k6) follow k6's own structures: js/summary-wrapper.js, js/summary.go and
output/json/wrapper.go of grafana/k6 (see fixtures/k6/README.md).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import pytest
from ansible_collections.mss.platform.plugins.module_utils import k6_ndjson, k6_parallel
from ansible_collections.mss.platform.plugins.modules import k6_gate

from .utils import AnsibleExitJson, AnsibleFailJson, patch_exit_fail, set_module_args

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "k6")


@pytest.fixture(autouse=True)
def _patch(monkeypatch):
    patch_exit_fail(monkeypatch)


def run(args, expect=AnsibleExitJson):
    with set_module_args(args), pytest.raises(expect) as exc:
        k6_gate.main()
    return exc.value.result


@pytest.mark.parametrize("name", ["summary_export.json", "handle_summary.json"])
def test_defaults_pass_on_summaries(name):
    result = run({"path": os.path.join(FIX, name)})
    assert result["passed"] is True and result["changed"] is False
    assert result["summary"] == {"passed": True, "total": 5, "failed": 0, "disagreements": 0}
    assert [r["metric"] for r in result["results"]][:3] == [
        "http_req_duration{name:homepage}", "http_req_duration{name:api}", "http_req_duration{name:dashboard}"]


def test_breach_fails_with_results_and_reports(tmp_path):
    junit = tmp_path / "gate.xml"
    md = tmp_path / "gate.md"
    result = run({"path": os.path.join(FIX, "ndjson_small.ndjson"), "junit_path": str(junit),
                  "markdown_path": str(md)}, AnsibleFailJson)
    assert result["passed"] is False and result["changed"] is True
    assert "4 of 5 thresholds failed" in result["msg"]
    assert "http_req_duration{name:api} p(95)=289" in result["msg"]
    root = ET.parse(junit).getroot()
    assert root.get("tests") == "5" and root.get("failures") == "4"
    assert "**FAILED**: 1 of 5 thresholds passed" in md.read_text()


def test_breach_does_not_fail_when_told(tmp_path):
    result = run({"path": os.path.join(FIX, "ndjson_small.ndjson"), "fail_on_breach": False})
    assert result["passed"] is False and result["failed_thresholds"]
    assert result["duration_s"] == 2.0 and result["stats"]["points"] == 12


def test_reports_are_idempotent_and_check_mode_writes_nothing(tmp_path):
    junit = tmp_path / "gate.xml"
    args = {"path": os.path.join(FIX, "handle_summary.json"), "junit_path": str(junit)}
    first = run(dict(args, _ansible_check_mode=True))
    assert first["changed"] is True and not junit.exists() and first["reports"] == [str(junit)]
    assert first["passed"] is True  # the gate really ran in check mode
    assert run(args)["changed"] is True and junit.exists()
    assert run(args)["changed"] is False


def test_custom_thresholds_and_k6_disagreement_warning(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(k6_gate.AnsibleModule, "warn", lambda self, w: warnings.append(w))
    result = run({"path": os.path.join(FIX, "summary_export.json"), "fail_on_breach": False,
                  "thresholds": {"http_req_duration{name:api}": ["p(95)<150"], "checks": "rate>0.99",
                                 "http_reqs": [{"threshold": "count>60000", "abortOnFail": True}]}})
    assert [r["ok"] for r in result["results"]] == [False, True, True]
    assert result["results"][0]["k6_ok"] is None  # k6 never evaluated p(95)<150
    assert not warnings
    with open(os.path.join(FIX, "summary_export.json")) as handle:
        data = json.load(handle)
    data["metrics"]["checks"]["thresholds"]["rate>0.99"] = True  # k6 says it failed
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    result = run({"path": str(path), "thresholds": {"checks": ["rate>0.99"]}})
    assert result["passed"] is True and result["summary"]["disagreements"] == 1
    assert warnings and "k6 itself judged checks rate>0.99 as failed, the gate as passed" in warnings[0]


@pytest.mark.parametrize(("content", "args", "cause"), [
    ("", {}, "is empty"),
    ('{"metrics": {"a": {"count": 1, "rate": 2}', {}, "truncated"),
    ('{"results": []}', {}, "unknown format"),
    ('{"metrics": {"http_reqs": {"count": 1, "rate": 2}}}', {"thresholds": {"http_reqs": ["rate>>1"]}},
     "unknown aggregation|not a number"),
    ('{"metrics": {"http_reqs": {"count": 1, "rate": 2}}}', {"thresholds": {"http_reqs{name}": ["rate>1"]}},
     "key:value"),
])
def test_fails_closed_with_cause_and_error_report(tmp_path, content, args, cause):
    path = tmp_path / "r.json"
    path.write_text(content)
    junit = tmp_path / "gate.xml"
    result = run(dict(args, path=str(path), junit_path=str(junit)), AnsibleFailJson)
    assert result["msg"].startswith("k6 gate failed closed:")
    assert __import__("re").search(cause, result["msg"]), result["msg"]
    assert result["passed"] is False
    root = ET.parse(junit).getroot()
    assert root.get("errors") == "1"


def test_missing_metric_is_a_failed_gate():
    result = run({"path": os.path.join(FIX, "handle_summary.json"),
                  "thresholds": {"grpc_req_duration": ["p(95)<100"]}}, AnsibleFailJson)
    assert "grpc_req_duration not found in the handle_summary results" in result["msg"]


def test_missing_ddsketch_uses_missing_required_lib(monkeypatch):
    monkeypatch.setattr(k6_gate, "HAS_DDSKETCH", False)
    result = run({"path": os.path.join(FIX, "ndjson_small.ndjson")}, AnsibleFailJson)
    assert "ddsketch" in result["msg"] and "Failed to import" in result["msg"]
    # summaries need no ddsketch
    assert run({"path": os.path.join(FIX, "handle_summary.json")})["passed"] is True
    assert k6_ndjson.HAS_DDSKETCH  # only the module's view was patched


def test_missing_ddsketch_still_writes_the_error_reports(tmp_path, monkeypatch):
    """The missing library goes through the one error path: reports say why, the result says it failed closed."""
    monkeypatch.setattr(k6_gate, "HAS_DDSKETCH", False)
    monkeypatch.setattr(k6_gate, "DDSKETCH_IMPORT_ERROR", ImportError("No module named 'ddsketch'"))
    junit = tmp_path / "gate.xml"
    md = tmp_path / "gate.md"
    result = run({"path": os.path.join(FIX, "ndjson_small.ndjson"), "junit_path": str(junit),
                  "markdown_path": str(md)}, AnsibleFailJson)
    assert result["msg"].startswith("k6 gate failed closed: Failed to import the required Python library (ddsketch)")
    assert result["passed"] is False and result["changed"] is True
    assert result["reports"] == [str(junit), str(md)]
    assert result["exception"] == "No module named 'ddsketch'"
    root = ET.parse(junit).getroot()
    assert root.get("tests") == "1" and root.get("errors") == "1" and root.get("failures") == "0"
    assert "(ddsketch)" in root.find("./testsuite/testcase/error").get("message")
    assert "**FAILED**: the results could not be evaluated: Failed to import" in md.read_text()
    # check mode: the same verdict, nothing written
    junit.unlink()
    result = run({"path": os.path.join(FIX, "ndjson_small.ndjson"), "junit_path": str(junit),
                  "_ansible_check_mode": True}, AnsibleFailJson)
    assert result["reports"] == [str(junit)] and result["changed"] is True and not junit.exists()


def test_documentation_matches_argument_spec():
    import yaml
    doc = yaml.safe_load(k6_gate.DOCUMENTATION)
    spec = k6_gate.argument_spec()
    assert set(doc["options"]) == set(spec)
    for name, opt in doc["options"].items():
        assert opt["type"] == spec[name]["type"]
        assert opt.get("default") == spec[name].get("default")
        assert opt.get("choices") == spec[name].get("choices")
    yaml.safe_load(k6_gate.EXAMPLES)
    yaml.safe_load(k6_gate.RETURN)


def test_workers_option(tmp_path, monkeypatch):
    monkeypatch.setattr(k6_parallel.NdjsonReader, "MIN_CHUNK_BYTES", 1)  # the forked readers see the patch too
    path = os.path.join(FIX, "ndjson_small.ndjson")
    one = run({"path": path, "fail_on_breach": False, "workers": 1})
    two = run({"path": path, "fail_on_breach": False, "workers": 2})
    assert one["stats"]["workers"] == 1 and two["stats"]["workers"] == 2
    assert len(two["stats"]["worker_peak_rss_mib"]) == 2
    assert [r["observed"] for r in one["results"]] == [r["observed"] for r in two["results"]]
    assert one["duration_s"] == two["duration_s"]
    result = run({"path": path, "workers": -1}, AnsibleFailJson)
    assert "workers must be 0" in result["msg"]
