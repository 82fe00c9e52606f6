# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031
# (ansible-test sanity wants the Python 2 era module header and %-formatting)
"""The three k6 results formats: detection and the reader of each, for the k6_gate module.

Formats, as k6 writes them (read from k6's source, grafana/k6):
- ``summary_export`` (``k6 run --summary-export=FILE``) and ``handle_summary`` (``JSON.stringify(data)`` in
  ``handleSummary(data)``): read by k6_summary.
- ``ndjson`` (``k6 run --out json=FILE[.gz]``): read by k6_ndjson in one pass, or by k6_parallel in forked
  processes over byte ranges of a large plain file.
Covered: k6 v0.30.0 (first with handleSummary, 2021) to v1.x; the NDJSON layout is older and unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.mss.platform.plugins.module_utils.k6 import K6FormatError
from ansible_collections.mss.platform.plugins.module_utils.k6_ndjson import open_results
from ansible_collections.mss.platform.plugins.module_utils.k6_parallel import NdjsonReader
from ansible_collections.mss.platform.plugins.module_utils.k6_summary import (
    classify_summary,
    load_json_document,
    read_summary,
)

FORMATS = ('summary_export', 'handle_summary', 'ndjson')


def detect_format(path):
    """Return one of FORMATS, or raise K6FormatError naming why it cannot tell (fails closed)."""
    handle, gz = open_results(path)
    try:
        try:
            first = handle.readline()
            while first and not first.strip():
                first = handle.readline()
        except (OSError, EOFError) as exc:
            raise K6FormatError('cannot read results file %s: %s' % (path, exc)) from exc
    finally:
        handle.close()
    if not first:
        raise K6FormatError('results file %s is empty' % path)
    try:
        obj = json.loads(first)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and obj.get('type') in ('Metric', 'Point') and 'data' in obj:
        return 'ndjson'
    if gz:
        raise K6FormatError('results file %s is gzip-compressed but is not k6 NDJSON output' % path)
    data = load_json_document(path)
    return classify_summary(data, path)


def read_results(path, fmt, threshold_set, relative_accuracy=0.01, workers=1):
    """Read ``path`` as ``fmt`` (``auto`` detects it, failing closed) for the given ThresholdSet."""
    if fmt == 'auto':
        fmt = detect_format(path)
    elif fmt not in FORMATS:
        raise K6FormatError('unknown format %r (expected auto, %s)' % (fmt, ', '.join(FORMATS)))
    if fmt == 'ndjson':
        targets = [(metric, tags) for _expr, metric, tags, _thr in threshold_set.targets]
        return NdjsonReader(path, targets, relative_accuracy, workers=workers).read()
    return read_summary(path, fmt)
