# Build helpers shared by tests/k8s-sim/build.sh and tests/k8s-node/build.sh (sourced, not executed).
# The caller sets BIN (where stamps and binaries live, unless STAMP_DIR says otherwise), defines log(), and calls
# go_build_setup, which sets the Go environment and build flags (part of every stamp) and the BUILT/CACHED lists.
# shellcheck shell=bash

# go_build_setup WHO: refuse without go; the flags every build (and its stamp) uses; start the clock and the lists.
go_build_setup() {
  command -v go >/dev/null || { echo "$1: go is not on PATH" >&2; exit 1; }
  export GOFLAGS="-trimpath -buildvcs=false"
  export GOTOOLCHAIN=local
  declare -g LDFLAGS_BASE="-s -w"
  declare -g T0
  T0=$(date +%s)
  declare -ga BUILT=() CACHED=()
}

# stamp_ok NAME KEY [FILE...]: true when ${STAMP_DIR:-$BIN}/.stamp-NAME records KEY and every FILE (relative
# to that directory) exists: binaries must be executable, other files (*.tar, *.yml) non-empty.
stamp_ok() {
  local name=$1 key=$2 dir=${STAMP_DIR:-${BIN}}; shift 2
  [[ -f "${dir}/.stamp-${name}" ]] && [[ "$(cat "${dir}/.stamp-${name}")" == "${key}" ]] || return 1
  local f
  for f in "$@"; do
    case "${f}" in
      *.tar|*.yml) [[ -s "${dir}/${f}" ]] || return 1 ;;
      *) [[ -x "${dir}/${f}" ]] || return 1 ;;
    esac
  done
}

recipe_hash() {  # hash of the files that define a build, plus the build flags
  { cat "$@"; echo "${LDFLAGS_BASE} ${GOFLAGS}"; } | sha256sum | cut -c1-16
}

require_pin() {  # require_pin GOMOD MODULE VERSION: the go.mod must require exactly that version
  local gomod=$1 mod=$2 ver=$3
  if ! grep -Eq "^[[:space:]]*(require[[:space:]]+)?${mod//./\\.}[[:space:]]+${ver//./\\.}([[:space:]]|$)" "${gomod}"; then
    echo "$(basename "$0"): ${gomod} does not require ${mod} ${ver} (versions.env and go.mod disagree)" >&2
    exit 1
  fi
}

timed() {  # timed LABEL CMD...: run CMD, print its duration
  local label=$1 s; shift
  s=$(date +%s)
  "$@"
  log "built ${label} in $(( $(date +%s) - s ))s"
  BUILT+=("${label}")
}
