// Per-patch min-max scaling of integer samples to floats, one block per patch: one pass for
// the range, one to write (the patch is re-read from L2 for typical patch sizes).
#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_convert.h"

#include <climits>

namespace dasnet::cuda {

namespace {

constexpr int kThreads = 256;

struct MinOp {
  __device__ int operator()(int a, int b) const { return a < b ? a : b; }
};
struct MaxOp {
  __device__ int operator()(int a, int b) const { return a > b ? a : b; }
};

template <typename T>
__global__ void convert_patches_kernel(const T* src, float* dst, uint8_t* status, size_t patch_elements) {
  const T* in = src + blockIdx.x * patch_elements;
  float* out = dst + blockIdx.x * patch_elements;
  int lo = INT_MAX, hi = INT_MIN;
  for (size_t i = threadIdx.x; i < patch_elements; i += blockDim.x) {
    const int v = in[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  lo = block_reduce(lo, MinOp{}, INT_MAX);
  hi = block_reduce(hi, MaxOp{}, INT_MIN);
  __shared__ int range[2];
  if (threadIdx.x == 0) {
    range[0] = lo;
    range[1] = hi;
    status[blockIdx.x] = hi > lo ? kPatchConverted : kPatchConstant;
  }
  __syncthreads();
  lo = range[0];
  hi = range[1];
  if (!(hi > lo)) return;
  // The CPU's arithmetic (patch_to_unit_floats): double scale, one rounding to float.
  const double scale = 1.0 / (double(hi) - double(lo));
  for (size_t i = threadIdx.x; i < patch_elements; i += blockDim.x) out[i] = float((double(in[i]) - lo) * scale);
}

template <typename T>
void convert(const T* src, float* dst, uint8_t* status, int patches, size_t patch_elements, cudaStream_t stream) {
  if (patches <= 0) return;
  convert_patches_kernel<T><<<unsigned(patches), kThreads, 0, stream>>>(src, dst, status, patch_elements);
  DASNET_CUDA_CHECK_LAUNCH();
}

}  // namespace

void convert_patches_to_unit_floats(const int16_t* src, float* dst, uint8_t* status, int patches,
                                    size_t patch_elements, cudaStream_t stream) {
  convert(src, dst, status, patches, patch_elements, stream);
}

void convert_patches_to_unit_floats(const uint8_t* src, float* dst, uint8_t* status, int patches,
                                    size_t patch_elements, cudaStream_t stream) {
  convert(src, dst, status, patches, patch_elements, stream);
}

}  // namespace dasnet::cuda
