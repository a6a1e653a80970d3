#!/usr/bin/env bash
# Builds the DAS-reader fuzz target with clang++ -fsanitize=fuzzer,address and runs it for a
# bounded time over a corpus of mutated copies of the real sample files. Exit 0: no finding.
#
# A fixed seed and a fixed number of runs make the run reproducible (the same binary mutates the
# same inputs every time); --seconds only caps it on a slow machine.
#
# usage: run_fuzz.sh --source REPO --work DIR [--seconds 60] [--runs 4000] [--clang clang++]
#                    [--hdf5-include "DIRS"] [--hdf5-libs "LIBS"] [--data DIR]
set -euo pipefail

source_dir="" work="" seconds=60 runs=4000 clang="clang++" hdf5_include="" hdf5_libs="" data=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --source) source_dir="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --clang) clang="$2"; shift 2 ;;
    --hdf5-include) hdf5_include="$2"; shift 2 ;;
    --hdf5-libs) hdf5_libs="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    *) echo "run_fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$source_dir" && -n "$work" ]] || { echo "run_fuzz.sh: --source and --work are required" >&2; exit 2; }
if [[ -z "$data" ]]; then
  data="${DASNET_DATA_DIR:-$source_dir/../shared/data/das}"
fi
# Debian's serial HDF5 layout when CMake did not say.
[[ -n "$hdf5_include" ]] || hdf5_include="/usr/include/hdf5/serial"
[[ -n "$hdf5_libs" ]] || hdf5_libs="-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5"

rm -rf "$work/corpus" "$work/findings"  # every run starts from the seeds alone
mkdir -p "$work/corpus" "$work/findings"
binary="$work/fuzz_das_readers"

# Only the reader sources: the fuzz target must not depend on the rest of dasnet.
sources=("$source_dir"/io/das_formats.cpp "$source_dir"/io/das_time.cpp "$source_dir"/io/hdf5_util.cpp
         "$source_dir"/io/durable_file.cpp "$source_dir"/io/input_path.cpp "$source_dir"/io/binary_format.cpp
         "$source_dir"/io/this_host.cpp
         "$source_dir"/io/format_*.cpp)
includes=()
for dir in ${hdf5_include//;/ }; do includes+=("-I$dir"); done
libs=()
for lib in ${hdf5_libs//;/ }; do libs+=("$lib"); done
"$clang" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$source_dir" "${includes[@]}" "$source_dir/tests/fuzz/fuzz_das_readers.cpp" "${sources[@]}" \
  "${libs[@]}" -o "$binary"

# Seeds: the real files, truncated copies, and copies with bytes overwritten at a few offsets
# (superblock, object headers, data).
for file in "$data"/prodml_2.0.h5 "$data"/terra15_v5_test_file.hdf5; do
  [[ -f "$file" ]] || { echo "run_fuzz.sh: missing seed $file (set DASNET_DATA_DIR)" >&2; exit 2; }
  name=$(basename "$file")
  size=$(stat -c %s "$file")
  cp "$file" "$work/corpus/$name"
  chmod u+w "$work/corpus/$name"
  for keep in 96 800 4096 $((size / 2)); do
    head -c "$keep" "$file" > "$work/corpus/trunc_${keep}_$name"
  done
  for offset in 0 8 40 96 200 600 1200 2400 4800 $((size / 3)); do
    cp "$file" "$work/corpus/flip_${offset}_$name"
    chmod u+w "$work/corpus/flip_${offset}_$name"
    printf '\xff\x00\x7f\x80' | dd of="$work/corpus/flip_${offset}_$name" bs=1 seek="$offset" conv=notrunc status=none
  done
done

# Inputs as long as the largest seed, from the start (libFuzzer would cut them to 1 MB and
# grow slowly, and a cut HDF5 file only exercises the refusal paths).
max_len=$(stat -c %s "$work"/corpus/* | sort -n | tail -1)

# Leaks inside libhdf5 on refused files are not findings of ours; crashes and memory errors are.
ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=0" \
  "$binary" -seed=1 -runs="$runs" -max_total_time="$seconds" -max_len="$max_len" -len_control=0 -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
  -artifact_prefix="$work/findings/" "$work/corpus"
