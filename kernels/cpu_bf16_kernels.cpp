// Bodies of the bf16 NHWC passes (kernels/cpu_bf16_kernels.h). Built with -mavx512f/bw/vl/dq
// and -mavx512bf16: the plain loops below vectorize over the channels of a pixel (contiguous in
// NHWC); everything here except the table has internal linkage.
#include "kernels/cpu_bf16_kernels.h"

#include <immintrin.h>

// GCC 12 warns inside its own AVX-512 headers (an _mm512_undefined_* operand; GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dasnet {
namespace {

inline float widen(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest even; a NaN stays a (quiet) NaN instead of rounding into infinity.
inline uint16_t narrow(float f) {
  uint32_t bits;
  __builtin_memcpy(&bits, &f, sizeof bits);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  return (bits & 0x7fffffffu) > 0x7f800000u ? uint16_t((bits >> 16) | 0x40u) : uint16_t(rounded);
}

// 16 channels at a time (the AVX-512 paths, taken when C is a multiple of 16): widening is a
// shift, narrowing vcvtneps2bf16 (round to nearest even, NaN stays NaN as in narrow()).
inline __m512 load16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline void store16(uint16_t* p, __m512 v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
}
// dy where the ReLU output is > 0, else 0.
inline __m512 mask16(__m512 dy, const uint16_t* relu_out) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(load16(relu_out), _mm512_setzero_ps(), _CMP_GT_OQ), dy);
}

inline void add_to_double(double* total, __m512 v) {
  __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  _mm512_storeu_pd(total, _mm512_add_pd(_mm512_loadu_pd(total), lo));
  _mm512_storeu_pd(total + 8, _mm512_add_pd(_mm512_loadu_pd(total + 8), hi));
}

constexpr int kChunk = 64;     // channels one task sums (fits the float accumulators in registers)
constexpr size_t kRun = 256;   // pixels summed in float before adding into double

inline int chunks(int c) { return (c + kChunk - 1) / kChunk; }

void from_nchw(const Shape& s, const float* host, uint16_t* dst) {
  const size_t hw = size_t(s.h) * s.w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int h = 0; h < s.h; ++h)
      for (int w = 0; w < s.w; ++w) {
        const size_t p = size_t(h) * s.w + w;
        const float* src = host + size_t(n) * s.c * hw + p;
        uint16_t* out = dst + (size_t(n) * hw + p) * s.c;
        for (int c = 0; c < s.c; ++c) out[c] = narrow(src[size_t(c) * hw]);
      }
}

void to_nchw(const Shape& s, const uint16_t* src, float* host) {
  const size_t hw = size_t(s.h) * s.w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c) {
      const uint16_t* in = src + size_t(n) * hw * s.c + c;
      float* out = host + (size_t(n) * s.c + c) * hw;
      for (size_t p = 0; p < hw; ++p) out[p] = widen(in[p * s.c]);
    }
}

// Two per-channel sums over the pixels of every sample, for channels [c0, c0 + len) at a time:
// float sums over runs of kRun pixels, added into double per sample.
template <typename PerPixel>
void per_sample_sums(const Shape& s, PerPixel per_pixel, double* partial) {
  const size_t hw = size_t(s.h) * s.w;
  const int nc = chunks(s.c);
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int cc = 0; cc < nc; ++cc) {
      const int c0 = cc * kChunk, len = s.c - c0 < kChunk ? s.c - c0 : kChunk;
      double total[2][kChunk] = {};
      for (size_t start = 0; start < hw; start += kRun) {
        float acc[2][kChunk] = {};
        const size_t end = hw < start + kRun ? hw : start + kRun;
        for (size_t p = start; p < end; ++p) per_pixel((size_t(n) * hw + p) * s.c + c0, c0, len, acc);
        for (int t = 0; t < 2; ++t)
          for (int l = 0; l < len; ++l) total[t][l] += acc[t][l];
      }
      for (int t = 0; t < 2; ++t)
        for (int l = 0; l < len; ++l) partial[(size_t(n) * s.c + c0 + l) * 2 + t] = total[t][l];
    }
}

// per_sample_sums for C % 16 == 0: one task per (sample, 16 channels), the two sums in registers.
template <typename PerPixel>
void per_sample_sums16(const Shape& s, PerPixel per_pixel, double* partial) {
  const size_t hw = size_t(s.h) * s.w;
  const int groups = s.c / 16;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int j = 0; j < groups; ++j) {
      double total[2][16] = {};
      for (size_t start = 0; start < hw; start += kRun) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        const size_t end = hw < start + kRun ? hw : start + kRun;
        for (size_t p = start; p < end; ++p) per_pixel((size_t(n) * hw + p) * s.c + j * 16, j * 16, a0, a1);
        add_to_double(total[0], a0);
        add_to_double(total[1], a1);
      }
      for (int t = 0; t < 2; ++t)
        for (int l = 0; l < 16; ++l) partial[(size_t(n) * s.c + j * 16 + l) * 2 + t] = total[t][l];
    }
}

void shifted_moments(const Shape& s, const uint16_t* x, const float* k, double* partial) {
  if (s.c % 16 == 0) {
    per_sample_sums16(s, [&](size_t i, int c0, __m512& a0, __m512& a1) {
      const __m512 d = _mm512_sub_ps(load16(x + i), _mm512_loadu_ps(k + c0));
      a0 = _mm512_add_ps(a0, d);
      a1 = _mm512_fmadd_ps(d, d, a1);
    }, partial);
    return;
  }
  per_sample_sums(s, [&](size_t i, int c0, int len, float (*acc)[kChunk]) {
    for (int l = 0; l < len; ++l) {
      const float d = widen(x[i + l]) - k[c0 + l];
      acc[0][l] += d;
      acc[1][l] += d * d;
    }
  }, partial);
}

// Masked: g = dy where relu_out > 0 (a template argument, so the loop has no branch).
template <bool Masked>
void backward_sums(const Shape& s, const uint16_t* dy, const uint16_t* relu_out, const uint16_t* x, const float* mean,
                   double* partial) {
  if (s.c % 16 == 0) {
    per_sample_sums16(s, [&](size_t i, int c0, __m512& a0, __m512& a1) {
      const __m512 g = Masked ? mask16(load16(dy + i), relu_out + i) : load16(dy + i);
      a0 = _mm512_add_ps(a0, g);
      a1 = _mm512_fmadd_ps(g, _mm512_sub_ps(load16(x + i), _mm512_loadu_ps(mean + c0)), a1);
    }, partial);
    return;
  }
  per_sample_sums(s, [&](size_t i, int c0, int len, float (*acc)[kChunk]) {
    for (int l = 0; l < len; ++l) {
      float g = widen(dy[i + l]);
      if (Masked) g = widen(relu_out[i + l]) > 0.0f ? g : 0.0f;
      acc[0][l] += g;
      acc[1][l] += g * (widen(x[i + l]) - mean[c0 + l]);
    }
  }, partial);
}

void batchnorm_backward_sums(const Shape& s, const uint16_t* dy, const uint16_t* relu_out, const uint16_t* x,
                             const float* mean, double* partial) {
  if (relu_out) return backward_sums<true>(s, dy, relu_out, x, mean, partial);
  backward_sums<false>(s, dy, nullptr, x, mean, partial);
}

// Pixels of all samples, split into equal static ranges over the threads.
inline size_t pixels(const Shape& s) { return size_t(s.n) * s.h * s.w; }

// v where v >= 0 or NaN, else 0 (as std::max(v, 0), which keeps NaN; vmaxps would not).
inline __m512 relu16(__m512 v) {
  return _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_setzero_ps());
}

// body(i, l) for every 16 channels [l, l + 16) of every pixel, i the offset of the first.
template <typename Body>
void each_group16(const Shape& s, Body body) {
  const size_t count = pixels(s);
  const int c = s.c;
#pragma omp parallel for schedule(static)
  for (size_t p = 0; p < count; ++p)
    for (int l = 0; l < c; l += 16) body(p * c + l, l);
}

template <bool Residual, bool Relu>
void scale_shift16(const Shape& s, const uint16_t* x, const float* scale, const float* shift, const uint16_t* residual,
                   uint16_t* y) {
  each_group16(s, [&](size_t i, int l) {
    __m512 v = _mm512_fmadd_ps(load16(x + i), _mm512_loadu_ps(scale + l), _mm512_loadu_ps(shift + l));
    if (Residual) v = _mm512_add_ps(v, load16(residual + i));
    store16(y + i, Relu ? relu16(v) : v);
  });
}

void scale_shift_activate(const Shape& s, const uint16_t* x, const float* scale, const float* shift,
                          const uint16_t* residual, bool relu, uint16_t* y) {
  if (s.c % 16 == 0) {
    if (residual) return relu ? scale_shift16<true, true>(s, x, scale, shift, residual, y)
                              : scale_shift16<true, false>(s, x, scale, shift, residual, y);
    return relu ? scale_shift16<false, true>(s, x, scale, shift, nullptr, y)
                : scale_shift16<false, false>(s, x, scale, shift, nullptr, y);
  }
  const size_t count = pixels(s);
  const int c = s.c;
#pragma omp parallel for schedule(static)
  for (size_t p = 0; p < count; ++p) {
    const size_t i = p * c;
    for (int l = 0; l < c; ++l) {
      float v = widen(x[i + l]) * scale[l] + shift[l];
      if (residual) v += widen(residual[i + l]);
      y[i + l] = narrow((relu && v < 0.0f) ? 0.0f : v);  // as std::max(v, 0): keeps NaN
    }
  }
}

template <bool Masked, int Residual>
void backward_apply16(const Shape& s, const uint16_t* dy, const uint16_t* relu_out, const uint16_t* x,
                      const float* mean, const float* k_dx, const float* k_mean_g, const float* k_xhat, uint16_t* dx,
                      uint16_t* dresidual) {
  each_group16(s, [&](size_t i, int l) {
    const __m512 g = Masked ? mask16(load16(dy + i), relu_out + i) : load16(dy + i);
    const __m512 xc = _mm512_sub_ps(load16(x + i), _mm512_loadu_ps(mean + l));
    const __m512 centred = _mm512_sub_ps(g, _mm512_loadu_ps(k_mean_g + l));
    const __m512 inner = _mm512_fnmadd_ps(xc, _mm512_loadu_ps(k_xhat + l), centred);
    store16(dx + i, _mm512_mul_ps(_mm512_loadu_ps(k_dx + l), inner));
    if (Residual == 1) store16(dresidual + i, g);
    if (Residual == 2) store16(dresidual + i, _mm512_add_ps(load16(dresidual + i), g));
  });
}

// Residual: 0 none, 1 dresidual = g, 2 dresidual += g. Outputs may alias inputs only
// element for element (each element is read before it is written).
template <bool Masked, int Residual>
void backward_apply(const Shape& s, const uint16_t* dy, const uint16_t* relu_out, const uint16_t* x,
                    const float* mean, const float* k_dx, const float* k_mean_g, const float* k_xhat,
                    uint16_t* __restrict dx, uint16_t* __restrict dresidual) {
  const size_t count = pixels(s);
  const int c = s.c;
  if (c % 16 == 0) return backward_apply16<Masked, Residual>(s, dy, relu_out, x, mean, k_dx, k_mean_g, k_xhat, dx,
                                                             dresidual);
#pragma omp parallel for schedule(static)
  for (size_t p = 0; p < count; ++p) {
    const size_t i = p * c;
    for (int l = 0; l < c; ++l) {
      float g = widen(dy[i + l]);
      if (Masked) g = widen(relu_out[i + l]) > 0.0f ? g : 0.0f;
      dx[i + l] = narrow(k_dx[l] * (g - k_mean_g[l] - (widen(x[i + l]) - mean[l]) * k_xhat[l]));
      if (Residual == 1) dresidual[i + l] = narrow(g);
      if (Residual == 2) dresidual[i + l] = narrow(widen(dresidual[i + l]) + g);
    }
  }
}

template <bool Masked>
void backward_apply_masked(const Shape& s, const uint16_t* dy, const uint16_t* relu_out, const uint16_t* x,
                           const float* mean, const float* k_dx, const float* k_mean_g, const float* k_xhat,
                           uint16_t* dx, uint16_t* dresidual, bool accumulate_residual) {
  if (!dresidual) return backward_apply<Masked, 0>(s, dy, relu_out, x, mean, k_dx, k_mean_g, k_xhat, dx, nullptr);
  if (accumulate_residual)
    return backward_apply<Masked, 2>(s, dy, relu_out, x, mean, k_dx, k_mean_g, k_xhat, dx, dresidual);
  backward_apply<Masked, 1>(s, dy, relu_out, x, mean, k_dx, k_mean_g, k_xhat, dx, dresidual);
}

void batchnorm_backward_apply(const Shape& s, const uint16_t* dy, const uint16_t* relu_out, const uint16_t* x,
                              const float* mean, const float* k_dx, const float* k_mean_g, const float* k_xhat,
                              uint16_t* dx, uint16_t* dresidual, bool accumulate_residual) {
  if (relu_out)
    return backward_apply_masked<true>(s, dy, relu_out, x, mean, k_dx, k_mean_g, k_xhat, dx, dresidual,
                                       accumulate_residual);
  backward_apply_masked<false>(s, dy, nullptr, x, mean, k_dx, k_mean_g, k_xhat, dx, dresidual, accumulate_residual);
}

void pool_forward(const Shape& s, const uint16_t* x, float* y) {
  const size_t hw = size_t(s.h) * s.w;
  const float inv = 1.0f / float(hw);
  const int nc = chunks(s.c);
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < s.n; ++n)
    for (int cc = 0; cc < nc; ++cc) {
      const int c0 = cc * kChunk, len = s.c - c0 < kChunk ? s.c - c0 : kChunk;
      double acc[kChunk] = {};
      for (size_t p = 0; p < hw; ++p) {
        const uint16_t* in = x + (size_t(n) * hw + p) * s.c + c0;
        for (int l = 0; l < len; ++l) acc[l] += widen(in[l]);
      }
      for (int l = 0; l < len; ++l) y[size_t(n) * s.c + c0 + l] = float(acc[l]) * inv;
    }
}

void pool_backward(const Shape& s, const float* dy, uint16_t* dx, bool accumulate) {
  const size_t hw = size_t(s.h) * s.w;
  const float inv = 1.0f / float(hw);
  const int c = s.c;
#pragma omp parallel for schedule(static)
  for (size_t p = 0; p < pixels(s); ++p) {
    const float* g = dy + (p / hw) * c;
    uint16_t* out = dx + p * c;
    for (int l = 0; l < c; ++l) out[l] = narrow(accumulate ? widen(out[l]) + g[l] * inv : g[l] * inv);
  }
}

void relu_forward(size_t count, const uint16_t* x, uint16_t* y) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) {
    const float v = widen(x[i]);
    y[i] = v < 0.0f ? uint16_t(0) : x[i];  // as std::max(v, 0): keeps NaN
  }
}

void relu_backward(size_t count, const uint16_t* dy, const uint16_t* y, uint16_t* dx, bool accumulate) {
  const size_t vectors = count / 16;
#pragma omp parallel for schedule(static)
  for (size_t v = 0; v < vectors; ++v) {
    const size_t i = v * 16;
    const __m512 g = mask16(load16(dy + i), y + i);
    store16(dx + i, accumulate ? _mm512_add_ps(load16(dx + i), g) : g);
  }
  for (size_t i = vectors * 16; i < count; ++i) {
    const float g = widen(y[i]) > 0.0f ? widen(dy[i]) : 0.0f;
    dx[i] = narrow(accumulate ? widen(dx[i]) + g : g);
  }
}

void add(size_t count, const uint16_t* a, const uint16_t* b, uint16_t* y) {
  const size_t vectors = count / 16;
#pragma omp parallel for schedule(static)
  for (size_t v = 0; v < vectors; ++v) store16(y + v * 16, _mm512_add_ps(load16(a + v * 16), load16(b + v * 16)));
  for (size_t i = vectors * 16; i < count; ++i) y[i] = narrow(widen(a[i]) + widen(b[i]));
}

}  // namespace

const Bf16Kernels& bf16_kernels() {
  static const Bf16Kernels table{from_nchw,      to_nchw,      shifted_moments, batchnorm_backward_sums,
                                 scale_shift_activate, batchnorm_backward_apply, pool_forward, pool_backward,
                                 relu_forward,   relu_backward, add};
  return table;
}

}  // namespace dasnet
