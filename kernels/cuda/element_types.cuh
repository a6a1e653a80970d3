// Element types of activations in the hand-written kernels: fp32, or bf16 / fp16 in mixed
// precision. Arithmetic is always fp32 (or double for sums): loads widen, stores round to nearest
// even. Kernels and launchers that touch activations are templates over T = float,
// __nv_bfloat16 or __half, instantiated for all three in their .cu file.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace dasnet::cuda {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16(v); }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half(v); }

}  // namespace dasnet::cuda
