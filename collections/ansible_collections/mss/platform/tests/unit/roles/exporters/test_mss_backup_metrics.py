# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exporters role's backup textfile collector on RECORDED `pgbackrest info --output=json` output.

The fixtures are the pgbackrest_restore_plan module's recordings (tests/unit/plugins/module_utils/fixtures/pgbackrest,
README.md there says how each was made), loaded from that directory, never copied. The collector is the single file
the role installs on the host (roles/exporters/files/mss_backup_metrics.py), imported from its path.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

COLLECTION = pathlib.Path(__file__).resolve().parents[4]
FIXTURES = COLLECTION / "tests" / "unit" / "plugins" / "module_utils" / "fixtures" / "pgbackrest"
COLLECTOR = COLLECTION / "roles" / "exporters" / "files" / "mss_backup_metrics.py"
REPO = "backup-1"

HEAD = [
    "# HELP mss_backup_last_success_timestamp_seconds End of the newest successful backup (Unix time).",
    "# TYPE mss_backup_last_success_timestamp_seconds gauge",
]
SIZE_HEAD = [
    "# HELP mss_backup_last_size_bytes Size of the newest successful backup.",
    "# TYPE mss_backup_last_size_bytes gauge",
]
DURATION_HEAD = [
    "# HELP mss_backup_last_duration_seconds Duration of the newest successful backup.",
    "# TYPE mss_backup_last_duration_seconds gauge",
]
STATUS_HEAD = [
    "# HELP mss_backup_repo_status_code Status code the backup tool reports per repository (0 = ok).",
    "# TYPE mss_backup_repo_status_code gauge",
]


def _load_collector():
    spec = importlib.util.spec_from_file_location("mss_backup_metrics", COLLECTOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


collector = _load_collector()


def recorded(name):
    return json.loads((FIXTURES / name).read_text())


def lines(text):
    assert text.endswith("\n")
    return text.splitlines()


def expected(ts, size, duration, status):
    """The exact textfile: ts/size/duration are lists of (labels, value), status of (labels, code)."""
    out = list(HEAD) + ["mss_backup_last_success_timestamp_seconds{%s} %d" % r for r in ts]
    out += SIZE_HEAD + ["mss_backup_last_size_bytes{%s} %d" % r for r in size]
    out += DURATION_HEAD + ["mss_backup_last_duration_seconds{%s} %d" % r for r in duration]
    out += STATUS_HEAD + ["mss_backup_repo_status_code{%s} %d" % r for r in status]
    return out


def lbl(stanza, key):
    return 'store="postgresql",name="%s",repo="%s/repo%d"' % (stanza, REPO, key)


def test_full_in_each_repo_and_diff_in_repo1_newest_per_repo_wins():
    # repo1: full 20261201-232223F (stop 1796167347) then diff ..._20261201-232235D (start 1796167355, stop
    # 1796167357, delta 464): the diff is the newest. repo2: full 20261201-232229F (start 1796167349, stop 1796167353,
    # delta 3801920). Both repositories report status 0.
    text = collector.pgbackrest_text(recorded("info_full_diff_two_repos.json"), REPO)
    assert lines(text) == expected(
        ts=[(lbl("mss-pg", 1), 1796167357), (lbl("mss-pg", 2), 1796167353)],
        size=[(lbl("mss-pg", 1), 464), (lbl("mss-pg", 2), 3801920)],
        duration=[(lbl("mss-pg", 1), 2), (lbl("mss-pg", 2), 4)],
        status=[(lbl("mss-pg", 1), 0), (lbl("mss-pg", 2), 0)],
    )


def test_full_only_when_the_diff_is_left_out():
    # The same recording without its differential: the full backup of each repository is the newest.
    info = recorded("info_full_diff_two_repos.json")
    info[0]["backup"] = [b for b in info[0]["backup"] if b["type"] == "full"]
    rows = collector.pgbackrest_rows(info, REPO)
    assert [(r["repo"], r["ts"], r["duration"], r["size"]) for r in rows] == [
        ("backup-1/repo1", 1796167347, 4, 3801920),
        ("backup-1/repo2", 1796167353, 4, 3801920),
    ]


def test_incremental_is_the_newest_backup_of_its_repository():
    # info_full_incr.json (stanza mss-pg-molecule): repo1 full 20261202-034134F (stop 1796182919) then incr
    # 20261202-034134F_20261202-034213I (start 1796182956, stop 1796182961, delta 464); repo2 full 20261202-034254F
    # (start 1796182974, stop 1796182995, delta 3797056). Both repositories report status 0.
    info = recorded("info_full_incr.json")
    assert [b["type"] for b in info[0]["backup"]] == ["full", "incr", "full"]
    text = collector.pgbackrest_text(info, REPO)
    assert lines(text) == expected(
        ts=[(lbl("mss-pg-molecule", 1), 1796182961), (lbl("mss-pg-molecule", 2), 1796182995)],
        size=[(lbl("mss-pg-molecule", 1), 464), (lbl("mss-pg-molecule", 2), 3797056)],
        duration=[(lbl("mss-pg-molecule", 1), 5), (lbl("mss-pg-molecule", 2), 21)],
        status=[(lbl("mss-pg-molecule", 1), 0), (lbl("mss-pg-molecule", 2), 0)],
    )


def test_stanza_without_backup_has_no_timestamp_and_reports_status_2():
    text = collector.pgbackrest_text(recorded("info_no_backups.json"), REPO)
    assert lines(text) == expected(ts=[], size=[], duration=[],
                                   status=[(lbl("mss-pg", 1), 2), (lbl("mss-pg", 2), 2)])


def test_errored_stanza_status_is_reported_not_silent():
    # --stanza=nosuch: both TLS servers refuse (status 99 on each repository), no backup list.
    text = collector.pgbackrest_text(recorded("info_stanza_missing.json"), REPO)
    assert lines(text) == expected(ts=[], size=[], duration=[],
                                   status=[(lbl("nosuch", 1), 99), (lbl("nosuch", 2), 99)])


def test_unreachable_second_repository_keeps_the_first_and_flags_the_second():
    # repo2's pgbackrest-server stopped: its backups are not listed (status 99); repo1's diff is still the newest.
    text = collector.pgbackrest_text(recorded("info_repo2_unreachable.json"), REPO)
    assert lines(text) == expected(
        ts=[(lbl("mss-pg", 1), 1796167357)],
        size=[(lbl("mss-pg", 1), 464)],
        duration=[(lbl("mss-pg", 1), 2)],
        status=[(lbl("mss-pg", 1), 0), (lbl("mss-pg", 2), 99)],
    )


def test_errored_backup_is_skipped_for_the_previous_one():
    info = recorded("info_full_diff_two_repos.json")
    for b in info[0]["backup"]:
        if b["type"] == "diff":
            b["error"] = True
    rows = collector.pgbackrest_rows(info, REPO)
    assert [(r["repo"], r["ts"]) for r in rows] == [("backup-1/repo1", 1796167347), ("backup-1/repo2", 1796167353)]


def test_label_values_are_escaped():
    info = recorded("info_no_backups.json")
    info[0]["name"] = 'a"b\\c'
    text = collector.pgbackrest_text(info, REPO)
    assert 'mss_backup_repo_status_code{store="postgresql",name="a\\"b\\\\c",repo="backup-1/repo1"} 2' in lines(text)


@pytest.mark.parametrize("fixture", ["info_full_diff_two_repos.json", "info_no_backups.json"])
def test_main_writes_data_and_collector_files_atomically(tmp_path, fixture):
    rc = collector.main(["pgbackrest", "--json", str(FIXTURES / fixture), "--textfile-dir", str(tmp_path),
                         "--repo-name", REPO])
    assert rc == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["mss_backup_postgresql.prom", "mss_backup_postgresql_collector.prom"]
    assert (tmp_path / "mss_backup_postgresql.prom").read_text() == collector.pgbackrest_text(recorded(fixture), REPO)
    assert lines((tmp_path / "mss_backup_postgresql_collector.prom").read_text())[-1] == \
        'mss_backup_collector_success{store="postgresql"} 1'
    assert oct((tmp_path / "mss_backup_postgresql.prom").stat().st_mode & 0o777) == "0o644"


def test_unreadable_source_keeps_the_data_and_flags_the_collector(tmp_path):
    assert collector.main(["pgbackrest", "--json", str(FIXTURES / "info_full_diff_two_repos.json"),
                           "--textfile-dir", str(tmp_path), "--repo-name", REPO]) == 0
    before = (tmp_path / "mss_backup_postgresql.prom").read_text()
    broken = tmp_path / "broken.json"
    broken.write_text('[{"name": "mss-pg", "backup": [{"timestamp": {}}')
    assert collector.main(["pgbackrest", "--json", str(broken), "--textfile-dir", str(tmp_path),
                           "--repo-name", REPO]) == 1
    assert (tmp_path / "mss_backup_postgresql.prom").read_text() == before
    assert lines((tmp_path / "mss_backup_postgresql_collector.prom").read_text())[-1] == \
        'mss_backup_collector_success{store="postgresql"} 0'
    # one collector_success series per store, never two files carrying it
    texts = [p.read_text() for p in tmp_path.glob("*.prom")]
    assert sum(t.count("mss_backup_collector_success{") for t in texts) == 1
