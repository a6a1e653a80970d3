#include "layers/elementwise.h"

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

}  // namespace dasnet
