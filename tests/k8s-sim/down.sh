#!/usr/bin/env bash
# Stop and delete the simulated test cluster (processes, etcd data, PKI, kubeconfig). Built binaries stay cached.
set -euo pipefail
# shellcheck source=common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

if [[ -x "${KWOKCTL}" ]] && "${KWOKCTL}" get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"; then
  "${KWOKCTL}" --name "${CLUSTER_NAME}" delete cluster
else
  k8s_sim_log "no cluster ${CLUSTER_NAME}: nothing to delete"
fi
rm -f "${KUBECONFIG_OUT}"
