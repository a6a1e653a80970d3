#include "kernels/backend_factory.h"
#include "core/usage_error.h"

#include "dasnet/build_config.h"

#include "kernels/cpu_fast.h"
#include "kernels/cpu_reference.h"
#if DASNET_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace dasnet {

BackendKind parse_backend_kind(const std::string& name) {
  if (name == "reference") return BackendKind::Reference;
  if (name == "cpu") return BackendKind::Cpu;
  if (name == "cuda" || name == "gpu") return BackendKind::Cuda;
  throw UsageError("--backend: unknown backend '" + name + "' (valid: cpu, reference, cuda)");
}

std::unique_ptr<Backend> make_backend(BackendKind kind) {
  switch (kind) {
    case BackendKind::Reference: return std::make_unique<ReferenceCpuBackend>();
    case BackendKind::Cpu: return std::make_unique<FastCpuBackend>();
    case BackendKind::Cuda:
#if DASNET_HAVE_CUDA
      return make_cuda_backend(CudaOptions::from_environment());
#else
      throw UsageError("--backend cuda: this build of dasnet has no CUDA backend (configure with a CUDA toolkit and cuDNN)");
#endif
  }
  throw UsageError("unknown backend");
}

std::unique_ptr<Backend> make_backend(BackendKind kind, const std::string& precision) {
  if (precision.empty()) return make_backend(kind);
  if (kind != BackendKind::Cuda) {
    if (precision == "fp32") return make_backend(kind);
    throw UsageError("--precision " + precision + ": the CPU backends compute in fp32 only (other precisions need --backend cuda)");
  }
#if DASNET_HAVE_CUDA
  CudaOptions options = CudaOptions::from_environment();
  options.precision = parse_cuda_precision(precision);
  return make_cuda_backend(options);
#else
  return make_backend(kind);  // says that this build has no CUDA backend
#endif
}

}  // namespace dasnet
