# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP008, UP009, UP010, UP031, UP032, C408, B905
"""Redis Cluster manager: observes the declared nodes, plans with redis_cluster_plan, applies the plan.

All I/O is here. The manager talks to the nodes through redis-py clients created by a factory, so tests
can hand it fakes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

from ansible_collections.mss.platform.plugins.module_utils.redis_cluster_plan import (
    ClusterState,
    RedisClusterError,
    build_plan,
    compress_ranges,
    parse_nodes_view,
    place_replicas,
    split_address,
    validate_spec,
)


def _pipe(client, commands):
    """Send commands in one pipeline (no MULTI); the first error is raised."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe.execute()


class RedisClusterManager(object):
    """Observe the declared nodes, plan, and (unless in check mode) apply the plan."""

    def __init__(self, specs, client_factory, anti_affinity=True, remove_undeclared=True, rebalance=True,
                 rebalance_threshold=2.0, wait_timeout=60, migrate_timeout=5000, migrate_batch=100,
                 username=None, password=None, resolver=None, sleep=time.sleep, clock=time.monotonic):
        self.specs = specs
        self.factory = client_factory
        self.anti_affinity = anti_affinity
        self.remove_undeclared = remove_undeclared
        self.rebalance = rebalance
        self.threshold = rebalance_threshold
        self.wait_timeout = wait_timeout
        self.migrate_timeout = migrate_timeout
        self.migrate_batch = migrate_batch
        self.slot_batch = 256
        self.username = username
        self.password = password
        self.resolve = resolver or socket.gethostbyname
        self.sleep = sleep
        self.clock = clock
        self.clients = {}
        self.state = None

    # ---- observation
    def client(self, address):
        if address not in self.clients:
            host, port = split_address(address)
            self.clients[address] = self.factory(host, port)
        return self.clients[address]

    def observe(self):
        state = ClusterState()
        unreachable = []
        for spec in self.specs:
            try:
                c = self.client(spec.name)
                enabled = c.info('cluster').get('cluster_enabled')
                if str(enabled) not in ('1', 'True', 'true'):
                    raise RedisClusterError('node %s does not run with cluster-enabled yes' % spec.name)
                view, me, open_slots = parse_nodes_view(c.execute_command('CLUSTER NODES'))
                state.add(spec.name, view, me, c.dbsize(), c.execute_command('CLUSTER INFO'), open_slots)
            except RedisClusterError:
                raise
            except Exception as e:  # noqa: BLE001 - any redis-py or socket error means "cannot use this node"
                unreachable.append('%s (%s)' % (spec.name, e))
        if unreachable:
            raise RedisClusterError('unreachable nodes: %s' % '; '.join(unreachable))
        state.merge_known()
        self.state = state
        return state

    def plan(self):
        validate_spec(self.specs, self.anti_affinity)
        state = self.observe()
        current = dict((s.name, state.current_master_name(s.name)) for s in self.specs if s.role == 'replica')
        placement = place_replicas(self.specs, current, self.anti_affinity)
        return build_plan(self.specs, state, placement, self.remove_undeclared, self.rebalance, self.threshold)

    # ---- execution
    def by_id(self, node_id):
        for name, nid in self.state.by_name.items():
            if nid == node_id:
                return self.client(name)
        return self.client(self.state.nodes[node_id].address)

    def wait(self, what, predicate):
        deadline = self.clock() + self.wait_timeout
        while True:
            last = predicate()
            if last is True:
                return
            if self.clock() >= deadline:
                raise RedisClusterError('timed out after %ss waiting for %s (%s)' % (self.wait_timeout, what, last))
            self.sleep(0.5)

    def _declared_clients(self):
        return [self.client(s.name) for s in self.specs]

    def _meet(self, anchor, spec):
        ip = self.resolve(spec.host)
        anchor.execute_command('CLUSTER MEET', ip, spec.port)

    def _everyone_knows(self, expected, among=None):
        for spec in self.specs:
            if among is not None and self.state.by_name[spec.name] not in expected:
                continue
            view, _me, _o = parse_nodes_view(self.client(spec.name).execute_command('CLUSTER NODES'))
            missing = expected - set(k for k, n in view.items() if 'handshake' not in n.flags)
            if missing:
                return '%s does not know %d nodes yet' % (spec.name, len(missing))
        return True

    def _cluster_ok(self):
        for spec in self.specs:
            info = self.client(spec.name).execute_command('CLUSTER INFO')
            if info.get('cluster_state') != 'ok':
                return '%s reports cluster_state %s' % (spec.name, info.get('cluster_state'))
        return True

    def _agree(self):
        """Every declared node sees the same nodes, roles and slot owners."""
        reference = None
        for spec in self.specs:
            view, _me, _o = parse_nodes_view(self.client(spec.name).execute_command('CLUSTER NODES'))
            owners = sorted((nid, n.is_master, n.master_id or '', tuple(compress_ranges(n.slots)))
                            for nid, n in view.items() if 'handshake' not in n.flags)
            if reference is None:
                reference = owners
            elif owners != reference:
                return '%s does not agree on the nodes, roles and slots yet' % spec.name
        return True

    def apply(self, actions):
        state = self.state
        id_of = state.by_name
        joining_ids = set(id_of[a['node']] for a in actions if a['action'] == 'meet')
        met = set()
        for act in actions:
            kind = act['action']
            if kind == 'create':
                for epoch, spec in enumerate(self.specs, start=1):
                    c = self.client(spec.name)
                    if spec.name in act['ranges']:
                        start, end = act['ranges'][spec.name]
                        c.execute_command('CLUSTER ADDSLOTSRANGE', start, end)
                    c.execute_command('CLUSTER SET-CONFIG-EPOCH', epoch)
                anchor = self.client(self.specs[0].name)
                for spec in self.specs[1:]:
                    self._meet(anchor, spec)
                self.wait('every node to know every other node', lambda: self._everyone_knows(set(id_of.values())))
            elif kind == 'meet':
                joining = set(a['node'] for a in actions if a['action'] == 'meet')
                anchor = self.client(next(s.name for s in self.specs if s.name not in joining))
                self._meet(anchor, next(s for s in self.specs if s.name == act['node']))
                met.add(id_of[act['node']])
                expected = set(n for n in state.nodes if not state.nodes[n].failed and
                               (n not in joining_ids or n in met))
                self.wait('node %s to join' % act['node'],
                          lambda expected=expected: self._everyone_knows(expected, met))
            elif kind == 'failover':
                c = self.client(act['node'])
                c.execute_command('CLUSTER FAILOVER')
                node_id = id_of[act['node']]

                def promoted(c=c, node_id=node_id):
                    view, _me, _o = parse_nodes_view(c.execute_command('CLUSTER NODES'))
                    return True if view[node_id].is_master and view[node_id].slots else 'not master yet'
                self.wait('%s to become master' % act['node'], promoted)
            elif kind == 'move_slots':
                self.wait('a stable slot map', self._agree)
                self.wait('cluster_state ok on every node before moving slots', self._cluster_ok)
                self.move_slots(act['src'], act['dst'], act['slots'])
            elif kind == 'replicate':
                master_id = id_of[act['master']]
                c = self.client(act['node'])

                def knows_master(c=c, master_id=master_id):
                    view, _me, _o = parse_nodes_view(c.execute_command('CLUSTER NODES'))
                    return True if master_id in view and 'handshake' not in view[master_id].flags else 'unknown'
                self.wait('%s to know its master' % act['node'], knows_master)
                c.execute_command('CLUSTER REPLICATE', master_id)
            elif kind == 'forget':
                self.forget(act['node_id'])
            elif kind == 'fix_slot':
                self.fix_slot(act)
        if actions:
            self.wait('cluster_state ok on every node', self._cluster_ok)
            self.wait('every node to agree on the slot map', self._agree)

    def move_slots(self, src_id, dst_id, slots, prepare=True):
        src = self.by_id(src_id)
        dst = self.by_id(dst_id)
        dst_addr = self.state.nodes[dst_id].address
        dst_host, dst_port = split_address(dst_addr)
        if not dst_host:
            spec_name = [n for n, i in self.state.by_name.items() if i == dst_id][0]
            dst_host, dst_port = split_address(spec_name)
            dst_host = self.resolve(dst_host)
        auth = []
        if self.password:
            auth = ['AUTH2', self.username or 'default', self.password]
        masters = [self.by_id(nid) for nid, n in self.state.nodes.items()
                   if n.is_master and not n.failed and nid not in (src_id, dst_id)]
        # slots move in pipelined batches: a few round trips per batch instead of five per slot
        for i in range(0, len(slots), self.slot_batch):
            part = slots[i:i + self.slot_batch]
            if prepare:
                _pipe(dst, [('CLUSTER SETSLOT', s, 'IMPORTING', src_id) for s in part])
                _pipe(src, [('CLUSTER SETSLOT', s, 'MIGRATING', dst_id) for s in part])
            counts = _pipe(src, [('CLUSTER COUNTKEYSINSLOT', s) for s in part])
            for slot, count in zip(part, counts):
                for _round in range(int(count) // max(self.migrate_batch, 1) + 1000):
                    keys = src.execute_command('CLUSTER GETKEYSINSLOT', slot, self.migrate_batch)
                    if not keys:
                        break
                    src.execute_command('MIGRATE', dst_host, dst_port, '', 0, self.migrate_timeout,
                                        *(auth + ['KEYS'] + list(keys)))
            _pipe(dst, [('CLUSTER SETSLOT', s, 'NODE', dst_id) for s in part])
            try:
                _pipe(src, [('CLUSTER SETSLOT', s, 'NODE', dst_id) for s in part])
            except Exception as e:  # noqa: BLE001 - see below
                # a master that gave away its last slot turns itself into a replica of the receiver
                # (Redis >= 7.0): it already knows the new owner, nothing is left to tell it
                if 'only with masters' not in str(e):
                    raise
            for other in masters:
                try:
                    _pipe(other, [('CLUSTER SETSLOT', s, 'NODE', dst_id) for s in part])
                except Exception:  # noqa: BLE001, S110 - gossip converges the others; the final wait checks it
                    pass
        if src_id in self.state.nodes:
            self.state.nodes[src_id].slots -= set(slots)
        self.state.nodes[dst_id].slots |= set(slots)

    def fix_slot(self, act):
        slot, src_id, dst_id = act['slot'], act['src'], act['dst']
        if src_id != dst_id:
            for node_id, args in ((dst_id, ('IMPORTING', src_id)), (src_id, ('MIGRATING', dst_id))):
                try:
                    self.by_id(node_id).execute_command('CLUSTER SETSLOT', slot, *args)
                except Exception:  # noqa: BLE001, S110 - already in that state, or already the owner
                    pass
            self.move_slots(src_id, dst_id, [slot], prepare=False)
        for node_id in act['open_on']:
            if node_id in (src_id, dst_id) and src_id != dst_id:
                continue
            self.by_id(node_id).execute_command('CLUSTER SETSLOT', slot, 'STABLE')

    def converge(self, actions, attempts=3):
        """Apply the plan; after an error from a node (a failover mid-way, ...) observe, plan and apply again.

        Returns the messages of every action applied, retries included.
        """
        done = [a['msg'] for a in actions]
        for attempt in range(attempts):
            try:
                self.apply(actions)
                return done
            except RedisClusterError:
                raise
            except Exception as e:  # noqa: BLE001 - any node error: re-observe, bounded by attempts
                if attempt == attempts - 1:
                    raise
                done.append('retry after: %s' % e)
                self.sleep(2)
                self.clients = {}
                actions = self.plan()
                done.extend(a['msg'] for a in actions)
        return done

    def forget(self, node_id):
        node = self.state.nodes[node_id]
        if not node.failed:
            try:
                self.by_id(node_id).execute_command('CLUSTER RESET', 'HARD')
            except Exception:  # noqa: BLE001, S110 - an unreachable leaver is simply forgotten
                pass
        for spec in self.specs:
            c = self.client(spec.name)
            try:
                c.execute_command('CLUSTER FORGET', node_id)
            except Exception as e:  # noqa: BLE001 - redis-py's ResponseError, without importing redis here
                if 'Unknown node' not in str(e):
                    raise RedisClusterError('%s refused to forget %s: %s' % (spec.name, node_id, e)) from None

    # ---- report
    def report(self):
        """cluster_state, slot coverage and topology as the first declared node sees them now."""
        c = self.client(self.specs[0].name)
        info = c.execute_command('CLUSTER INFO')
        view, _me, _o = parse_nodes_view(c.execute_command('CLUSTER NODES'))
        name_of = dict((v, k) for k, v in (self.state.by_name if self.state else {}).items())
        topology = []
        for nid, node in sorted(view.items(), key=lambda kv: kv[1].address):
            topology.append({
                'id': nid,
                'address': node.address,
                'name': name_of.get(nid),
                'role': 'master' if node.is_master else 'replica',
                'master_id': node.master_id,
                'master': name_of.get(node.master_id) if node.master_id else None,
                'slots': len(node.slots),
                'slot_ranges': [list(r) for r in compress_ranges(node.slots)],
                'failed': node.failed,
            })
        return {
            'cluster_state': info.get('cluster_state'),
            'slots_assigned': int(info.get('cluster_slots_assigned', 0)),
            'slots_ok': int(info.get('cluster_slots_ok', 0)),
            'known_nodes': int(info.get('cluster_known_nodes', 0)),
            'topology': topology,
        }
