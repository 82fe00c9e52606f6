#!/usr/bin/env bash
# `make molecule`: run `molecule test -s S` for every scenario given, MOLECULE_JOBS at a time (default 2: one per
# core; scenarios spend most of their time in package installs, boots and timed waits, so two overlap well).
# Each scenario has its own containers and network (mss-<scenario>), so concurrent scenarios never meet.
# Output of each scenario goes to its own log, printed whole when it ends (never interleaved); the run ends
# with one line per scenario and fails if any scenario failed. Scenarios start in the order given: put the
# longest first.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
jobs=${MOLECULE_JOBS:-2}
logdir=${MOLECULE_LOG_DIR:-$top/.cache/molecule-logs}
mkdir -p "$logdir"
declare -A pid_of=() start_of=()
results=()
failed=0

finish() {  # finish SCENARIO RC
  local s=$1 rc=$2 secs=$(( $(date +%s) - ${start_of[$1]} ))
  echo "=== molecule test -s $s: $( [ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)" ) in ${secs}s"
  sed "s/^/[$s] /" "$logdir/$s.log"
  echo "=== end of molecule test -s $s"
  results+=("$(printf '%-16s %-7s %5ss' "$s" "$( [ "$rc" -eq 0 ] && echo passed || echo FAILED )" "$secs")")
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
}

reap_one() {  # wait for any running scenario, report it
  local s rc
  while :; do
    for s in "${!pid_of[@]}"; do
      if ! kill -0 "${pid_of[$s]}" 2>/dev/null; then
        wait "${pid_of[$s]}"; rc=$?
        unset "pid_of[$s]"
        finish "$s" "$rc"
        return
      fi
    done
    sleep 2
  done
}

for s in "$@"; do
  while [ "${#pid_of[@]}" -ge "$jobs" ]; do reap_one; done
  echo "=== molecule test -s $s: started ($(date -u +%T))"
  start_of[$s]=$(date +%s)
  molecule test -s "$s" >"$logdir/$s.log" 2>&1 &
  pid_of[$s]=$!
done
while [ "${#pid_of[@]}" -gt 0 ]; do reap_one; done

echo
printf '%s\n' "${results[@]}"
echo "molecule: $(( $# - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
