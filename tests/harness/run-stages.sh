#!/usr/bin/env bash
# Run each `make test` stage (lint, sanity, ...) even when an earlier one fails, time it, and end with
# a table and the closing line "N passed, N failed". Exit status: 0 only if every stage passed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
passed=0; failed=0; rows=()
for stage in "$@"; do
  echo "::: stage $stage"
  start=$(date +%s)
  if make -C "$top" --no-print-directory "$stage"; then
    result=passed; passed=$((passed + 1))
  else
    result=FAILED; failed=$((failed + 1))
  fi
  secs=$(( $(date +%s) - start ))
  rows+=("$(printf '%-12s %-7s %5ss' "$stage" "$result" "$secs")")
  echo "::: stage $stage $result in ${secs}s"
done
echo
echo "stage        result   time"
printf '%s\n' "${rows[@]}"
echo
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
