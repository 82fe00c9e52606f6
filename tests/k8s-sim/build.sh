#!/usr/bin/env bash
# Build (once, cached) the pinned binaries of the simulated Kubernetes test cluster from the Go module proxy:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes), etcd, kwok + kwokctl,
# helm; and extract the pinned Istio Helm charts from the istio.io/istio module zip.
# Outputs go to a store shared by every checkout on this machine ($K8S_SIM_STORE, default
# ~/.cache/mss-k8s-sim: a fresh clone, CI's included, reuses the binaries instead of relinking them), and
# $K8S_SIM_CACHE/bin and charts/ (default <repo>/.cache/k8s-sim) are links to it.
# A piece is rebuilt only when its stamp (pinned version + build recipe) changes. Idempotent.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=versions.env
. "${HERE}/versions.env"
CACHE="${K8S_SIM_CACHE:-${ROOT}/.cache/k8s-sim}"
STORE="${K8S_SIM_STORE:-${XDG_CACHE_HOME:-${HOME}/.cache}/mss-k8s-sim}"
BIN="${STORE}/bin"
CHARTS="${STORE}/charts"
JOBS="${K8S_SIM_BUILD_JOBS:-2}"
mkdir -p "${BIN}" "${CHARTS}" "${CACHE}"
# One build of the store at a time (two checkouts, or `make k8s-node` beside CI's integration stage, share it):
# a second build waits, then finds the pieces current.
exec 8>"${STORE}/.build.lock"
flock 8
# The checkout's bin/ and charts/ are links into the store (a real directory left by an older layout is
# moved into the store first, so nothing is rebuilt).
for d in bin charts; do
  if [[ -d "${CACHE}/${d}" && ! -L "${CACHE}/${d}" ]]; then
    cp -a "${CACHE}/${d}/." "${STORE}/${d}/" && rm -rf "${CACHE:?}/${d}"
  fi
  ln -sfn "${STORE}/${d}" "${CACHE}/${d}"
done

log() { printf '[k8s-sim build] %s\n' "$*"; }

# go_build_setup, stamp_ok, recipe_hash, require_pin, timed (shared with tests/k8s-node/build.sh)
# shellcheck source=lib-build.sh
. "${HERE}/lib-build.sh"
go_build_setup "build.sh"

# --- Kubernetes control plane + kubectl --------------------------------------------------------------
KUBE_MOD="${HERE}/build/kubernetes"
require_pin "${KUBE_MOD}/go.mod" k8s.io/kubernetes "${KUBE_VERSION}"
kube_minor=${KUBE_VERSION#v1.}; kube_minor=${kube_minor%%.*}
KUBE_LDFLAGS="${LDFLAGS_BASE}"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KUBE_LDFLAGS+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${kube_minor}"
  KUBE_LDFLAGS+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
done
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
key="kubernetes ${KUBE_VERSION} $(recipe_hash "${KUBE_MOD}/go.mod" "${KUBE_MOD}/go.sum" <(echo "${KUBE_LDFLAGS}"))"
if stamp_ok kubernetes "${key}" "${KUBE_BINS[@]}"; then
  CACHED+=("kubernetes ${KUBE_VERSION}")
else
  build_kube() {
    local out; out=$(mktemp -d "${CACHE}/.build.XXXXXX")
    (cd "${KUBE_MOD}" && nice -n 10 go build -p "${JOBS}" -ldflags "${KUBE_LDFLAGS}" -o "${out}/" \
      "${KUBE_BINS[@]/#/k8s.io/kubernetes/cmd/}")
    local b; for b in "${KUBE_BINS[@]}"; do mv -f "${out}/${b}" "${BIN}/${b}"; done
    rmdir "${out}"
    echo "${key}" > "${BIN}/.stamp-kubernetes"
  }
  timed "kubernetes ${KUBE_VERSION} (${KUBE_BINS[*]})" build_kube
fi

# --- etcd --------------------------------------------------------------------------------------------
ETCD_MOD="${HERE}/build/etcd"
require_pin "${ETCD_MOD}/go.mod" go.etcd.io/etcd/server/v3 "${ETCD_VERSION}"
key="etcd ${ETCD_VERSION} $(recipe_hash "${ETCD_MOD}/go.mod" "${ETCD_MOD}/go.sum")"
if stamp_ok etcd "${key}" etcd; then
  CACHED+=("etcd ${ETCD_VERSION}")
else
  build_etcd() {
    (cd "${ETCD_MOD}" && nice -n 10 go build -p "${JOBS}" -ldflags "${LDFLAGS_BASE}" -o "${BIN}/etcd.tmp" \
      go.etcd.io/etcd/server/v3)
    mv -f "${BIN}/etcd.tmp" "${BIN}/etcd"
    echo "${key}" > "${BIN}/.stamp-etcd"
  }
  timed "etcd ${ETCD_VERSION}" build_etcd
fi

# --- go install-able tools (no replace directives upstream): kwok, kwokctl, helm ------------------------
install_tool() {  # install_tool STAMPNAME VERSION BINARY... -- PACKAGE...
  local name=$1 ver=$2; shift 2
  local bins=() pkgs=()
  while [[ $1 != -- ]]; do bins+=("$1"); shift; done; shift
  pkgs=("$@")
  local k="${name} ${ver} $(recipe_hash <(printf '%s\n' "${pkgs[@]}"))"
  if stamp_ok "${name}" "${k}" "${bins[@]}"; then
    CACHED+=("${name} ${ver}"); return 0
  fi
  do_install() {
    local out; out=$(mktemp -d "${CACHE}/.build.XXXXXX")
    GOBIN="${out}" nice -n 10 go install -p "${JOBS}" -ldflags "${LDFLAGS_BASE}" "${pkgs[@]/%/@${ver}}"
    local b; for b in "${bins[@]}"; do mv -f "${out}/${b}" "${BIN}/${b}"; done
    rmdir "${out}"
    echo "${k}" > "${BIN}/.stamp-${name}"
  }
  timed "${name} ${ver} (${bins[*]})" do_install
}
install_tool kwok "${KWOK_VERSION}" kwok kwokctl -- sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
install_tool helm "${HELM_VERSION}" helm -- helm.sh/helm/v3/cmd/helm

# --- Istio Helm charts (base, istiod, gateway) from the istio.io/istio module zip ------------------------
ISTIO_DIR="${CHARTS}/istio-${ISTIO_SERIES}"
key="istio ${ISTIO_MODULE_VERSION}"
if [[ -f "${ISTIO_DIR}/.stamp" && "$(cat "${ISTIO_DIR}/.stamp")" == "${key}" ]]; then
  CACHED+=("istio charts ${ISTIO_SERIES} (${ISTIO_MODULE_VERSION})")
else
  fetch_istio() {
    local src
    src=$(cd "${TMPDIR:-/tmp}" && go mod download -json "istio.io/istio@${ISTIO_MODULE_VERSION}" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -n "${src}" && -d "${src}/manifests/charts" ]] || { echo "build.sh: istio module has no charts" >&2; exit 1; }
    rm -rf "${ISTIO_DIR}.tmp" && mkdir -p "${ISTIO_DIR}.tmp"
    cp -R "${src}/manifests/charts/base" "${ISTIO_DIR}.tmp/base"
    cp -R "${src}/manifests/charts/istio-control/istio-discovery" "${ISTIO_DIR}.tmp/istiod"
    cp -R "${src}/manifests/charts/gateway" "${ISTIO_DIR}.tmp/gateway"
    chmod -R u+w "${ISTIO_DIR}.tmp"
    echo "${key}" > "${ISTIO_DIR}.tmp/.stamp"
    rm -rf "${ISTIO_DIR}" && mv "${ISTIO_DIR}.tmp" "${ISTIO_DIR}"
  }
  timed "istio charts ${ISTIO_SERIES} (${ISTIO_MODULE_VERSION})" fetch_istio
fi

for c in "${CACHED[@]}"; do log "cached ${c}"; done
log "done in $(( $(date +%s) - T0 ))s: ${#BUILT[@]} built, ${#CACHED[@]} cached; binaries in ${BIN}, charts in ${CHARTS}"
