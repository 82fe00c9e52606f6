# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planner of the redis_cluster module (module_utils/redis_cluster_plan.py): pure functions, no server."""

from __future__ import annotations

import pytest

from ansible_collections.mss.platform.plugins.module_utils.redis_cluster_plan import (
    CLUSTER_SLOTS,
    ClusterState,
    NodeSpec,
    RedisClusterError,
    build_plan,
    compress_ranges,
    even_slot_ranges,
    needs_rebalance,
    parse_nodes_view,
    place_replicas,
    plan_slot_moves,
    slot_targets,
    slots_from_ranges,
    split_address,
    validate_spec,
)


def six():
    specs = [NodeSpec(f"h{i}", 7000) for i in (1, 2, 3)]
    specs += [NodeSpec(f"h{i}", 7001, "replica") for i in (1, 2, 3)]
    return specs


def test_split_address():
    assert split_address("redis-1:7000") == ("redis-1", 7000)
    assert split_address("[::1]:7001") == ("::1", 7001)
    assert split_address("redis-1") == ("redis-1", 6379)


def test_validate_refuses_too_few_masters():
    with pytest.raises(RedisClusterError, match="at least 3 masters, 2 declared"):
        validate_spec([NodeSpec("a", 1), NodeSpec("b", 1), NodeSpec("c", 1, "replica")])


def test_validate_refuses_duplicates_unknown_master_and_same_domain():
    with pytest.raises(RedisClusterError, match="declared twice"):
        validate_spec(six() + [NodeSpec("h1", 7000)])
    with pytest.raises(RedisClusterError, match="not a declared master"):
        validate_spec(six()[:3] + [NodeSpec("h2", 7001, "replica", "h9:7000")])
    with pytest.raises(RedisClusterError, match="same failure domain"):
        validate_spec(six()[:3] + [NodeSpec("h1", 7001, "replica", "h1:7000")])
    validate_spec(six()[:3] + [NodeSpec("h1", 7001, "replica", "h1:7000")], anti_affinity=False)


def test_automatic_placement_is_balanced_and_off_host():
    specs = validate_spec(six())
    placement = place_replicas(specs)
    assert sorted(placement.values()) == ["h1:7000", "h2:7000", "h3:7000"]
    for replica, master in placement.items():
        assert replica.split(":")[0] != master.split(":")[0]


def test_automatic_placement_keeps_a_valid_current_master():
    specs = validate_spec(six())
    current = {"h1:7001": "h3:7000", "h2:7001": "h1:7000", "h3:7001": "h2:7000"}
    assert place_replicas(specs, current) == current
    # a replica currently on its own host is moved
    moved = place_replicas(specs, {"h1:7001": "h1:7000"})
    assert moved["h1:7001"] != "h1:7000"


def test_placement_impossible_with_one_domain():
    specs = [NodeSpec(f"h{i}", 7000, failure_domain="rack") for i in (1, 2, 3)]
    specs.append(NodeSpec("h4", 7001, "replica", failure_domain="rack"))
    with pytest.raises(RedisClusterError, match="cannot place replicas h4:7001"):
        place_replicas(validate_spec(specs))
    assert place_replicas(specs, anti_affinity=False)["h4:7001"] == "h1:7000"


def test_even_spread():
    ranges = even_slot_ranges(3)
    assert ranges == [(0, 5461), (5462, 10922), (10923, 16383)]
    assert sum(b - a + 1 for a, b in even_slot_ranges(7)) == CLUSTER_SLOTS
    assert sorted(slot_targets(["a", "b", "c", "d"]).values()) == [4096] * 4


def test_moves_fill_a_new_master_from_everyone():
    owned = {"a": set(range(0, 5462)), "b": set(range(5462, 10923)), "c": set(range(10923, 16384)), "d": set()}
    targets = slot_targets(["a", "b", "c", "d"])
    assert needs_rebalance(owned, targets, 2.0)
    moves = plan_slot_moves(owned, targets)
    assert all(dst == "d" for _src, dst, _s in moves)
    assert sum(len(s) for _a, _b, s in moves) == 4096
    assert sorted(src for src, _d, _s in moves) == ["a", "b", "c"]


def test_moves_drain_a_leaving_master():
    owned = {"a": set(range(0, 4096)), "b": set(range(4096, 8192)), "c": set(range(8192, 12288)),
             "d": set(range(12288, 16384))}
    targets = slot_targets(["a", "b", "c"])
    moves = plan_slot_moves(owned, targets)
    assert all(src == "d" for src, _d, _s in moves)
    assert sorted(s for _a, _b, slots in moves for s in slots) == list(range(12288, 16384))


def test_threshold_leaves_small_skew_alone():
    owned = {"a": set(range(0, 5500)), "b": set(range(5500, 10923)), "c": set(range(10923, 16384))}
    assert not needs_rebalance(owned, slot_targets(["a", "b", "c"]), 2.0)
    assert needs_rebalance(owned, slot_targets(["a", "b", "c"]), 0.1)


def test_slot_range_helpers():
    assert slots_from_ranges([["0", "2"], ["5", "5"]]) == {0, 1, 2, 5}
    assert compress_ranges({0, 1, 2, 5}) == [(0, 2), (5, 5)]


def nodes_line(node_id, addr, flags, master="-", slots=None):
    return node_id, {"node_id": node_id, "flags": flags, "master_id": master, "slots": slots or [],
                     "migrations": [], "connected": True, "addr": addr}


def state_from(views, names, dbsize=None):
    """views: {node id: [(id, info)]} as redis-py parses CLUSTER NODES (keyed by address)."""
    state = ClusterState()
    for name, nid in names.items():
        parsed = {}
        for other_id, info in views[nid]:
            info = dict(info)
            if other_id == nid:
                info["flags"] = "myself," + info["flags"]
            parsed[info.pop("addr")] = info
        view, me, open_slots = parse_nodes_view(parsed)
        state.add(name, view, me, (dbsize or {}).get(nid, 0), {"cluster_state": "ok"}, open_slots)
    state.merge_known()
    return state


def converged_views():
    lines = [
        nodes_line("m1", "10.0.0.1:7000", "master", slots=[["0", "5461"]]),
        nodes_line("m2", "10.0.0.2:7000", "master", slots=[["5462", "10922"]]),
        nodes_line("m3", "10.0.0.3:7000", "master", slots=[["10923", "16383"]]),
        nodes_line("r1", "10.0.0.1:7001", "slave", "m3"),
        nodes_line("r2", "10.0.0.2:7001", "slave", "m1"),
        nodes_line("r3", "10.0.0.3:7001", "slave", "m2"),
    ]
    return dict((nid, lines) for nid, _i in lines)


NAMES = {"h1:7000": "m1", "h2:7000": "m2", "h3:7000": "m3", "h1:7001": "r1", "h2:7001": "r2", "h3:7001": "r3"}


def plan_for(specs, state, **kw):
    current = dict((s.name, state.current_master_name(s.name)) for s in specs if s.role == "replica")
    return build_plan(specs, state, place_replicas(specs, current), **kw)


def test_fresh_nodes_plan_a_creation():
    views = dict((nid, [nodes_line(nid, ":7000", "master")]) for nid in NAMES.values())
    specs = validate_spec(six())
    plan = plan_for(specs, state_from(views, NAMES))
    assert [a["action"] for a in plan] == ["create", "replicate", "replicate", "replicate"]
    assert plan[0]["ranges"]["h1:7000"] == [0, 5461]


def test_creation_refused_over_existing_data():
    views = dict((nid, [nodes_line(nid, ":7000", "master")]) for nid in NAMES.values())
    with pytest.raises(RedisClusterError, match="holds 5 keys"):
        plan_for(validate_spec(six()), state_from(views, NAMES, {"m2": 5}))


def test_converged_cluster_plans_nothing():
    assert plan_for(validate_spec(six()), state_from(converged_views(), NAMES)) == []


def test_after_a_failover_the_declared_master_is_promoted_back_and_nothing_else():
    lines = [
        nodes_line("m1", "10.0.0.1:7000", "slave", "r2"),
        nodes_line("m2", "10.0.0.2:7000", "master", slots=[["5462", "10922"]]),
        nodes_line("m3", "10.0.0.3:7000", "master", slots=[["10923", "16383"]]),
        nodes_line("r1", "10.0.0.1:7001", "slave", "m3"),
        nodes_line("r2", "10.0.0.2:7001", "master", slots=[["0", "5461"]]),
        nodes_line("r3", "10.0.0.3:7001", "slave", "m2"),
    ]
    views = dict((nid, lines) for nid, _i in lines)
    plan = plan_for(validate_spec(six()), state_from(views, NAMES))
    assert [(a["action"], a.get("node")) for a in plan] == [("failover", "h1:7000")]


def test_undeclared_master_is_drained_then_forgotten():
    views = converged_views()
    extra = nodes_line("m4", "10.0.0.4:7000", "master", slots=[["0", "99"]])
    lines = [nodes_line("m1", "10.0.0.1:7000", "master", slots=[["100", "5461"]])] + views["m2"][1:] + [extra]
    views = dict((nid, lines) for nid in NAMES.values())
    plan = plan_for(validate_spec(six()), state_from(views, NAMES))
    assert [a["action"] for a in plan] == ["move_slots", "forget"]
    assert plan[0]["src"] == "m4" and len(plan[0]["slots"]) == 100
    assert plan[1]["node_id"] == "m4"
    # kept when removal is off, and the cluster is then balanced enough to leave alone
    assert [a["action"] for a in plan_for(validate_spec(six()), state_from(views, NAMES),
                                          remove_undeclared=False, rebalance=False)] == []


def test_incomplete_slot_coverage_is_refused():
    views = converged_views()
    lines = [nodes_line("m1", "10.0.0.1:7000", "master", slots=[["0", "100"]])] + views["m1"][1:]
    views = dict((nid, lines) for nid in NAMES.values())
    with pytest.raises(RedisClusterError, match="5361 of 16384 slots are not served"):
        plan_for(validate_spec(six()), state_from(views, NAMES))


def test_an_interrupted_move_is_finished_onto_its_target():
    views = converged_views()
    lines = list(views["m1"])
    nid, info = lines[0]
    lines[0] = (nid, dict(info, migrations=[{"slot": "7", "node_id": "m2", "state": "migrating"}]))
    m2_id, m2_info = lines[1]
    lines_m2 = list(lines)
    lines_m2[1] = (m2_id, dict(m2_info, migrations=[{"slot": "7", "node_id": "m1", "state": "importing"}]))
    views = dict((n, lines) for n in NAMES.values())
    views["m2"] = lines_m2
    plan = plan_for(validate_spec(six()), state_from(views, NAMES))
    assert plan[0]["action"] == "fix_slot"
    assert (plan[0]["slot"], plan[0]["src"], plan[0]["dst"]) == (7, "m1", "m2")
    assert sorted(plan[0]["open_on"]) == ["m1", "m2"]
    # the slot counts as m2's now: within the rebalance threshold, nothing else moves
    assert [a["action"] for a in plan] == ["fix_slot"]


def test_a_new_node_is_met_and_filled():
    views = converged_views()
    views["m4"] = [nodes_line("m4", ":7002", "master")]
    names = dict(NAMES, **{"h1:7002": "m4"})
    specs = validate_spec(six() + [NodeSpec("h1", 7002)])
    plan = plan_for(specs, state_from(views, names))
    kinds = [a["action"] for a in plan]
    assert kinds[0] == "meet" and set(kinds[1:]) == {"move_slots"}
    assert sum(len(a["slots"]) for a in plan[1:]) == 4096
