# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

import pytest

from ansible_collections.mss.platform.plugins.callback import runbook_timeline
from ansible_collections.mss.platform.plugins.callback.runbook_timeline import CallbackModule, objective_verdicts


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakeDisplay:
    verbosity = 0

    def __init__(self):
        self.lines = []

    def display(self, msg, *args, **kwargs):
        self.lines.append(msg)


class FakeTask:
    def __init__(self, name, uuid):
        self._name = name
        self._uuid = uuid

    def get_name(self):
        return self._name


class FakeHost:
    def __init__(self, name):
        self._name = name

    def get_name(self):
        return self._name


class FakeResult:
    def __init__(self, task, host, result=None):
        self._task = task
        self._host = FakeHost(host)
        self._result = result or {}


class FakePlay:
    def get_name(self):
        return "Fail over the database"


class FakeStats:
    def __init__(self, custom):
        self.custom = {"_run": custom} if custom is not None else {}


@pytest.fixture
def callback(monkeypatch, tmp_path):
    clock = FakeClock()
    display = FakeDisplay()
    cb = CallbackModule(display=display, clock=clock, wall_clock=lambda: 1700000000.0)
    options = {"report_path": str(tmp_path / "report.json"), "show_timeline": True}
    monkeypatch.setattr(cb, "get_option", options.get)
    cb.clock, cb.display_fake, cb.options = clock, display, options
    return cb


def run_drill(cb, custom):
    cb.v2_playbook_on_start(type("PB", (), {"_file_name": "/x/playbooks/pg_failover_drill.yml"})())
    cb.v2_playbook_on_play_start(FakePlay())
    kill = FakeTask("Kill the primary", "t1")
    cb.v2_playbook_on_task_start(kill, False)
    cb.clock.now += 1.5
    cb.v2_runner_on_ok(FakeResult(kill, "pg-1", {"changed": True}))
    wait = FakeTask("Wait for a new leader", "t2")
    cb.v2_playbook_on_task_start(wait, False)
    cb.clock.now += 9.0
    cb.v2_runner_on_ok(FakeResult(wait, "pg-2"))
    cb.v2_runner_on_skipped(FakeResult(wait, "pg-3"))
    never = FakeTask("Only when asked", "t3")
    cb.v2_playbook_on_task_start(never, False)
    cb.v2_playbook_on_stats(FakeStats(custom))


def test_timeline_and_met_objectives(callback):
    run_drill(callback, {"runbook_rto_s": 9.2, "runbook_rto_target_s": 15,
                         "runbook_rpo_s": 0, "runbook_rpo_target_s": 0})
    with open(callback.options["report_path"]) as handle:
        report = json.load(handle)
    assert report["playbook"] == "pg_failover_drill.yml"
    assert [s["task"] for s in report["steps"]] == ["Kill the primary", "Wait for a new leader"]
    kill, wait = report["steps"]
    assert kill["status"] == "changed" and kill["duration_s"] == 1.5
    assert wait["start_s"] == 1.5 and wait["duration_s"] == 9.0
    assert wait["hosts"] == {"pg-2": "ok", "pg-3": "skipped"}
    assert wait["status"] == "ok"
    assert [o["verdict"] for o in report["objectives"]] == ["met", "met"]
    text = "\n".join(callback.display_fake.lines)
    assert "RTO achieved 9.2 s, target 15.0 s: MET" in text
    assert "Kill the primary [pg-1]" in text


def test_missed_objective(callback):
    run_drill(callback, {"runbook_rto_s": 33.0, "runbook_rto_target_s": 15})
    text = "\n".join(callback.display_fake.lines)
    assert "RTO achieved 33.0 s, target 15.0 s: MISSED" in text
    assert "RPO" not in text


def test_failure_beats_other_statuses_in_a_loop(callback):
    callback.v2_playbook_on_start(type("PB", (), {"_file_name": "x.yml"})())
    task = FakeTask("Loop", "t1")
    callback.v2_playbook_on_task_start(task, False)
    callback.v2_runner_on_ok(FakeResult(task, "h", {"changed": True}))
    callback.v2_runner_on_failed(FakeResult(task, "h"))
    callback.v2_runner_on_ok(FakeResult(task, "h"))
    report = callback.build_report({})
    assert report["steps"][0]["status"] == "failed"


def test_ignored_failure_is_not_a_failure(callback):
    callback.v2_playbook_on_start(type("PB", (), {"_file_name": "x.yml"})())
    task = FakeTask("Probe", "t1")
    callback.v2_playbook_on_task_start(task, False)
    callback.v2_runner_on_failed(FakeResult(task, "h"), ignore_errors=True)
    assert callback.build_report({})["steps"][0]["status"] == "ok"


@pytest.mark.parametrize("custom, verdicts", [
    ({"runbook_rto_target_s": 15}, ["not measured"]),
    ({"runbook_rto_s": "n/a", "runbook_rto_target_s": 15}, ["invalid measurement"]),
    ({"runbook_rto_s": -1, "runbook_rto_target_s": 15}, ["invalid measurement"]),
    ({"runbook_rto_s": float("nan"), "runbook_rto_target_s": 15}, ["invalid measurement"]),
    ({"runbook_rto_s": True, "runbook_rto_target_s": 15}, ["invalid measurement"]),
    ({"runbook_rto_s": 3}, ["no target"]),
    ({"runbook_rto_s": 3, "runbook_rto_target_s": "soon"}, ["invalid target"]),
    ({"runbook_rpo_s": "0.5", "runbook_rpo_target_s": "1"}, ["met"]),
    ({}, []),
])
def test_objectives_fail_closed(custom, verdicts):
    assert [v["verdict"] for v in objective_verdicts(custom)] == verdicts


def test_no_report_file_without_path(callback, tmp_path):
    callback.options["report_path"] = None
    run_drill(callback, None)
    assert not (tmp_path / "report.json").exists()
    assert callback.display_fake.lines[0].startswith("RUNBOOK TIMELINE pg_failover_drill.yml")


def test_timeline_can_be_hidden(callback):
    callback.options["show_timeline"] = False
    run_drill(callback, {"runbook_rto_s": 1, "runbook_rto_target_s": 2})
    assert "Kill the primary" not in callback.display_fake.lines[0]
    assert "MET" in callback.display_fake.lines[0]


def test_module_constants():
    assert runbook_timeline.CallbackModule.CALLBACK_NEEDS_ENABLED is True


def test_silent_under_a_json_stdout_callback(callback, monkeypatch):
    monkeypatch.setattr(runbook_timeline.C, "DEFAULT_STDOUT_CALLBACK", "ansible.builtin.json")
    run_drill(callback, {"runbook_rto_s": 1, "runbook_rto_target_s": 2})
    assert callback.display_fake.lines == []
    with open(callback.options["report_path"]) as handle:
        assert json.load(handle)["objectives"][0]["verdict"] == "met"
