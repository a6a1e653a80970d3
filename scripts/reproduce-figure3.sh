#!/usr/bin/env bash
# Figure 3 / Table 1 of the study at reduced scale on a 2-core CPU, end to end: install what is
# missing, build, make four synthetic records and a data set of 300 images per class (40 x 200
# patches), run the 12-trial grid of sweep/examples/cpu_reduced.toml (depth {2, 8, 14} x lr
# {0.001, 0.01, 0.1, 0.5}, 12 epochs), then Table 1 (dasnet select) and the figures with
# report.html (dasnet report). Rerunning continues where it stopped (the ledger keeps the trials).
# WORK overrides the folder (default build/figure3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" dasnet  # the command only: no tests or benchmarks
dasnet="$root/build/dasnet"
work=${WORK:-$root/build/figure3}
mkdir -p "$work/cpu_data"
cd "$work"
# Two vehicles a minute leave quiet stretches: `dasnet label` finds 645 noise and 1,281 waves
# patches in these four records (six a minute, as before, left 191 noise patches in four records
# and no more in seven).
for s in 1 2 3 4; do
  [ -f "cpu_data/rec$s.h5" ] || "$dasnet" synth --channels 200 --duration 60 --vehicles 2 --seed "$s" -o "cpu_data/rec$s.h5" -q
done
[ -f cpu_data/dataset.h5 ] || "$dasnet" dataset build cpu_data/rec*.h5 -o cpu_data/dataset.h5 --per-class 300 \
  --patch-channels 40 --patch-samples 200 -q
[ -f cpu_data/references.h5 ] || "$dasnet" dataset reference -o cpu_data/references.h5 --patch-channels 40 --patch-samples 200
cp "$root/sweep/examples/cpu_reduced.toml" .
"$dasnet" sweep run cpu_reduced.toml --ledger cpu.db --parallel 2 --threads 1
"$dasnet" select --ledger cpu.db --all --top 20
"$dasnet" report --ledger cpu.db -o cpu_report
echo "Table 1 above; figures and the page: $work/cpu_report/report.html"
