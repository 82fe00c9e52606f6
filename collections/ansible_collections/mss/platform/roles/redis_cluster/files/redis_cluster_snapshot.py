# Run as: /usr/bin/python3 <this file> (the systemd unit and redis_restore.yml do), hence no shebang.
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDB snapshot of every local Redis Cluster master: BGSAVE, copy with a manifest, retention, copy to the backup host.

A snapshot set is one directory per time stamp (hourly by default, the same name on every host) holding, for
each master, <host>-<port>.rdb and <host>-<port>.json (node id, slot ranges, key count, sha256), and one
<host>.index per host naming the manifests of that host's newest run. A second run in the same hour (the timer,
then an operator's run after a failover or a scale-out) replaces the host's part of the set: readers (the restore,
the backup metrics) take only the manifests the index names, since the backup host refuses deletions, and the
local copy drops the files no longer named. The restore playbook (playbooks/redis_restore.yml) only accepts a set
whose manifests cover the 16384 slots exactly once.
With a remote ("user@backup-host") the set is pushed there with rsync over SSH (the config's "ssh" command: a
dedicated key, a pinned host key); the backup host keeps the set under the same name and prunes old sets itself.
"""

import argparse
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import redis

SLOTS = 16384


def client(conf, port):
    kwargs = {"host": "127.0.0.1", "port": port, "username": conf.get("username") or None,
              "password": conf.get("password") or None, "decode_responses": True, "socket_timeout": 30}
    if conf.get("tls"):
        kwargs.update(ssl=True, ssl_ca_certs=conf.get("tls_ca_cert"))
    return redis.Redis(**kwargs)


def myself(r):
    raw = r.execute_command("CLUSTER NODES")
    for _addr, info in raw.items():
        if "myself" in info["flags"]:
            return info
    raise RuntimeError("no myself line in CLUSTER NODES")


def bgsave(r, timeout):
    started = int(time.time())
    r.execute_command("BGSAVE", "SCHEDULE")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = r.info("persistence")
        if (not p["rdb_bgsave_in_progress"] and not p.get("aof_rewrite_in_progress")
                and p["rdb_last_save_time"] >= started):
            if p["rdb_last_bgsave_status"] != "ok":
                raise RuntimeError("BGSAVE failed (rdb_last_bgsave_status={})".format(p["rdb_last_bgsave_status"]))
            return
        time.sleep(0.2)
    raise RuntimeError(f"BGSAVE did not finish within {timeout}s")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prune(backup_dir, hours, keep):
    cutoff = time.time() - hours * 3600
    for name in os.listdir(backup_dir):
        path = os.path.join(backup_dir, name)
        if name != keep and os.path.isdir(path) and os.path.getmtime(path) < cutoff:
            shutil.rmtree(path)


def write_index(target, conf, set_id, stems):
    """Name this run's manifests (written last, atomically), then drop this host's files it no longer names."""
    index = {"set": set_id, "host": conf["host"], "manifests": sorted(s + ".json" for s in stems),
             "created": datetime.datetime.now(datetime.UTC).isoformat()}
    tmp = os.path.join(target, conf["host"] + ".index.part")
    with open(tmp, "w") as f:
        json.dump(index, f, indent=2)
    os.replace(tmp, os.path.join(target, conf["host"] + ".index"))
    keep = {s + ext for s in stems for ext in (".json", ".rdb")}
    prefix = conf["host"] + "-"
    for name in os.listdir(target):
        if name.startswith(prefix) and name not in keep and name.endswith((".json", ".rdb", ".part")):
            os.unlink(os.path.join(target, name))


def push(conf, target, set_id, attempts=3):
    """rsync this host's files of the set to the backup host; retried, since the network may blink."""
    cmd = ["rsync", "-a", "-e", conf["ssh"], target + "/", "{}:{}/".format(conf["remote"], set_id)]
    for attempt in range(1, attempts + 1):
        if subprocess.run(cmd, check=False).returncode == 0:
            return
        if attempt < attempts:
            time.sleep(10 * attempt)
    raise RuntimeError("could not push {} to {} after {} attempts".format(target, conf["remote"], attempts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", dest="set_id", help="set name (default: the current UTC hour, e.g. 20261125T2100Z)")
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args(argv)
    with open(args.config) as f:
        conf = json.load(f)
    set_id = args.set_id or datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H00Z")
    target = os.path.join(conf["backup_dir"], set_id)
    os.makedirs(target, mode=0o700, exist_ok=True)
    done = []
    unreachable = []
    for port in conf["ports"]:
        r = client(conf, port)
        try:
            me = myself(r)
        except redis.ConnectionError as e:
            # a lost master's slots are snapshotted on its promoted replica; the restore refuses incomplete sets
            unreachable.append({"port": port, "error": str(e)})
            continue
        if "master" not in me["flags"] or not me["slots"]:
            continue
        bgsave(r, args.timeout)
        # the set records what the master served when the snapshot was taken
        me = myself(r)
        stem = f"{conf['host']}-{port}"
        src = os.path.join(conf["data_root"], str(port), "dump.rdb")
        tmp = os.path.join(target, stem + ".rdb.part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, os.path.join(target, stem + ".rdb"))
        manifest = {
            "set": set_id, "host": conf["host"], "port": port, "node_id": me["node_id"],
            "slots": [[int(a), int(b)] for a, b in me["slots"]], "keys": r.dbsize(),
            "sha256": sha256(os.path.join(target, stem + ".rdb")),
            "created": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        with open(os.path.join(target, stem + ".json"), "w") as f:
            json.dump(manifest, f, indent=2)
        done.append(manifest)
    # also when this host serves no slots any more (its masters failed over): its older files leave the set
    write_index(target, conf, set_id, [f"{conf['host']}-{m['port']}" for m in done])
    prune(conf["backup_dir"], conf.get("retention_hours", 48), set_id)
    pushed = None
    if conf.get("remote"):
        # rrsync on the backup host roots the path in its set directory; the manifests travel with their RDBs
        push(conf, target, set_id)
        pushed = "{}:{}".format(conf["remote"], set_id)
    snapshots = [{"port": m["port"], "keys": m["keys"], "slots": sum(b - a + 1 for a, b in m["slots"])}
                 for m in done]
    print(json.dumps({"set": set_id, "pushed": pushed, "snapshots": snapshots, "unreachable": unreachable}))
    return 1 if unreachable and not done else 0


if __name__ == "__main__":
    sys.exit(main())
