"""The simulated cluster behaves like Kubernetes where our roles depend on it.

Real kube-apiserver / kube-controller-manager / kube-scheduler / etcd; kwok plays the kubelets, so Pods are
scheduled and marked Running/Ready but no container runs (no image is pulled, probes are not executed).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from k8s_sim_helpers import wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException

RESTRICTED_POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
REVISION = "deployment.kubernetes.io/revision"


def deployment(name: str, image: str, replicas: int = 3, **pod_spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": RESTRICTED_POD_SECURITY,
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"memory": "128Mi"},
                            },
                            "securityContext": RESTRICTED_CONTAINER_SECURITY,
                        }
                    ],
                    **pod_spec,
                },
            },
        },
    }


def rolled_out(apps: client.AppsV1Api, namespace: str, name: str) -> client.V1Deployment | None:
    """The Deployment when its latest template is fully rolled out and Available, else None."""
    d = apps.read_namespaced_deployment(name, namespace)
    s, want = d.status, d.spec.replicas
    done = (
        (s.observed_generation or 0) >= d.metadata.generation
        and s.updated_replicas == want
        and s.available_replicas == want
        and s.replicas == want
        and any(c.type == "Available" and c.status == "True" for c in s.conditions or [])
    )
    return d if done else None


def ready_pods(core: client.CoreV1Api, namespace: str, app: str) -> list[client.V1Pod]:
    pods = core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    return [
        p
        for p in pods
        if p.metadata.deletion_timestamp is None
        and p.status.phase == "Running"
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    ]


def replica_sets_by_revision(apps: client.AppsV1Api, namespace: str, app: str) -> dict[str, client.V1ReplicaSet]:
    rss = apps.list_namespaced_replica_set(namespace, label_selector=f"app={app}").items
    return {rs.metadata.annotations[REVISION]: rs for rs in rss}


def test_deployment_rollout_new_revision_and_undo(api_client, namespace, kubectl):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", "mss/web:1.0"))

    d = wait_for(
        "web to become Available with 3 replicas",
        lambda: rolled_out(apps, namespace, "web"),
    )
    assert d.metadata.annotations[REVISION] == "1"
    pods = ready_pods(core, namespace, "web")
    assert len(pods) == 3
    assert all(p.spec.node_name for p in pods), "every Pod was bound to a (fake) node by the scheduler"

    apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "mss/web:1.1"}]}}}},
    )
    d = wait_for("the rollout of mss/web:1.1", lambda: rolled_out(apps, namespace, "web"))
    assert d.metadata.annotations[REVISION] == "2"
    rss = replica_sets_by_revision(apps, namespace, "web")
    assert set(rss) == {"1", "2"}
    assert rss["2"].spec.template.spec.containers[0].image == "mss/web:1.1"
    assert rss["2"].status.ready_replicas == 3
    assert rss["1"].spec.replicas == 0, "the old ReplicaSet is scaled down, kept for rollback"
    images = {p.spec.containers[0].image for p in ready_pods(core, namespace, "web")}
    assert images == {"mss/web:1.1"}

    kubectl("-n", namespace, "rollout", "undo", "deployment/web")
    d = wait_for(
        "the rollback to mss/web:1.0",
        lambda: (x := rolled_out(apps, namespace, "web")) and x.metadata.annotations[REVISION] == "3" and x,
    )
    assert d.spec.template.spec.containers[0].image == "mss/web:1.0"
    rss = replica_sets_by_revision(apps, namespace, "web")
    assert set(rss) == {"2", "3"}, "undo re-uses the first ReplicaSet under a new revision"
    assert rss["3"].spec.template.spec.containers[0].image == "mss/web:1.0"
    assert rss["2"].spec.replicas == 0
    images = wait_for(
        "only mss/web:1.0 Pods left",
        lambda: (
            (i := {p.spec.containers[0].image for p in ready_pods(core, namespace, "web")}) == {"mss/web:1.0"} and i
        ),
    )
    assert images == {"mss/web:1.0"}
    history = kubectl("-n", namespace, "rollout", "history", "deployment/web").stdout
    assert "2" in history and "3" in history


def test_service_gets_endpoints_for_ready_pods(api_client, namespace):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("echo", "mss/echo:1.0"))
    core.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo"},
            "spec": {
                "selector": {"app": "echo"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    )
    wait_for("echo to become Available", lambda: rolled_out(apps, namespace, "echo"))
    pod_ips = {p.status.pod_ip for p in ready_pods(core, namespace, "echo")}
    assert len(pod_ips) == 3 and None not in pod_ips, "kwok gives every Ready Pod an IP"

    def slice_ips() -> set[str] | None:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=echo"
        ).items
        ips = {a for s in slices for e in s.endpoints or [] if e.conditions and e.conditions.ready for a in e.addresses}
        return ips if ips == pod_ips else None

    wait_for("EndpointSlices listing the 3 Ready Pods", slice_ips)
    slices = discovery.list_namespaced_endpoint_slice(namespace, label_selector="kubernetes.io/service-name=echo")
    ports = {(p.name, p.port) for s in slices.items for p in s.ports or []}
    assert ports == {("http", 8080)}, "the named targetPort is resolved to the container port"

    def endpoint_ips() -> set[str] | None:
        ep = core.read_namespaced_endpoints("echo", namespace)
        ips = {a.ip for s in ep.subsets or [] for a in s.addresses or []}
        return ips if ips == pod_ips else None

    wait_for("the (legacy) Endpoints object to list the 3 Pods", endpoint_ips)


def test_pod_security_admission_restricted_rejects_privileged_pod(api_client):
    core = client.CoreV1Api(api_client)
    name = f"t-psa-restricted-{uuid.uuid4().hex[:6]}"
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    try:
        privileged = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "privileged"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "mss/debian:bookworm",
                        "securityContext": {"privileged": True},
                    }
                ]
            },
        }
        with pytest.raises(ApiException) as err:
            core.create_namespaced_pod(name, privileged)
        assert err.value.status == 403
        assert "violates PodSecurity" in err.value.body and "restricted" in err.value.body
        assert "privileged" in err.value.body

        compliant = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "compliant"},
            "spec": {
                "securityContext": RESTRICTED_POD_SECURITY,
                "containers": [
                    {
                        "name": "c",
                        "image": "mss/web:1.0",
                        "securityContext": RESTRICTED_CONTAINER_SECURITY,
                    }
                ],
            },
        }
        created = core.create_namespaced_pod(name, compliant, dry_run="All")
        assert created.metadata.name == "compliant"
    finally:
        core.delete_namespace(name)


def test_hpa_autoscaling_v2_is_accepted_and_enforces_min_replicas(api_client, namespace):
    apps = client.AppsV1Api(api_client)
    autoscaling = client.AutoscalingV2Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("api", "mss/api:1.0", replicas=1))
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api"},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "api",
            },
            "minReplicas": 3,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                },
            ],
        },
    }
    autoscaling.create_namespaced_horizontal_pod_autoscaler(namespace, hpa)
    got = autoscaling.read_namespaced_horizontal_pod_autoscaler("api", namespace)
    assert (got.spec.min_replicas, got.spec.max_replicas) == (3, 10)
    targets = {m.resource.name: m.resource.target.average_utilization for m in got.spec.metrics}
    assert targets == {"cpu": 70, "memory": 80}
    # kube-controller-manager's HPA controller acts on it: below minReplicas it scales up without any metrics
    # (there is no metrics-server here, so CPU/memory-driven scaling itself cannot happen).
    d = wait_for(
        "the HPA to scale api up to minReplicas",
        lambda: (x := rolled_out(apps, namespace, "api")) and x.spec.replicas == 3 and x,
    )
    assert d.status.available_replicas == 3


def test_topology_spread_uses_the_zone_labels_of_the_fake_nodes(api_client, namespace):
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    zones = {
        n.metadata.labels.get("topology.kubernetes.io/zone") for n in core.list_node(label_selector="type=kwok").items
    }
    zones.discard(None)
    if len(zones) < 3:
        pytest.skip(f"needs fake nodes in 3 zones, found {sorted(zones)}")
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "spread"}},
        }
    ]
    apps.create_namespaced_deployment(namespace, deployment("spread", "mss/web:1.0", topologySpreadConstraints=spread))
    wait_for("spread to become Available", lambda: rolled_out(apps, namespace, "spread"))
    node_zone = {n.metadata.name: n.metadata.labels["topology.kubernetes.io/zone"] for n in core.list_node().items}
    used = [node_zone[p.spec.node_name] for p in ready_pods(core, namespace, "spread")]
    assert len(used) == 3 and len(set(used)) == 3, f"one Pod per zone expected, got {used}"
