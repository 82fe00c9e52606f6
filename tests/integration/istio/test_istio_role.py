"""mss.platform.istio (playbooks/istio.yml) applied to the simulated cluster: the Helm charts base/istiod/gateway
(pinned 1.30 chart directories of tests/k8s-sim), mTLS STRICT, the Gateway, VirtualServices and DestinationRules,
all accepted by the real API server with the CRDs of the base chart. Idempotent on the second run.

kwok marks the istiod and gateway Pods Ready without running them: nothing here proves that Envoy routes traffic
(see tests/k8s-sim/README.md). The local inventory leaves out the injection and validation webhooks, so the API
server never calls an istiod that does not exist.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from kubernetes import client

REPO = Path(__file__).resolve().parents[3]
CHARTS = REPO / ".cache" / "k8s-sim" / "charts" / "istio-1.30"
HELM = REPO / ".cache" / "k8s-sim" / "bin" / "helm"
GROUP = "networking.istio.io"


@pytest.fixture(scope="module")
def converged(run_playbook, api_client, delete_namespace):
    """Run playbooks/istio.yml twice, routing a fresh application namespace."""
    if not HELM.is_file() or not (CHARTS / "base" / "Chart.yaml").is_file():
        pytest.skip(f"helm or the Istio charts are missing under {HELM.parent.parent}: run tests/k8s-sim/build.sh")
    namespace = f"istio-it-{uuid.uuid4().hex[:6]}"
    extra = {"istio_app_namespace": namespace}
    first = run_playbook("istio.yml", extra)
    second = run_playbook("istio.yml", extra)
    yield namespace, first, second, extra
    delete_namespace(api_client, namespace)


def custom(api_client):
    return client.CustomObjectsApi(api_client)


def test_converges_and_is_idempotent(converged):
    _, first, second, _ = converged
    assert first.rc == 0, first.tail()
    assert second.rc == 0, second.tail()
    assert second.changed == 0, f"second run changed {second.changed} task(s):\n{second.tail()}"


def test_control_plane_deployments_ready(converged, api_client):
    apps = client.AppsV1Api(api_client)
    for ns, name in (("istio-system", "istiod"), ("istio-ingress", "istio-ingressgateway")):
        dep = apps.read_namespaced_deployment(name, ns)
        assert dep.status.ready_replicas == dep.spec.replicas, f"{ns}/{name}: {dep.status}"
    image = apps.read_namespaced_deployment("istiod", "istio-system").spec.template.spec.containers[0].image
    assert image == "docker.io/istio/pilot:1.30.0", image


def test_mesh_wide_mtls_strict(converged, api_client):
    pa = custom(api_client).get_namespaced_custom_object("security.istio.io", "v1", "istio-system",
                                                          "peerauthentications", "default")
    assert pa["spec"]["mtls"]["mode"] == "STRICT"


def test_namespace_labelled_for_injection(converged, api_client):
    namespace = converged[0]
    labels = client.CoreV1Api(api_client).read_namespace(namespace).metadata.labels
    assert labels.get("istio-injection") == "enabled"


def test_gateway_tls_and_redirect(converged, api_client):
    gw = custom(api_client).get_namespaced_custom_object(GROUP, "v1", "istio-ingress", "gateways", "mss-gateway")
    servers = {s["port"]["protocol"]: s for s in gw["spec"]["servers"]}
    assert servers["HTTPS"]["tls"] == {"mode": "SIMPLE", "credentialName": "mss-local-tls",
                                        "minProtocolVersion": "TLSV1_2"}
    assert servers["HTTP"]["tls"] == {"httpsRedirect": True}
    assert gw["spec"]["selector"] == {"istio": "ingressgateway"}


@pytest.mark.parametrize("workload", ["mss-frontend", "mss-api"])
def test_routes_and_subsets(converged, api_client, workload):
    namespace = converged[0]
    host = f"{workload}.{namespace}.svc.cluster.local"
    vs = custom(api_client).get_namespaced_custom_object(GROUP, "v1", namespace, "virtualservices", workload)
    routes = {r["name"]: r for r in vs["spec"]["http"]}
    assert list(routes) == ["canary-header", "primary"]
    assert routes["canary-header"]["match"] == [{"headers": {"canary": {"exact": "true"}}}]
    assert [d["destination"]["subset"] for d in routes["canary-header"]["route"]] == ["v2"]
    assert [(d["destination"]["host"], d["destination"]["subset"], d["weight"]) for d in routes["primary"]["route"]] \
        == [(workload, "v1", 100), (workload, "v2", 0)]
    assert vs["spec"]["hosts"][0] == host
    dr = custom(api_client).get_namespaced_custom_object(GROUP, "v1", namespace, "destinationrules", workload)
    assert dr["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL"
    assert [(s["name"], s["labels"]) for s in dr["spec"]["subsets"]] == [("v1", {"version": "v1"}),
                                                                        ("v2", {"version": "v2"})]
    assert ("mss-frontend" == workload) == ("istio-ingress/mss-gateway" in vs["spec"]["gateways"])


def test_weights_set_by_the_canary_are_kept(converged, api_client, run_playbook):
    """A re-run must not reset a canary in progress (weights changed on route "primary")."""
    namespace, _, _, extra = converged
    api = custom(api_client)
    vs = api.get_namespaced_custom_object(GROUP, "v1", namespace, "virtualservices", "mss-frontend")
    primary = next(r for r in vs["spec"]["http"] if r["name"] == "primary")
    primary["route"][0]["weight"], primary["route"][1]["weight"] = 70, 30
    api.replace_namespaced_custom_object(GROUP, "v1", namespace, "virtualservices", "mss-frontend", vs)
    rerun = run_playbook("istio.yml", extra, "--tags", "istio_preflight,istio_service")
    assert rerun.rc == 0, rerun.tail()
    assert rerun.changed == 0, rerun.tail()
    vs = api.get_namespaced_custom_object(GROUP, "v1", namespace, "virtualservices", "mss-frontend")
    primary = next(r for r in vs["spec"]["http"] if r["name"] == "primary")
    assert [d["weight"] for d in primary["route"]] == [70, 30]


def test_invalid_settings_refused(run_playbook, converged):
    bad = run_playbook("istio.yml", {**converged[3], "istio_mtls_mode": "DISABLE"}, "--tags", "istio_preflight")
    assert bad.rc != 0 and "istio_mtls_mode" in bad.output, bad.tail()
    bad = run_playbook("istio.yml", {**converged[3], "istio_tag": "latest"}, "--tags", "istio_preflight")
    assert bad.rc != 0 and "Invalid istio settings" in bad.output, bad.tail()


def test_base_component_alone(run_playbook, converged, api_client, delete_namespace):
    """istio_components [base]: the CRDs and every mesh object, no gateway release (and its namespace still made)."""
    suffix = uuid.uuid4().hex[:6]
    gateway_ns, app_ns = f"istio-gw-{suffix}", f"istio-base-{suffix}"
    extra = {"istio_app_namespace": app_ns, "istio_components": ["base"], "istio_gateway_namespace": gateway_ns,
             "istio_gateway_release": f"{gateway_ns}-gw"}
    try:
        run = run_playbook("istio.yml", extra)
        assert run.rc == 0, run.tail()
        assert not client.AppsV1Api(api_client).list_namespaced_deployment(gateway_ns).items
        assert not client.CoreV1Api(api_client).list_namespaced_secret(
            gateway_ns, label_selector="owner=helm").items, "a Helm release was installed in the gateway namespace"
        gateway = custom(api_client).get_namespaced_custom_object(GROUP, "v1", gateway_ns, "gateways", "mss-gateway")
        assert gateway["spec"]["servers"], gateway
        exposed = custom(api_client).get_namespaced_custom_object(GROUP, "v1", app_ns, "virtualservices",
                                                                  "mss-frontend")
        assert f"{gateway_ns}/mss-gateway" in exposed["spec"]["gateways"], exposed["spec"]
        bad = run_playbook("istio.yml", {**extra, "istio_components": ["base", "pilot"]}, "--tags", "istio_preflight")
        assert bad.rc != 0 and "istio_components" in bad.output, bad.tail()
    finally:
        delete_namespace(api_client, gateway_ns)
        delete_namespace(api_client, app_ns)


def test_deploy_app_runbook(converged, api_client, run_playbook):
    """playbooks/deploy_app.yml: the app role, then the routing (control plane untouched), idempotent."""
    namespace = converged[0]
    extra = {"app_namespace": namespace, "app_frontend_replicas": 2, "app_api_replicas": 2,
             "app_hpa_min_replicas": 2, "app_pdb_min_available": 1, "app_frontend_image": "mss/frontend:1.0.0",
             "app_api_image": "mss/api:1.0.0", "app_wait_timeout": 240}
    first = run_playbook("deploy_app.yml", extra)
    assert first.rc == 0, first.tail()
    assert "istio_install" not in first.output and "Install the Istio Helm releases" not in first.output
    second = run_playbook("deploy_app.yml", extra)
    assert second.rc == 0 and second.changed == 0, second.tail()
    labels = client.CoreV1Api(api_client).read_namespace(namespace).metadata.labels
    assert labels["istio-injection"] == "enabled" and labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for name in ("mss-frontend", "mss-api"):
        dep = client.AppsV1Api(api_client).read_namespaced_deployment(name, namespace)
        assert dep.status.ready_replicas == 2
        custom(api_client).get_namespaced_custom_object(GROUP, "v1", namespace, "virtualservices", name)


def test_canary_weight_module_drives_the_primary_route(converged, api_client, run_playbook, tmp_path,
                                                       k8s_module_defaults):
    """The canary helper's module finds route "primary" and its destinations in the VirtualService of this role.

    Its connection comes from the play's module_defaults on group/mss.platform.k8s (the module has no kubeconfig).
    """
    namespace = converged[0]
    playbook = tmp_path / "canary.yml"
    playbook.write_text(json.dumps([{
        "name": "Shift 25 % to v2", "hosts": "k8s_control", "gather_facts": False,
        "module_defaults": k8s_module_defaults,
        "tasks": [{"name": "Set the weight", "mss.platform.canary_weight": {
            "name": "mss-api", "namespace": namespace, "route": "primary",
            "stable": {"host": "mss-api", "subset": "v1"}, "canary": {"host": "mss-api", "subset": "v2"},
            "weight": 25}}],
    }]))
    run = run_playbook(playbook, {})
    assert run.rc == 0 and run.changed == 1, run.tail()
    vs = custom(api_client).get_namespaced_custom_object(GROUP, "v1", namespace, "virtualservices", "mss-api")
    routes = {r["name"]: r for r in vs["spec"]["http"]}
    assert [d["weight"] for d in routes["primary"]["route"]] == [75, 25]
    assert [d["destination"]["subset"] for d in routes["canary-header"]["route"]] == ["v2"]
