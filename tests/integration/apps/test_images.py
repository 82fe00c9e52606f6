"""The image build: cached by recipe hash, images and node tarballs as the Kubernetes contract names them."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

from apps_helpers import BUILD, docker, version

STORE = Path(os.environ.get("K8S_SIM_STORE", Path.home() / ".cache" / "mss-k8s-sim")) / "apps"


def test_images_run_as_10001_and_carry_their_recipe(app_images):
    for app, port in (("frontend", "3000/tcp"), ("api", "8080/tcp")):
        cfg = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", app_images[app]).stdout)
        assert cfg["User"] == "10001:10001", cfg["User"]
        assert len(cfg["Labels"]["mss.recipe"]) == 16
        assert cfg["Labels"]["org.opencontainers.image.version"] == version(app)
        assert port in cfg["ExposedPorts"]
        assert f"APP_VERSION={version(app)}" in cfg["Env"]


def test_tarballs_for_the_nodes(app_images):
    for app in ("frontend", "api"):
        tar = STORE / f"{app}.tar"
        with tarfile.open(tar) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == [app_images[app]], manifest
        recipe = docker("image", "inspect", "--format", '{{ index .Config.Labels "mss.recipe" }}',
                        app_images[app]).stdout.strip()
        assert (STORE / f"{app}.tar.recipe").read_text().strip() == recipe


def test_unchanged_apps_are_not_rebuilt(app_images):
    apps = ("frontend", "api")
    ids = {app: docker("image", "inspect", "--format", "{{.Id}}", app_images[app]).stdout for app in apps}
    mtimes = {app: (STORE / f"{app}.tar").stat().st_mtime_ns for app in ("frontend", "api")}
    proc = subprocess.run([str(BUILD)], capture_output=True, text=True, timeout=600, check=True)
    for app in ("frontend", "api"):
        assert f"{app_images[app]} is current" in proc.stdout, proc.stdout
        assert f"{STORE / app}.tar is current" in proc.stdout, proc.stdout
        assert docker("image", "inspect", "--format", "{{.Id}}", app_images[app]).stdout == ids[app]
        assert (STORE / f"{app}.tar").stat().st_mtime_ns == mtimes[app]
