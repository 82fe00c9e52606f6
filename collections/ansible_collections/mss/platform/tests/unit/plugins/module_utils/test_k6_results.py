# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP031
"""Readers of the three k6 formats (module_utils/k6_results.py).

Fixtures in ../modules/fixtures/k6 follow grafana/k6 js/summary-wrapper.js (summary-export),
js/summary.go (handleSummary data) and output/json/wrapper.go + json_test.go (NDJSON); see their README.
"""

from __future__ import annotations

import datetime
import gzip
import json
import math
import os

import pytest
from ansible_collections.mss.platform.plugins.module_utils import k6
from ansible_collections.mss.platform.plugins.module_utils import k6_results as kr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIX = os.path.join(os.path.dirname(__file__), "..", "modules", "fixtures", "k6")
DEFAULTS = k6.ThresholdSet(k6.DEFAULT_THRESHOLDS)


def fixture(name):
    return os.path.join(FIX, name)


def load(name):
    with open(fixture(name)) as handle:
        return json.load(handle)


def text_of(name, mode="r"):
    with open(fixture(name), mode) as handle:
        return handle.read()


def rows_for(path, spec=None, fmt="auto", **kw):
    ts = k6.ThresholdSet(spec) if spec else DEFAULTS
    res = kr.read_results(path, fmt, ts, **kw)
    return res, k6.evaluate(ts, res)


@pytest.mark.parametrize(("name", "fmt"), [("summary_export.json", "summary_export"),
                                           ("handle_summary.json", "handle_summary"),
                                           ("ndjson_small.ndjson", "ndjson")])
def test_detect_format(name, fmt):
    assert kr.detect_format(fixture(name)) == fmt


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


def test_ndjson_small_values():
    res, rows = rows_for(fixture("ndjson_small.ndjson"), {
        "http_req_duration{name:api}": ["p(95)<290", "med==190", "avg==190", "min==80", "max==300"],
        "http_reqs": ["count==3", "rate==1.5"], "http_req_failed{name:api}": ["rate==0.5"],
        "vus": ["value==3"], "checks": ["rate==0"], "http_req_duration{name:homepage}": ["p(95)==120.5"]})
    assert all(r["ok"] for r in rows), [r["reason"] for r in rows if not r["ok"]]
    assert res.duration_s == 2.0 and res.stats["points"] == 12
    assert rows[0]["observed"] == pytest.approx(289.0, rel=0.01)


def test_ndjson_gzip(tmp_path):
    path = tmp_path / "out.json.gz"
    with open(fixture("ndjson_small.ndjson"), "rb") as src, gzip.open(path, "wb") as dst:
        dst.write(src.read())
    assert kr.detect_format(str(path)) == "ndjson"
    _res, rows = rows_for(str(path), {"http_reqs": ["count==3"]})
    assert rows[0]["ok"]


def test_ndjson_missing_metric_and_submetric_fail():
    _res, rows = rows_for(fixture("ndjson_small.ndjson"), {"grpc_req_duration": ["p(95)<1"],
                                                           "http_req_duration{name:nope}": ["p(95)<1"]})
    assert "not found" in rows[0]["reason"] and "no samples" in rows[1]["reason"]


def test_ndjson_counter_rate_without_duration_fails(tmp_path):
    lines = text_of("ndjson_small.ndjson").splitlines()[2:4]
    path = tmp_path / "one.ndjson"
    path.write_text("\n".join(lines) + "\n")
    _res, rows = rows_for(str(path), {"http_reqs": ["rate>0", "count==1"]})
    assert not rows[0]["ok"] and "duration" in rows[0]["reason"] and rows[1]["ok"]


# ---- failure paths: every one is a K6FormatError naming the cause -------------------------------------------

def _write(tmp_path, name, content, mode="w"):
    path = tmp_path / name
    with open(path, mode) as handle:
        handle.write(content)
    return str(path)


@pytest.mark.parametrize(("content", "cause"), [
    ("", "is empty"),
    ("\n\n  \n", "is empty"),
    ('{"metrics": {"http_reqs": {"count": 1, "rate"', "truncated"),
    ("[1, 2, 3]", "unknown format"),
    ('{"foo": 1}', "unknown format"),
    ('{"metrics": {}}', "empty \"metrics\""),
    ('{"metrics": {"a": {"type": "counter", "values": {"count": 1}}, "b": {"count": 1, "rate": 1}}}', "ambiguous"),
    ('{"metrics": {"a": {"count": "many"}}}', "neither in summary-export form"),
    ("not json at all\n", "not valid JSON"),
])
def test_detection_fails_closed(tmp_path, content, cause):
    path = _write(tmp_path, "r.json", content)
    with pytest.raises(k6.K6FormatError, match=cause):
        kr.read_results(path, "auto", DEFAULTS)


def test_missing_file_fails_closed(tmp_path):
    with pytest.raises(k6.K6FormatError, match="cannot read"):
        kr.read_results(str(tmp_path / "nope.json"), "auto", DEFAULTS)


def test_forced_format_mismatch_fails(tmp_path):
    with pytest.raises(k6.K6FormatError, match="given as handle_summary but its content is summary_export"):
        kr.read_results(fixture("summary_export.json"), "handle_summary", DEFAULTS)
    with pytest.raises(k6.K6FormatError, match="unknown format 'csv'"):
        kr.read_results(fixture("summary_export.json"), "csv", DEFAULTS)


def test_ndjson_truncated_last_line(tmp_path):
    text = text_of("ndjson_small.ndjson")
    path = _write(tmp_path, "t.ndjson", text[: len(text) - 30])
    with pytest.raises(k6.K6FormatError, match="truncated"):
        kr.read_results(path, "ndjson", DEFAULTS)
    with pytest.raises(k6.K6FormatError, match="truncated"):
        kr.read_results(path, "auto", DEFAULTS)


def test_ndjson_truncated_gzip(tmp_path):
    raw = gzip.compress(text_of("ndjson_small.ndjson", "rb"))
    path = _write(tmp_path, "t.json.gz", raw[: len(raw) // 2], "wb")
    with pytest.raises(k6.K6FormatError, match="truncated|incomplete"):
        kr.read_results(path, "ndjson", DEFAULTS)


@pytest.mark.parametrize(("line", "cause"), [
    ('{"type":"Metric","data":{"name":"x","type":"histogram"},"metric":"x"}', "unknown type"),
    ('{"type":"Sample","data":{},"metric":"x"}', "unknown line type"),
    ('{"metric":"http_reqs","type":"Point","data":{"time":"yesterday","value":1,"tags":null}}', "time"),
    ('{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-25T10:00:00Z","value":"x","tags":null}}',
     "numeric"),
    ('{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-25T10:00:00Z","value":1,"tags":null}', "malformed"),
    ("[1]", "not a JSON object"),
])
def test_ndjson_bad_lines_fail_with_line_number(tmp_path, line, cause):
    head = '{"type":"Metric","data":{"name":"http_reqs","type":"counter"},"metric":"http_reqs"}\n'
    path = _write(tmp_path, "b.ndjson", head + line + "\n" + head)
    with pytest.raises(k6.K6FormatError, match="line 2: .*" + cause):
        kr.read_results(path, "ndjson", DEFAULTS)


def test_ndjson_point_before_metric_line_fails(tmp_path):
    line = '{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-25T10:00:00Z","value":1,"tags":null}}\n'
    path = _write(tmp_path, "p.ndjson", line)
    with pytest.raises(k6.K6FormatError, match="before its Metric line"):
        kr.read_results(path, "ndjson", DEFAULTS)


def test_bad_relative_accuracy(tmp_path):
    with pytest.raises(k6.K6GateError, match="relative_accuracy"):
        kr.read_results(fixture("ndjson_small.ndjson"), "ndjson", DEFAULTS, relative_accuracy=1.5)


# ---- properties -------------------------------------------------------------------------------------------

def k6_exact_percentile(values, pct):
    """k6's classic TrendSink.P: sort, then interpolate linearly at rank pct*(n-1)."""
    ordered = sorted(values)
    rank = pct / 100.0 * (len(ordered) - 1)
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return ordered[lo] + (rank - lo) * (ordered[hi] - ordered[lo])


_TAG_VALUES = st.sampled_from(["homepage", "api", "dash board", "a<b&c", 'quo"te', "x,\"name\":\"api\"",
                               "ünï", "}", "{", "metadata"])
_VALUES = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)


def _point(metric, ts, value, tags, metadata=None, order="new"):
    data = {"time": ts, "value": value, "tags": tags}
    if metadata is not None:
        data["metadata"] = metadata
    # Go's encoder: compact separators, HTML escaping of <, >, & and non-ASCII kept as UTF-8.
    if order == "new":
        obj = {"metric": metric, "type": "Point", "data": data}
    else:
        obj = {"type": "Point", "data": data, "metric": metric}
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@st.composite
def ndjson_files(draw):
    n = draw(st.integers(1, 80))
    lines = [json.dumps({"type": "Metric", "metric": m,
                         "data": {"name": m, "type": t, "contains": "default", "thresholds": [], "submetrics": None}},
                        separators=(",", ":"))
             for m, t in (("lat", "trend"), ("fail", "rate"), ("reqs", "counter"), ("vus", "gauge"),
                          ("noise", "trend"))]
    samples = []
    for i in range(n):
        metric = draw(st.sampled_from(["lat", "fail", "reqs", "vus", "noise"]))
        name = draw(_TAG_VALUES)
        tags = draw(st.one_of(st.none(), st.just({"name": name, "method": "GET"}),
                              st.just({"method": "GET", "name": name, "url": "http://h/" + name})))
        value = draw(_VALUES) if metric in ("lat", "vus", "noise") else draw(st.sampled_from([0, 1, 2.5]))
        meta = draw(st.one_of(st.none(), st.just({"name": "homepage"})))
        sec = draw(st.integers(0, 59))
        frac = draw(st.sampled_from(["", ".5", ".123456789", ".1"]))
        tz = draw(st.sampled_from(["Z", "+02:00", "-05:30"]))
        ts = "2026-11-25T10:00:%02d%s%s" % (sec, frac, tz)
        order = draw(st.sampled_from(["new", "new", "old"]))
        lines.append(_point(metric, ts, value, tags, meta, order))
        samples.append((metric, ts, value, tags))
    return "\n".join(lines) + "\n", samples


SPEC = {"lat": ["p(95)<1e9", "avg<1e9", "min>=0", "max>=0", "med>=0"],
        "lat{name:homepage}": ["p(50)<1e9"], "lat{name:a<b&c}": ["max>=0"], "lat{name:api,method:GET}": ["avg>=0"],
        "fail": ["rate<=1"], "fail{name:dash board}": ["rate<=1"], "reqs": ["count>=0", "rate>=0"],
        "vus": ["value>=0"]}


def _observed(path, fast):
    ts = k6.ThresholdSet(SPEC)
    targets = [(m, t) for _e, m, t, _thr in ts.targets]
    res = kr.NdjsonReader(path, targets, 0.01, fast=fast).read()
    return res, [(r["metric"], r["threshold"], r["observed"], r["samples"]) for r in k6.evaluate(ts, res)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=ndjson_files())
def test_fast_path_equals_full_json_parse(tmp_path, data):
    """The byte-level fast path gives exactly what json.loads of every line gives, for any tags."""
    text, _samples = data
    path = tmp_path / "f.ndjson"
    path.write_text(text, encoding="utf-8")
    fast_res, fast = _observed(str(path), True)
    slow_res, slow = _observed(str(path), False)
    assert fast == slow
    assert fast_res.duration_s == slow_res.duration_s
    assert fast_res.stats == slow_res.stats


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=ndjson_files())
def test_ndjson_aggregations_match_exact_computation(tmp_path, data):
    """Exact aggregations are exact; percentiles are within relative_accuracy of k6's exact percentile."""
    text, samples = data
    path = tmp_path / "e.ndjson"
    path.write_text(text, encoding="utf-8")
    res, rows = _observed(str(path), True)
    lat = [v for m, _t, v, _g in samples if m == "lat"]
    by = {(r[0], r[1]): r[2] for r in rows}
    if lat:
        assert by[("lat", "min>=0")] == min(lat) and by[("lat", "max>=0")] == max(lat)
        assert by[("lat", "avg<1e9")] == pytest.approx(sum(lat) / len(lat), rel=1e-9, abs=1e-9)
        for key, pct in ((("lat", "p(95)<1e9"), 95), (("lat", "med>=0"), 50)):
            exact = k6_exact_percentile(lat, pct)
            assert abs(by[key] - exact) <= 0.01 * exact + 1e-9
    fails = [v for m, _t, v, _g in samples if m == "fail"]
    if fails:
        assert by[("fail", "rate<=1")] == sum(1 for v in fails if v != 0) / len(fails)
    reqs = [v for m, _t, v, _g in samples if m == "reqs"]
    if reqs:
        assert by[("reqs", "count>=0")] == sum(reqs)
        times = [kr._TimeSpan().seconds(t.encode()) for _m, t, _v, _g in samples]
        duration = max(times) - min(times)
        assert res.duration_s == duration
        if duration > 0:
            assert by[("reqs", "rate>=0")] == pytest.approx(sum(reqs) / duration)
    homepage = [v for m, _t, v, g in samples if m == "lat" and g and g.get("name") == "homepage"]
    if homepage:
        exact = k6_exact_percentile(homepage, 50)
        assert abs(by[("lat{name:homepage}", "p(50)<1e9")] - exact) <= 0.01 * exact + 1e-9
    odd = [v for m, _t, v, g in samples if m == "lat" and g and g.get("name") == "a<b&c"]
    assert by[("lat{name:a<b&c}", "max>=0")] == (max(odd) if odd else None)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(min_value=1e-3, max_value=1e9, allow_nan=False), min_size=1, max_size=400),
       pct=st.floats(0, 100, allow_nan=False), alpha=st.sampled_from([0.05, 0.01, 0.001]))
def test_percentile_error_bound(values, pct, alpha):
    """|sketch p(N) - k6 exact p(N)| <= relative_accuracy * exact, for non-negative samples."""
    acc = kr._Accumulator(k6.TREND, alpha)
    for v in values:
        acc.add(v)
    mdata = acc.to_metric_data("m", None)
    exact = k6_exact_percentile(values, pct)
    assert abs(mdata.quantile(pct / 100.0) - exact) <= alpha * exact * (1 + 1e-9)


_DATETIMES = st.datetimes(min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2200, 1, 1),
                          timezones=st.timezones(), allow_imaginary=False)


@given(ts=_DATETIMES, nanos=st.integers(0, 999999999))
def test_time_parser_matches_datetime(ts, nanos):
    base = ts.replace(microsecond=0)
    off = base.utcoffset() or datetime.timedelta(0)
    if off.seconds % 60 or abs(off) >= datetime.timedelta(days=1):
        return
    tz = "Z" if not off else base.strftime("%z")[:3] + ":" + base.strftime("%z")[3:]
    frac = ("." + ("%09d" % nanos).rstrip("0")) if nanos else ""
    text = base.strftime("%Y-%m-%dT%H:%M:%S") + frac + tz
    got = kr._TimeSpan().seconds(text.encode())
    assert got == pytest.approx(base.timestamp() + nanos / 1e9, abs=1e-6)
