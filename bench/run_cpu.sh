#!/usr/bin/env bash
# dasnet against PyTorch on the CPU, same model, batch, image size and thread count, in one run.
# Each configuration runs in its own process so peak memory (max RSS) is its own.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for both engines (they pin OpenBLAS to its
# AVX2 kernels on these machines); tests and CI leave them alone.
# Usage: bench/run_cpu.sh [steps] ; DEPTHS="8 14 32" BATCH=128 SIZE=200 THREADS=<nproc>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-3}
depths=${DEPTHS:-"8 14 32"}
batch=${BATCH:-128}
size=${SIZE:-200}
threads=${THREADS:-$(nproc)}
bench="$root/build/bench_train"
[ -x "$bench" ] || "$root/scripts/build.sh"
python3 -c "import torch" 2>/dev/null || python3 -m pip install -q torch
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads" "$@"; }
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB; $(date -u +%F)"
printf '%-6s %-6s %-6s %12s %12s %7s %10s %10s %7s\n' mode depth batch dasnet_sps torch_sps ratio dasnet_MB torch_MB mem
last=""
for mode in train infer; do
  for depth in $depths; do
    d=$(run "$bench" --mode $mode --depth $depth --batch $batch --size $size --steps $steps)
    t=$(run python3 "$root/bench/torch_train.py" --mode $mode --depth $depth --batch $batch --size $size --steps $steps --threads $threads)
    line=$(python3 - "$d" "$t" <<'PY'
import json, sys
d, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{d['mode']:<6} {d['depth']:<6} {d['batch']:<6} {d['samples_per_s']:12.2f} {t['samples_per_s']:12.2f} "
      f"{d['samples_per_s']/t['samples_per_s']:7.2f} {d['peak_mb']:10.0f} {t['peak_mb']:10.0f} {d['peak_mb']/t['peak_mb']:7.2f}")
PY
)
    echo "$line"
    if [ "$mode" = train ] && [ "$depth" = 14 ]; then last="$d|$t"; fi
  done
done
if [ -n "$last" ]; then
  python3 - "${last%%|*}" "${last##*|}" <<'PY'
import json, sys
d, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"peak_memory_mb depth=14 batch={d['batch']} dasnet={d['peak_mb']:.0f} torch={t['peak_mb']:.0f} ratio={d['peak_mb']/t['peak_mb']:.2f}")
print(f"train_samples_per_s dasnet={d['samples_per_s']:.2f} torch={t['samples_per_s']:.2f} ratio={d['samples_per_s']/t['samples_per_s']:.2f}")
PY
fi
