// ReLU and residual addition as separate layers. The ResNet builder fuses both into BatchNorm
// by default; these are the unfused path (--no-fuse) that the benchmark compares against, and
// the building blocks the fused layer is tested to equal.
#pragma once
#include "core/layer.h"

namespace dasnet {

class Relu : public Layer {
 public:
  std::string kind() const override { return "relu"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return in.at(0); }
  void forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override;
  void backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor& out, const Tensor& dout,
                const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) override;
  bool backward_reads_input(size_t) const override { return false; }
  bool backward_reads_output() const override { return true; }
  bool can_recompute() const override { return true; }
  void recompute(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override { forward(ctx, in, out); }
  LayerCost forward_cost(const CostQuery& q) const override;
  LayerCost backward_cost(const CostQuery& q) const override;
};

class Add : public Layer {
 public:
  std::string kind() const override { return "add"; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override;
  void backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor& out, const Tensor& dout,
                const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) override;
  bool backward_reads_input(size_t) const override { return false; }
  bool can_recompute() const override { return true; }
  void recompute(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override { forward(ctx, in, out); }
  LayerCost forward_cost(const CostQuery& q) const override;
  LayerCost backward_cost(const CostQuery& q) const override;
};

}  // namespace dasnet
