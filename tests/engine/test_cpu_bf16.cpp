// --backend cpu --precision bf16: the fast CPU backend with bf16 NHWC activations and gradients
// (fp32 accumulation, statistics and parameters). The op-by-op agreement is in test_backends.cpp
// (CpuBf16Convolutions rows); here: who refuses it, that values are stored rounded to nearest even,
// that the plan is half the fp32 one, and that a network learns.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
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

float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Host values in, the stored (bf16) values out: ties go to even, NaN stays NaN, infinity stays.
// 3 x 16 channels take the AVX-512 path, 3 x 5 the plain loops; both must round alike.
TEST(CpuBf16, StoresActivationsRoundedToNearestEven) {
  DASNET_REQUIRE_CPU_BF16();
  FastCpuBackend backend(CpuIsa::Avx512, true);
  EXPECT_EQ(backend.activation_dtype(), DType::BF16);
  EXPECT_EQ(backend.activation_layout(16), Layout::NHWC);
  const std::vector<std::pair<float, float>> cases = {
      {from_bits(0x3f808000u), 1.0f},                     // 1 + 2^-8: a tie, down to even
      {from_bits(0x3f818000u), from_bits(0x3f820000u)},   // 1 + 3*2^-8: a tie, up to even
      {from_bits(0x3f808001u), from_bits(0x3f810000u)},   // just above the tie: up
      {-2.5f, -2.5f},
      {INFINITY, INFINITY},
  };
  for (int channels : {16, 5}) {
    Shape s{3, channels, 2, 1};
    std::vector<float> host(s.numel()), back(s.numel());
    for (size_t i = 0; i < host.size(); ++i) host[i] = i % 7 == 6 ? NAN : cases[i % 7 % cases.size()].first;
    Buffer memory = backend.allocate(storage_floats(s.numel(), DType::BF16));
    Tensor t{memory.data(), s, Layout::NHWC, DType::BF16};
    backend.from_nchw(host.data(), t);
    Tensor y = t;
    std::vector<float> scale(channels, 1.0f), shift(channels, 0.0f);
    backend.scale_shift_activate(t, scale.data(), shift.data(), nullptr, false, y);  // x*1 + 0 in place
    backend.to_nchw(t, back.data());
    for (size_t i = 0; i < host.size(); ++i) {
      if (i % 7 == 6) {
        EXPECT_TRUE(std::isnan(back[i])) << channels << " channels, element " << i;
        continue;
      }
      EXPECT_EQ(back[i], cases[i % 7 % cases.size()].second) << channels << " channels, element " << i;
    }
  }
}

// The whole point on a CPU: 4-D values and gradients at 2 bytes, so the plan is about half.
TEST(CpuBf16, PlansHalfTheActivationMemory) {
  DASNET_REQUIRE_CPU_BF16();
  ModelConfig config;
  config.depth = 14;
  config.height = config.image_width = 32;
  FastCpuBackend fp32(CpuIsa::Avx512), bf16(CpuIsa::Avx512, true);
  auto a = build_resnet(config, fp32, 1), b = build_resnet(config, bf16, 1);
  const double ratio = double(b->planned_bytes(64, true)) / double(a->planned_bytes(64, true));
  EXPECT_GT(ratio, 0.45);
  EXPECT_LT(ratio, 0.55);
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
  std::printf("mean loss fp32 %.4f -> %.4f, bf16 %.4f -> %.4f\n", a.front(), a.back(), b.front(),
              b.back());
  EXPECT_LT(b.back(), 0.5 * b.front()) << "bf16: the loss did not fall";
  EXPECT_NEAR(b.front(), a.front(), 2e-2 * a.front()) << "first step: bf16 vs fp32";
  EXPECT_NE(b.front(), a.front()) << "bf16 gave the fp32 loss bit for bit: were the activations rounded?";
}

}  // namespace
}  // namespace dasnet
