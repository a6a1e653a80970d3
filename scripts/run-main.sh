#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build, then train the
# study's best configuration (ResNet-14, batch 128, lr 0.001, grayscale, K = 2) on a data set
# cut from a synthetic DAS record, printing per-epoch metrics, P(usable) of the four reference
# images, and the final accuracy; then a usable-energy map and one HTML page of the run
# (dasnet report --metrics). EPOCHS, PER_CLASS, BN_RECALIBRATE and WORK override the defaults.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" dasnet  # the command only: no tests or benchmarks
dasnet="$root/build/dasnet"
work=${WORK:-$root/build/main-job}
# 8 epochs of 6 steps, ~50 s each on 2 cores. Precise batchnorm (--bn-recalibrate 2: the
# statistics recomputed over two training batches before each evaluation) makes validation
# meaningful from the first epoch; with the momentum statistics alone (BN_RECALIBRATE=0, the
# study's PyTorch behaviour) they need 60-70 steps to forget their initial values.
epochs=${EPOCHS:-8}
bn_recalibrate=${BN_RECALIBRATE:-2}
per_class=${PER_CLASS:-500}
mkdir -p "$work"
[ -f "$work/record.h5" ] || "$dasnet" synth --channels 400 --duration 900 --vehicles 4 --seed 1 -o "$work/record.h5"
[ -f "$work/dataset.h5" ] || "$dasnet" dataset build "$work/record.h5" --per-class "$per_class" --seed 1 -o "$work/dataset.h5"
[ -f "$work/reference.h5" ] || "$dasnet" dataset reference -o "$work/reference.h5"
"$dasnet" train --data "$work/dataset.h5" --reference "$work/reference.h5" \
  --depth 14 --batch-size 128 --lr 0.001 --outputs 2 --epochs "$epochs" --bn-recalibrate "$bn_recalibrate" \
  --metrics "$work/metrics.jsonl" --checkpoint-dir "$work/checkpoints"
final="$work/checkpoints/epoch_$(printf %04d "$epochs").h5"
"$dasnet" eval --checkpoint "$final" --data "$work/dataset.h5" --split test
# The final model's usable-energy map of two minutes of a record it never saw (another seed),
# and one page with the curves, the references per epoch, Table 1 and the map.
[ -f "$work/map_record.h5" ] || "$dasnet" synth --channels 400 --duration 120 --vehicles 2 --seed 2 -o "$work/map_record.h5"
"$dasnet" infer "$final" "$work/map_record.h5" -o "$work/maps" --no-progress
"$dasnet" report --metrics "$work/metrics.jsonl" --reference "$work/reference.h5" \
  --map "$work/maps/map_record.pmap.h5" -o "$work/summary"
echo "checkpoints: $work/checkpoints  metrics: $work/metrics.jsonl  page: $work/summary/summary.html"
