# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031
# (ansible-test sanity wants the Python 2 era module header, %-formatting and dict() argument specs)
"""Instant queries against Prometheus' HTTP API, reduced to one number, failing closed.

Anything that is not a clean number is an error: HTTP or connection errors, a body that is not
Prometheus' JSON, status != success, no series, several series without an explicit aggregation,
a range (matrix) or string result, NaN and +/-Inf.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import operator
from http.client import HTTPException
from urllib.parse import urlencode

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url


class PrometheusError(Exception):
    """Base class: the gate could not get a trustworthy number (it fails closed)."""


class PrometheusHTTPError(PrometheusError):
    pass


class PrometheusQueryError(PrometheusError):
    pass


class NoData(PrometheusError):
    pass


class NotANumber(PrometheusError):
    pass


class AmbiguousResult(PrometheusError):
    pass


OPERATORS = {
    '<': operator.lt,
    '<=': operator.le,
    '>': operator.gt,
    '>=': operator.ge,
    '==': operator.eq,
    '!=': operator.ne,
}

AGGREGATIONS = {
    'min': min,
    'max': max,
    'sum': sum,
    'avg': lambda values: sum(values) / len(values),
}


def query_url(base_url, query, time=None):
    params = [('query', query)]
    if time is not None:
        params.append(('time', str(time)))
    return base_url.rstrip('/') + '/api/v1/query?' + urlencode(params)


def fetch(base_url, query, time=None, timeout=10, headers=None, validate_certs=True,
          url_username=None, url_password=None):
    """GET /api/v1/query and return the decoded JSON body's data, or raise a PrometheusError."""
    url = query_url(base_url, query, time)
    try:
        resp = open_url(url, method='GET', headers=headers or {}, timeout=timeout,
                        validate_certs=validate_certs, url_username=url_username,
                        url_password=url_password, force_basic_auth=bool(url_username))
        raw = resp.read()
    except (OSError, HTTPException, UrlsConnectionError) as e:  # HTTPError, URLError, timeouts, TLS
        # HTTPError carries Prometheus' own JSON error (400 bad_data, 422 execution, 503 unavailable)
        detail = ''
        code = getattr(e, 'code', None)
        if hasattr(e, 'read'):
            try:
                body = json.loads(to_text(e.read()))
                detail = ': %s: %s' % (body.get('errorType'), body.get('error'))
            except (ValueError, AttributeError, OSError, HTTPException):
                detail = ''
        if code is not None:
            raise PrometheusHTTPError('Prometheus answered HTTP %s for %s%s' % (code, url, detail)) from e
        raise PrometheusHTTPError('cannot reach Prometheus at %s: %s' % (url, e)) from e
    try:
        body = json.loads(to_text(raw))
    except ValueError as e:
        raise PrometheusQueryError('Prometheus at %s did not answer JSON: %r' % (url, to_text(raw)[:200])) from e
    if not isinstance(body, dict) or body.get('status') != 'success':
        err = body.get('error') if isinstance(body, dict) else None
        raise PrometheusQueryError('query failed (status %r): %s' % (
            body.get('status') if isinstance(body, dict) else None, err))
    data = body.get('data')
    if not isinstance(data, dict) or 'resultType' not in data:
        raise PrometheusQueryError('Prometheus answer has no data.resultType')
    return data


def _number(text, where):
    try:
        value = float(text)
    except (TypeError, ValueError) as e:
        raise NotANumber('%s is not a number: %r' % (where, text)) from e
    if math.isnan(value):
        raise NotANumber('%s is NaN (e.g. a ratio of zero requests): failing closed' % where)
    if math.isinf(value):
        raise NotANumber('%s is infinite (%r): failing closed' % (where, text))
    return value


def reduce_result(data, aggregate=None):
    """One float out of a query result.

    scalar -> its value; vector of one series -> its value; vector of several series -> only with
    aggregate (min/max/avg/sum); empty vector -> NoData; matrix/string -> error.
    Returns (value, series) where series is the list of {metric, value} seen.
    """
    kind = data.get('resultType')
    result = data.get('result')
    if kind == 'scalar':
        if not isinstance(result, list) or len(result) != 2:
            raise PrometheusQueryError('malformed scalar result: %r' % (result,))
        return _number(result[1], 'the scalar result'), []
    if kind != 'vector':
        raise AmbiguousResult('result type %r cannot be compared with a threshold: use an instant vector or '
                              'scalar query (no range selector at the top level)' % kind)
    if not isinstance(result, list):
        raise PrometheusQueryError('malformed vector result: %r' % (result,))
    if not result:
        raise NoData('the query returned no series (no data): failing closed')
    series = []
    for item in result:
        metric = item.get('metric', {}) if isinstance(item, dict) else {}
        sample = item.get('value') if isinstance(item, dict) else None
        if not isinstance(sample, list) or len(sample) != 2:
            raise PrometheusQueryError('malformed sample in vector result: %r' % (item,))
        series.append({'metric': metric, 'value': _number(sample[1], 'series %s' % json.dumps(metric, sort_keys=True))})
    if len(series) > 1:
        if not aggregate:
            raise AmbiguousResult('the query returned %d series (%s): aggregate it in PromQL (sum/avg/max ...) '
                                  'or set aggregate' % (len(series), ', '.join(
                                      json.dumps(s['metric'], sort_keys=True) for s in series[:5])))
        return AGGREGATIONS[aggregate]([s['value'] for s in series]), series
    return series[0]['value'], series


def evaluate(value, op, threshold):
    """True when 'value op threshold' holds (the gate passes)."""
    return OPERATORS[op](value, threshold)
