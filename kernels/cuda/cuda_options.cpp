// CUDA backend options: precision names, the DASNET_CUDA_* environment, and whether a device is
// usable (kept apart from the op dispatch in cuda_backend.cpp).
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/usage_error.h"
#include "kernels/cuda/cuda_backend.h"

namespace dasnet {

CudaPrecision parse_cuda_precision(const std::string& name) {
  if (name == "fp32") return CudaPrecision::Fp32;
  if (name == "tf32") return CudaPrecision::Tf32;
  if (name == "bf16") return CudaPrecision::Bf16;
  if (name == "fp16") return CudaPrecision::Fp16;
  throw UsageError("--precision: unknown precision '" + name + "' (valid: fp32, tf32, bf16, fp16)");
}

const char* cuda_precision_name(CudaPrecision precision) {
  switch (precision) {
    case CudaPrecision::Tf32: return "tf32";
    case CudaPrecision::Bf16: return "bf16";
    case CudaPrecision::Fp16: return "fp16";
    case CudaPrecision::Fp32: break;
  }
  return "fp32";
}

CudaOptions CudaOptions::from_environment() {
  CudaOptions o;
  if (const char* v = std::getenv("DASNET_CUDA_PRECISION"); v && *v) o.precision = parse_cuda_precision(v);
  if (const char* v = std::getenv("DASNET_CUDA_DETERMINISTIC"); v && *v) o.deterministic = std::strcmp(v, "0") != 0;
  if (const char* v = std::getenv("DASNET_CUDA_WORKSPACE_MB"); v && *v) {
    long mb = std::atol(v);
    if (mb <= 0) throw UsageError("DASNET_CUDA_WORKSPACE_MB must be a positive number of MiB, got '" + std::string(v) + "'");
    o.workspace_limit_bytes = size_t(mb) << 20;
  }
  if (const char* v = std::getenv("DASNET_CUDA_DEVICE"); v && *v) {
    char* end = nullptr;
    long device = std::strtol(v, &end, 10);
    if (*end || device < 0) throw UsageError("DASNET_CUDA_DEVICE must be a device index >= 0, got '" + std::string(v) + "'");
    o.device = int(device);
  }
  if (const char* v = std::getenv("DASNET_CUDA_VERBOSE"); v && *v) o.verbose = std::strcmp(v, "0") != 0;
  if (const char* v = std::getenv("DASNET_CUDA_LAYOUT"); v && *v) {
    const std::string layout = v;
    if (layout != "nchw" && layout != "nhwc")
      throw UsageError("DASNET_CUDA_LAYOUT must be nchw or nhwc, got '" + layout + "'");
    o.channels_last = layout == "nhwc";
  }
  if (const char* v = std::getenv("DASNET_CUDA_LOSS_SCALE"); v && *v) {
    char* end = nullptr;
    o.initial_loss_scale = std::strtof(v, &end);
    if (*end || !(o.initial_loss_scale >= 1))
      throw UsageError("DASNET_CUDA_LOSS_SCALE must be a number >= 1, got '" + std::string(v) + "'");
  }
  return o;
}

bool cuda_device_available(std::string* why) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) *why = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device visible";
    return false;
  }
  return true;
}

}  // namespace dasnet
