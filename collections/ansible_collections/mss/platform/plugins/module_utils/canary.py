# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031
# (ansible-test sanity wants the Python 2 era module header, %-formatting and dict() argument specs)
"""Weight arithmetic for an Istio VirtualService HTTP route, and a thin client adapter.

The pure part (select_route, select_destination, plan_weights) takes and returns plain
dicts and never talks to a cluster; the adapter (VirtualServiceClient) turns the
kubernetes dynamic client's exceptions into the domain errors below.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

try:
    from kubernetes.dynamic.exceptions import ConflictError, NotFoundError
except ImportError:  # handled by the module (missing_required_lib)
    ConflictError = NotFoundError = None


class CanaryError(Exception):
    """Base class of every domain error of canary_weight."""


class VirtualServiceNotFound(CanaryError):
    pass


class RouteNotFound(CanaryError):
    pass


class AmbiguousRoute(CanaryError):
    pass


class DestinationNotFound(CanaryError):
    pass


class AmbiguousDestination(CanaryError):
    pass


class UnexpectedDestination(CanaryError):
    pass


class InvalidWeight(CanaryError):
    pass


class ConflictRetriesExhausted(CanaryError):
    pass


class ResourceConflict(CanaryError):
    """The object changed since it was read (HTTP 409 on replace)."""


class KubernetesApiError(CanaryError):
    pass


# Writes are recorded in the object's managedFields under this name (not the client library's default).
FIELD_MANAGER = "mss.platform.canary_weight"


def _port_number(port):
    """The port as a number: a selector holds an int, a VirtualService destination {"number": 80}."""
    if isinstance(port, dict):
        return port.get("number")
    return port


def describe_destination(selector):
    """Human-readable form of a selector or a VirtualService destination: host[/subset][:port]."""
    text = str(selector.get("host"))
    if selector.get("subset"):
        text += "/" + str(selector["subset"])
    port = _port_number(selector.get("port"))
    if port:
        text += ":" + str(port)
    return text


def _route_label(route, index):
    name = route.get("name")
    return "http[%d]%s" % (index, " (name %r)" % name if name else " (unnamed)")


def select_route(spec, name=None, index=None):
    """Return (index, route) of the one HTTP route addressed by name or index.

    Without name and index, the VirtualService must have exactly one HTTP route.
    """
    routes = spec.get("http") or []
    if not isinstance(routes, list) or not routes:
        raise RouteNotFound("the VirtualService has no http routes")
    if name is not None and index is not None:
        raise AmbiguousRoute("give either route (a name) or route_index, not both")
    if name is not None:
        found = [i for i, r in enumerate(routes) if isinstance(r, dict) and r.get("name") == name]
        if not found:
            known = [r.get("name") for r in routes if isinstance(r, dict) and r.get("name")]
            raise RouteNotFound("no http route named %r; named routes: %s" % (name, ", ".join(known) or "none"))
        if len(found) > 1:
            raise AmbiguousRoute("%d http routes are named %r (indexes %s)" % (len(found), name, found))
        return found[0], routes[found[0]]
    if index is not None:
        if index < 0 or index >= len(routes):
            raise RouteNotFound("route_index %d is out of range: the VirtualService has %d http routes"
                                % (index, len(routes)))
        return index, routes[index]
    if len(routes) > 1:
        labels = [_route_label(r, i) for i, r in enumerate(routes) if isinstance(r, dict)]
        raise AmbiguousRoute(
            "the VirtualService has %d http routes and neither route nor route_index was given: %s"
            % (len(routes), "; ".join(labels)))
    return 0, routes[0]


def _matches(destination, selector):
    if not isinstance(destination, dict):
        return False
    if destination.get("host") != selector.get("host"):
        return False
    if selector.get("subset") and destination.get("subset") != selector.get("subset"):
        return False
    if selector.get("port"):
        if _port_number(destination.get("port")) != selector.get("port"):
            return False
    return True


def select_destination(route_entries, selector, role):
    """Index of the single route entry whose destination matches selector."""
    found = [i for i, entry in enumerate(route_entries)
             if isinstance(entry, dict) and _matches(entry.get("destination"), selector)]
    if not found:
        present = [describe_destination(e.get("destination") or {}) for e in route_entries if isinstance(e, dict)]
        raise DestinationNotFound("%s destination %s is not in the route; its destinations: %s"
                                  % (role, describe_destination(selector), ", ".join(present) or "none"))
    if len(found) > 1:
        raise AmbiguousDestination("%s destination %s matches %d entries of the route (indexes %s): give subset or port"
                                   % (role, describe_destination(selector), len(found), found))
    return found[0]


def validate_weight(weight):
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0 or weight > 100:
        raise InvalidWeight("canary weight must be an integer from 0 to 100, got %r" % (weight,))


def plan_weights(obj, stable, canary, weight, route_name=None, route_index=None):
    """Compute the new VirtualService for canary = weight %, stable = 100 - weight %.

    Returns a dict: changed, new (deep copy of obj with only the two weights set), index, name,
    before/after (the selected route), previous and weights ({stable, canary}).
    Raises a CanaryError subclass when the route or a destination is unknown or ambiguous.
    """
    validate_weight(weight)
    spec = obj.get("spec") or {}
    index, route = select_route(spec, route_name, route_index)
    label = _route_label(route, index)
    entries = route.get("route")
    if not isinstance(entries, list) or not entries:
        raise DestinationNotFound("%s has no route destinations (is it a redirect or direct_response?)" % label)
    i_stable = select_destination(entries, stable, "stable")
    i_canary = select_destination(entries, canary, "canary")
    if i_stable == i_canary:
        raise AmbiguousDestination("stable %s and canary %s select the same entry of %s"
                                   % (describe_destination(stable), describe_destination(canary), label))
    others = [describe_destination(e.get("destination") or {}) for i, e in enumerate(entries)
              if i not in (i_stable, i_canary)]
    if others:
        raise UnexpectedDestination("%s has destinations besides stable and canary (%s): refusing to split 100 %% "
                                    "between two of them" % (label, ", ".join(others)))
    previous = {"stable": entries[i_stable].get("weight"), "canary": entries[i_canary].get("weight")}
    wanted = {"stable": 100 - weight, "canary": weight}
    changed = previous != wanted
    new = copy.deepcopy(obj)
    new_route = new["spec"]["http"][index]
    new_route["route"][i_stable]["weight"] = wanted["stable"]
    new_route["route"][i_canary]["weight"] = wanted["canary"]
    return {
        "changed": changed,
        "new": new,
        "index": index,
        "name": route.get("name"),
        "before": copy.deepcopy(route),
        "after": copy.deepcopy(new_route),
        "previous": previous,
        "weights": wanted,
    }


class VirtualServiceClient:
    """Read and replace VirtualServices through kubernetes.core's K8SClient (or anything shaped like it)."""

    KIND = "VirtualService"

    def __init__(self, k8s_client, api_version):
        self.client = k8s_client
        self.api_version = api_version
        self._resource = None

    @property
    def resource(self):
        if self._resource is None:
            try:
                self._resource = self.client.resource(self.KIND, self.api_version)
            except Exception as e:  # any lookup failure is a clear domain error
                raise KubernetesApiError("the API server does not serve %s %s (is Istio's CRD installed?): %s"
                                         % (self.api_version, self.KIND, e)) from e
        return self._resource

    def read(self, namespace, name):
        try:
            found = self.client.get(self.resource, name=name, namespace=namespace)
        except Exception as e:  # API and transport errors all end up in one fail_json
            if NotFoundError is not None and isinstance(e, NotFoundError):
                raise VirtualServiceNotFound("VirtualService %s/%s (%s) does not exist"
                                             % (namespace, name, self.api_version)) from e
            raise KubernetesApiError("reading VirtualService %s/%s failed: %s" % (namespace, name, _reason(e))) from e
        return found.to_dict() if hasattr(found, "to_dict") else dict(found)

    def replace(self, namespace, name, body):
        try:
            done = self.client.replace(self.resource, body, name=name, namespace=namespace,
                                       field_manager=FIELD_MANAGER)
        except Exception as e:  # API and transport errors all end up in one fail_json
            if ConflictError is not None and isinstance(e, ConflictError):
                raise ResourceConflict(_reason(e)) from e
            if NotFoundError is not None and isinstance(e, NotFoundError):
                raise VirtualServiceNotFound("VirtualService %s/%s was deleted while being updated"
                                             % (namespace, name)) from e
            raise KubernetesApiError("replacing VirtualService %s/%s failed: %s"
                                     % (namespace, name, _reason(e))) from e
        return done.to_dict() if hasattr(done, "to_dict") else dict(done)


def _reason(e):
    body = getattr(e, "body", None)
    if body:
        return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return str(e)


def conflict_backoff(conflicts):
    """Seconds to wait before re-reading after the n-th 409: 10 ms doubling, capped at 1 s."""
    return min(0.01 * (2 ** (conflicts - 1)), 1.0)


def set_weights(vs_client, namespace, name, stable, canary, weight, route_name=None, route_index=None,
                check_mode=False, max_conflict_retries=5, sleep=time.sleep):
    """Read, plan and (unless check_mode or nothing to do) replace with the read resourceVersion.

    On a 409 conflict the object is read again (after a short backoff) and the plan re-applied, at most
    max_conflict_retries times. Returns the plan plus conflicts and resource_version.
    """
    conflicts = 0
    while True:
        obj = vs_client.read(namespace, name)
        plan = plan_weights(obj, stable, canary, weight, route_name, route_index)
        plan["resource_version"] = (obj.get("metadata") or {}).get("resourceVersion")
        plan["conflicts"] = conflicts
        if not plan["changed"] or check_mode:
            return plan
        body = plan["new"]
        try:
            done = vs_client.replace(namespace, name, body)
        except ResourceConflict as e:
            conflicts += 1
            if conflicts > max_conflict_retries:
                raise ConflictRetriesExhausted(
                    "VirtualService %s/%s kept changing under us: %d conflicts (409) in a row, last: %s"
                    % (namespace, name, conflicts, e)) from e
            sleep(conflict_backoff(conflicts))
            continue
        plan["conflicts"] = conflicts
        plan["resource_version"] = (done.get("metadata") or {}).get("resourceVersion")
        return plan
