// Tensors: a view of memory owned elsewhere (a backend arena or the parameter buffer).
#pragma once
#include <cstddef>
#include <string>

namespace dasnet {

// Activations are 4-D (batch, channels, height, width). For DAS images height is fiber
// channels (distance) and width is time samples.
struct Shape {
  int n = 1, c = 1, h = 1, w = 1;
  size_t numel() const { return size_t(n) * c * h * w; }
  size_t per_sample() const { return size_t(c) * h * w; }
  bool operator==(const Shape& o) const { return n == o.n && c == o.c && h == o.h && w == o.w; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const {
    return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }
};

// Memory order of an activation. NCHW8c / NCHW16c keep 8 / 16 consecutive channels innermost
// (oneDNN's nChw8c / nChw16c): one AVX2 / AVX-512 register per pixel for per-channel work, and
// what oneDNN's convolutions run fastest on for that ISA. Only used when the channel count is a
// multiple of the block. NHWC (channels last) is
// what GPU tensor cores convolve natively (the CUDA backend's layout for tensor-core math).
enum class Layout { NCHW, NCHW8c, NHWC, NCHW16c };

inline int channel_block(Layout l) { return l == Layout::NCHW8c ? 8 : l == Layout::NCHW16c ? 16 : 1; }
inline const char* layout_name(Layout l) {
  return l == Layout::NCHW8c ? "nchw8c" : l == Layout::NCHW16c ? "nchw16c" : l == Layout::NHWC ? "nhwc" : "nchw";
}

// Element type of an activation or activation gradient. Parameters, their gradients, batchnorm
// statistics and the logits are always fp32; a mixed-precision backend (CUDA bf16 or fp16) keeps
// the large 4-D activations and their gradients in 16 bits, halving their memory traffic.
enum class DType { F32, BF16, F16 };

inline const char* dtype_name(DType d) { return d == DType::BF16 ? "bf16" : d == DType::F16 ? "fp16" : "fp32"; }

// Floats of storage that `count` elements of `dtype` occupy (memory is planned in floats).
inline size_t storage_floats(size_t count, DType dtype) { return dtype == DType::F32 ? count : (count + 1) / 2; }

struct Tensor {
  float* data = nullptr;  // points at `dtype` elements (16-bit ones for BF16 / F16: device memory only)
  Shape shape;
  Layout layout = Layout::NCHW;
  DType dtype = DType::F32;
  size_t numel() const { return shape.numel(); }
};

}  // namespace dasnet
