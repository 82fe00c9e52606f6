"""The runbook_timeline callback loaded by a real ansible-playbook run (not instantiated by hand)."""

import json
import os
import pathlib
import subprocess
import sys

TOP = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = """
- name: A drill
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Take a step
      ansible.builtin.command: "true"
      changed_when: true
    - name: Report what the drill achieved
      ansible.builtin.set_stats:
        data:
          runbook_rto_s: 12.5
          runbook_rto_target_s: 15
          runbook_rpo_s: 30
          runbook_rpo_target_s: 0
"""


def test_callback_in_a_real_run(tmp_path):
    playbook = tmp_path / "drill.yml"
    playbook.write_text(PLAYBOOK)
    report = tmp_path / "report.json"
    env = dict(os.environ,
               ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(TOP / "collections"),
               ANSIBLE_CALLBACKS_ENABLED="mss.platform.runbook_timeline",
               MSS_RUNBOOK_REPORT=str(report))
    bindir = pathlib.Path(sys.executable).parent
    run = subprocess.run([str(bindir / "ansible-playbook"), "-i", "localhost,", str(playbook),
                          "-e", "ansible_python_interpreter=" + sys.executable],
                         env=env, capture_output=True, text=True, timeout=120, cwd=TOP)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RUNBOOK TIMELINE drill.yml" in run.stdout
    assert "RTO achieved 12.5 s, target 15.0 s: MET" in run.stdout
    assert "RPO achieved 30.0 s, target 0.0 s: MISSED" in run.stdout
    data = json.loads(report.read_text())
    assert [s["task"] for s in data["steps"]] == ["Take a step", "Report what the drill achieved"]
    assert data["steps"][0]["status"] == "changed"
