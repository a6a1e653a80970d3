// The fast CPU backend (oneDNN, blocked layouts, fused kernels) equals the reference backend on
// fresh random inputs: every op forward and backward, and whole training steps; the op checks
// run once per ISA this CPU has (AVX2 with NCHW8c, AVX-512 with NCHW16c, baseline NCHW).
#include <gtest/gtest.h>

#include "engine/resnet.h"
#include "kernels/cpu_fast.h"
#include "kernels/cpu_reference.h"
#include "engine/optimizer.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/elementwise.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "tests/layer_harness.h"

namespace dasnet {
namespace {

using testing::LayerHarness;
using testing::max_relative_error;

constexpr double kTolerance = 1e-5;

void compare_backends_on(CpuIsa isa, const std::function<std::unique_ptr<Layer>()>& make,
                         const std::vector<Shape>& shapes, bool training) {
  auto reference = make_backend(BackendKind::Reference);
  auto fast = std::make_unique<FastCpuBackend>(isa);
  for (uint64_t seed : {1u, 2u}) {
    auto layer_ref = make();
    auto layer_fast = make();
    LayerHarness a(*reference, *layer_ref, shapes, seed), b(*fast, *layer_fast, shapes, seed);
    Rng rng(seed + 100);
    std::vector<float> projection(a.output_shape.numel());
    for (auto& p : projection) p = rng.normal();
    std::vector<std::vector<float>> ga, gb;
    std::vector<float> pa, pb;
    EXPECT_LE(max_relative_error(b.forward(training), a.forward(training)), kTolerance) << layer_ref->kind() << " forward";
    if (!training) continue;
    for (bool accumulate : {false, true}) {  // overwriting and adding to existing input gradients
      a.backward(projection, ga, pa, true, accumulate);
      b.backward(projection, gb, pb, true, accumulate);
      for (size_t i = 0; i < ga.size(); ++i)
        EXPECT_LE(max_relative_error(gb[i], ga[i]), kTolerance)
            << layer_ref->kind() << " input gradient " << i << (accumulate ? " (accumulated)" : "");
      EXPECT_LE(max_relative_error(pb, pa), kTolerance) << layer_ref->kind() << " parameter gradient";
    }
    EXPECT_TRUE(b.guards_intact()) << layer_ref->kind() << " wrote past a tensor";
  }
}

void compare_backends(const std::function<std::unique_ptr<Layer>()>& make, const std::vector<Shape>& shapes,
                      bool training = true) {
  for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (!cpu_isa_supported(isa)) continue;
    SCOPED_TRACE(cpu_isa_name(isa));
    compare_backends_on(isa, make, shapes, training);
  }
}

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

TEST(FastVsReference, StemConvFromOneChannel) {
  compare_backends([] { return std::make_unique<Conv2d>(1, 16, 3, 1, 1); }, {{3, 1, 21, 19}});
}
TEST(FastVsReference, StemConvFromThreeChannels) {
  compare_backends([] { return std::make_unique<Conv2d>(3, 16, 3, 1, 1); }, {{2, 3, 16, 17}});
}
TEST(FastVsReference, Conv3x3) {
  compare_backends([] { return std::make_unique<Conv2d>(16, 16, 3, 1, 1); }, {{2, 16, 20, 18}});
}
TEST(FastVsReference, Conv3x3Stride2) {
  compare_backends([] { return std::make_unique<Conv2d>(16, 32, 3, 2, 1); }, {{2, 16, 20, 20}});
}
TEST(FastVsReference, Conv1x1Stride2) {
  compare_backends([] { return std::make_unique<Conv2d>(32, 64, 1, 2, 0); }, {{2, 32, 10, 10}});
}
// Channels that fill 8-blocks but not 16-blocks (blocked on AVX2, plain on AVX-512), batch 1,
// 1-pixel borders on odd image sizes.
TEST(FastVsReference, Conv3x3NotAMultipleOfTheBlock) {
  compare_backends([] { return std::make_unique<Conv2d>(24, 40, 3, 1, 1); }, {{1, 24, 7, 5}});
}
TEST(FastVsReference, Conv3x3Stride2FromAnOddImage) {
  compare_backends([] { return std::make_unique<Conv2d>(48, 32, 3, 2, 1); }, {{1, 48, 9, 7}});
}
TEST(FastVsReference, StemConvIntoTwentyFourChannels) {
  compare_backends([] { return std::make_unique<Conv2d>(1, 24, 3, 1, 1); }, {{2, 1, 11, 9}});
}
TEST(FastVsReference, BatchNormAddReluNotAMultipleOfTheBlock) {
  compare_backends([] { return std::make_unique<BatchNorm>(24, true, true); }, {{1, 24, 5, 3}, {1, 24, 5, 3}});
}
TEST(FastVsReference, ConvOddWidth) {  // channel counts that are not a multiple of 8 stay NCHW
  compare_backends([] { return std::make_unique<Conv2d>(4, 12, 3, 1, 1); }, {{2, 4, 9, 9}});
}
TEST(FastVsReference, BatchNorm) {
  compare_backends([] { return std::make_unique<BatchNorm>(16, false, false); }, {{4, 16, 9, 7}});
}
TEST(FastVsReference, BatchNormRelu) {
  compare_backends([] { return std::make_unique<BatchNorm>(32, true, false); }, {{4, 32, 6, 5}});
}
TEST(FastVsReference, BatchNormAddRelu) {
  compare_backends([] { return std::make_unique<BatchNorm>(16, true, true); }, {{3, 16, 8, 8}, {3, 16, 8, 8}});
}
TEST(FastVsReference, BatchNormEval) {
  compare_backends([] { return std::make_unique<BatchNorm>(16, true, false); }, {{2, 16, 5, 5}}, false);
}
TEST(FastVsReference, ReluAndAdd) {
  compare_backends([] { return std::make_unique<Relu>(); }, {{2, 16, 5, 5}});
  compare_backends([] { return std::make_unique<Add>(); }, {{2, 16, 5, 5}, {2, 16, 5, 5}});
}
TEST(FastVsReference, GlobalAvgPool) {
  compare_backends([] { return std::make_unique<GlobalAvgPool>(); }, {{3, 64, 7, 6}});
}
TEST(FastVsReference, Linear) {
  compare_backends([] { return std::make_unique<Linear>(64, 2); }, {{5, 64, 1, 1}});
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
