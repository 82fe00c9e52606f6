# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031
# (ansible-test sanity wants the Python 2 era module header and %-formatting)
"""Point-in-time restore planning on pgBackRest's own answers (pure functions, no I/O).

Input is what ``pgbackrest --output=json info`` and ``pgbackrest --output=json repo-ls`` print (pgBackRest 2.45),
the restore point log lines written by the pgbackrest role's ``restore_point`` entry point, and the free bytes of
each member. Every reason not to restore is a :class:`RestoreRefused` with a stable ``reason`` code; the module
turns it into ``fail_json`` in one place. Nothing here changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import json
import re
import time

TARGET_TYPES = ('time', 'name', 'latest')

# PostgreSQL/ISO 8601 timestamps: date, 'T' or space, time with optional fraction, then a zone that is required
# (Z, UTC, +HH, +HHMM or +HH:MM). recovery_target_time without a zone would be read in the server's time zone.
_TIME_RE = re.compile(
    r'^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?'
    r'\s*(?P<zone>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$',
    re.IGNORECASE,
)

# A restore needs the backup's size beside the old data directory, with headroom for WAL replay and growth.
DEFAULT_SPACE_FACTOR = 1.2
DEFAULT_SPACE_MARGIN = 256 * 1024 * 1024


class PgBackRestError(Exception):
    """pgBackRest could not be asked, or answered something this planner does not understand."""


class RestoreRefused(Exception):
    """A reason not to restore. ``reason`` is a stable code for callers and tests; str() is for humans."""

    def __init__(self, reason, message, **details):
        super(RestoreRefused, self).__init__(message)
        self.reason = reason
        self.message = message
        self.details = details


def format_epoch(epoch):
    """Seconds since the epoch as 'YYYY-MM-DD HH:MM:SS UTC' (None stays 'never')."""
    if epoch is None:
        return 'never'
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(float(epoch)))


def parse_target_time(text):
    """A recovery target time with its time zone, as seconds since the epoch (float)."""
    text = (text or '').strip()
    m = _TIME_RE.match(text)
    if not m:
        raise RestoreRefused(
            'target_unparsable',
            "the target time '%s' does not parse (use 'YYYY-MM-DD HH:MM:SS[.ffffff]+00' or ...Z)" % text)
    if not m.group('zone'):
        raise RestoreRefused(
            'target_no_timezone',
            "the target time '%s' has no time zone (add +00 or Z): PostgreSQL would read it in the server's "
            "time zone" % text)
    try:
        fields = (int(m.group('y')), int(m.group('mo')), int(m.group('d')),
                  int(m.group('h')), int(m.group('mi')), int(m.group('s') or 0))
        time.strptime('%04d-%02d-%02d %02d:%02d:%02d' % fields, '%Y-%m-%d %H:%M:%S')
    except ValueError:
        raise RestoreRefused('target_unparsable', "the target time '%s' is not a valid date and time" % text) from None
    epoch = calendar.timegm(fields + (0, 0, 0)) + float('0.' + (m.group('f') or '0'))
    zone = m.group('zone').upper()
    if zone not in ('Z', 'UTC', 'GMT'):
        sign = -1 if zone[0] == '-' else 1
        digits = zone[1:].replace(':', '')
        offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) > 2 else 0)
        if offset > 14 * 3600 or (len(digits) > 2 and int(digits[2:4]) >= 60):
            raise RestoreRefused('target_unparsable', "the time zone offset of '%s' is not valid" % text)
        epoch -= sign * offset
    return epoch


def find_restore_point(lines, name):
    """Epoch of the named restore point in the restore point log lines (JSON objects, one a line)."""
    for line in lines:
        line = (line or '').strip()
        if not line:
            continue
        try:
            point = json.loads(line)
        except ValueError:
            raise PgBackRestError('a restore point log line is not JSON: %s' % line[:200]) from None
        if isinstance(point, dict) and point.get('name') == name:
            return float(point['epoch'])
    raise RestoreRefused(
        'restore_point_unknown',
        'restore point %s is not in the restore point log of any repository host (create it with the '
        'restore_point entry point, playbooks/pg_restore_point.yml)' % name)


def resolve_target(target_type, target, now, restore_point_lines=()):
    """The target as an epoch: parsed time, a logged restore point, or now for 'latest'. Never in the future."""
    if target_type not in TARGET_TYPES:
        raise RestoreRefused('target_type_invalid', 'the restore type %s is not one of %s'
                             % (target_type, ', '.join(TARGET_TYPES)))
    if target_type == 'latest':
        return float(now)
    if not (target or '').strip():
        raise RestoreRefused('target_missing', 'a %s restore needs a target' % target_type)
    if target_type == 'time':
        epoch = parse_target_time(target)
    else:
        epoch = find_restore_point(restore_point_lines, target)
    if epoch > float(now):
        raise RestoreRefused('target_in_future', 'the target %s (%s) is in the future (now %s)'
                             % (target, format_epoch(epoch), format_epoch(now)), target_epoch=epoch)
    return epoch


def _stanza_entry(info, stanza):
    if not isinstance(info, list):
        raise PgBackRestError('pgbackrest info did not return a list of stanzas')
    for entry in info:
        if isinstance(entry, dict) and entry.get('name') == stanza:
            return entry
    raise RestoreRefused('stanza_missing', 'pgbackrest info knows no stanza %s' % stanza)


def usable_repos(entry):
    """Repository keys whose status is ok (0) or 'no valid backups' (2)."""
    return [r['key'] for r in entry.get('repo', []) if r.get('status', {}).get('code') in (0, 2)]


def plan_restore(info, stanza, target_epoch, repo='auto'):
    """Choose the repository and the newest backup set that ended before the target.

    ``repo`` is 'auto' (the usable repositories in key order, the first that has such a set wins) or a
    repository number. Returns a dict: repo, set, type, stop, size, archive_id, archive_max, backup_wal_stop,
    earliest (the earliest usable set's end), repos_ok.
    """
    entry = _stanza_entry(info, stanza)
    status = entry.get('status', {})
    if status.get('code') in (1, 3):
        raise RestoreRefused('stanza_missing', 'stanza %s: %s' % (stanza, status.get('message', 'missing')))
    repos_ok = usable_repos(entry)
    if str(repo) == 'auto':
        wanted = repos_ok
    else:
        try:
            key = int(repo)
        except (TypeError, ValueError):
            raise RestoreRefused('repo_invalid', 'repository %s is not auto or a repository number' % repo) from None
        known = [r['key'] for r in entry.get('repo', [])]
        if key not in known:
            raise RestoreRefused('repo_invalid', 'repository %s does not exist (repositories: %s)'
                                 % (key, ', '.join(str(k) for k in known) or 'none'))
        if key not in repos_ok:
            message = [r.get('status', {}).get('message', '') for r in entry['repo'] if r['key'] == key][0]
            raise RestoreRefused('repo_unusable', 'repository %s cannot be read: %s' % (key, message))
        wanted = [key]
    if not wanted:
        raise RestoreRefused('repo_unusable', 'no repository of stanza %s can be read (%s)'
                             % (stanza, status.get('message', '')))
    backups = [b for b in entry.get('backup', []) if not b.get('error')]
    usable = [b for b in backups if b.get('database', {}).get('repo-key') in wanted]
    earliest = min([b['timestamp']['stop'] for b in usable]) if usable else None
    for key in wanted:
        before = [b for b in usable
                  if b['database']['repo-key'] == key and float(b['timestamp']['stop']) < float(target_epoch)]
        if not before:
            continue
        chosen = sorted(before, key=lambda b: b['timestamp']['stop'])[-1]
        archives = [a for a in entry.get('archive', [])
                    if a.get('database', {}).get('repo-key') == key
                    and a.get('database', {}).get('id') == chosen['database'].get('id')]
        if not archives or not archives[-1].get('max'):
            raise RestoreRefused('wal_not_archived', 'repository %s holds no WAL archive for backup set %s'
                                 % (key, chosen['label']), repo=key)
        return {
            'repo': key,
            'set': chosen['label'],
            'type': chosen.get('type'),
            'stop': chosen['timestamp']['stop'],
            'size': int(chosen.get('info', {}).get('size', 0)),
            'archive_id': archives[-1]['id'],
            'archive_max': archives[-1]['max'],
            'backup_wal_stop': chosen.get('archive', {}).get('stop'),
            'earliest': earliest,
            'repos_ok': repos_ok,
        }
    raise RestoreRefused(
        'no_backup_before_target',
        'no backup set in repository %s (usable: %s; stanza %s) ended before the target %s; the earliest '
        'backup ended %s' % (repo, ', '.join(str(k) for k in repos_ok) or 'none', status.get('message', ''),
                             format_epoch(target_epoch), format_epoch(earliest)),
        earliest=earliest)


def wal_segment_dir(plan):
    """The repo-ls path of the directory holding the newest archived WAL segment of the plan's archive."""
    return '%s/%s' % (plan['archive_id'], plan['archive_max'][:16])


def newest_wal_time(repo_ls):
    """Time (epoch) the newest WAL file of a repo-ls listing reached the repository, or None."""
    if not isinstance(repo_ls, dict):
        raise PgBackRestError('pgbackrest repo-ls did not return an object')
    times = [v.get('time') for v in repo_ls.values()
             if isinstance(v, dict) and v.get('type') == 'file' and v.get('time') is not None]
    return max(times) if times else None


def check_wal(plan, wal_time, target_type, target_epoch):
    """Refuse unless the archive holds WAL up to the target and past the end of the chosen backup set."""
    if wal_time is None:
        raise RestoreRefused('wal_not_archived', 'repo%s holds no file for its newest WAL segment %s'
                             % (plan['repo'], plan['archive_max']))
    if plan.get('backup_wal_stop') and plan['archive_max'] < plan['backup_wal_stop']:
        raise RestoreRefused('wal_before_backup_end', 'the WAL archive of repo%s ends with %s, before the end of '
                             'backup set %s (%s)' % (plan['repo'], plan['archive_max'], plan['set'],
                                                     plan['backup_wal_stop']))
    if target_type != 'latest' and float(wal_time) < float(target_epoch):
        raise RestoreRefused(
            'wal_before_target',
            'the WAL archive of repo%s ends with %s, archived at %s, before the target %s: wait for archiving '
            '(archive_timeout) or choose an earlier target' % (plan['repo'], plan['archive_max'],
                                                               format_epoch(wal_time), format_epoch(target_epoch)),
            wal_time=wal_time)


def required_bytes(size, factor=DEFAULT_SPACE_FACTOR, margin=DEFAULT_SPACE_MARGIN):
    """Free bytes a member needs for the restored data while its old data directory stays beside it."""
    return int(int(size) * float(factor)) + int(margin)


def check_disk(size, free_bytes, factor=DEFAULT_SPACE_FACTOR, margin=DEFAULT_SPACE_MARGIN):
    """Refuse when a member (name -> free bytes beside its data directory) has less than required_bytes."""
    need = required_bytes(size, factor, margin)
    short = sorted(h for h, free in free_bytes.items() if int(free) < need)
    if short:
        raise RestoreRefused(
            'insufficient_disk',
            'not enough room for the restored data beside the old data directory on %s: %s needed, %s free'
            % (', '.join(short), _size(need), ', '.join(_size(int(free_bytes[h])) for h in short)),
            hosts=short, required=need)
    return need


def _size(n):
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if n < 1024 or unit == 'TiB':
            return ('%d %s' % (n, unit)) if unit == 'B' else ('%.1f %s' % (n, unit))
        n /= 1024.0
