// The memory-bound passes of the fast CPU backend in bf16 (--precision bf16): activations and
// their gradients are bfloat16 in NHWC (what oneDNN's AMX convolutions read and write), and every
// pass converts to fp32 in registers, computes in fp32 and rounds once on the store (round to
// nearest even). Compiled in its own translation unit with AVX-512 + AVX512_BF16 flags and only
// called when the CPU has them (the backend refuses bf16 otherwise); like cpu_blocked_kernels.h,
// no inline library code. Sums go into per-(sample, channel) doubles that the caller adds in a
// fixed order, so results do not depend on thread timing.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace dasnet {

struct Bf16Kernels {
  // Host fp32 NCHW <-> bf16 NHWC.
  void (*from_nchw)(const Shape& s, const float* host, uint16_t* dst);
  void (*to_nchw)(const Shape& s, const uint16_t* src, float* host);
  // partial[(n*C + c)*2 + {0,1}] = sums over the pixels of sample n of d and d*d, d = x - k[c].
  void (*shifted_moments)(const Shape& s, const uint16_t* x, const float* k, double* partial);
  // Same layout: sums of g and g*(x - mean[c]), g = dy masked by relu_out > 0 when given.
  void (*batchnorm_backward_sums)(const Shape& s, const uint16_t* dy, const uint16_t* relu_out, const uint16_t* x,
                                  const float* mean, double* partial);
  // y = max?(x*scale[c] + shift[c] (+ residual), 0); y may alias x.
  void (*scale_shift_activate)(const Shape& s, const uint16_t* x, const float* scale, const float* shift,
                               const uint16_t* residual, bool relu, uint16_t* y);
  // dx = k_dx[c]*(g - k_mean_g[c] - (x - mean[c])*k_xhat[c]); dresidual (=|+=) g when given.
  void (*batchnorm_backward_apply)(const Shape& s, const uint16_t* dy, const uint16_t* relu_out, const uint16_t* x,
                                   const float* mean, const float* k_dx, const float* k_mean_g,
                                   const float* k_xhat, uint16_t* dx, uint16_t* dresidual, bool accumulate_residual);
  void (*pool_forward)(const Shape& s, const uint16_t* x, float* y);                  // y: fp32 [N][C]
  void (*pool_backward)(const Shape& s, const float* dy, uint16_t* dx, bool accumulate);  // dy: fp32 [N][C]
  // Element-wise over `count` values (layout-free).
  void (*relu_forward)(size_t count, const uint16_t* x, uint16_t* y);
  void (*relu_backward)(size_t count, const uint16_t* dy, const uint16_t* y, uint16_t* dx, bool accumulate);
  void (*add)(size_t count, const uint16_t* a, const uint16_t* b, uint16_t* y);  // y may alias a or b
};

const Bf16Kernels& bf16_kernels();  // needs AVX-512 and AVX512_BF16

}  // namespace dasnet
