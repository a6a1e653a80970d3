#include "layers/elementwise.h"
#include "core/usage_error.h"

namespace dasnet {

void Relu::forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) {
  ctx.backend.relu_forward(*in[0], out);
}

void Relu::backward(LayerContext& ctx, const std::vector<const Tensor*>&, const Tensor& out, const Tensor& dout,
                    const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) {
  if (din[0]) ctx.backend.relu_backward(dout, out, *din[0], accumulate[0]);
}

Shape Add::output_shape(const std::vector<Shape>& in) const {
  if (in.size() != 2 || in[0] != in[1]) throw UsageError("add: inputs must have the same shape");
  return in[0];
}

void Add::forward(LayerContext& ctx, const std::vector<const Tensor*>& in, Tensor& out) {
  ctx.backend.add(*in[0], *in[1], out);
}

void Add::backward(LayerContext& ctx, const std::vector<const Tensor*>&, const Tensor&, const Tensor& dout,
                   const std::vector<Tensor*>& din, const std::vector<bool>& accumulate) {
  for (size_t i = 0; i < 2; ++i)
    if (din[i]) ctx.backend.pass_gradient(dout, *din[i], accumulate[i]);
}

// Each reads its inputs once and writes its output once.
LayerCost Relu::forward_cost(const CostQuery& q) const {
  LayerCost cost;
  cost.touch(q.in[0], q.in_dtype[0]);
  cost.touch(q.out, q.out_dtype);
  return cost;
}
LayerCost Add::forward_cost(const CostQuery& q) const {
  LayerCost cost;
  for (size_t i = 0; i < 2; ++i) cost.touch(q.in[i], q.in_dtype[i]);
  cost.touch(q.out, q.out_dtype);
  return cost;
}

// Reads dy (and y), writes dx (reading it first when accumulating).
LayerCost Relu::backward_cost(const CostQuery& q) const {
  LayerCost cost;
  if (!q.needs_gradient[0]) return cost;
  cost.touch(q.out, q.out_dtype, 2);
  cost.touch(q.in[0], q.in_dtype[0], q.accumulate[0] ? 2 : 1);
  return cost;
}
LayerCost Add::backward_cost(const CostQuery& q) const {
  LayerCost cost;
  for (size_t i = 0; i < 2; ++i) {
    if (!q.needs_gradient[i]) continue;
    cost.touch(q.out, q.out_dtype);
    cost.touch(q.in[i], q.in_dtype[i], q.accumulate[i] ? 2 : 1);
  }
  return cost;
}

}  // namespace dasnet
