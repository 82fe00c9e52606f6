# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PITR planner on recorded `pgbackrest info` / `repo-ls` JSON (fixtures/pgbackrest/README.md)."""

from __future__ import annotations

import json
import pathlib

import pytest
from ansible_collections.mss.platform.plugins.module_utils import pgbackrest as pb

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "pgbackrest"

# Recorded values (fixtures/pgbackrest/info_full_diff_two_repos.json).
FULL1 = "20261201-232223F"
FULL1_STOP = 1796167347
FULL2 = "20261201-232229F"
FULL2_STOP = 1796167353
DIFF1 = "20261201-232223F_20261201-232235D"
DIFF1_STOP = 1796167357
WAL_TIME = 1796167359
NOW = 1796167400.0


def load(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def info():
    return load("info_full_diff_two_repos.json")


def refused(reason, func, *args, **kwargs):
    with pytest.raises(pb.RestoreRefused) as exc:
        func(*args, **kwargs)
    assert exc.value.reason == reason, exc.value.message
    return exc.value


# ---------------------------------------------------------------- target parsing
@pytest.mark.parametrize("text, epoch", [
    ("2026-12-01 23:22:40+00", 1796167360.0),
    ("2026-12-01T23:22:40Z", 1796167360.0),
    ("2026-12-01 23:22:40 UTC", 1796167360.0),
    ("2026-12-01 23:22:40.250000+00:00", 1796167360.25),
    ("2026-12-02 00:22:40+01", 1796167360.0),
    ("2026-12-02 01:52:40+0230", 1796167360.0),
    ("2026-12-01 18:22:40-05:00", 1796167360.0),
    ("2026-12-01 23:22+00", 1796167320.0),
])
def test_parse_target_time_with_zone(text, epoch):
    assert pb.parse_target_time(text) == pytest.approx(epoch)


def test_parse_target_time_without_zone_is_refused():
    refused("target_no_timezone", pb.parse_target_time, "2026-12-01 23:22:40")


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01 00:00:00+00", "2026-02-30 00:00:00+00",
                                  "2026-12-01 25:00:00+00", "2026-12-01 00:00:00+15", "2026-12-01 00:00:00+01:75", ""])
def test_parse_target_time_garbage_is_refused(text):
    refused("target_unparsable", pb.parse_target_time, text)


def test_target_in_the_future_is_refused():
    err = refused("target_in_future", pb.resolve_target, "time", "2026-12-01 23:24:00+00", NOW)
    assert err.details["target_epoch"] > NOW


def test_latest_is_now():
    assert pb.resolve_target("latest", "", NOW) == NOW


def test_missing_target_and_unknown_type_are_refused():
    refused("target_missing", pb.resolve_target, "time", "  ", NOW)
    refused("target_type_invalid", pb.resolve_target, "xid", "1", NOW)


POINTS = [
    json.dumps({"name": "before-migration", "lsn": "0/9000090", "epoch": 1796167350.5, "time": "x"}),
    "",
    json.dumps({"name": "later", "lsn": "0/A000090", "epoch": 1796167390.0, "time": "y"}),
]


def test_restore_point_found_in_the_log():
    assert pb.resolve_target("name", "before-migration", NOW, POINTS) == 1796167350.5


def test_unknown_restore_point_is_refused():
    refused("restore_point_unknown", pb.resolve_target, "name", "never-made", NOW, POINTS)


def test_restore_point_log_that_is_not_json_is_an_error():
    with pytest.raises(pb.PgBackRestError):
        pb.find_restore_point(["{broken"], "x")


# ---------------------------------------------------------------- backup set choice
def test_auto_picks_the_newest_set_of_the_first_repository_before_the_target(info):
    plan = pb.plan_restore(info, "mss-pg", DIFF1_STOP + 1)
    assert (plan["repo"], plan["set"], plan["type"]) == (1, DIFF1, "diff")
    assert plan["archive_id"] == "15-1"
    assert plan["archive_max"] == "00000001000000000000000E"
    assert plan["backup_wal_stop"] == "00000001000000000000000D"
    assert plan["earliest"] == FULL1_STOP
    assert plan["repos_ok"] == [1, 2]
    assert plan["size"] > 0


def test_a_target_between_full_and_diff_uses_the_full(info):
    plan = pb.plan_restore(info, "mss-pg", FULL1_STOP + 1)
    assert (plan["repo"], plan["set"]) == (1, FULL1)


def test_auto_falls_through_to_the_second_repository(info):
    # repo1's only set before this target would be none, repo2's full ended later: nothing anywhere.
    refused("no_backup_before_target", pb.plan_restore, info, "mss-pg", FULL1_STOP)
    plan = pb.plan_restore(info, "mss-pg", FULL2_STOP + 0.5, repo="2")
    assert (plan["repo"], plan["set"]) == (2, FULL2)


def test_repo_one_without_sets_before_target_lets_repo_two_answer(info):
    # Drop repo1's sets: auto must use repo2.
    info[0]["backup"] = [b for b in info[0]["backup"] if b["database"]["repo-key"] == 2]
    plan = pb.plan_restore(info, "mss-pg", DIFF1_STOP + 1)
    assert (plan["repo"], plan["set"]) == (2, FULL2)


def test_target_before_the_earliest_backup_is_refused(info):
    err = refused("no_backup_before_target", pb.plan_restore, info, "mss-pg", 946684800.0)
    assert err.details["earliest"] == FULL1_STOP
    assert "2026-12-01 23:22:27 UTC" in err.message


def test_no_backups_at_all_is_refused():
    err = refused("no_backup_before_target", pb.plan_restore, load("info_no_backups.json"), "mss-pg", NOW)
    assert err.details["earliest"] is None


def test_errored_sets_are_not_used(info):
    for b in info[0]["backup"]:
        b["error"] = True
    refused("no_backup_before_target", pb.plan_restore, info, "mss-pg", NOW)


def test_an_unreachable_repository_is_skipped_by_auto_and_refused_when_chosen():
    info = load("info_repo2_unreachable.json")
    plan = pb.plan_restore(info, "mss-pg", NOW)
    assert plan["repo"] == 1 and plan["repos_ok"] == [1]
    err = refused("repo_unusable", pb.plan_restore, info, "mss-pg", NOW, repo="2")
    assert "Connection refused" in err.message


def test_every_repository_unreachable_is_refused():
    refused("repo_unusable", pb.plan_restore, load("info_stanza_missing.json"), "nosuch", NOW)


def test_unknown_stanza_or_repository_is_refused(info):
    refused("stanza_missing", pb.plan_restore, info, "other", NOW)
    refused("repo_invalid", pb.plan_restore, info, "mss-pg", NOW, repo="3")
    refused("repo_invalid", pb.plan_restore, info, "mss-pg", NOW, repo="dr")


def test_missing_stanza_status_is_refused(info):
    info[0]["status"] = {"code": 1, "message": "missing stanza path"}
    refused("stanza_missing", pb.plan_restore, info, "mss-pg", NOW)


def test_a_set_without_its_archive_is_refused(info):
    info[0]["archive"] = [a for a in info[0]["archive"] if a["database"]["repo-key"] != 1]
    refused("wal_not_archived", pb.plan_restore, info, "mss-pg", NOW, repo="1")


def test_not_a_list_is_an_error():
    with pytest.raises(pb.PgBackRestError):
        pb.plan_restore({"name": "mss-pg"}, "mss-pg", NOW)


# ---------------------------------------------------------------- WAL coverage
def test_wal_directory_and_newest_time(info):
    plan = pb.plan_restore(info, "mss-pg", NOW)
    assert pb.wal_segment_dir(plan) == "15-1/0000000100000000"
    assert pb.newest_wal_time(load("repo_ls_newest_wal.json")) == WAL_TIME
    assert pb.newest_wal_time(load("repo_ls_empty.json")) is None


def test_wal_reaching_the_target_passes(info):
    plan = pb.plan_restore(info, "mss-pg", WAL_TIME - 1)
    pb.check_wal(plan, WAL_TIME, "time", WAL_TIME - 1)
    pb.check_wal(plan, WAL_TIME, "latest", NOW)


def test_wal_archived_before_the_target_is_refused(info):
    plan = pb.plan_restore(info, "mss-pg", WAL_TIME + 30)
    err = refused("wal_before_target", pb.check_wal, plan, WAL_TIME, "time", WAL_TIME + 30)
    assert err.details["wal_time"] == WAL_TIME


def test_no_wal_file_is_refused(info):
    plan = pb.plan_restore(info, "mss-pg", NOW)
    refused("wal_not_archived", pb.check_wal, plan, None, "latest", NOW)


def test_archive_ending_before_the_backup_end_is_refused(info):
    plan = pb.plan_restore(info, "mss-pg", NOW)
    plan["archive_max"] = "00000001000000000000000C"
    refused("wal_before_backup_end", pb.check_wal, plan, WAL_TIME, "latest", NOW)


def test_repo_ls_not_an_object_is_an_error():
    with pytest.raises(pb.PgBackRestError):
        pb.newest_wal_time([])


# ---------------------------------------------------------------- disk space
def test_disk_space_needed_and_enough():
    assert pb.required_bytes(1000) == 1200 + 268435456
    assert pb.check_disk(1000, {"a": 10 ** 12, "b": 268436656}) == 268436656


def test_a_member_without_room_is_refused():
    err = refused("insufficient_disk", pb.check_disk, 10 ** 9, {"a": 10 ** 12, "b": 10 ** 9, "c": 5})
    assert err.details["hosts"] == ["b", "c"]
    assert err.details["required"] == int(10 ** 9 * 1.2) + 268435456


def test_format_epoch():
    assert pb.format_epoch(FULL1_STOP) == "2026-12-01 23:22:27 UTC"
    assert pb.format_epoch(None) == "never"
