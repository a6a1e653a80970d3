// Batch normalization (PyTorch semantics: batch statistics in training, running statistics
// updated with momentum and the unbiased variance; running statistics in eval; eps 1e-5),
// optionally fused with a residual add and a ReLU: y = relu(bn(x) + residual). Fusing saves two
// passes over memory and two stored activations per residual block. With a channel reducer in the
// context (synchronized batchnorm, PyTorch's SyncBatchNorm), training uses the mean and variance
// over the batches of all ranks, and backward sums its per-channel terms over the ranks too.
#pragma once
#include "core/layer.h"

namespace dasnet {

// PyTorch's default: running = 0.9 running + 0.1 batch.
constexpr float kBatchNormMomentum = 0.1f;

class BatchNorm : public Layer {
 public:
  // With `residual`, the layer takes a second input of the same shape.
  BatchNorm(int channels, bool relu, bool residual, float momentum = kBatchNormMomentum, float eps = 1e-5f);
  std::string kind() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void declare(ParameterSet& ps, const std::string& name) override;
  void initialize(Rng& rng, const ParameterSet& ps, std::vector<float>& host) const override;
  void bind(Backend& backend, const std::vector<Shape>& in) override;
  void forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override;
  void backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor& out, const Tensor& dout,
                const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) override;
  bool backward_reads_input(size_t i) const override { return i == 0; }
  bool backward_reads_output() const override { return relu_; }
  bool can_recompute() const override { return true; }
  // Elementwise in its second pass: dx[i] is written after x[i] is read, dresidual[i] after dy[i].
  GradientInPlace gradient_in_place(size_t input) const override {
    return input == 0 ? GradientInPlace::OverInputValue : GradientInPlace::OverOutputGradient;
  }
  // Its input gradient is computed from the batch's sums and written whole (in place): never added to.
  bool can_accumulate_gradient(size_t input) const override { return input != 0; }
  void recompute(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override;
  bool relu() const { return relu_; }
  bool residual() const { return residual_; }
  float eps() const { return eps_; }
  LayerCost forward_cost(const CostQuery& q) const override;
  LayerCost backward_cost(const CostQuery& q) const override;

 private:
  int channels_;
  bool relu_, residual_;
  float momentum_, eps_;
  size_t gamma_slot_ = 0, beta_slot_ = 0, mean_slot_ = 0, var_slot_ = 0;
  // Per-channel vectors on the backend: batch mean/var, invstd, scale, shift of the last forward.
  Buffer saved_;
  // Synchronized batchnorm: mean and biased variance over every rank's batch into batch_mean()
  // and batch_var(); returns the global value count.
  long global_statistics(ChannelReducer& reducer, Backend& backend, const Tensor& x);
  float* batch_mean() const { return saved_.data(); }
  float* batch_var() const { return saved_.data() + channels_; }
  float* invstd() const { return saved_.data() + 2 * channels_; }
  float* scale() const { return saved_.data() + 3 * channels_; }
  float* shift() const { return saved_.data() + 4 * channels_; }
};

}  // namespace dasnet
