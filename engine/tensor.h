// Tensors: a view of memory owned elsewhere (a backend arena or the parameter buffer).
#pragma once
#include <cstddef>
#include <stdexcept>
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

// Memory order of an activation. NCHW8c keeps 8 consecutive channels innermost (oneDNN's
// nChw8c): one AVX2 register per pixel for per-channel work, and what oneDNN's convolutions
// run fastest on. Only used when the channel count is a multiple of 8.
enum class Layout { NCHW, NCHW8c };

inline int channel_block(Layout l) { return l == Layout::NCHW8c ? 8 : 1; }

struct Tensor {
  float* data = nullptr;
  Shape shape;
  Layout layout = Layout::NCHW;
  size_t numel() const { return shape.numel(); }
};

// Thrown for bad configuration or input: the message names the flag, field or file.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace dasnet
