"""Helpers shared by the tests against the simulated Kubernetes cluster."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

WAIT_TIMEOUT = float(os.environ.get("K8S_SIM_WAIT_TIMEOUT", "120"))


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout: float = WAIT_TIMEOUT,
    interval: float = 0.5,
) -> Any:
    """Poll probe() until it returns a truthy value; fail with the last value seen after timeout.

    The timeout only bounds a functional wait (the simulated control plane converges in seconds); it is not a
    performance assertion.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last observation: {last!r}")
