// The profile behind bench_train --profile: per-layer FLOP and traffic counts from the layers'
// cost functions, per-call timings, and this machine's measured FMA peak and memory bandwidth.
#include <gtest/gtest.h>

#include "kernels/backend_factory.h"
#include "kernels/cpu_fast.h"
#include "kernels/cpu_limits.h"
#include "models/resnet.h"
#include "train/optimizer.h"

namespace dasnet {
namespace {

ModelConfig small_resnet() {
  ModelConfig config;
  config.depth = 8;
  config.height = 24;
  config.image_width = 20;
  return config;
}

std::vector<Network::LayerProfile> profile_one_step(Backend& backend, const ModelConfig& config, int batch,
                                                    bool recompute = true) {
  auto net = build_resnet(config, backend, 3);
  net->set_recompute(recompute);
  std::vector<float> images(size_t(batch) * config.height * config.image_width, 0.5f);
  std::vector<int> labels(batch, 1);
  net->set_profiling(true);
  const Tensor& logits = net->forward(images.data(), batch, true);
  backend.loss(config.mode, logits, labels.data(), &net->logits_gradient(), nullptr);
  net->backward();
  return net->layer_profile(batch, true);
}

const Network::LayerProfile& find(const std::vector<Network::LayerProfile>& profile, const std::string& name) {
  for (const auto& p : profile)
    if (p.name == name) return p;
  throw std::logic_error("no layer " + name);
}

TEST(Profile, ConvolutionFlopsAndPasses) {
  auto backend = make_backend(BackendKind::Cpu);
  const ModelConfig config = small_resnet();
  const auto profile = profile_one_step(*backend, config, 4);
  const double pixels = 4.0 * 24 * 20;
  // Stem: 1 -> 16 channels, 3x3; its input (the images) needs no gradient: backward is dW only.
  const auto& stem = find(profile, "conv1");
  EXPECT_DOUBLE_EQ(stem.forward.flops, 2.0 * 9 * 1 * 16 * pixels);
  EXPECT_DOUBLE_EQ(stem.backward.flops, stem.forward.flops);
  EXPECT_EQ(stem.forward.passes, 2);
  EXPECT_DOUBLE_EQ(stem.forward.bytes, 4.0 * pixels * (1 + 16));
  // A 16 -> 16 3x3 convolution: dW and dX, each as many FLOPs as forward.
  const auto& conv = find(profile, "layer1.0.conv2");
  EXPECT_DOUBLE_EQ(conv.forward.flops, 2.0 * 9 * 16 * 16 * pixels);
  EXPECT_DOUBLE_EQ(conv.backward.flops, 2 * conv.forward.flops);
  // Stride 2 quarters the output pixels (24 x 20 -> 12 x 10), 16 -> 32 channels.
  const auto& down = find(profile, "layer2.0.conv1");
  EXPECT_DOUBLE_EQ(down.forward.flops, 2.0 * 9 * 16 * 32 * pixels / 4);
  for (const auto& p : profile) {
    EXPECT_GT(p.forward_s, 0.0) << p.name;
    EXPECT_GT(p.backward_s, 0.0) << p.name;
  }
}

// Training batchnorm: a statistics pass and an apply pass forward; backward reads dy, y and x
// twice and writes dx; with recompute its output is rebuilt (read x, write y) before the
// backward of the layer that reads it, which the profile charges to that layer.
TEST(Profile, BatchnormPassesAndRecompute) {
  auto backend = make_backend(BackendKind::Cpu);
  const ModelConfig config = small_resnet();
  const auto kept = profile_one_step(*backend, config, 4, false);
  const auto rebuilt = profile_one_step(*backend, config, 4, true);
  const auto& bn = find(kept, "layer1.0.bn1");
  EXPECT_EQ(bn.kind, "batchnorm+relu");
  EXPECT_EQ(bn.forward.passes, 3);
  EXPECT_EQ(bn.backward.passes, 7);
  int kept_passes = 0, rebuilt_passes = 0;
  for (const auto& p : kept) kept_passes += p.forward.passes + p.backward.passes;
  for (const auto& p : rebuilt) rebuilt_passes += p.forward.passes + p.backward.passes;
  EXPECT_GT(rebuilt_passes, kept_passes);
  EXPECT_EQ(find(rebuilt, "layer1.0.conv2").backward.passes, find(kept, "layer1.0.conv2").backward.passes + 2);
}

TEST(MachineLimits, PeakAndBandwidthAreMeasured) {
  for (CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (!cpu_isa_supported(isa)) continue;
    const double gflops = measure_fma_gflops(isa, 0.02);
    EXPECT_GT(gflops, 1.0) << cpu_isa_name(isa);
    EXPECT_LT(gflops, 1e5) << cpu_isa_name(isa);
  }
  const double gb_s = measure_triad_gb_per_s(size_t(1) << 20, 2);
  EXPECT_GT(gb_s, 0.1);
  EXPECT_LT(gb_s, 1e4);
}

}  // namespace
}  // namespace dasnet
