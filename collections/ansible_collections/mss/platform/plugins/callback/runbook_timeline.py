# -*- coding: utf-8 -*-
# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
name: runbook_timeline
type: aggregate
short_description: Timeline of a runbook's steps, and the RTO/RPO it achieved against its targets
version_added: 0.1.0
description:
  - Records when each task of a playbook started and ended, and on which hosts it succeeded, changed, failed,
    was skipped or found the host unreachable.
  - At the end of the run it prints the timeline, and a verdict for the recovery objectives the runbook measured,
    and writes the same as JSON when O(report_path) is set (for AWX artifacts and post-incident reviews).
  - A runbook reports what it measured with M(ansible.builtin.set_stats) (not per host), using the keys
    C(runbook_rto_s) and C(runbook_rpo_s) (achieved, seconds) and C(runbook_rto_target_s) and C(runbook_rpo_target_s)
    (objectives, seconds). An objective with no measured value is reported as C(not measured), never as met.
  - Nothing is printed when the stdout callback writes JSON (its output stays machine-readable); the report file
    is still written.
requirements:
  - Enable it in C(callbacks_enabled) (ansible.cfg or E(ANSIBLE_CALLBACKS_ENABLED)).
options:
  report_path:
    description: Write the timeline and verdicts as JSON to this file.
    type: path
    env:
      - name: MSS_RUNBOOK_REPORT
    ini:
      - section: callback_runbook_timeline
        key: report_path
  show_timeline:
    description: Print the timeline table at the end of the run (the verdicts are always printed).
    type: bool
    default: true
    env:
      - name: MSS_RUNBOOK_SHOW_TIMELINE
    ini:
      - section: callback_runbook_timeline
        key: show_timeline
"""

import json
import math
import os
import time

from ansible import constants as C
from ansible.plugins.callback import CallbackBase

OBJECTIVES = (
    ("RTO", "runbook_rto_s", "runbook_rto_target_s"),
    ("RPO", "runbook_rpo_s", "runbook_rpo_target_s"),
)
STATUS_ORDER = ("failed", "unreachable", "changed", "ok", "skipped")


def _number(value):
    """A non-negative finite number, or None (strings from set_stats templating are accepted)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return number


def objective_verdicts(custom):
    """Turn the run's custom stats into one verdict per objective; missing or malformed data is never 'met'."""
    verdicts = []
    for label, achieved_key, target_key in OBJECTIVES:
        achieved_raw = custom.get(achieved_key)
        target_raw = custom.get(target_key)
        if achieved_raw is None and target_raw is None:
            continue
        achieved = _number(achieved_raw)
        target = _number(target_raw)
        if achieved is None:
            verdict = "not measured" if achieved_raw is None else "invalid measurement"
        elif target is None:
            verdict = "no target" if target_raw is None else "invalid target"
        else:
            verdict = "met" if achieved <= target else "missed"
        verdicts.append({
            "objective": label,
            "achieved_s": achieved,
            "target_s": target,
            "verdict": verdict,
        })
    return verdicts


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mss.platform.runbook_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, clock=None, wall_clock=None):
        super(CallbackModule, self).__init__(display=display)
        self._clock = clock or time.monotonic
        self._wall = wall_clock or time.time
        self._start = None
        self._started_at = None
        self._playbook = None
        self._play = None
        self._steps = []
        self._current = {}

    # --- events -------------------------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        self._start = self._clock()
        self._started_at = self._wall()
        self._playbook = os.path.basename(getattr(playbook, "_file_name", "") or "")

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name().strip()

    def _open_step(self, task, kind):
        if self._start is None:
            self._start = self._clock()
            self._started_at = self._wall()
        step = {
            "play": self._play,
            "task": task.get_name().strip(),
            "kind": kind,
            "start_s": round(self._clock() - self._start, 3),
            "end_s": None,
            "hosts": {},
        }
        self._steps.append(step)
        self._current[task._uuid] = step

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._open_step(task, "task")

    def v2_playbook_on_handler_task_start(self, task):
        self._open_step(task, "handler")

    def _record(self, result, status):
        step = self._current.get(result._task._uuid)
        if step is None:
            return
        host = result._host.get_name()
        if status == "ok" and result._result.get("changed", False):
            status = "changed"
        previous = step["hosts"].get(host)
        # A loop reports once per item: keep the worst status seen for the host.
        if previous is None or STATUS_ORDER.index(status) < STATUS_ORDER.index(previous):
            step["hosts"][host] = status
        step["end_s"] = round(self._clock() - self._start, 3)

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ok" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        report = self.build_report(getattr(stats, "custom", {}).get("_run", {}))
        quiet = str(C.DEFAULT_STDOUT_CALLBACK or "").endswith("json")
        if not quiet:
            self._display.display(self.render_text(report))
        path = self.get_option("report_path")
        if path:
            with open(path, "w") as handle:
                json.dump(report, handle, indent=2, sort_keys=True)
            if not quiet:
                self._display.display("runbook report written to %s" % path)

    # --- report -------------------------------------------------------------------------------------------
    def build_report(self, custom):
        total = round(self._clock() - self._start, 3) if self._start is not None else 0.0
        steps = [step for step in self._steps if step["hosts"]]
        for step in steps:
            step["duration_s"] = round((step["end_s"] or step["start_s"]) - step["start_s"], 3)
            step["status"] = min(step["hosts"].values(), key=STATUS_ORDER.index)
        return {
            "playbook": self._playbook,
            "started_at": self._started_at,
            "duration_s": total,
            "steps": steps,
            "objectives": objective_verdicts(custom or {}),
        }

    def render_text(self, report):
        lines = ["RUNBOOK TIMELINE %s (%.1f s)" % (report["playbook"] or "", report["duration_s"])]
        if self.get_option("show_timeline"):
            for step in report["steps"]:
                hosts = sorted(step["hosts"])
                shown = ", ".join(hosts[:4]) + (" +%d" % (len(hosts) - 4) if len(hosts) > 4 else "")
                lines.append("  +%8.1fs %7.1fs  %-11s %s [%s]" % (
                    step["start_s"], step["duration_s"], step["status"], step["task"], shown))
        for objective in report["objectives"]:
            lines.append("  %s achieved %s, target %s: %s" % (
                objective["objective"],
                "-" if objective["achieved_s"] is None else "%.1f s" % objective["achieved_s"],
                "-" if objective["target_s"] is None else "%.1f s" % objective["target_s"],
                objective["verdict"].upper()))
        return "\n".join(lines)
