#!/usr/bin/env bash
# Run on the development machine before a GPU-machine call: copies the header-only and source
# dependencies that the GPU machine (no network) may lack into .gpu-deps/ (git-ignored), to be
# named in the call's `carry`. About 9 MiB: nlohmann/json, CLI11 headers, GoogleTest sources, and
# SQLite and toml++ for the dasnet command.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu-deps && mkdir -p .gpu-deps/include
for d in /usr/include/nlohmann /usr/include/CLI; do
  [ -d "$d" ] && cp -r "$d" .gpu-deps/include/
done
[ -d /usr/src/googletest ] && cp -r /usr/src/googletest .gpu-deps/googletest
# For bench/gpu/end_to_end.sh (the dasnet command on the GPU box, which has HDF5 but neither
# SQLite nor toml++): a relocatable prefix with their headers and libraries.
prefix=.gpu-deps/prefix
mkdir -p "$prefix/include" "$prefix/lib/x86_64-linux-gnu/cmake"
cp /usr/include/sqlite3.h /usr/include/sqlite3ext.h "$prefix/include/"
cp /usr/lib/x86_64-linux-gnu/libsqlite3.a "$prefix/lib/"
cp -r /usr/include/toml++ "$prefix/include/"
cp -r /usr/lib/x86_64-linux-gnu/cmake/tomlplusplus "$prefix/lib/x86_64-linux-gnu/cmake/"
for f in /usr/lib/x86_64-linux-gnu/libtomlplusplus.so*; do cp -L "$f" "$prefix/lib/x86_64-linux-gnu/"; done  # files, not links
du -sh .gpu-deps
