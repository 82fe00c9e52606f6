# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""redis_cluster module: argument handling, check mode, the one error path; servers are fakes."""

from __future__ import annotations

import pytest

from ansible_collections.mss.platform.plugins.modules import redis_cluster as mod

from .utils import AnsibleExitJson, AnsibleFailJson, patch_exit_fail, set_module_args


class FakeNode:
    """Answers the reads the module makes; records every write."""

    def __init__(self, node_id, port, log, unreachable=False):
        self.node_id = node_id
        self.port = port
        self.log = log
        self.unreachable = unreachable

    def info(self, section):
        if self.unreachable:
            raise mod.redis.ConnectionError("Connection refused")
        return {"cluster_enabled": 1}

    def dbsize(self):
        return 0

    def execute_command(self, *args):
        if args[0] == "CLUSTER NODES":
            node = {"node_id": self.node_id, "flags": "myself,master", "master_id": "-",
                    "slots": [], "migrations": [], "connected": True}
            return {f":{self.port}": node}
        if args[0] == "CLUSTER INFO":
            return {"cluster_state": "fail", "cluster_slots_assigned": "0", "cluster_slots_ok": "0",
                    "cluster_known_nodes": "1"}
        self.log.append(args)
        return "OK"


NODES = [{"host": "127.0.0.1", "port": p, "failure_domain": f"h{p % 3}"} for p in (7000, 7001, 7002)]


@pytest.fixture
def fake(monkeypatch):
    log = []
    down = set()

    def factory(params):
        assert params["password"] == "s3cret"

        def make(host, port):
            return FakeNode(f"id{port}", port, log, unreachable=port in down)
        return make

    monkeypatch.setattr(mod, "client_factory", factory)
    patch_exit_fail(monkeypatch)
    return log, down


def test_check_mode_plans_the_creation_and_writes_nothing(fake):
    log, _down = fake
    with set_module_args({"nodes": NODES, "password": "s3cret", "_ansible_check_mode": True}):
        with pytest.raises(AnsibleExitJson) as e:
            mod.main()
    result = e.value.result
    assert result["changed"] is True
    assert result["actions"] == ["create the cluster with masters 127.0.0.1:7000, 127.0.0.1:7001, 127.0.0.1:7002,"
                                 " slots spread evenly"]
    assert result["cluster_state"] == "fail"
    assert log == []


def test_too_few_masters_fails_cleanly(fake):
    log, _down = fake
    with set_module_args({"nodes": NODES[:2], "password": "s3cret"}):
        with pytest.raises(AnsibleFailJson) as e:
            mod.main()
    assert "at least 3 masters" in e.value.result["msg"]
    assert e.value.result["changed"] is False
    assert log == []


def test_unreachable_node_fails_cleanly(fake):
    log, down = fake
    down.add(7002)
    with set_module_args({"nodes": NODES, "password": "s3cret"}):
        with pytest.raises(AnsibleFailJson) as e:
            mod.main()
    assert "unreachable nodes: 127.0.0.1:7002" in e.value.result["msg"]
    assert log == []


def test_tls_cert_needs_its_key(fake):
    with set_module_args({"nodes": NODES, "password": "s3cret", "tls": True, "tls_cert": "/c.pem"}):
        with pytest.raises(AnsibleFailJson) as e:
            mod.main()
    assert "tls_cert" in e.value.result["msg"]


def test_client_factory_passes_tls_and_auth(monkeypatch):
    seen = {}
    monkeypatch.setattr(mod.redis, "Redis", lambda **kw: seen.update(kw))
    params = {"username": "admin", "password": "pw", "connect_timeout": 2.0, "tls": True,
              "tls_ca_cert": "/ca.pem", "tls_cert": None, "tls_key": None}
    mod.client_factory(params)("redis-1", 7000)
    assert seen["ssl"] is True and seen["ssl_ca_certs"] == "/ca.pem"
    assert seen["username"] == "admin" and seen["password"] == "pw" and seen["port"] == 7000
