"""Fixtures for the app role's integration tests against the simulated cluster (tests/k8s-sim/up.sh)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[3]
DEFAULT_KUBECONFIG = REPO / ".cache" / "k8s-sim" / "kubeconfig"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")




class PlaybookRun:
    """The outcome of one ansible-playbook run: return code, output and the recap's counters."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        recap = re.search(
            r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
            self.output,
        )
        self.ok, self.changed, self.unreachable, self.failed = (int(g) for g in recap.groups()) if recap else (0,) * 4


@pytest.fixture(scope="session")
def run_playbook(kubeconfig_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """Run a playbook applying mss.platform.app on localhost with the given role variables."""
    if not ANSIBLE_PLAYBOOK.is_file():
        pytest.skip(f"no ansible-playbook next to {sys.executable}")
    workdir = tmp_path_factory.mktemp("app-role")

    def run(role_vars: dict, name: str = "play", *extra_args: str) -> PlaybookRun:
        playbook = workdir / f"{name}.yml"
        play = [
            {
                "name": "Apply the app role to the simulated cluster",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                # The connection, chosen once for the play (as playbooks/deploy_app.yml does).
                "module_defaults": {"group/mss.platform.k8s": {"kubeconfig": str(kubeconfig_path)}},
                "vars": role_vars,
                "roles": [{"role": "mss.platform.app"}],
            }
        ]
        playbook.write_text(json.dumps(play, indent=2))
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        }
        proc = subprocess.run(
            [
                str(ANSIBLE_PLAYBOOK),
                "-i",
                "localhost,",
                "-e",
                f"ansible_python_interpreter={sys.executable}",
                *extra_args,
                str(playbook),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        return PlaybookRun(proc)

    return run
