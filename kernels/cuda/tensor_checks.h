// The CUDA backend's per-op checks of element types and layouts, in one place: a mismatch is a
// programming error (layers and the memory plan decide both), reported naming the op.
#pragma once
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "core/tensor.h"

namespace dasnet::cuda {

// NCHW or NHWC (the CUDA backend's layouts); true for NHWC.
inline bool channels_last(const Tensor& t, const char* op) {
  if (t.layout != Layout::NCHW && t.layout != Layout::NHWC)
    throw std::logic_error(std::string(op) + ": the CUDA backend takes NCHW or NHWC tensors");
  return t.layout == Layout::NHWC;
}

inline void require_dtype(const Tensor& t, DType expected, const char* op) {
  if (t.dtype != expected)
    throw std::logic_error(std::string(op) + ": " + dtype_name(t.dtype) + " tensor where " + dtype_name(expected) +
                           " was expected");
}

// Every tensor in `others` (null ones skipped) has the element type and layout of `like`.
inline void require_like(const Tensor& like, std::initializer_list<const Tensor*> others, const char* op) {
  for (const Tensor* t : others) {
    if (!t) continue;
    require_dtype(*t, like.dtype, op);
    if (t->layout != like.layout) throw std::logic_error(std::string(op) + ": tensors of different layouts");
  }
}

// The linear layer's features must be fp32 in PyTorch's (C, H, W) order: NCHW, or a map of one
// pixel (pooled).
inline void require_linear_features(const Tensor& x, const char* op) {
  require_dtype(x, DType::F32, op);
  if (x.layout != Layout::NCHW && size_t(x.shape.h) * x.shape.w != 1)
    throw std::logic_error(std::string(op) + ": NHWC features of more than one pixel would be in HWC order");
}

}  // namespace dasnet::cuda
