// Convolutions through cuDNN: the only file that calls cuDNN is cudnn_ops.cpp.
// Each (direction, geometry, input shape) gets its descriptors and an algorithm chosen once by
// timing every candidate on the real buffers (cudnnFind*Ex), then cached. One workspace, grown
// to the largest chosen algorithm's need and never past the cap, serves all convolutions.
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "core/backend.h"

namespace dasnet::cuda {

struct ConvolutionOptions {
  bool tf32 = false;           // allow TF32 tensor-core math (else FMA-only fp32 kernels)
  bool deterministic = false;  // only algorithms cuDNN reports as deterministic
  size_t workspace_limit_bytes = size_t(1) << 30;
  bool verbose = false;        // print each algorithm choice to stderr
};

class CudnnConvolutions {
 public:
  CudnnConvolutions(cudaStream_t stream, const ConvolutionOptions& options);
  ~CudnnConvolutions();
  CudnnConvolutions(const CudnnConvolutions&) = delete;
  CudnnConvolutions& operator=(const CudnnConvolutions&) = delete;

  // Tensors are fp32, bf16 or fp16 (x.dtype), NCHW or NHWC (x.layout); w and dw then hold the
  // same type, in OIHW or OHWI order (the backend converts and reorders).
  void forward(const ConvGeometry& g, const Tensor& x, const float* w, Tensor& y);
  // With accumulate, dx += result (cuDNN's beta = 1); scratch (dx.numel() floats) is where the
  // algorithm search writes so that dx keeps its value.
  void backward_data(const ConvGeometry& g, const Tensor& dy, const float* w, Tensor& dx, bool accumulate,
                     float* scratch);
  void backward_weights(const ConvGeometry& g, const Tensor& x, const Tensor& dy, float* dw);

  size_t workspace_bytes() const;
  // Counts workspace reallocations: a captured graph that used the old one must be dropped.
  size_t workspace_reallocations() const;
  // Searching or growing the workspace while the stream is being captured throws: capture only
  // after one plain step of the same shapes.
  static std::string version_string();  // "cuDNN 9.19.0 (compiled with 9.19.0)"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dasnet::cuda
