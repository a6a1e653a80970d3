#!/bin/bash
# A rank that dies (SIGKILL) or hangs (SIGSTOP) ends the whole job with a clear error within 60 s.
# Usage: rank_failure.sh DASNET MPIRUN WORKDIR
set -uo pipefail
dasnet=$1 mpirun=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
args=(train --depth 8 --image-height 16 --image-width 16 --synthetic-per-class 256 --batch-size 4
      --epochs 1000 --no-progress --dist-timeout 10)

check_case() {  # signal, expected text in the output
  local signal=$1 expected=$2 log="$work/$1.log"
  OMP_NUM_THREADS=1 "$mpirun" --allow-run-as-root --oversubscribe --bind-to none -np 2 "$dasnet" "${args[@]}" \
    > "$log" 2>&1 &
  local launcher=$!
  # Wait until training runs, then hit rank 1 (the launcher's second child).
  for _ in $(seq 1 100); do grep -q "^epoch " "$log" && break; sleep 0.3; done
  local victim
  victim=$(pgrep -P "$launcher" -f "$dasnet" | sort -n | tail -1)
  [ -n "$victim" ] || { echo "no rank process found"; kill "$launcher"; cat "$log"; return 1; }
  local start=$SECONDS
  kill -"$signal" "$victim"
  local waited=0
  while kill -0 "$launcher" 2>/dev/null; do
    sleep 1; waited=$((SECONDS - start))
    if [ $waited -gt 60 ]; then echo "$signal: job still running after 60 s"; kill -KILL "$launcher"; cat "$log"; return 1; fi
  done
  wait "$launcher"; local rc=$?
  [ $rc -ne 0 ] || { echo "$signal: job exited 0"; cat "$log"; return 1; }
  grep -qi "$expected" "$log" || { echo "$signal: no '$expected' in the output:"; cat "$log"; return 1; }
  echo "$signal: job ended with exit $rc after $waited s"
}
check_case KILL "exited on signal\|killed\|aborting" || exit 1
check_case STOP "another rank died or hangs" || exit 1
