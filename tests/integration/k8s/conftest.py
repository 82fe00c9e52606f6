"""Fixtures for tests against the simulated Kubernetes cluster (tests/k8s-sim/up.sh).

The tests skip, with the reason, when no kubeconfig is found or the API server does not answer.
K8S_SIM_KUBECONFIG overrides the default path <repo>/.cache/k8s-sim/kubeconfig.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from k8s_sim_helpers import wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException

REPO = Path(__file__).resolve().parents[3]
DEFAULT_KUBECONFIG = REPO / ".cache" / "k8s-sim" / "kubeconfig"




@pytest.fixture(scope="session")
def kubectl(kubeconfig_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run kubectl (the one built with the cluster when present) against the simulated cluster."""
    built = REPO / ".cache" / "k8s-sim" / "bin" / "kubectl"
    binary = str(built) if built.is_file() else shutil.which("kubectl")
    if binary is None:
        pytest.skip("no kubectl binary")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "--kubeconfig", str(kubeconfig_path), *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture
def namespace(api_client: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting for its finalization)."""
    core = client.CoreV1Api(api_client)
    name = f"t-{request.node.name.replace('_', '-')[:40].strip('-').lower()}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(
        f"the default ServiceAccount in {name}",
        lambda: _exists(lambda: core.read_namespaced_service_account("default", name)),
    )
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def _exists(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
