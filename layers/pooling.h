// Global average pooling: N x C x H x W -> N x C (plain layout, the linear layer's input).
#pragma once
#include "core/layer.h"

namespace dasnet {

class GlobalAvgPool : public Layer {
 public:
  std::string kind() const override { return "global_avg_pool"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return {in.at(0).n, in.at(0).c, 1, 1}; }
  Layout output_layout(const Backend&, const Shape&) const override { return Layout::NCHW; }
  DType output_dtype(const Backend&) const override { return DType::F32; }
  void forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override {
    ctx.backend.global_avg_pool_forward(*in[0], out);
  }
  void backward(LayerContext& ctx, const std::vector<const Tensor*>&, const Tensor&, const Tensor& dout,
                const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) override {
    if (din[0]) ctx.backend.global_avg_pool_backward(dout, *din[0], accumulate[0]);
  }
  bool backward_reads_input(size_t) const override { return false; }
  LayerCost forward_cost(const CostQuery& q) const override {
    LayerCost cost;
    cost.touch(q.in[0], q.in_dtype[0]);
    return cost;
  }
  LayerCost backward_cost(const CostQuery& q) const override {
    LayerCost cost;
    if (q.needs_gradient[0]) cost.touch(q.in[0], q.in_dtype[0], q.accumulate[0] ? 2 : 1);
    return cost;
  }
};

}  // namespace dasnet
