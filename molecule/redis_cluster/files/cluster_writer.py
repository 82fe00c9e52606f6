# Background writer for the rolling-restart check (test bed only): writes through the cluster until a stop file
# appears, and samples CLUSTER INFO on every node twice a second. Writes its figures as JSON.
#   python3 cluster_writer.py --nodes redis-1:7000,... --stop /tmp/writer.stop --out /tmp/writer.json \
#     --password-file FILE
# The password is read from a 0600 file: never on the command line (the scenario scans /proc/*/cmdline).
import argparse
import json
import os
import time

import redis
from redis.cluster import ClusterNode, RedisCluster


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--cacert", default="")
    args = ap.parse_args()
    nodes = [(n.split(":")[0], int(n.split(":")[1])) for n in args.nodes.split(",")]
    tls = {"ssl": True, "ssl_ca_certs": args.cacert} if args.cacert else {}
    with open(args.password_file) as f:
        password = f.read().strip()
    auth = {"username": args.user, "password": password}
    rc = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes], socket_timeout=2,
                      socket_connect_timeout=2, **auth, **tls)
    probes = {f"{h}:{p}": redis.Redis(host=h, port=p, socket_timeout=1, socket_connect_timeout=1, **auth, **tls)
              for h, p in nodes}
    ok = errors = rounds = 0
    worst_round = 0       # most nodes not answering cluster_state:ok in one sampling round
    rounds_two_plus = 0   # rounds with two or more such nodes
    error_kinds = {}
    started = time.monotonic()
    next_sample = 0.0
    i = 0
    while not os.path.exists(args.stop):
        i += 1
        try:
            rc.set(f"writer:{i}", i)
            ok += 1
        except Exception as e:  # noqa: BLE001 - every failed write is counted, whatever its kind
            errors += 1
            kind = type(e).__name__
            error_kinds[kind] = error_kinds.get(kind, 0) + 1
            time.sleep(0.1)
            try:
                rc = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes], socket_timeout=2,
                                  socket_connect_timeout=2, **auth, **tls)
            except Exception:  # noqa: BLE001, S110 - retried on the next write
                pass
        now = time.monotonic()
        if now >= next_sample:
            next_sample = now + 0.5
            rounds += 1
            bad = 0
            for probe in probes.values():
                try:
                    if probe.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                        bad += 1
                except Exception:  # noqa: BLE001 - a node restarting does not answer
                    bad += 1
            worst_round = max(worst_round, bad)
            rounds_two_plus += bad >= 2
        time.sleep(0.005)
    with open(args.out, "w") as f:
        json.dump({"writes_ok": ok, "write_errors": errors, "error_kinds": error_kinds, "rounds": rounds,
                   "worst_round_not_ok": worst_round, "rounds_two_or_more_not_ok": rounds_two_plus,
                   "seconds": round(time.monotonic() - started, 1)}, f)


if __name__ == "__main__":
    main()
