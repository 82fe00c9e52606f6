# Copyright: (c) 2026, MSS Platform engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k6 suites in tests/performance: ES-module syntax (node --check) and their exported options.

k6 is not obtainable here (AGPL, never vendored), so node 20 checks the syntax, then imports each suite with
k6's built-in modules stubbed (k6_stub_hooks.mjs) to read `options` and compare its thresholds with the
k6_gate module's defaults (the spec's benchmarks) - one source of truth for both.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
PERF = ROOT / "tests" / "performance"
HERE = pathlib.Path(__file__).resolve().parent
SUITES = ["load-test.js", "stress-test.js", "spike-test.js"]

sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.mss.platform.plugins.module_utils.k6 import (  # noqa: E402 - after sys.path
    DEFAULT_THRESHOLDS,
    ThresholdSet,
)

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def node(*args, env=None):
    return subprocess.run([NODE, *args], capture_output=True, text=True, timeout=60, cwd=HERE,
                          env=dict(os.environ, **(env or {})), check=False)


@pytest.mark.parametrize("script", [*SUITES, "lib/common.js"])
def test_node_check_syntax(script):
    proc = node("--check", str(PERF / script))
    assert proc.returncode == 0, proc.stderr


def options_of(script, env=None):
    proc = node("--import", "./register_k6_stubs.mjs", "print_options.mjs", str(PERF / script), env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("script", SUITES)
def test_suite_exports_spec_thresholds(script):
    options = options_of(script)
    thresholds = options["thresholds"]
    # Every spec benchmark the gate checks by default is in the script, with the same expressions.
    for expr, items in DEFAULT_THRESHOLDS.items():
        assert thresholds.get(expr) == items, (script, expr)
    assert thresholds["checks"] == ["rate>0.99"]
    ThresholdSet(thresholds)  # and they all parse with the gate's k6 grammar
    assert "p(95)" in options["summaryTrendStats"]


def test_stress_is_500_vus_for_30_minutes():
    options = options_of("stress-test.js")
    assert options["vus"] == 500 and options["duration"] == "30m"


def test_spike_has_a_sudden_jump():
    stages = options_of("spike-test.js")["scenarios"]["spike"]["stages"]
    peak = max(s["target"] for s in stages)
    assert peak >= 500 and any(s["target"] == peak and s["duration"] == "10s" for s in stages)


def test_load_test_reads_base_url_from_env():
    source = (PERF / "lib" / "common.js").read_text()
    assert "__ENV.BASE_URL" in source
    options = options_of("load-test.js", env={"TARGET_VUS": "7"})
    assert options["scenarios"]["load"]["stages"][1]["target"] == 7
