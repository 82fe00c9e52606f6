#!/usr/bin/env python3
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP031
"""Benchmark of the k6_gate NDJSON reader: throughput and peak memory against an exact computation.

For each size (default 1 M and 10 M points) it generates a k6 `--out json` file under /tmp shaped like real
k6 output (9 http_req_* points per request with k6's tag set, per-iteration data/iteration/check points, a
`vus` gauge every second), then runs, each in its own subprocess:
  - gate:   the module's reader (byte-level pre-filter + DDSketch) on the default thresholds, with the module's
            default workers=0 (one process per usable CPU, forked by the reader), --repeat times (default 3);
  - gate/1: the same with workers=1 (one process), once, for the speed-up in the same conditions;
  - exact:  json.loads of every line, every referenced value kept in a list, sorted, k6's interpolated
            percentile (what k6 <= v1.x computes in memory), once.
CPU time counts the reader's worker processes (RUSAGE_CHILDREN of the measured process, after they are
joined). Peak memory of the gate is the SUM of each process's peak RSS: the measured process's own ru_maxrss
plus every worker's (each worker reports its ru_maxrss; shared copy-on-write pages are counted once per
process, so this is an upper bound). Writes bench/results/k6_gate.json and .md. The generated files are
deleted at the end.

Usage: bench/k6_gate.py [--sizes 1000000,10000000] [--repeat 3] [--workers 0] [--keep]
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
import statistics
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

def run_gate(path, accuracy, workers):
    from ansible_collections.mss.platform.plugins.module_utils import k6
    from ansible_collections.mss.platform.plugins.module_utils import k6_results as kr
    ts = k6.ThresholdSet(k6.DEFAULT_THRESHOLDS)
    start = time.perf_counter()
    res = kr.read_results(path, "ndjson", ts, relative_accuracy=accuracy, workers=workers)
    rows = k6.evaluate(ts, res)
    elapsed = time.perf_counter() - start
    return elapsed, res.stats, {r["metric"] + " " + r["threshold"]: r["observed"] for r in rows}


def run_exact(path, _accuracy, _workers):
    """Reference: parse every line with json.loads, keep every value, sort (k6's classic TrendSink)."""
    from ansible_collections.mss.platform.plugins.module_utils import k6
    from ansible_collections.mss.platform.plugins.module_utils.k6_ndjson import TimeSpan as _TimeSpan
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
    return elapsed, {"points": points, "workers": 1}, observed


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker(kind, path, accuracy, workers):
    func = run_gate if kind == "gate" else run_exact
    cpu = time.process_time()
    children = _children_cpu()
    elapsed, stats, observed = func(path, accuracy, workers)
    own_cpu = time.process_time() - cpu
    cpu = own_cpu + _children_cpu() - children
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    # The critical path: what the measured process itself spent plus its slowest worker. On an idle machine
    # with a core per process, wall time is about this (a projection; CPU time under contention runs high).
    critical = own_cpu + max(stats.get("worker_cpu_s") or [0.0])
    print(json.dumps({"elapsed_s": elapsed, "cpu_s": cpu, "points": stats["points"], "observed": observed,
                      "critical_path_cpu_s": critical, "worker_cpu_s": stats.get("worker_cpu_s", []),
                      "processes": stats["workers"] + (1 if stats["workers"] > 1 else 0),
                      "own_peak_rss_mib": own_peak, "worker_peak_rss_mib": stats.get("worker_peak_rss_mib", [])}))


def launcher(kind, path, accuracy, workers):
    """Run one worker as this process's only child; its peak RSS plus its reader workers' is the total."""
    proc = subprocess.run([sys.executable, __file__, "--worker", kind, path, str(accuracy), str(workers)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(proc.returncode)
    result = json.loads(proc.stdout)
    # the largest single process (RUSAGE_CHILDREN's ru_maxrss is a max over descendants, not a sum)
    result["max_process_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    result["peak_rss_mib"] = result["own_peak_rss_mib"] + sum(result["worker_peak_rss_mib"])
    print(json.dumps(result))


def measure(kind, path, accuracy, workers=1):
    load = os.getloadavg()[0]
    proc = subprocess.run(["nice", "-n", "5", sys.executable, __file__, "--launch", kind, path, str(accuracy),
                           str(workers)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("%s run failed:\n%s" % (kind, proc.stderr))
    result = json.loads(proc.stdout)
    result["load_1m_before"] = load
    result["load_1m_after"] = os.getloadavg()[0]
    result["points_per_s"] = result["points"] / result["elapsed_s"]
    result["points_per_cpu_s"] = result["points"] / result["cpu_s"]
    result["points_per_critical_cpu_s"] = result["points"] / result["critical_path_cpu_s"]
    return result


def describe(kind, res):
    print("  %-6s: %.1f s wall, %.1f s CPU, %.0f points/s, %.0f points/CPU-s, %.0f points/critical-path CPU-s, "
          "%d process(es), peak RSS %.1f MiB (sum), load %.1f -> %.1f" % (
              kind, res["elapsed_s"], res["cpu_s"], res["points_per_s"], res["points_per_cpu_s"],
              res["points_per_critical_cpu_s"], res["processes"], res["peak_rss_mib"], res["load_1m_before"],
              res["load_1m_after"]), flush=True)


def summary(kind_runs):
    pps = [r["points_per_s"] for r in kind_runs]
    return {"runs": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "observed"}
                     for r in kind_runs],
            "points_per_s_median": round(statistics.median(pps)), "points_per_s_min": round(min(pps)),
            "points_per_s_max": round(max(pps)),
            "points_per_cpu_s_median": round(statistics.median(r["points_per_cpu_s"] for r in kind_runs)),
            "points_per_critical_cpu_s_median": round(statistics.median(r["points_per_critical_cpu_s"]
                                                                        for r in kind_runs)),
            "processes": kind_runs[0]["processes"],
            "peak_rss_mib": round(max(r["peak_rss_mib"] for r in kind_runs), 1),
            "max_process_rss_mib": round(max(r["max_process_rss_mib"] for r in kind_runs), 1)}


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
    parser.add_argument("--repeat", type=int, default=3, help="runs of the gate with the default workers")
    parser.add_argument("--workers", type=int, default=0, help="the gate's workers option (0: one per CPU)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files in " + WORKDIR)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--launch", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], args.worker[1], float(args.worker[2]), int(args.worker[3]))
    if args.launch:
        return launcher(args.launch[0], args.launch[1], float(args.launch[2]), int(args.launch[3]))

    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(WORKDIR, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    started = time.time()
    runs = []
    load_start = [round(x, 2) for x in os.getloadavg()]
    base_rss = baseline_rss()
    try:
        for size in sizes:
            path = os.path.join(WORKDIR, "k6-%d.ndjson" % size)
            t = time.perf_counter()
            points = generate(path, size)
            gen_s = time.perf_counter() - t
            file_mb = os.path.getsize(path) / 1e6
            print("generated %d points (%.0f MB) in %.1f s" % (points, file_mb, gen_s), flush=True)
            gates = []
            for _ in range(args.repeat):
                gates.append(measure("gate", path, args.accuracy, args.workers))
                describe("gate", gates[-1])
            single = measure("gate", path, args.accuracy, 1)
            describe("gate/1", single)
            exact = measure("exact", path, args.accuracy)
            describe("exact", exact)
            errors = {}
            for key, value in exact["observed"].items():
                for res in [*gates, single]:  # every run gives the same values; the first is reported
                    if res["observed"] != gates[0]["observed"]:
                        raise SystemExit("gate runs disagree on %s: %s vs %s" % (key, res["observed"],
                                                                                gates[0]["observed"]))
                got = gates[0]["observed"].get(key)
                errors[key] = {"gate": got, "exact": value,
                               "rel_error": abs(got - value) / abs(value) if value else abs(got - value)}
            runs.append({"points": points, "file_mb": round(file_mb, 1), "generate_s": round(gen_s, 2),
                         "gate": summary(gates), "gate_single": summary([single]), "exact": summary([exact]),
                         "thresholds": errors})
            if not args.keep:
                os.remove(path)
    finally:
        if not args.keep:
            shutil.rmtree(WORKDIR, ignore_errors=True)
    report = {
        "benchmark": "k6_gate NDJSON reader vs exact sort-based computation",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": {"cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
                    "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_start": load_start,
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "workers_option": args.workers,
        "repeat": args.repeat,
        "relative_accuracy": args.accuracy,
        "baseline_rss_mib": round(base_rss, 1),
        "total_s": round(time.time() - started, 1),
        "runs": runs,
    }
    if len(runs) >= 2:
        for key in ("gate", "gate_single", "exact"):
            report[key + "_peak_rss_growth"] = round(runs[-1][key]["peak_rss_mib"] / runs[0][key]["peak_rss_mib"], 3)
    with open(os.path.join(RESULTS, "k6_gate.json"), "w") as handle:
        json.dump(report, handle, indent=2)
        handle.write("\n")
    with open(os.path.join(RESULTS, "k6_gate.md"), "w") as handle:
        handle.write(render_md(report))
    print(render_md(report))
    return None


def render_md(report):
    m = report["machine"]
    lines = ["# k6_gate NDJSON benchmark", "",
             "Run %s on %d CPUs (%d usable; %s, Python %s), relative_accuracy %s, total %.0f s." % (
                 report["when"], m["cpus"], m["usable_cpus"], m["platform"], m["python"],
                 report["relative_accuracy"], report["total_s"]),
             "Load average (1, 5, 15 min) at start %s, at end %s: the machine was %s." % (
                 m["load_average_at_start"], m["load_average_at_end"],
                 "shared with other jobs, so wall-clock figures are low and noisy"
                 if max(m["load_average_at_start"][0], m["load_average_at_end"][0]) > 0.5 else "idle"),
             "Interpreter + module import alone: %.1f MiB peak RSS." % report["baseline_rss_mib"], "",
             "- **gate**: the module's reader with `workers: %d` (0 = one process per usable CPU), run %d times; "
             "points/s is median (min-max) of the runs." % (report["workers_option"], report["repeat"]),
             "- **gate/1**: the same reader with `workers: 1` (one process), once, in the same conditions.",
             "- **exact**: json.loads of every line, values kept and sorted, once.",
             "- CPU s includes the reader's worker processes. Peak MiB is the SUM of every process's peak RSS "
             "(measured process + each worker; copy-on-write pages shared after fork are counted in each, so "
             "it is an upper bound); *largest process* is the biggest single one.",
             "- *critical-path* points/s = points / (CPU s of the measured process itself + CPU s of its slowest "
             "worker): what wall time comes to with a free core per process, i.e. a projection for an idle "
             "machine (CPU time measured under contention runs high, so it errs low). One process: its CPU s.",
             "- The load columns are the 1-minute load average just before and after each run.", "",
             ("| points | file MB | reader | processes | points/s median (min-max) | points/CPU-s "
              "| critical-path points/s | wall s | load before-after | peak MiB (sum) | largest process MiB |"),
             "|---:|---:|---|---:|---|---:|---:|---|---|---:|---:|"]
    for run in report["runs"]:
        for label, key in (("gate", "gate"), ("gate/1", "gate_single"), ("exact", "exact")):
            res = run[key]
            lines.append("| %d | %.0f | %s | %d | %d (%d-%d) | %d | %d | %s | %s | %.1f | %.1f |" % (
                run["points"], run["file_mb"], label, res["processes"], res["points_per_s_median"],
                res["points_per_s_min"], res["points_per_s_max"], res["points_per_cpu_s_median"],
                res["points_per_critical_cpu_s_median"],
                ", ".join("%.2f" % r["elapsed_s"] for r in res["runs"]),
                ", ".join("%.1f-%.1f" % (r["load_1m_before"], r["load_1m_after"]) for r in res["runs"]),
                res["peak_rss_mib"], res["max_process_rss_mib"]))
    if len(report["runs"]) >= 2:
        first, last = report["runs"][0], report["runs"][-1]
        lines += ["", "Peak memory growth from the smallest to the largest file (x%.0f points): gate x%.2f, "
                  "gate/1 x%.2f, exact x%.2f." % (
                      last["points"] / first["points"],
                      last["gate"]["peak_rss_mib"] / first["gate"]["peak_rss_mib"],
                      last["gate_single"]["peak_rss_mib"] / first["gate_single"]["peak_rss_mib"],
                      last["exact"]["peak_rss_mib"] / first["exact"]["peak_rss_mib"])]
    lines += ["", "Gate vs exact on the default thresholds (largest file; every gate run, parallel or not, gave "
              "the same values):", "",
              "| threshold | gate | exact | relative error |", "|---|---:|---:|---:|"]
    for key, err in report["runs"][-1]["thresholds"].items():
        lines.append("| `%s` | %.6g | %.6g | %.2e |" % (key, err["gate"], err["exact"], err["rel_error"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
