#!/usr/bin/env bash
# Configures and builds dasnet (Release) in build/ with every core: everything, or only the
# targets named (scripts/build.sh dasnet: the command alone, without tests and benchmarks).
# ccache, where installed, caches compiles across clones and rebuilds (optional).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
            -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
targets=()
[ $# -gt 0 ] && targets=(--target "$@")
cmake --build "$root/build" -j"$(nproc)" "${targets[@]}"
