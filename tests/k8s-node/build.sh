#!/usr/bin/env bash
# Build (once, cached) the offline bundle of a real Kubernetes node (contract: /work/briefs/K8S-CONTRACT.md,
# docs: tests/k8s-node/README.md), from the Go module proxy, Debian packages and our own sources only:
#   node/bin/     kubelet kubeadm kube-proxy kubectl crictl containerd containerd-shim-runc-v2 ctr etcdctl
#   node/images/  one `docker save` tarball per image, tagged with the names kubeadm expects
#   node/bundle.yml  the Ansible vars file the k8s_cluster role's offline mode reads (names, tags, sha256s)
# in the machine-wide store ${K8S_SIM_STORE:-~/.cache/mss-k8s-sim}/node, linked from <repo>/.cache/k8s-node.
# The control-plane binaries (kube-apiserver, -controller-manager, -scheduler, kubectl, etcd) come from the
# simulated cluster's build (tests/k8s-sim/build.sh, run first; cached). Every piece has a stamp (pinned
# version + build recipe): a pin or recipe change rebuilds that piece, otherwise nothing is rebuilt.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
SIM="${ROOT}/tests/k8s-sim"
# shellcheck source=../k8s-sim/versions.env
. "${SIM}/versions.env"
STORE="${K8S_SIM_STORE:-${XDG_CACHE_HOME:-${HOME}/.cache}/mss-k8s-sim}"
NODE="${STORE}/node"
BIN="${NODE}/bin"
IMAGES="${NODE}/images"
WORK="${NODE}/work"          # binaries that only go into images (coredns, kube-router, pause)
JOBS="${K8S_SIM_BUILD_JOBS:-2}"
mkdir -p "${BIN}" "${IMAGES}" "${WORK}" "${ROOT}/.cache"
# One node build at a time per store (the simulated cluster's build below takes its own lock).
exec 7>"${NODE}/.build.lock"
flock 7
ln -sfn "${NODE}" "${ROOT}/.cache/k8s-node"

log() { printf '[k8s-node build] %s\n' "$*"; }
# shellcheck source=../k8s-sim/lib-build.sh
. "${SIM}/lib-build.sh"
go_build_setup "k8s-node build"

# The simulated cluster's pinned build provides the control plane, kubectl and etcd (cached there).
K8S_SIM_BUILD_JOBS="${JOBS}" "${SIM}/build.sh" | sed 's/^/  /'
SIM_BIN="${STORE}/bin"

# --- kubelet, kubeadm, kube-proxy (k8s.io/kubernetes wrapper module, same pin and ldflags as the sim) ----
KUBE_MOD="${HERE}/build/kubernetes"
require_pin "${KUBE_MOD}/go.mod" k8s.io/kubernetes "${KUBE_VERSION}"
kube_minor=${KUBE_VERSION#v1.}; kube_minor=${kube_minor%%.*}
KUBE_LDFLAGS="${LDFLAGS_BASE}"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KUBE_LDFLAGS+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${kube_minor}"
  KUBE_LDFLAGS+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
done
NODE_KUBE_BINS=(kubelet kubeadm kube-proxy)
key="kubernetes-node ${KUBE_VERSION} $(recipe_hash "${KUBE_MOD}/go.mod" "${KUBE_MOD}/go.sum" <(echo "${KUBE_LDFLAGS}"))"
if stamp_ok kubernetes-node "${key}" "${NODE_KUBE_BINS[@]}"; then
  CACHED+=("kubelet/kubeadm/kube-proxy ${KUBE_VERSION}")
else
  build_node_kube() {
    local out; out=$(mktemp -d "${NODE}/.build.XXXXXX")
    (cd "${KUBE_MOD}" && nice -n 10 go build -p "${JOBS}" -ldflags "${KUBE_LDFLAGS}" -o "${out}/" \
      "${NODE_KUBE_BINS[@]/#/k8s.io/kubernetes/cmd/}")
    local b; for b in "${NODE_KUBE_BINS[@]}"; do mv -f "${out}/${b}" "${BIN}/${b}"; done
    rmdir "${out}"
    echo "${key}" > "${BIN}/.stamp-kubernetes-node"
  }
  timed "kubelet/kubeadm/kube-proxy ${KUBE_VERSION}" build_node_kube
fi
# kubectl: the sim's binary (same pin), copied so the bundle is self-contained (stamp: the sim's kubernetes stamp).
key="kubectl $(cat "${SIM_BIN}/.stamp-kubernetes")"
if stamp_ok kubectl "${key}" kubectl; then
  CACHED+=("kubectl ${KUBE_VERSION} (from the sim build)")
else
  cp -f "${SIM_BIN}/kubectl" "${BIN}/kubectl.tmp" && mv -f "${BIN}/kubectl.tmp" "${BIN}/kubectl"
  echo "${key}" > "${BIN}/.stamp-kubectl"
fi

# --- etcdctl + etcdutl (snapshots from the node; etcd's own go.mod has local replaces: wrapper module) ------
# Built like the sim's etcd server (cgo on, glibc), so the Go build cache shares its packages.
ETCD_MOD="${HERE}/build/etcd"
require_pin "${ETCD_MOD}/go.mod" go.etcd.io/etcd/etcdctl/v3 "${ETCD_VERSION}"
key="etcdctl ${ETCD_VERSION} $(recipe_hash "${ETCD_MOD}/go.mod" "${ETCD_MOD}/go.sum")"
if stamp_ok etcdctl "${key}" etcdctl etcdutl; then
  CACHED+=("etcdctl/etcdutl ${ETCD_VERSION}")
else
  build_etcdctl() {
    local out; out=$(mktemp -d "${NODE}/.build.XXXXXX")
    (cd "${ETCD_MOD}" && nice -n 10 go build -p "${JOBS}" -ldflags "${LDFLAGS_BASE}" -o "${out}/" \
      go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3)
    mv -f "${out}/etcdctl" "${out}/etcdutl" "${BIN}/"
    rmdir "${out}"
    echo "${key}" > "${BIN}/.stamp-etcdctl"
  }
  timed "etcdctl/etcdutl ${ETCD_VERSION}" build_etcdctl
fi

# --- go install-able pieces (no replace directives upstream), static (CGO_ENABLED=0) ---------------------
install_static() {  # install_static STAMP VERSION DESTDIR TAGS LDFLAGS BINARY... -- PACKAGE...
  local name=$1 ver=$2 dest=$3 tags=$4 ldflags=$5; shift 5
  local bins=() pkgs=()
  while [[ $1 != -- ]]; do bins+=("$1"); shift; done; shift
  pkgs=("$@")
  local k; k="${name} ${ver} $(recipe_hash <(printf '%s\n' "${pkgs[@]}" "${tags}" "${ldflags}"))"
  if STAMP_DIR="${dest}" stamp_ok "${name}" "${k}" "${bins[@]}"; then
    CACHED+=("${name} ${ver}"); return 0
  fi
  do_install() {
    local out; out=$(mktemp -d "${NODE}/.build.XXXXXX")
    GOBIN="${out}" CGO_ENABLED=0 nice -n 10 go install -p "${JOBS}" -tags "${tags}" -ldflags "${ldflags}" \
      "${pkgs[@]/%/@${ver}}"
    local b; for b in "${bins[@]}"; do mv -f "${out}/${b}" "${dest}/${b}"; done
    rmdir "${out}"
    echo "${k}" > "${dest}/.stamp-${name}"
  }
  timed "${name} ${ver} (${bins[*]})" do_install
}
CTRD=github.com/containerd/containerd/v2
install_static containerd "${CONTAINERD_VERSION}" "${BIN}" "no_btrfs no_devmapper no_zfs" \
  "${LDFLAGS_BASE} -X ${CTRD}/version.Version=${CONTAINERD_VERSION}" \
  containerd containerd-shim-runc-v2 ctr -- "${CTRD}/cmd/containerd" "${CTRD}/cmd/containerd-shim-runc-v2" "${CTRD}/cmd/ctr"
install_static crictl "${CRI_TOOLS_VERSION}" "${BIN}" "" \
  "${LDFLAGS_BASE} -X sigs.k8s.io/cri-tools/pkg/version.Version=${CRI_TOOLS_VERSION}" \
  crictl -- sigs.k8s.io/cri-tools/cmd/crictl
install_static kube-router "${KUBE_ROUTER_VERSION}" "${WORK}" "" \
  "${LDFLAGS_BASE} -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=${KUBE_ROUTER_VERSION}" \
  kube-router -- github.com/cloudnativelabs/kube-router/v2/cmd/kube-router

# --- CoreDNS: our main with only the plugins of kubeadm's default Corefile -----------------------------
DNS_MOD="${HERE}/build/coredns"
require_pin "${DNS_MOD}/go.mod" github.com/coredns/coredns "${COREDNS_VERSION}"
key="coredns ${COREDNS_VERSION} $(recipe_hash "${DNS_MOD}/go.mod" "${DNS_MOD}/go.sum" "${DNS_MOD}/main.go")"
if STAMP_DIR="${WORK}" stamp_ok coredns "${key}" coredns; then
  CACHED+=("coredns ${COREDNS_VERSION}")
else
  build_coredns() {
    (cd "${DNS_MOD}" && CGO_ENABLED=0 nice -n 10 go build -p "${JOBS}" -ldflags "${LDFLAGS_BASE}" \
      -o "${WORK}/coredns.tmp" .)
    mv -f "${WORK}/coredns.tmp" "${WORK}/coredns"
    echo "${key}" > "${WORK}/.stamp-coredns"
  }
  timed "coredns ${COREDNS_VERSION}" build_coredns
fi

# --- pause: our own pause.c, static --------------------------------------------------------------------
PAUSE_SRC="${HERE}/build/pause/pause.c"
PAUSE_CFLAGS="-static -O2 -Wall -Wextra -Werror"
key="pause ${PAUSE_VERSION} $(recipe_hash "${PAUSE_SRC}" <(echo "${PAUSE_CFLAGS}"))"
if STAMP_DIR="${WORK}" stamp_ok pause "${key}" pause; then
  CACHED+=("pause ${PAUSE_VERSION}")
else
  build_pause() {
    command -v gcc >/dev/null || { echo "k8s-node build: gcc is not on PATH (apt-get install gcc libc6-dev)" >&2; exit 1; }
    # shellcheck disable=SC2086
    gcc ${PAUSE_CFLAGS} -DPAUSE_VERSION="\"${PAUSE_VERSION}\"" -o "${WORK}/pause.tmp" "${PAUSE_SRC}"
    mv -f "${WORK}/pause.tmp" "${WORK}/pause"
    echo "${key}" > "${WORK}/.stamp-pause"
  }
  timed "pause ${PAUSE_VERSION}" build_pause
fi

# --- images: docker build from our binaries, docker save per image ---------------------------------------
"${ROOT}/tests/harness/docker-engine.sh"
BASE_IMAGE="${MSS_BASE_IMAGE:-mss/debian:bookworm}"
docker image inspect "${BASE_IMAGE}" >/dev/null 2>&1 || "${ROOT}/tests/harness/build-images.sh"
ETCD_TAG="${ETCD_VERSION#v}-0"
declare -A IMAGE_NAME=(
  [kube-apiserver]="registry.k8s.io/kube-apiserver:${KUBE_VERSION}"
  [kube-controller-manager]="registry.k8s.io/kube-controller-manager:${KUBE_VERSION}"
  [kube-scheduler]="registry.k8s.io/kube-scheduler:${KUBE_VERSION}"
  [kube-proxy]="registry.k8s.io/kube-proxy:${KUBE_VERSION}"
  [etcd]="registry.k8s.io/etcd:${ETCD_TAG}"
  [coredns]="registry.k8s.io/coredns/coredns:${COREDNS_VERSION}"
  [pause]="registry.k8s.io/pause:${PAUSE_VERSION}"
  [kube-router]="mss/kube-router:${KUBE_ROUTER_VERSION}"
)
IMAGE_ORDER=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns pause kube-router)

# glibc_layer DIR BINARY...: copy the shared libraries the (glibc, dynamically linked) binaries need.
glibc_layer() {
  local dir=$1 lib; shift
  for lib in $(ldd "$@" | awk '/=>/ {print $3} /^[[:space:]]*\/lib/ {print $1}' | sort -u); do
    mkdir -p "${dir}$(dirname "${lib}")"
    cp -L "${lib}" "${dir}${lib}"
  done
  mkdir -p "${dir}/etc" "${dir}/tmp"
  chmod 1777 "${dir}/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "${dir}/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "${dir}/etc/group"
  printf 'hosts: files dns\n' > "${dir}/etc/nsswitch.conf"
}

# image_context SHORT DIR: write the Dockerfile and files of one image into DIR.
image_context() {
  local short=$1 dir=$2
  case "${short}" in
    kube-apiserver|kube-controller-manager|kube-scheduler|etcd)
      # Control-plane binaries are glibc (bookworm) builds: FROM scratch plus exactly their libraries.
      local src="${SIM_BIN}/${short}"
      mkdir -p "${dir}/root/usr/local/bin"
      cp "${src}" "${dir}/root/usr/local/bin/${short}"
      [[ ${short} == etcd ]] && cp "${BIN}/etcdctl" "${BIN}/etcdutl" "${dir}/root/usr/local/bin/"
      glibc_layer "${dir}/root" "${src}"
      cat > "${dir}/Dockerfile" <<EOF
FROM scratch
COPY root/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENTRYPOINT ["/usr/local/bin/${short}"]
EOF
      ;;
    kube-proxy|kube-router)
      # iptables, ipset and conntrack from Debian (both use the nf_tables backend, like the node).
      local src="${BIN}/kube-proxy"; [[ ${short} == kube-router ]] && src="${WORK}/kube-router"
      cp "${src}" "${dir}/${short}"
      cat > "${dir}/Dockerfile" <<EOF
FROM ${BASE_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      iptables ipset conntrack iproute2 kmod >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY ${short} /usr/local/bin/${short}
ENTRYPOINT ["/usr/local/bin/${short}"]
EOF
      ;;
    coredns)
      cp "${WORK}/coredns" "${dir}/coredns"
      printf 'FROM scratch\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]\n' > "${dir}/Dockerfile"
      ;;
    pause)
      cp "${WORK}/pause" "${dir}/pause"
      printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "${dir}/Dockerfile"
      ;;
  esac
}

image_inputs() {  # the files an image is built from (its stamp hashes them)
  case "$1" in
    kube-apiserver|kube-controller-manager|kube-scheduler) echo "${SIM_BIN}/$1" ;;
    etcd) echo "${SIM_BIN}/etcd ${BIN}/etcdctl ${BIN}/etcdutl" ;;
    kube-proxy) echo "${BIN}/kube-proxy" ;;
    kube-router) echo "${WORK}/kube-router" ;;
    coredns) echo "${WORK}/coredns" ;;
    pause) echo "${WORK}/pause" ;;
  esac
}

# The image recipe is this script's image section: hash the function bodies, not the whole file, so an edit
# elsewhere does not rebuild the images.
IMAGE_RECIPE=$(declare -f glibc_layer image_context; echo "${BASE_IMAGE} $(docker image inspect --format '{{.Id}}' "${BASE_IMAGE}")")
for short in "${IMAGE_ORDER[@]}"; do
  name="${IMAGE_NAME[${short}]}"
  # shellcheck disable=SC2046
  key="image ${name} $(cat $(image_inputs "${short}") | sha256sum | cut -c1-16) $(echo "${IMAGE_RECIPE}" | sha256sum | cut -c1-16)"
  if STAMP_DIR="${IMAGES}" stamp_ok "${short}" "${key}" "${short}.tar"; then
    CACHED+=("image ${name}"); continue
  fi
  build_image() {
    local ctx; ctx=$(mktemp -d "${NODE}/.ctx.XXXXXX")
    image_context "${short}" "${ctx}"
    docker build -q --label "mss.recipe=${key##* }" -t "${name}" "${ctx}" >/dev/null
    rm -rf "${ctx}"
    docker save -o "${IMAGES}/${short}.tar.tmp" "${name}"
    mv -f "${IMAGES}/${short}.tar.tmp" "${IMAGES}/${short}.tar"
    echo "${key}" > "${IMAGES}/.stamp-${short}"
  }
  timed "image ${name}" build_image
done

# --- bundle.yml: what the role's offline mode reads (rewritten only when its content changes) ------------
write_bundle() {
  local f
  echo "---"
  echo "# Offline bundle of a Kubernetes node, written by tests/k8s-node/build.sh. Do not edit."
  echo "k8s_bundle_kubernetes_version: ${KUBE_VERSION}"
  echo "k8s_bundle_containerd_version: ${CONTAINERD_VERSION}"
  echo "k8s_bundle_crictl_version: ${CRI_TOOLS_VERSION}"
  echo "k8s_bundle_etcd_version: ${ETCD_VERSION}"
  echo "k8s_bundle_etcd_image_tag: \"${ETCD_TAG}\""
  echo "k8s_bundle_coredns_image_tag: ${COREDNS_VERSION}"
  echo "k8s_bundle_pause_image: \"${IMAGE_NAME[pause]}\""
  echo "k8s_bundle_cni: kube-router"
  echo "k8s_bundle_cni_version: ${KUBE_ROUTER_VERSION}"
  echo "k8s_bundle_images:"
  echo "  apiserver: \"${IMAGE_NAME[kube-apiserver]}\""
  echo "  controller_manager: \"${IMAGE_NAME[kube-controller-manager]}\""
  echo "  scheduler: \"${IMAGE_NAME[kube-scheduler]}\""
  echo "  proxy: \"${IMAGE_NAME[kube-proxy]}\""
  echo "  etcd: \"${IMAGE_NAME[etcd]}\""
  echo "  coredns: \"${IMAGE_NAME[coredns]}\""
  echo "  pause: \"${IMAGE_NAME[pause]}\""
  echo "  cni: \"${IMAGE_NAME[kube-router]}\""
  echo "k8s_bundle_image_files:"
  for short in "${IMAGE_ORDER[@]}"; do
    echo "  - {name: \"${IMAGE_NAME[${short}]}\", path: images/${short}.tar}"
  done
  echo "k8s_bundle_files:"
  (cd "${NODE}" && for f in bin/* images/*.tar; do
    echo "  - {path: ${f}, sha256: $(sha256sum "${f}" | cut -d' ' -f1)}"
  done)
}
chmod 0644 "${IMAGES}"/*.tar   # docker save writes 0600; the bundle is read by whoever runs the role
NODE_BINS=(kubelet kubeadm kube-proxy kubectl crictl containerd containerd-shim-runc-v2 ctr etcdctl etcdutl)
for b in "${NODE_BINS[@]}"; do [[ -x "${BIN}/${b}" ]] || { echo "k8s-node build: ${BIN}/${b} missing" >&2; exit 1; }; done
# bundle.yml depends only on the pieces' stamps (the sha256 of 1.5 GB is not recomputed when none changed).
key="bundle $(cat "${BIN}"/.stamp-* "${WORK}"/.stamp-* "${IMAGES}"/.stamp-* | sha256sum | cut -c1-16) $(declare -f write_bundle | sha256sum | cut -c1-16)"
if STAMP_DIR="${NODE}" stamp_ok bundle "${key}" bundle.yml; then
  CACHED+=("bundle.yml")
else
  write_bundle > "${NODE}/bundle.yml.tmp"
  mv -f "${NODE}/bundle.yml.tmp" "${NODE}/bundle.yml"
  echo "${key}" > "${NODE}/.stamp-bundle"
  log "wrote ${NODE}/bundle.yml"
fi

for c in "${CACHED[@]}"; do log "cached ${c}"; done
log "done in $(( $(date +%s) - T0 ))s: ${#BUILT[@]} built, ${#CACHED[@]} cached; bundle in ${NODE} (linked from .cache/k8s-node)"
