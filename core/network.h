// A network is a list of layer nodes over numbered tensors (tensor 0 is the input images).
// The Network owns the parameters (one flat buffer), plans all activation and gradient memory
// once per batch size (core/memory_plan.h), and runs forward and backward.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/layer.h"
#include "core/memory_plan.h"

namespace dasnet {

class Network {
 public:
  explicit Network(Shape sample_shape);
  ~Network() = default;
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Adds a layer fed by the given tensors; returns the id of its output tensor. `name` is the
  // PyTorch module path of the layer's parameters (e.g. "layer1.0.conv1").
  int add(const std::string& name, std::unique_ptr<Layer> layer, std::vector<int> inputs);

  // Declares and allocates parameters on the backend and initializes them from the seed.
  void build(Backend& backend, uint64_t seed);

  // Runs the network on n host images (NCHW floats); returns the logits (N x K, plain).
  const Tensor& forward(const float* host_images, int n, bool training);
  // d(loss)/d(logits) goes here before backward(); valid after a training forward.
  Tensor& logits_gradient();
  // Fills the parameter gradients (overwritten, not accumulated). Needs a training forward.
  void backward();

  Backend& backend() const { return *backend_; }
  ParameterSet& params() { return params_; }
  const ParameterSet& params() const { return params_; }
  Shape sample_shape() const { return tensors_[0].shape; }
  int output_count() const { return int(tensors_.back().shape.per_sample()); }
  size_t node_count() const { return nodes_.size(); }
  // Node i in execution order, for exporters that walk the graph (export/onnx_export.cpp): its
  // PyTorch module name, layer, input tensor ids and output tensor id.
  const std::string& node_name(size_t i) const { return nodes_.at(i).name; }
  const Layer& node_layer(size_t i) const { return *nodes_.at(i).layer; }
  const std::vector<int>& node_inputs(size_t i) const { return nodes_.at(i).inputs; }
  int node_output(size_t i) const { return nodes_.at(i).output; }
  // Planned bytes of activations + gradients + temporaries for a batch.
  size_t planned_bytes(int batch, bool training);

  // Called during backward() as soon as a layer's parameter gradients are final, with the
  // layer's contiguous range [offset, offset + count) of the flat gradient buffer; layers run in
  // reverse order, so ranges arrive from the end of the buffer to its start. Data-parallel
  // training starts reducing gradient buckets here while backward goes on.
  using GradientReady = std::function<void(size_t offset, size_t count)>;
  void set_gradient_ready(GradientReady callback) { gradient_ready_ = std::move(callback); }

  // Synchronized batchnorm: training forward and backward compute batchnorm statistics over the
  // batches of all ranks through `reducer` (not owned; null: this process's batch only).
  void set_channel_reducer(ChannelReducer* reducer) { channel_reducer_ = reducer; }

  // Training forwards update batchnorm's running statistics with this momentum instead of each
  // layer's own (negative: their own again). Precise batchnorm uses it (train/precise_batchnorm.h).
  void set_statistics_momentum(float momentum) { statistics_momentum_ = momentum; }

  // Per-layer wall time (forward, backward incl. recompute), accumulated while profiling is on.
  void set_profiling(bool on) { profiling_ = on; }
  struct LayerProfile {
    std::string name, kind;
    double forward_s = 0, backward_s = 0;  // mean per profiled call
    LayerCost forward, backward;          // backward includes the rebuilds that run before it
  };
  // Per node, for batches of `batch` (the plan's rebuilds follow set_recompute).
  std::vector<LayerProfile> layer_profile(int batch, bool training);

  // Rebuild the outputs of cheap layers (BN+ReLU) for backward instead of keeping them.
  void set_recompute(bool on) {
    recompute_ = on;
    plans_[1].batch = 0;
  }

 private:
  struct TensorInfo {
    Shape shape;  // per sample (n = 1)
    Layout layout = Layout::NCHW;
    DType dtype = DType::F32;  // of the value and of its gradient
    int producer = -1;
    std::vector<int> consumers;
  };
  struct Node {
    std::string name;
    std::unique_ptr<Layer> layer;
    std::vector<int> inputs;
    int output = -1;
    size_t param_offset = 0, param_count = 0;  // the layer's range of the flat buffers
  };
  struct Plan {
    int batch = 0;
    size_t bytes = 0;
    std::vector<size_t> forward_offset;   // per tensor
    std::vector<std::vector<std::pair<int, size_t>>> views_before;  // per node: rebuilt copies (tensor, offset)
    std::vector<size_t> grad_offset;      // per tensor (SIZE_MAX: no gradient)
    std::vector<size_t> scratch_offset;   // per node
    std::vector<std::vector<bool>> accumulate;  // per node, per input
    std::vector<std::vector<int>> recompute_before;  // per node: tensors to rebuild before its backward
  };

  struct PlanBuilder;  // make_plan's phases (network.cpp)
  Plan make_plan(int batch, bool training) const;
  Plan& plan_for(int batch, bool training);
  Tensor view(int tensor, size_t offset, int n) const;
  void ensure_arena(size_t bytes);
  std::vector<Shape> input_shapes(const Node& node, int n) const;

  std::vector<TensorInfo> tensors_;
  std::vector<Node> nodes_;
  ParameterSet params_;
  Backend* backend_ = nullptr;
  bool recompute_ = true;
  Plan plans_[2];  // [0] inference, [1] training
  Buffer arena_;
  size_t arena_bytes_ = 0;
  int current_n_ = 0;
  bool have_training_forward_ = false;
  Tensor logits_, logits_grad_;
  bool profiling_ = false;
  GradientReady gradient_ready_;
  ChannelReducer* channel_reducer_ = nullptr;
  float statistics_momentum_ = -1;
  std::vector<double> forward_seconds_, backward_seconds_;
  long profiled_forwards_ = 0, profiled_backwards_ = 0;
  CostQuery cost_query(const Node& node, int batch) const;
};

}  // namespace dasnet
