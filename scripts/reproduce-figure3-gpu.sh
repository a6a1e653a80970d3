#!/usr/bin/env bash
# Figure 3 / Table 1 of the study at its own scale on a GPU node: 1,000 images per class of
# 200 x 200 patches, the 36 trials of sweep/examples/study_figure3.toml (depth {2..32} x lr
# {0.001..0.5}, 40 epochs, batch 128), one trial per GPU at a time, then Table 1 and report.html.
# Needs a CUDA build (the toolkit and cuDNN where scripts/build.sh runs). Rerunning continues
# where it stopped (the ledger keeps the trials; existing records and data are kept).
# GPUS: GPUs to use (default: all that nvidia-smi lists). WORK: folder (default build/figure3-gpu).
# DRY_RUN=1: make the data, then list the trials and their commands without training.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" dasnet  # the command only: no tests or benchmarks
dasnet="$root/build/dasnet"
work=${WORK:-$root/build/figure3-gpu}
gpus=${GPUS:-$( (nvidia-smi --list-gpus 2>/dev/null || true) | wc -l)}
if [ "${DRY_RUN:-0}" != 1 ] && [ "$gpus" -lt 1 ]; then
  echo "reproduce-figure3-gpu: no GPU found (nvidia-smi lists none); set GPUS or use DRY_RUN=1" >&2
  exit 1
fi
mkdir -p "$work/data"
cd "$work"
# One minute of 200 channels per record, as the study's files. Traffic varies from record to
# record (2 to 15 vehicles a minute here): twelve records held 555 noise patches of 200 x 200, so
# thirty are made for the 1,000 needed.
for s in $(seq 1 30); do
  [ -f "data/rec$s.h5" ] || "$dasnet" synth --channels 200 --duration 60 --vehicles 2 --seed "$s" -o "data/rec$s.h5" -q
done
[ -f data/dataset_1k.h5 ] || "$dasnet" dataset build data/rec*.h5 -o data/dataset_1k.h5 --per-class 1000 \
  --patch-channels 200 --patch-samples 200 -q
[ -f data/references.h5 ] || "$dasnet" dataset reference -o data/references.h5
cp "$root/sweep/examples/study_figure3.toml" .
if [ "${DRY_RUN:-0}" = 1 ]; then
  "$dasnet" sweep run study_figure3.toml --ledger figure3.db --dry-run
  exit 0
fi
"$dasnet" sweep run study_figure3.toml --ledger figure3.db --parallel "$gpus" --gpus "$gpus"
"$dasnet" select --ledger figure3.db --all --top 20 --csv table1.csv
"$dasnet" report --ledger figure3.db -o figure3_report
echo "Table 1 above (and table1.csv); figures and the page: $work/figure3_report/report.html"
