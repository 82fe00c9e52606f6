"""Free loopback ports for Redis Cluster nodes spawned by tests and benchmarks (one place for both)."""

from __future__ import annotations

import socket


def free_cluster_port(attempts: int = 500) -> int:
    """A free client port on 127.0.0.1 whose cluster bus port (+10000) is free too."""
    for _ in range(attempts):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as b:
            try:
                b.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair (client + cluster bus) found on 127.0.0.1")
