# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readers of the two k6 summary files (module_utils/k6_summary.py), through read_results."""

from __future__ import annotations

import json

import pytest

from .k6_helpers import fixture, load, rows_for


@pytest.mark.parametrize("name", ["summary_export.json", "handle_summary.json"])
def test_summaries_pass_the_defaults_and_agree_with_k6(name):
    _res, rows = rows_for(fixture(name))
    assert all(r["ok"] for r in rows), rows
    assert all(r["k6_ok"] is True for r in rows)
    assert {r["metric"]: r["observed"] for r in rows}["http_req_duration{name:api}"] == 181.6


def test_summary_export_inverted_threshold_booleans_and_rate_value(tmp_path):
    data = load("summary_export.json")
    data["metrics"]["http_req_failed"]["thresholds"]["rate<0.01"] = True  # k6: true means FAILED
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    _res, rows = rows_for(str(path), {"http_req_failed": ["rate<0.01"], "checks": ["rate>0.99"],
                                      "vus": ["value<=100"], "http_reqs": ["count==66000"]})
    assert [r["ok"] for r in rows] == [True, True, True, True]
    assert rows[0]["k6_ok"] is False and rows[0]["observed"] == 0.0000909  # read from "value"
    assert rows[1]["metric_type"] == "rate" and rows[2]["metric_type"] == "gauge"
    assert rows[3]["metric_type"] == "counter"


def test_handle_summary_duration_and_counts():
    res, rows = rows_for(fixture("handle_summary.json"), {"http_req_duration{name:dashboard}": ["max<3000"]})
    assert res.duration_s == pytest.approx(60.0005)
    assert rows[0]["samples"] == 11000 and rows[0]["ok"]


def test_summary_missing_percentile_names_summary_trend_stats():
    _res, rows = rows_for(fixture("handle_summary.json"), {"http_req_duration{name:api}": ["p(99)<400"]})
    assert not rows[0]["ok"] and "summaryTrendStats" in rows[0]["reason"]


def test_summary_submetric_matching_ignores_tag_order_and_spacing(tmp_path):
    data = load("handle_summary.json")
    data["metrics"]["http_req_duration{ method:GET, name:api }"] = data["metrics"].pop("http_req_duration{name:api}")
    path = tmp_path / "h.json"
    path.write_text(json.dumps(data))
    _res, rows = rows_for(str(path), {"http_req_duration{name:api,method:GET}": ["p(95)<200"],
                                      "http_req_duration{name:api}": ["p(95)<200"]})
    assert rows[0]["ok"] and not rows[1]["ok"] and "not found" in rows[1]["reason"]
