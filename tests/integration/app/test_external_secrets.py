"""The app role with the External Secrets Operator's API present: an ExternalSecret instead of a Secret.

The simulated cluster has no operator (nothing would fetch from a store), so the test installs the
ExternalSecret CRD only and checks the object the role writes, that it writes no Secret itself, idempotence,
and that `always` without the operator fails before anything is created.
"""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

CRD_NAME = "externalsecrets.external-secrets.io"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CRD_NAME},
    "spec": {
        "group": "external-secrets.io",
        "scope": "Namespaced",
        "names": {"kind": "ExternalSecret", "plural": "externalsecrets", "singular": "externalsecret",
                  "listKind": "ExternalSecretList"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}
IMAGES = {"app_frontend_image": "mss/frontend:1.0.0", "app_api_image": "mss/api:1.0.0", "app_wait_timeout": 120}


@pytest.fixture(scope="module")
def eso_crd(api_client):
    ext = client.ApiextensionsV1Api(api_client)
    created = False
    try:
        ext.create_custom_resource_definition(CRD)
        created = True
    except ApiException as exc:
        if exc.status != 409:
            raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conditions = ext.read_custom_resource_definition(CRD_NAME).status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            break
        time.sleep(1)
    else:
        pytest.fail("the ExternalSecret CRD did not become Established")
    yield
    if created:
        ext.delete_custom_resource_definition(CRD_NAME)


def _delete_namespace(api_client, name):
    try:
        client.CoreV1Api(api_client).delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def test_external_secret_replaces_the_secret(eso_crd, run_playbook, api_client):
    namespace = f"app-eso-{uuid.uuid4().hex[:6]}"
    role_vars = {
        **IMAGES,
        "app_namespace": namespace,
        "app_secrets": {"UNUSED": "must-not-be-written"},
        "app_external_secret_store": {"name": "vault-backend", "kind": "ClusterSecretStore"},
        "app_external_secret_data": {"DATABASE_PASSWORD": {"key": "mss/db", "property": "password"},
                                     "REDIS_PASSWORD": {"key": "mss/redis"}},
    }
    try:
        first = run_playbook(role_vars, "eso-first")
        assert first.rc == 0, first.output[-4000:]
        second = run_playbook(role_vars, "eso-second")
        assert second.rc == 0 and second.changed == 0, second.output[-4000:]

        obj = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            "external-secrets.io", "v1", namespace, "externalsecrets", "mss-app-secrets")
        spec = obj["spec"]
        assert spec["secretStoreRef"] == {"name": "vault-backend", "kind": "ClusterSecretStore"}
        assert spec["target"] == {"name": "mss-app-secrets", "creationPolicy": "Owner"}
        assert spec["data"] == [
            {"secretKey": "DATABASE_PASSWORD", "remoteRef": {"key": "mss/db", "property": "password"}},
            {"secretKey": "REDIS_PASSWORD", "remoteRef": {"key": "mss/redis"}},
        ]
        with pytest.raises(ApiException) as missing:
            client.CoreV1Api(api_client).read_namespaced_secret("mss-app-secrets", namespace)
        assert missing.value.status == 404
        assert "must-not-be-written" not in first.output
    finally:
        _delete_namespace(api_client, namespace)


def test_always_without_the_operator_fails_before_any_change(run_playbook, api_client):
    namespace = f"app-eso-{uuid.uuid4().hex[:6]}"
    run = run_playbook({**IMAGES, "app_namespace": namespace, "app_external_secrets": "always",
                        "app_external_secret_api_version": "external-secrets.io/v9",
                        "app_external_secret_store": {"name": "vault-backend", "kind": "ClusterSecretStore"},
                        "app_external_secret_data": {"X": {"key": "k"}}}, "eso-always")
    assert run.rc != 0
    assert "ExternalSecret requested but not possible" in run.output
    with pytest.raises(ApiException) as missing:
        client.CoreV1Api(api_client).read_namespace(namespace)
    assert missing.value.status == 404
