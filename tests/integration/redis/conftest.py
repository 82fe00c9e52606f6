"""Real redis-server processes on 127.0.0.1 for the redis_cluster module's integration tests.

Each test gets fresh servers (cluster-enabled yes, own temp dir, free ports) and they are all stopped after it.
Skipped, with the reason, when redis-server is not installed (`apt-get install redis-server`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server")
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests" / "harness"))

from loopback_ports import free_cluster_port  # noqa: E402

PASSWORD = "integration-secret"  # test-only password for servers this fixture spawns on loopback




class RedisServers:
    """Spawns and stops redis-server processes; ``start()`` adds one and returns its port."""

    def __init__(self, base: Path, password: str | None, node_timeout: int = 5000, tls: dict | None = None):
        self.base = base
        self.password = password
        self.node_timeout = node_timeout
        self.tls = tls  # {"ca": path, "cert": path, "key": path}: TLS only (port 0), cluster bus and replication too
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self, port: int | None = None) -> int:
        port = port or free_cluster_port()
        d = self.base / str(port)
        d.mkdir(parents=True, exist_ok=True)
        listen = [f"port {port}"]
        if self.tls:
            listen = ["port 0", f"tls-port {port}", f"tls-cert-file {self.tls['cert']}",
                      f"tls-key-file {self.tls['key']}", f"tls-ca-cert-file {self.tls['ca']}",
                      "tls-auth-clients no", "tls-cluster yes", "tls-replication yes"]
        conf = [
            *listen, "bind 127.0.0.1", f"dir {d}", "cluster-enabled yes",
            f"cluster-config-file nodes-{port}.conf", f"cluster-node-timeout {self.node_timeout}",
            "appendonly no", 'save ""', "daemonize no", f"logfile {d}/redis.log", "protected-mode no",
        ]
        if self.password:
            conf += [f"requirepass {self.password}", f"masterauth {self.password}"]
        (d / "redis.conf").write_text("\n".join(conf) + "\n")
        proc = subprocess.Popen([REDIS_SERVER, str(d / "redis.conf")], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.procs[port] = proc
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return port
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on {port} did not start")

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for port in list(self.procs):
            proc = self.procs.pop(port)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def redis_servers(tmp_path):
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    servers = RedisServers(tmp_path, PASSWORD)
    try:
        yield servers
    finally:
        servers.stop_all()


def make_tls_material(directory: Path) -> dict:
    """A throw-away CA and a server/client certificate for 127.0.0.1 and localhost (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import datetime
    import ipaddress

    now = datetime.datetime.now(datetime.UTC)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key, path):
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("redis integration test CA")).issuer_name(
        name("redis integration test CA")).public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"ca": directory / "ca.pem", "cert": directory / "redis.pem", "key": directory / "redis-key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_key(key, paths["key"])
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture
def tls_redis_servers(tmp_path):
    """Like redis_servers, but TLS only: no plaintext port; cluster bus and replication over TLS."""
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    pytest.importorskip("cryptography", reason="the cryptography package makes the test CA")
    servers = RedisServers(tmp_path / "nodes", PASSWORD, tls=make_tls_material(tmp_path / "tls"))
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture
def ansible_env():
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    })
    return env
