"""The alertmanager role's routing with its production defaults, on a real Alertmanager (Debian's 0.25 binary,
unpacked by tests/harness/host-services.sh into ~/.cache/mss-monitoring-tools; AMTOOL_DIR overrides its bin
folder). It runs in a mount namespace of its own (unshare, root: as in `make test`), which lays the package's
/usr/share over the machine's for Debian's template path.

The configuration is the role's template rendered with the role's defaults (render_alertmanager.yml); the
receivers are webhooks on a loopback server of this test. The case: the application alerts carry no `instance`
(their ratios are summed per service), so when one service's HTTPErrorRateHigh has paged, a second service's
must page as its own group after the critical group_wait, not join the first group and wait a group_interval
(5 m): that delay was measured by bench/alert_latency.py (474 s instead of about 150 s).
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
TOOLS = Path(os.environ.get("AMTOOL_DIR", Path.home() / ".cache" / "mss-monitoring-tools" / "usr" / "bin"))
ALERTMANAGER = TOOLS / "prometheus-alertmanager"
RECEIVERS = ["pager", "chat", "low_noise", "watchdog"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the webhook receivers got: (monotonic time, receiver, body)."""

    def __init__(self) -> None:
        self.items: list[tuple[float, str, dict]] = []
        self.lock = threading.Lock()

    def wait(self, pred, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for item in self.items:
                    if pred(item):
                        return item
            time.sleep(0.2)
        return None


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    if not ALERTMANAGER.is_file():
        pytest.skip(f"no Alertmanager binary at {ALERTMANAGER}: run tests/harness/host-services.sh")
    if not ANSIBLE_PLAYBOOK.is_file():
        pytest.skip(f"no ansible-playbook next to {sys.executable}")
    work = tmp_path_factory.mktemp("alertmanager")
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with inbox.lock:
                inbox.items.append((time.monotonic(), self.path.strip("/"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    receivers = [{"name": n, "type": "webhook", "auth": "none",
                  "url": f"http://127.0.0.1:{hook.server_port}/{n}"} for n in RECEIVERS]
    config = work / "alertmanager.yml"
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(Path(__file__).with_name("render_alertmanager.yml")),
         "-e", json.dumps({"render_path": str(config), "alertmanager_receivers": receivers})],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    check = subprocess.run([str(TOOLS / "amtool"), "check-config", str(config)], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    port = _free_port()
    log = open(work / "alertmanager.log", "w")  # noqa: SIM115 (closed below)
    # Debian's build reads its notification templates from /usr/share/prometheus/alertmanager: the unpacked
    # package's /usr/share is laid over the machine's, read-only, in a mount namespace of this process only
    share = TOOLS.parent / "share"
    server = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t overlay overlay -o "lowerdir=$1:/usr/share" /usr/share && shift && exec "$@"', "sh",
         str(share), str(ALERTMANAGER), f"--config.file={config}", f"--storage.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("Alertmanager not ready: " + (work / "alertmanager.log").read_text()[-2000:])
        yield base, inbox, config
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        hook.shutdown()


def _post(base: str, labels: dict) -> None:
    now = datetime.datetime.now(datetime.UTC)
    alert = {"labels": labels, "annotations": {"summary": "test"}, "startsAt": now.isoformat(),
             "endsAt": (now + datetime.timedelta(minutes=30)).isoformat()}
    req = urllib.request.Request(base + "/api/v2/alerts", data=json.dumps([alert]).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def _services(body: dict) -> set:
    return {a["labels"].get("service") for a in body["alerts"]}


def test_the_rendered_configuration_groups_by_service(alertmanager):
    _base, _inbox, config = alertmanager
    route = yaml.safe_load(config.read_text())["route"]
    assert "service" in route["group_by"], route["group_by"]


def test_a_second_service_pages_as_its_own_group_not_a_group_interval_later(alertmanager):
    base, inbox, _config = alertmanager
    common = {"alertname": "HTTPErrorRateHigh", "severity": "critical", "environment": "test",
              "component": "application"}
    _post(base, {**common, "service": "mss-frontend"})
    first = inbox.wait(lambda i: i[1] == "pager" and "mss-frontend" in _services(i[2]), timeout=120)
    assert first is not None, "the first service's alert never reached the pager"
    t_second = time.monotonic()
    _post(base, {**common, "service": "mss-api"})
    # group_wait of the critical route is 10 s, group_interval 5 m: wait past the group_interval, so that the wrong
    # grouping shows as what it is (the second alert inside the first group's notification), not as a timeout
    second = inbox.wait(lambda i: i[1] == "pager" and "mss-api" in _services(i[2]), timeout=330)
    assert second is not None, "the second service's alert never reached the pager"
    assert second[2]["groupLabels"].get("service") == "mss-api", second[2]["groupLabels"]
    assert _services(second[2]) == {"mss-api"}, second[2]["alerts"]
    assert second[0] - t_second < 300, "notified with the first group's group_interval, not as a group of its own"
