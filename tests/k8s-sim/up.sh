#!/usr/bin/env bash
# Start the simulated test cluster "mss": a real kube-apiserver, kube-controller-manager, kube-scheduler and
# etcd (our pinned builds) run as local processes by kwokctl (--runtime binary); kwok's controller plays the
# kubelets of N fake nodes, so Pods get scheduled and marked Running/Ready although no container ever runs.
# Idempotent: when the cluster already answers, only the nodes are (re)applied.
# Env: K8S_SIM_NODES (default 3), K8S_SIM_CACHE, K8S_SIM_CLUSTER (default mss), K8S_SIM_TIMEOUT (default 180 s).
set -euo pipefail
# shellcheck source=common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

NODES="${K8S_SIM_NODES:-3}"
TIMEOUT="${K8S_SIM_TIMEOUT:-180}"
ZONES=(zone-a zone-b zone-c)
[[ "${NODES}" =~ ^[1-9][0-9]*$ ]] || { echo "up.sh: K8S_SIM_NODES must be a positive integer" >&2; exit 2; }

"${K8S_SIM_HERE}/build.sh"
T0=$(date +%s.%N)
mkdir -p "${KWOK_WORKDIR}"
kc() { "${KUBECTL}" --kubeconfig "${KUBECONFIG_OUT}" "$@"; }

# kwokctl's default configuration for this work dir: our binaries, loopback only, admission + RBAC on.
cat > "${KWOK_WORKDIR}/kwok.yaml" <<YAML
kind: KwokctlConfiguration
apiVersion: config.kwok.x-k8s.io/v1alpha1
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: "${KUBE_VERSION}"
  etcdVersion: "${ETCD_VERSION#v}"
  kwokVersion: "${KWOK_VERSION}"
  kubeApiserverBinary: ${BIN}/kube-apiserver
  kubeControllerManagerBinary: ${BIN}/kube-controller-manager
  kubeSchedulerBinary: ${BIN}/kube-scheduler
  kubectlBinary: ${BIN}/kubectl
  etcdBinary: ${BIN}/etcd
  kwokControllerBinary: ${BIN}/kwok
  kubeAdmission: true
  kubeAuthorization: true
  quietPull: true
  cacheDir: ${KWOK_WORKDIR}/cache
YAML

apiserver_ready() { kc get --raw=/readyz >/dev/null 2>&1; }

if "${KWOKCTL}" get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; then
  if apiserver_ready; then
    k8s_sim_log "cluster ${CLUSTER_NAME} is already running"
  else
    k8s_sim_log "cluster ${CLUSTER_NAME} exists but does not answer: starting it"
    if ! "${KWOKCTL}" --name "${CLUSTER_NAME}" start cluster; then
      k8s_sim_log "start failed: recreating the cluster"
      "${KWOKCTL}" --name "${CLUSTER_NAME}" delete cluster
    fi
  fi
fi
if ! "${KWOKCTL}" get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; then
  rm -f "${KUBECONFIG_OUT}"
  "${KWOKCTL}" --name "${CLUSTER_NAME}" create cluster --kubeconfig "${KUBECONFIG_OUT}" --timeout "${TIMEOUT}s"
fi
chmod 0600 "${KUBECONFIG_OUT}"

deadline=$(( $(date +%s) + TIMEOUT ))
until apiserver_ready; do
  (( $(date +%s) < deadline )) || { echo "up.sh: kube-apiserver not ready after ${TIMEOUT}s" >&2; exit 1; }
  sleep 1
done
T_API=$(date +%s.%N)

# Fake nodes: kwok's controller manages Nodes annotated kwok.x-k8s.io/node=fake (heartbeats, Pod status).
{
  for i in $(seq 1 "${NODES}"); do
    zone=${ZONES[$(( (i - 1) % ${#ZONES[@]} ))]}
    cat <<YAML
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-${i}
    node.kubernetes.io/instance-type: kwok.sim
    topology.kubernetes.io/region: sim-1
    topology.kubernetes.io/zone: ${zone}
    type: kwok
spec: {}
status:
  allocatable: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
  capacity: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
  nodeInfo:
    architecture: amd64
    kubeletVersion: fake
    operatingSystem: linux
YAML
  done
} | kc apply -f - >/dev/null
kc wait --for=condition=Ready node -l type=kwok --timeout="${TIMEOUT}s" >/dev/null
# The controller-manager's service-account controller must have run before Pods can be admitted.
until kc -n default get serviceaccount default >/dev/null 2>&1; do
  (( $(date +%s) < deadline )) || { echo "up.sh: default ServiceAccount never appeared" >&2; exit 1; }
  sleep 1
done
# Smoke check: after a (re)start the controller-manager and scheduler must first win their leader leases; a
# throw-away Deployment becoming Available proves scheduler, controllers and kwok all act.
kc delete namespace k8s-sim-smoke --ignore-not-found --wait=true --timeout="${TIMEOUT}s" >/dev/null
kc create namespace k8s-sim-smoke >/dev/null
until kc -n k8s-sim-smoke get serviceaccount default >/dev/null 2>&1; do
  (( $(date +%s) < deadline )) || { echo "up.sh: smoke namespace has no ServiceAccount" >&2; exit 1; }
  sleep 1
done
kc -n k8s-sim-smoke create deployment smoke --image=k8s-sim/smoke:1 --replicas=1 >/dev/null
if ! kc -n k8s-sim-smoke wait --for=condition=Available deployment/smoke --timeout="${TIMEOUT}s" >/dev/null; then
  echo "up.sh: the smoke Deployment did not become Available; see ${KWOK_WORKDIR}/clusters/${CLUSTER_NAME}/logs" >&2
  exit 1
fi
kc delete namespace k8s-sim-smoke --wait=false >/dev/null
T_END=$(date +%s.%N)

k8s_sim_log "cluster ${CLUSTER_NAME} ready: apiserver after $(printf '%.1f' "$(echo "${T_API} - ${T0}" | bc)")s, \
${NODES} nodes Ready and a smoke Deployment Available after $(printf '%.1f' "$(echo "${T_END} - ${T0}" | bc)")s"
kc get nodes -L topology.kubernetes.io/zone
cat <<TXT

Use it with:
  export KUBECONFIG=${KUBECONFIG_OUT}
  ${KUBECTL} get nodes        # kubectl ${KUBE_VERSION} built next to the control plane (any kubectl works)
  ${BIN}/helm version
Integration tests:  .venv/bin/python -m pytest tests/integration/k8s -q
Stop and delete:    tests/k8s-sim/down.sh
TXT
