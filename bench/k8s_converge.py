#!/usr/bin/env python3
"""Converge benchmark of the ``k8s_cluster`` role and the ``app`` role on the real cluster of the Molecule scenario
``k8s_cluster`` (node containers with real kubelets, containerd, kube-router; see docs/kubernetes.md).

Side by side, in one run on the same containers:

- ``cold``: bare node containers (``molecule destroy``, ``create``, ``prepare``: not timed) -> the scenario's
  converge.yml (the role: containerd, kubelet, ``kubeadm init`` and ``join``, CNI, CoreDNS) -> it returns when every
  node is Ready (the role waits for that);
- ``re-run``: the same converge.yml again (goal: under 20 % of cold, 0 changed);
- ``app cold``: the app images imported on the worker (not timed), then ``files/app.yml`` (the app role) until both
  Deployments are Available, i.e. their probes pass against the scenario's data host; ``app re-run``: again;
- ``pod start to Ready``: for every Pod of the first app deploy and of a rolling restart of the API, the Pod's
  creation -> its Ready condition (API timestamps, 1 s resolution), and the restart's wall time.

Usage: bench/k8s_converge.py [--keep]   (destroys the scenario's containers at the start and, unless --keep, at the
end). Writes bench/results/k8s_converge.json and .md. Every wait is bounded.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "molecule" / "k8s_cluster"
RESULTS = ROOT / "bench" / "results"
KUBECTL = ["docker", "exec", "k8s-cp-1", "/usr/local/bin/kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"]
WORKERS = ["k8s-worker-1"]
APP_IMAGES = {"frontend": "docker.io/mss/frontend:1.0.0", "api": "docker.io/mss/api:1.0.0"}


def sh(*args: str, check: bool = True, timeout: float = 1800, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, text=True, capture_output=True, timeout=timeout, **kw)


def venv_env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}")


def molecule(action: str) -> None:
    subprocess.run([str(ROOT / ".venv/bin/molecule"), action, "-s", "k8s_cluster"], cwd=ROOT, env=venv_env(),
                   check=True, timeout=3600)


def ephemeral_dir() -> Path:
    dirs = sorted(glob.glob(os.path.expanduser("~/.ansible/tmp/molecule.*.k8s_cluster")), key=os.path.getmtime)
    if not dirs:
        sys.exit("k8s_converge: no Molecule ephemeral directory of k8s_cluster (molecule create did not run)")
    return Path(dirs[-1])


def playbook(path: Path, *args: str) -> tuple[float, dict, list[tuple[str, float]]]:
    """ansible-playbook with the scenario's inventory and settings, JSON results; returns (seconds, stats, the
    slowest tasks)."""
    eph = ephemeral_dir()
    env = venv_env()
    env.update({
        "ANSIBLE_CONFIG": str(eph / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "collections/ansible_collections/mss/platform/roles"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "MOLECULE_EPHEMERAL_DIRECTORY": str(eph),
        "MOLECULE_FILE": str(eph / "molecule.yml"),
        "MOLECULE_INVENTORY_FILE": str(eph / "inventory" / "ansible_inventory.yml"),
        "MOLECULE_PROJECT_DIRECTORY": str(ROOT),
        "MOLECULE_SCENARIO_DIRECTORY": str(SCENARIO),
        "MOLECULE_SCENARIO_NAME": "k8s_cluster",
    })
    start = time.monotonic()
    proc = subprocess.run([str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(eph / "inventory"), str(path), *args],
                          cwd=ROOT, env=env, text=True, capture_output=True, timeout=3600)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-3000:])
        raise SystemExit(f"k8s_converge: {path.name} failed (exit {proc.returncode})")
    result = json.loads(proc.stdout)
    return seconds, result["stats"], slowest_tasks(result)


def slowest_tasks(result: dict, top: int = 8) -> list[tuple[str, float]]:
    """The run's slowest tasks by wall time (the json callback's per-task start/end), longest first."""
    spent: dict[str, float] = {}
    for play in result.get("plays", []):
        for task in play.get("tasks", []):
            info = task["task"]
            duration = info.get("duration", {})
            if "start" not in duration or "end" not in duration:
                continue
            secs = (datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
                    - datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))).total_seconds()
            spent[info["name"]] = spent.get(info["name"], 0.0) + secs
    return sorted(((name, round(secs, 1)) for name, secs in spent.items()), key=lambda kv: -kv[1])[:top]


def changed(stats: dict) -> int:
    return sum(host.get("changed", 0) for host in stats.values())


def kubectl_json(*args: str) -> dict:
    return json.loads(sh(*KUBECTL, *args, "-o", "json").stdout)


def ts(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").timestamp()


def pod_ready_seconds(pods: list[dict]) -> list[float]:
    out = []
    for pod in pods:
        ready = [c for c in pod["status"].get("conditions", []) if c["type"] == "Ready" and c["status"] == "True"]
        if ready:
            out.append(ts(ready[0]["lastTransitionTime"]) - ts(pod["metadata"]["creationTimestamp"]))
    return out


def import_app_images() -> None:
    store = Path(os.environ.get("K8S_SIM_STORE", os.path.expanduser("~/.cache/mss-k8s-sim"))) / "apps"
    for node in WORKERS:
        have = sh("docker", "exec", node, "/usr/local/bin/ctr", "-n", "k8s.io", "images", "list", "-q").stdout.split()
        for app, ref in APP_IMAGES.items():
            if ref in have:
                continue
            sh("docker", "cp", str(store / f"{app}.tar"), f"{node}:/var/lib/mss-k8s/app-{app}.tar")
            sh("docker", "exec", node, "/usr/local/bin/ctr", "-n", "k8s.io", "images", "import",
               f"/var/lib/mss-k8s/app-{app}.tar")
            sh("docker", "exec", node, "rm", "-f", f"/var/lib/mss-k8s/app-{app}.tar")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the containers at the end")
    args = parser.parse_args()
    load_before = list(os.getloadavg())

    molecule("destroy")
    molecule("create")  # Molecule's create sequence runs prepare.yml too

    rows = {}
    secs, stats, _ = playbook(SCENARIO / "converge.yml")
    rows["cold"] = {"seconds": round(secs, 1), "changed": changed(stats)}
    nodes = kubectl_json("get", "nodes")["items"]
    ready_nodes = [n["metadata"]["name"] for n in nodes
                   if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])]
    secs, stats, re_run_slowest = playbook(SCENARIO / "converge.yml")
    rows["re-run"] = {"seconds": round(secs, 1), "changed": changed(stats)}

    import_app_images()
    secs, stats, _ = playbook(SCENARIO / "files" / "app.yml")
    rows["app cold"] = {"seconds": round(secs, 1), "changed": changed(stats)}
    first_pods = kubectl_json("get", "pods", "-n", "mss")["items"]
    secs, stats, _ = playbook(SCENARIO / "files" / "app.yml")
    rows["app re-run"] = {"seconds": round(secs, 1), "changed": changed(stats)}

    before = {p["metadata"]["name"] for p in kubectl_json("get", "pods", "-n", "mss")["items"]}
    start = time.monotonic()
    sh(*KUBECTL, "rollout", "restart", "-n", "mss", "deployment/mss-api")
    sh(*KUBECTL, "rollout", "status", "-n", "mss", "deployment/mss-api", "--timeout=300s")
    restart_secs = time.monotonic() - start
    restarted = [p for p in kubectl_json("get", "pods", "-n", "mss", "-l", "app.kubernetes.io/name=mss-api")["items"]
                 if p["metadata"]["name"] not in before]

    first = pod_ready_seconds(first_pods)
    again = pod_ready_seconds(restarted)
    summary = {
        "nodes_ready": ready_nodes,
        "rows": rows,
        "re_run_ratio": round(rows["re-run"]["seconds"] / rows["cold"]["seconds"], 3),
        "app_re_run_ratio": round(rows["app re-run"]["seconds"] / rows["app cold"]["seconds"], 3),
        "pod_ready_first_deploy_s": {"n": len(first), "median": statistics.median(first) if first else None,
                                     "max": max(first) if first else None},
        "pod_ready_rolling_restart_s": {"n": len(again), "median": statistics.median(again) if again else None,
                                        "max": max(again) if again else None},
        "api_rolling_restart_s": round(restart_secs, 1),
        "re_run_slowest_tasks": re_run_slowest,
    }
    machine = {"cores": os.cpu_count(), "load_before": load_before, "load_after": list(os.getloadavg())}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "k8s_converge.json").write_text(json.dumps({"summary": summary, "machine": machine,
                                                          "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                                         indent=2) + "\n")
    lines = [
        "# Kubernetes converge (k8s_cluster role, 1 control plane + 1 worker in containers; app role on it)",
        "",
        f"Machine: {machine['cores']} cores, load average before {[round(x, 2) for x in load_before]}, "
        f"after {[round(x, 2) for x in machine['load_after']]}. Nodes Ready after the cold converge: {ready_nodes}.",
        "",
        "| run | seconds | changed | share of its cold run |",
        "|---|---|---|---|",
    ]
    for name, cold in (("cold", "cold"), ("re-run", "cold"), ("app cold", "app cold"), ("app re-run", "app cold")):
        share = rows[name]["seconds"] / rows[cold]["seconds"]
        lines.append(f"| {name} | {rows[name]['seconds']} | {rows[name]['changed']} | {share:.0%} |")
    lines += [
        "",
        f"Goal: re-run under 20 % of cold with 0 changed: cluster {summary['re_run_ratio']:.0%}, "
        f"{rows['re-run']['changed']} changed; app {summary['app_re_run_ratio']:.0%}, "
        f"{rows['app re-run']['changed']} changed.",
        "",
        f"Pod creation -> Ready (s): first deploy median {summary['pod_ready_first_deploy_s']['median']}, max "
        f"{summary['pod_ready_first_deploy_s']['max']} ({len(first)} Pods); API rolling restart median "
        f"{summary['pod_ready_rolling_restart_s']['median']}, max {summary['pod_ready_rolling_restart_s']['max']} "
        f"({len(again)} Pods); the whole API rolling restart {summary['api_rolling_restart_s']} s.",
        "",
        "Slowest tasks of the cluster re-run (wall seconds, all hosts of the task together):",
        "",
        "| task | seconds |",
        "|---|---|",
        *(f"| {name} | {secs} |" for name, secs in re_run_slowest),
    ]
    (RESULTS / "k8s_converge.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not args.keep:
        molecule("destroy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
