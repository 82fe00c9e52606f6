"""mss.platform.app applied with ansible-playbook to the simulated cluster: real API objects, idempotent.

kwok marks Pods Running/Ready without running containers, so probes and NetworkPolicies are accepted and stored
by the API server but not exercised (there is no kubelet and no CNI). See tests/k8s-sim/README.md.
"""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

SECRET_VALUE = f"not-logged-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def applied(run_playbook, api_client):
    """Apply the role twice to a fresh namespace; yield (namespace, first run, second run)."""
    namespace = f"app-it-{uuid.uuid4().hex[:6]}"
    role_vars = {
        "app_namespace": namespace,
        "app_frontend_image": "mss/frontend:1.0.0",
        "app_api_image": "mss/api:1.0.0",
        "app_config": {
            "NODE_ENV": "production",
            "API_URL": f"http://mss-api.{namespace}.svc",
        },
        "app_secrets": {"DATABASE_PASSWORD": SECRET_VALUE},
        "app_api_egress": [{"cidr": "10.20.0.0/24", "ports": [5432, 6379]}],
        "app_wait_timeout": 120,
    }
    first = run_playbook(role_vars, "first")
    second = run_playbook(role_vars, "second")
    check = run_playbook(role_vars, "check", "--check", "--diff")
    yield namespace, first, second, role_vars, check
    try:
        client.CoreV1Api(api_client).delete_namespace(namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise


def test_role_converges_and_is_idempotent(applied):
    _, first, second, *_ = applied
    assert first.rc == 0, first.output[-4000:]
    assert first.changed > 0
    assert second.rc == 0, second.output[-4000:]
    assert second.changed == 0, f"second run changed {second.changed} tasks:\n{second.output[-4000:]}"


def test_secret_values_are_never_logged(applied):
    _, first, second, *_ = applied
    assert SECRET_VALUE not in first.output
    assert SECRET_VALUE not in second.output


def test_namespace_enforces_restricted_pod_security(applied, api_client):
    namespace = applied[0]
    labels = client.CoreV1Api(api_client).read_namespace(namespace).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_privileged_pod_is_rejected_in_the_app_namespace(applied, api_client):
    """The API server itself (Pod Security admission) refuses a privileged Pod in the role's namespace."""
    namespace = applied[0]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged-probe"},
        "spec": {"containers": [{"name": "c", "image": "mss/debug:1", "securityContext": {"privileged": True}}]},
    }
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(api_client).create_namespaced_pod(namespace, pod)
    assert refused.value.status == 403
    assert "privileged" in refused.value.body
    assert "restricted" in refused.value.body


def test_deployments_are_available_and_hardened(applied, api_client):
    namespace = applied[0]
    apps = client.AppsV1Api(api_client)
    for name in ("mss-frontend", "mss-api"):
        d = apps.read_namespaced_deployment(name, namespace)
        assert d.spec.replicas == 3
        assert d.status.available_replicas == 3 and d.status.updated_replicas == 3
        assert d.spec.strategy.type == "RollingUpdate"
        assert d.spec.strategy.rolling_update.max_unavailable == 0
        pod = d.spec.template.spec
        assert pod.security_context.run_as_non_root is True
        assert pod.security_context.seccomp_profile.type == "RuntimeDefault"
        assert pod.automount_service_account_token is False
        (container,) = pod.containers
        sc = container.security_context
        assert sc.read_only_root_filesystem is True
        assert sc.allow_privilege_escalation is False
        assert sc.capabilities.drop == ["ALL"]
        assert container.liveness_probe.http_get.port == "http"
        assert container.readiness_probe.http_get.port == "http"
        assert container.startup_probe is not None
        assert container.resources.requests and container.resources.limits
        assert {e.config_map_ref.name for e in container.env_from if e.config_map_ref} == {"mss-app-config"}
        assert {e.secret_ref.name for e in container.env_from if e.secret_ref} == {"mss-app-secrets"}


def test_services_have_ready_endpoints(applied, api_client):
    namespace = applied[0]
    discovery = client.DiscoveryV1Api(api_client)
    for name in ("mss-frontend", "mss-api"):
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector=f"kubernetes.io/service-name={name}"
        ).items
        ready = [e for s in slices for e in s.endpoints or [] if e.conditions.ready]
        assert len(ready) == 3, f"{name}: {len(ready)} ready endpoints"


def test_hpa_pdb_and_network_policies(applied, api_client):
    namespace = applied[0]
    for name in ("mss-frontend", "mss-api"):
        hpa = client.AutoscalingV2Api(api_client).read_namespaced_horizontal_pod_autoscaler(name, namespace)
        assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (3, 10)
        targets = {m.resource.name: m.resource.target.average_utilization for m in hpa.spec.metrics}
        assert targets == {"cpu": 70, "memory": 80}
        pdb = client.PolicyV1Api(api_client).read_namespaced_pod_disruption_budget(name, namespace)
        assert pdb.spec.min_available == 2
    policies = {
        p.metadata.name: p for p in client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items
    }
    assert set(policies) == {
        "default-deny-all",
        "allow-dns-egress",
        "mss-frontend-ingress",
        "mss-frontend-egress-to-api",
        "mss-api-ingress",
        "mss-api-egress-datastores",
    }
    deny = policies["default-deny-all"].spec
    assert deny.pod_selector.match_labels is None and sorted(deny.policy_types) == [
        "Egress",
        "Ingress",
    ]
    assert not deny.ingress and not deny.egress
    egress = policies["mss-api-egress-datastores"].spec.egress[0]
    assert egress.to[0].ip_block.cidr == "10.20.0.0/24"
    assert sorted(p.port for p in egress.ports) == [5432, 6379]


def test_config_and_secret(applied, api_client):
    namespace, *_ = applied
    core = client.CoreV1Api(api_client)
    cm = core.read_namespaced_config_map("mss-app-config", namespace)
    assert cm.data["NODE_ENV"] == "production"
    secret = core.read_namespaced_secret("mss-app-secrets", namespace)
    assert set(secret.data) == {"DATABASE_PASSWORD"}


def test_invalid_settings_fail_before_touching_the_cluster(run_playbook, api_client):
    namespace = f"app-bad-{uuid.uuid4().hex[:6]}"
    run = run_playbook(
        {
            "app_namespace": namespace,
            "app_hpa_min_replicas": 5,
            "app_hpa_max_replicas": 3,
        },
        "bad",
    )
    assert run.rc != 0
    assert "Invalid app settings" in run.output
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api_client).read_namespace(namespace)
    assert err.value.status == 404


def test_check_mode_after_apply_reports_no_change(applied):
    check = applied[4]
    assert check.rc == 0, check.output[-4000:]
    assert check.changed == 0, check.output[-4000:]
    assert SECRET_VALUE not in check.output


def test_check_mode_on_a_new_namespace_creates_nothing(run_playbook, api_client):
    namespace = f"app-check-{uuid.uuid4().hex[:6]}"
    run = run_playbook({"app_namespace": namespace}, "check-new", "--check")
    assert run.rc == 0, run.output[-4000:]
    assert run.changed > 0, "check mode reports what it would create"
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api_client).read_namespace(namespace)
    assert err.value.status == 404


def test_disabling_hpa_and_network_policies_removes_them(applied, run_playbook, api_client):
    """Runs last in this module: it changes the namespace the other tests read."""
    namespace, _, _, role_vars, _ = applied
    run = run_playbook({**role_vars, "app_hpa_enabled": False, "app_network_policies_enabled": False}, "disable")
    assert run.rc == 0, run.output[-4000:]
    assert client.AutoscalingV2Api(api_client).list_namespaced_horizontal_pod_autoscaler(namespace).items == []
    assert client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items == []
    deployment = client.AppsV1Api(api_client).read_namespaced_deployment("mss-api", namespace)
    assert deployment.spec.replicas == 3, "the replica count is kept when the HPA goes away"
