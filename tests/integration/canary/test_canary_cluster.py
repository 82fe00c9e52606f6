"""canary_weight and playbooks/canary.yml against a real kube-apiserver (the k8s-sim test cluster).

The cluster is found through $K8S_SIM_KUBECONFIG or .cache/k8s-sim/kubeconfig; every test skips, saying why,
when it is missing or does not answer. A minimal Istio VirtualService CRD (networking.istio.io v1 and
v1beta1, schema preserve-unknown-fields) is created unless the cluster already has one (e.g. Istio's own).
Each test works in a fresh namespace, deleted afterwards. Prometheus is a loopback fake.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.mss.platform.plugins.module_utils import canary
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from conftest import HEADER_ROUTE, ROOT, base_vars, primary_weights, run_playbook, virtual_service, without_weights

KUBECONFIG = Path(os.environ.get("K8S_SIM_KUBECONFIG", ROOT / ".cache" / "k8s-sim" / "kubeconfig"))
CRD_NAME = "virtualservices.networking.istio.io"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CRD_NAME, "labels": {"app.kubernetes.io/part-of": "mss-canary-tests"}},
    "spec": {
        "group": "networking.istio.io",
        "scope": "Namespaced",
        "names": {"plural": "virtualservices", "singular": "virtualservice", "kind": "VirtualService",
                  "listKind": "VirtualServiceList", "shortNames": ["vs"]},
        "versions": [
            {"name": name, "served": True, "storage": name == "v1",
             "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
            for name in ("v1", "v1beta1")
        ],
    },
}


def _cluster_reason():
    if not KUBECONFIG.is_file():
        return f"no test cluster: {KUBECONFIG} does not exist (start it with tests/k8s-sim/up.sh)"
    try:
        out = subprocess.run(["kubectl", "--kubeconfig", str(KUBECONFIG), "--request-timeout=10s", "get", "ns"],
                             capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"no test cluster: kubectl failed: {e}"
    if out.returncode != 0:
        return f"no test cluster: 'kubectl get ns' with {KUBECONFIG} failed: {out.stderr.strip()[:300]}"
    return None


_REASON = _cluster_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


@pytest.fixture(scope="module")
def k8s():
    """kubernetes.client ApiClient on the test cluster, with the VirtualService CRD established."""
    api = config.new_client_from_config(config_file=str(KUBECONFIG))
    ext = client.ApiextensionsV1Api(api)
    try:
        existing = ext.read_custom_resource_definition(CRD_NAME)
        served = {v.name for v in existing.spec.versions if v.served}
        if not {"v1", "v1beta1"} <= served:
            pytest.skip(f"the cluster's {CRD_NAME} serves {sorted(served)}, not v1 and v1beta1")
    except ApiException as e:
        if e.status != 404:
            raise
        try:
            ext.create_custom_resource_definition(CRD)
        except ApiException as race:   # another pytest-xdist worker created it first
            if race.status != 409:
                raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        crd = ext.read_custom_resource_definition(CRD_NAME)
        if any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"{CRD_NAME} not Established after 60 s")
    yield api
    api.close()


@pytest.fixture
def namespace(k8s):
    core = client.CoreV1Api(k8s)
    name = f"canary-it-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "mss-canary-tests"}}})
    yield name
    core.delete_namespace(name)


def _custom(k8s):
    return client.CustomObjectsApi(k8s)


def create_vs(k8s, namespace, version="v1"):
    body = virtual_service(api_version=f"networking.istio.io/{version}", namespace=namespace)
    return _custom(k8s).create_namespaced_custom_object("networking.istio.io", version, namespace,
                                                        "virtualservices", body)


def read_vs(k8s, namespace, version="v1"):
    return _custom(k8s).get_namespaced_custom_object("networking.istio.io", version, namespace,
                                                     "virtualservices", "mss-frontend")


def run_module(tmp_path, **args):
    """Run the module file directly (no controller), the way Ansible would on the target."""
    full = {"kubeconfig": str(KUBECONFIG), "name": "mss-frontend", "route": "primary",
            "stable": {"host": "mss-frontend", "subset": "v1"}, "canary": {"host": "mss-frontend", "subset": "v2"}}
    full.update(args)
    full = {k: v for k, v in full.items() if v is not None}   # None = option not given
    args_file = tmp_path / f"args-{uuid.uuid4().hex[:6]}.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": full}))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "collections"), TMPDIR=str(tmp_path))
    for key in [k for k in env if k.startswith("K8S_AUTH_")]:
        del env[key]
    out = subprocess.run([sys.executable, "-m", "ansible_collections.mss.platform.plugins.modules.canary_weight",
                          str(args_file)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                         check=False)
    try:
        return json.loads(out.stdout)
    except ValueError:
        pytest.fail(f"module printed no JSON: rc={out.returncode} stdout={out.stdout!r} stderr={out.stderr!r}")


def comparable(obj):
    """Everything but the primary route's weights and server-managed metadata."""
    return without_weights(obj)


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_module_changes_only_the_weights(k8s, namespace, tmp_path, version):
    before = create_vs(k8s, namespace, version)
    api_version = f"networking.istio.io/{version}"
    result = run_module(tmp_path, namespace=namespace, api_version=api_version, weight=25, _ansible_diff=True)
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["weights"] == {"stable": 75, "canary": 25}
    after = read_vs(k8s, namespace, version)
    assert primary_weights(after) == [75, 25]
    assert comparable(after) == comparable(before)
    assert after["spec"]["http"][0] == HEADER_ROUTE
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert result["resource_version"] == after["metadata"]["resourceVersion"]
    assert result["diff"]["before"]["route"][1]["weight"] == 0 and result["diff"]["after"]["route"][1]["weight"] == 25

    again = run_module(tmp_path, namespace=namespace, api_version=api_version, weight=25)
    assert again["changed"] is False
    assert read_vs(k8s, namespace, version)["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]


def test_module_writes_under_its_own_field_manager(k8s, namespace, tmp_path):
    """The API server records the module's write in managedFields under the module's name."""
    before = create_vs(k8s, namespace)
    creators = {f["manager"] for f in before["metadata"]["managedFields"]}
    assert "mss.platform.canary_weight" not in creators
    result = run_module(tmp_path, namespace=namespace, weight=30)
    assert result["changed"] is True, result
    after = read_vs(k8s, namespace)
    ours = [f for f in after["metadata"]["managedFields"] if f["manager"] == "mss.platform.canary_weight"]
    assert len(ours) == 1, after["metadata"]["managedFields"]
    assert ours[0]["operation"] == "Update" and ours[0]["apiVersion"] == "networking.istio.io/v1"
    assert "f:spec" in ours[0]["fieldsV1"]
    # nobody else is credited with the write: the other entries are the creator's, unchanged
    others = {f["manager"] for f in after["metadata"]["managedFields"]} - {"mss.platform.canary_weight"}
    assert others <= creators


def test_module_error_prints_ports_as_numbers(k8s, namespace, tmp_path):
    """A host-based route with ports: the refusal names its destinations as host:port, never a dict."""
    body = virtual_service(namespace=namespace)
    body["spec"]["http"] = [{"name": "primary", "route": [
        {"destination": {"host": "mss-frontend-stable", "port": {"number": 80}}, "weight": 100},
        {"destination": {"host": "mss-frontend-canary", "port": {"number": 80}}, "weight": 0}]}]
    _custom(k8s).create_namespaced_custom_object("networking.istio.io", "v1", namespace, "virtualservices", body)
    result = run_module(tmp_path, namespace=namespace, weight=10, stable={"host": "mss-frontend-stable"},
                        canary={"host": "mss-frontend-next", "port": 80})
    assert result.get("failed") is True, result
    assert "its destinations: mss-frontend-stable:80, mss-frontend-canary:80" in result["msg"], result["msg"]
    assert "{" not in result["msg"]


def test_module_check_mode_leaves_the_object(k8s, namespace, tmp_path):
    before = create_vs(k8s, namespace)
    result = run_module(tmp_path, namespace=namespace, weight=50, _ansible_check_mode=True)
    assert result["changed"] is True and result["weights"] == {"stable": 50, "canary": 50}
    after = read_vs(k8s, namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"]


def test_module_errors_write_nothing(k8s, namespace, tmp_path):
    before = create_vs(k8s, namespace)
    cases = [
        ({"route": "nope"}, "no http route named 'nope'"),
        ({"route": None}, "neither route nor route_index"),
        ({"stable": {"host": "mss-frontend"}}, "matches 2 entries"),
        ({"canary": {"host": "mss-frontend", "subset": "v9"}},
         "canary destination mss-frontend/v9 is not in the route"),
        ({"name": "absent"}, "does not exist"),
    ]
    for args, message in cases:
        result = run_module(tmp_path, **{"namespace": namespace, "weight": 10, **args})
        assert result.get("failed") is True, (args, result)
        assert message in result["msg"], (args, result["msg"])
    after = read_vs(k8s, namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_module_retries_a_real_conflict(k8s, namespace, tmp_path, monkeypatch):
    """A real 409: the object is modified between the module's read and its replace."""
    create_vs(k8s, namespace)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))   # kubernetes.core's discovery cache goes there
    k8s_client = get_api_client(kubeconfig=str(KUBECONFIG))
    vs_client = canary.VirtualServiceClient(k8s_client, "networking.istio.io/v1")
    original_read = vs_client.read
    reads = {"n": 0}

    def read_then_race(ns, name):
        obj = original_read(ns, name)
        reads["n"] += 1
        if reads["n"] == 1:   # someone else writes right after our first read
            other = copy.deepcopy(obj)
            other["metadata"].setdefault("annotations", {})["touched-by"] = "someone-else"
            _custom(k8s).replace_namespaced_custom_object("networking.istio.io", "v1", ns, "virtualservices",
                                                          name, other)
        return obj

    vs_client.read = read_then_race
    plan = canary.set_weights(vs_client, namespace, "mss-frontend",
                              {"host": "mss-frontend", "subset": "v1", "port": None},
                              {"host": "mss-frontend", "subset": "v2", "port": None}, 40, route_name="primary")
    assert plan["conflicts"] == 1 and reads["n"] == 2
    after = read_vs(k8s, namespace)
    assert primary_weights(after) == [60, 40]
    assert after["metadata"]["annotations"] == {"touched-by": "someone-else"}


def test_playbook_promotes_then_rolls_back_on_the_cluster(k8s, namespace, tmp_path, fake_prom):
    before = create_vs(k8s, namespace)
    fake_prom.answers = {"success": "99.9"}
    data = base_vars(KUBECONFIG, canary_namespace=namespace, canary_prometheus_url=fake_prom.url,
                     canary_prometheus_gates=[{"name": "request-success-rate", "query": "success", "op": ">=",
                                               "threshold": 99}])
    out = run_playbook(tmp_path, data)
    assert out.returncode == 0, out.stdout + out.stderr
    after = read_vs(k8s, namespace)
    assert primary_weights(after) == [0, 100]
    assert comparable(after) == comparable(before)

    # second rollout of a bad canary: the gate fails at the first step, the route goes back to 0 %
    fake_prom.answers = {"success": "42"}
    out = run_playbook(tmp_path, data)
    assert out.returncode != 0
    assert "gate request-success-rate (prometheus) failed at step 10 %" in out.stdout
    after = read_vs(k8s, namespace)
    assert primary_weights(after) == [100, 0]
    assert comparable(after) == comparable(before)
    assert after["spec"]["http"][0] == HEADER_ROUTE
