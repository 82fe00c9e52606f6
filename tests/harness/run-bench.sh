#!/usr/bin/env bash
# `make bench`: run every benchmark under bench/ (each writes bench/results/<name>.json and .md), then
# print the markdown tables. A benchmark that fails is reported and the others still run.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
mkdir -p bench/results
only=${BENCH:-}
failed=0
for b in bench/*.py; do
  name=$(basename "$b" .py)
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
  echo "=== bench $name"
  if ! python "$b"; then
    echo "bench $name FAILED"; failed=$((failed + 1))
  fi
done
echo
for md in bench/results/*.md; do
  [ -e "$md" ] && { cat "$md"; echo; }
done
[ "$failed" -eq 0 ]
