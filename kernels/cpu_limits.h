// This machine's own limits, measured rather than read from a data sheet (bench_train
// --profile compares every layer against them): the multiply-add throughput of one ISA's FMA
// instructions on all OpenMP threads, and the memory bandwidth of a STREAM-like triad.
#pragma once
#include <cstddef>

#include "kernels/cpu_isa.h"

namespace dasnet {

// GFLOP/s (2 per multiply-add) of independent FMA chains in `isa`'s widest registers on every
// OpenMP thread: the sum of each thread's best rate over repeated runs, about `seconds` in all.
// Baseline uses SSE multiplies and adds. Throws if the CPU cannot run `isa`.
double measure_fma_gflops(CpuIsa isa, double seconds = 0.3);

// GB/s of a[i] = b[i] + s * c[i] over three arrays of `floats` each on every OpenMP thread
// (bytes counted as STREAM does: 12 per element), best of `repeats` runs.
double measure_triad_gb_per_s(size_t floats = size_t(1) << 24, int repeats = 5);

}  // namespace dasnet
