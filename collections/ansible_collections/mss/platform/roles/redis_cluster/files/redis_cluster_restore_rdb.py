# Run as: /usr/bin/python3 <this file> (the systemd unit and redis_restore.yml do), hence no shebang.
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load one snapshot RDB into the live cluster: a private redis-server (no TCP port, no persistence) reads the
file, then every key goes to the slot's current master with DUMP/RESTORE REPLACE through a cluster client.

Works whatever the cluster's topology is now (a failover since the snapshot moves nothing here). It only adds
or replaces keys: the playbook flushes the masters first, after the whole set has been validated.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import redis
from redis.cluster import ClusterNode, RedisCluster


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--rdb", required=True)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args(argv)
    with open(args.config) as f:
        conf = json.load(f)
    work = tempfile.mkdtemp(prefix="redis-restore-")
    proc = None
    try:
        shutil.copyfile(args.rdb, os.path.join(work, "dump.rdb"))
        sock = os.path.join(work, "redis.sock")
        proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock, "--dir", work,
                                 "--dbfilename", "dump.rdb", "--appendonly", "no", "--save", "",
                                 "--protected-mode", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        src = redis.Redis(unix_socket_path=sock)
        deadline = time.monotonic() + 600
        while True:
            try:
                if src.info("persistence")["loading"] == 0:
                    break
            except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the private redis-server could not load {args.rdb}")
            time.sleep(0.1)
        kwargs = {"username": conf.get("username") or None, "password": conf.get("password") or None}
        if conf.get("tls"):
            kwargs.update(ssl=True, ssl_ca_certs=conf.get("tls_ca_cert"))
        dst = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in conf["ports"]], **kwargs)
        restored = 0
        cursor = 0
        while True:
            cursor, keys = src.scan(cursor=cursor, count=args.batch)
            if keys:
                pipe = src.pipeline(transaction=False)
                for k in keys:
                    pipe.dump(k)
                    pipe.pttl(k)
                answers = pipe.execute()
                for i, k in enumerate(keys):
                    value, ttl = answers[2 * i], answers[2 * i + 1]
                    if value is None:
                        continue
                    dst.restore(k, max(ttl, 0), value, replace=True)
                    restored += 1
            if cursor == 0:
                break
        print(json.dumps({"rdb": args.rdb, "keys_in_file": src.dbsize(), "restored": restored}))
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
