"""Real redis-server processes on 127.0.0.1 for the redis_cluster module's integration tests.

Each test gets fresh servers (cluster-enabled yes, own temp dir, free ports) and they are all stopped after it.
Skipped, with the reason, when redis-server is not installed (`apt-get install redis-server`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server")
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests" / "harness"))

from loopback_ports import free_cluster_port  # noqa: E402

PASSWORD = "integration-secret"  # test-only password for servers this fixture spawns on loopback




class RedisServers:
    """Spawns and stops redis-server processes; ``start()`` adds one and returns its port."""

    def __init__(self, base: Path, password: str | None, node_timeout: int = 5000):
        self.base = base
        self.password = password
        self.node_timeout = node_timeout
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self, port: int | None = None) -> int:
        port = port or free_cluster_port()
        d = self.base / str(port)
        d.mkdir(parents=True, exist_ok=True)
        conf = [
            f"port {port}", "bind 127.0.0.1", f"dir {d}", "cluster-enabled yes",
            f"cluster-config-file nodes-{port}.conf", f"cluster-node-timeout {self.node_timeout}",
            "appendonly no", 'save ""', "daemonize no", f"logfile {d}/redis.log", "protected-mode no",
        ]
        if self.password:
            conf += [f"requirepass {self.password}", f"masterauth {self.password}"]
        (d / "redis.conf").write_text("\n".join(conf) + "\n")
        proc = subprocess.Popen([REDIS_SERVER, str(d / "redis.conf")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.procs[port] = proc
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return port
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on {port} did not start")

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for port in list(self.procs):
            proc = self.procs.pop(port)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def redis_servers(tmp_path):
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    servers = RedisServers(tmp_path, PASSWORD)
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture
def ansible_env():
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    })
    return env
