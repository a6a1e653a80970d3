#include "layers/conv2d.h"
#include "core/usage_error.h"

#include <cmath>

namespace dasnet {

Conv2d::Conv2d(int in_channels, int out_channels, int kernel, int stride, int padding) {
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0 || padding < 0)
    throw UsageError("conv2d: channels, kernel and stride must be positive, padding non-negative");
  geometry_ = {in_channels, out_channels, kernel, stride, padding};
}

Shape Conv2d::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.c != geometry_.in_channels)
    throw UsageError("conv2d: input has " + std::to_string(x.c) + " channels, layer expects " +
                     std::to_string(geometry_.in_channels));
  Shape y = geometry_.output_shape(x);
  if (y.h <= 0 || y.w <= 0)
    throw UsageError("conv2d: input " + std::to_string(x.h) + "x" + std::to_string(x.w) + " is too small for a " +
                     std::to_string(geometry_.kernel) + "x" + std::to_string(geometry_.kernel) + " kernel");
  return y;
}

void Conv2d::declare(ParameterSet& ps, const std::string& name) {
  weight_slot_ = ps.add_parameter(name + ".weight",
                                  {size_t(geometry_.out_channels), size_t(geometry_.in_channels),
                                   size_t(geometry_.kernel), size_t(geometry_.kernel)},
                                  ParamRole::ConvWeight);
}

void Conv2d::initialize(Rng& rng, const ParameterSet& ps, std::vector<float>& host) const {
  const ParamSlot& s = ps.slot(weight_slot_);
  float stddev = std::sqrt(2.0f / float(geometry_.kernel * geometry_.kernel * geometry_.out_channels));
  for (size_t i = 0; i < s.count; ++i) host[s.offset + i] = rng.normal() * stddev;
}

void Conv2d::forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) {
  ctx.backend.conv_forward(geometry_, *in[0], ctx.params.param(weight_slot_), out);
}

void Conv2d::backward(LayerContext& ctx, const std::vector<const Tensor*>& in, const Tensor&, const Tensor& dout,
                      const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) {
  ctx.backend.conv_backward_weights(geometry_, *in[0], dout, ctx.params.grad(weight_slot_));
  if (din[0])
    ctx.backend.conv_backward_data(geometry_, dout, ctx.params.param(weight_slot_), *din[0], accumulate[0],
                                   ctx.scratch);
}

namespace {
double multiply_add_flops(const ConvGeometry& g, const Shape& out) {
  return 2.0 * g.kernel * g.kernel * g.in_channels * double(out.numel());
}
}  // namespace

LayerCost Conv2d::forward_cost(const CostQuery& q) const {
  LayerCost cost;
  cost.flops = multiply_add_flops(geometry_, q.out);
  cost.touch(q.in[0], q.in_dtype[0]);
  cost.touch(q.out, q.out_dtype);
  return cost;
}

// Weight gradient (reads x and dy), then the data gradient when wanted (reads dy, writes dx);
// a backend that accumulates through scratch also writes and reads the scratch and reads dx.
LayerCost Conv2d::backward_cost(const CostQuery& q) const {
  LayerCost cost;
  cost.flops = multiply_add_flops(geometry_, q.out);
  cost.touch(q.in[0], q.in_dtype[0]);
  cost.touch(q.out, q.out_dtype);
  if (!q.needs_gradient[0]) return cost;
  cost.flops += multiply_add_flops(geometry_, q.out);
  cost.touch(q.out, q.out_dtype);
  cost.touch(q.in[0], q.in_dtype[0]);
  if (q.accumulate[0]) cost.touch(q.in[0], q.in_dtype[0], q.backend.conv_accumulate_scratch(q.in[0]) ? 3 : 1);
  return cost;
}

size_t Conv2d::backward_scratch(const Backend& backend, const std::vector<Shape>& in,
                                const std::vector<bool>& accumulate) const {
  return accumulate.at(0) ? backend.conv_accumulate_scratch(in.at(0)) : 0;
}

}  // namespace dasnet
