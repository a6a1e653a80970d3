#!/bin/bash
# dasnet infer and dasnet sweep run under mpirun.
#   infer: 3 small synthetic records on 2 ranks give the same maps as one process, two records
#          of one name from two folders get a map each, and a bad file makes the job exit
#          non-zero with the file named while the other maps are written.
#   sweep: 4 tiny trials on 3 ranks (rank 0 keeps the ledger, 2 workers): every trial complete,
#          run exactly once, with all its epochs in the ledger.
# Usage: infer_and_sweep_ranks.sh DASNET MPIRUN WORKDIR
set -euo pipefail
dasnet=$1 mpirun=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
mpi=("$mpirun" --allow-run-as-root --oversubscribe --bind-to none)
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }

# --- infer -------------------------------------------------------------------------------
for s in 1 2 3; do "$dasnet" synth --channels $((24 + 8 * s)) --duration $((2 + s)) --seed $s -o rec$s.h5 -q; done
"$dasnet" train --depth 2 --epochs 1 --batch-size 16 --synthetic-per-class 32 --image-height 16 --image-width 16 \
  --checkpoint-dir ck --no-progress --threads 1 > train.log 2>&1 || { cat train.log; fail "train"; }
"$dasnet" infer ck/epoch_0001.h5 rec1.h5 rec2.h5 rec3.h5 -o single --stride 8 --no-progress --no-png --threads 1 \
  > infer_single.log 2>&1 || { cat infer_single.log; fail "single-process infer"; }
"${mpi[@]}" -np 2 "$dasnet" infer ck/epoch_0001.h5 rec1.h5 rec2.h5 rec3.h5 -o ranks --stride 8 --no-progress \
  --no-png --threads 1 > infer_ranks.log 2>&1 || { cat infer_ranks.log; fail "2-rank infer"; }
grep -q "rank 0: " infer_ranks.log && grep -q "rank 1: " infer_ranks.log || { cat infer_ranks.log; fail "files not dealt to both ranks"; }
grep -q "^total: .* (2 ranks" infer_ranks.log || { cat infer_ranks.log; fail "no 2-rank total line"; }
for s in 1 2 3; do
  cmp <(h5dump -d /p_usable "single/rec$s.pmap.h5" | tail -n +3) <(h5dump -d /p_usable "ranks/rec$s.pmap.h5" | tail -n +3) \
    || fail "rec$s: the 2-rank map differs from the single-process map"
done
echo "infer: 3 maps on 2 ranks equal the single-process maps"

# Records of one name from two folders (issue 15.6): each rank writes its own map, none over another's.
mkdir -p site_a site_b && cp rec1.h5 site_a/rec.h5 && cp rec2.h5 site_b/rec.h5
"${mpi[@]}" -np 2 "$dasnet" infer ck/epoch_0001.h5 site_a/rec.h5 site_b/rec.h5 -o same_name --stride 8 --no-progress \
  --no-png --threads 1 > infer_same_name.log 2>&1 || { cat infer_same_name.log; fail "2-rank infer of a/rec.h5 b/rec.h5"; }
for pair in "site_a 1" "site_b 2"; do
  set -- $pair
  cmp <(h5dump -d /p_usable "same_name/$1/rec.pmap.h5" | tail -n +3) <(h5dump -d /p_usable "single/rec$2.pmap.h5" | tail -n +3) \
    || fail "same_name/$1/rec.pmap.h5 is not the map of $1/rec.h5"
done
echo "infer: records of one name from two folders get a map each on 2 ranks"

echo "not a DAS record" > broken.h5
set +e
timeout 120 "${mpi[@]}" -np 2 "$dasnet" infer ck/epoch_0001.h5 rec1.h5 broken.h5 rec3.h5 -o with_broken --stride 8 \
  --no-progress --no-png --threads 1 > infer_broken.log 2>&1
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat infer_broken.log; fail "broken file: exit $rc (expected a prompt non-zero exit)"; }
grep -q "broken.h5" infer_broken.log || { cat infer_broken.log; fail "the failing file is not named"; }
[ -f with_broken/rec1.pmap.h5 ] && [ -f with_broken/rec3.pmap.h5 ] || { cat infer_broken.log; fail "good files lost"; }
echo "infer: a broken file ends the 2-rank job with exit $rc naming it; the other maps were written"

# --- sweep -------------------------------------------------------------------------------
cat > tiny.toml <<'TOML'
[sweep]
name = "mpi_tiny"
[space]
depth = [2, 8]
lr = [0.01, 0.1]
batch_size = [32]
images_per_class = [32]
epochs = [2]
[data]
image_height = 16
image_width = 16
[run]
threads = 1
heartbeat_timeout_s = 60
TOML
"${mpi[@]}" -np 3 "$dasnet" sweep run tiny.toml --ledger tiny.db --no-progress > sweep.log 2>&1 \
  || { cat sweep.log; fail "3-rank sweep"; }
grep -q "2 worker ranks" sweep.log || { cat sweep.log; fail "not a 3-rank sweep"; }
q() { sqlite3 tiny.db "$1"; }
[ "$(q "SELECT COUNT(*) FROM trials")" = 4 ] || fail "expected 4 trials"
[ "$(q "SELECT COUNT(*) FROM trials WHERE state = 'complete' AND attempts = 1")" = 4 ] \
  || { q "SELECT id, state, attempts, message FROM trials"; fail "not every trial completed exactly once"; }
[ "$(q "SELECT COUNT(*) FROM epochs")" = 8 ] || fail "expected 2 epochs x 4 trials in the ledger"
[ "$(q "SELECT COUNT(*) FROM trials WHERE epochs_done != 2")" = 0 ] || fail "epochs_done disagrees with the epochs"
for d in tiny.db.runs/trial_0000{1,2,3,4}; do
  [ "$(grep -c '=== attempt' "$d/train.log")" = 1 ] || fail "$d: trained more than once"
done
[ "$(q "SELECT COUNT(DISTINCT owner_pid) FROM trials")" -ge 1 ] || fail "no owner recorded"
echo "sweep: 4 trials on 3 ranks, each complete after exactly one attempt, 8 epochs in the ledger"
"$dasnet" sweep status --ledger tiny.db | tail -1
