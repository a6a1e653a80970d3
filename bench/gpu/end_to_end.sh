#!/usr/bin/env bash
# The dasnet command end to end on the GPU box (one H200, no network), in about 4 minutes (an
# estimate): build dasnet (HDF5 is there; SQLite and toml++ come from .gpu-deps/prefix, see
# stage_deps.sh), synthetic records -> data set -> `dasnet train --backend cuda` (fp32 with
# and without CUDA graphs, bf16, fp32 with precise batchnorm) -> eval -> `dasnet infer --backend cuda` against the CPU's map
# of the same record; then the CUDA tests.
# Not yet run on a GPU (written 2026-12-04; the session's device loan ended before it): its CPU-side
# commands and the configure step with the carried prefix were checked on the development machine.
# Before the call, here: bench/gpu/stage_deps.sh; call: bash bench/gpu/end_to_end.sh with carry
# [".gpu-deps"]. OUT (if set) receives the log, the metrics and the maps' comparison.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUTDIR=${OUT:-$ROOT/build-gpu-full}
mkdir -p "$OUTDIR"
START=$(date +%s)
say() { echo "[$(( $(date +%s) - START ))s] $*"; }
step() {  # label, command...: runs it, prints its time and exit status; returns the status
  local label=$1 t0 rc; shift
  t0=$(date +%s)
  "$@"
  rc=$?
  say "$label: rc=$rc in $(( $(date +%s) - t0 )) s"
  return $rc
}
source "$(dirname "$0")/cuda_libs.sh"
PREFIX=$ROOT/.gpu-deps/prefix
export LD_LIBRARY_PATH=$PREFIX/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
# The box's own libsqlite3.so.0 (Python's) where it has one, else the carried static library.
SQLITE=/usr/lib/x86_64-linux-gnu/libsqlite3.so.0
LINK_EXTRA=""
[ -e "$SQLITE" ] || { SQLITE=$PREFIX/lib/libsqlite3.a; LINK_EXTRA="-ldl -lpthread -lm"; }
CMAKE_ARGS=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${CHECK_CUDA_ARCHITECTURES:-native}"
            -DDASNET_WITH_MPI=OFF -DDASNET_FUZZ=OFF -DCMAKE_CXX_FLAGS="-I$ROOT/.gpu-deps/include"
            -DSQLite3_INCLUDE_DIR="$PREFIX/include" -DSQLite3_LIBRARY="$SQLITE"
            -Dtomlplusplus_DIR="$PREFIX/lib/x86_64-linux-gnu/cmake/tomlplusplus"
            -DCMAKE_CXX_STANDARD_LIBRARIES="$LINK_EXTRA")
CMAKE_ARGS+=("${CUDNN_CMAKE_ARGS[@]}")
step configure cmake -S . -B build-gpu-full "${CMAKE_ARGS[@]}" >"$OUTDIR/build.log" 2>&1 || { tail -30 "$OUTDIR/build.log"; exit 1; }
grep -E "dasnet:" "$OUTDIR/build.log" | sort -u
step "build dasnet" cmake --build build-gpu-full -j16 --target dasnet >>"$OUTDIR/build.log" 2>&1 ||
  { grep -E "error|Error" "$OUTDIR/build.log" | head -30; exit 1; }
D=$ROOT/build-gpu-full/dasnet

W=/tmp/dasnet-e2e
rm -rf "$W" && mkdir -p "$W"
for s in 1 2 3 4 5 6 7; do $D synth --channels 200 --duration 60 --vehicles 2 --seed $s -o "$W/rec$s.h5" -q >/dev/null; done
step "dataset build" $D dataset build "$W"/rec[1-6].h5 -o "$W/data.h5" --per-class 250 -q
$D dataset reference -o "$W/ref.h5" >/dev/null
train() {  # label, extra flags...
  local label=$1; shift
  step "train $label" $D train --backend cuda --data "$W/data.h5" --reference "$W/ref.h5" --depth 14 \
    --epochs 8 --batch-size 64 --lr 0.01 --no-progress --metrics "$W/$label.jsonl" --checkpoint-dir "$W/ck-$label" "$@" \
    >"$W/$label.log" 2>&1
  grep -E "^epoch|final|backend|error" "$W/$label.log" | tail -12
  cp "$W/$label.jsonl" "$OUTDIR/" 2>/dev/null
}
train fp32
train fp32-nographs --no-cuda-graphs
train bf16 --precision bf16
train fp32-recalibrated --bn-recalibrate 2
step "eval cuda" $D eval --checkpoint "$W/ck-fp32/epoch_0008.h5" --data "$W/data.h5" --split test --backend cuda
step "eval cpu" $D eval --checkpoint "$W/ck-fp32/epoch_0008.h5" --data "$W/data.h5" --split test --backend cpu
step "infer cuda" $D infer "$W/ck-fp32/epoch_0008.h5" "$W/rec7.h5" -o "$W/maps-cuda" --backend cuda --no-progress
step "infer cpu" $D infer "$W/ck-fp32/epoch_0008.h5" "$W/rec7.h5" -o "$W/maps-cpu" --backend cpu --no-progress
python3 - "$W/maps-cuda/rec7.pmap.h5" "$W/maps-cpu/rec7.pmap.h5" <<'PY' | tee "$OUTDIR/maps.txt"
import sys, h5py, numpy as np
def p(path):
    with h5py.File(path, "r") as f:
        for k in ("p_usable", "p", "probability"):
            if k in f: return f[k][...]
        return f[list(f.keys())[0]][...]
a, b = p(sys.argv[1]), p(sys.argv[2])
ok = np.isfinite(a) & np.isfinite(b)
print(f"maps cuda vs cpu: shape {a.shape}, {ok.sum()} windows, max |diff| {np.abs(a[ok] - b[ok]).max():.2e}")
PY
# Last, so that a slow test build cannot cost the end-to-end figures.
step "build tests" cmake --build build-gpu-full -j16 --target dasnet_engine_tests >>"$OUTDIR/build.log" 2>&1 &&
  step "CUDA tests" timeout 120 build-gpu-full/dasnet_engine_tests --gtest_filter='*Cuda*' >"$OUTDIR/tests.log" 2>&1
grep -E "^\[  (PASSED|FAILED) +\]|^\[  FAILED  \] [A-Z]|3 steps vs" "$OUTDIR/tests.log" | sort -u
say "done"
