# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP031
"""The parallel NDJSON path (module_utils/k6_parallel.py): ranges, merge, and failures in any range.

The merge must give what one pass gives: the same observed values (up to the floating-point order of sums),
the same sample counts, duration and statistics, and for a bad file the same error naming the same line.
Most tests run the range readers one after another in this process (``in_process=True``, the same merge);
a few fork real workers.
"""

from __future__ import annotations

import gzip
import os

import pytest
from ansible_collections.mss.platform.plugins.module_utils import k6
from ansible_collections.mss.platform.plugins.module_utils import k6_ndjson as kn
from ansible_collections.mss.platform.plugins.module_utils import k6_parallel as kp
from ansible_collections.mss.platform.plugins.module_utils import k6_results as kr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .k6_helpers import SPEC, ndjson_files

FIX = os.path.join(os.path.dirname(__file__), "..", "modules", "fixtures", "k6")
SMALL = os.path.join(FIX, "ndjson_small.ndjson")
THRESHOLDS = k6.ThresholdSet(SPEC)
TARGETS = [(m, t) for _e, m, t, _thr in THRESHOLDS.targets]

METRIC = '{"type":"Metric","data":{"name":"%s","type":"%s","contains":"default"},"metric":"%s"}\n'
POINT = '{"metric":"%s","type":"Point","data":{"time":"2026-11-25T10:00:%02dZ","value":%s,"tags":{"name":"api"}}}\n'
BAD_LINES = [
    '{"type":"Metric","data":{"name":"x","type":"histogram"},"metric":"x"}\n',
    '{"type":"Sample","data":{},"metric":"x"}\n',
    '{"metric":"lat","type":"Point","data":{"time":"yesterday","value":1,"tags":null}}\n',
    '{"metric":"lat","type":"Point","data":{"time":"2026-11-25T10:00:00Z","value":"x","tags":null}}\n',
    '{"metric":"reqs","type":"Point","data":{"time":"2026-11-25T10:00:00Z","value":1,"tags":null}\n',
    "[1]\n",
    '{"type":"Metric","data":{"name":"lat","type":"counter"},"metric":"lat"}\n',
    # vus: not declared by _lines()
    '{"metric":"vus","type":"Point","data":{"time":"2026-11-25T10:00:00Z","value":1,"tags":null}}\n',
]


def outcome(path, ranges=None, head_bytes=None, spec=None, workers=1, **kw):
    """What the gate sees: ('ok', rows, duration, stats) or ('error', message)."""
    ts = k6.ThresholdSet(spec) if spec else THRESHOLDS
    reader = kp.NdjsonReader(str(path), [(m, t) for _e, m, t, _thr in ts.targets], 0.01, workers=workers, **kw)
    if head_bytes is not None:
        reader.HEAD_BYTES = head_bytes
    try:
        res = reader._read_parallel(ranges, in_process=True) if ranges else reader.read()
    except k6.K6FormatError as exc:
        return ("error", str(exc))
    stats = dict(res.stats)
    stats.pop("workers")
    stats.pop("worker_peak_rss_mib", None)
    stats.pop("worker_cpu_s", None)
    rows = [(r["metric"], r["threshold"], r["observed"], r["samples"], r["ok"]) for r in k6.evaluate(ts, res)]
    return ("ok", rows, res.duration_s, stats)


def assert_same(got, want):
    assert got[0] == want[0], (got, want)
    if want[0] == "error":
        assert got == want
        return
    assert got[2:] == want[2:]
    assert len(got[1]) == len(want[1])
    for g, w in zip(got[1], want[1], strict=True):
        assert g[:2] == w[:2] and g[3] == w[3]
        if w[2] is None:
            assert g[2] is None
        else:
            assert g[2] == pytest.approx(w[2], rel=1e-12, abs=1e-12)  # float sums in another order
        if w[2] is None or abs(g[2] - w[2]) <= 1e-9 * abs(w[2]):
            assert g[4] == w[4]


def line_starts(raw):
    starts = [0]
    for i, byte in enumerate(raw):
        if byte == 0x0A and i + 1 < len(raw):
            starts.append(i + 1)
    return starts


def k6_order(text):
    """Move each Metric line to just before the first point of its metric, as k6 writes them."""
    lines = text.splitlines(True)
    decl = {}
    points = []
    for line in lines:
        if '"type":"Metric"' in line and line.startswith('{"type":"Metric"'):
            decl[line.split('"metric":"')[1].split('"')[0]] = line
        else:
            points.append(line)
    out = []
    for line in points:
        name = line.split('"metric":"')[1].split('"')[0]
        if name in decl:
            out.append(decl.pop(name))
        out.append(line)
    return "".join(out + list(decl.values()))


@st.composite
def split_cases(draw):
    text, _samples = draw(ndjson_files())
    if draw(st.booleans()):
        text = k6_order(text)
    lines = text.splitlines(True)
    fault = draw(st.sampled_from(["none", "none", "bad", "truncate", "redeclare"]))
    if fault == "bad":
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(BAD_LINES)))
    elif fault == "redeclare":
        lines.insert(draw(st.integers(0, len(lines))), METRIC % ("reqs", "trend", "reqs"))
    raw = "".join(lines).encode("utf-8")
    if fault == "truncate":
        raw = raw[: len(raw) - draw(st.integers(1, 20))]
    head = draw(st.sampled_from([None, 0, 200]))
    return raw, head


# every boundary of up to ~90 lines: 25 files are ~2000 split reads
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=split_cases())
def test_split_at_every_line_boundary_equals_one_pass(tmp_path, case):
    """Two ranges cut at every line boundary: results (or the error and its line number) equal one pass."""
    raw, head = case
    path = tmp_path / "s.ndjson"
    path.write_bytes(raw)
    want = outcome(path)
    for cut in line_starts(raw)[1:]:
        assert_same(outcome(path, [(0, cut), (cut, len(raw))], head_bytes=head), want)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=split_cases(), data=st.data())
def test_split_into_many_ranges_equals_one_pass(tmp_path, case, data):
    raw, head = case
    path = tmp_path / "m.ndjson"
    path.write_bytes(raw)
    starts = line_starts(raw)
    cuts = sorted(data.draw(st.sets(st.sampled_from(starts[1:]), max_size=6)) if len(starts) > 1 else set())
    bounds = [0, *cuts, len(raw)]
    ranges = list(zip(bounds, bounds[1:], strict=False))
    assert_same(outcome(path, ranges, head_bytes=head), outcome(path))


@given(raw=st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"")), parts=st.integers(1, 9))
def test_split_ranges_cover_the_file_at_line_boundaries(tmp_path_factory, raw, parts):
    path = tmp_path_factory.mktemp("r") / "r.bin"
    path.write_bytes(raw)
    ranges = kp.split_ranges(str(path), len(raw), parts)
    assert len(ranges) <= max(parts, 1)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(raw)
    for (_s1, e1), (s2, _e2) in zip(ranges, ranges[1:], strict=False):
        assert e1 == s2 and raw[s2 - 1:s2] == b"\n"
    assert all(s < e for s, e in ranges) or raw == b""


def test_range_batches_split_lines_like_readlines(tmp_path):
    path = tmp_path / "l.txt"
    raw = b"".join(b"line %d\r with cr\n" % i for i in range(5000))
    path.write_bytes(raw)
    starts = line_starts(raw)
    with open(path, "rb") as handle:
        got = [line for batch in kp._range_batches(handle, starts[7], starts[4000], hint=1000) for line in batch]
    by_newline = [line + b"\n" for line in raw.split(b"\n")[:-1]]  # \r is not a line end here
    assert got == by_newline[7:4000] and len(got) == 3993


def _file(tmp_path, lines, name="f.ndjson"):
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


def _lines(n=40):
    lines = [METRIC % ("lat", "trend", "lat"), METRIC % ("reqs", "counter", "reqs")]
    for i in range(n):
        lines.append(POINT % ("lat" if i % 2 else "reqs", i % 60, i + 1))
    return lines


@pytest.mark.parametrize("bad", range(len(BAD_LINES)))
def test_a_bad_line_in_any_range_fails_naming_its_line(tmp_path, bad):
    for where in (1, 15, 30, 42):
        lines = _lines()
        lines.insert(where, BAD_LINES[bad])
        path = _file(tmp_path, lines)
        raw = path.read_bytes()
        want = outcome(path)
        assert want[0] == "error" and ("line %d:" % (where + 1)) in want[1]
        for cut in line_starts(raw)[1:]:
            assert outcome(path, [(0, cut), (cut, len(raw))], head_bytes=0) == want


def test_forked_workers_equal_one_pass(tmp_path):
    text = "".join(_lines(3000))
    path = _file(tmp_path, [text])
    want = outcome(path)
    ts = k6.ThresholdSet(SPEC)
    res = kp.NdjsonReader(str(path), TARGETS, 0.01, workers=3, min_chunk_bytes=1).read()
    assert res.stats["workers"] == 3 and len(res.stats["worker_peak_rss_mib"]) == 3
    assert all(mib > 0 for mib in res.stats["worker_peak_rss_mib"])
    assert len(res.stats["worker_cpu_s"]) == 3 and all(cpu >= 0 for cpu in res.stats["worker_cpu_s"])
    got = ("ok", [(r["metric"], r["threshold"], r["observed"], r["samples"], r["ok"]) for r in k6.evaluate(ts, res)],
           res.duration_s, {k: v for k, v in res.stats.items() if not k.startswith("worker")})
    assert_same(got, want)
    # read_results passes workers through; 0 means one per usable CPU
    res = kr.read_results(str(path), "ndjson", ts, workers=0)
    assert res.stats["workers"] == 1  # below min_chunk_bytes per worker: one pass
    assert kp.usable_cpus() >= 1


def test_forked_worker_error_names_the_file_line(tmp_path):
    lines = _lines(3000)
    lines.insert(2500, BAD_LINES[4])
    path = _file(tmp_path, lines)
    with pytest.raises(k6.K6FormatError, match="line 2501: malformed or truncated JSON"):
        kp.NdjsonReader(str(path), TARGETS, 0.01, workers=4, min_chunk_bytes=1).read()


def test_forked_truncated_file_fails(tmp_path):
    raw = "".join(_lines(3000)).encode()
    path = tmp_path / "t.ndjson"
    path.write_bytes(raw[:-25])
    with pytest.raises(k6.K6FormatError, match="line 3002: malformed or truncated"):
        kp.NdjsonReader(str(path), TARGETS, 0.01, workers=2, min_chunk_bytes=1).read()


def test_worker_crash_fails_closed(tmp_path, monkeypatch):
    path = _file(tmp_path, _lines(3000))

    def boom(*_args):
        raise MemoryError("no room")

    monkeypatch.setattr(kp, "_read_range", boom)  # the forked workers inherit the patch
    with pytest.raises(k6.K6FormatError, match="worker failed: MemoryError: no room"):
        kp.NdjsonReader(str(path), TARGETS, 0.01, workers=2, min_chunk_bytes=1).read()

    def die(*_args):
        os._exit(3)

    monkeypatch.setattr(kp, "_read_range", die)
    with pytest.raises(k6.K6FormatError, match=r"died \(exit code 3\)"):
        kp.NdjsonReader(str(path), TARGETS, 0.01, workers=2, min_chunk_bytes=1).read()


def test_point_before_its_metric_line_across_ranges(tmp_path):
    # declared in range 0 after the head the parent reads: range 1 is read again with the complete types
    lines = _lines(10) + [METRIC % ("vus", "gauge", "vus")] + [POINT % ("vus", 5, 7)] * 10
    path = _file(tmp_path, lines)
    raw = path.read_bytes()
    cut = line_starts(raw)[14]
    got = outcome(path, [(0, cut), (cut, len(raw))], head_bytes=0)
    assert got[0] == "ok"
    assert_same(got, outcome(path))
    assert [r for r in got[1] if r[0] == "vus"][0][2] == 7
    # a threshold's point in range 0 whose metric is declared only in range 1: one pass's error, same line
    lines = [METRIC % ("lat", "trend", "lat"), POINT % ("vus", 1, 2), *_lines(10)[2:], METRIC % ("vus", "gauge", "vus")]
    path = _file(tmp_path, lines, "b.ndjson")
    raw = path.read_bytes()
    for cut in line_starts(raw)[1:]:
        got = outcome(path, [(0, cut), (cut, len(raw))])
        assert got == outcome(path) and "line 2: Point of vus before its Metric line" in got[1]


def test_type_conflict_across_ranges(tmp_path):
    lines = _lines(10) + [METRIC % ("lat", "gauge", "lat")] + _lines(10)[2:]
    path = _file(tmp_path, lines)
    raw = path.read_bytes()
    for head in (None, 0):
        for cut in line_starts(raw)[1:]:
            got = outcome(path, [(0, cut), (cut, len(raw))], head_bytes=head)
            assert got[0] == "error" and "line 13: metric lat declared as trend then as gauge" in got[1]


def test_small_gzip_and_single_worker_files_take_one_pass(tmp_path):
    path = tmp_path / "g.ndjson.gz"
    with open(SMALL, "rb") as src, gzip.open(path, "wb") as dst:
        dst.write(src.read())
    reader = kp.NdjsonReader(str(path), [("http_reqs", {})], 0.01, workers=4, min_chunk_bytes=1)
    assert reader._plan() is None and reader.read().stats["workers"] == 1
    assert kp.NdjsonReader(SMALL, [("http_reqs", {})], 0.01, workers=1, min_chunk_bytes=1)._plan() is None
    assert kp.NdjsonReader(SMALL, [("http_reqs", {})], 0.01, workers=2)._plan() is None  # < 2 x 32 MiB
    plan = kp.NdjsonReader(SMALL, [("http_reqs", {})], 0.01, workers=2, min_chunk_bytes=1)._plan()
    assert len(plan) == 2 and plan[-1][1] == os.path.getsize(SMALL)
    with pytest.raises(k6.K6GateError, match="workers must be"):
        kp.NdjsonReader(SMALL, [("http_reqs", {})], 0.01, workers=-1)


def test_accumulator_merge_refuses_another_type():
    acc = kn.Accumulator(k6.TREND, 0.01)
    other = kn.Accumulator(k6.COUNTER, 0.01)
    other.add(1.0)
    with pytest.raises(k6.K6GateError, match="cannot merge"):
        acc.merge(other.export())


@pytest.mark.parametrize(("v2", "v1", "want"), [
    ("max 100000\n", None, None),
    ("150000 100000\n", None, 2),
    ("50000 100000\n", None, 1),
    (None, ("-1", "100000"), None),
    (None, ("400000", "100000"), 4),
    (None, None, None),
    ("garbage\n", ("200000", "100000"), 2),
])
def test_cgroup_cpu_limit(tmp_path, v2, v1, want):
    files = []
    if v2 is not None:
        (tmp_path / "cpu.max").write_text(v2)
    files.append((str(tmp_path / "cpu.max"), None))
    if v1 is not None:
        (tmp_path / "quota").write_text(v1[0])
        (tmp_path / "period").write_text(v1[1])
    files.append((str(tmp_path / "quota"), str(tmp_path / "period")))
    assert kp._cgroup_cpu_limit(files) == want


def test_usable_cpus_honours_a_cgroup_quota(monkeypatch):
    monkeypatch.setattr(kp, "_cgroup_cpu_limit", lambda: 1)
    assert kp.usable_cpus() == 1
    monkeypatch.setattr(kp, "_cgroup_cpu_limit", lambda: None)
    assert kp.usable_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.setattr(kp, "usable_cpus", lambda: 64)
    plan = kp.NdjsonReader(SMALL, [("http_reqs", {})], 0.01, workers=0, min_chunk_bytes=1)._plan()
    assert len(plan) == kp.AUTO_WORKERS_MAX  # auto never forks more than 8
