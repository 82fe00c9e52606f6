"""The grafana role, as far as it can be run without Grafana (AGPL; not obtainable here, never built or vendored).

- preflight on the control node: the shipped dashboards pass; a dashboard with a hard-coded datasource, an
  exported one (__inputs/${DS_...}, numeric id), a missing or placeholder admin password and a missing
  datasource URL are each refused with a clear message, before anything is changed, and no secret is printed;
- the configuration rendered on a throwaway systemd container (mss/systemd image; grafana_install_method none and
  grafana_manage_service false, the documented way to configure without installing): grafana.ini, the datasource
  and dashboards provisioning files validated against the schema of Grafana's provisioning format, the dashboards
  copied byte for byte, modes and owners; a second run changes nothing; check mode leaves a stale dashboard in
  place and the next run removes it.
What is not tested here: Grafana reading these files, the apt/.deb install, the service and /api/health wait.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
COLLECTION = REPO / "collections" / "ansible_collections" / "mss" / "platform"
DASHBOARD_DIR = COLLECTION / "roles" / "grafana" / "files" / "dashboards"
FIXTURES = HERE / "fixtures"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
IMAGE = os.environ.get("MSS_SYSTEMD_IMAGE", "mss/systemd:bookworm")
ADMIN_PASSWORD = "Adm1n-pw#with;chars"
SECRET_KEY = "sk-4f1c0a9e7b2d6c3e"
PROM_PASSWORD = "prom-basic-auth-pw-77"
GOOD = {
    "grafana_install_method": "none",
    "grafana_manage_service": False,
    "grafana_admin_password": ADMIN_PASSWORD,
    "grafana_secret_key": SECRET_KEY,
    "grafana_datasource_url": "https://mon-1.example.internal:9090",
    "grafana_datasource_basic_auth_user": "grafana",
    "grafana_datasource_basic_auth_password": PROM_PASSWORD,
    "grafana_datasource_ca_cert": "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n",
}
SECRETS = (ADMIN_PASSWORD, SECRET_KEY, PROM_PASSWORD)

# The provisioning file formats (Grafana docs, "Provision Grafana": data sources and dashboards, apiVersion 1).
DATASOURCES_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "datasources"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": 1},
        "prune": {"type": "boolean"},
        "deleteDatasources": {"type": "array"},
        "datasources": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["name", "type", "access", "url"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1}, "type": {"type": "string"},
                "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
                "access": {"enum": ["proxy", "direct"]}, "url": {"type": "string", "pattern": "^https?://"},
                "orgId": {"type": "integer"}, "user": {"type": "string"}, "database": {"type": "string"},
                "basicAuth": {"type": "boolean"}, "basicAuthUser": {"type": "string"},
                "withCredentials": {"type": "boolean"}, "isDefault": {"type": "boolean"},
                "version": {"type": "integer"}, "editable": {"type": "boolean"},
                "jsonData": {"type": "object", "properties": {
                    "httpMethod": {"enum": ["GET", "POST"]},
                    "timeInterval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                    "queryTimeout": {"type": "string"},
                    "prometheusType": {"enum": ["Prometheus", "Mimir", "Cortex", "Thanos"]},
                    "tlsSkipVerify": {"type": "boolean"}, "tlsAuthWithCACert": {"type": "boolean"},
                    "tlsAuth": {"type": "boolean"}}},
                "secureJsonData": {"type": "object", "additionalProperties": {"type": "string"}, "properties": {
                    "basicAuthPassword": {"type": "string"}, "tlsCACert": {"type": "string"}}},
            }}},
    },
}
DASHBOARDS_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "providers"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": 1},
        "providers": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["name", "type", "options"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"}, "orgId": {"type": "integer"}, "folder": {"type": "string"},
                "folderUid": {"type": "string"}, "type": {"const": "file"}, "disableDeletion": {"type": "boolean"},
                "allowUiUpdates": {"type": "boolean"}, "updateIntervalSeconds": {"type": "integer", "minimum": 10},
                "options": {"type": "object", "required": ["path"], "additionalProperties": False, "properties": {
                    "path": {"type": "string", "pattern": "^/"}, "foldersFromFilesStructure": {"type": "boolean"}}},
            }}},
    },
}


def _recap(output: str, host: str) -> dict[str, int]:
    match = re.search(rf"{re.escape(host)}\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), (int(g) for g in match.groups()), strict=True))


def _play(tmp_path: Path, role_vars: dict, host: str, connection: str, *args: str) -> tuple[int, str]:
    if not ANSIBLE_PLAYBOOK.is_file():
        pytest.skip(f"no ansible-playbook next to {sys.executable}")
    name = uuid.uuid4().hex[:8]
    (tmp_path / f"{name}.json").write_text(json.dumps(role_vars))
    (tmp_path / f"{name}.yml").write_text(json.dumps([{
        "name": "Apply the grafana role", "hosts": "all", "gather_facts": False,
        "roles": [{"role": "mss.platform.grafana"}]}]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_PIPELINING": "1"}
    extra = ["-e", f"ansible_python_interpreter={sys.executable}"] if connection == "local" else []
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", f"{host},", "-c", connection, *extra,
                           "-e", f"@{tmp_path / f'{name}.json'}", *args, str(tmp_path / f"{name}.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    return proc.returncode, proc.stdout + proc.stderr


# --- preflight, on the control node --------------------------------------------------------------------------------

def test_preflight_accepts_the_shipped_dashboards(tmp_path):
    rc, out = _play(tmp_path, GOOD, "localhost", "local", "--tags", "grafana_preflight")
    assert rc == 0, out[-3000:]
    assert _recap(out, "localhost")["changed"] == 0
    assert "Check every dashboard" in out and "system-overview.json" in out
    assert not [s for s in SECRETS if s in out]


def _refused(tmp_path, overrides: dict) -> str:
    rc, out = _play(tmp_path, {**GOOD, **overrides}, "localhost", "local")
    assert rc != 0, out[-3000:]
    recap = _recap(out, "localhost")
    assert recap["failed"] == 1 and recap["changed"] == 0
    assert not [s for s in SECRETS if s in out], "a secret was printed"
    return out


def test_preflight_refuses_a_hard_coded_datasource(tmp_path):
    out = _refused(tmp_path, {"grafana_dashboards_src": str(FIXTURES / "hardcoded_datasource")})
    assert "Dashboard hardcoded.json refused" in out
    assert "Hard-coded datasource references found: 1" in out and "P1809F7CD0C75ACF3" in out


def test_preflight_refuses_an_exported_dashboard(tmp_path):
    out = _refused(tmp_path, {"grafana_dashboards_src": str(FIXTURES / "ds_inputs")})
    assert "Dashboard exported.json refused" in out and "id: 7" in out


@pytest.mark.parametrize("password", ["", "changeme", "admin", "CHANGE_ME_IN_VAULT", "short"])
def test_preflight_refuses_a_missing_or_placeholder_admin_password(tmp_path, password):
    out = _refused(tmp_path, {"grafana_admin_password": password})
    assert "grafana_admin_password (at least 12 characters)" in out
    assert re.search(r"Refused: admin_password_(set|not_placeholder)", out)


def test_preflight_refuses_grafanas_default_secret_key_and_a_missing_datasource(tmp_path):
    out = _refused(tmp_path, {"grafana_secret_key": "SW2YcwTIb9zpOOhoPsMm"})
    assert "Refused: secret_key_set, secret_key_not_placeholder" in out or "secret_key_not_placeholder" in out
    out = _refused(tmp_path, {"grafana_datasource_url": ""})
    assert "grafana_datasource_url must be the http(s) URL of Prometheus" in out
    out = _refused(tmp_path, {"grafana_install_method": "apt"})
    assert "apt needs grafana_apt_key_file" in out


# --- the configuration, rendered on a container ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def container():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "image", "inspect", IMAGE], capture_output=True,
                                        check=False).returncode != 0:
        pytest.skip(f"no docker or no {IMAGE} image (make images)")
    name = f"mss-grafana-render-{uuid.uuid4().hex[:6]}"
    subprocess.run([docker, "run", "-d", "--name", name, "--label", "mss.scenario=grafana-render",
                    "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt",
                    "apparmor=unconfined", "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                    "--tmpfs", "/run", "--tmpfs", "/run/lock", IMAGE], check=True, capture_output=True)
    try:
        # What Grafana's package would have created (grafana_install_method none: "already installed").
        subprocess.run([docker, "exec", name, "groupadd", "--system", "grafana"], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run([docker, "rm", "-f", name], check=False, capture_output=True)


def _exec(container: str, *cmd: str) -> str:
    return subprocess.run(["docker", "exec", container, *cmd], check=True, capture_output=True, text=True).stdout


def test_configuration_rendered_valid_and_idempotent(container, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    rc, out = _play(tmp_path, GOOD, container, "community.docker.docker")
    assert rc == 0, out[-4000:]
    assert _recap(out, container)["changed"] >= 5
    assert not [s for s in SECRETS if s in out], "a secret was printed"

    datasources = yaml.safe_load(_exec(container, "cat", "/etc/grafana/provisioning/datasources/mss.yml"))
    jsonschema.validate(datasources, DATASOURCES_SCHEMA)
    (source,) = datasources["datasources"]
    assert source["uid"] == "mss-prometheus" and source["type"] == "prometheus"
    assert source["url"] == GOOD["grafana_datasource_url"] and source["basicAuthUser"] == "grafana"
    assert source["secureJsonData"] == {"basicAuthPassword": PROM_PASSWORD,
                                        "tlsCACert": GOOD["grafana_datasource_ca_cert"]}
    assert source["jsonData"]["timeInterval"] == "15s" and source["jsonData"]["tlsAuthWithCACert"] is True

    providers = yaml.safe_load(_exec(container, "cat", "/etc/grafana/provisioning/dashboards/mss.yml"))
    jsonschema.validate(providers, DASHBOARDS_SCHEMA)
    (provider,) = providers["providers"]
    dash_dir = provider["options"]["path"]
    assert dash_dir == "/var/lib/grafana/dashboards/mss"

    ini = configparser.RawConfigParser()
    ini.read_string(_exec(container, "cat", "/etc/grafana/grafana.ini"))
    assert ini.get("security", "admin_password") == f'"""{ADMIN_PASSWORD}"""'
    assert ini.get("security", "secret_key") == f'"""{SECRET_KEY}"""'
    assert ini.get("paths", "provisioning") == "/etc/grafana/provisioning"
    assert ini.get("users", "allow_sign_up") == "false" and ini.get("auth.anonymous", "enabled") == "false"
    assert ini.get("analytics", "reporting_enabled") == "false"

    modes = _exec(container, "stat", "-c", "%n %a %U %G", "/etc/grafana/grafana.ini",
                  "/etc/grafana/provisioning/datasources/mss.yml").split("\n")
    assert all(line.endswith("640 root grafana") for line in modes if line), modes
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        assert _exec(container, "cat", f"{dash_dir}/{path.name}") == path.read_text(), path.name
    assert sorted(_exec(container, "ls", dash_dir).split()) == sorted(p.name for p in DASHBOARD_DIR.glob("*.json"))

    rc, out = _play(tmp_path, GOOD, container, "community.docker.docker")
    assert rc == 0 and _recap(out, container)["changed"] == 0, out[-4000:]

    _exec(container, "sh", "-c", f"echo '{{}}' > {dash_dir}/retired.json")
    rc, out = _play(tmp_path, GOOD, container, "community.docker.docker", "--check", "--diff")
    assert rc == 0 and _recap(out, container)["changed"] == 1, out[-4000:]
    assert "retired.json" in _exec(container, "ls", dash_dir)
    assert not [s for s in SECRETS if s in out], "a secret was printed in check/diff mode"
    rc, out = _play(tmp_path, GOOD, container, "community.docker.docker")
    assert rc == 0 and _recap(out, container)["changed"] == 1, out[-4000:]
    assert "retired.json" not in _exec(container, "ls", dash_dir)
