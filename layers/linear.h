// Fully connected layer y = x W^T + b, initialized as PyTorch's nn.Linear
// (weight and bias uniform in +-1/sqrt(in_features)).
#pragma once
#include "core/layer.h"

namespace dasnet {

class Linear : public Layer {
 public:
  Linear(int in_features, int out_features);
  std::string kind() const override { return "linear"; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  Layout output_layout(const Backend&, const Shape&) const override { return Layout::NCHW; }
  DType input_dtype(const Backend&) const override { return DType::F32; }  // pooled features
  DType output_dtype(const Backend&) const override { return DType::F32; }
  void declare(ParameterSet& ps, const std::string& name) override;
  void initialize(Rng& rng, const ParameterSet& ps, std::vector<float>& host) const override;
  void forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override;
  void backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor& out, const Tensor& dout,
                const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) override;
  // Arithmetic only: its tensors are N x features, far below an activation's size.
  LayerCost forward_cost(const CostQuery& q) const override {
    LayerCost cost;
    cost.flops = 2.0 * q.in[0].numel() * out_features_;
    return cost;
  }
  LayerCost backward_cost(const CostQuery& q) const override {
    LayerCost cost;
    cost.flops = 2.0 * q.in[0].numel() * out_features_ * (q.needs_gradient[0] ? 2 : 1);
    return cost;
  }

 private:
  int in_features_, out_features_;
  size_t weight_slot_ = 0, bias_slot_ = 0;
};

}  // namespace dasnet
