#!/usr/bin/env bash
# dasnet against PyTorch on the CPU, same model, batch, image size and thread count, in one run.
# Each configuration runs in its own process so peak memory (max RSS) is its own.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for both engines (they pin OpenBLAS to its
# AVX2 kernels on these machines); tests and CI leave them alone.
# ISAS="avx2 avx512" runs dasnet once per ISA (DASNET_CPU_ISA: its blocked layout and oneDNN's
# JIT follow it) against the same PyTorch run; the default is the ISA this CPU has.
# The run closes with, per ISA, the line
#   train_samples_per_s isa=<isa> dasnet=<x> torch=<y> ratio=<x/y>
# for depth 14 (or the first depth given).
# Usage: bench/run_cpu.sh [steps] ; DEPTHS="8 14 32" BATCH=128 SIZE=200 THREADS=<nproc> ISAS=...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-3}
depths=${DEPTHS:-"8 14 32"}
batch=${BATCH:-128}
size=${SIZE:-200}
threads=${THREADS:-$(nproc)}
isas=${ISAS:-native}
bench="$root/build/bench_train"
[ -x "$bench" ] || "$root/scripts/build.sh"
python3 -c "import torch" 2>/dev/null || python3 -m pip install -q torch
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads" "$@"; }
run_dasnet() {  # isa, then bench_train's flags
  local isa=$1; shift
  if [ "$isa" = native ]; then run "$bench" "$@"; else run env DASNET_CPU_ISA="$isa" "$bench" "$@"; fi
}
closing_depth=14
case " $depths " in *" 14 "*) ;; *) closing_depth=${depths%% *} ;; esac
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB; $(date -u '+%F %H:%M UTC')"
printf '%-6s %-6s %-6s %-7s %12s %12s %7s %10s %10s %7s\n' mode depth batch isa dasnet_sps torch_sps ratio dasnet_MB torch_MB mem
closing=()
for mode in train infer; do
  for depth in $depths; do
    t=$(run python3 "$root/bench/torch_train.py" --mode $mode --depth $depth --batch $batch --size $size --steps $steps --threads $threads)
    for isa in $isas; do
      d=$(run_dasnet "$isa" --mode $mode --depth $depth --batch $batch --size $size --steps $steps)
      python3 - "$d" "$t" <<'PY'
import json, sys
d, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{d['mode']:<6} {d['depth']:<6} {d['batch']:<6} {d['isa']:<7} {d['samples_per_s']:12.2f} {t['samples_per_s']:12.2f} "
      f"{d['samples_per_s']/t['samples_per_s']:7.2f} {d['peak_mb']:10.0f} {t['peak_mb']:10.0f} {d['peak_mb']/t['peak_mb']:7.2f}")
PY
      if [ "$mode" = train ] && [ "$depth" = "$closing_depth" ]; then closing+=("$d|$t"); fi
    done
  done
done
for pair in "${closing[@]}"; do
  python3 - "${pair%%|*}" "${pair##*|}" <<'PY'
import json, sys
d, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"peak_memory_mb isa={d['isa']} depth={d['depth']} batch={d['batch']} dasnet={d['peak_mb']:.0f} torch={t['peak_mb']:.0f} "
      f"ratio={d['peak_mb']/t['peak_mb']:.2f}")
print(f"train_samples_per_s isa={d['isa']} dasnet={d['samples_per_s']:.2f} torch={t['samples_per_s']:.2f} "
      f"ratio={d['samples_per_s']/t['samples_per_s']:.2f}")
PY
done
