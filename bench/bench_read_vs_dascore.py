#!/usr/bin/env python3
"""Read throughput of dasnet against DASCore on the same files, in the same run, warm cache.

usage: bench_read_vs_dascore.py BENCH_DAS_READ FILE... [--passes N]

For each file: the page cache is warmed (the file read once), then dasnet reads the whole record
(BENCH_DAS_READ, i.e. build/bench_das_read, best of N passes: das_read_only_s) and DASCore reads
it (dascore.read(FILE)[0] and its data copied into a numpy array, best of N passes). dasnet's
figure includes what DASCore does not do: conversion to float32 (scaled where the file says) and
the transpose to channel-major rows. Throughput is the
file's stored sample bytes (channels x samples x element size) per second; the ratio is
dasnet / DASCore. One row per file, then a Markdown table for bench/RESULTS.md.
"""
import os
import subprocess
import sys
import time

import dascore as dc
import numpy as np


def dasnet_read(bench, path, passes):
    env = dict(os.environ, DASNET_BENCH_PASSES=str(passes))
    out = subprocess.run([bench, "0", path], check=True, capture_output=True, text=True, env=env).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line and " " not in line)
    return float(values["das_read_only_s"])


def dascore_read(path, passes):
    best, shape, dtype = float("inf"), None, None
    for _ in range(passes):
        start = time.perf_counter()
        patch = dc.read(path)[0]
        # A copy: DASCore may hand back a memory map (TDMS) that has read nothing yet.
        data = np.array(patch.data, copy=True)
        best = min(best, time.perf_counter() - start)
        shape, dtype = data.shape, data.dtype
    return best, shape, dtype


def main(argv):
    passes = 3
    if "--passes" in argv:
        at = argv.index("--passes")
        passes = int(argv[at + 1])
        del argv[at : at + 2]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    bench, files = argv[0], argv[1:]
    rows = []
    for path in files:
        with open(path, "rb") as f:  # warm the page cache
            while f.read(1 << 24):
                pass
        dc_s, shape, dtype = dascore_read(path, passes)
        ours_s = dasnet_read(bench, path, passes)
        mb = np.prod(shape) * np.dtype(dtype).itemsize / 1e6
        rows.append((os.path.basename(path), str(dtype), shape, mb, mb / ours_s, mb / dc_s, dc_s / ours_s))
        name, dt, sh, mb_, ours, theirs, ratio = rows[-1]
        print(f"{name}: {dt} {sh[0]} x {sh[1]}, {mb_:.1f} MB: dasnet {ours:.0f} MB/s, DASCore {theirs:.0f} MB/s, "
              f"ratio {ratio:.2f}x", flush=True)
    print("\n| file | dtype | shape | MB | dasnet MB/s | DASCore MB/s | dasnet / DASCore |")
    print("|---|---|---|---|---|---|---|")
    for name, dt, sh, mb, ours, theirs, ratio in rows:
        print(f"| {name} | {dt} | {sh[0]} x {sh[1]} | {mb:.1f} | {ours:.0f} | {theirs:.0f} | {ratio:.2f}x |")
    print(f"\ndascore {dc.__version__}, numpy {np.__version__}, best of {passes} passes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
