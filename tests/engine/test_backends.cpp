// Every backend equals the reference backend: one table of op cases run on every backend in every
// precision and layout (the fast CPU backend once per ISA: AVX2 with NCHW8c, AVX-512 with
// NCHW16c, baseline NCHW; the CUDA backend in fp32 NCHW and NHWC, tf32, bf16, fp16), and whole
// training steps of the fast CPU backend. The CUDA backend's own checks (graphs, loss scaling,
// whole steps on the GPU) are in tests/engine/test_cuda_backend.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "core/usage_error.h"
#include "dasnet/build_config.h"
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
#include "train/optimizer.h"

#if DASNET_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#include "tests/cuda_test_util.h"
#endif

namespace dasnet {
namespace {

using testing::LayerHarness;
using testing::max_relative_error;

// --- The conformance table (ggml's test-backend-ops) --------------------------------------------
// Every op case below runs on every target (each backend in each precision and layout) against
// the reference backend, on fresh random inputs with outputs poisoned first. A new op or shape is
// one row in op_cases(); a new backend or precision is one row in targets(). Targets this build
// or machine cannot run (a CUDA row without a GPU, an ISA the CPU lacks) skip and say why.

// One backend in one precision and layout.
struct Target {
  std::string name;
  double tolerance;  // of the outputs, relative to the largest reference value
  std::function<std::string()> why_unavailable;  // empty: runs here
  std::function<std::unique_ptr<Backend>()> make;
  // Host values as the backend stores its activations (16-bit types round them); the reference
  // gets the same, so that the test measures the ops, not the input rounding.
  std::function<float(float)> as_stored = [](float v) { return v; };
};

// What a case computed on one backend, compared output by output.
struct Output {
  std::string what;
  std::vector<double> values;
};
using Outputs = std::vector<Output>;

struct OpCase {
  std::string name;
  std::function<Outputs(Backend&, const Target&, uint64_t seed)> run;
  // Ops that stay fp32 in every precision (loss, SGD) keep their own, tighter bound.
  double tolerance = 0;  // 0: the target's
};

std::vector<double> widened(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// One layer forward and backward (overwriting and accumulating its input gradients), with its
// inputs and output gradient as the target stores them; the last output says whether every op
// kept to its tensors (the guards behind them are still poisoned).
OpCase layer_case(std::string name, std::function<std::unique_ptr<Layer>()> make, std::vector<Shape> shapes,
                  bool training = true) {
  auto run = [make, shapes, training](Backend& backend, const Target& target, uint64_t seed) {
    auto layer = make();
    LayerHarness h(backend, *layer, shapes, seed);
    for (auto& input : h.inputs)
      for (float& v : input) v = target.as_stored(v);
    Rng rng(seed + 100);
    std::vector<float> projection(h.output_shape.numel());
    for (auto& p : projection) p = target.as_stored(rng.normal());
    Outputs out{{"forward", widened(h.forward(training))}};
    for (bool accumulate : {false, true}) {
      if (!training) break;
      const std::string suffix = accumulate ? " (accumulated)" : "";
      std::vector<std::vector<float>> input_grads;
      std::vector<float> param_grads;
      h.backward(projection, input_grads, param_grads, true, accumulate);
      for (size_t i = 0; i < input_grads.size(); ++i)
        out.push_back({"input gradient " + std::to_string(i) + suffix, widened(input_grads[i])});
      out.push_back({"parameter gradient" + suffix, widened(param_grads)});
    }
    out.push_back({"guards intact (element size?)", {h.guards_intact() ? 1.0 : 0.0}});
    return out;
  };
  return {std::move(name), run};
}

// Loss, its gradient and probabilities of 37 samples, and the refusal of a label out of range.
OpCase loss_case(std::string name, OutputMode mode, int k) {
  auto run = [mode, k](Backend& be, const Target&, uint64_t seed) {
    const int n = 37;
    Rng rng(seed + 11 + k);
    std::vector<float> logits(size_t(n) * k);
    for (auto& v : logits) v = 3 * rng.normal();
    std::vector<int> labels(n);
    for (int i = 0; i < n; ++i)
      labels[i] = mode == OutputMode::Softmax ? i % k : mode == OutputMode::Sigmoid ? i % 2 : (i * 7) % 16;
    Buffer memory[3] = {be.allocate(logits.size()), be.allocate(logits.size()), be.allocate(logits.size())};
    Tensor z{memory[0].data(), {n, k, 1, 1}, Layout::NCHW};
    Tensor dz{memory[1].data(), z.shape, Layout::NCHW};
    Tensor p{memory[2].data(), z.shape, Layout::NCHW};
    be.copy_from_host(z.data, logits.data(), logits.size());
    be.fill(dz.data, dz.numel(), std::nanf(""));
    be.fill(p.data, p.numel(), std::nanf(""));
    const LossTotals totals = be.loss(mode, z, labels.data(), &dz, &p);
    std::vector<float> grads(logits.size()), probs(logits.size());
    be.copy_to_host(grads.data(), dz.data, dz.numel());
    be.copy_to_host(probs.data(), p.data, p.numel());
    std::vector<int> bad(labels);
    bad[1] = mode == OutputMode::Multilabel ? 1 << k : mode == OutputMode::Sigmoid ? 2 : k;
    EXPECT_THROW(be.loss(mode, z, bad.data(), nullptr, nullptr), UsageError) << "a label out of range";
    return Outputs{{"loss sum", {totals.loss_sum}},
                   {"correct", {double(totals.correct)}},
                   {"gradient", widened(grads)},
                   {"probabilities", widened(probs)}};
  };
  return {std::move(name), run, 1e-6};
}

// SGD (plain and Nesterov) over a range longer than any block, and the sum of squares after it.
OpCase sgd_case() {
  auto run = [](Backend& be, const Target&, uint64_t seed) {
    const size_t count = 100003;
    Rng rng(seed + 3);
    std::vector<float> p(count), g(count), v(count);
    for (size_t i = 0; i < count; ++i) p[i] = rng.normal(), g[i] = rng.normal(), v[i] = rng.normal();
    Outputs out;
    for (bool nesterov : {false, true}) {
      Buffer params = be.allocate(count), grads = be.allocate(count), velocity = be.allocate(count);
      be.copy_from_host(params.data(), p.data(), count);
      be.copy_from_host(grads.data(), g.data(), count);
      be.copy_from_host(velocity.data(), v.data(), count);
      be.sgd_update(params.data(), grads.data(), velocity.data(), count, 0.05f, 0.9f, 1e-4f, nesterov);
      std::vector<float> updated(count), momentum(count);
      be.copy_to_host(updated.data(), params.data(), count);
      be.copy_to_host(momentum.data(), velocity.data(), count);
      const std::string kind = nesterov ? " (nesterov)" : "";
      out.push_back({"parameters" + kind, widened(updated)});
      out.push_back({"velocity" + kind, widened(momentum)});
      out.push_back({"sum of squares" + kind, {be.sum_squares(params.data(), count)}});
    }
    return out;
  };
  return {"SgdAndSumSquares", run, 1e-6};
}

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      layer_case("StemConv", [] { return std::make_unique<Conv2d>(1, 16, 3, 1, 1); }, {{3, 1, 21, 19}}),
      layer_case("StemConvFromThreeChannels", [] { return std::make_unique<Conv2d>(3, 16, 3, 1, 1); },
                 {{2, 3, 16, 17}}),
      layer_case("StemConvIntoTwentyFourChannels", [] { return std::make_unique<Conv2d>(1, 24, 3, 1, 1); },
                 {{2, 1, 11, 9}}),
      layer_case("Conv3x3", [] { return std::make_unique<Conv2d>(16, 16, 3, 1, 1); }, {{2, 16, 20, 18}}),
      layer_case("Conv3x3Wider", [] { return std::make_unique<Conv2d>(16, 32, 3, 1, 1); }, {{2, 16, 20, 18}}),
      layer_case("Conv3x3Stride2", [] { return std::make_unique<Conv2d>(16, 32, 3, 2, 1); }, {{2, 16, 20, 20}}),
      layer_case("Conv1x1Stride2", [] { return std::make_unique<Conv2d>(32, 64, 1, 2, 0); }, {{2, 32, 10, 10}}),
      // Channels that fill 8-blocks but not 16-blocks, batch 1, 1-pixel borders on odd sizes.
      layer_case("Conv3x3NotAMultipleOfTheBlock", [] { return std::make_unique<Conv2d>(24, 40, 3, 1, 1); },
                 {{1, 24, 7, 5}}),
      layer_case("Conv3x3Stride2FromAnOddImage", [] { return std::make_unique<Conv2d>(48, 32, 3, 2, 1); },
                 {{1, 48, 9, 7}}),
      layer_case("Conv3x3BatchOneOddChannels", [] { return std::make_unique<Conv2d>(20, 36, 3, 1, 1); },
                 {{1, 20, 11, 13}}),
      layer_case("ConvOddWidth", [] { return std::make_unique<Conv2d>(4, 12, 3, 1, 1); }, {{2, 4, 9, 9}}),
      layer_case("BatchNorm", [] { return std::make_unique<BatchNorm>(16, false, false); }, {{4, 16, 9, 7}}),
      // More samples than splits per channel.
      layer_case("BatchNormManySamples", [] { return std::make_unique<BatchNorm>(3, true, false); },
                 {{70, 3, 5, 33}}),
      layer_case("BatchNormManyChannels", [] { return std::make_unique<BatchNorm>(300, false, false); },
                 {{2, 300, 3, 3}}),
      layer_case("BatchNormRelu", [] { return std::make_unique<BatchNorm>(32, true, false); }, {{4, 32, 6, 5}}),
      layer_case("BatchNormAddRelu", [] { return std::make_unique<BatchNorm>(16, true, true); },
                 {{3, 16, 8, 8}, {3, 16, 8, 8}}),
      layer_case("BatchNormAddReluNotAMultipleOfTheBlock", [] { return std::make_unique<BatchNorm>(24, true, true); },
                 {{1, 24, 5, 3}, {1, 24, 5, 3}}),
      layer_case("BatchNormEval", [] { return std::make_unique<BatchNorm>(16, true, false); }, {{2, 16, 5, 5}},
                 false),
      layer_case("Relu", [] { return std::make_unique<Relu>(); }, {{2, 16, 5, 5}}),
      layer_case("Add", [] { return std::make_unique<Add>(); }, {{2, 16, 5, 5}, {2, 16, 5, 5}}),
      layer_case("GlobalAvgPool", [] { return std::make_unique<GlobalAvgPool>(); }, {{3, 64, 7, 6}}),
      layer_case("Linear", [] { return std::make_unique<Linear>(64, 2); }, {{5, 64, 1, 1}}),
      layer_case("LinearSevenOutputs", [] { return std::make_unique<Linear>(64, 7); }, {{9, 64, 1, 1}}),
      loss_case("SoftmaxLoss", OutputMode::Softmax, 3),
      loss_case("SigmoidLoss", OutputMode::Sigmoid, 1),
      loss_case("MultilabelLoss", OutputMode::Multilabel, 4),
      sgd_case(),
  };
  return cases;
}

// Target names are CamelCase: test filters such as '*Cuda*' (bench/gpu/check.sh) find them.
Target cpu_target(CpuIsa isa, const char* name) {
  Target t;
  t.name = name;
  t.tolerance = 1e-5;
  t.why_unavailable = [isa]() -> std::string {
    return cpu_isa_supported(isa) ? "" : std::string("this CPU has no ") + cpu_isa_name(isa);
  };
  t.make = [isa] { return std::unique_ptr<Backend>(std::make_unique<FastCpuBackend>(isa)); };
  return t;
}

// A host value rounded to bf16 (round to nearest even; inputs here are finite).
float bf16_rounded(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// The fast CPU backend in bf16 (bf16 NHWC activations, fp32 accumulation, statistics and
// parameters), bounded as the CUDA bf16 rows are; the reference gets the inputs as stored.
Target cpu_bf16_target() {
  Target t;
  t.name = "CpuBf16Convolutions";
  t.as_stored = bf16_rounded;
  t.tolerance = 2e-2;
  t.why_unavailable = []() -> std::string {
    if (!DASNET_HAVE_DNNL) return "this build has no oneDNN";
    return cpu_has_avx512_bf16() ? "" : "this CPU lacks AVX512_BF16 (--precision bf16 on the CPU needs it)";
  };
  t.make = [] { return std::unique_ptr<Backend>(std::make_unique<FastCpuBackend>(CpuIsa::Avx512, true)); };
  return t;
}

#if DASNET_HAVE_CUDA
// A host value as the device stores it in a 16-bit precision (round to nearest even).
float as_stored(float v, CudaPrecision p) {
  if (p == CudaPrecision::Fp16) return float(static_cast<_Float16>(v));
  return p == CudaPrecision::Bf16 ? bf16_rounded(v) : v;
}
#endif

// The bounds: fp32 1e-5, tf32 5e-3, bf16 2e-2 (relative to the largest value); fp16 (3 more
// mantissa bits than bf16) 1e-2. Each precision in its default layout (NCHW for fp32, NHWC for
// the tensor-core ones), and fp32 in NHWC too (the channels-last kernels and cuDNN's NHWC
// convolutions with reordered weights, without the rounding).
Target cuda_target(const char* name, const char* precision, double tolerance, bool channels_last = false) {
  Target t;
  t.name = name;
  t.tolerance = tolerance;
#if DASNET_HAVE_CUDA
  const CudaPrecision p = parse_cuda_precision(precision);
  t.why_unavailable = [] {
    std::string why;
    return cuda_device_available(&why) ? std::string() : "no CUDA device: " + why;
  };
  t.make = [p, channels_last] {
    CudaOptions options = testing::options_for(p);
    if (channels_last) options.channels_last = true;
    return std::unique_ptr<Backend>(std::make_unique<CudaBackend>(options));
  };
  t.as_stored = [p](float v) { return as_stored(v, p); };
#else
  (void)precision;
  (void)channels_last;
  t.why_unavailable = [] { return std::string("no CUDA device: this build has no CUDA backend"); };
#endif
  return t;
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      cpu_target(CpuIsa::Baseline, "CpuBaseline"),
      cpu_target(CpuIsa::Avx2, "CpuAvx2"),
      cpu_target(CpuIsa::Avx512, "CpuAvx512"),
      cpu_bf16_target(),
      cuda_target("CudaFp32", "fp32", 1e-5),
      cuda_target("CudaFp32Nhwc", "fp32", 1e-5, true),
      cuda_target("CudaTf32", "tf32", 5e-3),
      cuda_target("CudaBf16", "bf16", 2e-2),
      cuda_target("CudaFp16", "fp16", 1e-2),
  };
  return all;
}

// Largest |a - b| / max(max |b|, 1e-6); infinite where either is not finite or the sizes differ.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double scale = 1e-6, worst = 0;
  for (double v : b) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    worst = std::max(worst, std::fabs(a[i] - b[i]) / scale);
  }
  return worst;
}

class BackendOps : public ::testing::TestWithParam<std::tuple<size_t, size_t>> {};

TEST_P(BackendOps, MatchReference) {
  const Target& target = targets()[std::get<0>(GetParam())];
  const OpCase& op = op_cases()[std::get<1>(GetParam())];
  if (const std::string why = target.why_unavailable(); !why.empty()) GTEST_SKIP() << target.name << ": " << why;
  auto reference = make_backend(BackendKind::Reference);
  auto backend = target.make();
  const double tolerance = op.tolerance > 0 ? op.tolerance : target.tolerance;
  for (uint64_t seed : {1u, 2u}) {
    const Outputs expected = op.run(*reference, target, seed), got = op.run(*backend, target, seed);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_LE(relative_error(got[i].values, expected[i].values), tolerance)
          << op.name << " on " << backend->name() << ": " << got[i].what << " (seed " << seed << ")";
  }
}

std::string backend_op_name(const ::testing::TestParamInfo<std::tuple<size_t, size_t>>& info) {
  return targets()[std::get<0>(info.param)].name + "_" + op_cases()[std::get<1>(info.param)].name;
}
INSTANTIATE_TEST_SUITE_P(Conformance, BackendOps,
                         ::testing::Combine(::testing::Range(size_t(0), targets().size()),
                                            ::testing::Range(size_t(0), op_cases().size())),
                         backend_op_name);

TEST(FastVsReference, LayoutFollowsIsa) {
  EXPECT_EQ(FastCpuBackend(CpuIsa::Baseline).activation_layout(64), Layout::NCHW);
  if (cpu_isa_supported(CpuIsa::Avx2)) {
    FastCpuBackend avx2(CpuIsa::Avx2);
    EXPECT_EQ(avx2.activation_layout(24), Layout::NCHW8c);
    EXPECT_EQ(avx2.activation_layout(12), Layout::NCHW);
  }
  if (cpu_isa_supported(CpuIsa::Avx512)) {
    FastCpuBackend avx512(CpuIsa::Avx512);
    EXPECT_EQ(avx512.activation_layout(32), Layout::NCHW16c);
    EXPECT_EQ(avx512.activation_layout(24), Layout::NCHW);
    EXPECT_EQ(avx512.describe(), "cpu isa=avx512 layout=nchw16c");
  }
}

// Three SGD steps of a whole network: parameters and running statistics agree.
TEST(FastVsReference, TrainingSteps) {
  ModelConfig config;
  config.depth = 8;
  config.height = 24;
  config.image_width = 20;
  std::vector<std::vector<float>> results;
  for (BackendKind kind : {BackendKind::Reference, BackendKind::Cpu}) {
    auto backend = make_backend(kind);
    auto net = build_resnet(config, *backend, 9);
    Sgd sgd(*backend, net->params(), OptimizerConfig{});
    Rng rng(3);
    std::vector<float> images(6 * 24 * 20);
    for (auto& v : images) v = rng.uniform();
    std::vector<int> labels{0, 1, 1, 0, 1, 0};
    for (int step = 0; step < 3; ++step) {
      const Tensor& logits = net->forward(images.data(), 6, true);
      backend->loss(config.mode, logits, labels.data(), &net->logits_gradient(), nullptr);
      net->backward();
      sgd.step(0.05f);
    }
    std::vector<float> all(net->params().parameter_count() + net->params().state_count());
    backend->copy_to_host(all.data(), net->params().params(), net->params().parameter_count());
    backend->copy_to_host(all.data() + net->params().parameter_count(), net->params().state(),
                          net->params().state_count());
    results.push_back(all);
  }
  EXPECT_LE(max_relative_error(results[1], results[0]), 1e-4);
}

// Recomputing BN+ReLU outputs in backward changes memory, not results.
TEST(Recompute, SameGradientsLessMemory) {
  ModelConfig config;
  config.depth = 14;
  config.height = config.image_width = 16;
  auto backend = make_backend(BackendKind::Cpu);
  std::vector<std::vector<float>> grads;
  std::vector<size_t> bytes;
  for (bool recompute : {false, true}) {
    auto net = build_resnet(config, *backend, 4);
    net->set_recompute(recompute);
    Rng rng(8);
    std::vector<float> images(4 * 256);
    for (auto& v : images) v = rng.uniform();
    std::vector<int> labels{0, 1, 0, 1};
    const Tensor& logits = net->forward(images.data(), 4, true);
    backend->loss(config.mode, logits, labels.data(), &net->logits_gradient(), nullptr);
    net->backward();
    std::vector<float> g(net->params().parameter_count());
    backend->copy_to_host(g.data(), net->params().grads(), g.size());
    grads.push_back(g);
    bytes.push_back(net->planned_bytes(4, true));
  }
  EXPECT_EQ(grads[0], grads[1]);
  EXPECT_LT(bytes[1], bytes[0]);
}

// A backend whose activations are bfloat16 (the CUDA backend in bf16) gets a plan of half the
// activation memory: every 4-D value and gradient is planned at 2 bytes an element, and only
// pooled features and logits stay fp32. Planning only: no op runs on the bf16 views here.
TEST(MemoryPlan, Bf16ActivationsTakeHalfTheMemory) {
  class Bf16Planning : public ReferenceCpuBackend {
   public:
    DType activation_dtype() const override { return DType::BF16; }
  };
  ModelConfig config;
  config.depth = 14;
  config.height = config.image_width = 32;
  auto fp32 = make_backend(BackendKind::Reference);
  Bf16Planning bf16;
  auto a = build_resnet(config, *fp32, 1), b = build_resnet(config, bf16, 1);
  for (bool training : {false, true}) {
    const double ratio = double(b->planned_bytes(64, training)) / double(a->planned_bytes(64, training));
    EXPECT_GT(ratio, 0.45) << "training " << training;
    EXPECT_LT(ratio, 0.55) << "training " << training;
  }
}

}  // namespace
}  // namespace dasnet
