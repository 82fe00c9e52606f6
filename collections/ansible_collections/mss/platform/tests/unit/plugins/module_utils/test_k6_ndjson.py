# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP031
"""The one-pass k6 NDJSON reader (module_utils/k6_ndjson.py): values, failures naming their line, properties."""

from __future__ import annotations

import datetime
import gzip

import pytest
from ansible_collections.mss.platform.plugins.module_utils import k6
from ansible_collections.mss.platform.plugins.module_utils import k6_ndjson as kn
from ansible_collections.mss.platform.plugins.module_utils import k6_results as kr
from hypothesis import given, settings
from hypothesis import strategies as st

from .k6_helpers import (
    DEFAULTS,
    NDJSON_EXAMPLES,
    SPEC,
    fixture,
    k6_exact_percentile,
    ndjson_files,
    rows_for,
    text_of,
    write_file,
)


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


# ---- failure paths: every one is a K6FormatError naming the cause -------------------------------------------

def test_ndjson_truncated_last_line(tmp_path):
    text = text_of("ndjson_small.ndjson")
    path = write_file(tmp_path, "t.ndjson", text[: len(text) - 30])
    with pytest.raises(k6.K6FormatError, match="truncated"):
        kr.read_results(path, "ndjson", DEFAULTS)
    with pytest.raises(k6.K6FormatError, match="truncated"):
        kr.read_results(path, "auto", DEFAULTS)


def test_ndjson_truncated_gzip(tmp_path):
    raw = gzip.compress(text_of("ndjson_small.ndjson", "rb"))
    path = write_file(tmp_path, "t.json.gz", raw[: len(raw) // 2], "wb")
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
    path = write_file(tmp_path, "b.ndjson", head + line + "\n" + head)
    with pytest.raises(k6.K6FormatError, match="line 2: .*" + cause):
        kr.read_results(path, "ndjson", DEFAULTS)


def test_ndjson_point_before_metric_line_fails(tmp_path):
    line = '{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-25T10:00:00Z","value":1,"tags":null}}\n'
    path = write_file(tmp_path, "p.ndjson", line)
    with pytest.raises(k6.K6FormatError, match="before its Metric line"):
        kr.read_results(path, "ndjson", DEFAULTS)


def test_bad_relative_accuracy(tmp_path):
    with pytest.raises(k6.K6GateError, match="relative_accuracy"):
        kr.read_results(fixture("ndjson_small.ndjson"), "ndjson", DEFAULTS, relative_accuracy=1.5)


# ---- properties -------------------------------------------------------------------------------------------

def _observed(tmp_path, text, fast=True):
    """Write ``text`` as an NDJSON file and read it once: (results, [(metric, threshold, observed, samples)])."""
    path = tmp_path / "f.ndjson"
    path.write_text(text, encoding="utf-8")
    ts = k6.ThresholdSet(SPEC)
    targets = [(m, t) for _e, m, t, _thr in ts.targets]
    res = kn.NdjsonScanner(str(path), targets, 0.01, fast=fast).read()
    return res, [(r["metric"], r["threshold"], r["observed"], r["samples"]) for r in k6.evaluate(ts, res)]


@NDJSON_EXAMPLES
@given(data=ndjson_files())
def test_fast_path_equals_full_json_parse(tmp_path, data):
    """The byte-level fast path gives exactly what json.loads of every line gives, for any tags."""
    fast_res, fast = _observed(tmp_path, data[0], fast=True)
    slow_res, slow = _observed(tmp_path, data[0], fast=False)
    assert fast == slow
    assert fast_res.duration_s == slow_res.duration_s
    assert fast_res.stats == slow_res.stats


@NDJSON_EXAMPLES
@given(data=ndjson_files())
def test_ndjson_aggregations_match_exact_computation(tmp_path, data):
    """Exact aggregations are exact; percentiles are within relative_accuracy of k6's exact percentile."""
    text, samples = data
    res, rows = _observed(tmp_path, text)
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
        times = [kn.TimeSpan().seconds(t.encode()) for _m, t, _v, _g in samples]
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
    acc = kn.Accumulator(k6.TREND, alpha)
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
    got = kn.TimeSpan().seconds(text.encode())
    assert got == pytest.approx(base.timestamp() + nanos / 1e9, abs=1e-6)
