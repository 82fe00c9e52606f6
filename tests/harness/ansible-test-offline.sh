#!/usr/bin/env bash
# Run ansible-test (sanity or units) in venv mode without ansible-test's download of get-pip.py.
# Usage: ansible-test-offline.sh sanity|units [extra ansible-test args]     (ansible-core of $VENV, default .venv)
#        ansible-test-offline.sh sanity-matrix [SERIES...] [-- extra args]  (sanity on each ansible-core series)
#
# sanity-matrix checks every ansible-core series that meta/runtime.yml's requires_ansible claims (from its floor
# up to the series of .venv; it refuses to run when a claimed series has neither a pin below nor .venv) or the
# SERIES given. .venv's series uses .venv; each older series a small venv of its own with just
# that ansible-core (.cache/sanity-venvs/ansible-core-<pin>, cached like .venv: made once per pin), on the
# Python given below or the next one that exists here. A series whose Pythons are all missing is reported
# "not checked" and makes the run fail when MSS_SANITY_STRICT=1 (CI sets it). The series run at the same time
# when each has a Python of its own (SANITY_PARALLEL=0: one after the other); each output is printed whole.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
collection="$top/collections/ansible_collections/mss/platform"
bundle_venv="$top/.venv"  # holds the `ansible` bundle whose collections our dependencies are linked from

# series -> exact pin and the Pythons to try, first that exists wins (2.19 on 3.11 = the fallback control node)
declare -A CORE_PINS=([2.19]=2.19.14 [2.20]=2.20.10)
declare -A CORE_PYTHONS=([2.19]="3.11 3.12" [2.20]="3.12 3.13")

find_python() {  # find_python 3.12 -> path of a working python3.12, or nothing
  local v=$1 p
  for p in "python$v" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v"*/bin/python"$v" /usr/local/bin/python"$v" \
           /usr/bin/python"$v"; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      command -v "$p"
      return 0
    fi
  done
  return 1
}

link_dependencies() {
  # ansible-test only sees collections in the same tree as ours: link our dependencies (galaxy.yml) in from the
  # bundle in .venv, the same versions the playbooks use. The links are gitignored.
  local site dep ns name link
  site=$("$bundle_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections
  for dep in $("$bundle_venv/bin/python" -c '
import yaml, sys
print(" ".join(yaml.safe_load(open(sys.argv[1])).get("dependencies") or {}))
' "$collection/galaxy.yml"); do
    ns=${dep%%.*}; name=${dep#*.}
    link="$top/collections/ansible_collections/$ns/$name"
    if [ ! -e "$link" ]; then
      mkdir -p "$(dirname "$link")"
      ln -sfn "$site/$ns/$name" "$link"
    fi
  done
}

offline_pip() {  # offline_pip VENV: ansible-test's get-pip.py bootstrap, served from ensurepip's wheel
  local venv=$1 pip_version cache=~/.ansible/test/cache
  pip_version=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
  mkdir -p "$cache"
  cp "$here/get_pip_offline.py" "$cache/get_pip_${pip_version//./_}.py"
}

run_ansible_test() {  # run_ansible_test VENV sanity|units [args]
  local venv=$1 command=$2 py
  shift 2
  py=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  offline_pip "$venv"
  link_dependencies
  (
    cd "$collection"
    export PATH="$venv/bin:$PATH"
    case "$command" in
      sanity) ansible-test sanity --venv --python "$py" --color no "$@" ;;
      units)  ansible-test units --local --python "$py" --color no "$@" ;;
    esac
  )
}

core_venv() {  # core_venv SERIES -> path of a venv with just ansible-core==CORE_PINS[SERIES], made if missing
  local series=$1 pin=${CORE_PINS[$1]} venv py v
  venv="$top/.cache/sanity-venvs/ansible-core-$pin"
  if [ ! -e "$venv/.installed" ]; then
    py=
    for v in ${CORE_PYTHONS[$series]}; do py=$(find_python "$v") && break; done
    [ -n "$py" ] || return 1
    echo "sanity-matrix: creating $venv (ansible-core $pin, $("$py" -V))" >&2
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "ansible-core==$pin" >&2
    touch "$venv/.installed"
  fi
  echo "$venv"
}

claimed_series() {  # the ansible-core series requires_ansible claims, from its floor up to .venv's series
  "$bundle_venv/bin/python" - "$collection/meta/runtime.yml" <<'PY'
import sys, yaml
import ansible.release
spec = yaml.safe_load(open(sys.argv[1]))["requires_ansible"]
floor = [int(x) for x in spec.replace(">=", "").split(",")[0].strip().split(".")[:2]]
top = [int(x) for x in ansible.release.__version__.split(".")[:2]]
if "<" in spec:
    sys.exit("requires_ansible %r has an upper bound: list its series by hand" % spec)
out = []
minor = floor[1]
while [floor[0], minor] <= top:
    out.append("%d.%d" % (floor[0], minor))
    minor += 1
print(" ".join(out))
PY
}

sanity_matrix() {
  local newest wanted=() extra=() claimed s venv rc=0 summary=() series=() venvs=() pys=() logs i parallel=1
  newest=$("$bundle_venv/bin/python" -c 'import ansible.release as r; print(".".join(r.__version__.split(".")[:2]))')
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
    wanted+=("$1"); shift
  done
  claimed=$(claimed_series)
  if [ ${#wanted[@]} -eq 0 ]; then
    for s in $claimed; do
      if [ "$s" != "$newest" ] && [ -z "${CORE_PINS[$s]:-}" ]; then
        echo "sanity-matrix: requires_ansible claims ansible-core $s but no pin is set for it here" >&2
        exit 2
      fi
    done
    read -r -a wanted <<<"$claimed"
  fi
  # 1. a venv per series (made once, then cached)
  for s in "${wanted[@]}"; do
    if [ "$s" = "$newest" ]; then
      venv=$bundle_venv
    elif [ -n "${CORE_PINS[$s]:-}" ]; then
      if ! venv=$(core_venv "$s"); then
        echo "=== ansible-core $s: NOT CHECKED (none of python${CORE_PYTHONS[$s]// /, python} exists here)"
        summary+=("$s not checked (no Python)")
        [ "${MSS_SANITY_STRICT:-0}" = 1 ] && rc=1
        continue
      fi
    else
      echo "sanity-matrix: no venv for ansible-core $s (newest here: $newest; pins: ${!CORE_PINS[*]})" >&2
      exit 2
    fi
    series+=("$s"); venvs+=("$venv")
    pys+=("$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')")
  done
  # 2. the runs: at the same time when each series has a Python of its own (ansible-test keeps its delegation
  # venv per Python version under tests/output/.tmp), else one after the other; SANITY_PARALLEL=0 forces the latter
  [ "$(printf '%s\n' "${pys[@]}" | sort -u | wc -l)" -eq "${#pys[@]}" ] || parallel=0
  [ "${SANITY_PARALLEL:-1}" = 1 ] || parallel=0
  link_dependencies
  logs=$(mktemp -d)
  for i in "${!series[@]}"; do
    (
      started=$SECONDS
      echo "=== ansible-test sanity, ansible-core $("${venvs[$i]}/bin/python" -c 'import ansible.release as r; print(r.__version__)'), Python ${pys[$i]}"
      if run_ansible_test "${venvs[$i]}" sanity "${extra[@]}"; then
        echo "${series[$i]} passed ($((SECONDS - started)) s)" >"$logs/$i.result"
      else
        echo "${series[$i]} FAILED ($((SECONDS - started)) s)" >"$logs/$i.result"
      fi
    ) >"$logs/$i.log" 2>&1 &
    if [ "$parallel" = 0 ]; then wait $! || true; cat "$logs/$i.log"; fi
  done
  wait
  for i in "${!series[@]}"; do
    [ "$parallel" = 0 ] || cat "$logs/$i.log"
    summary+=("$(cat "$logs/$i.result" 2>/dev/null || echo "${series[$i]} FAILED (no result)")")
    grep -q ' passed ' "$logs/$i.result" 2>/dev/null || rc=1
  done
  rm -rf "$logs"
  printf 'sanity-matrix: %s\n' "${summary[@]}"
  return $rc
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  sanity|units) run_ansible_test "${VENV:-$top/.venv}" "$command" "$@" ;;
  sanity-matrix) sanity_matrix "$@" ;;
  *) echo "usage: $0 sanity|units [args] | sanity-matrix [SERIES...] [-- args]" >&2; exit 2 ;;
esac
