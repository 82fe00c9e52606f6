"""Fixtures for the kube_monitoring role's tests on the simulated cluster's real API server (tests/k8s-sim/up.sh).

prometheus_operator_crds installs the ServiceMonitor, PodMonitor and PrometheusRule CRDs of the Prometheus
Operator, taken at test time from its Go module (github.com/prometheus-operator/prometheus-operator, pinned
below) in the Go module cache, fetched through the Go module proxy (`go mod download -json`); the CRDs are not
committed. run_role runs a play applying mss.platform.kube_monitoring with the cluster chosen once through
module_defaults on the collection's action group, as the project's Kubernetes playbooks do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator"
OPERATOR_VERSION = os.environ.get("MSS_PROMETHEUS_OPERATOR_VERSION", "v0.85.0")
CRDS = ("servicemonitors", "podmonitors", "prometheusrules")


class PlaybookRun:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        # Messages as one line: the YAML result format wraps long strings.
        self.text = " ".join(self.output.replace("''", "'").split())
        recap = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", self.output)
        self.ok, self.changed, self.unreachable, self.failed = (int(g) for g in recap.groups()) if recap else (0,) * 4

    def tail(self, n: int = 5000) -> str:
        return self.output[-n:]


@pytest.fixture(scope="session")
def kubectl(kubeconfig_path: Path):
    built = REPO / ".cache" / "k8s-sim" / "bin" / "kubectl"
    binary = str(built) if built.is_file() else shutil.which("kubectl")
    if binary is None:
        pytest.skip("no kubectl binary")

    def run(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([binary, "--kubeconfig", str(kubeconfig_path), *args], input=stdin, check=check,
                              capture_output=True, text=True, timeout=120)

    return run


@pytest.fixture(scope="session")
def operator_crd_dir() -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("no go toolchain to fetch the Prometheus Operator module")
    proc = subprocess.run([go, "mod", "download", "-json", f"{OPERATOR_MODULE}@{OPERATOR_VERSION}"],
                          capture_output=True, text=True, timeout=600, check=False, cwd="/")
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or "Dir" not in info:
        pytest.fail(f"go mod download {OPERATOR_MODULE}@{OPERATOR_VERSION} failed: {info.get('Error')} {proc.stderr}")
    crd_dir = Path(info["Dir"]) / "example" / "prometheus-operator-crd"
    assert crd_dir.is_dir(), f"{crd_dir} missing in the module"
    return crd_dir


@pytest.fixture(scope="session")
def prometheus_operator_crds(api_client, kubectl, operator_crd_dir: Path) -> list[str]:
    """The three CRDs applied (server-side: they are too large for a last-applied annotation) and Established."""
    names = []
    for crd in CRDS:
        path = operator_crd_dir / f"monitoring.coreos.com_{crd}.yaml"
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        names.append(f"{crd}.monitoring.coreos.com")
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in names])
    return names


@pytest.fixture
def namespace(kubectl, request: pytest.FixtureRequest):
    name = f"t-kmon-{request.node.name.replace('_', '-')[:30].strip('-').lower()}-{uuid.uuid4().hex[:5]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def run_role(kubeconfig_path: Path, tmp_path_factory: pytest.TempPathFactory):
    if not ANSIBLE_PLAYBOOK.is_file():
        pytest.skip(f"no ansible-playbook next to {sys.executable}")
    work = tmp_path_factory.mktemp("kube-monitoring")
    counter = iter(range(10_000))

    def run(role_vars: dict, *args: str) -> PlaybookRun:
        n = next(counter)
        play = [{
            "name": "Apply the kube_monitoring role to the simulated cluster",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "module_defaults": {"group/mss.platform.k8s": {"kubeconfig": str(kubeconfig_path)}},
            "roles": [{"role": "mss.platform.kube_monitoring"}],
        }]
        playbook = work / f"play-{n}.yml"
        playbook.write_text(json.dumps(play))
        vars_file = work / f"vars-{n}.json"
        vars_file.write_text(json.dumps(role_vars))
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_FORCE_COLOR": "0"}
        proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-e",
                               f"ansible_python_interpreter={sys.executable}", "-e", f"@{vars_file}", *args,
                               str(playbook)], cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
                              check=False)
        return PlaybookRun(proc)

    return run
