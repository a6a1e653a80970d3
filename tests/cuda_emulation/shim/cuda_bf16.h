// Host-only stand-in for the CUDA toolkit's cuda_bf16.h (tests/cuda_emulation): the storage
// type and the two conversions the kernels use. No arithmetic operators: the kernels widen to
// float, compute, and round back (kernels/cuda/element_types.cuh).
#pragma once

#include <cstdint>
#include <cstring>

struct __nv_bfloat16 {
  unsigned short x;
};
typedef __nv_bfloat16 nv_bfloat16;

// Round to nearest, ties to even; NaN stays NaN (quieted, sign kept); overflow becomes infinity.
inline __nv_bfloat16 __float2bfloat16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  __nv_bfloat16 out;
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    out.x = static_cast<unsigned short>((bits >> 16) | 0x0040u);
    return out;
  }
  bits += 0x7fffu + ((bits >> 16) & 1u);
  out.x = static_cast<unsigned short>(bits >> 16);
  return out;
}
inline __nv_bfloat16 __float2bfloat16_rn(float value) { return __float2bfloat16(value); }

inline float __bfloat162float(__nv_bfloat16 value) {
  const uint32_t bits = uint32_t(value.x) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}
