#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402
# (ansible-test sanity wants the Python 2 era module header, %-formatting and dict() argument specs)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: canary_weight
short_description: Split one HTTP route of an Istio VirtualService between a stable and a canary destination
version_added: 0.1.0
description:
  - Sets the C(weight) of two destinations of one HTTP route of an Istio VirtualService so that the canary
    gets O(weight) percent and the stable destination gets the rest (stable + canary = 100). Istio no longer
    requires weights to add up to 100, this module keeps them so on purpose.
  - Only those two C(weight) fields change. The route's C(match) blocks, the other routes (for example a
    header-based route sending requests with the header C(canary=true) to the canary) and everything else stay
    untouched.
  - The object is written with a replace that carries the C(resourceVersion) it was read with. When the API
    server answers 409 Conflict, the object is read again and the weights re-applied, at most
    O(conflict_retries) times.
  - Writes are recorded in the object's C(managedFields) under the field manager C(mss.platform.canary_weight).
  - The module is in the collection's action group C(mss.platform.k8s) (with kubernetes.core's modules), so a
    play's C(module_defaults) on C(group/mss.platform.k8s) sets its connection once.
  - Refuses, with nothing written, an unknown or ambiguous route (no O(route) and several HTTP routes, two routes
    of the same name), a destination that is missing or matches several entries, a route with destinations
    besides the two, and a VirtualService that does not exist.
author:
  - MSS Platform engineering (@mss-platform)
options:
  name:
    description: Name of the VirtualService.
    type: str
    required: true
  namespace:
    description: Namespace of the VirtualService.
    type: str
    default: default
  api_version:
    description:
      - API version of the VirtualService resource. C(networking.istio.io/v1) is served by Istio 1.22 and later.
    type: str
    default: networking.istio.io/v1
    choices: [networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3]
  route:
    description:
      - Name of the HTTP route (C(spec.http[].name)) to change. Mutually exclusive with O(route_index).
      - When neither O(route) nor O(route_index) is given, the VirtualService must have exactly one HTTP route.
    type: str
  route_index:
    description: Zero-based index of the HTTP route to change. Mutually exclusive with O(route).
    type: int
  stable:
    description: The stable destination, matched against C(route[].destination).
    type: dict
    required: true
    suboptions: &destination_suboptions
      host:
        description: Destination host, as written in the VirtualService.
        type: str
        required: true
      subset:
        description: Destination subset. Omit it to match on the host only (for host-based canaries).
        type: str
      port:
        description: Destination port number, to tell apart two entries of the same host.
        type: int
  canary:
    description: The canary destination, matched like O(stable).
    type: dict
    required: true
    suboptions: *destination_suboptions  # the same as O(stable)'s (one YAML anchor, like DESTINATION_SPEC)
  weight:
    description:
      - Percentage of the route's traffic for the canary, an integer from 0 to 100.
      - The stable destination gets 100 - O(weight).
    type: int
    required: true
  conflict_retries:
    description: How many times to re-read and re-apply after a 409 Conflict before failing.
    type: int
    default: 5
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
notes:
  - Supports check mode (nothing is sent to the API server beyond reads) and diff mode (the selected route
    before and after).
'''

EXAMPLES = r'''
- name: Send 10 % of the default route to v2
  mss.platform.canary_weight:
    name: mss-frontend
    namespace: mss
    route: primary
    stable: {host: mss-frontend, subset: v1}
    canary: {host: mss-frontend, subset: v2}
    weight: 10

- name: Roll back a host-based canary with an explicit kubeconfig and context
  mss.platform.canary_weight:
    kubeconfig: ~/.kube/staging
    context: staging
    api_version: networking.istio.io/v1beta1
    name: mss-api
    namespace: mss
    route_index: 1
    stable: {host: mss-api-stable.mss.svc.cluster.local}
    canary: {host: mss-api-canary.mss.svc.cluster.local}
    weight: 0
'''

RETURN = r'''
route:
  description: Name of the route changed (null for an unnamed route).
  returned: success
  type: str
  sample: primary
route_index:
  description: Index of the route in C(spec.http).
  returned: success
  type: int
  sample: 1
weights:
  description: Weights after the run.
  returned: success
  type: dict
  sample: {stable: 90, canary: 10}
previous_weights:
  description: Weights found before the run (null where the field was absent).
  returned: success
  type: dict
  sample: {stable: 100, canary: 0}
resource_version:
  description: C(resourceVersion) of the VirtualService after the write (or as read when nothing was written).
  returned: success
  type: str
  sample: "12345"
conflicts:
  description: Number of 409 conflicts met and retried.
  returned: success
  type: int
  sample: 0
http_route:
  description: The selected HTTP route as it is (or would be, in check mode) after the run.
  returned: success
  type: dict
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.mss.platform.plugins.module_utils.canary import (
    CanaryError,
    VirtualServiceClient,
    set_weights,
)

K8S_IMP_ERR = None
try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
        AUTH_ARG_SPEC,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import (
        get_api_client,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import (
        AnsibleK8SModule,
    )
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import (
        CoreException,
    )
    HAS_K8S_CORE = True
except ImportError:
    HAS_K8S_CORE = False
    K8S_IMP_ERR = traceback.format_exc()
    AUTH_ARG_SPEC = {}

DESTINATION_SPEC = dict(
    host=dict(type='str', required=True),
    subset=dict(type='str'),
    port=dict(type='int'),
)


def argument_spec():
    spec = dict(
        name=dict(type='str', required=True),
        namespace=dict(type='str', default='default'),
        api_version=dict(type='str', default='networking.istio.io/v1',
                         choices=['networking.istio.io/v1', 'networking.istio.io/v1beta1',
                                  'networking.istio.io/v1alpha3']),
        route=dict(type='str'),
        route_index=dict(type='int'),
        stable=dict(type='dict', required=True, options=DESTINATION_SPEC),
        canary=dict(type='dict', required=True, options=DESTINATION_SPEC),
        weight=dict(type='int', required=True),
        conflict_retries=dict(type='int', default=5),
    )
    spec.update(AUTH_ARG_SPEC)
    return spec


class CanaryWeight:
    """Set the stable/canary split of one VirtualService route."""

    def __init__(self, module, vs_client):
        self.module = module
        self.client = vs_client

    @staticmethod
    def _selector(params):
        return {k: params.get(k) for k in ('host', 'subset', 'port')}

    def run(self):
        p = self.module.params
        if p['conflict_retries'] < 0:
            raise CanaryError('conflict_retries must be 0 or more, got %d' % p['conflict_retries'])
        plan = set_weights(
            self.client, p['namespace'], p['name'],
            stable=self._selector(p['stable']), canary=self._selector(p['canary']), weight=p['weight'],
            route_name=p['route'], route_index=p['route_index'],
            check_mode=self.module.check_mode, max_conflict_retries=p['conflict_retries'])
        result = dict(
            changed=plan['changed'],
            route=plan['name'],
            route_index=plan['index'],
            weights=plan['weights'],
            previous_weights=plan['previous'],
            resource_version=plan['resource_version'],
            conflicts=plan['conflicts'],
            http_route=plan['after'],
        )
        if self.module._diff:
            header = '%s/%s spec.http[%d]' % (p['namespace'], p['name'], plan['index'])
            result['diff'] = dict(before=plan['before'], after=plan['after'],
                                  before_header=header, after_header=header)
        return result


def main():
    if not HAS_K8S_CORE:
        AnsibleModule(argument_spec=dict(), supports_check_mode=True).fail_json(
            msg=missing_required_lib('kubernetes.core collection'), exception=K8S_IMP_ERR)
    module = AnsibleK8SModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[('route', 'route_index')],
        supports_check_mode=True,
    )
    try:
        client = get_api_client(module=module)
        result = CanaryWeight(module, VirtualServiceClient(client, module.params['api_version'])).run()
    except (CanaryError, CoreException) as e:
        module.fail_json(msg=str(e), changed=False)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
