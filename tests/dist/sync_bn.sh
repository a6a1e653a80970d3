#!/bin/bash
# dasnet train --sync-bn trains on 2 ranks (CLI level; the numerics are in test_dist_mpi.cpp).
# Usage: sync_bn.sh DASNET MPIRUN WORKDIR
set -euo pipefail
dasnet=$1 mpirun=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
run() { OMP_NUM_THREADS=1 "$mpirun" --allow-run-as-root --oversubscribe --bind-to none "$@"; }
common=(train --depth 8 --image-height 16 --image-width 16 --synthetic-per-class 32 --batch-size 8
        --no-progress --dist-timeout 60 --epochs 2 --sync-bn)
run -np 2 "$dasnet" "${common[@]}" --checkpoint-dir "$work/np2" --metrics "$work/np2.jsonl" \
  > "$work/np2.log" 2>&1 || { cat "$work/np2.log"; exit 1; }
grep -q "data parallel: mpi (2 ranks.*synchronized batchnorm" "$work/np2.log" \
  || { echo "not synchronized:"; cat "$work/np2.log"; exit 1; }
test -f "$work/np2/epoch_0002.h5"
grep -q '"ranks":2' "$work/np2.jsonl"
# One process: the flag is accepted and changes nothing.
"$dasnet" "${common[@]}" > "$work/np1.log" 2>&1 || { cat "$work/np1.log"; exit 1; }
grep -q "^final:" "$work/np1.log"
echo "sync_bn: 2 ranks trained with synchronized batchnorm"
