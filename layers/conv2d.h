// 2-D convolution without bias (every convolution of the study's ResNets is followed by BN).
#pragma once
#include "core/layer.h"

namespace dasnet {

class Conv2d : public Layer {
 public:
  Conv2d(int in_channels, int out_channels, int kernel, int stride, int padding);
  std::string kind() const override { return "conv2d"; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void declare(ParameterSet& ps, const std::string& name) override;
  // The study's initialization: N(0, sqrt(2 / (k*k*out_channels))).
  void initialize(Rng& rng, const ParameterSet& ps, std::vector<float>& host) const override;
  void forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) override;
  void backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor& out, const Tensor& dout,
                const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) override;
  size_t backward_scratch(const Backend& backend, const std::vector<Shape>& in,
                          const std::vector<bool>& accumulate) const override;
  LayerCost forward_cost(const CostQuery& q) const override;
  LayerCost backward_cost(const CostQuery& q) const override;
  const ConvGeometry& geometry() const { return geometry_; }

 private:
  ConvGeometry geometry_;
  size_t weight_slot_ = 0;
};

}  // namespace dasnet
