# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgbackrest_restore_plan with run_command answering from recorded pgBackRest output (module_utils fixtures)."""

from __future__ import annotations

import pathlib

import pytest
from ansible.module_utils import basic
from ansible_collections.mss.platform.plugins.modules import pgbackrest_restore_plan
from ansible_collections.mss.platform.tests.unit.plugins.modules.utils import (
    AnsibleExitJson,
    AnsibleFailJson,
    patch_exit_fail,
    set_module_args,
)

FIXTURES = pathlib.Path(__file__).parents[1] / "module_utils" / "fixtures" / "pgbackrest"
NOW = 1796167400.0


class FakePgBackRest:
    def __init__(self, info="info_full_diff_two_repos.json", repo_ls="repo_ls_newest_wal.json", rc=0):
        self.info, self.repo_ls, self.rc = info, repo_ls, rc
        self.calls = []

    def __call__(self, argv, **kwargs):
        self.calls.append(argv)
        if self.rc:
            return self.rc, "", "ERROR: [056]: unable to find primary cluster"
        name = self.info if argv[-1] == "info" else self.repo_ls
        return 0, (FIXTURES / name).read_text(), ""


@pytest.fixture
def fake(monkeypatch):
    patch_exit_fail(monkeypatch)
    monkeypatch.setattr(pgbackrest_restore_plan.time, "time", lambda: NOW)
    fake = FakePgBackRest()
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda module, argv, **kwargs: fake(argv, **kwargs))
    return fake


def run(args):
    args = dict({"stanza": "mss-pg"}, **args)
    with set_module_args(args):
        pgbackrest_restore_plan.main()


def test_plan_to_a_time(fake):
    with pytest.raises(AnsibleExitJson) as exc:
        run({"target_type": "time", "target": "2026-12-01 23:22:38+00", "free_bytes": {"pg-1": 10 ** 12}})
    result = exc.value.result
    assert result["changed"] is False
    plan = result["plan"]
    assert (plan["repo"], plan["set"]) == (1, "20261201-232223F_20261201-232235D")
    assert plan["wal_time"] == 1796167359
    assert plan["target_utc"] == "2026-12-01 23:22:38 UTC"
    assert plan["required_bytes"] > plan["size"]
    # info, then repo-ls of the chosen repository's newest WAL segment; nothing else is run.
    assert fake.calls[0] == ["pgbackrest", "--stanza=mss-pg", "--output=json", "info"]
    assert fake.calls[1] == ["pgbackrest", "--stanza=mss-pg", "--output=json", "--repo=1",
                             "--filter=^00000001000000000000000E", "repo-ls", "archive/mss-pg/15-1/0000000100000000"]
    assert len(fake.calls) == 2


def test_check_mode_plans_too(fake):
    with pytest.raises(AnsibleExitJson) as exc:
        run({"target_type": "latest", "_ansible_check_mode": True})
    assert exc.value.result["plan"]["set"] == "20261201-232223F_20261201-232235D"


@pytest.mark.parametrize("args, reason", [
    ({"target_type": "time", "target": "2000-01-01 00:00:00+00"}, "no_backup_before_target"),
    ({"target_type": "time", "target": "2026-12-01 23:22:38"}, "target_no_timezone"),
    ({"target_type": "time", "target": "soon"}, "target_unparsable"),
    ({"target_type": "time", "target": "2027-01-01 00:00:00Z"}, "target_in_future"),
    ({"target_type": "name", "target": "nope", "restore_points": ['{"name": "x", "epoch": 1}']},
     "restore_point_unknown"),
    ({"target_type": "time", "target": "2026-12-01 23:23:10+00"}, "wal_before_target"),
    ({"target_type": "latest", "repo": "7"}, "repo_invalid"),
    ({"target_type": "latest", "free_bytes": {"pg-1": 10 ** 12, "pg-3": 1024}}, "insufficient_disk"),
])
def test_refusals(fake, args, reason):
    with pytest.raises(AnsibleFailJson) as exc:
        run(args)
    result = exc.value.result
    assert result["reason"] == reason
    assert result["refused"] is True
    assert result["msg"].startswith("REFUSED, nothing was changed: ")


def test_no_wal_file_is_refused(fake):
    fake.repo_ls = "repo_ls_empty.json"
    with pytest.raises(AnsibleFailJson) as exc:
        run({"target_type": "latest"})
    assert exc.value.result["reason"] == "wal_not_archived"


def test_no_backups_is_refused(fake):
    fake.info = "info_no_backups.json"
    with pytest.raises(AnsibleFailJson) as exc:
        run({"target_type": "latest"})
    assert exc.value.result["reason"] == "no_backup_before_target"


def test_pgbackrest_failing_is_refused(fake):
    fake.rc = 56
    with pytest.raises(AnsibleFailJson) as exc:
        run({"target_type": "latest"})
    assert exc.value.result["reason"] == "pgbackrest_error"
    assert "unable to find primary cluster" in exc.value.result["msg"]
