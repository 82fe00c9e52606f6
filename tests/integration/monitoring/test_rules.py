"""The one alert rule source (roles/prometheus/files/rules/*.rules.yml), checked with Debian's promtool 2.42.

- `promtool check rules` on every rule file and `promtool test rules` on every unit-test file (JUnit XML of the
  promtool runs written next to pytest's own report: tests/output/monitoring-promtool.xml, or $MSS_JUNIT_DIR).
- Every alert carries severity (critical|warning|info), component, summary, description and a runbook_url whose
  anchor is the alert's name in lower case, with a matching section in docs/monitoring.md.
- Every `up{job=...} == 0` alert has an `absent(up{job=...})` twin.
- Every alert is exercised by a unit test that expects it to fire, and by one that expects silence.

promtool comes from tests/harness/host-services.sh (the Debian package unpacked into ~/.cache/mss-monitoring-tools,
no server started); PROMTOOL overrides the path. Without promtool the test fails (skip only outside MSS_NO_SKIP).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
COLLECTION = REPO / "collections" / "ansible_collections" / "mss" / "platform"
RULES_DIR = COLLECTION / "roles" / "prometheus" / "files" / "rules"
TESTS_DIR = RULES_DIR / "tests"
DOC = COLLECTION / "docs" / "monitoring.md"
RUNBOOK_BASE = "https://example.invalid/mss/platform/docs/monitoring.md#"
SEVERITIES = {"critical", "warning", "info"}
RULE_FILES = sorted(RULES_DIR.glob("*.rules.yml"))
TEST_FILES = sorted(TESTS_DIR.glob("*.test.yml"))
JUNIT = Path(os.environ.get("MSS_JUNIT_DIR", REPO / "tests" / "output")) / "monitoring-promtool.xml"
_RESULTS: list[tuple[str, str, float, str | None]] = []


def _promtool() -> str:
    cands = [os.environ.get("PROMTOOL", ""), str(Path.home() / ".cache/mss-monitoring-tools/usr/bin/promtool"),
             shutil.which("promtool") or ""]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    msg = "promtool not found: run tests/harness/host-services.sh"
    if os.environ.get("MSS_NO_SKIP") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def _run(kind: str, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    proc = subprocess.run([_promtool(), *args, str(path)], capture_output=True, text=True, cwd=path.parent,
                          timeout=300, check=False)
    out = proc.stdout + proc.stderr
    _RESULTS.append((kind, path.name, time.monotonic() - start, None if proc.returncode == 0 else out))
    return proc


@pytest.fixture(scope="module", autouse=True)
def _junit():
    yield
    JUNIT.parent.mkdir(parents=True, exist_ok=True)
    suite = ET.Element("testsuite", name="promtool", tests=str(len(_RESULTS)),
                       failures=str(sum(1 for r in _RESULTS if r[3])))
    for kind, name, secs, failure in _RESULTS:
        case = ET.SubElement(suite, "testcase", classname=f"promtool.{kind}", name=name, time=f"{secs:.3f}")
        if failure:
            ET.SubElement(case, "failure", message=f"promtool {kind} failed").text = failure
    ET.ElementTree(suite).write(JUNIT, encoding="utf-8", xml_declaration=True)


def _alerts():
    for f in RULE_FILES:
        for group in yaml.safe_load(f.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield f, rule


def _tests():
    for f in TEST_FILES:
        for test in yaml.safe_load(f.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                yield f, case


def test_there_are_rules_and_tests():
    assert len(RULE_FILES) >= 8 and len(TEST_FILES) >= 5


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path):
    proc = _run("check-rules", path, "check", "rules")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(path: Path):
    proc = _run("test-rules", path, "test", "rules")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_its_labels_and_annotations():
    names = set()
    text = DOC.read_text() if DOC.exists() else ""
    anchors = {a or b for a, b in re.findall(r"^#+ .*?\{#([a-z0-9-]+)\}|^<a id=\"([a-z0-9-]+)\">", text, re.M)}
    problems = []
    for f, rule in _alerts():
        name = rule["alert"]
        assert name not in names or rule["labels"]["severity"] != "", name
        names.add(name)
        labels, ann = rule.get("labels", {}), rule.get("annotations", {})
        if labels.get("severity") not in SEVERITIES:
            problems.append(f"{f.name} {name}: severity {labels.get('severity')!r}")
        if not labels.get("component"):
            problems.append(f"{f.name} {name}: no component label")
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                problems.append(f"{f.name} {name}: no {key}")
        if ann.get("runbook_url") != RUNBOOK_BASE + name.lower():
            problems.append(f"{f.name} {name}: runbook_url {ann.get('runbook_url')!r}")
        if name.lower() not in anchors:
            problems.append(f"{f.name} {name}: no section #{name.lower()} in {DOC.name}")
    assert not problems, "\n".join(problems)


def test_every_up_alert_has_an_absent_twin():
    exprs = [rule["expr"].strip() for _, rule in _alerts()]
    jobs = {m for e in exprs for m in re.findall(r'^up\{job="([^"]+)"\} == 0$', e)}
    absent = {m for e in exprs for m in re.findall(r'^absent\(up\{job="([^"]+)"\}\)$', e)}
    assert jobs, "no up == 0 alert found"
    assert jobs == absent, f"no absent twin: {sorted(jobs - absent)}; twin without up alert: {sorted(absent - jobs)}"


def test_every_alert_is_unit_tested_firing_and_silent():
    """Fires: a case expects it. Silent: a case expects no alert at all, or the firing case's input also holds a
    healthy series (a label value containing "good"): promtool compares the alert list exactly, so a healthy
    series that fired would fail the test."""
    fires, silent = set(), set()
    for f in TEST_FILES:
        for test in yaml.safe_load(f.read_text())["tests"]:
            has_good = any(re.search(r'="[^"]*good', s["series"]) for s in test.get("input_series", []))
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fires.add(case["alertname"])
                    if has_good:
                        silent.add(case["alertname"])
                else:
                    silent.add(case["alertname"])
    names = {rule["alert"] for _, rule in _alerts()}
    assert names - fires == set(), f"never tested firing: {sorted(names - fires)}"
    # The Watchdog is the one alert that is never silent.
    assert names - silent - {"Watchdog"} == set(), f"never tested silent: {sorted(names - silent - {'Watchdog'})}"
