# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot job of the redis_cluster role (roles/redis_cluster/files/redis_cluster_snapshot.py), imported from
its path, against a stand-in for the Redis masters of one host; and the backup metrics' reading of the sets it
writes (roles/exporters/files/mss_backup_metrics.py).

The case these guard: a second run in the same hour (the hourly timer, then an operator's run) after the host's
masters changed must replace the host's part of the set, not add to it; else the set claims slots twice and every
restore of the newest set is refused.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

COLLECTION = pathlib.Path(__file__).resolve().parents[4]
SNAPSHOT = COLLECTION / "roles" / "redis_cluster" / "files" / "redis_cluster_snapshot.py"
COLLECTOR = COLLECTION / "roles" / "exporters" / "files" / "mss_backup_metrics.py"
SET = "20261202T0500Z"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


snapshot = _load("redis_cluster_snapshot", SNAPSHOT)
collector = _load("mss_backup_metrics", COLLECTOR)


class FakeMaster:
    """What the job asks of one local instance: CLUSTER NODES, BGSAVE SCHEDULE, INFO persistence, DBSIZE."""

    def __init__(self, node, port, slots, keys=5):
        self.node, self.port, self.slots, self.keys = node, port, slots, keys
        self.role = "master" if slots else "slave"
        self.saved = 0

    def execute_command(self, *args):
        if args == ("CLUSTER", "NODES") or args == ("CLUSTER NODES",):
            flags = "myself," + self.role
            slots = [[str(a), str(b)] for a, b in self.slots]
            return {"127.0.0.1:%d" % self.port: {"node_id": self.node, "flags": flags, "slots": slots}}
        if args[0] == "BGSAVE":
            self.saved = 2 ** 40  # far in the future: the save is "after" the job started
            return "Background saving scheduled"
        raise AssertionError(args)

    def info(self, section):
        assert section == "persistence"
        return {"rdb_bgsave_in_progress": 0, "aof_rewrite_in_progress": 0, "rdb_last_save_time": self.saved,
                "rdb_last_bgsave_status": "ok"}

    def dbsize(self):
        return self.keys


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host "redis-3" with a data root and a backup dir; .masters maps port -> FakeMaster (or None: down)."""
    class Host:
        masters = {}

        def config(self, ports):
            conf = {"host": "redis-3", "ports": ports, "data_root": str(tmp_path / "data"),
                    "backup_dir": str(tmp_path / "backups"), "retention_hours": 48}
            path = tmp_path / "conf.json"
            path.write_text(json.dumps(conf))
            return str(path)

        def run(self, ports):
            for port in ports:
                d = tmp_path / "data" / str(port)
                d.mkdir(parents=True, exist_ok=True)
                (d / "dump.rdb").write_bytes(b"REDIS0011 port %d" % port)
            return snapshot.main(["--config", self.config(ports), "--set", SET])

        @property
        def set_dir(self):
            return tmp_path / "backups" / SET

    h = Host()

    def client(_conf, port):
        m = h.masters.get(port)
        if m is None:
            return Down()
        return m

    monkeypatch.setattr(snapshot, "client", client)
    return h


class Down:
    def execute_command(self, *_args):
        raise snapshot.redis.ConnectionError("Connection refused")


def test_first_run_writes_each_master_and_an_index_naming_them(host, capsys):
    host.masters = {7000: FakeMaster("a" * 40, 7000, [(0, 5460)]), 7001: FakeMaster("b" * 40, 7001, [])}
    assert host.run([7000, 7001]) == 0
    names = sorted(p.name for p in host.set_dir.iterdir())
    assert names == ["redis-3-7000.json", "redis-3-7000.rdb", "redis-3.index"]
    index = json.loads((host.set_dir / "redis-3.index").read_text())
    assert index["manifests"] == ["redis-3-7000.json"] and index["set"] == SET and index["host"] == "redis-3"
    out = json.loads(capsys.readouterr().out)
    assert out["snapshots"] == [{"port": 7000, "keys": 5, "slots": 5461}]


def test_second_run_in_the_hour_replaces_this_hosts_part_of_the_set(host):
    # 05:00, the timer: a scale-out has moved slots to a fourth master on this host's port 7002
    host.masters = {7000: FakeMaster("a" * 40, 7000, [(0, 4095)]), 7002: FakeMaster("c" * 40, 7002, [(4096, 5460)])}
    assert host.run([7000, 7002]) == 0
    # 05:02, an operator's run after the scale-in: 7002 is empty again
    host.masters = {7000: FakeMaster("a" * 40, 7000, [(0, 5460)]), 7002: FakeMaster("c" * 40, 7002, [])}
    assert host.run([7000, 7002]) == 0
    assert sorted(p.name for p in host.set_dir.iterdir()) == ["redis-3-7000.json", "redis-3-7000.rdb", "redis-3.index"]
    manifest = json.loads((host.set_dir / "redis-3-7000.json").read_text())
    assert manifest["slots"] == [[0, 5460]]


def test_host_whose_instances_are_down_leaves_the_set_with_an_empty_index(host, capsys):
    host.masters = {7000: FakeMaster("a" * 40, 7000, [(0, 5460)])}
    assert host.run([7000]) == 0
    capsys.readouterr()
    host.masters = {}  # the host's Redis is down; its replicas elsewhere now serve the slots
    assert host.run([7000]) == 1
    assert sorted(p.name for p in host.set_dir.iterdir()) == ["redis-3.index"]
    assert json.loads((host.set_dir / "redis-3.index").read_text())["manifests"] == []
    assert json.loads(capsys.readouterr().out)["unreachable"][0]["port"] == 7000


def test_other_hosts_files_in_the_set_are_left_alone(host):
    host.set_dir.mkdir(parents=True)
    (host.set_dir / "redis-1-7000.json").write_text("{}")
    (host.set_dir / "redis-30-7000.rdb").write_bytes(b"x")  # a host name with this one's as a prefix
    host.masters = {7000: FakeMaster("a" * 40, 7000, [(0, 5460)])}
    assert host.run([7000]) == 0
    assert (host.set_dir / "redis-1-7000.json").exists()
    assert (host.set_dir / "redis-30-7000.rdb").exists()


def _manifest(d, host, port, slots, created="2026-12-02T05:00:10"):
    (d / ("%s-%d.json" % (host, port))).write_text(json.dumps(
        {"host": host, "port": port, "slots": slots, "created": created + "+00:00", "sha256": "0" * 64}))
    (d / ("%s-%d.rdb" % (host, port))).write_bytes(b"R" * 10)


def _three_masters(d):
    _manifest(d, "redis-1", 7000, [[0, 5460]])
    _manifest(d, "redis-2", 7000, [[5461, 10922]])
    _manifest(d, "redis-3", 7000, [[10923, 16383]], created="2026-12-02T05:02:00")


def test_metrics_count_a_set_whose_stale_manifest_its_index_no_longer_names(tmp_path):
    d = tmp_path / SET
    d.mkdir()
    _three_masters(d)
    _manifest(d, "redis-3", 7002, [[12000, 12999]])  # pushed at 05:00, kept by the backup host (no deletions)
    assert collector.redis_rows(str(tmp_path), "redis", "backup-1") == []  # slots twice: not a whole set
    (d / "redis-3.index").write_text(json.dumps({"manifests": ["redis-3-7000.json"]}))
    rows = collector.redis_rows(str(tmp_path), "redis", "backup-1")
    assert [(r["duration"], r["size"]) for r in rows] == [(110, 30)]


def test_metrics_skip_a_set_whose_index_names_a_missing_part(tmp_path):
    d = tmp_path / SET
    d.mkdir()
    _three_masters(d)
    (d / "redis-3.index").write_text(json.dumps({"manifests": []}))  # redis-3's slots are nowhere in this set
    assert collector.redis_rows(str(tmp_path), "redis", "backup-1") == []
