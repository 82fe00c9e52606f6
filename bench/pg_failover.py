#!/usr/bin/env python3
"""Failover benchmark for the Patroni cluster of the Molecule scenario ``postgresql``.

Unplanned loss of the leader (its container frozen with ``docker pause``) under a write load through HAProxy:
time until writes are accepted again (RTO) and acknowledged transactions lost (RPO), for our tuned Patroni
timing and Patroni's defaults side by side in one run on the same containers, then in synchronous mode.

Usage: bench/pg_failover.py [--runs N] [--keep]   (creates and converges the scenario if its containers are absent,
destroys it at the end unless --keep). Writes bench/results/pg_failover.json and .md. Every loop is bounded.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NODES = ["postgresql-1", "postgresql-2", "postgresql-3"]
API_USER, API_PASSWORD = "patroni", "test-restapi-pw-0001"  # the scenario's test-only secrets
APP_DSN = "host=127.0.0.1 port=5000 dbname=appdb user=app password=test-app-pw-000001 sslmode=require connect_timeout=1"
TUNED = {"ttl": 10, "loop_wait": 2, "retry_timeout": 3}
DEFAULTS = {"ttl": 30, "loop_wait": 10, "retry_timeout": 10}

WRITER = r"""
import json, sys, time, psycopg2
dsn, run, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.time() + duration
seq = 0
conn = None
while time.time() < end:
    seq += 1
    try:
        if conn is None:
            conn = psycopg2.connect(dsn)
            conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("INSERT INTO bench_failover (run, seq) VALUES (%s, %s)", (run, seq))
        print(json.dumps({"seq": seq, "t": time.time(), "ok": True}), flush=True)
    except Exception:
        print(json.dumps({"seq": seq, "t": time.time(), "ok": False}), flush=True)
        try:
            conn.close()
        except Exception:
            pass
        conn = None
    time.sleep(0.05)
"""


def sh(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, text=True, capture_output=True, **kw)


def molecule(action: str) -> None:
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}")
    subprocess.run([str(ROOT / ".venv/bin/molecule"), action, "-s", "postgresql"], cwd=ROOT, env=env, check=True)


def ip(node: str) -> str:
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    return sh("docker", "inspect", "-f", fmt, node).stdout.strip()


def api(node: str, path: str, method: str = "GET", body: dict | None = None, timeout: float = 2.0):
    req = urllib.request.Request(f"http://{ip(node)}:8008{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if method != "GET":
        token = base64.b64encode(f"{API_USER}:{API_PASSWORD}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the project's own containers
        return json.loads(resp.read() or b"null")


def views() -> dict[str, dict]:
    out = {}
    for node in NODES:
        try:
            out[node] = api(node, "/cluster")
        except OSError:
            continue
    return out


def wait_healthy(timeout: float = 180.0) -> str:
    """One leader that every member agrees on (a just-unfrozen node reports a stale view until its next HA loop),
    every other member a running replica with no lag, and the leader's /primary answering 200."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = views()
        leaders = set()
        healthy = len(seen) == len(NODES)
        for view in seen.values():
            names = [m["name"] for m in view["members"] if m["role"] == "leader"]
            replicas = [m for m in view["members"] if m["role"] in ("replica", "sync_standby")
                        and m["state"] in ("running", "streaming") and m.get("lag", 0) in (0, "0")]
            healthy = healthy and len(names) == 1 and len(replicas) == len(NODES) - 1
            leaders.update(names)
        if healthy and len(leaders) == 1:
            leader = leaders.pop()
            roles = {}
            for node in NODES:
                try:
                    api(node, "/primary")
                    roles[node] = "primary"
                except OSError:
                    roles[node] = "other"
            if [n for n, r in roles.items() if r == "primary"] == [leader]:
                return leader
        time.sleep(1)
    raise RuntimeError("cluster not healthy in time")


def psql(node: str, sql: str) -> str:
    return sh("docker", "exec", "-e", "PGPASSWORD=test-superuser-pw-0001", node, "psql", "-XAtq",
              "host=127.0.0.1 dbname=appdb user=postgres sslmode=require", "-c", sql).stdout.strip()


def one_run(label: str, run: str, duration: float) -> dict:
    leader = wait_healthy()
    writer_node = next(n for n in NODES if n != leader)
    proc = subprocess.Popen(["docker", "exec", "-i", writer_node, "python3", "-c", WRITER, APP_DSN, run,
                             str(duration)], stdout=subprocess.PIPE, text=True)
    time.sleep(5)
    t_kill = time.time()
    sh("docker", "pause", leader)
    out, _ = proc.communicate(timeout=duration + 30)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    after = [e for e in events if e["t"] >= t_kill]
    first_fail = next((e for e in after if not e["ok"]), None)
    resumed = next((e for e in after if e["ok"] and first_fail and e["seq"] > first_fail["seq"]), None)
    sh("docker", "unpause", leader)
    new_leader = wait_healthy()
    acked = {e["seq"] for e in events if e["ok"]}
    present = {int(x) for x in psql(new_leader, f"SELECT seq FROM bench_failover WHERE run = '{run}'").split()}
    lost = sorted(acked - present)
    rto = (resumed["t"] - t_kill) if resumed else None
    result = {"config": label, "run": run, "old_leader": leader, "new_leader": new_leader,
              "rto_s": round(rto, 2) if rto is not None else None, "acked": len(acked), "lost_acked": len(lost)}
    print(json.dumps(result), flush=True)
    return result


def set_config(patch: dict) -> None:
    leader = wait_healthy()
    api(leader, "/config", "PATCH", patch)
    time.sleep(max(patch.get("loop_wait", 10), 10) + 2)  # every member picks the new timing up


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    created = sh("docker", "inspect", NODES[0], check=False).returncode != 0
    if created:
        molecule("create")
        molecule("prepare")
    molecule("converge")
    results: list[dict] = []
    try:
        leader = wait_healthy()
        psql(leader, "CREATE TABLE IF NOT EXISTS bench_failover (run text, seq int, ts timestamptz DEFAULT now())")
        psql(leader, "GRANT INSERT, SELECT ON bench_failover TO app")
        stamp = int(time.time())
        for i in range(args.runs):  # interleaved: both configurations see the same machine load
            for label, timing in (("tuned", TUNED), ("patroni_defaults", DEFAULTS)):
                set_config({**timing, "synchronous_mode": False, "synchronous_mode_strict": False})
                results.append(one_run(label, f"{label}-{stamp}-{i}", 45 if label == "tuned" else 75))
        set_config({**TUNED, "synchronous_mode": True, "synchronous_mode_strict": True})
        for i in range(args.runs):
            results.append(one_run("tuned_sync_strict", f"sync-{stamp}-{i}", 45))
        set_config({**TUNED, "synchronous_mode": False, "synchronous_mode_strict": False})
    finally:
        if created and not args.keep:
            molecule("destroy")
    summary = {}
    for label in ("tuned", "patroni_defaults", "tuned_sync_strict"):
        rows = [r for r in results if r["config"] == label]
        rtos = [r["rto_s"] for r in rows if r["rto_s"] is not None]
        summary[label] = {"runs": len(rows), "rto_median_s": round(statistics.median(rtos), 2) if rtos else None,
                          "rto_max_s": max(rtos) if rtos else None,
                          "lost_acked_total": sum(r["lost_acked"] for r in rows)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pg_failover.json").write_text(json.dumps({"summary": summary, "runs": results}, indent=2) + "\n")
    lines = ["# PostgreSQL failover (leader container frozen under a write load through HAProxy)", "",
             "| configuration | runs | RTO median (s) | RTO max (s) | acknowledged writes lost |",
             "|---|---|---|---|---|"]
    for label, s in summary.items():
        lines.append(f"| {label} | {s['runs']} | {s['rto_median_s']} | {s['rto_max_s']} | {s['lost_acked_total']} |")
    (RESULTS / "pg_failover.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
