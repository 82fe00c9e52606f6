"""Shared fixtures of the canary integration tests: fakes on loopback and an ansible-playbook runner."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import FakeKubeAPI, FakePrometheus

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
PLAYBOOK = ROOT / "playbooks" / "canary.yml"
if str(ROOT / "collections") not in sys.path:  # ansible_collections.mss.platform for in-process imports
    sys.path.insert(0, str(ROOT / "collections"))

HEADER_ROUTE = {
    "name": "canary-header",
    "match": [{"headers": {"canary": {"exact": "true"}}}],
    "route": [{"destination": {"host": "mss-frontend", "subset": "v2"}}],
}
PRIMARY_ROUTE = {
    "name": "primary",
    "match": [{"uri": {"prefix": "/"}}],
    "retries": {"attempts": 2, "perTryTimeout": "2s"},
    "route": [
        {"destination": {"host": "mss-frontend", "subset": "v1"}, "weight": 100},
        {"destination": {"host": "mss-frontend", "subset": "v2"}, "weight": 0},
    ],
}


def virtual_service(api_version="networking.istio.io/v1", namespace="mss", name="mss-frontend"):
    """The spec's VirtualService: a header route (canary: "true" -> v2) kept apart from the weighted route."""
    return {
        "apiVersion": api_version,
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "mss-frontend"}},
        "spec": {"hosts": ["mss-frontend"], "http": [copy.deepcopy(HEADER_ROUTE), copy.deepcopy(PRIMARY_ROUTE)]},
    }


def base_vars(kubeconfig, **extra):
    data = {
        # The connection of playbooks/canary.yml (module_defaults on group/mss.platform.k8s).
        "k8s_kubeconfig": str(kubeconfig),
        "canary_virtual_service": "mss-frontend",
        "canary_namespace": "mss",
        "canary_route": "primary",
        "canary_stable_destination": {"host": "mss-frontend", "subset": "v1"},
        "canary_canary_destination": {"host": "mss-frontend", "subset": "v2"},
        "canary_steps": [10, 50, 100],
        "canary_step_pause_seconds": 0,
    }
    data.update(extra)
    return data


def run_playbook(tmp_path: Path, extra_vars: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """ansible-playbook playbooks/canary.yml on a one-host inventory (group canary, local connection)."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"canary": {"hosts": {"canary-controller": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra_vars))
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
        "TMPDIR": str(tmp_path),   # kubernetes.core's discovery cache files (k8srcp-*.json) land here
        "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
    })
    for key in [k for k in env if k.startswith("K8S_AUTH_")]:
        del env[key]
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), "-e", f"@{vars_file}", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def primary_weights(obj):
    route = next(r for r in obj["spec"]["http"] if r.get("name") == "primary")
    return [e.get("weight") for e in route["route"]]


def without_weights(obj):
    """The object minus the primary route's weights and server-side metadata: must never change."""
    obj = copy.deepcopy(obj)
    for route in obj["spec"]["http"]:
        if route.get("name") == "primary":
            for entry in route["route"]:
                entry.pop("weight", None)
    meta = obj["metadata"]
    for key in ("resourceVersion", "generation", "managedFields", "uid", "creationTimestamp"):
        meta.pop(key, None)
    obj.pop("apiVersion", None)
    return obj


@pytest.fixture
def fake_kube():
    api = FakeKubeAPI()
    yield api
    api.close()


@pytest.fixture
def fake_prom():
    prom = FakePrometheus()
    yield prom
    prom.close()
