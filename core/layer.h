// The layer contract (Caffe's lesson, kept small): a layer knows its output shape, declares its
// parameters in the network's flat ParameterSet, and has a forward and a backward that run only
// backend ops. Activations and gradients are owned and planned by the Network, never by layers.
#pragma once
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/channel_reducer.h"
#include "core/parameters.h"
#include "core/rng.h"
#include "core/usage_error.h"

namespace dasnet {

struct LayerContext {
  Backend& backend;
  ParameterSet& params;
  bool training = true;
  float* scratch = nullptr;  // backward_scratch() floats, valid during backward only
  // Synchronized batchnorm in data-parallel training: statistics over every rank's batch.
  ChannelReducer* channel_reducer = nullptr;
  // Training forward: the momentum of batchnorm's running statistics for this forward; negative:
  // each layer's own (precise batchnorm, train/precise_batchnorm.h, averages batches with it).
  float statistics_momentum = -1;
};

// Arithmetic and activation traffic of one layer call, for profiles (bench_train --profile):
// FLOPs (2 per multiply-add) and the activation-sized tensors the backend's passes read or write
// (each counted once per pass: the compulsory memory traffic when a tensor exceeds the caches;
// weights and per-channel vectors are left out, they stay in cache).
struct LayerCost {
  double flops = 0;
  double bytes = 0;
  int passes = 0;  // tensor reads + writes
  void touch(const Shape& s, DType dtype, int times = 1) {
    bytes += double(storage_floats(s.numel(), dtype)) * sizeof(float) * times;
    passes += times;
  }
  LayerCost& operator+=(const LayerCost& o) {
    flops += o.flops, bytes += o.bytes, passes += o.passes;
    return *this;
  }
};

// What a cost depends on: the backend (how it implements accumulation), the tensors of one call
// (batch included) and, for backward, which input gradients are wanted and which accumulate.
struct CostQuery {
  const Backend& backend;
  std::vector<Shape> in;
  std::vector<DType> in_dtype;
  Shape out;
  DType out_dtype = DType::F32;
  bool training = true;                     // forward: batch statistics are computed
  std::vector<bool> needs_gradient, accumulate;  // backward, per input
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string kind() const = 0;

  // Validates the input shapes (throw UsageError naming the layer) and returns the output shape.
  virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;
  // The layout of the output on a backend (default: the backend's activation layout).
  virtual Layout output_layout(const Backend& backend, const Shape& out) const {
    return backend.activation_layout(out.c);
  }
  // The element types of the inputs and of the output (and of their gradients): default the
  // backend's activation type. The network checks that each input matches its producer's output.
  virtual DType input_dtype(const Backend& backend) const { return backend.activation_dtype(); }
  virtual DType output_dtype(const Backend& backend) const { return backend.activation_dtype(); }

  // Parameters and state: reserve slots (names follow PyTorch's state_dict) ...
  virtual void declare(ParameterSet&, const std::string& /*name*/) {}
  // ... and give them their initial values (host copies, in declaration order).
  virtual void initialize(Rng&, const ParameterSet&, std::vector<float>& /*host_params*/) const {}
  // Allocate small per-layer buffers (e.g. saved batch statistics) once the backend is known;
  // they release themselves with the layer.
  virtual void bind(Backend&, const std::vector<Shape>& /*inputs*/) {}

  virtual void forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) = 0;
  // din[i] is null when input i needs no gradient; accumulate[i] says add instead of overwrite.
  virtual void backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor& out,
                        const Tensor& dout, const std::vector<Tensor*>& din,
                        const std::vector<bool>& accumulate) = 0;

  // What backward reads, so the planner keeps only that alive.
  virtual bool backward_reads_input(size_t) const { return true; }
  virtual bool backward_reads_output() const { return false; }
  // Where backward may write the gradient of input i in place, when it is the first to write
  // it: over that input's own value (read for the last time in this backward), or over the
  // gradient of the output. Lets the planner reuse memory instead of adding a buffer.
  enum class GradientInPlace { No, OverInputValue, OverOutputGradient };
  virtual GradientInPlace gradient_in_place(size_t /*input*/) const { return GradientInPlace::No; }
  // Whether backward can add to input i's gradient (accumulate) instead of writing it.
  virtual bool can_accumulate_gradient(size_t /*input*/) const { return true; }
  // Floats of temporary memory backward needs (given which inputs accumulate).
  virtual size_t backward_scratch(const Backend&, const std::vector<Shape>&, const std::vector<bool>&) const {
    return 0;
  }

  // A layer whose output is cheap to recompute from its inputs (with the statistics of the
  // last forward, and no state update) lets the planner drop the output after its last forward
  // use and rebuild it for backward.
  virtual bool can_recompute() const { return false; }
  virtual void recompute(LayerContext&, const std::vector<const Tensor*>&, Tensor&) {}

  // Cost of one forward (recompute: a forward with training false) and of one backward.
  virtual LayerCost forward_cost(const CostQuery&) const { return {}; }
  virtual LayerCost backward_cost(const CostQuery&) const { return {}; }
};

}  // namespace dasnet
