// The study's labeling rule on crafted patches: sinusoids, blue (differentiated) and white
// noise, saturated and non-finite patches; and the DFT behind it.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "io/labeling.h"

namespace dasnet {
namespace {

constexpr int kChannels = 200, kSamples = 200;
constexpr double kRate = 500;

std::vector<float> sinusoid_patch(double hz, double amplitude, uint64_t seed, double noise = 0) {
  std::vector<float> p(size_t(kChannels) * kSamples);
  Rng rng(seed);
  for (int c = 0; c < kChannels; ++c) {
    const double phase = rng.uniform(0, 6.28f);
    for (int t = 0; t < kSamples; ++t)
      p[size_t(c) * kSamples + t] =
          float(amplitude * std::sin(6.283185307179586 * hz * t / kRate + phase) + noise * rng.normal());
  }
  return p;
}

TEST(AmplitudeSpectrum, SinusoidOnABinHasItsAmplitude) {
  AmplitudeSpectrum s(kSamples, 100);
  std::vector<float> x(kSamples), a(100);
  for (int t = 0; t < kSamples; ++t) x[size_t(t)] = float(3.0 * std::cos(6.283185307179586 * 10 * 2.5 * t / kRate));
  s.row(x.data(), a.data());
  EXPECT_NEAR(a[10], 3.0, 1e-3);  // 2/N |X_k| of A cos = A
  for (int k = 0; k < 100; ++k)
    if (k != 10) {
      EXPECT_NEAR(a[size_t(k)], 0.0, 1e-3) << k;
    }
  // DC: 2/N |sum| = 2 * mean, as the study's formula gives.
  std::vector<float> dc(kSamples, 1.5f);
  s.row(dc.data(), a.data());
  EXPECT_NEAR(a[0], 3.0, 1e-4);
}

TEST(Labeling, LowFrequencySinusoidIsWaves) {
  PatchLabeler l(kChannels, kSamples, kRate);
  for (double hz : {5.0, 12.5, 20.0, 35.0, 47.5}) {
    auto p = sinusoid_patch(hz, 100, 1, 5);
    EXPECT_EQ(l.label(p.data(), kSamples), PatchLabel::waves) << hz << " Hz";
  }
}

TEST(Labeling, HighFrequencySinusoidIsNoise) {
  // All energy in the 40-82.5 Hz band puts the 0-40 Hz band below it.
  PatchLabeler l(kChannels, kSamples, kRate);
  for (double hz : {40.0, 60.0, 80.0}) {
    // A pure tone leaves the rest of the high band empty: add broadband noise rising with f.
    auto p = sinusoid_patch(hz, 100, 2);
    Rng rng(3);
    for (int c = 0; c < kChannels; ++c) {
      float last = rng.normal();
      for (int t = 0; t < kSamples; ++t) {
        float w = rng.normal();
        p[size_t(c) * kSamples + t] += 20 * (w - last);
        last = w;
      }
    }
    EXPECT_EQ(l.label(p.data(), kSamples), PatchLabel::noise) << hz << " Hz";
  }
}

TEST(Labeling, TonesAbove82HzAreOther) {
  PatchLabeler l(kChannels, kSamples, kRate);
  auto p = sinusoid_patch(150, 100, 4, 1);
  EXPECT_EQ(l.label(p.data(), kSamples), PatchLabel::other);
}

TEST(Labeling, WhiteNoiseIsMostlyNotNoiseButBlueNoiseIs) {
  // White noise has a flat spectrum: the low band is not entirely below the high band. Strain
  // rate noise (differentiated phase noise) rises with frequency and is labeled noise.
  PatchLabeler l(kChannels, kSamples, kRate);
  int white_noise = 0, blue_noise = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Rng rng(seed);
    std::vector<float> white(size_t(kChannels) * kSamples), blue(white.size());
    for (int c = 0; c < kChannels; ++c) {
      float last = rng.normal();
      for (int t = 0; t < kSamples; ++t) {
        float w = rng.normal();
        white[size_t(c) * kSamples + t] = 30 * w;
        blue[size_t(c) * kSamples + t] = 30 * (w - last);
        last = w;
      }
    }
    white_noise += l.label(white.data(), kSamples) == PatchLabel::noise;
    blue_noise += l.label(blue.data(), kSamples) == PatchLabel::noise;
  }
  EXPECT_LE(white_noise, 1);
  EXPECT_GE(blue_noise, 6);
}

TEST(Labeling, LargeStdIsSaturated) {
  PatchLabeler l(kChannels, kSamples, kRate);
  auto p = sinusoid_patch(10, 30000, 5);
  for (float& v : p) v = std::fmax(-32768.f, std::fmin(32767.f, v));
  PatchVerdict v = l.classify(p.data(), kSamples);
  EXPECT_EQ(v.label, PatchLabel::saturated);
  EXPECT_GT(v.std_dev, 1000);
  // The threshold is a parameter.
  LabelRule rule;
  rule.saturation_std = 1e6;
  EXPECT_EQ(PatchLabeler(kChannels, kSamples, kRate, rule).label(p.data(), kSamples), PatchLabel::waves);
}

TEST(Labeling, NonFiniteIsInvalidAndRowStrideIsHonoured) {
  PatchLabeler l(kChannels, kSamples, kRate);
  auto p = sinusoid_patch(10, 100, 6);
  p[12345] = std::nanf("");
  EXPECT_EQ(l.label(p.data(), kSamples), PatchLabel::invalid);
  p[12345] = INFINITY;
  EXPECT_EQ(l.label(p.data(), kSamples), PatchLabel::invalid);
  // The same waves patch inside a wider record.
  auto q = sinusoid_patch(10, 100, 6);
  std::vector<float> wide(size_t(kChannels) * 3 * kSamples, 0.0f);
  for (int c = 0; c < kChannels; ++c)
    for (int t = 0; t < kSamples; ++t) wide[size_t(c) * 3 * kSamples + kSamples + t] = q[size_t(c) * kSamples + t];
  EXPECT_EQ(l.label(wide.data() + kSamples, 3 * kSamples), PatchLabel::waves);
}

TEST(Labeling, NamesRoundTrip) {
  for (int i = 0; i < kNumPatchLabels; ++i)
    EXPECT_EQ(patch_label_from_name(patch_label_name(PatchLabel(i))), PatchLabel(i));
  EXPECT_THROW(patch_label_from_name("cars"), std::invalid_argument);
}

}  // namespace
}  // namespace dasnet
