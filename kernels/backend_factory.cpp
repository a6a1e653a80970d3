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

// The fast CPU backend with bf16 convolutions, or why this CPU cannot run it.
std::unique_ptr<Backend> make_cpu_bf16_backend() {
  if (!cpu_has_avx512_bf16())
    throw UsageError("--precision bf16 --backend cpu: this CPU lacks AVX512_BF16 (the bf16 convolutions need it); use --precision fp32");
  if (cpu_isa() != CpuIsa::Avx512)
    throw UsageError("--precision bf16 --backend cpu: needs the avx512 kernels (DASNET_CPU_ISA forces " +
                     std::string(cpu_isa_name(cpu_isa())) + ")");
  return std::make_unique<FastCpuBackend>(CpuIsa::Avx512, true);
}

std::unique_ptr<Backend> make_backend(BackendKind kind, const std::string& precision) {
  if (precision.empty()) return make_backend(kind);
  if (kind != BackendKind::Cuda) {
    if (precision == "fp32") return make_backend(kind);
    if (precision == "bf16" && kind == BackendKind::Cpu) return make_cpu_bf16_backend();
    throw UsageError("--precision " + precision + ": --backend " + (kind == BackendKind::Cpu ? "cpu" : "reference") +
                     " computes in fp32" + (kind == BackendKind::Cpu ? " or bf16" : " only") +
                     " (other precisions need --backend cuda)");
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
