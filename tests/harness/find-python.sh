#!/usr/bin/env bash
# Print the newest usable CPython for the control-node venv: 3.13, then 3.12 (ansible-core 2.20+),
# else python3 (3.11: the venv then gets the ansible-core 2.19 pins). pyenv shims that cannot run are skipped.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
candidates=()
for v in 3.13 3.12; do
  candidates+=("python$v")
  for root in "${PYENV_ROOT:-$HOME/.pyenv}" /usr/local /usr; do
    for p in "$root"/versions/"$v"*/bin/python"$v" "$root"/bin/python"$v"; do
      [ -x "$p" ] && candidates+=("$p")
    done
  done
done
candidates+=(python3)
for c in "${candidates[@]}"; do
  # A venv's python (ours included, when it is on PATH) reports the interpreter it was made from.
  if out=$("$c" -c 'import sys, venv, ensurepip; print(getattr(sys, "_base_executable", sys.executable))' 2>/dev/null); then
    case "$out" in "$top"/*) continue ;; esac
    echo "$out"
    exit 0
  fi
done
echo "find-python: no usable python3 found" >&2
exit 1
