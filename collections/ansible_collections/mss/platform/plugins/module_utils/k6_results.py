# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, PLR1730
# (ansible-test sanity wants the Python 2 era module header and %-formatting; explicit if-compare is faster
# than min()/max() in the per-sample path)
"""Readers for the three k6 results formats, for the k6_gate module.

Formats, as k6 writes them (read from k6's source, grafana/k6):
- ``summary_export`` (``k6 run --summary-export=FILE``): js/summary-wrapper.js ``oldJSONSummary``. Each
  ``metrics.<name>`` is the flat ``values`` object; its ``thresholds`` map says **true when the threshold
  FAILED**; a rate metric's ``rate`` is renamed ``value``. The metric type is not written: it is inferred
  from the keys (rate: passes/fails/value, counter: count/rate, gauge: value/min/max, trend: the rest).
- ``handle_summary`` (``JSON.stringify(data)`` in ``handleSummary(data)``): js/summary.go
  ``summarizeMetricsToObject``: ``metrics.<name> = {type, contains, values, thresholds: {<expr>: {ok}}}``,
  ``state.testRunDurationMs``.
- ``ndjson`` (``k6 run --out json=FILE[.gz]``): output/json/wrapper.go: one JSON object a line,
  ``{"type":"Metric","data":{"name","type","contains","thresholds","submetrics"},"metric":NAME}`` once per
  metric before its first point, then ``{"metric":NAME,"type":"Point","data":{"time","value","tags"[,
  "metadata"]}}`` per sample. Gzip-compressed files (k6 writes them for a ``.gz`` name) are read too.
Covered: k6 v0.30.0 (first with handleSummary, 2021) to v1.x; the NDJSON layout is older and unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import gzip
import json
import math
import os
import sys
import time

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX: the parallel path is off
    resource = None

from ansible_collections.mss.platform.plugins.module_utils.k6 import (
    COUNTER,
    GAUGE,
    METRIC_TYPES,
    RATE,
    TREND,
    K6FormatError,
    K6GateError,
    K6MissingDependencyError,
    K6ThresholdSyntaxError,
    MetricData,
    Results,
    parse_metric_expression,
)

try:
    from ddsketch import DDSketch
    HAS_DDSKETCH = True
    DDSKETCH_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised through the module's missing_required_lib path
    DDSketch = None
    HAS_DDSKETCH = False
    DDSKETCH_IMPORT_ERROR = exc

FORMATS = ('summary_export', 'handle_summary', 'ndjson')
_GZIP_MAGIC = b'\x1f\x8b'


def _open_binary(path):
    try:
        handle = open(path, 'rb')  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as exc:
        raise K6FormatError('cannot read results file %s: %s' % (path, exc)) from exc
    head = handle.read(2)
    handle.seek(0)
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode='rb'), True
    return handle, False


def detect_format(path):
    """Return one of FORMATS, or raise K6FormatError naming why it cannot tell (fails closed)."""
    handle, gz = _open_binary(path)
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
    data = _load_json_document(path)
    return _classify_summary(data, path)


def _load_json_document(path):
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


def _classify_summary(data, path):
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
        elif all(k == 'thresholds' or _is_number(v) for k, v in entry.items()):
            kinds.add('summary_export')
        else:
            raise K6FormatError('results file %s: metric %r is neither in summary-export form (numbers) nor in '
                                'handleSummary form ({type, values})' % (path, name))
    if len(kinds) != 1:
        raise K6FormatError('results file %s is ambiguous: its metrics mix summary-export and handleSummary '
                            'forms' % path)
    return kinds.pop()


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    data = _load_json_document(path)
    detected = _classify_summary(data, path)
    if fmt is not None and fmt != detected:
        raise K6FormatError('results file %s was given as %s but its content is %s' % (path, fmt, detected))
    duration = None
    state = data.get('state')
    if isinstance(state, dict) and _is_number(state.get('testRunDurationMs')):
        duration = state['testRunDurationMs'] / 1000.0
    entries = []
    for name, entry in data['metrics'].items():
        if detected == 'handle_summary':
            mtype = entry['type']
            values = {k: v for k, v in entry['values'].items() if _is_number(v)}
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


# ---------------------------------------------------------------------------------------------------------------
# NDJSON (--out json), streamed in constant memory.

class _Accumulator:
    """Aggregates one (sub-)metric's samples as k6's sink of that type would (metrics/sink.go)."""

    __slots__ = ('add', 'count', 'last', 'max', 'min', 'pending', 'sketch', 'total', 'trues', 'type')

    def __init__(self, mtype, relative_accuracy):
        self.type = mtype
        self.count = 0
        self.total = 0.0
        self.trues = 0
        self.last = None
        self.min = math.inf
        self.max = -math.inf
        self.sketch = None
        self.pending = None
        if mtype == TREND:
            self.sketch = DDSketch(relative_accuracy)
            self.pending = []
            self.add = self.pending.append
        elif mtype == RATE:
            self.add = self._add_rate
        elif mtype == COUNTER:
            self.add = self._add_counter
        else:
            self.add = self._add_gauge

    def flush(self):
        # Batching: samples are appended to a bounded buffer (a C-level list append per sample) and fed
        # to the sketch in one tight loop; min/max/count come from C builtins over the batch.
        batch = self.pending
        if batch:
            add = self.sketch.add
            for value in batch:
                add(value)
            low = min(batch)
            high = max(batch)
            if low < self.min:
                self.min = low
            if high > self.max:
                self.max = high
            self.count += len(batch)
            self.pending = []
            self.add = self.pending.append

    def export(self):
        """The accumulator's state, picklable, for a parallel worker to hand to the parent."""
        if self.pending:
            self.flush()
        return (self.type, self.count, self.total, self.trues, self.last, self.min, self.max, self.sketch)

    def merge(self, state):
        """Add the state of the same (sub-)metric over a later part of the file (states merged in file order)."""
        mtype, count, total, trues, last, low, high, sketch = state
        if mtype != self.type:
            raise K6GateError('cannot merge a %s accumulator into a %s one' % (mtype, self.type))
        if not count:
            return
        if self.pending:
            self.flush()
        self.count += count
        self.total += total
        self.trues += trues
        self.last = last  # a gauge's last value is the one of the latest part holding samples
        if low < self.min:
            self.min = low
        if high > self.max:
            self.max = high
        if sketch is not None:
            self.sketch.merge(sketch)

    def _add_rate(self, value):
        self.count += 1
        if value != 0:
            self.trues += 1

    def _add_counter(self, value):
        self.count += 1
        self.total += value

    def _add_gauge(self, value):
        self.count += 1
        self.last = value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def to_metric_data(self, name, duration_s):
        if self.pending:
            self.flush()
        values = {}
        quantile = None
        note = None
        if self.count:
            if self.type == TREND:
                sk = self.sketch
                lo, hi = self.min, self.max
                values = {'min': lo, 'max': hi, 'avg': sk.sum / sk.count}

                n = self.count

                def order_statistic(i):
                    # Sketch estimate of the i-th smallest sample (0-based); the extremes are exact.
                    if i <= 0:
                        return lo
                    if i >= n - 1:
                        return hi
                    # rank i + 0.5 selects the bucket holding sample i, safely away from float rounding.
                    return min(max(sk.get_quantile_value((i + 0.5) / (n - 1)), lo), hi)

                def quantile(q):
                    # k6's classic percentile: linear interpolation between the order statistics around
                    # rank q*(n-1). Interpolating the sketch's estimates keeps DDSketch's bound: for
                    # non-negative samples the result is within relative_accuracy of k6's exact value.
                    rank = q * (n - 1)
                    below = math.floor(rank)
                    frac = rank - below
                    value = order_statistic(below)
                    if frac > 0:
                        value += frac * (order_statistic(below + 1) - value)
                    return value
                values['med'] = quantile(0.5)
            elif self.type == RATE:
                values = {'rate': self.trues / self.count}
            elif self.type == COUNTER:
                values = {'count': self.total}
                if duration_s and duration_s > 0:
                    values['rate'] = self.total / duration_s
                else:
                    note = ('counter rate needs a test duration; the NDJSON points of this file span no time '
                            '(first point timestamp == last)')
            else:
                values = {'value': self.last}
        return MetricData(name, self.type, values, samples=self.count, quantile=quantile, note=note)


class _TimeSpan:
    """First/last point timestamp. Go writes RFC 3339 with up to 9 fractional digits and a Z or +hh:mm
    offset; whole seconds are converted once per distinct second and cached."""

    __slots__ = ('_cache', 'first', 'last')

    def __init__(self):
        self.first = math.inf
        self.last = -math.inf
        self._cache = {}

    def seconds(self, ts):
        """ts: bytes like b'2021-02-24T13:37:10.123456789+02:00'."""
        if ts[-1:] == b'Z':
            tz = b'Z'
            frac = ts[19:-1]
        else:
            tz = ts[-6:]
            frac = ts[19:-6]
        key = ts[:19] + tz
        base = self._cache.get(key)
        if base is None:
            base = self._convert(ts, tz)
            if len(self._cache) > 65536:
                self._cache.clear()
            self._cache[key] = base
        if frac:
            if frac[:1] != b'.':
                raise ValueError('bad fractional seconds')
            return base + float(frac)
        return base

    @staticmethod
    def _convert(ts, tz):
        text = ts[:19].decode('ascii')
        parsed = time.strptime(text, '%Y-%m-%dT%H:%M:%S')
        epoch = calendar.timegm(parsed)
        if tz != b'Z':
            sign = 1 if tz[:1] == b'+' else -1
            if tz[:1] not in (b'+', b'-') or tz[3:4] != b':':
                raise ValueError('bad timezone offset')
            epoch -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
        return float(epoch)

    def add(self, ts):
        value = self.seconds(ts)
        if value < self.first:
            self.first = value
        if value > self.last:
            self.last = value

    @property
    def duration(self):
        if self.first == math.inf:
            return None
        return self.last - self.first


def _plain(text):
    """True when a tag key/value is written by Go's JSON encoder exactly as Python would write it
    without escapes, so its raw bytes can be searched for in a line."""
    return all(c.isalnum() or c in ' _-.:/@=+*()[]#$%^~' for c in text) and text.isascii()


class _Target:
    __slots__ = ('acc', 'items', 'metric', 'needles', 'tags')

    def __init__(self, metric, tags):
        self.metric = metric
        self.tags = tags
        self.items = tuple(sorted(tags.items()))
        # Raw-byte needles for the fast path: '"key":"value"' must occur inside the tags object.
        if all(_plain(k) and _plain(v) for k, v in tags.items()):
            self.needles = [('"%s":"%s"' % (k, v)).encode('ascii') for k, v in self.items]
        else:
            self.needles = None
        self.acc = None


class _LineError(K6FormatError):
    """A line of the file is wrong; carries the line number so that a parallel worker's error can be renumbered."""

    def __init__(self, path, lineno, why):
        super(_LineError, self).__init__('results file %s line %d: %s' % (path, lineno, why))
        self.lineno = lineno
        self.why = why


class _UndeclaredPoint(_LineError):
    """A threshold's Point before any Metric line of its metric in the part read (the parent decides whether an
    earlier part declared it)."""

    def __init__(self, path, lineno, metric):
        super(_UndeclaredPoint, self).__init__(
            path, lineno, 'Point of %s before its Metric line (not k6 output, or lines out of order)' % metric)
        self.metric = metric


_CGROUP_CPU_FILES = (('/sys/fs/cgroup/cpu.max', None),  # cgroup v2: "<quota> <period>" or "max <period>"
                     ('/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu/cpu.cfs_period_us'))  # v1
AUTO_WORKERS_MAX = 8


def _cgroup_cpu_limit(files=_CGROUP_CPU_FILES):
    """CPUs allowed by a cgroup CPU quota (a container's or a pod's limit), or None when there is none."""
    for quota_file, period_file in files:
        try:
            with open(quota_file) as handle:
                fields = handle.read().split()
            if period_file is not None:
                with open(period_file) as handle:
                    fields.append(handle.read().strip())
            quota, period = fields[0], int(fields[1])
            if quota in ('max', '-1'):
                return None
            return max(1, int(math.ceil(int(quota) / float(period))))
        except (OSError, ValueError, IndexError, ZeroDivisionError):
            continue
    return None


def usable_cpus():
    """CPUs this process may use: its affinity mask (taskset, cpusets), capped by a cgroup CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    return min(count, limit) if limit else count


def _fork_context():
    """multiprocessing's fork context, imported only when a file is big enough to be read in parallel."""
    if resource is None:
        return None  # pragma: no cover
    try:
        import multiprocessing  # pylint: disable=import-outside-toplevel
        return multiprocessing.get_context('fork')
    except (ImportError, ValueError):  # pragma: no cover - no fork on this platform
        return None


def split_ranges(path, size, parts):
    """Cut [0, size) into at most ``parts`` byte ranges that start and end at line boundaries."""
    starts = [0]
    with open(path, 'rb') as handle:
        for i in range(1, parts):
            pos = size * i // parts
            if pos <= starts[-1]:
                continue
            handle.seek(pos - 1)
            handle.readline()  # to just after the newline at or after pos - 1
            start = handle.tell()
            if start >= size:
                break
            if start > starts[-1]:
                starts.append(start)
    return list(zip(starts, starts[1:] + [size]))  # noqa: B905 - same lengths; strict= needs Python 3.10


def _range_batches(handle, start, end, hint=1 << 20):
    """Batches of lines of [start, end) (end at a line boundary), split exactly as readlines splits them."""
    handle.seek(start)
    pos = start
    while pos < end:
        lines = handle.readlines(hint)
        if not lines:
            return
        pos += sum(map(len, lines))
        while pos > end:
            pos -= len(lines.pop())
        if lines:
            yield lines


def _read_range(path, targets, relative_accuracy, fast, start, end, seed):
    """Read one byte range with ``seed`` = the metric types declared before it (as far as the parent knows).
    Returns a picklable dict; line numbers are relative to the range."""
    reader = NdjsonReader(path, targets, relative_accuracy, fast=fast)
    for name, mtype in seed.items():
        reader.types[name] = mtype
        for tgt in reader.by_metric.get(name, ()):
            tgt.acc = _Accumulator(mtype, relative_accuracy)
    try:
        handle = open(path, 'rb')  # noqa: SIM115 - closed below
    except OSError as exc:
        return {'status': 'fatal', 'why': 'cannot read results file %s: %s' % (path, exc)}
    try:
        lineno, last = reader._scan(_range_batches(handle, start, end))
    except _UndeclaredPoint as exc:
        return {'status': 'undeclared', 'lineno': exc.lineno, 'why': exc.why, 'metric': exc.metric,
                'declared': reader.declared}
    except _LineError as exc:
        return {'status': 'error', 'lineno': exc.lineno, 'why': exc.why, 'declared': reader.declared}
    except (OSError, EOFError) as exc:
        return {'status': 'fatal', 'why': 'results file %s is unreadable: %s' % (path, exc)}
    finally:
        handle.close()
    return {'status': 'ok', 'lines': lineno, 'last': last, 'points': reader.points,
            'points_used': reader.points_used, 'first_ts': reader.span.first, 'last_ts': reader.span.last,
            'declared': reader.declared,
            'accs': [tgt.acc.export() if tgt.acc is not None else None for tgt in reader.targets]}


def _range_worker(conn, args):
    """Entry point of a forked worker process: read one range, send the result, report the peak RSS."""
    try:
        result = _read_range(*args)
    except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-except
        # any failure must reach the parent, which fails closed
        result = {'status': 'fatal', 'why': 'worker failed: %s: %s' % (type(exc).__name__, exc)}
    usage = resource.getrusage(resource.RUSAGE_SELF)  # a forked child's counters start at zero
    result['pid'] = os.getpid()
    result['maxrss_kib'] = usage.ru_maxrss
    result['cpu_s'] = usage.ru_utime + usage.ru_stime
    conn.send(result)
    conn.close()


def _head_declarations(path, limit=4 << 20):
    """Metric lines in the first ``limit`` bytes: [(byte offset, name, type)], first declaration of each name.
    Only a hint for the workers (k6 declares its metrics as they first appear, so nearly all of them here);
    every line is still checked by the worker that owns it. Read in 1 MiB batches to keep memory low."""
    found = []
    seen = set()
    offset = 0
    with open(path, 'rb') as handle:
        while offset < limit:
            lines = handle.readlines(1 << 20)
            if not lines:
                break
            for line in lines:
                if b'"Metric"' in line and line.endswith(b'\n'):
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        obj = None
                    data = obj.get('data') if isinstance(obj, dict) and obj.get('type') == 'Metric' else None
                    name = obj.get('metric') if isinstance(data, dict) else None
                    if isinstance(name, str) and data.get('type') in METRIC_TYPES and name not in seen:
                        seen.add(name)
                        found.append((offset, name, data['type']))
                offset += len(line)
    return found


class NdjsonReader:
    """Streams a k6 NDJSON file once, feeding only the (sub-)metrics the thresholds name.

    Every Point line gets a structural check and its timestamp read (the duration is first to last point
    of the whole file). Lines in k6's canonical layout (``{"metric":...,"type":"Point","data":{"time":...,
    "value":...,"tags":{...}}}``) take a fast path that never builds a dict: lines of metrics no threshold
    names are skipped after the name is read, and a threshold's value is sliced out of the line. Every
    other line (Metric lines, other key orders, unusual tags) is parsed with json.loads. Memory is constant:
    one accumulator (a DDSketch for trends) per threshold target, whatever the file size.

    With ``workers`` > 1 (0: one per usable CPU) a plain file of at least ``min_chunk_bytes`` per worker is cut
    into byte ranges at line boundaries, each read by a forked process, and the per-range states are merged
    in file order (see ``_read_parallel``) into exactly what one pass gives.
    """

    MIN_CHUNK_BYTES = 32 << 20
    HEAD_BYTES = 4 << 20  # where the parent looks for Metric lines to seed the workers with

    def __init__(self, path, targets, relative_accuracy=0.01, fast=True, workers=1, min_chunk_bytes=None):
        if not HAS_DDSKETCH:
            raise K6MissingDependencyError('ddsketch is required to evaluate NDJSON results: %s'
                                           % DDSKETCH_IMPORT_ERROR)
        if not 0.0 < relative_accuracy < 1.0:
            raise K6GateError('relative_accuracy must be between 0 and 1 (exclusive), got %r'
                              % relative_accuracy)
        self.path = path
        self.relative_accuracy = relative_accuracy
        self.fast = fast
        self.by_metric = {}
        self.targets = []
        for metric, tags in targets:
            tgt = _Target(metric, tags)
            self.targets.append(tgt)
            self.by_metric.setdefault(metric, []).append(tgt)
        self.by_metric_b = {k.encode('utf-8'): v for k, v in self.by_metric.items()}
        # 0: some target's tags cannot be matched on raw bytes (always parse), 1: raw-byte matching.
        self.fast_mode = {k: 0 if any(t.needles is None for t in v) else 1 for k, v in self.by_metric.items()}
        self.types = {}
        self.span = _TimeSpan()
        self.lines = 0
        self.points = 0
        self.points_used = 0
        if workers is None or workers < 0:
            raise K6GateError('workers must be 0 (one per usable CPU) or a positive number, got %r' % (workers,))
        self.workers = workers
        self.min_chunk_bytes = self.MIN_CHUNK_BYTES if min_chunk_bytes is None else max(1, min_chunk_bytes)
        self.declared = []  # (line, name, type) of the first Metric line of each name read by this reader
        self.workers_used = 1
        self.worker_peak_rss_kib = []
        self.worker_cpu_s = []

    # -- helpers ------------------------------------------------------------------------------------------------
    def _err(self, lineno, why):
        return _LineError(self.path, lineno, why)

    def _declare(self, lineno, obj):
        data = obj.get('data')
        name = obj.get('metric')
        if not isinstance(data, dict) or not isinstance(name, str):
            raise self._err(lineno, 'Metric line without "metric" name or "data" object')
        mtype = data.get('type')
        if mtype not in METRIC_TYPES:
            raise self._err(lineno, 'metric %s has unknown type %r' % (name, mtype))
        known = self.types.get(name)
        if known is not None and known != mtype:
            raise self._err(lineno, 'metric %s declared as %s then as %s' % (name, known, mtype))
        if known is None:
            self.declared.append((lineno, name, mtype))
        self.types[name] = mtype
        for tgt in self.by_metric.get(name, ()):
            if tgt.acc is None:
                tgt.acc = _Accumulator(mtype, self.relative_accuracy)

    def _point_slow(self, lineno, obj):
        name = obj.get('metric')
        data = obj.get('data')
        if not isinstance(name, str) or not isinstance(data, dict):
            raise self._err(lineno, 'Point line without "metric" name or "data" object')
        ts = data.get('time')
        value = data.get('value')
        if not isinstance(ts, str) or not _is_number(value):
            raise self._err(lineno, 'Point of %s without a "time" string and a numeric "value"' % name)
        try:
            self.span.add(ts.encode('ascii'))
        except (ValueError, UnicodeError, IndexError):
            raise self._err(lineno, 'Point of %s has an unreadable time %r' % (name, ts)) from None
        self.points += 1
        tgts = self.by_metric.get(name)
        if not tgts:
            return
        tags = data.get('tags') or {}
        if not isinstance(tags, dict):
            raise self._err(lineno, 'Point of %s has tags that are not an object' % name)
        for tgt in tgts:
            if all(tags.get(k) == v for k, v in tgt.items):
                if tgt.acc is None:
                    raise _UndeclaredPoint(self.path, lineno, name)
                tgt.acc.add(float(value))
                self.points_used += 1

    # -- main loop ----------------------------------------------------------------------------------------------
    def read(self):
        ranges = self._plan()
        if ranges:
            return self._read_parallel(ranges)
        handle, _gz = _open_binary(self.path)
        try:
            lineno, last = self._scan(iter(lambda: handle.readlines(1 << 20), []))
        except (OSError, EOFError) as exc:
            raise K6FormatError('results file %s is unreadable or truncated (compressed stream): %s'
                                % (self.path, exc)) from exc
        finally:
            handle.close()
        self.lines = lineno
        self._check_end(lineno, last)
        return self.results()

    def _check_end(self, lineno, last):
        if lineno == 0:
            raise K6FormatError('results file %s is empty' % self.path)
        if not last.endswith(b'\n'):
            # k6 ends every line with a newline; a last line without one was cut off mid-write.
            try:
                json.loads(last)
            except ValueError:
                raise self._err(lineno, 'truncated: the last line is incomplete JSON') from None

    # -- parallel reading -------------------------------------------------------------------------------------
    def _plan(self):
        """Byte ranges for the workers, or None for one pass (workers=1, a gzip stream, a small file, no fork)."""
        if self.workers == 1:
            return None
        try:
            size = os.path.getsize(self.path)
            with open(self.path, 'rb') as handle:
                if handle.read(2) == _GZIP_MAGIC:
                    return None  # a gzip stream cannot be entered in the middle
        except OSError:
            return None  # the single pass reports the error
        parts = min(self.workers or min(usable_cpus(), AUTO_WORKERS_MAX), size // self.min_chunk_bytes)
        if parts < 2 or _fork_context() is None:
            return None
        ranges = split_ranges(self.path, size, parts)
        return ranges if len(ranges) > 1 else None

    def _range_args(self, start, end, seed):
        targets = [(tgt.metric, tgt.tags) for tgt in self.targets]
        return (self.path, targets, self.relative_accuracy, self.fast, start, end, seed)

    def _read_parallel(self, ranges, in_process=False):
        """Read ``ranges`` (consecutive, at line boundaries, covering the file) in forked workers, then merge.

        Semantics, identical to one pass over the file:
        - each worker is seeded with the metric types declared before its range, from the Metric lines of the
          file's first MiBs (``_head_declarations``); it checks every line of its range as the single pass does
          and stops at the first error, numbered within its range;
        - the parent walks the ranges in file order, renumbering lines with the line counts of the ranges
          before: the first error in file order is raised; a threshold's Point before any Metric line of its
          metric in the worker's view is an error only if no earlier range declared the metric, otherwise that
          range is read again in the parent with the now-complete types (k6 declares a metric just before its
          first point, so this is rare); a Metric line that redeclares a metric with another type is an error;
        - accumulators merge in file order: counts and sums add, min/max combine, DDSketches merge (bucket
          counts add, so percentiles equal one pass's), a gauge's last value is the latest range's; only the
          floating-point summation order of counter totals and trend averages differs;
        - the duration spans the earliest to the latest point timestamp of all ranges; only the last range's
          last line can lack its newline (the truncation check).
        ``in_process`` runs the workers one after another in this process (tests of the merge).
        """
        head = _head_declarations(self.path, self.HEAD_BYTES)
        tasks = []
        for start, end in ranges:
            seed = {}
            for offset, name, mtype in head:
                if offset < start:
                    seed.setdefault(name, mtype)
            tasks.append(self._range_args(start, end, seed))
        if in_process:
            results = [_read_range(*args) for args in tasks]
        else:
            results = self._run_workers(tasks)
        types = {}
        line_base = 0
        states = []
        last = b''
        first_ts, last_ts = math.inf, -math.inf
        points = points_used = 0
        # results stops early at a worker's fatal error, which is then raised: zip may be shorter than ranges
        for (start, end), res in zip(ranges, results):  # noqa: B905
            if res['status'] == 'undeclared' and res['metric'] in types:
                res = _read_range(*self._range_args(start, end, dict(types)))
            if res['status'] == 'fatal':
                raise K6FormatError(res['why'])
            for lineno, name, mtype in res['declared']:
                known = types.get(name)
                if known is not None and known != mtype:
                    raise self._err(line_base + lineno, 'metric %s declared as %s then as %s' % (name, known, mtype))
                types.setdefault(name, mtype)
            if res['status'] != 'ok':
                raise self._err(line_base + res['lineno'], res['why'])
            line_base += res['lines']
            last = res['last']
            points += res['points']
            points_used += res['points_used']
            if res['first_ts'] < first_ts:
                first_ts = res['first_ts']
            if res['last_ts'] > last_ts:
                last_ts = res['last_ts']
            states.append(res['accs'])
        self.types = types
        self.lines = line_base
        self.points = points
        self.points_used = points_used
        self.span.first = first_ts
        self.span.last = last_ts
        for index, tgt in enumerate(self.targets):
            mtype = types.get(tgt.metric)
            if mtype is None:
                continue
            tgt.acc = _Accumulator(mtype, self.relative_accuracy)
            for accs in states:
                if accs[index] is not None:
                    tgt.acc.merge(accs[index])
        self.workers_used = len(ranges)
        self._check_end(line_base, last)
        return self.results()

    def _run_workers(self, tasks):
        """One forked process per range; results come back through pipes, in range order."""
        ctx = _fork_context()
        procs = []
        results = []
        # A forked child flushes the stdio buffers it inherited when it exits: empty them first, so that nothing
        # buffered by the parent can reach the module's stdout (its JSON result) twice.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        try:
            for args in tasks:
                receiver, sender = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_range_worker, args=(sender, args))
                proc.daemon = True
                proc.start()
                sender.close()
                procs.append((proc, receiver))
            for proc, receiver in procs:
                try:
                    res = receiver.recv()
                except EOFError:
                    proc.join()
                    res = {'status': 'fatal', 'why': 'a worker reading %s died (exit code %s)'
                                                     % (self.path, proc.exitcode)}
                results.append(res)
                if res['status'] == 'fatal':
                    break
                if 'maxrss_kib' in res:
                    self.worker_peak_rss_kib.append(res['maxrss_kib'])
                    self.worker_cpu_s.append(res['cpu_s'])
        finally:
            for proc, receiver in procs:
                receiver.close()
                if len(results) < len(procs) and proc.is_alive():
                    proc.terminate()
                proc.join()
        return results

    def _scan(self, batches):
        """The per-line loop over batches of lines; returns (number of lines, last line)."""
        loads = json.loads
        by_metric_b = self.by_metric_b
        span_add = self.span.add
        fast = self.fast
        prefix = b'{"metric":"'
        canon = b'","type":"Point","data":{"time":"'
        canon_len = len(canon)
        lineno = 0
        last = b''
        last_stamp = b'\x00'  # the previous point's timestamp followed by its closing quote
        points_fast = 0
        used_fast = 0
        # Lines are taken in ~1 MiB batches; after each batch the trend buffers go to their sketches,
        # so memory stays bounded by the batch size whatever the file size.
        for chunk in batches:
            for acc in self._trend_accumulators():
                acc.flush()
            last = chunk[-1]
            for lineno, line in enumerate(chunk, lineno + 1):  # noqa: B020 - numbering carries over batches
                if fast and line.startswith(prefix):
                    # Metric names never hold a quote, so the first canonical separator ends the name.
                    end = line.find(canon, 11)
                    if end != -1 and line.endswith(b'}}\n'):
                        ts_start = end + canon_len
                        if line.startswith(last_stamp, ts_start):  # k6 writes a request's points at one time
                            ts_end = ts_start + len(last_stamp) - 1
                        else:
                            ts_end = line.find(b'"', ts_start)
                            stamp = line[ts_start:ts_end]
                            try:
                                span_add(stamp)
                            except (ValueError, IndexError):
                                raise self._err(lineno, 'unreadable point time %r' % stamp) from None
                            last_stamp = line[ts_start:ts_end + 1]
                        tgts = by_metric_b.get(line[11:end])
                        if tgts is None:
                            points_fast += 1
                            continue
                        if line.startswith(b',"value":', ts_end + 1):
                            v_start = ts_end + 10
                            v_end = line.find(b',"tags":', v_start)
                            if v_end != -1:
                                try:
                                    value = float(line[v_start:v_end])
                                except ValueError:
                                    value = None
                                if value is not None:
                                    fed = self._feed_fast(lineno, line, v_end, tgts, value)
                                    if fed is not None:
                                        points_fast += 1
                                        used_fast += fed
                                        continue
                        # Anything unusual: the full parse decides (it re-reads the same timestamp,
                        # which leaves first/last unchanged, and counts the point).
                        self._point_slow(lineno, self._loads(loads, lineno, line))
                        continue
                if not line.strip():
                    continue
                obj = self._loads(loads, lineno, line)
                if not isinstance(obj, dict):
                    raise self._err(lineno, 'not a JSON object')
                kind = obj.get('type')
                if kind == 'Point':
                    self._point_slow(lineno, obj)
                elif kind == 'Metric':
                    self._declare(lineno, obj)
                else:
                    raise self._err(lineno, 'unknown line type %r (expected Metric or Point)' % (kind,))
        self.points += points_fast
        self.points_used += used_fast
        return lineno, last

    def _trend_accumulators(self):
        return [t.acc for t in self.targets if t.acc is not None and t.acc.pending is not None]

    def _loads(self, loads, lineno, line):
        try:
            return loads(line)
        except ValueError as exc:
            raise self._err(lineno, 'malformed or truncated JSON (%s)' % exc) from exc

    def _feed_fast(self, lineno, line, v_end, tgts, value):
        """Feed a canonical Point line to its targets without json.loads. Returns how many targets took
        the value, or None to ask for the full parse (a target whose tags cannot be matched on raw bytes)."""
        if self.fast_mode[tgts[0].metric] == 0:
            return None
        tags_start = v_end + 8
        fed = 0
        tags_end = None
        for tgt in tgts:
            matched = True
            if tgt.needles and tags_end is None:
                meta = line.find(b',"metadata":{', tags_start)
                tags_end = meta if meta != -1 else len(line)
            for needle in tgt.needles:
                pos = line.find(needle, tags_start, tags_end)
                # An unescaped quote only delimits strings, so the needle bounded by { or , before and
                # , or } after is a whole key:value pair of the tags object.
                if pos == -1 or line[pos - 1:pos] not in (b'{', b',') or \
                        line[pos + len(needle):pos + len(needle) + 1] not in (b',', b'}'):
                    matched = False
                    break
            if matched:
                if tgt.acc is None:
                    raise _UndeclaredPoint(self.path, lineno, tgt.metric)
                tgt.acc.add(value)
                fed += 1
        return fed

    def results(self):
        duration = self.span.duration
        lookup_table = {}
        for tgt in self.targets:
            name = tgt.metric
            if tgt.tags:
                name += '{%s}' % ','.join('%s:%s' % kv for kv in tgt.items)
            if tgt.acc is None:
                continue  # metric never declared in the file: missing
            lookup_table[(tgt.metric, tgt.items)] = tgt.acc.to_metric_data(name, duration)

        def lookup(metric, tags):
            return lookup_table.get((metric, tuple(sorted(tags.items()))))

        stats = {'lines': self.lines, 'points': self.points, 'points_used': self.points_used,
                 'metrics_declared': len(self.types), 'relative_accuracy': self.relative_accuracy,
                 'workers': self.workers_used}
        if self.worker_peak_rss_kib:
            stats['worker_peak_rss_mib'] = [round(kib / 1024.0, 1) for kib in self.worker_peak_rss_kib]
            stats['worker_cpu_s'] = [round(cpu, 3) for cpu in self.worker_cpu_s]
        return Results('ndjson', lookup, duration_s=duration, stats=stats)


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
