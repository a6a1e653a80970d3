#include "layers/batchnorm.h"
#include "core/usage_error.h"

#include <algorithm>
#include <vector>

namespace dasnet {

BatchNorm::BatchNorm(int channels, bool relu, bool residual, float momentum, float eps)
    : channels_(channels), relu_(relu), residual_(residual), momentum_(momentum), eps_(eps) {}

std::string BatchNorm::kind() const {
  return std::string("batchnorm") + (residual_ ? "+add" : "") + (relu_ ? "+relu" : "");
}

Shape BatchNorm::output_shape(const std::vector<Shape>& in) const {
  if (in.size() != (residual_ ? 2u : 1u)) throw std::logic_error("batchnorm: wrong number of inputs");
  if (in[0].c != channels_)
    throw UsageError("batchnorm: input has " + std::to_string(in[0].c) + " channels, expected " +
                     std::to_string(channels_));
  if (residual_ && in[1] != in[0])
    throw UsageError("batchnorm: residual " + in[1].str() + " does not match input " + in[0].str());
  return in[0];
}

void BatchNorm::declare(ParameterSet& ps, const std::string& name) {
  gamma_slot_ = ps.add_parameter(name + ".weight", {size_t(channels_)}, ParamRole::BatchNormWeight);
  beta_slot_ = ps.add_parameter(name + ".bias", {size_t(channels_)}, ParamRole::BatchNormBias);
  mean_slot_ = ps.add_state(name + ".running_mean", {size_t(channels_)}, 0.0f);
  var_slot_ = ps.add_state(name + ".running_var", {size_t(channels_)}, 1.0f);
}

void BatchNorm::initialize(Rng&, const ParameterSet& ps, std::vector<float>& host) const {
  for (int c = 0; c < channels_; ++c) {
    host[ps.slot(gamma_slot_).offset + c] = 1.0f;
    host[ps.slot(beta_slot_).offset + c] = 0.0f;
  }
}

void BatchNorm::bind(Backend& backend, const std::vector<Shape>&) {
  if (!saved_) saved_ = backend.allocate(size_t(5) * channels_);
}

void BatchNorm::forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) {
  const Tensor& x = *in[0];
  long count = long(x.shape.n) * x.shape.h * x.shape.w;
  if (ctx.training && ctx.channel_reducer) {
    count = global_statistics(*ctx.channel_reducer, ctx.backend, x);
  } else if (ctx.training) {
    if (count < 2)
      throw UsageError("batchnorm: training needs more than one value per channel (batch " +
                       std::to_string(x.shape.n) + ", " + std::to_string(x.shape.h) + "x" +
                       std::to_string(x.shape.w) + ")");
    ctx.backend.channel_statistics(x, batch_mean(), batch_var());
  }
  ctx.backend.batchnorm_coefficients(channels_, batch_mean(), batch_var(), ctx.params.param(gamma_slot_),
                                     ctx.params.param(beta_slot_), ctx.params.state(mean_slot_),
                                     ctx.params.state(var_slot_), count,
                                     ctx.statistics_momentum >= 0 ? ctx.statistics_momentum : momentum_, eps_,
                                     ctx.training, scale(),
                                     shift(), invstd());
  ctx.backend.scale_shift_activate(x, scale(), shift(), residual_ ? in[1] : nullptr, relu_, out);
}

long BatchNorm::global_statistics(ChannelReducer& reducer, Backend& backend, const Tensor& x) {
  const size_t channels = size_t(channels_);
  std::vector<double> sums(2 * channels);
  backend.channel_sums(x, sums.data());
  const double count = sum_with_count(reducer, sums, double(x.shape.n) * x.shape.h * x.shape.w);
  if (count < 2) throw UsageError("batchnorm: training needs more than one value per channel over all ranks");
  // batch_mean() and batch_var() are adjacent: one upload.
  std::vector<float> mean_var(2 * channels);
  for (size_t c = 0; c < channels; ++c) {
    const double mean = sums[c] / count;
    mean_var[c] = float(mean);
    mean_var[channels + c] = float(std::max(sums[channels + c] / count - mean * mean, 0.0));
  }
  backend.copy_from_host(batch_mean(), mean_var.data(), mean_var.size());
  return long(count);
}

void BatchNorm::recompute(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) {
  ctx.backend.scale_shift_activate(*in[0], scale(), shift(), residual_ ? in[1] : nullptr, relu_, out);
}

// Training: a statistics pass over x; then the apply pass reads x (and the residual), writes y.
LayerCost BatchNorm::forward_cost(const CostQuery& q) const {
  LayerCost cost;
  cost.touch(q.in[0], q.in_dtype[0], q.training ? 2 : 1);
  if (residual_) cost.touch(q.in[1], q.in_dtype[1]);
  cost.touch(q.out, q.out_dtype);
  return cost;
}

// A sums pass and an apply pass, each reading dy, x and (through a ReLU) y; the apply pass writes
// dx and the residual's gradient (read too when it accumulates).
LayerCost BatchNorm::backward_cost(const CostQuery& q) const {
  LayerCost cost;
  cost.touch(q.out, q.out_dtype, relu_ ? 4 : 2);
  cost.touch(q.in[0], q.in_dtype[0], 3);
  if (residual_ && q.needs_gradient[1]) cost.touch(q.in[1], q.in_dtype[1], q.accumulate[1] ? 2 : 1);
  return cost;
}

void BatchNorm::backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor& out,
                         const Tensor& dout, const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) {
  if (!din[0]) throw std::logic_error("batchnorm backward without an input gradient");
  if (accumulate[0]) throw std::logic_error("batchnorm backward cannot accumulate its input gradient");
  Tensor* dres = residual_ ? din[1] : nullptr;
  ctx.backend.batchnorm_backward(dout, relu_ ? &out : nullptr, *in[0], batch_mean(), invstd(),
                                 ctx.params.param(gamma_slot_), *din[0], ctx.params.grad(gamma_slot_),
                                 ctx.params.grad(beta_slot_), dres, residual_ && accumulate[1], ctx.channel_reducer);
}

}  // namespace dasnet
