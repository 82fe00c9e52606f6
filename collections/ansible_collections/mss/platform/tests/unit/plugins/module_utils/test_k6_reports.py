# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JUnit XML and markdown reports of the k6 gate (module_utils/k6_reports.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.mss.platform.plugins.module_utils import k6
from ansible_collections.mss.platform.plugins.module_utils.k6_reports import render_junit, render_markdown

from .test_k6 import _results


def test_reports_render_failures_and_errors():
    ts = k6.ThresholdSet({"m{name:a&b}": ["avg<1", "max<9"]})
    data = k6.MetricData("m", k6.TREND, {"avg": 2.0, "max": 3.0})
    rows = k6.evaluate(ts, _results({("m", (("name", "a&b"),)): data}))
    xml = render_junit(rows)
    root = ET.fromstring(xml.split("\n", 1)[1])
    assert root.get("tests") == "2" and root.get("failures") == "1" and root.get("errors") == "0"
    assert root.find("./testsuite/testcase/failure").get("message").startswith("m{name:a&b} avg=2")
    assert render_junit(rows) == xml  # deterministic: rewriting it is idempotent
    md = render_markdown(rows, fmt="ndjson")
    assert "**FAILED**: 1 of 2 thresholds passed" in md and "| FAIL | `m{name:a&b}` | `avg<1`" in md
    err = render_junit([], error="results file x is empty")
    assert ET.fromstring(err.split("\n", 1)[1]).get("errors") == "1"
    assert "could not be evaluated: results file x is empty" in render_markdown([], error="results file x is empty")
