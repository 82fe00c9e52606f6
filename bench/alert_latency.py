#!/usr/bin/env python3
"""Alert latency: time from a real fault to the alert's arrival at the webhook receiver, and false alerts under
full CPU load, for two configurations watching the SAME target at the SAME time (side by side, one fault each run):

- ``production``: the prometheus / alertmanager roles exactly as a user gets them (role defaults: scrape and
  evaluation 15 s, group_wait 30 s, group_interval 5 m; the rule files' own ``for:``: RedisDown 30 s,
  PostgreSQLDown 1 m, NodeDiskAlmostFull 2 m, HTTPErrorRateHigh 2 m on a 5 m error ratio).
- ``upstream`` (the anchor): upstream defaults - Prometheus ``scrape_interval``/``evaluation_interval`` 1 m
  (prometheus.io configuration docs), Alertmanager ``group_wait`` 30 s, ``group_interval`` 5 m,
  ``repeat_interval`` 4 h (alertmanager docs) - and upstream-style rules added as extra rule groups, with the
  ``for:`` of awesome-prometheus-alerts (samber/awesome-prometheus-alerts): RedisDown ``redis_up == 0`` for 0m,
  PostgresqlDown ``pg_up == 0`` for 0m, HostOutOfDiskSpace ``< 10 %`` available for 2m, and the 5xx ratio > 5 %
  for 1m (its Nginx/Traefik/Apache HighHttp5xxErrorRate rules; with a 5 m rate window here, because their 1 m
  window holds a single sample at a 1 m scrape interval and never evaluates). Slower references exist: the
  redis_exporter mixin's RedisDown is ``for: 5m``; kube-prometheus' NodeFilesystemAlmostOutOfSpace ``for: 30m``.

Faults (all four injected at once on the target each run; each raises an alert of its own group, so they do not
delay one another): Redis stopped, PostgreSQL stopped, the 8 MiB tmpfs /srv/fill filled, the probe app answering
every /work request with 503. The clock starts just before each fault's command and stops at the receiver's
record (``received``, same kernel clock). Between runs: faults repaired, the error ratio back under 5 %, then
Prometheus and Alertmanager restarted on both monitoring hosts so that every run starts from no alert state at
all (a just-resolved alert re-fired within Prometheus' 15 min resolved-resend window would otherwise join a live
Alertmanager group and wait for group_interval instead of group_wait), Alertmanager's notification log emptied
(an alert whose resolution was not notified yet would be deduplicated when it fires again, until repeat_interval).

False-alert run (first, on a stack no fault has touched yet): ``--cpu-minutes`` (default 10) with two
normal-priority CPU burners (``timeout`` bounded) in every bench container (2 cores: the whole machine saturated)
and no fault; alerts arriving at pager/chat/low-noise that were not already pending or firing before the run are
counted (goal 0); Watchdog notifications are counted apart.

The stack is the Molecule ``monitoring`` scenario's own: its prepare playbook (targets, probe app, webhook receiver,
wait_alert.py), its inventory variables (molecule.yml, timings replaced as above) and playbooks/monitoring.yml,
converged on the bench's own containers (``bench-alert-*``, network ``bench-alert``, label
``mss.bench=alert-latency``; the monitoring hosts are named monitoring-1 inside their own /etc/hosts, the target is
the network alias monitoring-target-1 on the bench network only), so it never collides with a running
``molecule test -s monitoring``. Everything it started is removed at the end (``--keep`` keeps it). Bounded loops.
Writes bench/results/alert_latency.json and .md.
  usage: bench/alert_latency.py [--runs 3] [--cpu-minutes 10] [--keep] [--reuse] [--cpu-only] [--resume K]
"""

from __future__ import annotations

import argparse
import base64
import calendar
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SCENARIO = ROOT / "molecule" / "monitoring"
ROLES = ROOT / "collections" / "ansible_collections" / "mss" / "platform" / "roles"
IMAGE = "mss/systemd:bookworm"
NETWORK = "bench-alert"
LABEL = "mss.bench=alert-latency"
TARGET = "bench-alert-target"
MON = {"production": "bench-alert-prod", "upstream": "bench-alert-upstream"}
GOAL_S = 60.0

# fault -> (production alert, upstream-style alert, receiver labels to match)
FAULTS = {
    "redis_down": ("RedisDown", "UpstreamRedisDown", {"instance": "monitoring-target-1:6379"}),
    "postgresql_down": ("PostgreSQLDown", "UpstreamPostgresqlDown", {"instance": "monitoring-target-1"}),
    "disk_full": ("NodeDiskAlmostFull", "UpstreamHostOutOfDiskSpace", {"mountpoint": "/srv/fill"}),
    "error_burst": ("HTTPErrorRateHigh", "UpstreamHTTP5xxErrorRate", {"service": "mss-api"}),
}
RULE_FILES = {"redis_down": "redis.rules.yml", "postgresql_down": "postgresql.rules.yml",
              "disk_full": "node.rules.yml", "error_burst": "apps.rules.yml"}

UPSTREAM_TIMING = {"scrape_interval": "1m", "evaluation_interval": "1m", "group_wait": "30s",
                   "group_interval": "5m", "repeat_interval": "4h"}
UPSTREAM_FOR = {"redis_down": "0s", "postgresql_down": "0s", "disk_full": "2m", "error_burst": "1m"}
UPSTREAM_EXPR = {
    "redis_down": "redis_up == 0",
    "postgresql_down": "pg_up == 0",
    "disk_full": "(node_filesystem_avail_bytes * 100) / node_filesystem_size_bytes < 10"
                 " and on (instance, device, mountpoint) node_filesystem_readonly == 0",
    "error_burst": 'sum by (environment, service) (rate(http_requests_total{status=~"5.."}[5m]))'
                   " / sum by (environment, service) (rate(http_requests_total[5m])) * 100 > 5",
}
# the scenario's timing overrides: removed for production (role defaults), replaced for the anchor
TIMING_VARS = ["prometheus_scrape_interval", "prometheus_scrape_timeout", "prometheus_evaluation_interval",
               "prometheus_rule_for_override", "alertmanager_group_wait", "alertmanager_critical_group_wait",
               "alertmanager_group_interval",
               "alertmanager_repeat_interval", "alertmanager_watchdog_repeat_interval"]

INJECT = r"""set -u
t() { date +%s.%N; }
echo "redis_down $(t)"; systemctl stop redis-server
echo "postgresql_down $(t)"; systemctl stop postgresql
echo "disk_full $(t)"; dd if=/dev/zero of=/srv/fill/blob bs=1M count=8 status=none || true
echo "error_burst $(t)"; echo 1 > /etc/probe-app/error_rate
"""
REPAIR = "systemctl start redis-server postgresql && rm -f /srv/fill/blob && echo 0 > /etc/probe-app/error_rate"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*args: str, check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, text=True, capture_output=True, timeout=timeout, **kw)


def dexec(container: str, script: str, check: bool = True, timeout: float = 120) -> str:
    return sh("docker", "exec", container, "bash", "-c", script, check=check, timeout=timeout).stdout


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for u in ("ms", "s", "m", "h"):
        if duration.endswith(u) and duration[: -len(u)].replace(".", "").isdigit():
            return float(duration[: -len(u)]) * units[u]
    raise ValueError(duration)


# --- settings ------------------------------------------------------------------------------------------------
def production_settings() -> dict:
    """What a user gets: the role defaults and the rule files' own `for:`."""
    prom = yaml.safe_load((ROLES / "prometheus/defaults/main.yml").read_text())
    am = yaml.safe_load((ROLES / "alertmanager/defaults/main.yml").read_text())
    rule_for = {}
    for fault, (alert, _, _) in FAULTS.items():
        doc = yaml.safe_load((ROLES / "prometheus/files/rules" / RULE_FILES[fault]).read_text())
        rules = [r for g in doc["groups"] for r in g["rules"]
                 if r.get("alert") == alert and r.get("labels", {}).get("severity") == "critical"]
        rule_for[fault] = rules[0].get("for", "0s")
    return {"scrape_interval": prom["prometheus_scrape_interval"],
            "evaluation_interval": prom["prometheus_evaluation_interval"],
            "group_wait": am["alertmanager_critical_group_wait"], "group_interval": am["alertmanager_group_interval"],
            "repeat_interval": am["alertmanager_repeat_interval"], "for": rule_for}


def upstream_settings() -> dict:
    return dict(UPSTREAM_TIMING, **{"for": dict(UPSTREAM_FOR)})


def upstream_rule_groups(runbook_base: str) -> list[dict]:
    rules = []
    for fault, (_, alert, _) in FAULTS.items():
        rules.append({"alert": alert, "expr": UPSTREAM_EXPR[fault], "for": UPSTREAM_FOR[fault],
                      "labels": {"severity": "critical", "component": "bench-upstream"},
                      "annotations": {"summary": f"{alert} (upstream-style rule, alert latency bench)",
                                      "description": f"awesome-prometheus-alerts style rule for {fault}.",
                                      "runbook_url": f"{runbook_base}#{FAULTS[fault][0].lower()}"}})
    return [{"name": "bench.upstream", "rules": rules}]


def budget(settings: dict, fault: str) -> dict:
    """Worst-case components of fault -> receiver: the fault is seen at the next scrape, the rule sees it at the
    next evaluation, it stays pending for `for` (rounded up to an evaluation), then Alertmanager's group_wait."""
    parts = {"scrape_interval": seconds(settings["scrape_interval"]),
             "evaluation_interval": seconds(settings["evaluation_interval"]),
             "for": seconds(settings["for"][fault]), "group_wait": seconds(settings["group_wait"])}
    if fault == "error_burst":  # the 5 m ratio must first cross 5 % (about 15 s of a 50 % error share)
        parts["ratio_ramp"] = 15.0
    top = max(parts.values())
    return {"parts": parts, "worst_case_s": sum(parts.values()),
            "dominant": " = ".join(k for k, v in parts.items() if v == top)}


# --- containers and convergence -------------------------------------------------------------------------------
def cleanup() -> None:
    ids = sh("docker", "ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
    if ids:
        sh("docker", "rm", "-f", "-v", *ids, check=False)
    sh("docker", "network", "rm", NETWORK, check=False)


def run_container(name: str, hostname: str, alias: str | None, tmpfs: list[str]) -> None:
    # the run options of tests/harness/tasks/systemd_container.yml (what works on these machines)
    args = ["docker", "run", "-d", "--name", name, "--hostname", hostname, "--network", NETWORK,
            "--label", LABEL, "--label", "owner=bench", "--cgroupns=host",
            "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "--stop-signal", "SIGRTMIN+3"]
    if alias:
        args += ["--network-alias", alias]
    for t in tmpfs:
        args += ["--tmpfs", t]
    sh(*args, IMAGE, "/sbin/init")
    for _ in range(60):
        if sh("docker", "exec", name, "python3", "-c", "print(1)", check=False).returncode == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"{name}: python3 does not answer")


def scenario_vars() -> dict:
    mol = yaml.safe_load((SCENARIO / "molecule.yml").read_text())
    return mol["provisioner"]["inventory"]["group_vars"]


def inventory(config: str, work: Path) -> Path:
    gv = scenario_vars()
    mon = {k: v for k, v in gv["monitoring"].items() if k not in TIMING_VARS}
    if config == "upstream":
        mon.update(prometheus_scrape_interval=UPSTREAM_TIMING["scrape_interval"],
                   prometheus_evaluation_interval=UPSTREAM_TIMING["evaluation_interval"],
                   alertmanager_group_wait=UPSTREAM_TIMING["group_wait"],
                   alertmanager_critical_group_wait=UPSTREAM_TIMING["group_wait"],
                   alertmanager_group_interval=UPSTREAM_TIMING["group_interval"],
                   alertmanager_repeat_interval=UPSTREAM_TIMING["repeat_interval"],
                   prometheus_extra_rule_groups=upstream_rule_groups(
                       yaml.safe_load((ROLES / "prometheus/defaults/main.yml").read_text())[
                           "prometheus_runbook_base_url"]))
    conn = {"ansible_connection": "community.docker.docker"}
    inv = {"all": {
        "vars": gv.get("all", {}),
        "hosts": {"monitoring-1": dict(conn, ansible_host=MON[config]),
                  "monitoring-target-1": dict(conn, ansible_host=TARGET)},
        "children": {"monitoring": {"hosts": {"monitoring-1": {}}, "vars": mon},
                     "redis_backup": {"hosts": {"monitoring-1": {}}},
                     "postgres": {"hosts": {"monitoring-target-1": {}}},
                     "redis": {"hosts": {"monitoring-target-1": {}}}}}}
    path = work / f"inventory-{config}.yml"
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return path


def playbook(inv: Path, book: Path, work: Path, tag: str, limit: str | None = None) -> subprocess.Popen:
    env = dict(os.environ, PATH=f"{ROOT / '.venv/bin'}:{os.environ.get('PATH', '')}",
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
               ANSIBLE_ROLES_PATH=str(ROLES), MOLECULE_EPHEMERAL_DIRECTORY=str(work), ANSIBLE_FORCE_COLOR="false",
               ANSIBLE_TIMEOUT="60", PYTHONPATH=str(ROOT / "collections"))
    cmd = [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(inv), str(book)]
    if limit:
        cmd += ["--limit", limit]
    out = open(work / f"{tag}.log", "w")  # noqa: SIM115 - closed by the caller through wait_books
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.log_path = work / f"{tag}.log"  # type: ignore[attr-defined]
    return proc


def wait_books(*procs: subprocess.Popen, timeout: float = 1500) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            rc = -1
        if rc != 0:
            tail = "".join(open(p.log_path).readlines()[-40:])  # type: ignore[attr-defined]
            raise RuntimeError(f"playbook failed ({p.log_path}):\n{tail}")  # type: ignore[attr-defined]


def bring_up(work: Path) -> None:
    cleanup()
    sh("docker", "network", "create", "--label", LABEL, NETWORK)
    run_container(TARGET, "monitoring-target-1", "monitoring-target-1", ["/srv/fill:size=8m"])
    for name in MON.values():
        run_container(name, "monitoring-1", None, [])
    invs = {c: inventory(c, work) for c in MON}
    prepare, converge = SCENARIO / "prepare.yml", ROOT / "playbooks" / "monitoring.yml"
    log("prepare (the Molecule monitoring scenario's prepare.yml) on the target + both monitoring hosts")
    a = playbook(invs["production"], prepare, work, "prepare-production")
    # monitoring-1 only: the target and the test certificate are the production run's
    b = playbook(invs["upstream"], prepare, work, "prepare-upstream", limit="monitoring-1")
    wait_books(a, b)
    log("converge playbooks/monitoring.yml: production settings and the upstream anchor")
    a = playbook(invs["production"], converge, work, "converge-production")
    b = playbook(invs["upstream"], converge, work, "converge-upstream", limit="monitoring-1")
    wait_books(a, b)


# --- Prometheus / Alertmanager / receiver ---------------------------------------------------------------------
def ip(container: str) -> str:
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    return sh("docker", "inspect", "-f", fmt, container).stdout.strip()


class Stack:
    def __init__(self, config: str):
        self.config = config
        self.container = MON[config]
        self.ip = ip(self.container)
        mon = scenario_vars()["monitoring"]
        user = "prometheus"
        token = base64.b64encode(f"{user}:{mon['prometheus_web_password']}".encode()).decode()
        self.auth = f"Basic {token}"

    def _get(self, url: str, auth: bool, timeout: float = 10):
        req = urllib.request.Request(url)
        if auth:
            req.add_header("Authorization", self.auth)
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the bench's own containers
            return json.loads(resp.read() or b"null")

    def prom(self, path: str, **params):
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        return self._get(f"http://{self.ip}:9090{path}{query}", True)

    def query(self, expr: str) -> list:
        return self.prom("/api/v1/query", query=expr)["data"]["result"]

    def am(self, path: str):
        return self._get(f"http://{self.ip}:9093{path}", False)

    def healthy(self) -> tuple[bool, str]:
        """Target healthy as both rule sets see it (expression -> must it return something), no watched alert."""
        api = 'service="mss-api"'
        checks = {
            'redis_up{instance="monitoring-target-1:6379"} == 1': True,
            'pg_up{instance="monitoring-target-1"} == 1': True,
            'node_filesystem_avail_bytes{mountpoint="/srv/fill"} / node_filesystem_size_bytes > 0.5': True,
            f"mss:http_requests:rate5m{{{api}}} > 0": True,
            f"mss:http_error_ratio:rate5m{{{api}}} > 0.04": False,
            f'sum(rate(http_requests_total{{status=~"5..",{api}}}[5m])) / sum(rate(http_requests_total{{{api}}}[5m]))'
            " > 0.04": False,
        }
        for expr, want in checks.items():
            try:
                if bool(self.query(expr)) != want:
                    return False, expr
            except OSError as exc:
                return False, f"{expr}: {exc}"
        watched = {a for f in FAULTS.values() for a in f[:2]}
        active = [a["labels"]["alertname"] for a in self.prom("/api/v1/alerts")["data"]["alerts"]
                  if a["labels"]["alertname"] in watched]
        return (not active), f"still active: {active}"

    def fresh_since(self, t0: float) -> bool:
        """Every target scraped and every rule group evaluated after t0 (after a restart); groups with a
        longer interval of their own (the 5 m error-budget group) are not waited for."""
        try:
            targets = self.prom("/api/v1/targets")["data"]["activeTargets"]
            groups = self.prom("/api/v1/rules")["data"]["groups"]
        except OSError:
            return False

        def ts(s: str) -> float:
            return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
        ok_targets = all(t["health"] == "up" and ts(t["lastScrape"]) > t0 for t in targets)
        ok_rules = all(ts(g["lastEvaluation"]) > t0 for g in groups if g["interval"] <= 60)
        return bool(targets) and ok_targets and ok_rules

    def restart(self) -> None:
        # Alertmanager's notification log survives a restart: an alert notified as firing whose resolution was
        # not yet sent (group_interval 5 m) would be deduplicated when it fires again (repeat_interval 4 h), so
        # the log is emptied too (silences are kept)
        dexec(self.container, "systemctl stop prometheus-alertmanager prometheus"
              " && rm -f /var/lib/prometheus/alertmanager/nflog"
              " && systemctl start prometheus-alertmanager prometheus")

    def records(self, receiver: str) -> list[dict]:
        out = dexec(self.container, f"cat /var/lib/webhook-receiver/{receiver}.jsonl 2>/dev/null || true")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def wait_alert(self, alert: str, labels: dict, since: float, timeout: float) -> float | None:
        # the scenario's own helper, installed on the monitoring host by its prepare.yml
        cmd = ["docker", "exec", self.container, "/usr/local/bin/wait_alert.py", "--receiver", "pager",
               "--alert", alert, "--since", repr(since), "--timeout", str(int(timeout))]
        for k, v in labels.items():
            cmd += ["--label", f"{k}={v}"]
        res = subprocess.run(cmd, text=True, capture_output=True, timeout=timeout + 60, check=False)
        if res.returncode != 0:
            return None
        return round(json.loads(res.stdout)["after"], 2)


def wait_until(what: str, fn, timeout: float, step: float = 5.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        res = fn()
        ok, last = res if isinstance(res, tuple) else (res, None)
        if ok:
            return
        time.sleep(step)
    raise RuntimeError(f"timeout waiting for {what} ({last})")


def reset(stacks: list[Stack]) -> None:
    """Faults repaired: wait until both stacks see a healthy target and no watched alert, then restart
    Prometheus + Alertmanager so that no alert state (resolved alerts being resent) is carried over."""
    for s in stacks:
        wait_until(f"{s.config} healthy", s.healthy, timeout=900, step=10)
    t0 = time.time()
    for s in stacks:
        s.restart()
    for s in stacks:
        wait_until(f"{s.config} fresh after restart", lambda s=s: s.fresh_since(t0 + 1), timeout=300, step=5)


def one_run(stacks: list[Stack], timeout: float) -> dict:
    reset(stacks)
    out = dexec(TARGET, INJECT)
    t_fault = {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.strip()}
    log(f"faults injected at {time.strftime('%H:%M:%S', time.localtime(min(t_fault.values())))}")
    results: dict[str, dict[str, float | None]] = {s.config: {} for s in stacks}
    threads = []
    for s in stacks:
        for fault, (prod_alert, up_alert, labels) in FAULTS.items():
            alert = prod_alert if s.config == "production" else up_alert

            def work(s=s, fault=fault, alert=alert, labels=labels):
                results[s.config][fault] = s.wait_alert(alert, labels, t_fault[fault], timeout)
            t = threading.Thread(target=work, daemon=True)
            t.start()
            threads.append(t)
    for t in threads:
        t.join(timeout + 90)
    dexec(TARGET, REPAIR)
    log(f"arrivals: {json.dumps(results)}")
    return results


def alert_key(labels: dict) -> str:
    """An alert's identity, the same in Prometheus' /api/v1/alerts and at the receiver (which also carries the
    external label `prometheus` that Prometheus adds only when it sends the alert)."""
    return json.dumps({k: v for k, v in labels.items() if k != "prometheus"}, sort_keys=True)


def cpu_run(stacks: list[Stack], minutes: float, grace: float) -> dict:
    reset(stacks)
    # one more evaluation of every rule on data scraped after the restart: the conditions that hold before the
    # load (the scenario's 7-day test certificate) are pending by then, and not counted as new
    time.sleep(max(seconds(UPSTREAM_TIMING["evaluation_interval"]), seconds(UPSTREAM_TIMING["scrape_interval"])) + 5)
    pre = {}
    for s in stacks:
        ids = set()
        for a in s.am("/api/v2/alerts"):
            ids.add(alert_key(a["labels"]))
        for a in s.prom("/api/v1/alerts")["data"]["alerts"]:
            ids.add(alert_key(a["labels"]))
        pre[s.config] = ids
    duration = int(minutes * 60)
    containers = [TARGET, *MON.values()]
    load_before = os.getloadavg()
    stat0 = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    w0 = time.time()
    for c in containers:
        for _ in range(2):
            sh("docker", "exec", "-d", c, "timeout", str(duration), "python3", "-c", "while True: pass")
    log(f"CPU burners started (2 per container, {duration} s)")
    loads = []
    end = time.monotonic() + duration
    while time.monotonic() < end:
        time.sleep(min(30, max(1, end - time.monotonic())))
        loads.append(os.getloadavg()[0])
    stat1 = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    w1 = time.time()
    vals0, vals1 = [int(x) for x in stat0], [int(x) for x in stat1]
    total = sum(vals1) - sum(vals0)
    idle = (vals1[3] + vals1[4]) - (vals0[3] + vals0[4])
    busy = round(100.0 * (total - idle) / total, 1) if total else None
    for c in containers:  # the burners end on their own (timeout); check none is left
        wait_until(f"burners gone in {c}", lambda c=c: "while True" not in dexec(c, "ps -eo args", check=False),
                   timeout=60, step=2)
    log(f"CPU load over: machine busy {busy} %, waiting {grace:.0f} s for late notifications")
    time.sleep(grace)
    report = {"minutes": minutes, "machine_cpu_busy_pct": busy, "load_before": [round(x, 2) for x in load_before],
              "load_1m_samples": [round(x, 2) for x in loads], "grace_s": grace, "stacks": {}}
    for s in stacks:
        new, watchdog = {}, 0
        for receiver in ("pager", "chat", "low-noise"):
            for rec in s.records(receiver):
                if not w0 <= rec["received"] <= w1 + grace:
                    continue
                for a in rec["body"].get("alerts", []):
                    key = alert_key(a["labels"])
                    if a.get("status") == "firing" and key not in pre[s.config]:
                        new[key] = {"receiver": receiver, "labels": a["labels"],
                                    "after_start_s": round(rec["received"] - w0, 1)}
        for rec in s.records("watchdog"):
            if w0 <= rec["received"] <= w1 + grace:
                watchdog += 1
        span = f"{int(duration / 60) + 2}m"
        try:
            down = s.query(f"count(min_over_time(up[{span}]) == 0)")
            slowest = s.query(f"max(max_over_time(scrape_duration_seconds[{span}]))")
        except OSError:
            down, slowest = [], []
        report["stacks"][s.config] = {
            "false_alerts": len(new), "alerts": list(new.values()), "watchdog_notifications": watchdog,
            "alerts_active_before": len(pre[s.config]),
            "targets_down_at_some_scrape": int(float(down[0]["value"][1])) if down else 0,
            "slowest_scrape_s": round(float(slowest[0]["value"][1]), 3) if slowest else None}
    return report


# --- report ---------------------------------------------------------------------------------------------------
def summarise(values: list[float | None]) -> dict:
    got = sorted(v for v in values if v is not None)
    out = {"runs": len(values), "missing": len(values) - len(got), "values_s": values}
    if got:
        p90 = statistics.quantiles(got, n=10, method="inclusive")[8] if len(got) > 1 else got[0]
        out.update(median_s=round(statistics.median(got), 1), p90_s=round(p90, 1), max_s=round(got[-1], 1),
                   min_s=round(got[0], 1))
    return out


def write_report(doc: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "alert_latency.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = ["# Alert latency: fault -> webhook receiver (production settings vs upstream defaults, side by side)",
             "", f"Machine: 2 cores, load average before {doc['load_before']}, after {doc['load_after']}; "
             f"{doc['runs']} runs, all four faults injected together each run, both stacks watching the same "
             f"target. Goal: critical alerts at the receiver within {GOAL_S:.0f} s of the fault.", "",
             "| fault | config | alert | for | median (s) | p90 (s) | max (s) | missing | worst-case budget (s) "
             "| dominated by | goal met |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for fault in FAULTS:
        for config in MON:
            r = doc["faults"][fault][config]
            b = r["budget"]
            met = "yes" if r.get("max_s") is not None and r["max_s"] <= GOAL_S and not r["missing"] else "no"
            lines.append(f"| {fault} | {config} | {r['alert']} | {doc['settings'][config]['for'][fault]} | "
                         f"{r.get('median_s')} | {r.get('p90_s')} | {r.get('max_s')} | {r['missing']} | "
                         f"{b['worst_case_s']:.0f} | {b['dominant']} ({max(b['parts'].values()):.0f} s) | {met} |")
    lines += ["", "Settings: " + "; ".join(
        f"{c}: scrape {s['scrape_interval']}, evaluation {s['evaluation_interval']}, group_wait {s['group_wait']}, "
        f"group_interval {s['group_interval']}" for c, s in doc["settings"].items()) + ".", ""]
    cpu = doc.get("cpu")
    if cpu:
        lines += [f"False alerts: {cpu['minutes']} min with 2 CPU burners in each of the 3 containers (machine busy "
                  f"{cpu['machine_cpu_busy_pct']} %, load 1 m samples max {max(cpu['load_1m_samples'] or [0])}), "
                  f"no fault, + {cpu['grace_s']:.0f} s for late notifications. Goal: 0.", "",
                  "| config | false alerts | which | true alerts re-notified (not counted) "
                  "| Watchdog notifications (apart) | targets down at some scrape | slowest scrape (s) |",
                  "|---|---|---|---|---|---|---|"]
        for config, r in cpu["stacks"].items():
            def names(true: bool, r=r) -> str:
                return ", ".join(f"{a['labels'].get('alertname', '?')} {a['labels'].get('instance', '')}"
                                 f" (+{a['after_start_s']:.0f} s)"
                                 for a in r["alerts"] if bool(a.get("true_alert_pre_existing")) == true) or "-"
            lines.append(f"| {config} | {r['false_alerts']} | {names(False)} | {names(True)} | "
                         f"{r['watchdog_notifications']} | {r['targets_down_at_some_scrape']} | "
                         f"{r['slowest_scrape_s']} |")
        if cpu.get("recount_note"):
            lines += ["", cpu["recount_note"]]
    lines += ["", f"Total bench time: {doc['elapsed_min']} min."]
    (RESULTS / "alert_latency.md").write_text("\n".join(lines) + "\n")


def report(args, runs: list[dict], cpu: dict | None, load_before: list, started: float) -> dict:
    settings = {"production": production_settings(), "upstream": upstream_settings()}
    faults = {}
    for fault, (prod_alert, up_alert, _) in FAULTS.items():
        faults[fault] = {}
        for config in MON:
            r = summarise([run[config].get(fault) for run in runs])
            r["alert"] = prod_alert if config == "production" else up_alert
            r["budget"] = budget(settings[config], fault)
            r["goal_s"] = GOAL_S
            r["goal_met"] = r.get("max_s") is not None and r["max_s"] <= GOAL_S and not r["missing"]
            faults[fault][config] = r
    doc = {"runs": len(runs), "settings": settings, "faults": faults, "cpu": cpu,
           "upstream_rules": upstream_rule_groups("")[0]["rules"],
           "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
           "elapsed_min": round((time.monotonic() - started) / 60, 1),
           "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_report(doc)
    return doc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="fault runs (all four faults each run)")
    ap.add_argument("--cpu-minutes", type=float, default=10.0, help="false-alert run at full CPU (0 = skip)")
    ap.add_argument("--alert-timeout", type=float, default=480.0, help="seconds to wait for each alert")
    ap.add_argument("--grace", type=float, default=150.0, help="seconds after the CPU run for late alerts")
    ap.add_argument("--keep", action="store_true", help="keep the bench containers at the end")
    ap.add_argument("--reuse", action="store_true", help="reuse running bench containers (no converge)")
    ap.add_argument("--cpu-only", action="store_true",
                    help="only the false-alert run; keep the fault runs of bench/results/alert_latency.json")
    ap.add_argument("--resume", type=int, metavar="K", default=None,
                    help="keep the false-alert run and the first K fault runs of bench/results/alert_latency.json "
                         "and run the remaining --runs - K on the running bench containers")
    args = ap.parse_args()
    started = time.monotonic()
    kept_runs: list[dict] = []
    kept_cpu = None
    if args.cpu_only or args.resume is not None:
        old = json.loads((RESULTS / "alert_latency.json").read_text())
        keep = old["runs"] if args.cpu_only else args.resume
        for i in range(keep):
            kept_runs.append({c: {f: old["faults"][f][c]["values_s"][i] for f in FAULTS} for c in MON})
        if args.resume is not None:
            kept_cpu, args.cpu_minutes, args.reuse = old["cpu"], 0, True
        args.runs = 0 if args.cpu_only else max(0, args.runs - keep)
    sh(str(ROOT / "tests/harness/docker-engine.sh"))
    if sh("docker", "image", "inspect", IMAGE, check=False).returncode != 0:
        sh(str(ROOT / "tests/harness/build-images.sh"), timeout=1800)
    load_before = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="bench-alert-"))
    try:
        if not args.reuse:
            bring_up(work)
        stacks = [Stack(c) for c in MON]
        # the CPU run first, on a stack no fault has touched yet (the SLO burn-rate alerts' 30 m .. 3 d windows
        # would otherwise still hold the error bursts of the fault runs)
        cpu = cpu_run(stacks, args.cpu_minutes, args.grace) if args.cpu_minutes > 0 else kept_cpu
        runs: list[dict] = kept_runs
        report(args, runs, cpu, load_before, started)
        for i in range(args.runs):
            log(f"run {i + 1}/{args.runs}")
            runs.append(one_run(stacks, args.alert_timeout))
            report(args, runs, cpu, load_before, started)  # partial results as soon as they exist
        print((RESULTS / "alert_latency.md").read_text())
        return 0
    finally:
        if not args.keep:
            cleanup()
            sh("rm", "-rf", str(work), check=False)
        else:
            log(f"kept the bench containers; playbook logs in {work}")


if __name__ == "__main__":
    sys.exit(main())
