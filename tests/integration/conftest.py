"""Fixtures shared by the integration tests that talk to the simulated cluster (tests/k8s-sim/up.sh).

kubeconfig_path and api_client skip, with the reason, when no kubeconfig is found or /readyz does not answer
(under MSS_NO_SKIP=1, as in `make test`, such a skip is a failure: see tests/conftest.py). k8s_inventory and
run_playbook run a playbook on the k8s_control inventory of the local environment, with k8s_kubeconfig (the
connection every play sets once with module_defaults on group/mss.platform.k8s) pointing at the cluster.
K8S_SIM_KUBECONFIG overrides the default path <repo>/.cache/k8s-sim/kubeconfig.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("kubernetes", reason="the kubernetes Python client is not installed")
import urllib3  # noqa: E402
from kubernetes import client, config  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_KUBECONFIG = REPO / ".cache" / "k8s-sim" / "kubeconfig"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
# The group_vars of k8s_control for the simulated cluster (helm and the Istio charts of tests/k8s-sim).
SIM_GROUP_VARS = Path(__file__).resolve().parent / "k8s_control_sim.yml"


class PlaybookRun:
    """One ansible-playbook run: return code, output and the recap's counters."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        recap = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", self.output)
        self.ok, self.changed, self.unreachable, self.failed = (int(g) for g in recap.groups()) if recap else (0,) * 4

    def tail(self, n: int = 4000) -> str:
        return self.output[-n:]


@pytest.fixture(scope="session")
def kubeconfig_path() -> Path:
    path = Path(os.environ.get("K8S_SIM_KUBECONFIG", DEFAULT_KUBECONFIG))
    if not path.is_file():
        pytest.skip(f"no kubeconfig at {path}: start the simulated cluster with tests/k8s-sim/up.sh")
    return path


@pytest.fixture(scope="session")
def api_client(kubeconfig_path: Path):
    api = config.new_client_from_config(config_file=str(kubeconfig_path))
    try:
        resp = api.rest_client.request("GET", f"{api.configuration.host}/readyz", headers=api.default_headers,
                                       _request_timeout=5)
        if resp.status != 200:
            raise OSError(f"/readyz answered HTTP {resp.status}")
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        api.close()
        pytest.skip(f"the API server in {kubeconfig_path} is not ready (/readyz): {exc}")
    yield api
    api.close()


@pytest.fixture(scope="session")
def k8s_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-host inventory (group k8s_control = localhost) using the local environment's group_vars."""
    if not ANSIBLE_PLAYBOOK.is_file():
        pytest.skip(f"no ansible-playbook next to {sys.executable}")
    inv = tmp_path_factory.mktemp("k8s-inventory")
    (inv / "group_vars").mkdir()
    (inv / "group_vars" / "k8s_control.yml").symlink_to(SIM_GROUP_VARS)
    (inv / "hosts.yml").write_text(json.dumps({"k8s_control": {"hosts": {"localhost": None}}}))
    return inv / "hosts.yml"


@pytest.fixture(scope="session")
def run_playbook(k8s_inventory: Path, kubeconfig_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """ansible-playbook <playbook> on the k8s_control inventory with extra variables (as a JSON file)."""
    workdir = tmp_path_factory.mktemp("runbook-vars")
    counter = iter(range(10_000))

    def run(playbook: str | Path, extra_vars: dict, *args: str, timeout: int = 900) -> PlaybookRun:
        vars_file = workdir / f"vars-{next(counter)}.json"
        vars_file.write_text(json.dumps({"k8s_kubeconfig": str(kubeconfig_path), **extra_vars}))
        path = Path(playbook)
        if not path.is_absolute():
            path = REPO / "playbooks" / path
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_FORCE_COLOR": "0", "PATH": f"{ANSIBLE_PLAYBOOK.parent}:{os.environ.get('PATH', '')}"}
        proc = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", str(k8s_inventory), str(path), "-e", f"@{vars_file}", *args],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )
        return PlaybookRun(proc)

    return run


@pytest.fixture(scope="session")
def k8s_module_defaults() -> dict:
    """What a test's own play needs to talk to the cluster: the connection chosen once, as playbooks/*.yml do."""
    return {"group/mss.platform.k8s": {"kubeconfig": "{{ k8s_kubeconfig | default(omit, true) }}",
                                       "context": "{{ k8s_context | default(omit, true) }}"}}


@pytest.fixture(scope="session")
def delete_namespace():
    """Delete a namespace (absent is fine)."""

    def delete(api_client, name: str) -> None:
        try:
            client.CoreV1Api(api_client).delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    return delete
