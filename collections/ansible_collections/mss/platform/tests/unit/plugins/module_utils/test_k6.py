# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k6 threshold grammar and evaluation (module_utils/k6.py).

The grammar cases follow grafana/k6 metrics/thresholds_parser.go (BNF of parseThresholdExpression) and
metrics/metric.go (ParseMetricName); the aggregations per type follow metrics/sink.go.
"""

from __future__ import annotations

import operator

import pytest
from ansible_collections.mss.platform.plugins.module_utils import k6
from hypothesis import given
from hypothesis import strategies as st

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "==": operator.eq, "===": operator.eq, "!=": operator.ne}


@pytest.mark.parametrize(("expr", "method", "pct", "op", "limit"), [
    ("p(95)<2000", "p", 95.0, "<", 2000.0),
    ("p(99.9) <= 1.5", "p", 99.9, "<=", 1.5),
    ("rate<0.01", "rate", None, "<", 0.01),
    ("rate>1000", "rate", None, ">", 1000.0),
    ("count >= 10", "count", None, ">=", 10.0),
    ("value===5", "value", None, "===", 5.0),
    ("avg!=3", "avg", None, "!=", 3.0),
    ("  med  ==  7 ", "med", None, "==", 7.0),
    ("max<1e3", "max", None, "<", 1000.0),
])
def test_parse_threshold_valid(expr, method, pct, op, limit):
    thr = k6.parse_threshold(expr)
    assert (thr.method, thr.percentile, thr.operator, thr.limit) == (method, pct, op, limit)


def test_parse_threshold_object_form():
    thr = k6.parse_threshold({"threshold": "p(95)<200", "abortOnFail": True})
    assert thr.abort_on_fail and thr.aggregation == "p(95)"


@pytest.mark.parametrize(("expr", "cause"), [
    ("p(95)", "no operator"),
    ("", "no operator"),
    ("p(95)<", "nothing on the right"),
    ("p95<200", "unknown aggregation"),
    ("p(abc)<200", "percentile"),
    ("p(101)<200", "outside 0..100"),
    ("avg<fast", "not a number"),
    ("avg<nan", "not a finite number"),
    ("median<2", "unknown aggregation"),
    (42, "not a string"),
    ({"abortOnFail": True}, "must have a \"threshold\" key"),
])
def test_parse_threshold_malformed(expr, cause):
    with pytest.raises(k6.K6ThresholdSyntaxError, match=cause.replace("(", r"\(").replace(")", r"\)")):
        k6.parse_threshold(expr)


@pytest.mark.parametrize(("expr", "metric", "tags"), [
    ("http_reqs", "http_reqs", {}),
    ("http_req_duration{name:homepage}", "http_req_duration", {"name": "homepage"}),
    ("http_req_duration{ name : 'api' , method:\"GET\"}", "http_req_duration", {"name": "api", "method": "GET"}),
    ("http_req_duration{expected_response:true}", "http_req_duration", {"expected_response": "true"}),
    ("http_req_duration{url:http://x/a}", "http_req_duration", {"url": "http://x/a"}),
])
def test_parse_metric_expression(expr, metric, tags):
    assert k6.parse_metric_expression(expr) == (metric, tags)


@pytest.mark.parametrize(("expr", "cause"), [
    ("http_req_duration{name:homepage", "unmatched"),
    ("http_req_duration}name:x{", "unmatched|before opening"),
    ("http_req_duration{name:x}x", "must end"),
    ("http_req_duration{name}", "key:value"),
    ("http_req_duration{name:}", "key:value"),
    ("{name:x}", "invalid metric name"),
    ("", "empty"),
    ("http req", "invalid metric name"),
])
def test_parse_metric_expression_malformed(expr, cause):
    with pytest.raises(k6.K6ThresholdSyntaxError, match=cause):
        k6.parse_metric_expression(expr)


def test_threshold_set_refuses_duplicates_and_empties():
    with pytest.raises(k6.K6ThresholdSyntaxError, match="same"):
        k6.ThresholdSet({"m{a:1,b:2}": ["avg<1"], "m{b:2,a:1}": ["avg<2"]})
    with pytest.raises(k6.K6ThresholdSyntaxError, match="non-empty"):
        k6.ThresholdSet({})
    with pytest.raises(k6.K6ThresholdSyntaxError, match="non-empty list"):
        k6.ThresholdSet({"m": []})


def test_default_thresholds_are_the_spec_benchmarks():
    ts = k6.ThresholdSet(k6.DEFAULT_THRESHOLDS)
    got = {(expr, t.normalized()) for expr, _m, _t, thrs in ts.targets for t in thrs}
    assert got == {
        ("http_req_duration{name:homepage}", "p(95)<2000"),
        ("http_req_duration{name:api}", "p(95)<200"),
        ("http_req_duration{name:dashboard}", "p(95)<3000"),
        ("http_reqs", "rate>1000"),
        ("http_req_failed", "rate<0.01"),
    }


_NUM = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
_WS = st.sampled_from(["", " ", "  "])
_METHOD = st.one_of(st.sampled_from(["avg", "min", "max", "med", "rate", "count", "value"]),
                    st.integers(0, 100).map(lambda p: f"p({p})"),
                    st.floats(0, 100, allow_nan=False).map(lambda p: f"p({p!r})"))


@given(method=_METHOD, op=st.sampled_from(list(OPS)), limit=_NUM, observed=_NUM, w1=_WS, w2=_WS, w3=_WS)
def test_threshold_grammar_and_comparison_property(method, op, limit, observed, w1, w2, w3):
    """Any k6-grammar expression, whatever its spacing, parses to its parts and compares like Python."""
    thr = k6.parse_threshold(f"{w1}{method}{w2}{op}{w3}{limit!r}")
    assert thr.operator == op and thr.limit == limit
    assert thr.compare(observed) == OPS[op](observed, limit)
    assert k6.parse_threshold(thr.normalized()).normalized() == thr.normalized()


class _Res:
    def __init__(self, table, fmt="handle_summary"):
        self.table = table
        self.format = fmt

    def lookup(self, metric, tags):
        return self.table.get((metric, tuple(sorted(tags.items()))))


def _results(table, fmt="handle_summary"):
    res = _Res(table, fmt)
    return k6.Results(fmt, res.lookup)


def test_evaluate_missing_metric_wrong_type_and_missing_aggregation_fail():
    ts = k6.ThresholdSet({"http_req_duration{name:api}": ["p(95)<200", "p(99)<400", "rate<1"],
                          "http_req_duration{name:nope}": ["p(95)<1"], "empty": ["rate<1"]})
    api = k6.MetricData("http_req_duration{name:api}", k6.TREND, {"p(95)": 150.0})
    empty = k6.MetricData("empty", k6.RATE, {}, samples=0)
    rows = k6.evaluate(ts, _results({("http_req_duration", (("name", "api"),)): api, ("empty", ()): empty}))
    assert [r["ok"] for r in rows] == [True, False, False, False, False]
    assert "not in the handle_summary results" in rows[1]["reason"]
    assert "not valid for trend metric" in rows[2]["reason"]
    assert "not found" in rows[3]["reason"]
    assert "no samples" in rows[4]["reason"]
    summary = k6.summarize(rows)
    assert summary == {"passed": False, "total": 5, "failed": 4, "disagreements": 0}


def test_evaluate_non_numeric_value_fails():
    ts = k6.ThresholdSet({"m": ["avg<1"]})
    rows = k6.evaluate(ts, _results({("m", ()): k6.MetricData("m", k6.TREND, {"avg": "fast"})}))
    assert not rows[0]["ok"] and "not a number" in rows[0]["reason"]


def test_cross_check_matches_k6_verdict_whatever_the_spacing():
    ts = k6.ThresholdSet({"m": ["p(95) < 200"]})
    data = k6.MetricData("m", k6.TREND, {"p(95)": 250.0}, k6_thresholds={"p(95)<200": True})
    rows = k6.evaluate(ts, _results({("m", ()): data}))
    assert rows[0]["ok"] is False and rows[0]["k6_ok"] is True
    assert k6.summarize(rows)["disagreements"] == 1
