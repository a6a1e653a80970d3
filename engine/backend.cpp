#include "engine/backend.h"

#include "dasnet/build_config.h"

#include "kernels/cpu_fast.h"
#include "kernels/cpu_reference.h"
#if DASNET_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace dasnet {

void validate_labels(OutputMode mode, int n, int k, const int* labels) {
  if (mode == OutputMode::Sigmoid && k != 1) throw UsageError("sigmoid output needs exactly 1 output neuron");
  if (mode == OutputMode::Softmax && k < 2) throw UsageError("softmax output needs at least 2 output neurons");
  for (int i = 0; i < n; ++i) {
    const int label = labels[i];
    const bool bad = (mode == OutputMode::Softmax && (label < 0 || label >= k)) ||
                     (mode == OutputMode::Sigmoid && (label < 0 || label > 1)) ||
                     (mode == OutputMode::Multilabel && (label < 0 || (k < 31 && label >= (1 << k))));
    if (bad)
      throw UsageError("label " + std::to_string(label) + " of sample " + std::to_string(i) + " does not fit " +
                       std::to_string(k) + " output neuron(s)");
  }
}

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
