// Block-wide reductions in a fixed order (deterministic run to run): warp shuffles, then one
// warp over the per-warp results. Every thread of the block must call; the result is valid in
// thread 0. blockDim.x must be a multiple of 32 (at most 1024).
#pragma once
#include <cuda_runtime.h>

namespace dasnet::cuda {

template <typename T, typename Op>
__device__ inline T block_reduce(T value, Op op, T identity) {
  __shared__ T warp_results[32];
  for (int offset = 16; offset > 0; offset >>= 1) value = op(value, __shfl_down_sync(0xffffffffu, value, offset));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_results[warp] = value;
  __syncthreads();
  const int warps = int(blockDim.x + 31) >> 5;
  value = int(threadIdx.x) < warps ? warp_results[threadIdx.x] : identity;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset >>= 1) value = op(value, __shfl_down_sync(0xffffffffu, value, offset));
  __syncthreads();  // warp_results is reused by the caller's next reduction
  return value;
}

struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const { return a + b; }
};

template <typename T>
__device__ inline T block_sum(T value) {
  return block_reduce(value, SumOp{}, T(0));
}

}  // namespace dasnet::cuda
