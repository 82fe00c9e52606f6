# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, PLR1730
# (ansible-test sanity wants the Python 2 era module header and %-formatting; explicit if-compare is faster
# than min()/max() in the per-sample path)
"""The k6 NDJSON reader (``k6 run --out json=FILE[.gz]``), one pass in constant memory, for the k6_gate module.

output/json/wrapper.go writes one JSON object a line:
``{"type":"Metric","data":{"name","type","contains","thresholds","submetrics"},"metric":NAME}`` once per
metric before its first point, then ``{"metric":NAME,"type":"Point","data":{"time","value","tags"[,
"metadata"]}}`` per sample. Gzip-compressed files (k6 writes them for a ``.gz`` name) are read too.
The parallel reader (k6_parallel) cuts a plain file into byte ranges, each read by this scanner.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import gzip
import json
import math
import time

from ansible_collections.mss.platform.plugins.module_utils.k6 import (
    COUNTER,
    METRIC_TYPES,
    RATE,
    TREND,
    K6FormatError,
    K6GateError,
    K6MissingDependencyError,
    MetricData,
    Results,
    is_number,
)

try:
    from ddsketch import DDSketch
    HAS_DDSKETCH = True
    DDSKETCH_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised through the module's missing_required_lib path
    DDSketch = None
    HAS_DDSKETCH = False
    DDSKETCH_IMPORT_ERROR = exc

GZIP_MAGIC = b'\x1f\x8b'


def open_results(path):
    """Open a results file for reading bytes: (file object, gzip-compressed?)."""
    try:
        handle = open(path, 'rb')  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as exc:
        raise K6FormatError('cannot read results file %s: %s' % (path, exc)) from exc
    head = handle.read(2)
    handle.seek(0)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode='rb'), True
    return handle, False


class Accumulator:
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


class TimeSpan:
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


class LineError(K6FormatError):
    """A line of the file is wrong; carries the line number so that a parallel worker's error can be renumbered."""

    def __init__(self, path, lineno, why):
        super(LineError, self).__init__('results file %s line %d: %s' % (path, lineno, why))
        self.lineno = lineno
        self.why = why


class UndeclaredPoint(LineError):
    """A threshold's Point before any Metric line of its metric in the part read (the parent decides whether an
    earlier part declared it)."""

    def __init__(self, path, lineno, metric):
        super(UndeclaredPoint, self).__init__(
            path, lineno, 'Point of %s before its Metric line (not k6 output, or lines out of order)' % metric)
        self.metric = metric


class NdjsonScanner:
    """Streams a k6 NDJSON file (or a byte range of it) once, feeding only the (sub-)metrics the thresholds name.

    Every Point line gets a structural check and its timestamp read (the duration is first to last point
    of the whole file). Lines in k6's canonical layout (``{"metric":...,"type":"Point","data":{"time":...,
    "value":...,"tags":{...}}}``) take a fast path that never builds a dict: lines of metrics no threshold
    names are skipped after the name is read, and a threshold's value is sliced out of the line. Every
    other line (Metric lines, other key orders, unusual tags) is parsed with json.loads. Memory is constant:
    one accumulator (a DDSketch for trends) per threshold target, whatever the file size.
    """

    def __init__(self, path, targets, relative_accuracy=0.01, fast=True):
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
        self.span = TimeSpan()
        self.lines = 0
        self.points = 0
        self.points_used = 0
        self.declared = []  # (line, name, type) of the first Metric line of each name read by this reader

    # -- helpers ------------------------------------------------------------------------------------------------
    def _err(self, lineno, why):
        return LineError(self.path, lineno, why)

    def _name_and_data(self, lineno, obj, kind):
        """The ``metric`` name and the ``data`` object every Metric and Point line carries."""
        name = obj.get('metric')
        data = obj.get('data')
        if not isinstance(name, str) or not isinstance(data, dict):
            raise self._err(lineno, '%s line without "metric" name or "data" object' % kind)
        return name, data

    def _declare(self, lineno, obj):
        name, data = self._name_and_data(lineno, obj, 'Metric')
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
                tgt.acc = Accumulator(mtype, self.relative_accuracy)

    def _point_slow(self, lineno, obj):
        name, data = self._name_and_data(lineno, obj, 'Point')
        ts = data.get('time')
        value = data.get('value')
        if not isinstance(ts, str) or not is_number(value):
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
                    raise UndeclaredPoint(self.path, lineno, name)
                tgt.acc.add(float(value))
                self.points_used += 1

    # -- main loop ----------------------------------------------------------------------------------------------
    def read(self):
        """One pass over the whole file (plain or gzip)."""
        handle, _gz = open_results(self.path)
        try:
            lineno, last = self.scan(iter(lambda: handle.readlines(1 << 20), []))
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

    def scan(self, batches):
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
                    raise UndeclaredPoint(self.path, lineno, tgt.metric)
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
                 'workers': 1}
        return Results('ndjson', lookup, duration_s=duration, stats=stats)
