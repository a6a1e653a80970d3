#include "kernels/cpu_limits.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace dasnet {

namespace {

// Chains per thread: enough to cover FMA latency x FMA ports on current cores (4 cycles x 2).
constexpr int kChains = 12;
constexpr long kIterations = 1L << 20;  // per timed run and thread

// Each loop returns the sum of its chains so that no multiply-add can be left out.
__attribute__((target("avx512f"))) float fma_chains_avx512(long iterations) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(float(c));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-6f);
  for (long i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  for (int c = 1; c < kChains; ++c) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  float lanes[16];  // stored and added here: GCC 12's _mm512_reduce_add_ps warns -Wuninitialized
  _mm512_storeu_ps(lanes, acc[0]);
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
}

__attribute__((target("avx2,fma"))) float fma_chains_avx2(long iterations) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(float(c));
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-6f);
  for (long i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  for (int c = 1; c < kChains; ++c) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  float lanes[8];
  _mm256_storeu_ps(lanes, acc[0]);
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
}

float mul_add_chains_sse(long iterations) {
  __m128 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm_set1_ps(float(c));
  const __m128 m = _mm_set1_ps(0.999999f), a = _mm_set1_ps(1e-6f);
  for (long i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm_add_ps(_mm_mul_ps(acc[c], m), a);
  for (int c = 1; c < kChains; ++c) acc[0] = _mm_add_ps(acc[0], acc[c]);
  float lanes[4];
  _mm_storeu_ps(lanes, acc[0]);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

// Best time of timed runs of `work`, at least `min_runs`, until `seconds` have passed.
template <typename Work>
double best_seconds(double seconds, int min_runs, Work work) {
  double best = 1e30, spent = 0;
  for (int run = 0; run < min_runs || spent < seconds; ++run) {
    const auto start = std::chrono::steady_clock::now();
    work();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, t);
    spent += t;
  }
  return best;
}

volatile float g_sink;  // keeps the chains' results alive

}  // namespace

// Each thread keeps the best time of its own runs and the peak is the sum of the threads'
// best rates: on cores shared with other jobs, runs where every thread kept its core at once
// are rare, while each thread alone soon gets an undisturbed run.
double measure_fma_gflops(CpuIsa isa, double seconds) {
  if (!cpu_isa_supported(isa))
    throw std::runtime_error(std::string("measure_fma_gflops: this CPU cannot run ") + cpu_isa_name(isa));
  const int lanes = isa == CpuIsa::Avx512 ? 16 : isa == CpuIsa::Avx2 ? 8 : 4;
  auto chains = isa == CpuIsa::Avx512 ? fma_chains_avx512 : isa == CpuIsa::Avx2 ? fma_chains_avx2 : mul_add_chains_sse;
  const double flops_per_run = 2.0 * lanes * kChains * double(kIterations);
  double gflops = 0;
#pragma omp parallel reduction(+ : gflops)
  {
    float sum = 0;
    const double best = best_seconds(seconds, 3, [&] { sum += chains(kIterations); });
    g_sink = sum;
    gflops = flops_per_run / best / 1e9;
  }
  return gflops;
}

double measure_triad_gb_per_s(size_t floats, int repeats) {
  std::unique_ptr<float[]> a(new float[floats]), b(new float[floats]), c(new float[floats]);
  const long n = long(floats);
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;  // first touch by the thread that uses it
  const float s = 3.0f;
  const double t = best_seconds(0, repeats, [&] {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
  });
  g_sink = a[floats / 2];
  return 3.0 * sizeof(float) * double(floats) / t / 1e9;
}

}  // namespace dasnet
