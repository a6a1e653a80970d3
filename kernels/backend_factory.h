// Makes a backend by name: the one place that knows every backend (reference, fast CPU, CUDA), so
// core/ stays free of them and a new backend is one case here.
#pragma once
#include <memory>
#include <string>

#include "core/backend.h"

namespace dasnet {

enum class BackendKind { Reference, Cpu, Cuda };
BackendKind parse_backend_kind(const std::string& name);  // "reference", "cpu", "cuda"
std::unique_ptr<Backend> make_backend(BackendKind kind);
// With the arithmetic of convolutions and matrix products: "fp32" (every backend), "tf32", "bf16"
// or "fp16" (CUDA); empty: the backend's default (for CUDA, DASNET_CUDA_PRECISION or fp32).
std::unique_ptr<Backend> make_backend(BackendKind kind, const std::string& precision);

}  // namespace dasnet
