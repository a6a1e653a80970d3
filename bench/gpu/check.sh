#!/usr/bin/env bash
# The one GPU check (one H200, no network; see the GPU section of bench/RESULTS.md). In under 8 minutes:
# configure and build for the visible GPU, run the CUDA tests, compute-sanitizer memcheck on a
# short run, then training throughput of dasnet (bench_train --backend cuda) against PyTorch
# (bench/torch_train.py --device cuda) for depth 8/14/32 x batch 128/512 x fp32/tf32/bf16 (PyTorch
# bf16 = autocast) and fp16 at depth 8 batch 512 (dasnet loss scaling vs autocast + GradScaler),
# with the arithmetic and memory-traffic floors.
# The last line: gpu_train_samples_per_s depth=8 batch=512 dasnet=<x> torch=<y> ratio=<x/y>
#
# Before the call, on the development machine: bench/gpu/stage_deps.sh (headers, GoogleTest
# sources into .gpu-deps/), and carry [".gpu-deps"]. Call: bash bench/gpu/check.sh
# Environment: CHECK_BUDGET_S (default 450) stops starting benchmarks past it; CHECK_DEADLINE_S
# (default 530) bounds every step, so the table and its last line always print before a 600 s
# call limit; OUT (if set) receives check.log and bench.jsonl.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
START=$(date +%s)
BUDGET=${CHECK_BUDGET_S:-450}
DEADLINE=${CHECK_DEADLINE_S:-530}
OUTDIR=${OUT:-$ROOT/build-gpu}
mkdir -p "$OUTDIR"
LOG=$OUTDIR/check.log
JSONL=$OUTDIR/bench.jsonl
: >"$JSONL"
elapsed() { echo $(( $(date +%s) - START )); }
say() { echo "[$(elapsed)s] $*" | tee -a "$LOG"; }
# Seconds a step may take: its own limit, cut to what is left before the deadline (10 s kept for
# the table); 0 when nothing is left.
limit_for() {
  local left=$(( DEADLINE - 10 - $(elapsed) ))
  [ "$left" -lt 0 ] && left=0
  [ "$1" -lt "$left" ] && echo "$1" || echo "$left"
}
TESTS_RESULT="not run"
NCCL_RESULT="not run"
SANITIZER_RESULT="not run"

# --- Table (printed by the EXIT trap) ---------------------------------------------------------
print_table() {
python3 - "$JSONL" "$TESTS_RESULT" "$SANITIZER_RESULT" "$NCCL_RESULT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"tests: {sys.argv[2]}")
print(f"memcheck: {sys.argv[3]}")
# Floors (stated assumptions): H200 SXM datasheet peaks: fp32 (no tensor cores) 67 TFLOP/s,
# TF32 tensor 495 TFLOP/s dense, bf16 989 TFLOP/s dense; memory 4.8 TB/s datasheet (about
# 4.3 TB/s measured copy on this workplace's H200s: used below).
PEAK = {"fp32": 67e12, "tf32": 495e12, "bf16": 989e12, "fp16": 989e12}
BANDWIDTH = 4.3e12
def flops_per_sample(depth, size=200):  # training ~ 3 x forward multiply-adds x 2
    n = (depth - 2) // 6
    s1, s2, s3 = size * size, (size // 2) ** 2, (size // 4) ** 2
    macs = s1 * 16 * 9 + 2 * n * s1 * 16 * 16 * 9
    macs += s2 * 32 * 16 * 9 + (2 * n - 1) * s2 * 32 * 32 * 9 + s2 * 32 * 16
    macs += s3 * 64 * 32 * 9 + (2 * n - 1) * s3 * 64 * 64 * 9 + s3 * 64 * 32
    return 3 * 2 * macs
def bytes_per_sample(depth, size=200, element_bytes=4):
    # Each conv and BN output written and read once forward, its gradient written and read once
    # and the activation read once more backward: about 5 passes (bf16 activations: 2 bytes each).
    n = (depth - 2) // 6
    t1, t2, t3 = 16 * size * size, 32 * (size // 2) ** 2, 64 * (size // 4) ** 2
    tensors = (2 + 4 * n) * t1 + (4 * n + 2) * t2 + (4 * n + 2) * t3
    return 5 * element_bytes * tensors
def find(engine, depth, batch, precision, **extra):
    for r in rows:
        if r.get("engine") == engine and r["depth"] == depth and r["batch"] == batch and r.get("precision") == precision \
                and all(r.get(k) == v for k, v in extra.items()):
            return r
    return None
def fmt(r):
    return f"{r['samples_per_s']:.0f}" if r else "not measured"
print(f"{'depth':>5} {'batch':>5} {'prec':>5} {'dasnet/s':>12} {'torch/s':>12} {'ratio':>6} {'step ms':>8} "
      f"{'flop floor ms':>13} {'byte floor ms':>13}")
for depth in (8, 14, 32):
    for batch in (128, 512):
        for precision in ("fp32", "tf32", "bf16", "fp16"):
            d = find("dasnet", depth, batch, precision, graphs=True,
                     layout="nchw" if precision == "fp32" else "nhwc")  # each precision's default layout
            t = find("torch", depth, batch, precision, compile=False, memory_format="channels_last")
            ratio = f"{d['samples_per_s'] / t['samples_per_s']:.2f}" if d and t else "-"
            step = f"{d['step_seconds'] * 1000:.1f}" if d else "-"
            ff = batch * flops_per_sample(depth) / PEAK[precision] * 1000
            bf = batch * bytes_per_sample(depth, element_bytes=2 if precision in ("bf16", "fp16") else 4) / BANDWIDTH * 1000
            print(f"{depth:>5} {batch:>5} {precision:>5} {fmt(d):>12} {fmt(t):>12} {ratio:>6} {step:>8} {ff:>13.1f} {bf:>13.1f}")
print(f"GFLOP per training sample: depth 8 {flops_per_sample(8)/1e9:.2f}, 14 {flops_per_sample(14)/1e9:.2f}, "
      f"32 {flops_per_sample(32)/1e9:.2f}; MB moved per sample (floor): depth 8 {bytes_per_sample(8)/1e6:.0f}")
g = find("dasnet", 8, 512, "fp32", graphs=False)
print(f"dasnet d8 b512 fp32 without CUDA graphs, samples/s: {fmt(g)}")
print(f"dasnet d8 b512 layouts, samples/s: bf16 NHWC {fmt(find('dasnet', 8, 512, 'bf16', layout='nhwc'))}, "
      f"bf16 NCHW {fmt(find('dasnet', 8, 512, 'bf16', layout='nchw'))}; fp32 NCHW "
      f"{fmt(find('dasnet', 8, 512, 'fp32', layout='nchw', graphs=True))}, fp32 NHWC {fmt(find('dasnet', 8, 512, 'fp32', layout='nhwc'))}")
c = find("torch", 8, 512, "tf32", compile=True)
print(f"torch d8 b512 samples/s: tf32 torch.compile {fmt(c)}; fp32 contiguous {fmt(find('torch', 8, 512, 'fp32', memory_format='contiguous'))}")
print(f"one-rank NCCL training vs non-distributed (CudaNccl tests): {sys.argv[4] or 'no result'}")
d = find("dasnet", 8, 512, "fp32", graphs=True, layout="nchw")
t = find("torch", 8, 512, "fp32", compile=False, memory_format="channels_last")
ratio = f"{d['samples_per_s'] / t['samples_per_s']:.2f}" if d and t else "not measured"
print("last line: fp32 both; torch channels_last eager; dasnet NCHW with CUDA graphs")
print(f"gpu_train_samples_per_s depth=8 batch=512 dasnet={fmt(d)} torch={fmt(t)} ratio={ratio}")
PY
}
# The table (its last line: gpu_train_samples_per_s ...) prints however the script ends.
trap print_table EXIT

# --- What this machine has ---------------------------------------------------------------
source "$(dirname "$0")/cuda_libs.sh"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv,noheader 2>&1 | tee -a "$LOG"
nvcc --version 2>&1 | tail -1 | tee -a "$LOG"
say "cuDNN from pip: ${CUDNN_ROOT:-none}"
say "NCCL from pip: ${NCCL_ROOT:-none}"
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)

# --- Dependencies that may be missing (no network: only what .gpu-deps carried) ------------
# CHECK_CUDA_ARCHITECTURES: e.g. 90 to dry-run this script on a machine without a GPU (tests skip).
CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${CHECK_CUDA_ARCHITECTURES:-native}"
            -DDASNET_WITH_MPI=OFF -DDASNET_FUZZ=OFF -DCMAKE_DISABLE_FIND_PACKAGE_HDF5=ON)  # the engine, its tests, bench_train: no HDF5, SQLite, toml++ needed
CMAKE_ARGS+=("${CUDNN_CMAKE_ARGS[@]}")
if [ -d .gpu-deps/include ]; then
  CMAKE_ARGS+=(-DCMAKE_CXX_FLAGS="-I$ROOT/.gpu-deps/include" -DCMAKE_INCLUDE_PATH="$ROOT/.gpu-deps/include")
fi
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
if [ ! -f /usr/include/gtest/gtest.h ] && [ ! -f /usr/local/include/gtest/gtest.h ]; then
  if [ -d .gpu-deps/googletest ]; then
    say "building GoogleTest from .gpu-deps"
    cmake -S .gpu-deps/googletest -B /tmp/gtest-build "${GENERATOR[@]}" -DCMAKE_INSTALL_PREFIX=/tmp/gtest \
      -DBUILD_GMOCK=OFF >>"$LOG" 2>&1 && cmake --build /tmp/gtest-build -j16 >>"$LOG" 2>&1 &&
      cmake --install /tmp/gtest-build >>"$LOG" 2>&1
    CMAKE_ARGS+=(-DCMAKE_PREFIX_PATH=/tmp/gtest)
  else
    say "no GoogleTest here and none carried: building without tests"
  fi
fi

# --- Build ----------------------------------------------------------------------------------
say "configure"
if ! cmake -S . -B build-gpu "${GENERATOR[@]}" "${CMAKE_ARGS[@]}" >>"$LOG" 2>&1; then
  tail -30 "$LOG"
  exit 1
fi
grep -E "dasnet:" "$LOG" | sort -u
TARGETS=(bench_train)
[ -d build-gpu/tests/CMakeFiles/dasnet_engine_tests.dir ] && TARGETS+=(dasnet_engine_tests)  # both generators make this folder
say "build ${TARGETS[*]}"
if ! timeout "$(limit_for 300)" cmake --build build-gpu -j16 --target "${TARGETS[@]}" >>"$LOG" 2>&1; then
  grep -E "error|Error" "$LOG" | head -30
  exit 1
fi
grep -i "warning" "$LOG" | grep -v "^--" | head -10

# --- Benchmarks, tests, benchmarks ----------------------------------------------------------
# The goal configuration (depth 8, batch 512) is measured first, then the tests and memcheck run,
# then the other configurations until CHECK_BUDGET_S: a slow test phase cannot cost the goal figures.
run_bench() {  # label, timeout, command...
  local label=$1 limit; shift
  limit=$(limit_for "$1"); shift
  if [ "$(elapsed)" -gt "$BUDGET" ] || [ "$limit" -lt 20 ]; then say "skip $label (time budget)"; return; fi
  local line
  line=$(timeout "$limit" "$@" 2>>"$LOG" | grep '^{' | tail -1)
  if [ -n "$line" ]; then echo "$line" >>"$JSONL"; say "$label: $line"; else say "$label: failed or timed out"; fi
}
bench_pair() {  # depth batch precision
  local depth=$1 batch=$2 precision=$3 steps=$(( $2 == 512 ? 6 : 12 ))
  run_bench "dasnet d$depth b$batch $precision" 90 build-gpu/bench_train --backend cuda --depth $depth \
    --batch $batch --size 200 --steps $steps --precision $precision
  run_bench "torch d$depth b$batch $precision" 90 python3 bench/torch_train.py --device cuda --depth $depth \
    --batch $batch --size 200 --steps $steps --precision $precision
}
for precision in fp32 tf32 bf16; do bench_pair 8 512 $precision; done

if [ ! -x build-gpu/dasnet_engine_tests ]; then
  TESTS_RESULT="not run (no GoogleTest)"
elif [ "$(limit_for 240)" -lt 30 ]; then
  TESTS_RESULT="not run (time budget)"
else
  say "CUDA tests"
  # To a log of their own (a reader that stops early must not kill the run), then summarized.
  timeout "$(limit_for 240)" build-gpu/dasnet_engine_tests --gtest_filter='*Cuda*' >"$OUTDIR/tests.log" 2>&1
  rc=$?
  cat "$OUTDIR/tests.log" >>"$LOG"
  grep -E "^\[ +(OK|FAILED|SKIPPED) +\]|Failure" "$OUTDIR/tests.log" | head -100
  TESTS_RESULT="rc=$rc: $(grep -E "^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test" "$OUTDIR/tests.log" | tr '\n' ' ')"
  [ $rc -eq 124 ] && TESTS_RESULT="$TESTS_RESULT (timed out)"
  # Issue 5's GPU check: a one-rank NCCL run against training without any sync (tests/engine/test_cuda_training.cpp).
  NCCL_RESULT=$(grep -E "^\[ +(OK|FAILED|SKIPPED) +\] CudaNccl\." "$OUTDIR/tests.log" | sed -E 's/ \([0-9]+ ms\)//' | sort -u | tr '\n' ';')
fi

if [ -n "$SANITIZER" ] && [ -x build-gpu/dasnet_engine_tests ] && [ "$(limit_for 120)" -ge 30 ]; then
  say "compute-sanitizer memcheck"
  timeout "$(limit_for 120)" "$SANITIZER" --tool memcheck --leak-check no --error-exitcode 9 build-gpu/dasnet_engine_tests \
    --gtest_filter='Conformance/BackendOps.MatchReference/CudaFp32_BatchNormAddRelu:Conformance/BackendOps.MatchReference/CudaFp32_*Loss:Conformance/BackendOps.MatchReference/CudaFp32_Conv3x3Stride2:CudaGraphs.*:Conformance/BackendOps.MatchReference/CudaBf16_BatchNorm*:Conformance/BackendOps.MatchReference/CudaBf16_Relu:Conformance/BackendOps.MatchReference/CudaBf16_Add:Conformance/BackendOps.MatchReference/CudaBf16_GlobalAvgPool' \
    >"$OUTDIR/memcheck.log" 2>&1
  rc=$?
  SANITIZER_RESULT="rc=$rc ($(grep -E "ERROR SUMMARY" "$OUTDIR/memcheck.log" | tail -1))"
  [ $rc -eq 124 ] && SANITIZER_RESULT="timed out after 120 s"
  say "memcheck: $SANITIZER_RESULT"
fi

run_bench "dasnet d8 b512 bf16 NCHW" 90 build-gpu/bench_train --backend cuda --depth 8 --batch 512 --size 200 \
  --steps 6 --precision bf16 --layout nchw
run_bench "dasnet d8 b512 fp32 NHWC" 90 build-gpu/bench_train --backend cuda --depth 8 --batch 512 --size 200 \
  --steps 6 --precision fp32 --layout nhwc
run_bench "dasnet d8 b512 fp32 no graphs" 90 build-gpu/bench_train --backend cuda --depth 8 --batch 512 --size 200 \
  --steps 6 --precision fp32 --graphs off
bench_pair 8 512 fp16
for batch in 512 128; do
  for depth in 14 32 8; do
    [ "$batch" = 512 ] && [ "$depth" = 8 ] && continue  # measured first
    for precision in fp32 tf32 bf16; do bench_pair $depth $batch $precision; done
  done
done
run_bench "torch d8 b512 fp32 contiguous" 90 python3 bench/torch_train.py --device cuda --depth 8 --batch 512 \
  --size 200 --steps 6 --precision fp32 --memory-format contiguous
run_bench "torch d8 b512 tf32 compile" 150 python3 bench/torch_train.py --device cuda --depth 8 --batch 512 \
  --size 200 --steps 6 --precision tf32 --compile
