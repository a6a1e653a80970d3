#!/usr/bin/env bash
# Figure 2 of the study on this machine: training throughput measured by `dasnet bench scaling`
# on 1, 2 and 4 CPU ranks (mpirun) over data set sizes x batch sizes, with the cost model's
# predictions for 2-32 V100s beside it, drawn into one page (dasnet report --scaling).
# Needs a build with MPI (scripts/build.sh) and mpirun. More ranks than cores run oversubscribed,
# one thread each: on a 2-core machine the 4-rank row measures sharing, not scaling.
# Environment: WORK (default build/figure2), DEPTHS (14), BATCHES (8,32), SIZES (256,1024),
# IMAGE_SIZE (200, the study's), STEPS (3), RANKS ("1 2 4").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dasnet="$root/build/dasnet"
work=${WORK:-$root/build/figure2}
mkdir -p "$work"
cd "$work"
command -v mpirun >/dev/null || { echo "figure2.sh: mpirun is missing (Debian: openmpi-bin)" >&2; exit 1; }
# Root in a container: Open MPI refuses to run as root unless told.
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=(bench scaling --depths "${DEPTHS:-14}" --batches "${BATCHES:-8,32}" --sizes "${SIZES:-256,1024}"
       --image-size "${IMAGE_SIZE:-200}" --steps "${STEPS:-3}")
rank_counts=${RANKS:-1 2 4}
measured=()
for ranks in $rank_counts; do
  threads=$(( $(nproc) / ranks )); [ "$threads" -lt 1 ] && threads=1
  echo "== $ranks rank(s), $threads thread(s) each"
  mpirun -np "$ranks" --oversubscribe --bind-to none "$dasnet" "${flags[@]}" --threads "$threads" \
    --csv "ranks$ranks.csv" --predictions-csv "predicted$ranks.csv" --markdown "ranks$ranks.md" |
    grep -E "^ranks [0-9]+ depth"
  measured+=("ranks$ranks.csv")
done
# The predictions of the largest run: its link fit comes from the most ranks.
"$dasnet" report --scaling "${measured[@]}" --predictions "predicted${rank_counts##* }.csv" -o report
echo "throughput map, predictions and the measured table: $work/report/report.html"
