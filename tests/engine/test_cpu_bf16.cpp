// --backend cpu --precision bf16: the fast CPU backend with bf16 convolutions (fp32 accumulation,
// everything else fp32). The op-by-op agreement is in test_backends.cpp (CpuBf16Convolutions
// rows); here: who refuses it, that the bf16 path really rounds, and that a network learns.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/usage_error.h"
#include "dasnet/build_config.h"
#include "kernels/backend_factory.h"
#include "kernels/cpu_fast.h"
#include "models/resnet.h"
#include "tests/engine/layer_harness.h"
#include "train/cuda_graph_step.h"
#include "train/optimizer.h"

namespace dasnet {
namespace {

#define DASNET_REQUIRE_CPU_BF16()                                                                  \
  do {                                                                                             \
    if (!DASNET_HAVE_DNNL) GTEST_SKIP() << "this build has no oneDNN";                             \
    if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU lacks AVX512_BF16 (--precision bf16 needs it)"; \
  } while (0)

TEST(CpuBf16, ReferenceBackendRefusesIt) {
  try {
    make_backend(BackendKind::Reference, "bf16");
    FAIL() << "the reference backend accepted --precision bf16";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--precision bf16"), std::string::npos) << e.what();
  }
}

TEST(CpuBf16, CpuBackendRunsItOrNamesTheMissingFeature) {
  if (DASNET_HAVE_DNNL && cpu_has_avx512_bf16()) {
    auto backend = make_backend(BackendKind::Cpu, "bf16");
    EXPECT_NE(backend->describe().find("conv=bf16"), std::string::npos) << backend->describe();
    return;
  }
  try {
    make_backend(BackendKind::Cpu, "bf16");
    FAIL() << "accepted --precision bf16 without AVX512_BF16";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("AVX512_BF16"), std::string::npos) << e.what();
  }
}

// Losses of `steps` SGD steps on one fixed batch (a network that learns fits it).
std::vector<double> fit_one_batch(Backend& backend, int steps) {
  ModelConfig config;
  config.depth = 8;
  config.height = config.image_width = 24;
  auto net = build_resnet(config, backend, 9);
  Sgd sgd(backend, net->params(), OptimizerConfig{});
  CudaGraphTrainingStep step(*net, sgd, config.mode, false);
  const int n = 8;
  Rng rng(3);
  std::vector<float> images(size_t(n) * 24 * 24);
  std::vector<int> labels(n);
  for (int i = 0; i < n; ++i) {
    labels[i] = i % 2;  // class 1 images are brighter: learnable
    for (int p = 0; p < 24 * 24; ++p) images[size_t(i) * 576 + p] = rng.uniform() + 0.5f * labels[i];
  }
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) losses.push_back(step.run(images.data(), labels.data(), n, 0.05f).loss_sum / n);
  return losses;
}

TEST(CpuBf16, NetworkLearnsAndTracksFp32) {
  DASNET_REQUIRE_CPU_BF16();
  FastCpuBackend fp32(CpuIsa::Avx512), bf16(CpuIsa::Avx512, true);
  const std::vector<double> a = fit_one_batch(fp32, 15), b = fit_one_batch(bf16, 15);
  std::printf("mean loss fp32 %.4f -> %.4f, bf16 convolutions %.4f -> %.4f\n", a.front(), a.back(), b.front(),
              b.back());
  EXPECT_LT(b.back(), 0.5 * b.front()) << "bf16: the loss did not fall";
  EXPECT_NEAR(b.front(), a.front(), 2e-2 * a.front()) << "first step: bf16 vs fp32";
  EXPECT_NE(b.front(), a.front()) << "bf16 gave the fp32 loss bit for bit: were the convolutions rounded?";
}

}  // namespace
}  // namespace dasnet
