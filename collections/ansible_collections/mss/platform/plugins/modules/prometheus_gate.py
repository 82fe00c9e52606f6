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
module: prometheus_gate
short_description: Gate on a PromQL instant query compared with a threshold, failing closed
version_added: 0.1.0
description:
  - Runs one PromQL instant query through Prometheus' HTTP API (C(GET /api/v1/query)), reduces the answer to one
    number and compares it with O(threshold) using O(op). The gate passes when C(value op threshold) holds.
  - Fails closed. The task fails, whatever O(fail_on_breach) says, when the answer is not a trustworthy number,
    that is an HTTP or connection error, a body that is not Prometheus JSON, C(status) other than C(success), no
    series (no data), a NaN or infinite value (for example a success ratio over zero requests), a range (matrix) or
    string result, or several series without O(aggregate).
  - Never changes anything, and runs in check mode too (a read-only probe).
author:
  - MSS Platform engineering (@mss-platform)
options:
  url:
    description: Base URL of Prometheus, for example C(http://prometheus.monitoring:9090). C(/api/v1/query) is appended.
    type: str
    required: true
  query:
    description:
      - PromQL expression evaluated as an instant query. Prefer a query that returns one series or a scalar,
        such as Flagger's request-success-rate C(sum(rate(istio_requests_total{reporter="destination",
        destination_workload="mss-frontend-v2",response_code!~"5.*"}[1m])) /
        sum(rate(istio_requests_total{reporter="destination",
        destination_workload="mss-frontend-v2"}[1m])) * 100).
    type: str
    required: true
  op:
    description: Comparison the value must satisfy against O(threshold) for the gate to pass.
    type: str
    required: true
    choices: ['<', '<=', '>', '>=', '==', '!=']
  threshold:
    description: Number the value is compared with.
    type: float
    required: true
  aggregate:
    description:
      - How to reduce a result of several series to one number. Without it, several series are an error.
    type: str
    choices: [min, max, avg, sum]
  time:
    description: Evaluation timestamp (RFC 3339 or Unix seconds). Defaults to Prometheus' current time.
    type: str
  name:
    description: Label of this gate in messages and in the result, for rollout reports.
    type: str
  fail_on_breach:
    description:
      - Fail the task when the value breaches the threshold. With V(false), a breach is reported in RV(passed)
        only. Errors (no data, NaN, HTTP errors, ...) fail the task either way.
    type: bool
    default: true
  timeout:
    description: HTTP timeout in seconds.
    type: int
    default: 10
  validate_certs:
    description: Verify the TLS certificate of an https URL.
    type: bool
    default: true
  bearer_token:
    description: Token sent in an C(Authorization) header as C(Bearer <token>).
    type: str
  url_username:
    description: User for HTTP basic authentication.
    type: str
  url_password:
    description: Password for HTTP basic authentication.
    type: str
  headers:
    description: Extra HTTP headers (for example C(X-Scope-OrgID) for a multi-tenant Prometheus-compatible store).
    type: dict
    default: {}
notes:
  - Supports check mode; the query runs in check mode as well since it only reads.
'''

EXAMPLES = r'''
- name: Canary success rate must stay at or above 99 %
  mss.platform.prometheus_gate:
    name: request-success-rate
    url: http://prometheus.monitoring:9090
    query: >-
      sum(rate(istio_requests_total{reporter="destination",destination_workload="mss-frontend-v2",
      response_code!~"5.*"}[1m])) / sum(rate(istio_requests_total{reporter="destination",
      destination_workload="mss-frontend-v2"}[1m])) * 100
    op: '>='
    threshold: 99

- name: p99 latency of the canary below 500 ms, worst pod
  mss.platform.prometheus_gate:
    name: request-duration
    url: http://prometheus.monitoring:9090
    query: >-
      histogram_quantile(0.99, sum by (le, pod) (rate(istio_request_duration_milliseconds_bucket{
      reporter="destination",destination_workload="mss-frontend-v2"}[1m])))
    aggregate: max
    op: '<'
    threshold: 500
    fail_on_breach: false
  register: latency
'''

RETURN = r'''
name:
  description: The gate's label (O(name), or the query when no name was given).
  returned: always
  type: str
  sample: request-success-rate
passed:
  description: Whether C(value op threshold) holds. False when the gate failed closed.
  returned: always
  type: bool
  sample: true
value:
  description: The number compared (after aggregation).
  returned: when Prometheus gave a usable number
  type: float
  sample: 99.7
condition:
  description: The comparison made, in words.
  returned: always
  type: str
  sample: "99.7 >= 99.0"
series:
  description: The series of a vector result, each C({metric, value}).
  returned: when Prometheus gave a usable number
  type: list
  elements: dict
reason:
  description: Why the gate failed closed (no data, NaN, HTTP error, ...).
  returned: when the gate failed closed
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mss.platform.plugins.module_utils.prometheus import (
    AGGREGATIONS,
    OPERATORS,
    PrometheusError,
    evaluate,
    fetch,
    reduce_result,
)


class PrometheusGate:
    """Query, reduce, compare."""

    def __init__(self, module):
        self.module = module
        self.params = module.params

    @property
    def label(self):
        return self.params['name'] or self.params['query']

    def headers(self):
        headers = dict(self.params['headers'] or {})
        if self.params['bearer_token']:
            headers['Authorization'] = 'Bearer %s' % self.params['bearer_token']
        return headers

    def run(self):
        p = self.params
        data = fetch(p['url'], p['query'], time=p['time'], timeout=p['timeout'], headers=self.headers(),
                     validate_certs=p['validate_certs'], url_username=p['url_username'],
                     url_password=p['url_password'])
        value, series = reduce_result(data, p['aggregate'])
        passed = evaluate(value, p['op'], p['threshold'])
        return dict(
            changed=False,
            name=self.label,
            passed=passed,
            value=value,
            series=series,
            condition='%r %s %r' % (value, p['op'], p['threshold']),
        )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type='str', required=True),
            query=dict(type='str', required=True),
            op=dict(type='str', required=True, choices=list(OPERATORS)),
            threshold=dict(type='float', required=True),
            aggregate=dict(type='str', choices=sorted(AGGREGATIONS)),
            time=dict(type='str'),
            name=dict(type='str'),
            fail_on_breach=dict(type='bool', default=True),
            timeout=dict(type='int', default=10),
            validate_certs=dict(type='bool', default=True),
            bearer_token=dict(type='str', no_log=True),
            url_username=dict(type='str'),
            url_password=dict(type='str', no_log=True),
            headers=dict(type='dict', default={}),
        ),
        supports_check_mode=True,
    )
    gate = PrometheusGate(module)
    condition = '%s %s %r' % (module.params['query'], module.params['op'], module.params['threshold'])
    try:
        result = gate.run()
    except PrometheusError as e:
        module.fail_json(msg='gate %s failed closed: %s' % (gate.label, e), changed=False, name=gate.label,
                         passed=False, condition=condition, reason=str(e))
    if not result['passed'] and module.params['fail_on_breach']:
        module.fail_json(msg='gate %s breached: %s is false' % (gate.label, result['condition']), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
