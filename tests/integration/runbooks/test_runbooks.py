"""The runbooks (playbooks/{config_update,rollback,scale,blue_green,debug_bundle,status}.yml) against the simulated
cluster: real Deployments, ReplicaSet revisions, Services and EndpointSlices managed by the real
controller-manager; kwok marks the Pods Ready without running containers (so logs are empty).

The tests share one namespace (deployed once, for time) but none depends on another's result or on file order:
each reads the state it starts from (current revision, image) and asserts relative to it, and each test that
needs a sequence (bad rollout -> undo -> revision N; failed blue-green -> good blue-green) is one test.
"""

from __future__ import annotations

import json
import tarfile
import time
import uuid

import pytest
from kubernetes import client

REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture(scope="module")
def namespace(run_playbook, api_client, tmp_path_factory, delete_namespace, k8s_module_defaults):
    """Deploy the app role (2 replicas each, no NetworkPolicies) into a fresh namespace."""
    ns = f"rb-it-{uuid.uuid4().hex[:6]}"
    playbook = tmp_path_factory.mktemp("rb") / "app.yml"
    playbook.write_text(json.dumps([{"name": "Deploy the app", "hosts": "k8s_control", "gather_facts": False,
                                     "module_defaults": k8s_module_defaults,
                                     "roles": [{"role": "mss.platform.app"}]}]))
    run = run_playbook(playbook, {
        "app_namespace": ns, "app_frontend_image": "mss/frontend:1.0.0", "app_api_image": "mss/api:1.0.0",
        "app_frontend_replicas": 2, "app_api_replicas": 2, "app_hpa_min_replicas": 2, "app_hpa_max_replicas": 5,
        "app_pdb_min_available": 1, "app_network_policies_enabled": False, "app_wait_timeout": 240,
    })
    if run.rc != 0:
        delete_namespace(api_client, ns)
        pytest.fail(f"the app role failed:\n{run.tail()}")
    yield ns
    delete_namespace(api_client, ns)


def apps(api_client):
    return client.AppsV1Api(api_client)


def replicasets(api_client, ns, deployment):
    dep = apps(api_client).read_namespaced_deployment(deployment, ns)
    return {int(rs.metadata.annotations[REVISION]): rs
            for rs in apps(api_client).list_namespaced_replica_set(ns).items
            if any(o.uid == dep.metadata.uid for o in rs.metadata.owner_references or [])}


def current(api_client, ns, deployment):
    """(revision, ReplicaSet) the Deployment runs now."""
    dep = apps(api_client).read_namespaced_deployment(deployment, ns)
    rev = int(dep.metadata.annotations[REVISION])
    return rev, replicasets(api_client, ns, deployment)[rev]


def assert_rolled_out(api_client, ns, deployment):
    dep = apps(api_client).read_namespaced_deployment(deployment, ns)
    st = dep.status
    assert st.observed_generation >= dep.metadata.generation
    assert st.updated_replicas == st.ready_replicas == st.available_replicas == dep.spec.replicas, st


def test_config_update_rolls_a_new_replicaset(run_playbook, api_client, namespace):
    before, _ = current(api_client, namespace, "mss-api")
    run = run_playbook("config_update.yml", {"app_namespace": namespace,
                                             "app_config_update_data": {"LOG_LEVEL": "debug"},
                                             "app_config_update_deployments": ["mss-api"]})
    assert run.rc == 0, run.tail()
    cm = client.CoreV1Api(api_client).read_namespaced_config_map("mss-app-config", namespace)
    assert cm.data["LOG_LEVEL"] == "debug"
    after, rs = current(api_client, namespace, "mss-api")
    assert after == before + 1
    assert "kubectl.kubernetes.io/restartedAt" in rs.spec.template.metadata.annotations
    assert_rolled_out(api_client, namespace, "mss-api")  # the playbook waited for completion
    again = run_playbook("config_update.yml", {"app_namespace": namespace,
                                               "app_config_update_data": {"LOG_LEVEL": "debug"},
                                               "app_config_update_deployments": ["mss-api"]})
    assert again.rc == 0 and again.changed == 0, again.tail()
    assert current(api_client, namespace, "mss-api")[0] == after


def test_rollback_to_the_previous_revision_then_to_revision_n(run_playbook, api_client, namespace):
    """One test, so that it depends on no other: a bad image rolled out, undone (the previous revision), then
    revision N (the bad one) chosen explicitly, and an unknown revision refused with nothing changed."""
    rev_before, rs_before = current(api_client, namespace, "mss-api")
    good_image = rs_before.spec.template.spec.containers[0].image
    bad_image = f"mss/api:bad-{uuid.uuid4().hex[:6]}"
    dep = apps(api_client).read_namespaced_deployment("mss-api", namespace)
    dep.spec.template.spec.containers[0].image = bad_image
    apps(api_client).replace_namespaced_deployment("mss-api", namespace, dep)
    deadline = time.monotonic() + 120
    while current(api_client, namespace, "mss-api")[0] == rev_before and time.monotonic() < deadline:
        time.sleep(1)
    rev_bad, rs_bad = current(api_client, namespace, "mss-api")
    assert rev_bad == rev_before + 1 and rs_bad.spec.template.spec.containers[0].image == bad_image

    history = run_playbook("rollback.yml", {"app_namespace": namespace, "app_rollback_deployment": "mss-api",
                                            "app_rollback_history_only": True})
    assert history.rc == 0 and history.changed == 0, history.tail()
    assert f"revision {rev_bad} (current)" in history.output

    run = run_playbook("rollback.yml", {"app_namespace": namespace, "app_rollback_deployment": "mss-api"})
    assert run.rc == 0, run.tail()
    rev_now, rs_now = current(api_client, namespace, "mss-api")
    # Like `kubectl rollout undo`: the old ReplicaSet is reused and becomes the newest revision.
    assert rs_now.metadata.name == rs_before.metadata.name
    assert rev_now == rev_bad + 1
    assert rs_now.spec.template.spec.containers[0].image == good_image
    assert_rolled_out(api_client, namespace, "mss-api")

    revisions = replicasets(api_client, namespace, "mss-api")
    bad = next(r for r, rs in revisions.items() if rs.spec.template.spec.containers[0].image == bad_image)
    run = run_playbook("rollback.yml", {"app_namespace": namespace, "app_rollback_deployment": "mss-api",
                                        "app_rollback_to_revision": bad})
    assert run.rc == 0, run.tail()
    _, rs = current(api_client, namespace, "mss-api")
    assert rs.spec.template.spec.containers[0].image == bad_image
    missing = run_playbook("rollback.yml", {"app_namespace": namespace, "app_rollback_deployment": "mss-api",
                                            "app_rollback_to_revision": 999})
    assert missing.rc != 0 and "No revision 999" in missing.output
    unchanged = current(api_client, namespace, "mss-api")[1]
    assert unchanged.metadata.name == rs.metadata.name


def test_scale_waits_for_ready_replicas(run_playbook, api_client, namespace):
    run = run_playbook("scale.yml", {"app_namespace": namespace, "app_scale_deployment": "mss-api",
                                     "app_scale_replicas": 4})
    assert run.rc == 0, run.tail()
    dep = apps(api_client).read_namespaced_deployment("mss-api", namespace)
    assert dep.spec.replicas == 4 and dep.status.ready_replicas == 4
    refused = run_playbook("scale.yml", {"app_namespace": namespace, "app_scale_deployment": "mss-api",
                                         "app_scale_replicas": 9})
    assert refused.rc != 0 and "app_scale_adjust_hpa=true" in refused.output
    assert apps(api_client).read_namespaced_deployment("mss-api", namespace).spec.replicas == 4


def endpoint_pods(api_client, ns, service):
    slices = client.DiscoveryV1Api(api_client).list_namespaced_endpoint_slice(
        ns, label_selector=f"kubernetes.io/service-name={service}").items
    return sorted(e.target_ref.name for s in slices for e in (s.endpoints or []) if e.target_ref)


def test_blue_green_switches_back_on_failure_then_moves_to_green(run_playbook, api_client, namespace):
    """One test, so that it depends on no other: a forced failure switches the Service back to blue, then a
    good release moves the endpoints to green and removes blue."""
    run = run_playbook("blue_green.yml", {"app_namespace": namespace, "app_blue_green_service": "mss-frontend",
                                          "app_blue_green_image": "mss/frontend:2.0.0",
                                          "app_blue_green_force_failure": True})
    assert run.rc != 0 and "Switch the Service back to blue" in run.output, run.tail()
    svc = client.CoreV1Api(api_client).read_namespaced_service("mss-frontend", namespace)
    assert svc.spec.selector["color"] == "blue"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods = endpoint_pods(api_client, namespace, "mss-frontend")
        if pods and all(not p.startswith("mss-frontend-green-") for p in pods):
            break
        time.sleep(1)
    assert pods and all(not p.startswith("mss-frontend-green-") for p in pods), pods

    run = run_playbook("blue_green.yml", {"app_namespace": namespace, "app_blue_green_service": "mss-frontend",
                                          "app_blue_green_image": "mss/frontend:2.0.0",
                                          "app_blue_green_remove_old": True})
    assert run.rc == 0, run.tail()
    svc = client.CoreV1Api(api_client).read_namespaced_service("mss-frontend", namespace)
    assert svc.spec.selector["color"] == "green"
    pods = endpoint_pods(api_client, namespace, "mss-frontend")
    assert len(pods) == 2 and all(p.startswith("mss-frontend-green-") for p in pods), pods
    green = apps(api_client).read_namespaced_deployment("mss-frontend-green", namespace)
    assert green.spec.template.spec.containers[0].image == "mss/frontend:2.0.0"
    names = [d.metadata.name for d in apps(api_client).list_namespaced_deployment(namespace).items]
    assert "mss-frontend" not in names  # blue removed on request


def test_debug_bundle_is_one_archive(run_playbook, namespace, tmp_path):
    dest = tmp_path / "bundle.tar.gz"
    run = run_playbook("debug_bundle.yml", {"app_namespace": namespace, "app_debug_bundle_dest": str(dest)})
    assert run.rc == 0, run.tail()
    with tarfile.open(dest, "r:gz") as tar:
        names = tar.getnames()
        assert "objects/Deployment.yaml" in names and "events.txt" in names
        assert any(n.startswith("describe/Pod-mss-api-") for n in names)
        logs = [n for n in names if n.startswith("logs/") and n.endswith(".log")]
        assert logs, names
        text = tar.extractfile(logs[0]).read().decode()
        assert text  # kwok Pods write nothing: the file says why
        assert not any("Secret" in n for n in names)


def test_status_reports_every_deployment_with_its_ready_replicas(run_playbook, api_client, namespace):
    """playbooks/status.yml's Kubernetes play (the app role's `status` entry point): read-only, one line listing
    every Deployment of the namespace with the ready replicas the API server reports."""
    run = run_playbook("status.yml", {"app_namespace": namespace})
    assert run.rc == 0, run.tail()
    assert run.changed == 0, run.tail()
    expected = ", ".join(f"{d.metadata.name} ready={d.status.ready_replicas or 0}"
                         for d in apps(api_client).list_namespaced_deployment(namespace).items)
    # The YAML result format may fold a long message: compare with whitespace collapsed.
    assert expected and f"k8s {expected}" in " ".join(run.output.split()), run.tail()
