// Runs one layer by hand on a backend (no Network), for gradient checks and backend
// comparisons: inputs, parameters and the output projection are host NCHW vectors.
#pragma once
#include <memory>
#include <vector>

#include "core/layer.h"

namespace dasnet::testing {

class LayerHarness {
 public:
  LayerHarness(Backend& backend, Layer& layer, std::vector<Shape> input_shapes, uint64_t seed);

  std::vector<std::vector<float>> inputs;  // host NCHW, one per input
  std::vector<float> params;               // host copy of the layer's parameters
  Shape output_shape;

  // Forward: returns the output (host NCHW).
  std::vector<float> forward(bool training = true);
  // Objective sum(output * projection) in double, for finite differences.
  double objective(const std::vector<float>& projection, bool training = true);
  // Backward with dout = projection: input gradients (host NCHW) and parameter gradients. With
  // `accumulate`, the input gradients start from a fixed pattern (input i's values / 2) and the
  // layer adds to them, as for a tensor read by several layers.
  void backward(const std::vector<float>& projection, std::vector<std::vector<float>>& input_grads,
                std::vector<float>& param_grads, bool training = true, bool accumulate = false);
  // Whether every op so far kept to its tensors: the guard after each is still poisoned.
  bool guards_intact();

 private:
  Backend& backend_;
  Layer& layer_;
  ParameterSet ps_;
  std::vector<Shape> shapes_;
  std::vector<Tensor> in_, din_;
  Tensor out_, dout_;
  Buffer scratch_;
  std::vector<Buffer> owned_;
  // Each tensor is allocated at its element type's size, followed by a poisoned guard.
  static constexpr size_t kGuardFloats = 64;
  Tensor make(const Shape& s, Layout layout, DType dtype);
  static float guard_value();
  std::vector<Tensor> guarded_;
  void poison(Tensor& t);
  void upload();
};

// Largest |a - b| / max(max |b|, floor) over all elements.
double max_relative_error(const std::vector<float>& a, const std::vector<float>& b, double floor = 1e-6);

}  // namespace dasnet::testing
