"""Loopback stand-ins for the canary tests: a Kubernetes API that serves only VirtualServices, and Prometheus.

FakeKubeAPI answers the discovery calls the kubernetes dynamic client makes (/version, /api, /apis, the
networking.istio.io group versions) and GET/PUT of VirtualServices, with resourceVersion checks (409 on a
stale PUT) like a real API server. It also records every write. FakePrometheus answers /api/v1/query from a
dict query -> value (a string sample, None for "no data", or a (status, body) pair).
Both bind 127.0.0.1 on a free port and run http.server in a daemon thread.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

GROUP = "networking.istio.io"
VERSIONS = ("v1", "v1beta1")
VS_PATH = re.compile(r"^/apis/networking\.istio\.io/(v1|v1beta1)/namespaces/([^/]+)/virtualservices/([^/]+)$")


class _Server:
    def __init__(self, handler_cls):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.server.owner = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def _status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class _KubeHandler(_Handler):
    def do_GET(self):
        api = self.server.owner
        path = urlparse(self.path).path
        with api.lock:
            api.requests.append(("GET", path))
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "37", "gitVersion": "v1.37.2"})
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"]})
        if path == "/api/v1":
            return self.reply(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": []})
        if path == "/apis":
            versions = [{"groupVersion": f"{GROUP}/{v}", "version": v} for v in VERSIONS]
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": GROUP, "versions": versions, "preferredVersion": versions[0]}]})
        for v in VERSIONS:
            if path == f"/apis/{GROUP}/{v}":
                return self.reply(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{v}",
                                        "resources": [{"name": "virtualservices", "singularName": "virtualservice",
                                                       "namespaced": True, "kind": "VirtualService",
                                                       "shortNames": ["vs"],
                                                       "verbs": ["get", "list", "create", "update", "patch",
                                                                 "delete"]}]})
        m = VS_PATH.match(path)
        if not m:
            return self.reply(404, _status(404, "NotFound", f"the server could not find {path}"))
        version, ns, name = m.groups()
        with api.lock:
            obj = api.objects.get((ns, name))
        if obj is None:
            return self.reply(404, _status(404, "NotFound", f'virtualservices.{GROUP} "{name}" not found'))
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = f"{GROUP}/{version}"
        return self.reply(200, obj)

    def do_PUT(self):
        api = self.server.owner
        path = urlparse(self.path).path
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        m = VS_PATH.match(path)
        with api.lock:
            api.requests.append(("PUT", path))
            if not m:
                return self.reply(404, _status(404, "NotFound", path))
            _version, ns, name = m.groups()
            current = api.objects.get((ns, name))
            if current is None:
                return self.reply(404, _status(404, "NotFound", f'virtualservices.{GROUP} "{name}" not found'))
            if api.conflicts > 0:
                api.conflicts -= 1
                api.bump(ns, name)  # a concurrent writer got there first
                current = api.objects[(ns, name)]
            if body.get("metadata", {}).get("resourceVersion") != current["metadata"]["resourceVersion"]:
                return self.reply(409, _status(409, "Conflict", "Operation cannot be fulfilled on virtualservices."
                                               f'{GROUP} "{name}": the object has been modified; please apply '
                                               "your changes to the latest version and try again"))
            stored = copy.deepcopy(body)
            stored["metadata"]["resourceVersion"] = api.next_rv()
            api.objects[(ns, name)] = stored
            api.writes.append(copy.deepcopy(stored))
            return self.reply(200, stored)


class FakeKubeAPI(_Server):
    def __init__(self):
        self.lock = threading.Lock()
        self.objects = {}
        self.writes = []
        self.requests = []
        self.conflicts = 0
        self._rv = 1000
        super().__init__(_KubeHandler)

    def next_rv(self):
        self._rv += 1
        return str(self._rv)

    def put_object(self, obj):
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = self.next_rv()
        self.objects[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj

    def get_object(self, namespace, name):
        with self.lock:
            return copy.deepcopy(self.objects.get((namespace, name)))

    def bump(self, ns, name):
        obj = self.objects[(ns, name)]
        obj["metadata"].setdefault("annotations", {})["touched-by"] = "someone-else"
        obj["metadata"]["resourceVersion"] = self.next_rv()

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
        }))
        return path


class _PromHandler(_Handler):
    def do_GET(self):
        prom = self.server.owner
        url = urlparse(self.path)
        query = parse_qs(url.query).get("query", [""])[0]
        with prom.lock:
            prom.queries.append(query)
            answer = prom.answers.get(query, None)
            if callable(answer):
                answer = answer()
        if url.path != "/api/v1/query":
            return self.reply(404, b"404 page not found")
        if isinstance(answer, tuple):
            return self.reply(*answer)
        result = [] if answer is None else [{"metric": {}, "value": [1764100000.0, str(answer)]}]
        return self.reply(200, {"status": "success", "data": {"resultType": "vector", "result": result}})


class FakePrometheus(_Server):
    def __init__(self):
        self.lock = threading.Lock()
        self.answers = {}
        self.queries = []
        super().__init__(_PromHandler)
