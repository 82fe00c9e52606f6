# mss.platform — one entry point for people, CI and AWX maintainers.
#   make up      bring up the local platform on this machine (containers as hosts, inventory "local")
#   make test    every test: lint, sanity, units, integration, every Molecule scenario
#   make down    remove the local platform
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory
.SILENT:

TOP        := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV       ?= $(TOP)/.venv
BIN        := $(VENV)/bin
COLLECTION := $(TOP)/collections/ansible_collections/mss/platform
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(TOP)/ansible.cfg
export PYTHONPATH := $(TOP)/collections
export ANSIBLE_FORCE_COLOR := false
export PY_COLORS := 0

# Molecule scenarios run by `make test` (each converges real software in containers).
MOLECULE_SCENARIOS ?= k8s_cluster postgresql redis_cluster monitoring docker_host
# Stages of `make test`, in order; each is also a target of its own.
TEST_STAGES ?= lint sanity units integration molecule

.PHONY: help venv security-venv images engine up down test lint sanity units integration molecule bench k8s-sim k8s-sim-down k8s-node security-scan clean

help:
	@sed -n '2,5p' $(TOP)/Makefile | sed 's/^# *//'
	echo "other targets: venv images lint sanity units integration molecule bench k8s-sim k8s-sim-down k8s-node clean"

# --- toolchain -------------------------------------------------------------------------------------
$(VENV)/.installed: $(TOP)/requirements-dev.txt $(TOP)/requirements-dev-py311.txt
	if [ ! -x $(BIN)/python ]; then
	  py=$$($(TOP)/tests/harness/find-python.sh)
	  echo "venv: creating $(VENV) with $$py"
	  "$$py" -m venv $(VENV)
	fi
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	if $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then req=requirements-dev.txt; else req=requirements-dev-py311.txt; fi
	$(BIN)/python -m pip install -q --disable-pip-version-check -r $(TOP)/$$req
	touch $@

venv: $(VENV)/.installed

engine:
	$(TOP)/tests/harness/docker-engine.sh

images: engine
	$(TOP)/tests/harness/build-images.sh

# --- the local platform ----------------------------------------------------------------------------
up: venv images
	$(TOP)/tests/harness/local-platform.sh up

down: venv
	$(TOP)/tests/harness/local-platform.sh down

# --- tests -----------------------------------------------------------------------------------------
test: venv images
	$(TOP)/tests/harness/run-stages.sh $(TEST_STAGES)

lint: venv
	cd $(TOP)
	rc=0
	echo "--- yamllint"; yamllint -s . || rc=1
	echo "--- ruff"; ruff check . || rc=1
	echo "--- ansible-lint"; ansible-lint --offline --profile production || rc=1
	echo "--- collection build"; $(TOP)/tests/harness/check-collection-build.sh || rc=1
	exit $$rc

# ansible-test sanity on every ansible-core series meta/runtime.yml's requires_ansible claims: the newest in .venv,
# the older ones in small cached venvs of their own (tests/harness/ansible-test-offline.sh); SANITY_CORES=2.21
# checks one series.
SANITY_CORES ?=
sanity: venv
	$(TOP)/tests/harness/ansible-test-offline.sh sanity-matrix $(SANITY_CORES)

units: venv
	$(TOP)/tests/harness/ansible-test-offline.sh units

# Real servers on loopback (redis-server, node) and the simulated Kubernetes cluster; the cluster is stopped
# afterwards unless K8S_SIM_KEEP=1 (or it was already running).
integration: venv security-venv
	cd $(TOP)
	$(TOP)/tests/harness/host-services.sh
	was_up=0
	if [ -s .cache/k8s-sim/kubeconfig ] && kubectl --kubeconfig .cache/k8s-sim/kubeconfig get --raw=/readyz >/dev/null 2>&1; then was_up=1; fi
	$(TOP)/tests/k8s-sim/up.sh
	export MSS_NO_SKIP=1
	rc=0
	python -m pytest -q -p no:cacheprovider tests/integration tests/performance || rc=$$?
	if [ "$$was_up" = 0 ] && [ "$${K8S_SIM_KEEP:-0}" != 1 ]; then $(TOP)/tests/k8s-sim/down.sh || true; fi
	exit $$rc

# Scenarios run MOLECULE_JOBS at a time (default 2), each logged whole when it ends; longest first.
molecule: venv images
	$(TOP)/tests/harness/run-molecule.sh $(MOLECULE_SCENARIOS)

bench: venv images
	cd $(TOP)
	$(TOP)/tests/harness/run-bench.sh

k8s-sim: venv
	$(TOP)/tests/k8s-sim/up.sh

k8s-sim-down:
	$(TOP)/tests/k8s-sim/down.sh

# The reference app images mss/frontend and mss/api (apps/), cached by recipe hash, also saved as tarballs into
# $${K8S_SIM_STORE:-~/.cache/mss-k8s-sim}/apps/ for Kubernetes nodes (ctr -n k8s.io images import).
.PHONY: app-images
app-images: images
	$(TOP)/tests/harness/build-app-images.sh

# Offline bundle of a real Kubernetes node (binaries, image tarballs, bundle.yml) and the node image.
k8s-node: images
	$(TOP)/tests/k8s-node/build.sh

# Daily scan (.github/workflows/security.yml): Python dependency audit (needs PyPI's vulnerability API,
# which the offline test machines do not reach) and an IaC scan of the repository (checkov, offline).
$(TOP)/.venv-security/.installed: $(TOP)/requirements-security.txt
	cd $(TOP)
	[ -x .venv-security/bin/python ] || "$$(tests/harness/find-python.sh)" -m venv .venv-security
	.venv-security/bin/pip install -q --disable-pip-version-check -r requirements-security.txt
	touch $@

security-venv: $(TOP)/.venv-security/.installed

security-scan: security-venv
	cd $(TOP)
	.venv-security/bin/checkov --config-file .checkov.yml -d .
	.venv-security/bin/pip-audit --strict -r requirements-dev.txt

clean: down
	rm -rf $(COLLECTION)/tests/output .pytest_cache
