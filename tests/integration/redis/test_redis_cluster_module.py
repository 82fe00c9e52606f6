"""redis_cluster module against real redis-server processes on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from ansible_collections.mss.platform.plugins.modules.redis_cluster import client_factory
from ansible_collections.mss.platform.plugins.module_utils.redis_cluster import RedisClusterManager
from ansible_collections.mss.platform.plugins.module_utils.redis_cluster_plan import (
    RedisClusterError,
    specs_from_params,
)

PASSWORD = "integration-secret"  # same test-only password as conftest.py

PARAMS = {"username": None, "password": PASSWORD, "connect_timeout": 3.0, "tls": False}


def declare(masters, replicas, domains=("h1", "h2", "h3")):
    """Masters/replicas as the module's `nodes` option; domain i%3 stands for a host."""
    nodes = []
    for i, port in enumerate(masters):
        nodes.append({"host": "127.0.0.1", "port": port, "role": "master", "failure_domain": domains[i % 3]})
    for i, port in enumerate(replicas):
        nodes.append({"host": "127.0.0.1", "port": port, "role": "replica", "failure_domain": domains[i % 3]})
    return nodes


def manager(nodes, **kw):
    return RedisClusterManager(specs_from_params(nodes), client_factory(PARAMS), password=PASSWORD,
                               wait_timeout=60, **kw)


def converge(nodes, **kw):
    m = manager(nodes, **kw)
    actions = m.plan()
    m.apply(actions)
    return actions, m.report()


def cluster_client(port):
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port)], password=PASSWORD, decode_responses=True)


def masters_of(report):
    return [n for n in report["topology"] if n["role"] == "master" and not n["failed"]]


def test_create_then_idempotent_and_keys_redirect(redis_servers):
    ports = [redis_servers.start() for _ in range(6)]
    nodes = declare(ports[:3], ports[3:])
    actions, report = converge(nodes)
    assert [a["action"] for a in actions][0] == "create"
    assert report["cluster_state"] == "ok"
    assert report["slots_ok"] == 16384
    masters = masters_of(report)
    assert sorted(m["slots"] for m in masters) == [5461, 5461, 5462]
    by_id = {n["id"]: n for n in report["topology"]}
    domain = {f"127.0.0.1:{n['port']}": n["failure_domain"] for n in nodes}
    for n in report["topology"]:
        if n["role"] == "replica":
            assert domain[n["name"]] != domain[by_id[n["master_id"]]["name"]]
    assert sorted(len([r for r in report["topology"] if r["master_id"] == m["id"]]) for m in masters) == [1, 1, 1]
    # a converged cluster plans nothing
    assert manager(nodes).plan() == []
    # a key written through one node is readable through cluster redirection from another
    rc = cluster_client(ports[0])
    for i in range(200):
        rc.set(f"k{i}", f"v{i}")
    plain = redis.Redis(port=ports[1], password=PASSWORD, decode_responses=True)
    slot = rc.keyslot("k7")
    owner = next(m for m in masters if any(a <= slot <= b for a, b in m["slot_ranges"]))
    if owner["name"] != f"127.0.0.1:{ports[1]}":
        with pytest.raises(redis.exceptions.MovedError):
            plain.get("k7")
    assert cluster_client(ports[2]).get("k7") == "v7"


def test_add_then_remove_master_and_replica_keeps_data(redis_servers):
    ports = [redis_servers.start() for _ in range(8)]
    base = declare(ports[:3], ports[3:6])
    converge(base)
    rc = cluster_client(ports[0])
    for i in range(500):
        rc.set(f"key:{i}", i)
    grown = base + [{"host": "127.0.0.1", "port": ports[6], "failure_domain": "h1"},
                    {"host": "127.0.0.1", "port": ports[7], "role": "replica", "failure_domain": "h2"}]
    actions, report = converge(grown)
    kinds = [a["action"] for a in actions]
    assert kinds.count("meet") == 2 and "move_slots" in kinds and "replicate" in kinds
    assert report["cluster_state"] == "ok" and report["slots_ok"] == 16384
    assert sorted(m["slots"] for m in masters_of(report)) == [4096] * 4
    assert manager(grown).plan() == []
    rc = cluster_client(ports[1])
    assert all(int(rc.get(f"key:{i}")) == i for i in range(500))
    # shrink back: the fourth master's slots leave first, then both nodes are forgotten
    actions, report = converge(base)
    kinds = [a["action"] for a in actions]
    assert kinds.count("forget") == 2 and "move_slots" in kinds
    assert report["known_nodes"] == 6 and report["cluster_state"] == "ok"
    assert sorted(m["slots"] for m in masters_of(report)) == [5461, 5461, 5462]
    rc = cluster_client(ports[2])
    assert all(int(rc.get(f"key:{i}")) == i for i in range(500))
    assert manager(base).plan() == []


def test_declared_master_gets_its_role_back_after_failover(redis_servers):
    ports = [redis_servers.start() for _ in range(6)]
    nodes = declare(ports[:3], ports[3:])
    _actions, report = converge(nodes)
    replica = next(n for n in report["topology"] if n["role"] == "replica")
    master_name = report and next(n["name"] for n in report["topology"] if n["id"] == replica["master_id"])
    r = redis.Redis(port=int(replica["name"].split(":")[1]), password=PASSWORD)
    r.execute_command("CLUSTER FAILOVER")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and b"role:master" not in r.execute_command("INFO", "replication"):
        time.sleep(0.2)
    plan = manager(nodes).plan()
    assert [a["action"] for a in plan] == ["failover"], plan
    assert plan[0]["node"] == master_name
    _actions, report = converge(nodes)
    assert next(n for n in report["topology"] if n["name"] == master_name)["role"] == "master"
    assert manager(nodes).plan() == []


def test_refusals_change_nothing(redis_servers):
    ports = [redis_servers.start() for _ in range(4)]
    with pytest.raises(RedisClusterError, match="at least 3 masters"):
        manager(declare(ports[:2], ports[2:])).plan()
    with pytest.raises(RedisClusterError, match="same failure domain"):
        nodes = declare(ports[:3], [])
        nodes.append({"host": "127.0.0.1", "port": ports[3], "role": "replica",
                      "replica_of": f"127.0.0.1:{ports[0]}", "failure_domain": "h1"})
        manager(nodes).plan()
    with pytest.raises(RedisClusterError, match="cannot place replicas"):
        manager(declare(ports[:3], [ports[3]], domains=("h1", "h1", "h1"))).plan()
    dead = ports[3]
    redis_servers.kill(dead)
    with pytest.raises(RedisClusterError, match=f"unreachable nodes: 127.0.0.1:{dead}"):
        manager(declare(ports[:3], [dead])).plan()
    stray = redis.Redis(port=ports[0], password=PASSWORD)
    slot = stray.execute_command("CLUSTER KEYSLOT", "stray")
    stray.config_set("cluster-require-full-coverage", "no")
    stray.execute_command("CLUSTER ADDSLOTS", slot)
    deadline = time.monotonic() + 20
    while True:
        try:
            stray.set("stray", "data")
            break
        except redis.exceptions.ClusterDownError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    stray.execute_command("CLUSTER DELSLOTS", slot)  # a node with keys and no slots, in no cluster
    with pytest.raises(RedisClusterError, match="holds 1 keys"):
        manager(declare(ports[:3], [])).plan()
    for p in ports[:3]:
        info = redis.Redis(port=p, password=PASSWORD, decode_responses=True).execute_command("CLUSTER INFO")
        assert info["cluster_known_nodes"] == "1" and info["cluster_slots_assigned"] == "0"


def run_module(args, env, check=False):
    cmd = [sys.executable, "-m", "ansible", "adhoc"] if False else [
        str(__import__("pathlib").Path(sys.executable).parent / "ansible"), "localhost", "-c", "local",
        "-m", "mss.platform.redis_cluster", "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    data = json.loads(out.stdout)
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_module_check_mode_then_apply_then_unchanged(redis_servers, ansible_env):
    ports = [redis_servers.start() for _ in range(6)]
    args = {"nodes": declare(ports[:3], ports[3:]), "password": PASSWORD}
    planned = run_module(args, ansible_env, check=True)
    assert planned["changed"] is True and planned["actions"][0].startswith("create the cluster")
    assert planned["slots_assigned"] == 0  # check mode did nothing
    assert PASSWORD not in json.dumps(planned)
    done = run_module(args, ansible_env)
    assert done["changed"] is True and done["cluster_state"] == "ok" and done["slots_ok"] == 16384
    again = run_module(args, ansible_env)
    assert again["changed"] is False and again["actions"] == []
    bad = run_module({"nodes": declare(ports[:2], []), "password": PASSWORD}, ansible_env)
    assert bad.get("failed") and "at least 3 masters" in bad["msg"]


def test_an_interrupted_slot_move_is_finished(redis_servers):
    ports = [redis_servers.start() for _ in range(6)]
    nodes = declare(ports[:3], ports[3:])
    _actions, report = converge(nodes)
    rc = cluster_client(ports[0])
    slot = rc.keyslot("{half}")
    for i in range(20):
        rc.set(f"{{half}}:{i}", i)
    masters = masters_of(report)
    owner = next(m for m in masters if any(a <= slot <= b for a, b in m["slot_ranges"]))
    other = next(m for m in masters if m["id"] != owner["id"])
    src = redis.Redis(port=int(owner["address"].split(":")[1]), password=PASSWORD)
    dst = redis.Redis(port=int(other["address"].split(":")[1]), password=PASSWORD)
    dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", owner["id"])
    src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", other["id"])
    keys = src.execute_command("CLUSTER GETKEYSINSLOT", slot, 10)
    src.execute_command("MIGRATE", "127.0.0.1", int(other["address"].split(":")[1]), "", 0, 5000,
                        "AUTH", PASSWORD, "KEYS", *keys)
    plan = manager(nodes).plan()
    assert plan[0]["action"] == "fix_slot" and plan[0]["dst"] == other["id"]
    _actions, report = converge(nodes)
    assert report["cluster_state"] == "ok"
    now = next(n for n in report["topology"] if n["id"] == other["id"])
    assert any(a <= slot <= b for a, b in now["slot_ranges"])
    assert all(int(cluster_client(ports[1]).get(f"{{half}}:{i}")) == i for i in range(20))
    assert manager(nodes).plan() == []
