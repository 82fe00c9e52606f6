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
module: pgbackrest_restore_plan
short_description: Plan a pgBackRest point-in-time restore, or refuse it with the reason
version_added: 0.2.0
description:
  - Reads C(pgbackrest --output=json info) of the stanza and decides what a point-in-time restore would use - the
    repository and the newest backup set that ended before the target - then reads the chosen repository with
    C(pgbackrest repo-ls) to check that its WAL archive reaches the target and the end of that backup set.
  - The target is a time with its time zone (not in the future), a named restore point looked up in the restore
    point log, or C(latest) (the end of the archive).
  - Checks that every member has room for the restored data while its old data directory stays beside it, from
    the free bytes the caller measured on each member (O(free_bytes)).
  - Never changes anything; runs in check mode too. Any reason not to restore fails the task with
    C(REFUSED, nothing was changed - <reason>) and a stable RV(reason) code.
  - Run it as the user pgBackRest runs as on a database member (C(postgres)).
author:
  - MSS Platform engineering (@mss-platform)
options:
  stanza:
    description: The pgBackRest stanza.
    type: str
    required: true
  target_type:
    description: C(time), C(name) (a restore point) or C(latest).
    type: str
    required: true
    choices: [time, name, latest]
  target:
    description:
      - For C(time), a timestamp with its time zone, for example C(2026-11-26 00:30:00+00) or C(2026-11-26T00:30:00Z).
      - For C(name), the restore point's name. Ignored for C(latest).
    type: str
    default: ''
  repo:
    description: C(auto) (the first readable repository with a usable backup set) or a repository number.
    type: str
    default: auto
  restore_points:
    description: Lines of the restore point logs (one JSON object a line with C(name) and C(epoch)).
    type: list
    elements: str
    default: []
  free_bytes:
    description: Free bytes beside the data directory, per member (member name as key).
    type: dict
    default: {}
  space_factor:
    description: The restored data is assumed to need the backup's size times this factor.
    type: float
    default: 1.2
  space_margin:
    description: Bytes added to the space needed, for WAL replay and the logs.
    type: int
    default: 268435456
  pgbackrest_bin:
    description: The pgbackrest executable.
    type: str
    default: pgbackrest
notes:
  - Supports check mode; it only reads.
seealso:
  - name: pgBackRest command reference (info, repo-ls, restore)
    description: The commands this module runs and the restore options the plan is for.
    link: https://pgbackrest.org/command.html
'''

EXAMPLES = r'''
- name: Plan a restore to a time
  mss.platform.pgbackrest_restore_plan:
    stanza: mss-pg
    target_type: time
    target: "2026-11-26 00:30:00+00"
    free_bytes: {pg-1: 53687091200, pg-2: 53687091200, pg-3: 53687091200}
  become: true
  become_user: postgres
  register: plan

- name: Restore the chosen set
  ansible.builtin.command:
    argv: [pgbackrest, --stanza=mss-pg, "--repo={{ plan.plan.repo }}", "--set={{ plan.plan.set }}",
           --type=time, "--target=2026-11-26 00:30:00+00", --target-action=promote, restore]
'''

RETURN = r'''
plan:
  description: What the restore would use.
  returned: success
  type: dict
  contains:
    repo: {description: Repository number, type: int, sample: 1}
    set: {description: Backup set label, type: str, sample: 20261201-101500F}
    type: {description: Backup type of the set, type: str, sample: full}
    stop: {description: End of the backup set (epoch), type: int, sample: 1796120100}
    size: {description: Database size of the set in bytes, type: int, sample: 31457280}
    archive_id: {description: Archive id of the set's WAL, type: str, sample: 15-1}
    archive_max: {description: Newest archived WAL segment, type: str, sample: 000000010000000000000009}
    backup_wal_stop: {description: Last WAL segment the set needs, type: str, sample: 000000010000000000000005}
    earliest: {description: End of the earliest usable backup set (epoch), type: int, sample: 1796120000}
    repos_ok: {description: Readable repositories, type: list, elements: int, sample: [1, 2]}
    target_epoch: {description: The target in epoch seconds (now for latest), type: float, sample: 1796121000.5}
    target_utc: {description: The target in UTC, type: str, sample: "2026-12-01 10:30:00 UTC"}
    wal_time: {description: When the newest WAL segment reached the repository (epoch), type: int, sample: 1796121060}
    required_bytes: {description: Free bytes each member needs, type: int, sample: 306184192}
    now: {description: The restore host's clock (epoch), type: float, sample: 1796121100.0}
reason:
  description: Stable code of the refusal (only when the task fails), for example C(no_backup_before_target).
  returned: failure
  type: str
  sample: wal_before_target
refused:
  description: True when the task failed because the restore was refused (nothing was changed).
  returned: failure
  type: bool
  sample: true
'''

import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mss.platform.plugins.module_utils.pgbackrest import (
    PgBackRestError,
    RestoreRefused,
    check_disk,
    check_wal,
    format_epoch,
    newest_wal_time,
    plan_restore,
    resolve_target,
    wal_segment_dir,
)


class RestorePlanner:
    """Runs pgbackrest info / repo-ls (read-only) and applies the planner of module_utils.pgbackrest."""

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def _pgbackrest_json(self, *args):
        p = self.params
        argv = [p['pgbackrest_bin'], '--stanza=%s' % p['stanza'], '--output=json'] + list(args)
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            raise PgBackRestError('%s failed (rc %s): %s' % (' '.join(argv), rc, (err or out).strip()))
        try:
            return json.loads(out)
        except ValueError:
            raise PgBackRestError('%s did not print JSON: %s' % (' '.join(argv), out[:200])) from None

    def run(self):
        p = self.params
        now = time.time()
        target_epoch = resolve_target(p['target_type'], p['target'], now, p['restore_points'])
        info = self._pgbackrest_json('info')
        plan = plan_restore(info, p['stanza'], target_epoch, p['repo'])
        listing = self._pgbackrest_json('--repo=%s' % plan['repo'], '--filter=^%s' % plan['archive_max'],
                                        'repo-ls', 'archive/%s/%s' % (p['stanza'], wal_segment_dir(plan)))
        wal_time = newest_wal_time(listing)
        check_wal(plan, wal_time, p['target_type'], target_epoch)
        need = check_disk(plan['size'], p['free_bytes'], p['space_factor'], p['space_margin'])
        plan.update(target_epoch=target_epoch, target_utc=format_epoch(target_epoch), wal_time=wal_time,
                    required_bytes=need, now=now)
        msg = ('would restore from repo%s backup set %s (ended %s) to %s %s; WAL archived up to %s'
               % (plan['repo'], plan['set'], format_epoch(plan['stop']), p['target_type'],
                  p['target'] if p['target_type'] != 'latest' else '(end of the archive)', format_epoch(wal_time)))
        return {'changed': False, 'plan': plan, 'msg': msg}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stanza=dict(type='str', required=True),
            target_type=dict(type='str', required=True, choices=['time', 'name', 'latest']),
            target=dict(type='str', default=''),
            repo=dict(type='str', default='auto'),
            restore_points=dict(type='list', elements='str', default=[]),
            free_bytes=dict(type='dict', default={}),
            space_factor=dict(type='float', default=1.2),
            space_margin=dict(type='int', default=268435456),
            pgbackrest_bin=dict(type='str', default='pgbackrest'),
        ),
        supports_check_mode=True,
    )
    try:
        result = RestorePlanner(module).run()
    except RestoreRefused as exc:
        module.fail_json(msg='REFUSED, nothing was changed: %s' % exc.message, reason=exc.reason, refused=True,
                         details=exc.details)
    except PgBackRestError as exc:
        module.fail_json(msg='REFUSED, nothing was changed: %s' % exc, reason='pgbackrest_error', refused=True)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
