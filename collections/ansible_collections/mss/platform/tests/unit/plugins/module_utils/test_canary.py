# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the pure weight planning in module_utils/canary.py."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.mss.platform.plugins.module_utils import canary
from hypothesis import given, settings
from hypothesis import strategies as st

STABLE = {"host": "web", "subset": "v1", "port": None}
CANARY = {"host": "web", "subset": "v2", "port": None}


def vs(weights=(100, 0), extra_routes=0):
    http = [{"name": f"other-{i}", "match": [{"headers": {"canary": {"exact": "true"}}}],
             "route": [{"destination": {"host": "web", "subset": "v2"}}]} for i in range(extra_routes)]
    http.append({"name": "main", "retries": {"attempts": 3},
                 "route": [{"destination": {"host": "web", "subset": "v1"}, "weight": weights[0], "headers": {"x": 1}},
                           {"destination": {"host": "web", "subset": "v2"}, "weight": weights[1]}]})
    return {"metadata": {"name": "web", "resourceVersion": "7"}, "spec": {"hosts": ["web"], "http": http}}


@settings(database=None)  # no .hypothesis/ directory in the collection
@given(start=st.integers(0, 100), weight=st.integers(0, 100), extra=st.integers(0, 3))
def test_only_the_two_weights_change_and_they_sum_to_100(start, weight, extra):
    obj = vs((100 - start, start), extra)
    frozen = copy.deepcopy(obj)
    plan = canary.plan_weights(obj, STABLE, CANARY, weight, route_name="main")
    assert obj == frozen  # input untouched
    assert plan["changed"] is (start != weight)
    assert plan["weights"] == {"stable": 100 - weight, "canary": weight}
    new = plan["new"]
    route = new["spec"]["http"][extra]["route"]
    assert route[0]["weight"] + route[1]["weight"] == 100
    route[0]["weight"], route[1]["weight"] = frozen["spec"]["http"][extra]["route"][0]["weight"], start
    assert new == frozen


@settings(database=None)
@given(weight=st.integers(0, 100))
def test_plan_is_idempotent(weight):
    first = canary.plan_weights(vs(), STABLE, CANARY, weight, route_name="main")
    second = canary.plan_weights(first["new"], STABLE, CANARY, weight, route_name="main")
    assert second["changed"] is False
    assert second["new"] == first["new"]


@pytest.mark.parametrize("bad", [-1, 101, 10.5, True, "10", None])
def test_invalid_weights(bad):
    with pytest.raises(canary.InvalidWeight):
        canary.plan_weights(vs(), STABLE, CANARY, bad, route_name="main")


def test_single_route_is_selected_without_name():
    assert canary.select_route(vs()["spec"])[0] == 0


def test_describe_destination():
    assert canary.describe_destination({"host": "a", "subset": "v2", "port": 80}) == "a/v2:80"
    # a destination as written in a VirtualService: the port is {"number": N}
    assert canary.describe_destination({"host": "a", "port": {"number": 80}}) == "a:80"
    assert canary.describe_destination({"host": "a", "subset": "v1", "port": {}}) == "a/v1"


def test_replace_names_the_module_as_field_manager():
    calls = []

    class Client:
        def resource(self, kind, api_version):
            return kind

        def replace(self, resource, body, **params):
            calls.append(params)
            return body

    canary.VirtualServiceClient(Client(), "networking.istio.io/v1").replace("ns", "web", vs())
    assert calls == [{"name": "web", "namespace": "ns", "field_manager": "mss.platform.canary_weight"}]


class Flaky:
    """A VirtualServiceClient stand-in: conflicts `n` times, then accepts."""

    def __init__(self, n):
        self.obj = vs()
        self.n = n
        self.writes = 0

    def read(self, namespace, name):
        return copy.deepcopy(self.obj)

    def replace(self, namespace, name, body):
        self.writes += 1
        if self.n:
            self.n -= 1
            raise canary.ResourceConflict("409")
        self.obj = copy.deepcopy(body)
        self.obj["metadata"]["resourceVersion"] = "8"
        return copy.deepcopy(self.obj)


def test_set_weights_retries_then_succeeds():
    client = Flaky(3)
    waits = []
    plan = canary.set_weights(client, "ns", "web", STABLE, CANARY, 40, route_name="main", max_conflict_retries=3,
                              sleep=waits.append)
    assert plan["conflicts"] == 3 and client.writes == 4 and plan["resource_version"] == "8"
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2]


def test_conflict_backoff_is_bounded():
    assert canary.conflict_backoff(1) == 0.01
    assert canary.conflict_backoff(2) == 0.02
    assert canary.conflict_backoff(30) == 1.0


def test_set_weights_zero_retries():
    client = Flaky(1)
    with pytest.raises(canary.ConflictRetriesExhausted):
        canary.set_weights(client, "ns", "web", STABLE, CANARY, 40, route_name="main", max_conflict_retries=0)
    assert client.writes == 1
