#!/usr/bin/env python3
"""Failover benchmark for the Patroni cluster of the Molecule scenario ``postgresql``.

Scenarios, each under a write load through HAProxy's read-write port (writer on a replica's container, one INSERT
every 50 ms, autocommit; RTO = first failed write after the fault -> first accepted write after it):

- ``node_loss``: the leader container frozen (``docker pause``): our tuned Patroni timing and Patroni's defaults
  side by side, interleaved on the same containers; acknowledged writes lost (RPO) counted for each.
- ``sync``: the same with ``synchronous_mode_strict`` (RPO 0 by construction: the count must stay 0).
- ``etcd_leader_loss``: the frozen node is Patroni's leader AND etcd's leader (etcd leadership moved there first).
- ``crash``: every ``postgres`` process on the leader killed with SIGKILL (node alive; Patroni restarts it).
- ``switchover``: a planned switchover through the REST API.
- ``stability``: pgbench saturating both cores through HAProxy for ``--stability-minutes``; any leader change or
  timeline change is a false failover (goal: none).

Usage: bench/pg_failover.py [--runs N] [--scenarios a,b] [--stability-minutes M] [--keep]   (creates and converges
the scenario if its containers are absent, destroys it at the end unless --keep). Writes
bench/results/pg_failover.json and .md. Every loop is bounded.
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
        body = resp.read()
    try:
        return json.loads(body or b"null")
    except ValueError:  # /switchover and /restart answer in plain text
        return body.decode(errors="replace")


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


def etcd(node: str, *args: str) -> str:
    return sh("docker", "exec", "-e", "ETCDCTL_API=3", node, "etcdctl", "--endpoints", "http://127.0.0.1:2379",
              *args).stdout


def move_etcd_leader_to(node: str) -> None:
    """Make ``node``'s etcd member the etcd leader (so freezing it loses both leaders at once)."""
    status = json.loads(etcd(node, "endpoint", "status", "--cluster", "-w", "json"))
    mine = next(s for s in status if ip(node) in s["Endpoint"])
    member = mine["Status"]["header"]["member_id"]
    leader = mine["Status"]["leader"]
    if member == leader:
        return
    current = next(s["Endpoint"] for s in status if s["Status"]["header"]["member_id"] == leader)
    sh("docker", "exec", "-e", "ETCDCTL_API=3", node, "etcdctl", "--endpoints", current, "move-leader",
       format(member, "x"))
    deadline = time.time() + 30
    while time.time() < deadline:
        status = json.loads(etcd(node, "endpoint", "status", "-w", "json"))
        if status[0]["Status"]["leader"] == member:
            return
        time.sleep(0.5)
    raise RuntimeError("etcd leadership did not move")


def fault_pause(leader: str) -> None:
    sh("docker", "pause", leader)


def undo_pause(leader: str) -> None:
    sh("docker", "unpause", leader)


def fault_crash(leader: str) -> None:
    sh("docker", "exec", leader, "pkill", "-KILL", "-x", "postgres")


def fault_switchover(leader: str) -> None:
    api(leader, "/switchover", "POST", {"leader": leader}, timeout=30)


def no_undo(_leader: str) -> None:
    return None


def one_run(label: str, run: str, duration: float, fault=fault_pause, undo=undo_pause, prepare=None) -> dict:
    leader = wait_healthy()
    if prepare is not None:
        prepare(leader)
    writer_node = next(n for n in NODES if n != leader)
    proc = subprocess.Popen(["docker", "exec", "-i", writer_node, "python3", "-c", WRITER, APP_DSN, run,
                             str(duration)], stdout=subprocess.PIPE, text=True)
    time.sleep(5)
    t_fault = time.time()
    fault(leader)
    out, _ = proc.communicate(timeout=duration + 30)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    after = [e for e in events if e["t"] >= t_fault]
    first_fail = next((e for e in after if not e["ok"]), None)
    resumed = next((e for e in after if e["ok"] and first_fail and e["seq"] > first_fail["seq"]), None)
    undo(leader)
    new_leader = wait_healthy()
    acked = {e["seq"] for e in events if e["ok"]}
    present = {int(x) for x in psql(new_leader, f"SELECT seq FROM bench_failover WHERE run = '{run}'").split()}
    lost = sorted(acked - present)
    if first_fail is None:
        rto = 0.0  # no write failed at all: the fault was absorbed
    else:
        rto = (resumed["t"] - t_fault) if resumed else None
    result = {"config": label, "run": run, "old_leader": leader, "new_leader": new_leader,
              "rto_s": round(rto, 2) if rto is not None else None, "acked": len(acked), "lost_acked": len(lost)}
    print(json.dumps(result), flush=True)
    return result


def timeline(node: str) -> int:
    return int(psql(node, "SELECT timeline_id FROM pg_control_checkpoint()"))


def stability(minutes: float) -> dict:
    """pgbench saturating both cores through HAProxy's rw port; count leader and timeline changes."""
    leader = wait_healthy()
    tli = timeline(leader)
    client = next(n for n in NODES if n != leader)
    pgbench = "/usr/lib/postgresql/15/bin/pgbench"
    env = ["-e", "PGPASSWORD=test-app-pw-000001", "-e", "PGSSLMODE=require"]  # the app's path: HAProxy rw port
    conn = ["-h", "127.0.0.1", "-p", "5000", "-U", "app"]
    sh("docker", "exec", *env, client, pgbench, "-i", "-q", "-s", "20", *conn, "appdb")
    seconds = int(minutes * 60)
    t0 = time.time()
    proc = subprocess.Popen(["docker", "exec", *env, client, pgbench, "-c", "8", "-j", "2", "-T", str(seconds),
                             "-P", "60", *conn, "appdb"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    leaders_seen = set()
    load = []
    while proc.poll() is None and time.time() < t0 + seconds + 120:
        for view in views().values():
            leaders_seen.update(m["name"] for m in view["members"] if m["role"] == "leader")
        load.append(os.getloadavg()[0])
        time.sleep(5)
    out, _ = proc.communicate(timeout=60)
    tps = next((line.split("=")[1].split()[0] for line in out.splitlines() if line.startswith("tps =")), None)
    new_leader = wait_healthy()
    result = {"config": "stability_tuned", "minutes": minutes, "pgbench_rc": proc.returncode,
              "tps": float(tps) if tps else None, "leaders_seen": sorted(leaders_seen),
              "leader_changes": max(len(leaders_seen) - 1, 0),
              "timeline_before": tli, "timeline_after": timeline(new_leader),
              "load_avg_1m_median": round(statistics.median(load), 2) if load else None}
    result["false_failovers"] = int(new_leader != leader or result["timeline_after"] != tli
                                    or len(leaders_seen) > 1)
    print(json.dumps(result), flush=True)
    return result


def set_config(patch: dict) -> None:
    leader = wait_healthy()
    api(leader, "/config", "PATCH", patch)
    time.sleep(max(patch.get("loop_wait", 10), 10) + 2)  # every member picks the new timing up


ASYNC = {"synchronous_mode": False, "synchronous_mode_strict": False}
SCENARIOS = ("node_loss", "sync", "etcd_leader_loss", "crash", "switchover", "stability")


def run_scenarios(args, stamp: int, results: list[dict]) -> None:
    """Appends each run's row to ``results`` as it ends (a later failure keeps the earlier rows)."""
    wanted = args.scenarios.split(",")
    if "node_loss" in wanted:
        for i in range(args.runs):  # interleaved: both configurations see the same machine load
            for label, timing in (("tuned", TUNED), ("patroni_defaults", DEFAULTS)):
                set_config({**timing, **ASYNC})
                results.append(one_run(label, f"{label}-{stamp}-{i}", 45 if label == "tuned" else 75))
    if "etcd_leader_loss" in wanted:
        for i in range(args.runs):
            for label, timing in (("tuned_etcd_leader_lost", TUNED), ("defaults_etcd_leader_lost", DEFAULTS)):
                set_config({**timing, **ASYNC})
                results.append(one_run(label, f"{label}-{stamp}-{i}", 50 if timing is TUNED else 80,
                                       prepare=move_etcd_leader_to))
    set_config({**TUNED, **ASYNC})
    if "crash" in wanted:
        for i in range(args.runs):
            results.append(one_run("tuned_postgres_crash", f"crash-{stamp}-{i}", 40, fault_crash, no_undo))
    if "switchover" in wanted:
        for i in range(args.runs):
            results.append(one_run("tuned_switchover", f"switchover-{stamp}-{i}", 30, fault_switchover, no_undo))
    if "sync" in wanted:
        set_config({**TUNED, "synchronous_mode": True, "synchronous_mode_strict": True})
        for i in range(args.runs):
            results.append(one_run("tuned_sync_strict", f"sync-{stamp}-{i}", 45))
        set_config({**TUNED, **ASYNC})
    if "stability" in wanted:
        results.append(stability(args.stability_minutes))


def summarize(results: list[dict]) -> dict:
    summary = {}
    for row in results:
        label = row["config"]
        if label in summary or label == "stability_tuned":
            continue
        rows = [r for r in results if r["config"] == label]
        rtos = [r["rto_s"] for r in rows if r["rto_s"] is not None]
        summary[label] = {"runs": len(rows), "rto_median_s": round(statistics.median(rtos), 2) if rtos else None,
                          "rto_max_s": max(rtos) if rtos else None,
                          "no_recovery_runs": len(rows) - len(rtos),
                          "lost_acked_total": sum(r["lost_acked"] for r in rows)}
    return summary


def keep_earlier(results: list[dict]) -> list[dict]:
    """A run of some scenarios keeps the recorded runs of the others (each run row says when it ran)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for row in results:
        row.setdefault("date_utc", now)
    path = RESULTS / "pg_failover.json"
    if not path.exists():
        return results
    fresh = {r["config"] for r in results}
    earlier = [r for r in json.loads(path.read_text()).get("runs", []) if r.get("config") not in fresh]
    return earlier + results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--stability-minutes", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    created = sh("docker", "inspect", NODES[0], check=False).returncode != 0
    if created:
        molecule("create")
        molecule("prepare")
    molecule("converge")
    load_before = os.getloadavg()
    results: list[dict] = []
    error = None
    try:
        leader = wait_healthy()
        psql(leader, "CREATE TABLE IF NOT EXISTS bench_failover (run text, seq int, ts timestamptz DEFAULT now())")
        psql(leader, "GRANT INSERT, SELECT ON bench_failover TO app")
        run_scenarios(args, int(time.time()), results)
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        print(f"benchmark interrupted: {error}", file=sys.stderr)
    finally:
        if created and not args.keep:
            molecule("destroy")
    results = keep_earlier(results)
    summary = summarize(results)
    stab = next((r for r in results if r["config"] == "stability_tuned"), None)
    machine = {"nproc": os.cpu_count(), "load_avg_before": [round(x, 2) for x in load_before],
               "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pg_failover.json").write_text(json.dumps({"summary": summary, "stability": stab, "machine": machine,
                                                          "runs": results}, indent=2) + "\n")
    lines = ["# PostgreSQL failover (write load through HAProxy; leader frozen, crashed or switched over)", "",
             f"Machine: {machine['nproc']} cores, load average before {machine['load_avg_before']}, "
             f"after {machine['load_avg_after']}.", "",
             "| scenario | runs | RTO median (s) | RTO max (s) | runs without recovery | acknowledged writes lost |",
             "|---|---|---|---|---|---|"]
    for label, s in summary.items():
        lines.append(f"| {label} | {s['runs']} | {s['rto_median_s']} | {s['rto_max_s']} | {s['no_recovery_runs']} "
                     f"| {s['lost_acked_total']} |")
    if stab:
        lines += ["", f"Stability: pgbench -c 8 -j 2 for {stab['minutes']} min through HAProxy (tuned timing, "
                  f"{stab['tps']} tps, load median {stab['load_avg_1m_median']}): false failovers "
                  f"{stab['false_failovers']} (leaders seen {stab['leaders_seen']}, timeline "
                  f"{stab['timeline_before']} -> {stab['timeline_after']})."]
    (RESULTS / "pg_failover.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    failed = error or any(s["no_recovery_runs"] for s in summary.values()) or (stab and stab["false_failovers"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
