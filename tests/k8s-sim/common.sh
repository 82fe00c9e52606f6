# Shared settings for the k8s-sim scripts (sourced, not executed).
# shellcheck shell=bash
K8S_SIM_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_SIM_ROOT="$(cd "${K8S_SIM_HERE}/../.." && pwd)"
# shellcheck source=versions.env
. "${K8S_SIM_HERE}/versions.env"
CACHE="${K8S_SIM_CACHE:-${K8S_SIM_ROOT}/.cache/k8s-sim}"
BIN="${CACHE}/bin"
CLUSTER_NAME="${K8S_SIM_CLUSTER:-mss}"
# The default cluster's kubeconfig is the well-known path the tests and roles use; other names get their own.
if [[ "${CLUSTER_NAME}" == mss ]]; then KUBECONFIG_OUT="${CACHE}/kubeconfig"; else KUBECONFIG_OUT="${CACHE}/kubeconfig-${CLUSTER_NAME}"; fi
# kwokctl keeps its clusters, PKI, logs and default config (kwok.yaml) under its work dir.
export KWOK_WORKDIR="${CACHE}/kwok"
KWOKCTL="${BIN}/kwokctl"
KUBECTL="${BIN}/kubectl"

k8s_sim_log() { printf '[k8s-sim] %s\n' "$*"; }
