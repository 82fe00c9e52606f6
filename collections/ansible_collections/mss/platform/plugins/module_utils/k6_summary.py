# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031
# (ansible-test sanity wants the Python 2 era module header and %-formatting)
"""Readers of the two k6 summary files, for the k6_gate module.

- ``summary_export`` (``k6 run --summary-export=FILE``): js/summary-wrapper.js ``oldJSONSummary``. Each
  ``metrics.<name>`` is the flat ``values`` object; its ``thresholds`` map says **true when the threshold
  FAILED**; a rate metric's ``rate`` is renamed ``value``. The metric type is not written: it is inferred
  from the keys (rate: passes/fails/value, counter: count/rate, gauge: value/min/max, trend: the rest).
- ``handle_summary`` (``JSON.stringify(data)`` in ``handleSummary(data)``): js/summary.go
  ``summarizeMetricsToObject``: ``metrics.<name> = {type, contains, values, thresholds: {<expr>: {ok}}}``,
  ``state.testRunDurationMs``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.mss.platform.plugins.module_utils.k6 import (
    COUNTER,
    GAUGE,
    METRIC_TYPES,
    RATE,
    TREND,
    K6FormatError,
    K6ThresholdSyntaxError,
    MetricData,
    Results,
    is_number,
    parse_metric_expression,
)


def load_json_document(path):
    try:
        with open(path, 'rb') as handle:
            raw = handle.read()
    except OSError as exc:
        raise K6FormatError('cannot read results file %s: %s' % (path, exc)) from exc
    if not raw.strip():
        raise K6FormatError('results file %s is empty' % path)
    try:
        return json.loads(raw)
    except ValueError as exc:
        text = raw.rstrip()
        if getattr(exc, 'pos', 0) >= len(text) - 1 or 'Expecting' in str(exc) and text[-1:] not in (b'}', b']'):
            raise K6FormatError('results file %s is truncated or not valid JSON: %s' % (path, exc)) from exc
        raise K6FormatError('results file %s is not valid JSON: %s' % (path, exc)) from exc


def classify_summary(data, path):
    if not isinstance(data, dict) or not isinstance(data.get('metrics'), dict):
        raise K6FormatError('results file %s is of an unknown format: a JSON object without a "metrics" '
                            'mapping is neither a k6 summary nor NDJSON output' % path)
    metrics = data['metrics']
    if not metrics:
        raise K6FormatError('results file %s has an empty "metrics" mapping: cannot tell summary-export from '
                            'handleSummary, and nothing to evaluate' % path)
    kinds = set()
    for name, entry in metrics.items():
        if not isinstance(entry, dict):
            raise K6FormatError('results file %s: metric %r is not an object' % (path, name))
        if isinstance(entry.get('values'), dict) and entry.get('type') in METRIC_TYPES:
            kinds.add('handle_summary')
        elif all(k == 'thresholds' or is_number(v) for k, v in entry.items()):
            kinds.add('summary_export')
        else:
            raise K6FormatError('results file %s: metric %r is neither in summary-export form (numbers) nor in '
                                'handleSummary form ({type, values})' % (path, name))
    if len(kinds) != 1:
        raise K6FormatError('results file %s is ambiguous: its metrics mix summary-export and handleSummary '
                            'forms' % path)
    return kinds.pop()


def _infer_export_type(values):
    keys = set(values) - {'thresholds'}
    if 'passes' in keys or 'fails' in keys:
        return RATE
    if 'count' in keys and 'rate' in keys and not (keys & {'avg', 'med', 'min', 'max'}):
        return COUNTER
    if 'value' in keys and keys <= {'value', 'min', 'max'}:
        return GAUGE
    if keys & {'avg', 'med', 'min', 'max'} or any(k.startswith('p(') for k in keys):
        return TREND
    return None


class _SummaryIndex:
    """Looks (sub-)metrics up by name and tag set, whatever spacing or order the script used."""

    def __init__(self, entries, path):
        self.by_key = {}
        for name, mdata in entries:
            try:
                parsed = parse_metric_expression(name)
            except K6ThresholdSyntaxError:
                parsed = None  # a summary key we cannot parse can never match a threshold
            if parsed is not None:
                self.by_key[(parsed[0], tuple(sorted(parsed[1].items())))] = mdata
        self.path = path

    def __call__(self, metric, tags):
        return self.by_key.get((metric, tuple(sorted(tags.items()))))


def read_summary(path, fmt=None):
    """Read a summary-export or handleSummary JSON file into Results."""
    data = load_json_document(path)
    detected = classify_summary(data, path)
    if fmt is not None and fmt != detected:
        raise K6FormatError('results file %s was given as %s but its content is %s' % (path, fmt, detected))
    duration = None
    state = data.get('state')
    if isinstance(state, dict) and is_number(state.get('testRunDurationMs')):
        duration = state['testRunDurationMs'] / 1000.0
    entries = []
    for name, entry in data['metrics'].items():
        if detected == 'handle_summary':
            mtype = entry['type']
            values = {k: v for k, v in entry['values'].items() if is_number(v)}
            k6 = {}
            for src, verdict in (entry.get('thresholds') or {}).items():
                if isinstance(verdict, dict) and isinstance(verdict.get('ok'), bool):
                    k6[src] = verdict['ok']
        else:
            mtype = _infer_export_type(entry)
            values = {k: v for k, v in entry.items() if k != 'thresholds'}
            if mtype == RATE and 'value' in values:
                values['rate'] = values['value']  # summary-export renames a rate metric's rate to value
            k6 = {}
            for src, failed in (entry.get('thresholds') or {}).items():
                if isinstance(failed, bool):
                    k6[src] = not failed  # summary-export writes true when the threshold FAILED
        samples = None
        if mtype == RATE and 'passes' in values and 'fails' in values:
            samples = int(values['passes'] + values['fails'])
        elif mtype == TREND and 'count' in values:
            samples = int(values['count'])
        note = None
        if mtype == TREND:
            note = ('the %s only holds the trend stats k6 was told to write (summaryTrendStats); add the '
                    'percentile there or gate on the NDJSON output' % detected)
        entries.append((name, MetricData(name, mtype, values, samples=samples, k6_thresholds=k6, note=note)))
    return Results(detected, _SummaryIndex(entries, path), duration_s=duration,
                   stats={'metrics': len(entries)})
