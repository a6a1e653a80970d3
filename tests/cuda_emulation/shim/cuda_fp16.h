// Host-only stand-in for the CUDA toolkit's cuda_fp16.h (tests/cuda_emulation): the storage
// type and the conversions the kernels use. No arithmetic operators: the kernels widen to float,
// compute, and round back (kernels/cuda/element_types.cuh).
#pragma once

#include <cstdint>
#include <cstring>

struct __half {
  unsigned short x;
};
typedef __half half;

// Round to nearest, ties to even (subnormals included); NaN stays NaN; beyond 65504 (from the
// halfway point 65520 on) becomes infinity.
inline __half __float2half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const uint32_t sign = bits & 0x80000000u;
  bits ^= sign;
  uint32_t out;
  if (bits >= 0x47800000u) {  // >= 65536, infinity or NaN
    out = bits > 0x7f800000u ? 0x7e00u | ((bits >> 13) & 0x3ffu) : 0x7c00u;
  } else if (bits < (113u << 23)) {  // below 2^-14: a half subnormal or zero
    // Adding 0.5f puts the 10 half-mantissa bits at the bottom; the float add rounds to even.
    float f;
    std::memcpy(&f, &bits, sizeof f);
    f += 0.5f;
    uint32_t rounded;
    std::memcpy(&rounded, &f, sizeof rounded);
    out = rounded - 0x3f000000u;
  } else {
    const uint32_t odd = (bits >> 13) & 1u;
    bits += (uint32_t(15 - 127) << 23) + 0xfffu + odd;  // rebias; a mantissa carry may reach infinity
    out = bits >> 13;
  }
  __half h;
  h.x = static_cast<unsigned short>(out | (sign >> 16));
  return h;
}
inline __half __float2half_rn(float value) { return __float2half(value); }

inline float __half2float(__half value) {
  const uint32_t sign = uint32_t(value.x & 0x8000u) << 16;
  const uint32_t exponent = (value.x >> 10) & 0x1fu, mantissa = value.x & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = float(mantissa) * 5.9604644775390625e-8f;
    std::memcpy(&bits, &magnitude, sizeof bits);
    bits |= sign;
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}
