#!/usr/bin/env bash
# CTest install_find_package: cmake --install BUILD into a fresh prefix, configure and build the
# consumer project against it with find_package(dasnet), run it and check its output.
# Usage: run.sh CMAKE BUILD_DIR WORK_DIR CXX
set -euo pipefail
cmake=$1 build=$2 work=$3 cxx=$4
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/dasnet"
"$cmake" -S "$here" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_COMPILER="$cxx" \
         -DCMAKE_BUILD_TYPE=Release >/dev/null
"$cmake" --build "$work/consumer" -j2 >/dev/null
out=$("$work/consumer/consumer")
echo "$out"
# ResNet-8 with one input channel and K = 2 has the study's 77,234 parameters.
[[ "$out" == *"parameters 77234 logits 2 x 2"* ]] || { echo "unexpected consumer output" >&2; exit 1; }
"$work/prefix/bin/dasnet" --version
