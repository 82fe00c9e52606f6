"""redis_cluster module against real TLS-only redis-server processes on 127.0.0.1 (see conftest.py).

port 0 + tls-port, tls-cluster yes, tls-replication yes: the module, the cluster bus, replication and the slot
migrations (MIGRATE between nodes) all go through TLS; a plaintext client is refused.
"""

from __future__ import annotations

import json
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster
from test_redis_cluster_module import declare, run_module

from ansible_collections.mss.platform.plugins.module_utils.redis_cluster import RedisClusterManager
from ansible_collections.mss.platform.plugins.module_utils.redis_cluster_plan import specs_from_params
from ansible_collections.mss.platform.plugins.modules.redis_cluster import client_factory

PASSWORD = "integration-secret"  # same test-only password as conftest.py


def tls_params(servers):
    return {"username": None, "password": PASSWORD, "connect_timeout": 3.0, "tls": True,
            "tls_ca_cert": servers.tls["ca"], "tls_cert": None, "tls_key": None}


def tls_client(servers, port, **kw):
    return redis.Redis(port=port, password=PASSWORD, ssl=True, ssl_ca_certs=servers.tls["ca"],
                       decode_responses=True, **kw)


def tls_cluster(servers, port):
    return RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port)], password=PASSWORD, ssl=True,
                        ssl_ca_certs=servers.tls["ca"], decode_responses=True)


def test_module_over_tls_create_grow_idempotent(tls_redis_servers, ansible_env):
    servers = tls_redis_servers
    ports = [servers.start() for _ in range(7)]
    nodes = declare(ports[:3], ports[3:6])
    args = {"nodes": nodes, "password": PASSWORD, "tls": True, "tls_ca_cert": servers.tls["ca"]}
    planned = run_module(args, ansible_env, check=True)
    assert planned["changed"] is True and planned["slots_assigned"] == 0, planned.get("msg")
    done = run_module(args, ansible_env)
    assert done["changed"] is True and done["cluster_state"] == "ok" and done["slots_ok"] == 16384, done
    assert PASSWORD not in json.dumps(done)
    again = run_module(args, ansible_env)
    assert again["changed"] is False and again["actions"] == []

    # replication runs over TLS: every replica's link is up
    for port in ports[3:6]:
        deadline = time.monotonic() + 30
        while tls_client(servers, port).info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, f"replica {port} never linked to its master over TLS"
            time.sleep(0.2)

    rc = tls_cluster(servers, ports[0])
    for i in range(300):
        rc.set(f"tls:{i}", i)

    # a fourth master: slots and their keys move with MIGRATE between the nodes, over TLS
    grown = nodes + [{"host": "127.0.0.1", "port": ports[6], "role": "master", "failure_domain": "h1"}]
    manager = RedisClusterManager(specs_from_params(grown), client_factory(tls_params(servers)), password=PASSWORD,
                                  wait_timeout=60)
    actions = manager.plan()
    assert "move_slots" in [a["action"] for a in actions]
    manager.apply(actions)
    report = manager.report()
    assert report["cluster_state"] == "ok"
    assert sorted(n["slots"] for n in report["topology"] if n["role"] == "master") == [4096] * 4
    assert tls_client(servers, ports[6]).dbsize() > 0
    rc = tls_cluster(servers, ports[1])
    assert all(int(rc.get(f"tls:{i}")) == i for i in range(300))


def test_plaintext_clients_are_refused(tls_redis_servers):
    servers = tls_redis_servers
    port = servers.start()
    assert tls_client(servers, port).ping() is True
    plain = redis.Redis(port=port, password=PASSWORD, socket_timeout=3, socket_connect_timeout=3)
    with pytest.raises(redis.exceptions.ConnectionError):
        plain.ping()
    # and a TLS client that does not trust the CA is refused too
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(port=port, password=PASSWORD, ssl=True, ssl_ca_certs=None, socket_timeout=3).ping()
