// Finite-difference gradient checks: every layer on every CPU backend, the losses, and whole
// small networks in each output mode.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "kernels/backend_factory.h"
#include "kernels/cpu_fast.h"
#include "kernels/cpu_reference.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/elementwise.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "models/resnet.h"
#include "tests/engine/layer_harness.h"

namespace dasnet {
namespace {

using testing::LayerHarness;

constexpr double kStep = 1e-3;      // central-difference step
constexpr double kTolerance = 1e-2;  // relative to the largest gradient of the tensor

// Compares analytic gradients with central differences on up to `samples` elements per tensor.
void check_layer_gradients(Backend& backend, Layer& layer, std::vector<Shape> shapes, uint64_t seed,
                           float min_abs_input = 0.0f) {
  LayerHarness h(backend, layer, shapes, seed);
  for (auto& in : h.inputs)
    for (auto& v : in)
      if (std::fabs(v) < min_abs_input) v = v < 0 ? v - min_abs_input : v + min_abs_input;
  Rng rng(seed + 7);
  std::vector<float> projection(h.output_shape.numel());
  for (auto& p : projection) p = rng.normal();

  std::vector<std::vector<float>> input_grads;
  std::vector<float> param_grads;
  h.backward(projection, input_grads, param_grads);

  auto numeric = [&](float& value) {
    float saved = value;
    value = saved + float(kStep);
    double plus = h.objective(projection);
    value = saved - float(kStep);
    double minus = h.objective(projection);
    value = saved;
    return (plus - minus) / (2 * kStep);
  };
  auto check = [&](std::vector<float>& values, const std::vector<float>& analytic, const std::string& what) {
    ASSERT_EQ(values.size(), analytic.size());
    double scale = 1e-3;
    for (float g : analytic) {
      ASSERT_TRUE(std::isfinite(g)) << what << ": gradient not written";
      scale = std::max(scale, double(std::fabs(g)));
    }
    const size_t samples = std::min<size_t>(values.size(), 24);
    for (size_t s = 0; s < samples; ++s) {
      size_t i = samples == values.size() ? s : rng.below(values.size());
      double n = numeric(values[i]);
      EXPECT_LE(std::fabs(n - analytic[i]) / scale, kTolerance)
          << layer.kind() << " on " << backend.name() << ": " << what << "[" << i << "] analytic " << analytic[i]
          << " numeric " << n;
    }
  };
  for (size_t k = 0; k < h.inputs.size(); ++k) check(h.inputs[k], input_grads[k], "input " + std::to_string(k));
  if (!h.params.empty()) check(h.params, param_grads, "parameters");
}

class Gradients : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Backend> backend = make_backend(parse_backend_kind(GetParam()));
};

TEST_P(Gradients, Conv3x3) {
  Conv2d conv(8, 16, 3, 1, 1);
  check_layer_gradients(*backend, conv, {{2, 8, 7, 6}}, 1);
}
TEST_P(Gradients, Conv3x3Stride2FromOneChannel) {
  Conv2d conv(1, 8, 3, 2, 1);
  check_layer_gradients(*backend, conv, {{2, 1, 9, 8}}, 2);
}
TEST_P(Gradients, Conv1x1Stride2) {
  Conv2d conv(8, 16, 1, 2, 0);
  check_layer_gradients(*backend, conv, {{2, 8, 6, 6}}, 3);
}
TEST_P(Gradients, Conv5x5) {
  Conv2d conv(3, 8, 5, 1, 2);
  check_layer_gradients(*backend, conv, {{2, 3, 6, 7}}, 4);
}
TEST_P(Gradients, BatchNorm) {
  BatchNorm bn(8, false, false);
  check_layer_gradients(*backend, bn, {{3, 8, 5, 4}}, 5);
}
TEST_P(Gradients, BatchNormRelu) {
  BatchNorm bn(16, true, false);
  check_layer_gradients(*backend, bn, {{3, 16, 4, 4}}, 6);
}
TEST_P(Gradients, BatchNormAddRelu) {
  BatchNorm bn(8, true, true);
  check_layer_gradients(*backend, bn, {{3, 8, 5, 4}, {3, 8, 5, 4}}, 7);
}
TEST_P(Gradients, Relu) {
  Relu relu;
  check_layer_gradients(*backend, relu, {{2, 8, 4, 3}}, 8, 0.05f);
}
TEST_P(Gradients, Add) {
  Add add;
  check_layer_gradients(*backend, add, {{2, 8, 3, 3}, {2, 8, 3, 3}}, 9);
}
TEST_P(Gradients, GlobalAvgPool) {
  GlobalAvgPool pool;
  check_layer_gradients(*backend, pool, {{3, 16, 5, 4}}, 10);
}
TEST_P(Gradients, Linear) {
  Linear linear(16, 3);
  check_layer_gradients(*backend, linear, {{4, 16, 1, 1}}, 11);
}

// Whole networks: d(mean loss)/d(parameters) by finite differences, in every output mode.
void check_network(Backend& backend, BlockType block, int depth, OutputMode mode, int outputs) {
  ModelConfig config;
  config.depth = depth;
  config.block = block;
  config.width = 8;
  config.height = 8;
  config.image_width = 8;
  config.outputs = outputs;
  config.mode = mode;
  auto net = build_resnet(config, backend, 3);
  const int n = 4;
  Rng rng(11);
  std::vector<float> images(size_t(n) * 64);
  for (auto& v : images) v = rng.uniform();
  std::vector<int> labels(n);
  for (int i = 0; i < n; ++i)
    labels[i] = mode == OutputMode::Softmax ? i % outputs : mode == OutputMode::Sigmoid ? i % 2 : (i * 5 + 1) % (1 << outputs);
  ParameterSet& ps = net->params();
  auto loss_at = [&]() {
    const Tensor& logits = net->forward(images.data(), n, true);
    return backend.loss(mode, logits, labels.data(), nullptr, nullptr).loss_sum / n;
  };
  const Tensor& logits = net->forward(images.data(), n, true);
  backend.loss(mode, logits, labels.data(), &net->logits_gradient(), nullptr);
  net->backward();
  std::vector<float> params(ps.parameter_count()), grads(ps.parameter_count());
  backend.copy_to_host(params.data(), ps.params(), params.size());
  backend.copy_to_host(grads.data(), ps.grads(), grads.size());
  double scale = 1e-4;
  for (float g : grads) scale = std::max(scale, double(std::fabs(g)));
  for (const auto& slot : ps.slots()) {
    for (int s = 0; s < 3; ++s) {
      size_t i = slot.offset + rng.below(slot.count);
      float saved = params[i];
      params[i] = saved + float(kStep);
      backend.copy_from_host(ps.params(), params.data(), params.size());
      double plus = loss_at();
      params[i] = saved - float(kStep);
      backend.copy_from_host(ps.params(), params.data(), params.size());
      double minus = loss_at();
      params[i] = saved;
      backend.copy_from_host(ps.params(), params.data(), params.size());
      double numeric = (plus - minus) / (2 * kStep);
      EXPECT_LE(std::fabs(numeric - grads[i]) / scale, 2 * kTolerance)
          << "depth " << depth << " " << output_mode_name(mode) << ": " << slot.name << " analytic " << grads[i]
          << " numeric " << numeric;
    }
  }
}

TEST_P(Gradients, NetworkSoftmax) { check_network(*backend, BlockType::Basic, 8, OutputMode::Softmax, 2); }
TEST_P(Gradients, NetworkSigmoid) { check_network(*backend, BlockType::Basic, 8, OutputMode::Sigmoid, 1); }
TEST_P(Gradients, NetworkMulticlass) { check_network(*backend, BlockType::Basic, 2, OutputMode::Softmax, 4); }
TEST_P(Gradients, NetworkMultilabel) { check_network(*backend, BlockType::Basic, 8, OutputMode::Multilabel, 3); }
TEST_P(Gradients, NetworkBottleneck) { check_network(*backend, BlockType::Bottleneck, 11, OutputMode::Softmax, 2); }

INSTANTIATE_TEST_SUITE_P(CpuBackends, Gradients, ::testing::Values("reference", "cpu"));

// The losses' gradients with respect to the logits.
TEST(LossGradients, EveryMode) {
  ReferenceCpuBackend backend;
  struct Case {
    OutputMode mode;
    int k;
  };
  for (Case c : {Case{OutputMode::Sigmoid, 1}, Case{OutputMode::Softmax, 2}, Case{OutputMode::Softmax, 5},
                 Case{OutputMode::Multilabel, 3}}) {
    const int n = 6;
    Rng rng(c.k);
    std::vector<float> z(size_t(n) * c.k), dz(z.size());
    for (auto& v : z) v = 2 * rng.normal();
    std::vector<int> labels(n);
    for (int i = 0; i < n; ++i) labels[i] = c.mode == OutputMode::Multilabel ? int(rng.below(1u << c.k)) : int(rng.below(std::max(2, c.k)));
    Tensor logits{z.data(), {n, c.k, 1, 1}, Layout::NCHW}, grad{dz.data(), {n, c.k, 1, 1}, Layout::NCHW};
    backend.loss(c.mode, logits, labels.data(), &grad, nullptr);
    for (size_t i = 0; i < z.size(); ++i) {
      float saved = z[i];
      z[i] = saved + 1e-3f;
      double plus = backend.loss(c.mode, logits, labels.data(), nullptr, nullptr).loss_sum / n;
      z[i] = saved - 1e-3f;
      double minus = backend.loss(c.mode, logits, labels.data(), nullptr, nullptr).loss_sum / n;
      z[i] = saved;
      EXPECT_NEAR((plus - minus) / 2e-3, dz[i], 2e-3) << output_mode_name(c.mode) << " K=" << c.k << " [" << i << "]";
    }
  }
}

}  // namespace
}  // namespace dasnet
