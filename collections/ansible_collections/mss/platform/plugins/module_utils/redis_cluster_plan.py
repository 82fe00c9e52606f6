# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP008, UP009, UP010, UP031, UP032, C408, B905
"""Redis Cluster planner: declared topology, observed state and the plan that converges one to the other.

Pure functions and data, no I/O: validate_spec, place_replicas (replica placement with anti-affinity),
slot_targets/needs_rebalance/plan_slot_moves (rebalance maths), parse_nodes_view/ClusterState (what the nodes
report), plan_open_slot_fixes and build_plan (the topology diff as an ordered list of actions). The manager
in redis_cluster.py observes the nodes, calls build_plan and applies the actions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CLUSTER_SLOTS = 16384
MIN_MASTERS = 3


class RedisClusterError(Exception):
    """A request that cannot be met, or a cluster in a state this module refuses to touch."""


class NodeSpec(object):
    """One declared node."""

    def __init__(self, host, port, role='master', replica_of=None, failure_domain=None):
        self.host = host
        self.port = int(port)
        self.role = role
        self.replica_of = replica_of
        self.failure_domain = failure_domain or host

    @property
    def name(self):
        return '%s:%d' % (self.host, self.port)

    def __repr__(self):
        return 'NodeSpec(%s, %s)' % (self.name, self.role)


def split_address(address, default_port=6379):
    """'host:port' -> (host, port); accepts '[v6]:port'."""
    address = address.strip()
    if address.startswith('['):
        host, _sep, rest = address[1:].partition(']')
        port = rest.lstrip(':') or default_port
        return host, int(port)
    if address.count(':') == 1:
        host, port = address.split(':')
        return host, int(port)
    return address, int(default_port)


def specs_from_params(nodes):
    """Build NodeSpecs from the module's ``nodes`` option (list of dicts)."""
    specs = []
    for item in nodes:
        specs.append(NodeSpec(item['host'], item.get('port') or 6379, item.get('role') or 'master',
                              item.get('replica_of'), item.get('failure_domain')))
    return specs


def validate_spec(specs, anti_affinity=True):
    """Refuse impossible declarations before anything is touched."""
    if not specs:
        raise RedisClusterError('no nodes declared')
    seen = set()
    for spec in specs:
        if spec.name in seen:
            raise RedisClusterError('node %s is declared twice' % spec.name)
        seen.add(spec.name)
        if spec.role not in ('master', 'replica'):
            raise RedisClusterError('node %s: role must be master or replica, not %r' % (spec.name, spec.role))
        if spec.role == 'master' and spec.replica_of:
            raise RedisClusterError('node %s is a master and cannot have replica_of' % spec.name)
    masters = dict((s.name, s) for s in specs if s.role == 'master')
    if len(masters) < MIN_MASTERS:
        raise RedisClusterError(
            'a Redis Cluster needs at least %d masters, %d declared (%s)'
            % (MIN_MASTERS, len(masters), ', '.join(sorted(masters)) or 'none'))
    for spec in specs:
        if spec.role != 'replica' or not spec.replica_of:
            continue
        target = '%s:%d' % split_address(spec.replica_of)
        if target not in masters:
            raise RedisClusterError('node %s: replica_of %s is not a declared master' % (spec.name, spec.replica_of))
        spec.replica_of = target
        if anti_affinity and masters[target].failure_domain == spec.failure_domain:
            raise RedisClusterError(
                'node %s is declared as a replica of %s in the same failure domain %r, which anti-affinity forbids'
                ' (set anti_affinity=false to allow it)' % (spec.name, target, spec.failure_domain))
    return specs


def _try_assign(replica, graph, owner, visited):
    """Kuhn's augmenting path over master capacity slots."""
    for slot in graph[replica]:
        if slot in visited:
            continue
        visited.add(slot)
        if owner.get(slot) is None or _try_assign(owner[slot], graph, owner, visited):
            owner[slot] = replica
            return True
    return False


def place_replicas(specs, current=None, anti_affinity=True):
    """Return {replica name: master name} for every declared replica.

    Explicit replica_of wins. The others are spread over the masters, at most ceil(replicas/masters) per master
    when possible, never in the master's failure domain when anti-affinity is on; a replica already attached to
    an acceptable master keeps it (``current`` maps replica name -> current master name).
    """
    current = current or {}
    masters = [s for s in specs if s.role == 'master']
    replicas = [s for s in specs if s.role == 'replica']
    domain = dict((s.name, s.failure_domain) for s in specs)
    placement = {}
    explicit = dict((s.name, s.replica_of) for s in replicas if s.replica_of)
    placement.update(explicit)
    auto = [s for s in replicas if not s.replica_of]
    if not auto:
        return placement
    total = len(replicas)
    for cap in range(-(-total // len(masters)), total + 1):
        # capacity slots per master, minus explicit replicas already there
        slots = []
        for m in masters:
            used = sum(1 for v in explicit.values() if v == m.name)
            for i in range(max(cap - used, 0)):
                slots.append((m.name, i))
        graph = {}
        for r in auto:
            graph[r.name] = [sl for sl in slots
                             if not (anti_affinity and domain[sl[0]] == r.failure_domain)]
        # keep the replicas' current masters first: seed the matching with them
        owner = {}
        for r in auto:
            cur = current.get(r.name)
            if not cur:
                continue
            for sl in graph[r.name]:
                if sl[0] == cur and sl not in owner:
                    owner[sl] = r.name
                    break
        seeded = set(owner.values())
        ok = True
        for r in auto:
            if r.name in seeded:
                continue
            if not _try_assign(r.name, graph, owner, set()):
                ok = False
                break
        if ok:
            for sl, rname in owner.items():
                placement[rname] = sl[0]
            return placement
    raise RedisClusterError(
        'cannot place replicas %s: no master outside their failure domain%s'
        % (', '.join(r.name for r in auto), ' (anti_affinity is on)' if anti_affinity else ''))


def slot_targets(master_ids, total=CLUSTER_SLOTS):
    """Even spread: {master id: number of slots}, the first ones get the remainder."""
    n = len(master_ids)
    base, extra = divmod(total, n)
    return dict((mid, base + (1 if i < extra else 0)) for i, mid in enumerate(master_ids))


def even_slot_ranges(n):
    """Contiguous ranges [(start, end)] of an even spread over n masters."""
    ranges = []
    start = 0
    base, extra = divmod(CLUSTER_SLOTS, n)
    for i in range(n):
        size = base + (1 if i < extra else 0)
        ranges.append((start, start + size - 1))
        start += size
    return ranges


def needs_rebalance(owned, targets, threshold_pct):
    """True when a master must give away or receive slots.

    ``owned``: {node id: set of slots} for every master holding or meant to hold slots (target 0 = drain).
    """
    for node_id, target in targets.items():
        have = len(owned.get(node_id, ()))
        if target == 0 and have:
            return True
        if have == 0 and target:
            return True
        if target and abs(have - target) * 100.0 / target > threshold_pct:
            return True
    for node_id, slots in owned.items():
        if node_id not in targets and slots:
            return True
    return False


def plan_slot_moves(owned, targets):
    """Minimal moves to reach the targets: [(src id, dst id, [slots])], donors give their highest slots."""
    surplus = []
    for node_id in sorted(owned, key=lambda k: -len(owned[k])):
        extra = len(owned[node_id]) - targets.get(node_id, 0)
        if extra > 0:
            give = sorted(owned[node_id])[-extra:]
            surplus.append([node_id, give])
    deficits = []
    for node_id, target in targets.items():
        missing = target - len(owned.get(node_id, ()))
        if missing > 0:
            deficits.append([node_id, missing])
    moves = []
    for dst, missing in deficits:
        while missing > 0 and surplus:
            src, give = surplus[0]
            take = give[:missing]
            moves.append((src, dst, take))
            del give[:missing]
            missing -= len(take)
            if not give:
                surplus.pop(0)
    return moves


class ObservedNode(object):
    """One node as the cluster sees it."""

    def __init__(self, node_id, address, flags, master_id, slots, connected=True):
        self.node_id = node_id
        self.address = address
        self.flags = set(flags)
        self.master_id = None if master_id in ('-', '', None) else master_id
        self.slots = set(slots)
        self.connected = connected

    @property
    def is_master(self):
        return 'master' in self.flags

    @property
    def failed(self):
        return 'fail' in self.flags or 'noaddr' in self.flags


def slots_from_ranges(ranges):
    out = set()
    for item in ranges:
        if isinstance(item, (list, tuple)):
            start, end = int(item[0]), int(item[-1])
        else:
            text = str(item)
            if text.startswith('['):
                continue
            start, _sep, end = text.partition('-')
            start, end = int(start), int(end or start)
        out.update(range(start, end + 1))
    return out


def parse_nodes_view(parsed):
    """redis-py's parsed CLUSTER NODES ({'ip:port': {...}}) -> ({id: ObservedNode}, my id, open slots).

    Open slots are this node's migrating/importing entries: [{'slot': int, 'node_id': str, 'state': str}].
    """
    view = {}
    me = None
    open_slots = []
    for address, info in parsed.items():
        flags = [f for f in info['flags'].split(',') if f]
        node = ObservedNode(info['node_id'], address, flags, info['master_id'],
                            slots_from_ranges(info.get('slots') or []), info.get('connected', True))
        if 'myself' in flags:
            for mig in info.get('migrations') or []:
                open_slots.append({'slot': int(mig['slot']), 'node_id': mig['node_id'], 'state': mig['state']})
        view[node.node_id] = node
        if 'myself' in node.flags:
            me = node.node_id
    return view, me, open_slots


def compress_ranges(slots):
    """Sorted slot numbers -> [(start, end)]."""
    out = []
    for s in sorted(slots):
        if out and out[-1][1] == s - 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return [tuple(pair) for pair in out]


class ClusterState(object):
    """What the declared nodes report, merged into one picture."""

    def __init__(self):
        self.by_name = {}       # declared name -> node id
        self.views = {}         # node id -> {id: ObservedNode} (that node's view)
        self.dbsize = {}        # node id -> keys
        self.info = {}          # node id -> CLUSTER INFO dict
        self.open_slots = {}    # node id -> migrating/importing slots
        self.nodes = {}         # node id -> ObservedNode, each from its own view when reachable

    def add(self, name, view, me, dbsize, info, open_slots):
        self.by_name[name] = me
        self.views[me] = view
        self.dbsize[me] = dbsize
        self.info[me] = info
        self.open_slots[me] = open_slots
        self.nodes[me] = view[me]

    def merge_known(self):
        """Nodes known to any declared node but not declared themselves (candidates for removal)."""
        for view in self.views.values():
            for node_id, node in view.items():
                if node_id not in self.nodes:
                    self.nodes[node_id] = node

    def alone(self, node_id):
        return len(self.views.get(node_id, {})) <= 1

    def current_master_name(self, name):
        node = self.nodes.get(self.by_name.get(name))
        if node is not None and node.is_master:
            # after a failover the old master follows this node: that is the pair to keep
            for other, node_id in self.by_name.items():
                if self.nodes[node_id].master_id == node.node_id:
                    return other
            return None
        if node is None or not node.master_id:
            return None
        for other, node_id in self.by_name.items():
            if node_id == node.master_id:
                return other
        return None


def plan_open_slot_fixes(state):
    """Slots left migrating/importing (an interrupted move): finish each move onto its target.

    The source is the master that serves the slot now (it may differ from the recorded one after a failover);
    the target is the importing node, else the migrating node's target.
    """
    by_slot = {}
    for node_id, migrations in state.open_slots.items():
        for mig in migrations:
            by_slot.setdefault(mig['slot'], []).append((node_id, mig))
    fixes = []
    for slot in sorted(by_slot):
        entries = by_slot[slot]
        importing = [nid for nid, mig in entries if mig['state'] == 'importing']
        migrating = [mig['node_id'] for _nid, mig in entries if mig['state'] == 'migrating']
        target = importing[0] if importing else migrating[0]
        claims = [nid for nid, node in state.nodes.items()
                  if node.is_master and not node.failed and slot in node.slots]
        if not claims:
            raise RedisClusterError('slot %d is open (migrating/importing) and no reachable master serves it' % slot)
        source = target if target in claims else claims[0]
        if target not in state.nodes or not state.nodes[target].is_master:
            target = source  # the target is gone or no master: keep the slot where it is served
        fixes.append({'slot': slot, 'src': source, 'dst': target, 'open_on': [nid for nid, _m in entries]})
    return fixes


def build_plan(specs, state, placement, remove_undeclared=True, rebalance=True, threshold_pct=2.0):
    """Ordered list of actions (dicts) that converge the cluster; empty when it is converged."""
    actions = []
    declared_ids = set(state.by_name.values())
    masters = [s for s in specs if s.role == 'master']
    id_of = state.by_name

    fixes = plan_open_slot_fixes(state)

    with_slots = [nid for nid in declared_ids if state.nodes[nid].slots]
    members = [nid for nid in declared_ids if not state.alone(nid)]

    if not with_slots and not members:
        for spec in specs:
            if state.dbsize.get(id_of[spec.name]):
                raise RedisClusterError('node %s holds %d keys and is in no cluster: refusing to create a cluster'
                                        ' over existing data' % (spec.name, state.dbsize[id_of[spec.name]]))
        ranges = even_slot_ranges(len(masters))
        actions.append({'action': 'create', 'masters': [m.name for m in masters],
                        'ranges': dict((m.name, list(r)) for m, r in zip(masters, ranges)),
                        'msg': 'create the cluster with masters %s, slots spread evenly'
                               % ', '.join(m.name for m in masters)})
        for spec in specs:
            if spec.role == 'replica':
                actions.append({'action': 'replicate', 'node': spec.name, 'master': placement[spec.name],
                                'msg': 'attach replica %s to %s' % (spec.name, placement[spec.name])})
        return actions

    # one cluster only: every member must know every other member
    if not members:
        raise RedisClusterError('nodes %s hold slots but know no other node: not a cluster this module can join'
                                % ', '.join(n for n, i in id_of.items() if i in with_slots))
    anchor = members[0]
    cluster_ids = set(state.views[anchor])
    for nid in members:
        if not set(state.views[nid]) & cluster_ids - set([nid]):
            names = [n for n, i in id_of.items() if i == nid]
            raise RedisClusterError('node %s belongs to another cluster than %s: reset it first'
                                    % (names[0], [n for n, i in id_of.items() if i == anchor][0]))
    for spec in specs:
        node_id = id_of[spec.name]
        if node_id in cluster_ids or not state.alone(node_id):
            continue
        if state.nodes[node_id].slots or state.dbsize.get(node_id):
            raise RedisClusterError('node %s is outside the cluster but holds slots or keys: refusing to add it'
                                    % spec.name)
        actions.append({'action': 'meet', 'node': spec.name, 'msg': 'add node %s to the cluster' % spec.name})

    name_of = dict((v, k) for k, v in id_of.items())
    for fix in fixes:
        actions.append(dict(fix, action='fix_slot', msg='finish the interrupted move of slot %d to %s' % (
            fix['slot'], name_of.get(fix['dst'], state.nodes[fix['dst']].address))))

    # declared masters that are replicas now (after a failover): take their role back
    for spec in masters:
        node = state.nodes[id_of[spec.name]]
        if not node.is_master and node.master_id:
            actions.append({'action': 'failover', 'node': spec.name,
                            'msg': 'promote %s back to master (CLUSTER FAILOVER)' % spec.name})
    failovers = set(a['node'] for a in actions if a['action'] == 'failover')

    undeclared = [nid for nid in state.nodes if nid not in declared_ids] if remove_undeclared else []

    # slots: what each master holds, as seen by the master itself (after planned failovers)
    owned = {}
    for nid, node in state.nodes.items():
        if node.is_master and node.slots:
            owned[nid] = set(node.slots)
    for name in failovers:
        new = id_of[name]
        old = state.nodes[new].master_id
        owned[new] = owned.pop(old, set())
    for fix in fixes:
        for slots in owned.values():
            slots.discard(fix['slot'])
        owned.setdefault(fix['dst'], set()).add(fix['slot'])
    master_ids = [id_of[m.name] for m in masters]
    covered = set()
    for slots in owned.values():
        covered |= slots
    if len(covered) != CLUSTER_SLOTS:
        raise RedisClusterError('%d of %d slots are not served by any reachable master: the cluster is not'
                                ' complete, refusing to rebalance or remove nodes'
                                % (CLUSTER_SLOTS - len(covered), CLUSTER_SLOTS))
    if not remove_undeclared:
        # undeclared masters that are kept keep their slots; the declared masters share the rest
        for nid in [k for k in owned if k not in declared_ids]:
            owned.pop(nid)
    targets = slot_targets(master_ids, sum(len(v) for v in owned.values()))
    drain = [nid for nid in owned if nid not in master_ids]
    for nid in drain:
        node = state.nodes[nid]
        if node.failed or nid in undeclared and not node.connected:
            raise RedisClusterError('node %s holds %d slots but is failing: its slots cannot be migrated'
                                    % (node.address, len(node.slots)))
    if drain or (rebalance and needs_rebalance(owned, targets, threshold_pct)):
        if not rebalance:
            targets_eff = dict((k, len(owned.get(k, ()))) for k in master_ids)
            # only the drained slots move, onto the masters with the fewest
            for nid in drain:
                for _slot in sorted(owned[nid]):
                    dst = min(master_ids, key=lambda k: targets_eff[k])
                    targets_eff[dst] += 1
            targets = targets_eff
        moves = plan_slot_moves(owned, targets)
        for src, dst, slots in moves:
            src_name = name_of.get(src, state.nodes[src].address)
            msg = 'move %d slots from %s to %s' % (len(slots), src_name, name_of.get(dst, dst))
            actions.append({'action': 'move_slots', 'src': src, 'dst': dst, 'slots': slots, 'msg': msg})

    for spec in specs:
        if spec.role != 'replica':
            continue
        want = placement[spec.name]
        node = state.nodes[id_of[spec.name]]
        if not node.is_master and node.master_id == id_of[want]:
            continue
        if want in failovers and state.nodes[id_of[want]].master_id == id_of[spec.name]:
            continue  # the failover turns this node into a replica of its declared master
        actions.append({'action': 'replicate', 'node': spec.name, 'master': want,
                        'msg': 'attach replica %s to %s' % (spec.name, want)})

    # removals: replicas first, then (drained) masters
    undeclared.sort(key=lambda nid: state.nodes[nid].is_master)
    for nid in undeclared:
        node = state.nodes[nid]
        actions.append({'action': 'forget', 'node_id': nid, 'address': node.address,
                        'msg': 'remove node %s (%s) from the cluster' % (node.address, nid[:8])})
    return actions
