// Error checks for CUDA runtime and cuBLAS calls: every failure becomes a std::runtime_error
// naming the call, file and line; device out-of-memory says how much was asked for.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace dasnet::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, call, file, line);
}
inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, call, file, line);
}

// cudaMalloc that throws a clean error on out-of-memory: the bytes requested, what the device
// has free, and the advice to use a smaller batch. `what` names the buffer.
void* device_allocate(size_t bytes, const char* what);

}  // namespace dasnet::cuda

#define DASNET_CUDA_CHECK(call) ::dasnet::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define DASNET_CUBLAS_CHECK(call) ::dasnet::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After a kernel launch: launch-configuration errors surface here, not at a later sync.
#define DASNET_CUDA_CHECK_LAUNCH() ::dasnet::cuda::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
