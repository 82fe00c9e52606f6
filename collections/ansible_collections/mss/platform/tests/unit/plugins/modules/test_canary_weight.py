# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary_weight against a fake kubernetes.core client: reads, replaces, 409s, check mode, diff, errors."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.mss.platform.plugins.modules import canary_weight
from ansible_collections.mss.platform.tests.unit.plugins.modules.utils import (
    AnsibleExitJson,
    AnsibleFailJson,
    patch_exit_fail,
    set_module_args,
)
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ConflictError, ForbiddenError, NotFoundError

HEADER_ROUTE = {
    "name": "canary-header",
    "match": [{"headers": {"canary": {"exact": "true"}}}],
    "route": [{"destination": {"host": "mss-frontend", "subset": "v2"}}],
}
PRIMARY_ROUTE = {
    "name": "primary",
    "match": [{"uri": {"prefix": "/"}}],
    "timeout": "5s",
    "route": [
        {"destination": {"host": "mss-frontend", "subset": "v1"}, "weight": 100},
        {"destination": {"host": "mss-frontend", "subset": "v2"}, "weight": 0},
    ],
}


def virtual_service(routes=None, rv="100"):
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "mss-frontend", "namespace": "mss", "resourceVersion": rv,
                     "labels": {"app": "mss-frontend"}},
        "spec": {"hosts": ["mss-frontend"], "gateways": ["mesh"],
                 "http": copy.deepcopy(routes if routes is not None else [HEADER_ROUTE, PRIMARY_ROUTE])},
    }


class FakeInstance:
    def __init__(self, obj):
        self._obj = copy.deepcopy(obj)

    def to_dict(self):
        return copy.deepcopy(self._obj)


class FakeK8SClient:
    """Stands in for kubernetes.core's K8SClient: an object store with resourceVersion checks."""

    def __init__(self, obj=None, conflicts=0, get_error=None, replace_error=None, known_kinds=True):
        self.obj = copy.deepcopy(obj) if obj is not None else None
        self.conflicts = conflicts          # number of replaces answered 409 (someone else writes meanwhile)
        self.get_error = get_error
        self.replace_error = replace_error
        self.known_kinds = known_kinds
        self.gets = 0
        self.replaces = []
        self.field_managers = []

    def resource(self, kind, api_version):
        if not self.known_kinds:
            raise LookupError(f"Failed to find exact match for {api_version}.{kind}")
        return (kind, api_version)

    def get(self, resource, name, namespace):
        self.gets += 1
        if self.get_error is not None:
            raise self.get_error
        if self.obj is None:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        return FakeInstance(self.obj)

    def replace(self, resource, definition, name, namespace, field_manager=None):
        self.replaces.append(copy.deepcopy(definition))
        self.field_managers.append(field_manager)
        if self.replace_error is not None:
            raise self.replace_error
        if self.conflicts > 0:
            self.conflicts -= 1
            # a concurrent writer bumps the object: a label changes, resourceVersion moves on
            self.obj["metadata"]["resourceVersion"] = str(int(self.obj["metadata"]["resourceVersion"]) + 1)
            self.obj["metadata"]["labels"]["touched"] = str(self.conflicts)
            raise ConflictError(ApiException(status=409, reason="Conflict"))
        assert definition["metadata"]["resourceVersion"] == self.obj["metadata"]["resourceVersion"]
        self.obj = copy.deepcopy(definition)
        self.obj["metadata"]["resourceVersion"] = str(int(self.obj["metadata"]["resourceVersion"]) + 1)
        return FakeInstance(self.obj)


def base_args(**kw):
    args = {
        "name": "mss-frontend",
        "namespace": "mss",
        "route": "primary",
        "stable": {"host": "mss-frontend", "subset": "v1"},
        "canary": {"host": "mss-frontend", "subset": "v2"},
        "weight": 10,
    }
    args.update(kw)
    return {k: v for k, v in args.items() if v is not None}  # None = option not given


def run(monkeypatch, fake, args):
    patch_exit_fail(monkeypatch)
    monkeypatch.setattr(canary_weight, "get_api_client", lambda module: fake)
    with set_module_args(args), pytest.raises((AnsibleExitJson, AnsibleFailJson)) as exc:
        canary_weight.main()
    return exc.value


def test_sets_weights_and_keeps_everything_else(monkeypatch):
    before = virtual_service()
    fake = FakeK8SClient(before)
    out = run(monkeypatch, fake, base_args())
    assert isinstance(out, AnsibleExitJson), out.result
    r = out.result
    assert r["changed"] is True
    assert r["weights"] == {"stable": 90, "canary": 10}
    assert r["previous_weights"] == {"stable": 100, "canary": 0}
    assert r["route"] == "primary" and r["route_index"] == 1
    assert r["conflicts"] == 0
    assert r["resource_version"] == "101"
    assert len(fake.replaces) == 1
    written = fake.replaces[0]
    assert written["metadata"]["resourceVersion"] == "100"  # optimistic concurrency: the read version
    expected = copy.deepcopy(before)
    expected["spec"]["http"][1]["route"][0]["weight"] = 90
    expected["spec"]["http"][1]["route"][1]["weight"] = 10
    assert written == expected  # the two weights and nothing else
    assert written["spec"]["http"][0] == HEADER_ROUTE


def test_idempotent_second_run_writes_nothing(monkeypatch):
    fake = FakeK8SClient(virtual_service())
    run(monkeypatch, fake, base_args(weight=25))
    out = run(monkeypatch, fake, base_args(weight=25))
    assert out.result["changed"] is False
    assert out.result["previous_weights"] == {"stable": 75, "canary": 25}
    assert len(fake.replaces) == 1


def test_missing_weight_fields_are_written_explicitly(monkeypatch):
    route = copy.deepcopy(PRIMARY_ROUTE)
    for entry in route["route"]:
        entry.pop("weight")
    fake = FakeK8SClient(virtual_service([route]))
    out = run(monkeypatch, fake, base_args(route=None, weight=0))
    assert out.result["changed"] is True
    assert out.result["previous_weights"] == {"stable": None, "canary": None}
    assert [e["weight"] for e in fake.obj["spec"]["http"][0]["route"]] == [100, 0]


def test_check_mode_makes_no_write_call(monkeypatch):
    fake = FakeK8SClient(virtual_service())
    out = run(monkeypatch, fake, base_args(weight=50, _ansible_check_mode=True))
    assert out.result["changed"] is True
    assert out.result["weights"] == {"stable": 50, "canary": 50}
    assert fake.replaces == []
    assert fake.obj == virtual_service()


def test_diff_shows_the_route_before_and_after(monkeypatch):
    fake = FakeK8SClient(virtual_service())
    out = run(monkeypatch, fake, base_args(weight=25, _ansible_diff=True, _ansible_check_mode=True))
    diff = out.result["diff"]
    assert diff["before"] == PRIMARY_ROUTE
    after = copy.deepcopy(PRIMARY_ROUTE)
    after["route"][0]["weight"] = 75
    after["route"][1]["weight"] = 25
    assert diff["after"] == after
    assert diff["before_header"] == "mss/mss-frontend spec.http[1]"
    assert fake.replaces == []


def test_no_diff_key_without_diff_mode(monkeypatch):
    out = run(monkeypatch, FakeK8SClient(virtual_service()), base_args())
    assert "diff" not in out.result


def test_conflict_is_retried_on_a_fresh_read(monkeypatch):
    fake = FakeK8SClient(virtual_service(), conflicts=2)
    out = run(monkeypatch, fake, base_args(weight=50))
    assert isinstance(out, AnsibleExitJson), out.result
    assert out.result["changed"] is True
    assert out.result["conflicts"] == 2
    assert fake.gets == 3 and len(fake.replaces) == 3
    assert [w["metadata"]["resourceVersion"] for w in fake.replaces] == ["100", "101", "102"]
    # the concurrent writer's change survives: we re-applied on the fresh object
    assert fake.obj["metadata"]["labels"]["touched"] == "0"
    assert [e["weight"] for e in fake.obj["spec"]["http"][1]["route"]] == [50, 50]


def test_conflict_retries_are_bounded(monkeypatch):
    fake = FakeK8SClient(virtual_service(), conflicts=10)
    out = run(monkeypatch, fake, base_args(conflict_retries=2))
    assert isinstance(out, AnsibleFailJson)
    assert "3 conflicts (409) in a row" in out.result["msg"]
    assert out.result["changed"] is False
    assert len(fake.replaces) == 3


def test_conflict_where_the_other_writer_already_set_our_weights(monkeypatch):
    fake = FakeK8SClient(virtual_service(), conflicts=1)
    original = fake.replace

    def replace_and_race(resource, definition, name, namespace, field_manager=None):
        try:
            return original(resource, definition, name, namespace, field_manager)
        except ConflictError:
            fake.obj["spec"]["http"][1]["route"][0]["weight"] = 90
            fake.obj["spec"]["http"][1]["route"][1]["weight"] = 10
            raise

    fake.replace = replace_and_race
    out = run(monkeypatch, fake, base_args(weight=10))
    assert out.result["changed"] is False
    assert out.result["conflicts"] == 1
    assert len(fake.replaces) == 1


def test_index_selects_route(monkeypatch):
    fake = FakeK8SClient(virtual_service())
    out = run(monkeypatch, fake, base_args(route=None, route_index=1, weight=100))
    assert out.result["weights"] == {"stable": 0, "canary": 100}
    assert fake.obj["spec"]["http"][0] == HEADER_ROUTE


def test_host_based_destinations(monkeypatch):
    route = {"name": "api", "route": [
        {"destination": {"host": "api-stable", "port": {"number": 8080}}, "weight": 100},
        {"destination": {"host": "api-canary", "port": {"number": 8080}}, "weight": 0}]}
    fake = FakeK8SClient(virtual_service([route]))
    out = run(monkeypatch, fake, base_args(route=None, stable={"host": "api-stable"},
                                           canary={"host": "api-canary", "port": 8080}, weight=25))
    assert out.result["weights"] == {"stable": 75, "canary": 25}


def test_writes_are_recorded_under_the_module_field_manager(monkeypatch):
    """Every replace, retries included, names the module as field manager (managedFields on the server)."""
    fake = FakeK8SClient(virtual_service(), conflicts=2)
    run(monkeypatch, fake, base_args(weight=30))
    assert fake.field_managers == ["mss.platform.canary_weight"] * 3


def test_missing_destination_message_prints_ports_as_numbers(monkeypatch):
    route = {"name": "api", "route": [
        {"destination": {"host": "api-stable", "port": {"number": 8080}}, "weight": 100},
        {"destination": {"host": "api-canary", "port": {"number": 8080}}, "weight": 0}]}
    fake = FakeK8SClient(virtual_service([route]))
    out = run(monkeypatch, fake, base_args(route=None, stable={"host": "api-stable"},
                                           canary={"host": "api-next", "port": 8080}, weight=25))
    assert out.result["failed"] is True
    assert "its destinations: api-stable:8080, api-canary:8080" in out.result["msg"]
    assert "number" not in out.result["msg"] and "{" not in out.result["msg"]
    assert "canary destination api-next:8080 is not in the route" in out.result["msg"]
    assert fake.replaces == []


def test_api_version_is_passed_to_the_resource_lookup(monkeypatch):
    fake = FakeK8SClient(virtual_service())
    seen = []
    original = fake.resource
    fake.resource = lambda kind, api_version: seen.append((kind, api_version)) or original(kind, api_version)
    run(monkeypatch, fake, base_args(api_version="networking.istio.io/v1beta1"))
    assert seen == [("VirtualService", "networking.istio.io/v1beta1")]


def _dup(base, **changes):
    new = copy.deepcopy(base)
    new.update(copy.deepcopy(changes))
    return new


ERROR_CASES = {
    "vs-missing": (None, {}, "does not exist"),
    "unknown-route": (virtual_service(), {"route": "nope"},
                      "no http route named 'nope'; named routes: canary-header, primary"),
    "no-route-given-several": (virtual_service(), {"route": None},
                               "has 2 http routes and neither route nor route_index"),
    "index-out-of-range": (virtual_service(), {"route": None, "route_index": 5}, "route_index 5 is out of range"),
    "duplicate-route-names": (virtual_service([PRIMARY_ROUTE, PRIMARY_ROUTE]), {}, "2 http routes are named 'primary'"),
    "no-http-routes": (virtual_service([]), {}, "has no http routes"),
    "unknown-stable": (virtual_service(), {"stable": {"host": "mss-frontend", "subset": "v0"}},
                       "stable destination mss-frontend/v0 is not in the route"),
    "unknown-canary": (virtual_service(), {"canary": {"host": "other"}},
                       "canary destination other is not in the route"),
    "ambiguous-destination": (virtual_service(), {"stable": {"host": "mss-frontend"}},
                              "stable destination mss-frontend matches 2 entries"),
    "same-entry": (virtual_service([_dup(PRIMARY_ROUTE, route=[
        {"destination": {"host": "a", "subset": "v1"}, "weight": 100},
        {"destination": {"host": "b", "subset": "v2"}}])]),
        {"stable": {"host": "a"}, "canary": {"host": "a", "subset": "v1"}}, "select the same entry"),
    "third-destination": (virtual_service([_dup(PRIMARY_ROUTE, route=PRIMARY_ROUTE["route"] + [
        {"destination": {"host": "mss-frontend", "subset": "v3"}, "weight": 0}])]), {},
        "destinations besides stable and canary (mss-frontend/v3)"),
    "redirect-route": (virtual_service([{"name": "primary", "redirect": {"uri": "/x"}}]), {},
                       "has no route destinations"),
    "weight-too-big": (virtual_service(), {"weight": 101}, "integer from 0 to 100, got 101"),
    "weight-negative": (virtual_service(), {"weight": -1}, "integer from 0 to 100, got -1"),
    "negative-retries": (virtual_service(), {"conflict_retries": -1}, "conflict_retries must be 0 or more"),
}


@pytest.mark.parametrize("obj,args,message", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_errors_are_clear_and_nothing_is_written(monkeypatch, obj, args, message):
    fake = FakeK8SClient(obj)
    out = run(monkeypatch, fake, base_args(**args))
    assert isinstance(out, AnsibleFailJson), out.result
    assert message in out.result["msg"]
    assert out.result["changed"] is False
    assert fake.replaces == []
    assert fake.obj == obj


def test_route_and_route_index_are_mutually_exclusive(monkeypatch):
    fake = FakeK8SClient(virtual_service())
    out = run(monkeypatch, fake, base_args(route_index=1))
    assert isinstance(out, AnsibleFailJson)
    assert "mutually exclusive" in out.result["msg"]
    assert fake.gets == 0 and fake.replaces == []


def test_unknown_kind_is_a_clear_error(monkeypatch):
    fake = FakeK8SClient(virtual_service(), known_kinds=False)
    out = run(monkeypatch, fake, base_args())
    assert "does not serve networking.istio.io/v1 VirtualService" in out.result["msg"]
    assert fake.replaces == []


@pytest.mark.parametrize("failing_call, verb", [("get_error", "reading"), ("replace_error", "replacing")])
def test_api_errors_are_reported_and_change_nothing(monkeypatch, failing_call, verb):
    error = ForbiddenError(ApiException(status=403, reason="Forbidden"))
    fake = FakeK8SClient(virtual_service(), **{failing_call: error})
    out = run(monkeypatch, fake, base_args())
    assert isinstance(out, AnsibleFailJson)
    assert out.result["msg"].startswith(verb + " VirtualService mss/mss-frontend failed: 403")
    assert fake.obj == virtual_service()
    if failing_call == "get_error":
        assert fake.replaces == []


def test_deleted_during_update(monkeypatch):
    fake = FakeK8SClient(virtual_service(), replace_error=NotFoundError(ApiException(status=404, reason="Not Found")))
    out = run(monkeypatch, fake, base_args())
    assert "was deleted while being updated" in out.result["msg"]
