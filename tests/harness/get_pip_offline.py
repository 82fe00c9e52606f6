"""Offline stand-in for ansible-test's get-pip bootstrap script.

ansible-test downloads get-pip.py from a host this machine cannot reach. This script does the same job from
the registries we do reach: it installs the pip wheel bundled with the interpreter (ensurepip, no network),
then lets that pip install the exact packages ansible-test asked for (e.g. pip==25.2) from PyPI.
tests/harness/ansible-test-offline.sh copies it to ~/.ansible/test/cache/get_pip_<version>.py.
"""

import ensurepip
import os
import runpy
import sys

ensurepip.bootstrap(upgrade=True)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
# The pip bundled with Python 3.11/3.12 (23.x) trusts only certifi's CAs and ansible-test passes it neither
# PIP_CERT nor the machine's pip.conf: point it at the system CA bundle (pip >= 24.2 uses the system store
# itself), so the registry's certificate chain verifies as it does for every other pip here.
for bundle in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt",
               "/etc/pki/tls/certs/ca-bundle.crt"):
    if bundle and os.path.isfile(bundle):
        args = ["--cert", bundle] + args
        break
sys.argv = ["pip", "install", "--upgrade"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
