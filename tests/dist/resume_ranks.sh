#!/bin/bash
# A checkpoint written by 2 ranks resumes on 1 and on 3 ranks (CLI level).
# Usage: resume_ranks.sh DASNET MPIRUN WORKDIR
set -euo pipefail
dasnet=$1 mpirun=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
run() { OMP_NUM_THREADS=1 "$mpirun" --allow-run-as-root --oversubscribe --bind-to none "$@"; }
common=(train --depth 8 --image-height 16 --image-width 16 --synthetic-per-class 32 --batch-size 8
        --no-progress --dist-timeout 60)
run -np 2 "$dasnet" "${common[@]}" --epochs 1 --checkpoint-dir "$work/np2" --metrics "$work/np2.jsonl" \
  > "$work/np2.log" 2>&1 || { cat "$work/np2.log"; exit 1; }
grep -q "data parallel: mpi (2 ranks" "$work/np2.log" || { echo "not data parallel:"; cat "$work/np2.log"; exit 1; }
test -f "$work/np2/epoch_0001.h5"
test "$(wc -l < "$work/np2.jsonl")" -eq 1  # only rank 0 writes metrics
grep -q '"ranks":2' "$work/np2.jsonl"
for np in 1 3; do
  run -np $np "$dasnet" "${common[@]}" --epochs 2 --resume "$work/np2/epoch_0001.h5" \
    --checkpoint-dir "$work/np$np" --metrics "$work/np$np.jsonl" > "$work/resume$np.log" 2>&1 \
    || { cat "$work/resume$np.log"; exit 1; }
  test -f "$work/np$np/epoch_0002.h5" || { echo "no epoch 2 checkpoint after resuming on $np ranks"; exit 1; }
  grep -q '"epoch":2' "$work/np$np.jsonl"
  grep -q "\"ranks\":$np" "$work/np$np.jsonl"
  test "$(grep -c '^epoch ' "$work/resume$np.log")" -eq 1  # one rank prints
done
echo "resume_ranks: 2-rank checkpoint resumed on 1 and 3 ranks"
