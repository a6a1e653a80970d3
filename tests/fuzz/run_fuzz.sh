#!/usr/bin/env bash
# Builds a fuzz target with clang++ -fsanitize=fuzzer,address,undefined and runs it for a bounded
# time over a corpus of mutated copies of its seed files. Exit 0: no crash, no hang (-timeout), no
# sanitizer report.
#   --target das    (default) the DAS readers (tests/fuzz/fuzz_das_readers.cpp); seeds: the real
#                   sample files
#   --target files  dasnet's own files: data sets, checkpoints, reference sets
#                   (tests/fuzz/fuzz_dasnet_files.cpp); seeds made by --dasnet BINARY
#
# A fixed seed and a fixed number of runs make the run reproducible (the same binary mutates the
# same inputs every time); --seconds only caps it on a slow machine.
#
# usage: run_fuzz.sh --source REPO --work DIR [--target das|files] [--dasnet BINARY]
#                    [--seconds 60] [--runs 4000] [--clang clang++]
#                    [--hdf5-include "DIRS"] [--hdf5-libs "LIBS"] [--data DIR] [--generated DIR]
#                    [--reader-defines "-DDASNET_HAVE_SEGYIO ..."] [--reader-libs "-lsegyio ..."]
set -euo pipefail

source_dir="" work="" seconds=60 runs=4000 clang="clang++" hdf5_include="" hdf5_libs="" data=""
target="das" dasnet="" generated="" reader_defines="" reader_libs=""
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
    --reader-defines) reader_defines="$2"; shift 2 ;;
    --reader-libs) reader_libs="$2"; shift 2 ;;
    --target) target="$2"; shift 2 ;;
    --dasnet) dasnet="$2"; shift 2 ;;
    --generated) generated="$2"; shift 2 ;;
    *) echo "run_fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$source_dir" && -n "$work" ]] || { echo "run_fuzz.sh: --source and --work are required" >&2; exit 2; }
[[ "$target" == das || "$target" == files ]] || { echo "run_fuzz.sh: --target $target: not das or files" >&2; exit 2; }
if [[ "$target" == files ]]; then
  [[ -x "$dasnet" ]] || { echo "run_fuzz.sh: --target files needs --dasnet BINARY (makes the seeds)" >&2; exit 2; }
  [[ -n "$generated" ]] || generated="$(dirname "$dasnet")/generated"  # dasnet/build_config.h
fi
if [[ -z "$data" ]]; then
  data="${DASNET_DATA_DIR:-$source_dir/../shared/data/das}"
fi
# Debian's serial HDF5 layout when CMake did not say.
[[ -n "$hdf5_include" ]] || hdf5_include="/usr/include/hdf5/serial"
[[ -n "$hdf5_libs" ]] || hdf5_libs="-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5"

rm -rf "$work/corpus" "$work/findings"  # every run starts from the seeds alone
mkdir -p "$work/corpus" "$work/findings"
# Only the reader sources: a fuzz target must not depend on the rest of dasnet (the training
# loop, the backends).
sources=("$source_dir"/io/das_formats.cpp "$source_dir"/io/das_time.cpp "$source_dir"/io/hdf5_util.cpp
         "$source_dir"/io/durable_file.cpp "$source_dir"/io/input_path.cpp "$source_dir"/io/this_host.cpp
         "$source_dir"/io/binary_format.cpp "$source_dir"/io/format_*.cpp)
includes=()
if [[ "$target" == das ]]; then
  fuzz_source="$source_dir/tests/fuzz/fuzz_das_readers.cpp" binary="$work/fuzz_das_readers"
else
  fuzz_source="$source_dir/tests/fuzz/fuzz_dasnet_files.cpp" binary="$work/fuzz_dasnet_files"
  for f in io/dataset.cpp io/das_source.cpp io/das_selection.cpp io/checkpoint.cpp io/reference_set.cpp io/record_patches.cpp io/labeling.cpp \
           io/amplitude_spectrum.cpp io/patch_image.cpp io/synth.cpp models/model_config.cpp train/optimizer.cpp \
           train/train_config_json.cpp; do
    sources+=("$source_dir/$f")
  done
  includes+=("-I$generated")
fi
for dir in ${hdf5_include//;/ }; do includes+=("-I$dir"); done
libs=()
for lib in ${hdf5_libs//;/ } $reader_libs; do libs+=("$lib"); done
defines=()
for define in $reader_defines; do defines+=("$define"); done
"$clang" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  "${defines[@]}" -I"$source_dir" "${includes[@]}" "$fuzz_source" "${sources[@]}" \
  "${libs[@]}" -lpng -o "$binary"

# Seeds: the real files (das) or small files of each kind that dasnet writes (files), truncated
# copies, and copies with bytes overwritten at a few offsets (superblock, object headers, data).
if [[ "$target" == das ]]; then
  # The non-HDF5 formats: the real TDMS, SEG-Y and Sentek files, and a miniSEED file written by
  # ObsPy where it is installed (no real miniSEED file is shared).
  seeds=("$data"/prodml_2.0.h5 "$data"/terra15_v5_test_file.hdf5 "$data"/iDAS005_tdms_example.626.tdms
         "$data"/small_channel_patch.sgy "$data"/DASDMSShot00_20230328155653619.das)
  if python3 -c 'import obspy' 2>/dev/null; then
    python3 - "$work/seed.mseed" <<'PY'
import sys
import numpy as np
from obspy import Stream, Trace, UTCDateTime
traces = [Trace(np.arange(900, dtype="int32") * (k + 1), header={"network": "XX", "station": "DAS",
          "channel": "HZ" + "ABC"[k], "sampling_rate": 250.0, "starttime": UTCDateTime(2023, 5, 24)})
          for k in range(3)]
Stream(traces).write(sys.argv[1], format="MSEED", reclen=512, encoding="STEIM2")
PY
    seeds+=("$work/seed.mseed")
  fi
else
  made="$work/seed_files" && rm -rf "$made" && mkdir -p "$made"
  (cd "$made"
   "$dasnet" synth --channels 60 --duration 20 --vehicles 3 --seed 4 -q -o rec.h5
   "$dasnet" dataset build rec.h5 --per-class 10 --patch-channels 20 --patch-samples 200 -q -o dataset.h5
   "$dasnet" dataset reference -o references.h5 --patch-channels 16 --patch-samples 16
   "$dasnet" train --depth 2 --synthetic-per-class 16 --image-height 16 --image-width 16 --epochs 1 \
     --checkpoint-dir ck --no-progress --threads 1
   mv ck/epoch_0001.h5 checkpoint.h5) > "$work/seed_files.log" 2>&1 \
    || { cat "$work/seed_files.log"; echo "run_fuzz.sh: making the seed files failed" >&2; exit 1; }
  seeds=("$made"/dataset.h5 "$made"/references.h5 "$made"/checkpoint.h5)
  # Inputs that once crashed a reader stay in the corpus, so a regression is met on the first runs.
  seeds+=("$source_dir"/tests/fuzz/known_crashes/*)
fi
for file in "${seeds[@]}"; do
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
# libhdf5 allocates what a corrupt header says (16 GB, hundreds of GB) and touches only the
# bytes the file has; the real binary refuses such a file with 240 MB resident. Under ASan the
# same allocation costs an eighth of its size in shadow pages (2.1 GB for one 16 GB object header,
# past -rss_limit_mb), so every allocation over 2 GiB gets NULL (max_allocation_size_mb with
# allocator_may_return_null), which libhdf5 reports and the open fails, as on a machine without
# overcommit; -malloc_limit_mb lets the ones below through to the RSS cap. An oversized buffer of
# dasnet's own then crashes on NULL or ends the run at -rss_limit_mb: both are findings.
ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=2048:suppressions=$source_dir/tests/fuzz/asan_suppressions.txt" \
  "$binary" -seed=1 -runs="$runs" -max_total_time="$seconds" -max_len="$max_len" -len_control=0 -rss_limit_mb=2048 -malloc_limit_mb=1048576 -timeout=30 -print_final_stats=1 \
  -artifact_prefix="$work/findings/" "$work/corpus"
