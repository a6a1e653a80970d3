#!/usr/bin/env python3
"""Read throughput of dasnet against DASCore on the same files, in the same run, warm cache.

usage: bench_read_vs_dascore.py BENCH_DAS_READ FILE... [--passes N]

For each file: the page cache is warmed (the file read once), then DASCore reads it
(dascore.read(FILE)[0] and its data copied into a numpy array, best of N passes: the stored dtype
and axis order, no conversion) and dasnet reads the whole record two ways (BENCH_DAS_READ, i.e.
build/bench_das_read, best of N passes):
- stored: read_das_stored, the file's dtype and axis order, unscaled: the same work as DASCore
  (das_read_stored_s); the goal's ratio;
- float32: read_das as every dasnet tool uses it: converted to float32 (scaled where the file
  says), transposed to channel-major rows: more work than DASCore does (das_read_only_s);
- and, where build/python is on PYTHONPATH, dasnet.read(FILE, stored=True) from this process:
  Python's own call, the same work as the stored column plus the module's metadata.
Throughput is the file's stored sample bytes (channels x samples x element size) per second; the
ratios are dasnet / DASCore. One row per file, then a Markdown table for bench/RESULTS.md.
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
    return float(values["das_read_stored_s"]), float(values["das_read_only_s"])


def python_read(path, passes):
    """dasnet.read(path, stored=True) from Python (build/python on PYTHONPATH), best of N; None
    where the module is not importable."""
    try:
        import dasnet
    except ImportError:
        return None
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        rec = dasnet.read(path, stored=True)
        best = min(best, time.perf_counter() - start)
        assert rec.data.size > 0
    return best


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
        stored_s, float_s = dasnet_read(bench, path, passes)
        py_s = python_read(path, passes)
        mb = np.prod(shape) * np.dtype(dtype).itemsize / 1e6
        py = f"{mb / py_s:.0f} ({dc_s / py_s:.2f}x)" if py_s else "-"
        rows.append((os.path.basename(path), str(dtype), shape, mb, mb / dc_s, mb / stored_s, dc_s / stored_s,
                     mb / float_s, dc_s / float_s, py))
        name, dt, sh, mb_, theirs, stored, ratio, floats, float_ratio, py = rows[-1]
        print(f"{name}: {dt} {sh[0]} x {sh[1]}, {mb_:.1f} MB: DASCore {theirs:.0f} MB/s; dasnet stored "
              f"{stored:.0f} MB/s, ratio {ratio:.2f}x; dasnet float32 {floats:.0f} MB/s, ratio {float_ratio:.2f}x; "
              f"dasnet.read(stored=True) {py} MB/s", flush=True)
    print("\n| file | dtype | shape | MB | DASCore MB/s | dasnet stored MB/s | stored / DASCore "
          "| dasnet float32 MB/s | float32 / DASCore | dasnet.read(stored=True) MB/s (/ DASCore) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, dt, sh, mb, theirs, stored, ratio, floats, float_ratio, py in rows:
        print(f"| {name} | {dt} | {sh[0]} x {sh[1]} | {mb:.1f} | {theirs:.0f} | {stored:.0f} | {ratio:.2f}x "
              f"| {floats:.0f} | {float_ratio:.2f}x | {py} |")
    print(f"\ndascore {dc.__version__}, numpy {np.__version__}, best of {passes} passes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
