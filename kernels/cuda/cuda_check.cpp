#include "kernels/cuda/cuda_check.h"

#include <stdexcept>
#include <string>

namespace dasnet::cuda {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error ") + cudaGetErrorName(status) + " (" +
                           cudaGetErrorString(status) + ") in " + call + " at " + file + ":" + std::to_string(line));
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw std::runtime_error("cuBLAS error " + std::to_string(int(status)) + " in " + call + " at " + file + ":" +
                           std::to_string(line));
}

void* device_allocate(size_t bytes, const char* what) {
  void* p = nullptr;
  cudaError_t status = cudaMalloc(&p, bytes == 0 ? 256 : bytes);
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // out-of-memory is not sticky: clear it so the device stays usable
    size_t free_bytes = 0, total_bytes = 0;
    (void)cudaMemGetInfo(&free_bytes, &total_bytes);
    throw std::runtime_error("CUDA out of memory allocating " + std::to_string(bytes >> 20) + " MiB for " + what +
                             " (" + std::to_string(free_bytes >> 20) + " MiB free of " +
                             std::to_string(total_bytes >> 20) + " MiB): try a smaller --batch-size");
  }
  check_cuda(status, "cudaMalloc", __FILE__, __LINE__);
  return p;
}

}  // namespace dasnet::cuda
