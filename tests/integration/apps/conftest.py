"""Fixtures for the reference app images (apps/frontend, apps/api), run as Kubernetes runs them.

Every app container runs with --read-only --tmpfs /tmp --cap-drop ALL --user 10001:10001 --security-opt
no-new-privileges, on a Docker network of its own with a test-only data tier (datastore/: PostgreSQL 15, a
three-master Redis Cluster and an OTLP sink, from Debian packages). Tests talk to the apps on 127.0.0.1 ports
published by Docker; nothing else is contacted. Images come from tests/harness/build-app-images.sh (cached by
recipe hash, so an unchanged app is not rebuilt). Containers and the network carry the label
mss.scenario=apps-integration and are removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess

import pytest
from apps_helpers import (BASE_IMAGE, BUILD, DATASTORE_DIR, DATASTORE_IMAGE, HARDENED, LABEL, App, datastore_recipe,
                          docker, version, wait_for)


@pytest.fixture(scope="session")
def app_images() -> dict[str, str]:
    if shutil.which("docker") is None:
        pytest.skip("no docker client on PATH")
    # MSS_APPS (e.g. "api") limits the build while iterating on one app; the default builds both.
    apps = os.environ.get("MSS_APPS", "frontend api").split()
    proc = subprocess.run([str(BUILD), *apps], capture_output=True, text=True, timeout=3600, check=False)
    assert proc.returncode == 0, f"build-app-images.sh failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return {"frontend": f"mss/frontend:{version('frontend')}", "api": f"mss/api:{version('api')}",
            "build_output": proc.stdout}


@pytest.fixture(scope="session")
def datastore_image(app_images) -> str:
    recipe = datastore_recipe()
    have = docker("image", "inspect", "--format", '{{ index .Config.Labels "mss.recipe" }}', DATASTORE_IMAGE,
                  check=False).stdout.strip()
    if have != recipe:
        docker("build", "-q", "--build-arg", f"BASE={BASE_IMAGE}", "--label", f"mss.recipe={recipe}",
               "-t", DATASTORE_IMAGE, str(DATASTORE_DIR), timeout=1800)
    return DATASTORE_IMAGE


@pytest.fixture(scope="session")
def passwords() -> dict[str, str]:
    return {"pg": secrets.token_hex(16), "redis": secrets.token_hex(16), "login": secrets.token_hex(16)}


@pytest.fixture(scope="session")
def env_file(tmp_path_factory, passwords):
    """Write KEY=VALUE lines to a 0600 file for `docker run --env-file` (no secret on a command line)."""
    directory = tmp_path_factory.mktemp("app-env")
    counter = iter(range(1000))

    def write(values: dict[str, str]) -> str:
        path = directory / f"env-{next(counter)}"
        path.touch(mode=0o600)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        return str(path)

    return write


@pytest.fixture(scope="session")
def network():
    name = f"mss-apps-{secrets.token_hex(3)}"
    docker("network", "create", "--label", LABEL, name)
    yield name
    for cid in docker("ps", "-aq", "--filter", f"network={name}", "--filter", f"label={LABEL}").stdout.split():
        docker("rm", "-fv", cid, check=False)
    docker("network", "rm", name, check=False)


@pytest.fixture(scope="session")
def datastore(datastore_image, network, env_file, passwords):
    name = f"{network}-datastore"
    env = env_file({"PG_PASSWORD": passwords["pg"], "REDIS_PASSWORD": passwords["redis"]})
    docker("run", "-d", "--name", name, "--label", LABEL, "--network", network, "--network-alias", "datastore",
           "--env-file", env, datastore_image)
    wait_for(lambda: docker("exec", name, "test", "-f", "/tmp/ready", check=False).returncode == 0, 120,
             "datastore ready")

    class Datastore:
        container = name

        @staticmethod
        def run(*args: str) -> str:
            return docker("exec", name, "datastore", *args, timeout=60).stdout

        @staticmethod
        def psql(sql: str) -> str:
            return docker("exec", "-u", "postgres", name, "psql", "-d", "mss", "-At", "-c", sql).stdout.strip()

        @staticmethod
        def redis(*args: str) -> str:
            return docker("exec", "-e", "REDISCLI_AUTH", name, "redis-cli", "-c", "-p", "7000", *args,
                          env={**os.environ, "REDISCLI_AUTH": passwords["redis"]}).stdout.strip()

        @staticmethod
        def otlp_bodies() -> list[dict]:
            script = ("import glob, json\n"
                      "for f in sorted(glob.glob('/tmp/otlp/*-v1_traces.json')):\n"
                      "    print(json.dumps(json.load(open(f))))\n")
            out = docker("exec", name, "python3", "-c", script).stdout
            return [json.loads(line) for line in out.splitlines() if line.strip()]

    return Datastore


@pytest.fixture(scope="session")
def start_app(app_images, network, env_file):
    """Start an app container (hardened flags); waits until its liveness path answers 200."""
    started = []

    def start(app: str, env: dict[str, str], alias: str | None = None, name: str | None = None) -> App:
        port = {"frontend": 3000, "api": 8080}[app]
        health = {"frontend": "/api/health", "api": "/health"}[app]
        name = name or f"{network}-{app}-{secrets.token_hex(2)}"
        args = ["run", "-d", "--name", name, "--label", LABEL, "--network", network, *HARDENED,
                "-p", f"127.0.0.1::{port}", "--env-file", env_file(env)]
        if alias:
            args += ["--network-alias", alias]
        docker(*args, app_images[app])
        started.append(name)
        host_port = int(docker("port", name, str(port)).stdout.splitlines()[0].rsplit(":", 1)[1])
        inst = App(name, host_port)
        wait_for(lambda: inst.http.get(health, timeout=2)[0] == 200, 90, f"{app} {health} answering")
        return inst

    yield start
    for name in started:
        docker("rm", "-fv", name, check=False)


@pytest.fixture(scope="session")
def api_env(datastore, passwords) -> dict[str, str]:
    """The API's settings, as the app role passes them (ConfigMap + Secret as environment variables)."""
    return {
        "DATABASE_URL": f"postgres://mss:{passwords['pg']}@datastore:5432/mss",
        "REDIS_CLUSTER_NODES": "datastore:7000,datastore:7001,datastore:7002",
        "REDIS_PASSWORD": passwords["redis"],
        "API_LOGIN_TOKEN": passwords["login"],
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://datastore:4318",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "SHUTDOWN_DELAY_MS": "1500",
        # The shared 2-core test machine can be far overloaded: a first scram-sha-256 login took over 1 s.
        "READY_TIMEOUT_MS": "3000",
        "LOG_LEVEL": "info",
    }


@pytest.fixture(scope="session")
def api(start_app, api_env) -> App:
    """The API on the test network as `api` (the frontend's API_URL), ready (PostgreSQL and Redis reachable)."""
    inst = start_app("api", api_env, alias="api")
    wait_for(lambda: inst.http.get("/ready", timeout=3)[0] == 200, 60, "api /ready")
    return inst
