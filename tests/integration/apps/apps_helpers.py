"""Helpers of the reference app tests (tests/integration/apps): Docker, HTTP on loopback, the metrics contract."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BUILD = REPO / "tests" / "harness" / "build-app-images.sh"
DATASTORE_DIR = Path(__file__).resolve().parent / "datastore"
DATASTORE_IMAGE = "mss/apps-datastore:test"
BASE_IMAGE = os.environ.get("MSS_BASE_IMAGE", "mss/debian:bookworm")
LABEL = "mss.scenario=apps-integration"
HARDENED = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--user", "10001:10001",
            "--security-opt", "no-new-privileges"]


def version(app: str) -> str:
    return json.loads((REPO / "apps" / app / "package.json").read_text())["version"]


def docker(*args: str, check: bool = True, timeout: int = 120, **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} ... failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


class Http:
    """Plain HTTP to 127.0.0.1:<port>: (status, headers, body) with no exception on 4xx/5xx."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (loopback only)
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def json(self, method: str, path: str, body: dict | None = None, **kw):
        status, _, text = self.request(method, path, body, **kw)
        return status, json.loads(text)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError) as exc:  # connection refused/reset while starting, partial JSON
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


class App:
    """One running app container: its name, published port, HTTP client, logs and state."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.http = Http(port)

    def logs(self) -> list[str]:
        proc = docker("logs", self.name, check=False)
        return [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]

    def state(self) -> dict:
        return json.loads(docker("inspect", "--format", "{{json .State}}", self.name).stdout)


def datastore_recipe() -> str:
    h = hashlib.sha256()
    for f in sorted(DATASTORE_DIR.iterdir()):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    h.update(docker("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE).stdout.encode())
    return h.hexdigest()[:16]


def parse_exposition(text: str) -> dict[str, dict]:
    """Prometheus text exposition -> {family: {"type": t, "samples": [(name, {labels}, value)]}}."""
    families: dict[str, dict] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(" ", 3)
            types[fam] = typ
            families.setdefault(fam, {"type": typ, "samples": []})
            continue
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            body, value = rest.rsplit("}", 1)
            labels = {}
            for part in _split_labels(body):
                k, v = part.split("=", 1)
                labels[k] = json.loads(v)
        else:
            name, value = line.split(" ", 1)
            labels = {}
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
                fam = name[: -len(suffix)]
        families.setdefault(fam, {"type": types.get(fam, "untyped"), "samples": []})
        families[fam]["samples"].append((name, labels, float(value.split()[0])))
    return families


def _split_labels(body: str) -> list[str]:
    parts, cur, quoted, escaped = [], "", False, False
    for ch in body:
        if escaped:
            cur += ch
            escaped = False
        elif ch == "\\":
            cur += ch
            escaped = True
        elif ch == '"':
            cur += ch
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


# The metrics contract (METRICS-CONTRACT.md, "Application metrics"): family -> (type, labels of its samples).
CONTRACT = {
    "http_requests_total": ("counter", {"service", "method", "route", "status"}),
    "http_request_duration_seconds": ("histogram", {"service", "method", "route"}),
    "mss_auth_attempts_total": ("counter", {"service", "result"}),
    "mss_user_sessions_active": ("gauge", {"service"}),
    "mss_interventions_total": ("counter", {"service"}),
    "mss_reports_generated_total": ("counter", {"service"}),
    "mss_feature_usage_total": ("counter", {"service", "feature"}),
    "mss_deployment_info": ("gauge", {"service", "version"}),
}
BUCKETS = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
RUNTIME_PREFIXES = ("process_", "nodejs_")  # prom-client's default process metrics


def assert_contract(families: dict[str, dict], service: str, app_version: str) -> None:
    extra = sorted(f for f in families if f not in CONTRACT and not f.startswith(RUNTIME_PREFIXES))
    assert not extra, f"metric families outside the contract: {extra}"
    for fam, (typ, labels) in CONTRACT.items():
        assert fam in families, f"{fam} missing from /metrics"
        assert families[fam]["type"] == typ, f"{fam} is a {families[fam]['type']}, the contract says {typ}"
        samples = families[fam]["samples"]
        assert samples, f"{fam} has no sample"
        for name, got, _ in samples:
            want = labels | ({"le"} if name.endswith("_bucket") else set())
            assert set(got) == want, f"{name} labels {sorted(got)}, contract {sorted(want)}"
            assert got["service"] == service, f"{name} service={got['service']}"
            if "status" in got:
                assert got["status"].isdigit() and len(got["status"]) == 3, f"status label {got['status']!r}"
    les = {s[1]["le"] for s in families["http_request_duration_seconds"]["samples"] if s[0].endswith("_bucket")}
    assert les == BUCKETS, f"histogram buckets {sorted(les)}"
    results = {s[1]["result"] for s in families["mss_auth_attempts_total"]["samples"]}
    assert results == {"success", "failure"}, results
    info = families["mss_deployment_info"]["samples"]
    assert [(s[1]["version"], s[2]) for s in info] == [(app_version, 1.0)], info


def sample(families: dict[str, dict], series: str, **labels: str) -> float:
    """The value of the one sample named series whose labels include labels (0 when there is none)."""
    values = [v for fam in families.values() for name, got, v in fam["samples"]
              if name == series and all(got.get(k) == want for k, want in labels.items())]
    assert len(values) <= 1, f"{series}{labels}: {len(values)} samples"
    return values[0] if values else 0.0
