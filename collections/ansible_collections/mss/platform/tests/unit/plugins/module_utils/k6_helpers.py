# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP031
"""Shared by the k6 reader tests: the recorded fixtures, one evaluation helper and generated NDJSON files.

Fixtures in ../modules/fixtures/k6 follow grafana/k6 js/summary-wrapper.js (summary-export),
js/summary.go (handleSummary data) and output/json/wrapper.go + json_test.go (NDJSON); see their README.
"""

from __future__ import annotations

import json
import math
import os

from ansible_collections.mss.platform.plugins.module_utils import k6
from ansible_collections.mss.platform.plugins.module_utils import k6_results as kr
from hypothesis import HealthCheck, settings
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


def write_file(tmp_path, name, content, mode="w"):
    path = tmp_path / name
    with open(path, mode) as handle:
        handle.write(content)
    return str(path)


# Hypothesis settings of the generated-file properties (tmp_path is function-scoped, and that is fine here).
NDJSON_EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


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
