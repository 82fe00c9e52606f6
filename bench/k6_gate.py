#!/usr/bin/env python3
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP031
"""Benchmark of the k6_gate NDJSON reader: throughput and peak memory against an exact computation.

For each size (default 1 M and 10 M points) it generates a k6 `--out json` file under /tmp shaped like real
k6 output (9 http_req_* points per request with k6's tag set, per-iteration data/iteration/check points, a
`vus` gauge every second), then runs, each in its own subprocess:
  - gate:  the module's reader (byte-level pre-filter + DDSketch) on the default thresholds;
  - exact: json.loads of every line, every referenced value kept in a list, sorted, k6's interpolated
           percentile (what k6 <= v1.x computes in memory).
Peak memory is the subprocess's ru_maxrss (read with RUSAGE_CHILDREN by a launcher process that runs only
that one child). Writes bench/results/k6_gate.json and .md. The generated files are deleted at the end.

Usage: bench/k6_gate.py [--sizes 1000000,10000000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))

RESULTS = os.path.join(ROOT, "bench", "results")
WORKDIR = "/tmp/k6_gate_bench"

HTTP_METRICS = [("http_reqs", "counter"), ("http_req_duration", "trend"), ("http_req_blocked", "trend"),
                ("http_req_connecting", "trend"), ("http_req_tls_handshaking", "trend"),
                ("http_req_sending", "trend"), ("http_req_waiting", "trend"), ("http_req_receiving", "trend"),
                ("http_req_failed", "rate")]
ITER_METRICS = [("data_sent", "counter"), ("data_received", "counter"), ("iteration_duration", "trend"),
                ("iterations", "counter"), ("checks", "rate")]
PAGES = [("homepage", "/", 400.0), ("api", "/api/health", 60.0), ("dashboard", "/dashboard", 900.0)]
REQ_PER_S = 1500.0


def metric_line(name, mtype):
    return json.dumps({"type": "Metric", "data": {"name": name, "type": mtype, "contains": "default",
                                                  "thresholds": [], "submetrics": None}, "metric": name},
                      separators=(",", ":")) + "\n"


def generate(path, points, seed=7):
    """Write a k6-shaped NDJSON file with exactly `points` Point lines."""
    rnd = random.Random(seed)
    lognorm = rnd.lognormvariate
    tag_json = {}
    for name, url, _median in PAGES:
        tag_json[name] = json.dumps({"expected_response": "true", "group": "::" + name, "method": "GET",
                                     "name": name, "proto": "HTTP/1.1", "scenario": "default", "status": "200",
                                     "tls_version": "", "url": "http://127.0.0.1:8080" + url},
                                    separators=(",", ":"))
    fail_tags = {n: t.replace('"expected_response":"true"', '"expected_response":"false"')
                 .replace('"status":"200"', '"status":"503"') for n, t in tag_json.items()}
    iter_tags = '{"group":"","scenario":"default"}'
    t0 = 1_764_064_800.0  # 2025-11-25T10:00:00Z
    sec_cache = {}

    def stamp(t):
        sec = int(t)
        base = sec_cache.get(sec)
        if base is None:
            base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            sec_cache.clear()
            sec_cache[sec] = base
        return '%s.%09d+00:00' % (base, int((t - sec) * 1e9))

    written = 0
    buf = []
    declared = set()
    last_vus_sec = -1
    req = 0
    with open(path, "w") as out:
        while written < points:
            t = t0 + req / REQ_PER_S
            ts = stamp(t)
            sec = int(t)
            if sec != last_vus_sec:
                if "vus" not in declared:
                    buf.append(metric_line("vus", "gauge"))
                    declared.add("vus")
                buf.append('{"metric":"vus","type":"Point","data":{"time":"%s","value":%d,"tags":null}}\n'
                           % (ts, 500))
                written += 1
                last_vus_sec = sec
            name, _url, median = PAGES[req % 3]
            failed = rnd.random() < 0.002
            tags = fail_tags[name] if failed else tag_json[name]
            duration = lognorm(math.log(median), 0.6)
            values = (1, duration, 0.01, 0.0, 0.0, 0.02, duration * 0.97, 0.05, 1 if failed else 0)
            for (metric, mtype), value in zip(HTTP_METRICS, values, strict=True):
                if metric not in declared:
                    buf.append(metric_line(metric, mtype))
                    declared.add(metric)
                buf.append('{"metric":"%s","type":"Point","data":{"time":"%s","value":%r,"tags":%s}}\n'
                           % (metric, ts, value, tags))
            written += len(values)
            if req % 3 == 2:
                for (metric, mtype), value in zip(ITER_METRICS, (620, 48000, 1000.0 + duration, 1, 1), strict=True):
                    if metric not in declared:
                        buf.append(metric_line(metric, mtype))
                        declared.add(metric)
                    buf.append('{"metric":"%s","type":"Point","data":{"time":"%s","value":%r,"tags":%s}}\n'
                               % (metric, ts, value, iter_tags))
                written += len(ITER_METRICS)
            req += 1
            if len(buf) > 20000:
                out.writelines(buf)
                buf = []
        out.writelines(buf)
    return written


# ---- the two computations (run inside a worker subprocess) ------------------------------------------------

def run_gate(path, accuracy):
    from ansible_collections.mss.platform.plugins.module_utils import k6
    from ansible_collections.mss.platform.plugins.module_utils import k6_results as kr
    ts = k6.ThresholdSet(k6.DEFAULT_THRESHOLDS)
    start = time.perf_counter()
    res = kr.read_results(path, "ndjson", ts, relative_accuracy=accuracy)
    rows = k6.evaluate(ts, res)
    elapsed = time.perf_counter() - start
    return elapsed, res.stats["points"], {r["metric"] + " " + r["threshold"]: r["observed"] for r in rows}


def run_exact(path, _accuracy):
    """Reference: parse every line with json.loads, keep every value, sort (k6's classic TrendSink)."""
    from ansible_collections.mss.platform.plugins.module_utils import k6
    from ansible_collections.mss.platform.plugins.module_utils.k6_results import (
        _TimeSpan,
    )
    ts = k6.ThresholdSet(k6.DEFAULT_THRESHOLDS)
    start = time.perf_counter()
    span = _TimeSpan()
    store = {expr: [] for expr, _m, _t, _thr in ts.targets}
    by_metric = {}
    for expr, metric, tags, _thr in ts.targets:
        by_metric.setdefault(metric, []).append((expr, tags))
    points = 0
    with open(path, "rb") as handle:
        for line in handle:
            obj = json.loads(line)
            if obj["type"] != "Point":
                continue
            points += 1
            data = obj["data"]
            span.add(data["time"].encode())
            for expr, tags in by_metric.get(obj["metric"], ()):
                got = data.get("tags") or {}
                if all(got.get(k) == v for k, v in tags.items()):
                    store[expr].append(data["value"])
    duration = span.duration
    observed = {}
    for expr, _metric, _tags, thresholds in ts.targets:
        values = store[expr]
        for thr in thresholds:
            key = expr + " " + thr.source
            if thr.method == "p":
                values.sort()
                rank = thr.percentile / 100.0 * (len(values) - 1)
                lo, hi = math.floor(rank), math.ceil(rank)
                observed[key] = values[lo] + (rank - lo) * (values[hi] - values[lo])
            elif thr.method == "rate" and expr.startswith("http_reqs"):
                observed[key] = sum(values) / duration
            elif thr.method == "rate":
                observed[key] = sum(1 for v in values if v != 0) / len(values)
    elapsed = time.perf_counter() - start
    return elapsed, points, observed


def worker(kind, path, accuracy):
    func = run_gate if kind == "gate" else run_exact
    cpu = time.process_time()
    elapsed, points, observed = func(path, accuracy)
    cpu = time.process_time() - cpu
    print(json.dumps({"elapsed_s": elapsed, "cpu_s": cpu, "points": points, "observed": observed}))


def launcher(kind, path, accuracy):
    """Run one worker as this process's only child and add its peak RSS (RUSAGE_CHILDREN)."""
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, path, str(accuracy)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(proc.returncode)
    result = json.loads(proc.stdout)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    print(json.dumps(result))


def measure(kind, path, accuracy):
    proc = subprocess.run(["nice", "-n", "5", sys.executable, __file__, "--launch", kind, path, str(accuracy)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("%s run failed:\n%s" % (kind, proc.stderr))
    return json.loads(proc.stdout)


def baseline_rss():
    code = ("import sys; sys.path.insert(0, %r); "
            "from ansible_collections.mss.platform.plugins.module_utils import k6_results"
            % os.path.join(ROOT, "collections"))
    subprocess.run([sys.executable, "-c", code], check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--accuracy", type=float, default=0.01)
    parser.add_argument("--keep", action="store_true", help="keep the generated files in " + WORKDIR)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--launch", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], args.worker[1], float(args.worker[2]))
    if args.launch:
        return launcher(args.launch[0], args.launch[1], float(args.launch[2]))

    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(WORKDIR, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    started = time.time()
    runs = []
    base_rss = baseline_rss()
    try:
        for size in sizes:
            path = os.path.join(WORKDIR, "k6-%d.ndjson" % size)
            t = time.perf_counter()
            points = generate(path, size)
            gen_s = time.perf_counter() - t
            file_mb = os.path.getsize(path) / 1e6
            print("generated %d points (%.0f MB) in %.1f s" % (points, file_mb, gen_s), flush=True)
            gate = measure("gate", path, args.accuracy)
            print("  gate : %.1f s wall, %.1f s CPU, %.0f points/CPU-s, peak RSS %.1f MiB" % (
                gate["elapsed_s"], gate["cpu_s"], gate["points"] / gate["cpu_s"], gate["peak_rss_mib"]), flush=True)
            exact = measure("exact", path, args.accuracy)
            print("  exact: %.1f s wall, %.1f s CPU, %.0f points/CPU-s, peak RSS %.1f MiB" % (
                exact["elapsed_s"], exact["cpu_s"], exact["points"] / exact["cpu_s"], exact["peak_rss_mib"]),
                flush=True)
            errors = {}
            for key, value in exact["observed"].items():
                got = gate["observed"].get(key)
                errors[key] = {"gate": got, "exact": value,
                               "rel_error": abs(got - value) / abs(value) if value else abs(got - value)}
            runs.append({"points": points, "file_mb": round(file_mb, 1), "generate_s": round(gen_s, 2),
                         "gate": {"elapsed_s": round(gate["elapsed_s"], 3), "cpu_s": round(gate["cpu_s"], 3),
                                  "points_per_s": round(gate["points"] / gate["elapsed_s"]),
                                  "points_per_cpu_s": round(gate["points"] / gate["cpu_s"]),
                                  "peak_rss_mib": round(gate["peak_rss_mib"], 1)},
                         "exact": {"elapsed_s": round(exact["elapsed_s"], 3), "cpu_s": round(exact["cpu_s"], 3),
                                  "points_per_s": round(exact["points"] / exact["elapsed_s"]),
                                  "points_per_cpu_s": round(exact["points"] / exact["cpu_s"]),
                                   "peak_rss_mib": round(exact["peak_rss_mib"], 1)},
                         "thresholds": errors})
            if not args.keep:
                os.remove(path)
    finally:
        if not args.keep:
            shutil.rmtree(WORKDIR, ignore_errors=True)
    report = {
        "benchmark": "k6_gate NDJSON reader vs exact sort-based computation",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "relative_accuracy": args.accuracy,
        "baseline_rss_mib": round(base_rss, 1),
        "total_s": round(time.time() - started, 1),
        "runs": runs,
    }
    if len(runs) >= 2:
        report["gate_peak_rss_growth"] = round(runs[-1]["gate"]["peak_rss_mib"] / runs[0]["gate"]["peak_rss_mib"], 3)
        report["exact_peak_rss_growth"] = round(runs[-1]["exact"]["peak_rss_mib"] / runs[0]["exact"]["peak_rss_mib"], 3)
    with open(os.path.join(RESULTS, "k6_gate.json"), "w") as handle:
        json.dump(report, handle, indent=2)
        handle.write("\n")
    with open(os.path.join(RESULTS, "k6_gate.md"), "w") as handle:
        handle.write(render_md(report))
    print(render_md(report))
    return None


def render_md(report):
    lines = ["# k6_gate NDJSON benchmark", "",
             "Run %s on %d CPUs (Python %s, load average at end %s), relative_accuracy %s, total %.0f s." % (
                 report["when"], report["machine"]["cpus"], report["machine"]["python"],
                 report["machine"]["load_average_at_end"], report["relative_accuracy"], report["total_s"]),
             "Interpreter + module import alone: %.1f MiB peak RSS." % report["baseline_rss_mib"], "",
             "Wall time is shared with whatever else runs on the machine; points per CPU-second is the",
             "figure of the code itself.", "",
             ("| points | file MB | gate wall s | gate CPU s | gate points/CPU-s | gate points/wall-s | gate peak MiB "
              "| exact CPU s | exact points/CPU-s | exact peak MiB |"),
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in report["runs"]:
        g, e = run["gate"], run["exact"]
        lines.append("| %d | %.0f | %.2f | %.2f | %d | %d | %.1f | %.2f | %d | %.1f |" % (
            run["points"], run["file_mb"], g["elapsed_s"], g["cpu_s"], g["points_per_cpu_s"], g["points_per_s"],
            g["peak_rss_mib"], e["cpu_s"], e["points_per_cpu_s"], e["peak_rss_mib"]))
    if "gate_peak_rss_growth" in report:
        lines += ["", "Peak memory growth from the smallest to the largest file: gate x%.2f, exact x%.2f." % (
            report["gate_peak_rss_growth"], report["exact_peak_rss_growth"])]
    lines += ["", "Gate vs exact on the default thresholds (largest file):", "",
              "| threshold | gate | exact | relative error |", "|---|---:|---:|---:|"]
    for key, err in report["runs"][-1]["thresholds"].items():
        lines.append("| `%s` | %.6g | %.6g | %.2e |" % (key, err["gate"], err["exact"], err["rel_error"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
