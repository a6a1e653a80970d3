#include "layers/linear.h"
#include "core/usage_error.h"

#include <cmath>

namespace dasnet {

Linear::Linear(int in_features, int out_features) : in_features_(in_features), out_features_(out_features) {
  if (in_features <= 0 || out_features <= 0) throw UsageError("linear: feature counts must be positive");
}

Shape Linear::output_shape(const std::vector<Shape>& in) const {
  if (int(in.at(0).per_sample()) != in_features_)
    throw UsageError("linear: input has " + std::to_string(in.at(0).per_sample()) + " features, expected " +
                     std::to_string(in_features_));
  return {in[0].n, out_features_, 1, 1};
}

void Linear::declare(ParameterSet& ps, const std::string& name) {
  weight_slot_ = ps.add_parameter(name + ".weight", {size_t(out_features_), size_t(in_features_)}, ParamRole::LinearWeight);
  bias_slot_ = ps.add_parameter(name + ".bias", {size_t(out_features_)}, ParamRole::LinearBias);
}

void Linear::initialize(Rng& rng, const ParameterSet& ps, std::vector<float>& host) const {
  float bound = 1.0f / std::sqrt(float(in_features_));
  for (size_t slot : {weight_slot_, bias_slot_}) {
    const ParamSlot& s = ps.slot(slot);
    for (size_t i = 0; i < s.count; ++i) host[s.offset + i] = rng.uniform(-bound, bound);
  }
}

void Linear::forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) {
  ctx.backend.linear_forward(*in[0], ctx.params.param(weight_slot_), ctx.params.param(bias_slot_), out_features_, out);
}

void Linear::backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor&, const Tensor& dout,
                      const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) {
  ctx.backend.linear_backward(*in[0], dout, ctx.params.param(weight_slot_), out_features_, din[0], accumulate[0],
                              ctx.params.grad(weight_slot_), ctx.params.grad(bias_slot_));
}

}  // namespace dasnet
