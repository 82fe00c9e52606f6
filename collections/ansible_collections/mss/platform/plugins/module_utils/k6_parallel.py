# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031
# (ansible-test sanity wants the Python 2 era module header and %-formatting)
"""Parallel reading of a k6 NDJSON file, for the k6_gate module.

A plain file of at least ``min_chunk_bytes`` per worker is cut into byte ranges at line boundaries, each read
by a forked process with the one-pass scanner (k6_ndjson), and the per-range states are merged in file order
into exactly what one pass gives. The number of workers honours the CPU affinity and a cgroup CPU quota.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import os
import sys

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX: the parallel path is off
    resource = None

from ansible_collections.mss.platform.plugins.module_utils.k6 import (
    METRIC_TYPES,
    K6FormatError,
    K6GateError,
)
from ansible_collections.mss.platform.plugins.module_utils.k6_ndjson import (
    GZIP_MAGIC,
    Accumulator,
    LineError,
    NdjsonScanner,
    UndeclaredPoint,
)

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
    reader = NdjsonScanner(path, targets, relative_accuracy, fast=fast)
    for name, mtype in seed.items():
        reader.types[name] = mtype
        for tgt in reader.by_metric.get(name, ()):
            tgt.acc = Accumulator(mtype, relative_accuracy)
    try:
        handle = open(path, 'rb')  # noqa: SIM115 - closed below
    except OSError as exc:
        return {'status': 'fatal', 'why': 'cannot read results file %s: %s' % (path, exc)}
    try:
        lineno, last = reader.scan(_range_batches(handle, start, end))
    except UndeclaredPoint as exc:
        return {'status': 'undeclared', 'lineno': exc.lineno, 'why': exc.why, 'metric': exc.metric,
                'declared': reader.declared}
    except LineError as exc:
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


class NdjsonReader(NdjsonScanner):
    """The NDJSON reader the gate uses: one pass (NdjsonScanner), or several forked ones over byte ranges.

    With ``workers`` > 1 (0: one per usable CPU) a plain file of at least ``min_chunk_bytes`` per worker is cut
    into byte ranges at line boundaries, each read by a forked process, and the per-range states are merged
    in file order (see ``_read_parallel``) into exactly what one pass gives.
    """

    MIN_CHUNK_BYTES = 32 << 20
    HEAD_BYTES = 4 << 20  # where the parent looks for Metric lines to seed the workers with

    def __init__(self, path, targets, relative_accuracy=0.01, fast=True, workers=1, min_chunk_bytes=None):
        super(NdjsonReader, self).__init__(path, targets, relative_accuracy, fast)
        if workers is None or workers < 0:
            raise K6GateError('workers must be 0 (one per usable CPU) or a positive number, got %r' % (workers,))
        self.workers = workers
        self.min_chunk_bytes = self.MIN_CHUNK_BYTES if min_chunk_bytes is None else max(1, min_chunk_bytes)
        self.workers_used = 1
        self.worker_peak_rss_kib = []
        self.worker_cpu_s = []

    def read(self):
        ranges = self._plan()
        if ranges:
            return self._read_parallel(ranges)
        return super(NdjsonReader, self).read()

    def _plan(self):
        """Byte ranges for the workers, or None for one pass (workers=1, a gzip stream, a small file, no fork)."""
        if self.workers == 1:
            return None
        try:
            size = os.path.getsize(self.path)
            with open(self.path, 'rb') as handle:
                if handle.read(2) == GZIP_MAGIC:
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
            tgt.acc = Accumulator(mtype, self.relative_accuracy)
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

    def results(self):
        res = super(NdjsonReader, self).results()
        res.stats['workers'] = self.workers_used
        if self.worker_peak_rss_kib:
            res.stats['worker_peak_rss_mib'] = [round(kib / 1024.0, 1) for kib in self.worker_peak_rss_kib]
            res.stats['worker_cpu_s'] = [round(cpu, 3) for cpu in self.worker_cpu_s]
        return res
