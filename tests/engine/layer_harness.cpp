#include "tests/engine/layer_harness.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace dasnet::testing {

LayerHarness::LayerHarness(Backend& backend, Layer& layer, std::vector<Shape> shapes, uint64_t seed)
    : backend_(backend), layer_(layer), shapes_(shapes) {
  output_shape = layer.output_shape(shapes);
  layer.declare(ps_, "layer");
  ps_.allocate(backend);
  layer.bind(backend, shapes);
  params.assign(ps_.parameter_count(), 0.0f);
  Rng rng(seed);
  layer.initialize(rng, ps_, params);
  // Perturb away from the initial values so BN's gamma/beta and biases are not trivial.
  for (auto& p : params) p += 0.2f * rng.normal();
  for (const Shape& s : shapes) {
    std::vector<float> v(s.numel());
    for (auto& x : v) x = rng.normal();
    inputs.push_back(v);
    in_.push_back(make(s, backend.activation_layout(s.c), layer.input_dtype(backend)));
    din_.push_back(make(s, backend.activation_layout(s.c), layer.input_dtype(backend)));
  }
  out_ = make(output_shape, layer.output_layout(backend, output_shape), layer.output_dtype(backend));
  dout_ = make(output_shape, out_.layout, out_.dtype);
  size_t largest = 0;
  for (const Shape& s : shapes) largest = std::max(largest, s.numel());
  scratch_ = backend.allocate(largest);
}

Tensor LayerHarness::make(const Shape& s, Layout layout, DType dtype) {
  Tensor t;
  const size_t floats = storage_floats(s.numel(), dtype);
  owned_.push_back(backend_.allocate(floats + kGuardFloats));
  t.data = owned_.back().data();
  t.shape = s;
  t.layout = layout;
  t.dtype = dtype;
  std::vector<float> guard(kGuardFloats, guard_value());
  backend_.copy_from_host(t.data + floats, guard.data(), kGuardFloats);
  guarded_.push_back(Tensor{t.data + floats, {1, 1, 1, int(kGuardFloats)}, Layout::NCHW, DType::F32});
  return t;
}

// A NaN of its own payload: a guard overwritten with tensor poison (or anything) is told apart.
float LayerHarness::guard_value() {
  const uint32_t bits = 0x7FC0ABCDu;
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

bool LayerHarness::guards_intact() {
  std::vector<float> host(kGuardFloats);
  for (const Tensor& guard : guarded_) {
    backend_.copy_to_host(host.data(), guard.data, kGuardFloats);
    for (float v : host) {
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      if (bits != 0x7FC0ABCDu) return false;
    }
  }
  return true;
}

// Unwritten elements fail the checks: 0x7FC07FC0 is a NaN as one fp32 and as two bf16 values.
void LayerHarness::poison(Tensor& t) {
  const uint32_t bits = 0x7FC07FC0u;
  float nan;
  std::memcpy(&nan, &bits, sizeof nan);
  backend_.fill(t.data, storage_floats(t.numel(), t.dtype), nan);
}

void LayerHarness::upload() {
  for (size_t i = 0; i < inputs.size(); ++i) backend_.from_nchw(inputs[i].data(), in_[i]);
  if (!params.empty()) backend_.copy_from_host(ps_.params(), params.data(), params.size());
}

std::vector<float> LayerHarness::forward(bool training) {
  upload();
  LayerContext ctx{backend_, ps_, training, nullptr};
  std::vector<const Tensor*> in;
  for (auto& t : in_) in.push_back(&t);
  poison(out_);
  layer_.forward(ctx, in, out_);
  std::vector<float> host(out_.numel());
  backend_.to_nchw(out_, host.data());
  return host;
}

double LayerHarness::objective(const std::vector<float>& projection, bool training) {
  std::vector<float> out = forward(training);
  double sum = 0;
  for (size_t i = 0; i < out.size(); ++i) sum += double(out[i]) * projection[i];
  return sum;
}

void LayerHarness::backward(const std::vector<float>& projection, std::vector<std::vector<float>>& input_grads,
                            std::vector<float>& param_grads, bool training, bool accumulate) {
  forward(training);
  backend_.from_nchw(projection.data(), dout_);
  LayerContext ctx{backend_, ps_, training, scratch_.data()};
  std::vector<const Tensor*> in;
  std::vector<Tensor*> din;
  for (size_t i = 0; i < in_.size(); ++i) {
    in.push_back(&in_[i]);
    if (accumulate && layer_.can_accumulate_gradient(i)) {
      std::vector<float> start(inputs[i].size());
      for (size_t k = 0; k < start.size(); ++k) start[k] = 0.5f * inputs[i][k];
      backend_.from_nchw(start.data(), din_[i]);
    } else {
      poison(din_[i]);
    }
    din.push_back(&din_[i]);
  }
  if (!params.empty()) backend_.fill(ps_.grads(), params.size(), std::nanf(""));
  std::vector<bool> adds(in_.size());
  for (size_t i = 0; i < adds.size(); ++i) adds[i] = accumulate && layer_.can_accumulate_gradient(i);
  layer_.backward(ctx, in, out_, dout_, din, adds);
  input_grads.clear();
  for (auto& t : din_) {
    std::vector<float> host(t.numel());
    backend_.to_nchw(t, host.data());
    input_grads.push_back(host);
  }
  param_grads.assign(params.size(), 0.0f);
  if (!params.empty()) backend_.copy_to_host(param_grads.data(), ps_.grads(), params.size());
}

double max_relative_error(const std::vector<float>& a, const std::vector<float>& b, double floor) {
  double scale = floor, worst = 0;
  for (float v : b) scale = std::max(scale, double(std::fabs(v)));
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(double(a[i]) - double(b[i]));
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    worst = std::max(worst, d / scale);
  }
  return worst;
}

}  // namespace dasnet::testing
