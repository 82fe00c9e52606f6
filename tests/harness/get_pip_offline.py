"""Offline stand-in for ansible-test's get-pip bootstrap script.

ansible-test downloads get-pip.py from a host this machine cannot reach. This script does the same job from
the registries we do reach: it installs the pip wheel bundled with the interpreter (ensurepip, no network),
then lets that pip install the exact packages ansible-test asked for (e.g. pip==25.2) from PyPI.
tests/harness/ansible-test-offline.sh copies it to ~/.ansible/test/cache/get_pip_<version>.py.
"""

import ensurepip
import runpy
import sys

ensurepip.bootstrap(upgrade=True)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install", "--upgrade"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
