# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031
# (ansible-test sanity wants the Python 2 era module header and %-formatting; explicit if-compare is faster
# than min()/max() in the per-sample path)
"""k6 threshold grammar, metric model and evaluation for the k6_gate module (reports: k6_reports).

The grammar follows k6's own parser (grafana/k6 metrics/thresholds_parser.go, the BNF in
parseThresholdExpression, and metrics/metric.go ParseMetricName/AddSubmetric for tag sub-metrics).
Aggregations per metric type follow metrics/sink.go (CounterSink, GaugeSink, RateSink, TrendSink).
No k6 code is copied; this is an independent re-implementation of the documented behaviour.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
from collections import namedtuple


class K6GateError(Exception):
    """Base class of every error that makes the k6 gate fail closed."""


class K6ThresholdSyntaxError(K6GateError):
    """A threshold or metric expression does not follow k6's grammar."""


class K6FormatError(K6GateError):
    """The results file is empty, truncated, malformed or of an unknown/ambiguous format."""


class K6MissingDependencyError(K6GateError):
    """A library the requested evaluation needs is not importable; ``exception`` is why (the import error)."""

    def __init__(self, message, exception=None):
        super(K6MissingDependencyError, self).__init__(message)
        self.exception = exception


# Metric types as k6 names them (metrics/metric_type.go).
TREND = 'trend'
RATE = 'rate'
COUNTER = 'counter'
GAUGE = 'gauge'
METRIC_TYPES = (TREND, RATE, COUNTER, GAUGE)

# Which aggregation methods k6 accepts on which metric type (thresholds_parser.go BNF).
AGGREGATIONS_BY_TYPE = {
    TREND: ('avg', 'min', 'max', 'med', 'p'),
    RATE: ('rate',),
    COUNTER: ('count', 'rate'),
    GAUGE: ('value',),
}
_METHODS = ('value', 'count', 'rate', 'avg', 'min', 'med', 'max')

# Longer operators first, as in k6's scanner: "<=" must win over "<", "===" over "==".
_OPERATORS = ('<=', '<', '>=', '>', '===', '==', '!=')

# The spec's performance benchmarks (spec "Performance Benchmarks"), expressed in k6 syntax.
# Tag sub-metrics use the `name` tag, which the suites in tests/performance set on every request.
DEFAULT_THRESHOLDS = {
    'http_req_duration{name:homepage}': ['p(95)<2000'],
    'http_req_duration{name:api}': ['p(95)<200'],
    'http_req_duration{name:dashboard}': ['p(95)<3000'],
    'http_reqs': ['rate>1000'],
    'http_req_failed': ['rate<0.01'],
}


def _parse_float(text, what, source):
    """k6 uses strconv.ParseFloat; we accept the same finite decimal forms and refuse NaN/Inf."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise K6ThresholdSyntaxError('threshold %r: %s %r is not a number' % (source, what, text)) from None
    if math.isnan(value) or math.isinf(value):
        raise K6ThresholdSyntaxError('threshold %r: %s %r is not a finite number' % (source, what, text))
    return value


class Threshold(namedtuple('Threshold', ('source', 'method', 'percentile', 'operator', 'limit', 'abort_on_fail'))):
    """One parsed threshold expression such as ``p(95) < 200`` (immutable)."""

    __slots__ = ()

    @property
    def aggregation(self):
        """The key k6 uses for this aggregation (``p(95)``, ``rate``...), as in thresholdExpression.SinkKey."""
        if self.method == 'p':
            return 'p(%s)' % _fmt_g(self.percentile)
        return self.method

    def compare(self, observed):
        """Apply the operator the way k6 does (float64 comparison; == and === both mean equality)."""
        op = self.operator
        if op == '<':
            return observed < self.limit
        if op == '<=':
            return observed <= self.limit
        if op == '>':
            return observed > self.limit
        if op == '>=':
            return observed >= self.limit
        if op in ('==', '==='):
            return observed == self.limit
        return observed != self.limit

    def normalized(self):
        return '%s%s%s' % (self.aggregation, self.operator, _fmt_g(self.limit))


def _fmt_g(value):
    return ('%.15g' % value) if value != int(value) or abs(value) >= 1e15 else str(int(value))


def parse_threshold(expr):
    """Parse one threshold as written in a k6 script's ``options.thresholds`` (string or
    ``{threshold: ..., abortOnFail: ...}`` object). Raises K6ThresholdSyntaxError."""
    abort = False
    if isinstance(expr, dict):
        unknown = set(expr) - {'threshold', 'abortOnFail', 'delayAbortEval'}
        if 'threshold' not in expr or unknown:
            raise K6ThresholdSyntaxError(
                'threshold object %r must have a "threshold" key (and optionally abortOnFail, delayAbortEval)'
                % (expr,))
        abort = bool(expr.get('abortOnFail', False))
        expr = expr['threshold']
    if not isinstance(expr, str):
        raise K6ThresholdSyntaxError('threshold %r is not a string' % (expr,))
    source = expr
    for op in _OPERATORS:
        left, sep, right = expr.partition(op)
        if sep:
            break
    else:
        raise K6ThresholdSyntaxError(
            'threshold %r: malformed, no operator (one of %s)' % (source, ', '.join(_OPERATORS)))
    left = left.strip()
    right = right.strip()
    if not right:
        raise K6ThresholdSyntaxError('threshold %r: nothing on the right of %r' % (source, op))
    limit = _parse_float(right, 'right-hand side', source)
    percentile = None
    if left in _METHODS:
        method = left
    elif left.startswith('p(') and left.endswith(')'):
        method = 'p'
        percentile = _parse_float(left[2:-1].strip(), 'percentile', source)
        if not 0.0 <= percentile <= 100.0:
            raise K6ThresholdSyntaxError('threshold %r: percentile %s is outside 0..100' % (source, left))
    else:
        raise K6ThresholdSyntaxError(
            'threshold %r: unknown aggregation %r (expected avg, min, max, med, p(N), rate, count or value)'
            % (source, left))
    return Threshold(source, method, percentile, op, limit, abort)


def parse_metric_expression(name):
    """Split ``metric{k:v,k2:v2}`` into (metric, {k: v}) following k6's ParseMetricName rules
    (braces balanced and last; each tag ``key:value`` with a non-empty value; spaces and quotes trimmed)."""
    if not isinstance(name, str) or not name.strip():
        raise K6ThresholdSyntaxError('metric expression %r is empty or not a string' % (name,))
    name = name.strip()
    opening = name.find('{')
    closing = name.rfind('}')
    if opening == -1 and closing == -1:
        _check_metric_name(name, name)
        return name, {}
    if opening == -1 or closing == -1:
        raise K6ThresholdSyntaxError('metric expression %r has an unmatched curly brace' % name)
    if closing < opening:
        raise K6ThresholdSyntaxError('metric expression %r closes its brace before opening it' % name)
    if closing != len(name) - 1:
        raise K6ThresholdSyntaxError('metric expression %r must end with its closing brace' % name)
    metric = name[:opening].strip()
    _check_metric_name(metric, name)
    tags = {}
    for part in name[opening + 1:closing].split(','):
        key, sep, value = part.partition(':')
        key = key.strip().strip('"\'')
        value = value.strip().strip('"\'')
        if not sep or not key or not value:
            raise K6ThresholdSyntaxError(
                'metric expression %r: tag %r is not of the form key:value' % (name, part.strip()))
        if key in tags and tags[key] != value:
            raise K6ThresholdSyntaxError('metric expression %r: tag %r given twice' % (name, key))
        tags[key] = value
    return metric, tags


def _check_metric_name(metric, expr):
    if not metric or any(c in metric for c in '{}:," \t'):
        raise K6ThresholdSyntaxError('metric expression %r: invalid metric name %r' % (expr, metric))


class ThresholdSet:
    """The thresholds the gate checks: metric expression -> parsed thresholds (order kept)."""

    def __init__(self, spec):
        if not isinstance(spec, dict) or not spec:
            raise K6ThresholdSyntaxError('thresholds must be a non-empty mapping of metric expression -> list')
        self.targets = []  # list of (expression, metric, tags, [Threshold])
        seen = {}
        for expr, items in spec.items():
            metric, tags = parse_metric_expression(expr)
            key = (metric, tuple(sorted(tags.items())))
            if key in seen:
                raise K6ThresholdSyntaxError(
                    'metric expressions %r and %r name the same (sub-)metric' % (seen[key], expr))
            seen[key] = expr
            if isinstance(items, (str, dict)):
                items = [items]
            if not isinstance(items, (list, tuple)) or not items:
                raise K6ThresholdSyntaxError('thresholds of %r must be a non-empty list' % (expr,))
            self.targets.append((expr, metric, tags, [parse_threshold(i) for i in items]))

    def metrics(self):
        return {t[1] for t in self.targets}


class MetricData:
    """Aggregated values of one (sub-)metric as a reader produced them.

    ``values`` maps a k6 aggregation key (``avg``, ``p(95)``, ``rate``, ``count``, ``value``...) to a float.
    ``quantile`` is an optional callable q(0..1) -> float for percentiles not listed in ``values``
    (NDJSON reader, backed by a DDSketch). ``k6_thresholds`` maps a threshold source as k6 wrote it to
    k6's own verdict (True = passed), for cross-checks; None when the format does not carry them.
    """

    def __init__(self, name, mtype, values, samples=None, quantile=None, k6_thresholds=None, note=None):
        self.name = name
        self.type = mtype
        self.values = values
        self.samples = samples
        self.quantile = quantile
        self.k6_thresholds = k6_thresholds or {}
        self.note = note


class Results:
    """What a reader extracted from a results file."""

    def __init__(self, fmt, lookup, duration_s=None, stats=None):
        self.format = fmt
        self.lookup = lookup  # callable (metric, tags) -> MetricData or None
        self.duration_s = duration_s
        self.stats = stats or {}


def _result_row(expr, thr, ok, observed=None, reason=None, mdata=None):
    k6_ok = None
    if mdata is not None and mdata.k6_thresholds:
        want = thr.normalized()
        for src, verdict in mdata.k6_thresholds.items():
            try:
                if parse_threshold(src).normalized() == want:
                    k6_ok = verdict
                    break
            except K6ThresholdSyntaxError:
                continue
    return {
        'metric': expr,
        'threshold': thr.source,
        'aggregation': thr.aggregation,
        'operator': thr.operator,
        'limit': thr.limit,
        'observed': observed,
        'ok': ok,
        'reason': reason,
        'metric_type': mdata.type if mdata is not None else None,
        'samples': mdata.samples if mdata is not None else None,
        'k6_ok': k6_ok,
    }


def evaluate(threshold_set, results):
    """Evaluate every threshold against the results. Never raises for data problems:
    a missing metric, a missing aggregation or a type mismatch is a failed threshold with a reason."""
    rows = []
    for expr, metric, tags, thresholds in threshold_set.targets:
        mdata = results.lookup(metric, tags)
        for thr in thresholds:
            if mdata is None:
                rows.append(_result_row(expr, thr, False, reason='metric %s not found in the %s results'
                                        % (expr, results.format)))
                continue
            if mdata.type in AGGREGATIONS_BY_TYPE and thr.method not in AGGREGATIONS_BY_TYPE[mdata.type]:
                rows.append(_result_row(
                    expr, thr, False, mdata=mdata,
                    reason='aggregation %s is not valid for %s metric %s (valid: %s)' % (
                        thr.aggregation, mdata.type, expr,
                        ', '.join('p(N)' if m == 'p' else m for m in AGGREGATIONS_BY_TYPE[mdata.type]))))
                continue
            if mdata.samples == 0:
                rows.append(_result_row(expr, thr, False, mdata=mdata,
                                        reason='metric %s has no samples' % expr))
                continue
            observed = mdata.values.get(thr.aggregation)
            if observed is None and thr.method == 'p' and mdata.quantile is not None:
                observed = mdata.quantile(thr.percentile / 100.0)
            if observed is None:
                reason = mdata.note or ('aggregation %s of %s is not in the %s results'
                                        % (thr.aggregation, expr, results.format))
                rows.append(_result_row(expr, thr, False, mdata=mdata, reason=reason))
                continue
            if not is_number(observed) or math.isnan(observed):
                rows.append(_result_row(expr, thr, False, mdata=mdata,
                                        reason='aggregation %s of %s is not a number: %r'
                                        % (thr.aggregation, expr, observed)))
                continue
            ok = thr.compare(observed)
            reason = None if ok else '%s %s=%s, limit %s%s' % (
                expr, thr.aggregation, format_number(observed), thr.operator, _fmt_g(thr.limit))
            rows.append(_result_row(expr, thr, ok, observed=float(observed), reason=reason, mdata=mdata))
    return rows


def is_number(value):
    """A JSON number (bool is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_number(value):
    if value is None:
        return '-'
    return '%.6g' % value


def summarize(rows):
    failed = [r for r in rows if not r['ok']]
    disagreements = [r for r in rows if r['k6_ok'] is not None and r['k6_ok'] != r['ok']]
    return {
        'passed': not failed and bool(rows),
        'total': len(rows),
        'failed': len(failed),
        'disagreements': len(disagreements),
    }
