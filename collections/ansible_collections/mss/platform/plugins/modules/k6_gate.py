#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, C408, EXE001, E402
# (ansible-test sanity wants the Python 2 era module header, %-formatting and dict() argument specs)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: k6_gate
short_description: Pass or fail a k6 load test run against thresholds written in k6's own syntax
version_added: 0.1.0
description:
  - Reads the results of a k6 run in any of the three forms k6 writes them - the C(--summary-export) JSON, the
    C(data) object of the C(handleSummary) callback written with C(JSON.stringify), or the C(--out json) NDJSON stream
    (plain or gzip-compressed) - and evaluates thresholds written in k6's syntax, for example
    C(http_req_duration{name:homepage}) V(p(95\)<2000) or C(http_req_failed) V(rate<0.01).
  - The module's own evaluation of the values is the verdict. When a summary file also carries k6's verdict for
    the same threshold, it is returned as RV(results[].k6_ok) and a disagreement is reported as a warning.
  - From NDJSON every aggregation is computed by the module in constant memory. Percentiles come from a
    DDSketch with relative accuracy O(relative_accuracy) - see the k6_gate documentation for the exact bound.
    Counter C(rate) is C(count) divided by the time from the first to the last point timestamp of the file.
  - Fails closed. A missing results file, an empty or truncated file, an unknown or ambiguous format or a malformed
    threshold fail the task with a message naming the cause. A threshold on a metric or tag sub-metric absent
    from the results, an aggregation the results do not hold, or an aggregation invalid for the metric's type
    is a failed threshold.
  - Covers the formats of k6 v0.30.0 to v1.x.
  - The module only reads results, so it runs normally in check mode; report files are written only outside
    check mode (C(changed) then says whether they would change).
author:
  - MSS Platform engineering (@mss-platform)
requirements:
  - ddsketch (Python library, for O(format=ndjson) only) on the host that runs the module
options:
  path:
    description: Path of the k6 results file on the host that runs the module (usually the controller).
    type: path
    required: true
  format:
    description:
      - Format of O(path). C(auto) detects it and fails when it cannot tell - an empty file, a JSON document
        without a C(metrics) mapping, or metrics mixing both summary forms.
      - C(summary_export) is the file of C(k6 run --summary-export), C(handle_summary) the JSON of
        the data object passed to C(handleSummary), C(ndjson) the file of C(k6 run --out json=FILE).
    type: str
    default: auto
    choices: [auto, summary_export, handle_summary, ndjson]
  thresholds:
    description:
      - Mapping of a metric expression (a metric name, optionally with tag filters as in
        C(http_req_duration{name:homepage,method:GET})) to a list of k6 threshold expressions
        (V(p(95\)<200), V(avg<100), V(rate<0.01), V(count>10), V(value<5)); an item may also be an object
        C({threshold, abortOnFail}) as in a k6 script.
      - Valid aggregations per metric type are those of k6 - trend C(avg), C(min), C(max), C(med), V(p(N\));
        rate C(rate); counter C(count), C(rate) (per second); gauge C(value).
      - The default is the platform's performance benchmarks -
        C(http_req_duration{name:homepage}) V(p(95\)<2000), C(http_req_duration{name:api}) V(p(95\)<200),
        C(http_req_duration{name:dashboard}) V(p(95\)<3000), C(http_reqs) V(rate>1000) and
        C(http_req_failed) V(rate<0.01). The suites in C(tests/performance) tag their requests with these
        C(name) values.
    type: dict
  junit_path:
    description: Write a JUnit XML report here (one test case per threshold), also when the gate fails.
    type: path
  markdown_path:
    description: Write a markdown summary here (a table of thresholds), also when the gate fails.
    type: path
  fail_on_breach:
    description:
      - Fail the task when any threshold fails. With C(false) the task succeeds and RV(passed) tells the verdict.
      - Unreadable results and malformed thresholds always fail the task.
    type: bool
    default: true
  relative_accuracy:
    description:
      - Relative accuracy of the DDSketch that computes percentiles from NDJSON (0 < value < 1). Smaller is
        more accurate and uses more memory (about 1/value buckets per decade of values).
    type: float
    default: 0.01
  workers:
    description:
      - Number of processes that read an O(format=ndjson) file in parallel. V(0) uses one per CPU the module
        may run on (its CPU affinity, capped by a cgroup CPU quota such as a container's or pod's limit), at
        most 8. V(1) reads in the module's own process.
      - The file is cut into byte ranges at line boundaries, one per process, each of at least 32 MiB, so
        smaller files, gzip-compressed files and platforms without C(fork) are read by one process. Every
        line is checked as in one pass and the merged results are those of one pass (an error names the
        file's line number); each process holds its own constant-size state, so peak memory is about the
        number of processes times that of one, whatever the file size.
    type: int
    default: 0
'''

EXAMPLES = r'''
- name: Gate the load test on the platform's benchmarks (defaults)
  mss.platform.k6_gate:
    path: /var/tmp/k6/load-test.ndjson.gz
    junit_path: /var/tmp/k6/k6-gate.xml
    markdown_path: /var/tmp/k6/k6-gate.md

- name: Gate a handleSummary file on explicit thresholds, without failing the play
  mss.platform.k6_gate:
    path: /var/tmp/k6/summary.json
    format: handle_summary
    fail_on_breach: false
    thresholds:
      "http_req_duration{name:api}": ["p(95)<200", "p(99)<400"]
      http_req_failed: ["rate<0.01"]
      checks: ["rate>0.99"]
  register: __gate

- name: Show the verdict
  ansible.builtin.debug:
    msg: "{{ __gate.passed }} - {{ __gate.failed_thresholds }}"
'''

RETURN = r'''
passed:
  description: Whether every threshold passed.
  returned: always
  type: bool
  sample: true
format:
  description: The results format that was read.
  returned: success or threshold breach
  type: str
  sample: ndjson
results:
  description: One entry per threshold, in the order given.
  returned: success or threshold breach
  type: list
  elements: dict
  contains:
    metric:
      description: The metric expression.
      type: str
      sample: http_req_duration{name:homepage}
    threshold:
      description: The threshold as given.
      type: str
      sample: p(95)<2000
    aggregation:
      description: The aggregation evaluated.
      type: str
      sample: p(95)
    operator:
      description: The comparison operator.
      type: str
      sample: "<"
    limit:
      description: The right-hand side of the threshold.
      type: float
      sample: 2000.0
    observed:
      description: The observed value of the aggregation, null when it could not be computed.
      type: float
      sample: 812.4
    ok:
      description: Whether the threshold passed.
      type: bool
      sample: true
    reason:
      description: Why the threshold failed, null when it passed.
      type: str
      sample: null
    metric_type:
      description: The k6 metric type (trend, rate, counter, gauge), null when unknown or missing.
      type: str
      sample: trend
    samples:
      description: Number of samples behind the value, when the format tells it.
      type: int
      sample: 120345
    k6_ok:
      description: k6's own verdict for the same threshold as stored in a summary file, null when absent.
      type: bool
      sample: true
summary:
  description: Counts of thresholds.
  returned: success or threshold breach
  type: dict
  sample: {"passed": true, "total": 5, "failed": 0, "disagreements": 0}
failed_thresholds:
  description: The reasons of the failed thresholds.
  returned: success or threshold breach
  type: list
  elements: str
  sample: ["http_req_duration{name:api} p(95)=251.3, limit <200"]
duration_s:
  description: Test duration in seconds (summary C(state.testRunDurationMs), or first to last NDJSON point).
  returned: when known
  type: float
  sample: 1800.2
stats:
  description:
    - Reader statistics (NDJSON lines, points, points used, relative accuracy, processes that read the file,
      their peak RSS in MiB and CPU seconds; summary metric count).
  returned: success or threshold breach
  type: dict
  sample: {"lines": 1000000, "points": 999900, "points_used": 310000, "workers": 2,
           "worker_peak_rss_mib": [17.2, 17.2], "worker_cpu_s": [6.1, 6.0]}
reports:
  description: The report files written (or that would be written in check mode).
  returned: always
  type: list
  elements: str
  sample: ["/var/tmp/k6/k6-gate.xml"]
'''

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.mss.platform.plugins.module_utils.k6 import (
    DEFAULT_THRESHOLDS,
    K6GateError,
    K6MissingDependencyError,
    ThresholdSet,
    evaluate,
    summarize,
)
from ansible_collections.mss.platform.plugins.module_utils.k6_ndjson import DDSKETCH_IMPORT_ERROR, HAS_DDSKETCH
from ansible_collections.mss.platform.plugins.module_utils.k6_reports import render_junit, render_markdown
from ansible_collections.mss.platform.plugins.module_utils.k6_results import detect_format, read_results


class K6Gate:
    """Reads one k6 results file, evaluates the thresholds and writes the reports.

    ``outcome()`` is the one place where every error becomes a result: a K6GateError (unreadable results, a
    malformed threshold, ddsketch missing for NDJSON, a report that cannot be written) still writes the error
    reports and gives a failed result; a breach gives a failed result when O(fail_on_breach) is on.
    """

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.reports = []
        self.changed = False

    def thresholds(self):
        spec = self.params['thresholds']
        return ThresholdSet(DEFAULT_THRESHOLDS if spec is None else spec)

    def outcome(self):
        """(result, warnings, failed): what main() hands to exit_json or fail_json."""
        try:
            result, warnings = self.run()
        except K6GateError as exc:
            why = getattr(exc, 'exception', None) or traceback.format_exc()
            try:
                self.write_reports([], error=str(exc))
            except K6GateError:
                pass  # the error that stopped the gate is the one to report
            return dict(msg='k6 gate failed closed: %s' % exc, changed=self.changed, passed=False,
                        reports=self.reports, exception=why), [], True
        summary = result['summary']
        failed = not result['passed'] and self.params['fail_on_breach']
        if failed:
            result['msg'] = 'k6 gate: %d of %d thresholds failed: %s' % (
                summary['failed'], summary['total'], '; '.join(result['failed_thresholds']))
        else:
            result['msg'] = 'k6 gate: %d of %d thresholds passed' % (
                summary['total'] - summary['failed'], summary['total'])
        return result, warnings, failed

    def run(self):
        threshold_set = self.thresholds()
        fmt = self.params['format']
        if fmt == 'auto':
            fmt = detect_format(self.params['path'])
        if fmt == 'ndjson' and not HAS_DDSKETCH:
            raise K6MissingDependencyError(missing_required_lib('ddsketch'), exception=str(DDSKETCH_IMPORT_ERROR))
        if self.params['workers'] < 0:
            raise K6GateError('workers must be 0 (one per usable CPU) or a positive number, got %d'
                              % self.params['workers'])
        results = read_results(self.params['path'], fmt, threshold_set, self.params['relative_accuracy'],
                               workers=self.params['workers'])
        rows = evaluate(threshold_set, results)
        summary = summarize(rows)
        self.write_reports(rows, summary=summary, fmt=results.format)
        warnings = ['k6 itself judged %s %s as %s, the gate as %s' % (
            r['metric'], r['threshold'], 'passed' if r['k6_ok'] else 'failed', 'passed' if r['ok'] else 'failed')
            for r in rows if r['k6_ok'] is not None and r['k6_ok'] != r['ok']]
        result = dict(
            changed=self.changed,
            passed=summary['passed'],
            format=results.format,
            results=rows,
            summary=summary,
            failed_thresholds=[r['reason'] for r in rows if not r['ok']],
            stats=results.stats,
            reports=self.reports,
        )
        if results.duration_s is not None:
            result['duration_s'] = results.duration_s
        return result, warnings

    def write_reports(self, rows, summary=None, fmt=None, error=None):
        documents = []
        if self.params['junit_path']:
            documents.append((self.params['junit_path'], render_junit(rows, error=error)))
        if self.params['markdown_path']:
            documents.append((self.params['markdown_path'], render_markdown(
                rows, summary=summary, fmt=fmt, error=error, path=self.params['path'])))
        for path, text in documents:
            self.reports.append(path)
            try:
                with open(path) as handle:
                    if handle.read() == text:
                        continue
            except OSError:
                pass
            self.changed = True
            if self.module.check_mode:
                continue
            tmp = '%s.tmp%d' % (path, os.getpid())
            try:
                with open(tmp, 'w') as handle:
                    handle.write(text)
                os.rename(tmp, path)
            except OSError as exc:
                raise K6GateError('cannot write report %s: %s' % (path, exc)) from exc


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        format=dict(type='str', default='auto', choices=['auto', 'summary_export', 'handle_summary', 'ndjson']),
        thresholds=dict(type='dict'),
        junit_path=dict(type='path'),
        markdown_path=dict(type='path'),
        fail_on_breach=dict(type='bool', default=True),
        relative_accuracy=dict(type='float', default=0.01),
        workers=dict(type='int', default=0),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    result, warnings, failed = K6Gate(module).outcome()
    for warning in warnings:
        module.warn(warning)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
