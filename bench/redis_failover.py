#!/usr/bin/env python3
"""Redis Cluster master loss: time until its slots are served again, and acknowledged writes lost.

Side by side in one run: the role's tuned cluster-node-timeout (redis_cluster_node_timeout) and Redis's
default (15000 ms). For each run a fresh 3 masters + 3 replicas cluster of redis-server processes on 127.0.0.1
(free ports, temp dirs) is formed with the project's own redis_cluster module code; a writer sends SET + WAIT 1
to one master; the master is killed (SIGKILL); the clock stops when its replica, promoted, accepts a write
for the same slot. Every write that WAIT 1 acknowledged is then read back from the new master.

Installs redis-server with apt-get when it is missing, stops every process it started, bounded loops only.
Writes bench/results/redis_failover.json and .md.
  usage: bench/redis_failover.py [--runs 3] [--tuned-timeout 2500] [--default-timeout 15000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests" / "harness"))

from loopback_ports import free_cluster_port  # noqa: E402
RESULTS = ROOT / "bench" / "results"

import redis  # noqa: E402
from redis.crc import key_slot  # noqa: E402

from ansible_collections.mss.platform.plugins.module_utils.redis_cluster import RedisClusterManager  # noqa: E402
from ansible_collections.mss.platform.plugins.module_utils.redis_cluster_plan import NodeSpec  # noqa: E402

GOAL_SECONDS = 5.0
MAX_WAIT = 90.0


def ensure_redis_server() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-q", "redis-server"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    # the package may start its default instance: this bench leaves nothing running it did not need
    subprocess.run(["service", "redis-server", "stop"], check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return shutil.which("redis-server") or "/usr/bin/redis-server"




class Cluster:
    def __init__(self, server: str, node_timeout: int):
        self.server = server
        self.node_timeout = node_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="redis-bench-"))
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self, n: int = 6) -> list[int]:
        ports = []
        for _ in range(n):
            port = free_cluster_port()
            d = self.dir / str(port)
            d.mkdir()
            conf = (f"port {port}\nbind 127.0.0.1\ndir {d}\ncluster-enabled yes\n"
                    f"cluster-config-file nodes.conf\ncluster-node-timeout {self.node_timeout}\n"
                    "appendonly yes\nappendfsync everysec\nsave \"\"\nprotected-mode no\n"
                    f"logfile {d}/redis.log\n")
            (d / "redis.conf").write_text(conf)
            self.procs[port] = subprocess.Popen([self.server, str(d / "redis.conf")],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ports.append(port)
        for port in ports:
            deadline = time.monotonic() + 10
            while True:
                try:
                    redis.Redis(port=port).ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        return ports

    def kill(self, port: int) -> None:
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def one_run(server: str, node_timeout: int, write_seconds: float) -> dict:
    cluster = Cluster(server, node_timeout)
    try:
        ports = cluster.start()
        specs = [NodeSpec("127.0.0.1", p) for p in ports[:3]]
        specs += [NodeSpec("127.0.0.1", p, "replica") for p in ports[3:]]
        manager = RedisClusterManager(specs, lambda h, p: redis.Redis(host=h, port=p, decode_responses=True),
                                      anti_affinity=False, wait_timeout=60)
        manager.apply(manager.plan())
        report = manager.report()
        key_tag = "{bench}"
        slot = key_slot(key_tag.encode())
        master = next(n for n in report["topology"]
                      if n["role"] == "master" and any(a <= slot <= b for a, b in n["slot_ranges"]))
        replica = next(n for n in report["topology"] if n["master_id"] == master["id"])
        mport = int(master["address"].split(":")[1])
        rport = int(replica["address"].split(":")[1])
        # wait until the replica is in sync
        rr = redis.Redis(port=rport, decode_responses=True)
        deadline = time.monotonic() + 30
        while rr.info("replication").get("master_link_status") != "up" and time.monotonic() < deadline:
            time.sleep(0.1)

        acked: list[str] = []
        stop = threading.Event()

        def writer():
            w = redis.Redis(port=mport, socket_timeout=1)
            i = 0
            while not stop.is_set() and i < 10_000_000:
                key = f"{key_tag}:{i}"
                try:
                    w.set(key, i)
                    if w.execute_command("WAIT", 1, 100) >= 1:
                        acked.append(key)
                except redis.RedisError:
                    return
                i += 1

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        time.sleep(write_seconds)
        killed = time.monotonic()
        cluster.kill(mport)
        stop.set()
        t.join(timeout=5)
        served = None
        probe = redis.Redis(port=rport, socket_timeout=1)
        while time.monotonic() - killed < MAX_WAIT:
            try:
                probe.set(f"{key_tag}:probe", 1)
                served = time.monotonic() - killed
                break
            except redis.RedisError:
                time.sleep(0.05)
        lost = None
        if served is not None:
            pipe = probe.pipeline(transaction=False)
            for key in acked:
                pipe.exists(key)
            lost = sum(1 for found in pipe.execute() if not found)
        return {"node_timeout_ms": node_timeout, "served_again_s": None if served is None else round(served, 3),
                "acked_writes": len(acked), "acked_lost": lost}
    finally:
        cluster.stop()


def summarise(runs: list[dict]) -> dict:
    times = [r["served_again_s"] for r in runs if r["served_again_s"] is not None]
    return {
        "runs": len(runs),
        "timeouts": len(runs) - len(times),
        "median_s": round(statistics.median(times), 3) if times else None,
        "max_s": max(times) if times else None,
        "min_s": min(times) if times else None,
        "acked_writes": sum(r["acked_writes"] for r in runs),
        "acked_lost": sum(r["acked_lost"] or 0 for r in runs),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tuned-timeout", type=int, default=2500,
                    help="cluster-node-timeout of the role (redis_cluster_node_timeout)")
    ap.add_argument("--default-timeout", type=int, default=15000, help="Redis's default cluster-node-timeout")
    ap.add_argument("--write-seconds", type=float, default=2.0)
    args = ap.parse_args()
    server = ensure_redis_server()
    version = subprocess.run([server, "--version"], capture_output=True, text=True).stdout.strip()
    results = {}
    for label, timeout in (("tuned", args.tuned_timeout), ("default", args.default_timeout)):
        runs = []
        for i in range(args.runs):
            r = one_run(server, timeout, args.write_seconds)
            print(f"{label:8s} node-timeout {timeout:5d} ms run {i + 1}: slots served again after "
                  f"{r['served_again_s']} s, {r['acked_writes']} WAIT-acked writes, {r['acked_lost']} lost", flush=True)
            runs.append(r)
        results[label] = {"node_timeout_ms": timeout, "summary": summarise(runs), "runs": runs}
    tuned = results["tuned"]["summary"]
    verdict = {
        "goal_served_again_s": GOAL_SECONDS,
        "tuned_median_within_goal": tuned["median_s"] is not None and tuned["median_s"] <= GOAL_SECONDS,
        "acked_lost_total": tuned["acked_lost"] + results["default"]["summary"]["acked_lost"],
    }
    out = {"benchmark": "redis_failover", "redis_server": version, "host": "loopback, 2 cores shared",
           "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results, "verdict": verdict}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "redis_failover.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        "# Redis Cluster failover (bench/redis_failover.py)", "",
        f"{version}; 3 masters + 3 replicas on 127.0.0.1; master SIGKILLed while a writer sends SET + WAIT 1; "
        f"{args.runs} runs per setting; generated {out['generated']}.", "",
        "| setting | cluster-node-timeout | median s | min s | max s | WAIT-acked writes | acked lost |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in ("tuned", "default"):
        s = results[label]["summary"]
        lines.append(f"| {label} | {results[label]['node_timeout_ms']} ms | {s['median_s']} | {s['min_s']} | "
                     f"{s['max_s']} | {s['acked_writes']} | {s['acked_lost']} |")
    lines += ["", f"Goal: slots served again in <= {GOAL_SECONDS} s with the tuned timeout "
              f"({'met' if verdict['tuned_median_within_goal'] else 'NOT met'}, median); "
              f"acknowledged writes lost: {verdict['acked_lost_total']} (goal 0).", ""]
    (RESULTS / "redis_failover.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
