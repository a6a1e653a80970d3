// The memory-bound per-channel passes of the fast CPU backend on [N][C/B][HW][B] activations
// (batchnorm sums and apply, pooling, the stem's weight gradient), one table per channel block
// B. Each table is compiled in its own translation unit with that ISA's flags
// (cpu_blocked_avx2.cpp: B=8, -mavx2 -mfma; cpu_blocked_avx512.cpp: B=16, -mavx512*;
// cpu_blocked_generic.cpp: B=1, no extra flags) and chosen at run time from the tensor's layout,
// which follows cpu_isa(). The ISA units use no inline library code (whose out-of-line copies
// the linker could share with code that runs on any CPU): plain loops over caller buffers.
// Sums go into per-(sample, channel) doubles that the caller adds in a fixed order, so results
// do not depend on thread timing.
#pragma once
#include "core/tensor.h"

namespace dasnet {

struct BlockedKernels {
  int block;  // channels per block (B)
  // partial[(n*C + c)*2 + {0,1}] = sums over the pixels of sample n of d and d*d, d = x - k[c].
  void (*shifted_moments)(const Shape& s, const float* x, const float* k, double* partial);
  // Same layout: sums of g and g*(x - mean[c]), g = dy masked by relu_out > 0 when given.
  void (*batchnorm_backward_sums)(const Shape& s, const float* dy, const float* relu_out, const float* x,
                                  const float* mean, double* partial);
  // y = max?(x*scale[c] + shift[c] (+ residual), 0).
  void (*scale_shift_activate)(const Shape& s, const float* x, const float* scale, const float* shift,
                               const float* residual, bool relu, float* y);
  // dx = k_dx[c]*(g - k_mean_g[c] - (x - mean[c])*k_xhat[c]); dresidual (=|+=) g when given.
  void (*batchnorm_backward_apply)(const Shape& s, const float* dy, const float* relu_out, const float* x,
                                   const float* mean, const float* k_dx, const float* k_mean_g,
                                   const float* k_xhat, float* dx, float* dresidual, bool accumulate_residual);
  void (*pool_forward)(const Shape& s, const float* x, float* y);                  // y: [N][C]
  void (*pool_backward)(const Shape& s, const float* dy, float* dx, bool accumulate);  // dy: [N][C]
  // Weight gradient of a KxK convolution from a plain NCHW input with few channels (the stem)
  // into a blocked output gradient: partial[((n*(OC/B) + ob)*IC*K*K + tap)*B + lane].
  void (*small_input_weight_gradient)(const Shape& xs, const Shape& ys, int kernel, int stride, int padding,
                                      const float* x, const float* dy, double* partial);
};

const BlockedKernels& blocked_kernels_generic();  // B = 1 (NCHW), any CPU
const BlockedKernels& blocked_kernels_avx2();     // B = 8 (NCHW8c), needs AVX2+FMA
const BlockedKernels& blocked_kernels_avx512();   // B = 16 (NCHW16c), needs AVX-512

}  // namespace dasnet
