#!/usr/bin/env bash
# Run on the development machine before a GPU-machine call: copies the header-only and source
# dependencies that the GPU machine (no network) may lack into .gpu-deps/ (git-ignored), to be
# named in the call's `carry`. About 5 MiB: nlohmann/json, CLI11 headers, GoogleTest sources.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu-deps && mkdir -p .gpu-deps/include
for d in /usr/include/nlohmann /usr/include/CLI; do
  [ -d "$d" ] && cp -r "$d" .gpu-deps/include/
done
[ -d /usr/src/googletest ] && cp -r /usr/src/googletest .gpu-deps/googletest
du -sh .gpu-deps
