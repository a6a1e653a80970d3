#include "engine/backend.h"

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

}  // namespace dasnet
