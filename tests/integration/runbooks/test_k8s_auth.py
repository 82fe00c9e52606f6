"""The three ways a Kubernetes play finds its cluster (module_defaults on group/mss.platform.k8s, set once per play):

1. ``k8s_kubeconfig`` in the inventory (every other test of this directory);
2. no connection variable at all, ``K8S_AUTH_HOST`` + ``K8S_AUTH_API_KEY`` (+ ``K8S_AUTH_SSL_CA_CERT``) in the
   environment, as AWX's Kubernetes credential injects them: here a real ServiceAccount token (TokenRequest API)
   of the simulated cluster's API server;
3. no connection variable, ``K8S_AUTH_KUBECONFIG`` in the environment.

The ServiceAccount may edit its own namespace only: the same runbook against another namespace is refused with 403,
which proves the run used the token and nothing else (``KUBECONFIG`` points at a file that does not exist, and the
inventory has no group_vars). In-cluster configuration (kubernetes.core's next fallback) needs a Pod running the
playbook, which the simulated cluster cannot run: not tested here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
SA = "mss-runbooks"


def _deployment(name: str, replicas: int) -> dict:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "main", "image": "mss/probe:1.0.0"}]}}},
    }


def _wait_ready(api_client, ns: str, name: str, replicas: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dep = client.AppsV1Api(api_client).read_namespaced_deployment(name, ns)
        if (dep.status.ready_replicas or 0) == replicas and (dep.status.updated_replicas or 0) == replicas:
            return
        time.sleep(1)
    pytest.fail(f"{ns}/{name} not ready with {replicas} replicas after {timeout:.0f} s: {dep.status}")


@pytest.fixture(scope="module")
def cluster(api_client, delete_namespace):
    """Two namespaces with a Deployment each; a ServiceAccount that may edit only the first; its token."""
    own, other = f"auth-it-{uuid.uuid4().hex[:6]}", f"auth-other-{uuid.uuid4().hex[:6]}"
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    try:
        for ns in (own, other):
            core.create_namespace({"metadata": {"name": ns}})
            apps.create_namespaced_deployment(ns, _deployment("auth-probe", 1))
        core.create_namespaced_service_account(own, {"metadata": {"name": SA}})
        rbac.create_namespaced_role_binding(own, {
            "metadata": {"name": f"{SA}-edit"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": own}],
        })
        token = core.create_namespaced_service_account_token(
            SA, own, {"spec": {"expirationSeconds": 1800}}).status.token
        for ns in (own, other):
            _wait_ready(api_client, ns, "auth-probe", 1)
        yield {"own": own, "other": other, "token": token, "host": api_client.configuration.host,
               "ca": api_client.configuration.ssl_ca_cert}
    finally:
        delete_namespace(api_client, own)
        delete_namespace(api_client, other)


def run_without_connection_vars(tmp_path: Path, playbook: str, extra_vars: dict, auth_env: dict):
    """ansible-playbook on an inventory with no group_vars (no k8s_kubeconfig), the connection in the env only."""
    if not ANSIBLE_PLAYBOOK.is_file():
        pytest.skip(f"no ansible-playbook next to {sys.executable}")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"k8s_control": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    vars_file = tmp_path / f"vars-{uuid.uuid4().hex[:6]}.json"
    vars_file.write_text(json.dumps(extra_vars))
    env = {k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_")}
    env.update({"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"), "TMPDIR": str(tmp_path),
                "PATH": f"{ANSIBLE_PLAYBOOK.parent}:{os.environ.get('PATH', '')}", **auth_env})
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(REPO / "playbooks" / playbook),
                           "-e", f"@{vars_file}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_token_from_the_environment_like_awx(cluster, api_client, tmp_path):
    auth = {"K8S_AUTH_HOST": cluster["host"], "K8S_AUTH_API_KEY": cluster["token"],
            "K8S_AUTH_SSL_CA_CERT": cluster["ca"]}
    rc, out = run_without_connection_vars(tmp_path, "scale.yml", {
        "app_namespace": cluster["own"], "app_scale_deployment": "auth-probe", "app_scale_replicas": 3}, auth)
    assert rc == 0, out[-4000:]
    assert cluster["token"] not in out
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("auth-probe", cluster["own"])
    assert dep.spec.replicas == 3 and dep.status.ready_replicas == 3  # the runbook waited through the same token

    history_rc, history = run_without_connection_vars(tmp_path, "rollback.yml", {
        "app_namespace": cluster["own"], "app_rollback_deployment": "auth-probe", "app_rollback_history_only": True},
        auth)
    assert history_rc == 0 and "revision 1 (current)" in history, history[-4000:]

    # The token is the identity: its ServiceAccount may not touch another namespace.
    rc, out = run_without_connection_vars(tmp_path, "scale.yml", {
        "app_namespace": cluster["other"], "app_scale_deployment": "auth-probe", "app_scale_replicas": 2}, auth)
    assert rc != 0 and "403" in out and f"system:serviceaccount:{cluster['own']}:{SA}" in out, out[-4000:]
    assert client.AppsV1Api(api_client).read_namespaced_deployment("auth-probe", cluster["other"]).spec.replicas == 1


def test_kubeconfig_from_the_environment(cluster, api_client, kubeconfig_path, tmp_path):
    rc, out = run_without_connection_vars(tmp_path, "scale.yml", {
        "app_namespace": cluster["other"], "app_scale_deployment": "auth-probe", "app_scale_replicas": 2},
        {"K8S_AUTH_KUBECONFIG": str(kubeconfig_path)})
    assert rc == 0, out[-4000:]
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("auth-probe", cluster["other"])
    assert dep.spec.replicas == 2 and dep.status.ready_replicas == 2


def test_no_connection_at_all_fails_clearly(cluster, tmp_path):
    """Nothing in the inventory, nothing in the environment, no kubeconfig file: a clear error, not a hang."""
    rc, out = run_without_connection_vars(tmp_path, "rollback.yml", {
        "app_namespace": cluster["own"], "app_rollback_deployment": "auth-probe", "app_rollback_history_only": True},
        {})
    assert rc != 0 and "Could not create API client" in out, out[-4000:]
